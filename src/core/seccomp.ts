import { InvalidParameterError } from '../errors.js';

/**
 * Docker-format seccomp profiles (moby/profiles seccomp `default.json`) and their conversion to
 * the OCI runtime-spec `linux.seccomp` object, as moby's `setupSeccomp` does: keep only the
 * native architecture (+ its sub-architectures) and the rules whose includes/excludes match the
 * container's capabilities, architecture and kernel.
 */

export interface DockerSeccompArg { index: number; value: number; valueTwo?: number; op: string }
export interface DockerSeccompFilter { caps?: string[]; arches?: string[]; minKernel?: string }
export interface DockerSeccompRule {
  name?: string;
  names?: string[];
  action: string;
  errnoRet?: number;
  args?: DockerSeccompArg[] | null;
  comment?: string;
  includes?: DockerSeccompFilter;
  excludes?: DockerSeccompFilter;
}
export interface DockerSeccompProfile {
  defaultAction: string;
  defaultErrnoRet?: number;
  architectures?: string[];
  archMap?: { architecture: string; subArchitectures?: string[] }[] | null;
  listenerPath?: string;
  listenerMetadata?: string;
  flags?: string[];
  syscalls?: DockerSeccompRule[] | null;
}

export interface OciSeccompSyscall {
  names: string[];
  action: string;
  errnoRet?: number;
  args?: { index: number; value: number; valueTwo?: number; op: string }[];
}
export interface OciSeccomp {
  defaultAction: string;
  defaultErrnoRet?: number;
  architectures?: string[];
  flags?: string[];
  listenerPath?: string;
  listenerMetadata?: string;
  syscalls?: OciSeccompSyscall[];
}

export interface SeccompTarget {
  /** Go-style architecture name as used by the profiles' `arches` filters: amd64, arm64, ... */
  arch: string;
  /** The container's bounding set (CAP_* names). */
  caps: string[];
  /** Kernel release, e.g. "6.1.0-18-amd64"; compared against `minKernel`. */
  kernel: string;
}

// Node's os.arch() → Go's GOARCH (the names profiles use) and the native libseccomp arch.
const GOARCH: Record<string, string> = { x64: 'amd64', arm64: 'arm64', ia32: '386', arm: 'arm', s390x: 's390x', ppc64: 'ppc64le', riscv64: 'riscv64', loong64: 'loong64', mips64el: 'mips64le' };
const NATIVE: Record<string, string> = {
  amd64: 'SCMP_ARCH_X86_64', arm64: 'SCMP_ARCH_AARCH64', '386': 'SCMP_ARCH_X86', arm: 'SCMP_ARCH_ARM',
  s390x: 'SCMP_ARCH_S390X', ppc64le: 'SCMP_ARCH_PPC64LE', riscv64: 'SCMP_ARCH_RISCV64',
  loong64: 'SCMP_ARCH_LOONGARCH64', mips64le: 'SCMP_ARCH_MIPSEL64',
};

export function goArch(nodeArch: string): string {
  return GOARCH[nodeArch] ?? nodeArch;
}

/** Compare "major.minor" kernel versions; `release` may carry a suffix ("6.18.44-fc"). */
export function kernelAtLeast(release: string, min: string): boolean {
  const parse = (s: string): number[] => {
    const m = /^(\d+)(?:\.(\d+))?(?:\.(\d+))?/.exec(s);
    if (!m) throw new InvalidParameterError(`invalid kernel version: ${s}`);
    return [Number(m[1]), Number(m[2] ?? 0), Number(m[3] ?? 0)];
  };
  const a = parse(release), b = parse(min);
  for (let i = 0; i < 3; i++) {
    if (a[i]! !== b[i]!) return a[i]! > b[i]!;
  }
  return true;
}

/** Convert a Docker-format profile into the OCI seccomp object for one container. */
export function convertSeccompProfile(profile: DockerSeccompProfile, target: SeccompTarget): OciSeccomp {
  if (!profile || typeof profile.defaultAction !== 'string' || profile.defaultAction === '') {
    throw new InvalidParameterError('invalid seccomp profile: defaultAction is required');
  }
  const archMap = profile.archMap ?? [];
  if (archMap.length > 0 && (profile.architectures?.length ?? 0) > 0) {
    throw new InvalidParameterError("invalid seccomp profile: 'architectures' and 'archMap' cannot both be set");
  }
  let architectures: string[] = profile.architectures ?? [];
  if (archMap.length > 0) {
    const native = NATIVE[target.arch];
    architectures = [];
    for (const a of archMap) {
      if (a.architecture === native) architectures.push(a.architecture, ...(a.subArchitectures ?? []));
    }
  }
  const out: OciSeccomp = { defaultAction: profile.defaultAction };
  if (profile.defaultErrnoRet !== undefined) out.defaultErrnoRet = profile.defaultErrnoRet;
  if (architectures.length > 0) out.architectures = architectures;
  if (profile.flags?.length) out.flags = [...profile.flags];
  if (profile.listenerPath) out.listenerPath = profile.listenerPath;
  if (profile.listenerMetadata) out.listenerMetadata = profile.listenerMetadata;

  const caps = new Set(target.caps);
  const syscalls: OciSeccompSyscall[] = [];
  for (const rule of profile.syscalls ?? []) {
    if (rule.name && rule.names?.length) {
      throw new InvalidParameterError("invalid seccomp profile: use either 'name' or 'names', not both");
    }
    if (!ruleApplies(rule, target, caps)) continue;
    const names = rule.name ? [rule.name] : [...(rule.names ?? [])];
    const s: OciSeccompSyscall = { names, action: rule.action };
    if (rule.errnoRet !== undefined) s.errnoRet = rule.errnoRet;
    if (rule.args?.length) {
      s.args = rule.args.map((a) => {
        const arg: { index: number; value: number; valueTwo?: number; op: string } = { index: a.index, value: a.value, op: a.op };
        if (a.valueTwo !== undefined) arg.valueTwo = a.valueTwo;
        return arg;
      });
    }
    syscalls.push(s);
  }
  out.syscalls = syscalls;
  return out;
}

function ruleApplies(rule: DockerSeccompRule, t: SeccompTarget, caps: Set<string>): boolean {
  const ex = rule.excludes;
  if (ex) {
    if (ex.arches?.includes(t.arch)) return false;
    if (ex.caps?.some((c) => caps.has(c))) return false;
    if (ex.minKernel && kernelAtLeast(t.kernel, ex.minKernel)) return false;
  }
  const inc = rule.includes;
  if (inc) {
    if (inc.arches?.length && !inc.arches.includes(t.arch)) return false;
    if (inc.caps?.length && !inc.caps.every((c) => caps.has(c))) return false;
    if (inc.minKernel && !kernelAtLeast(t.kernel, inc.minKernel)) return false;
  }
  return true;
}
