import { completeEnvFromImage } from './env.js';
import { InvalidParameterError } from '../errors.js';
import { mergeHealthcheck, validateHealthcheck, type HealthConfig } from './healthcheck.js';
import { validateUserSpec } from './user.js';
import { parsePortKey, parsePortRange } from './ports.js';

/** The container config as the Engine API carries it (POST /containers/create body, Config in inspect). */
export interface ContainerConfig {
  Hostname?: string;
  Domainname?: string;
  User?: string;
  AttachStdin?: boolean;
  AttachStdout?: boolean;
  AttachStderr?: boolean;
  ExposedPorts?: Record<string, object> | null;
  Tty?: boolean;
  OpenStdin?: boolean;
  StdinOnce?: boolean;
  Env?: string[] | null;
  Cmd?: string[] | string | null;
  Healthcheck?: Record<string, unknown> | null;
  ArgsEscaped?: boolean | null;
  Image?: string;
  Volumes?: Record<string, object> | null;
  WorkingDir?: string;
  Entrypoint?: string[] | string | null;
  NetworkDisabled?: boolean;
  MacAddress?: string;
  OnBuild?: string[] | null;
  Labels?: Record<string, string> | null;
  StopSignal?: string;
  StopTimeout?: number | null;
  Shell?: string[] | null;
}

export interface RestartPolicy { Name: '' | 'no' | 'always' | 'unless-stopped' | 'on-failure'; MaximumRetryCount?: number }

export interface HostConfig {
  Binds?: string[] | null;
  NetworkMode?: string;
  PortBindings?: Record<string, { HostIp?: string; HostPort?: string }[] | null> | null;
  RestartPolicy?: RestartPolicy;
  AutoRemove?: boolean;
  Privileged?: boolean;
  ReadonlyRootfs?: boolean;
  CapAdd?: string[] | null;
  CapDrop?: string[] | null;
  SecurityOpt?: string[] | null;
  Memory?: number;
  MemorySwap?: number;
  MemoryReservation?: number;
  MemorySwappiness?: number | null;
  NanoCpus?: number;
  CpuShares?: number;
  CpuPeriod?: number;
  CpuQuota?: number;
  CpusetCpus?: string;
  CpusetMems?: string;
  PidsLimit?: number | null;
  OomKillDisable?: boolean | null;
  ShmSize?: number;
  LogConfig?: { Type?: string; Config?: Record<string, string> };
  Init?: boolean | null;
  /** the OCI runtime's name (core/runtimes.ts; checked against the daemon's at create) */
  Runtime?: string;
  /** legacy links, "name:alias" at create; "/name:/ctr/alias" once stored */
  Links?: string[] | null;
  [k: string]: unknown;
}

export interface CreateBody extends ContainerConfig {
  HostConfig?: HostConfig;
  NetworkingConfig?: unknown;
}

/** The subset of an image's config a container inherits. */
export interface ImageRuntimeConfig {
  User?: string;
  Env?: string[] | null;
  Cmd?: string[] | null;
  Entrypoint?: string[] | null;
  WorkingDir?: string;
  Labels?: Record<string, string> | null;
  StopSignal?: string;
  ExposedPorts?: Record<string, object> | null;
  Volumes?: Record<string, object> | null;
  Healthcheck?: Record<string, unknown> | null;
  Shell?: string[] | null;
}

const NAME_RE = /^[a-zA-Z0-9][a-zA-Z0-9_.-]+$/;
export const MIN_MEMORY = 6 * 1024 * 1024;

export function validateName(name: string): string {
  const n = name.startsWith('/') ? name.slice(1) : name;
  if (!NAME_RE.test(n)) throw new InvalidParameterError(`Invalid container name (${n}), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed`);
  return n;
}

function asList(v: string[] | string | null | undefined): string[] | undefined {
  if (v === null || v === undefined) return undefined;
  return typeof v === 'string' ? [v] : v;
}

/** Validate the parts of a create request berth acts on; messages follow moby's. */

export function validateCreate(body: CreateBody, ncpu: number): void {
  for (const e of body.Env ?? []) {
    if (typeof e !== 'string' || e === '' || e.startsWith('=')) throw new InvalidParameterError(`invalid environment variable: ${e}`);
  }
  const hc = body.HostConfig ?? {};
  if (hc.Memory !== undefined && hc.Memory !== 0) {
    if (hc.Memory < 0) throw new InvalidParameterError('invalid memory limit: value must be a positive integer');
    if (hc.Memory < MIN_MEMORY) throw new InvalidParameterError('Minimum memory limit allowed is 6MB');
  }
  if (hc.MemorySwap !== undefined && hc.MemorySwap > 0) {
    if (!hc.Memory) throw new InvalidParameterError('You should always set the Memory limit when using Memoryswap limit');
    if (hc.MemorySwap < hc.Memory) throw new InvalidParameterError('Minimum memoryswap limit should be larger than memory limit, see usage');
  }
  if (hc.MemoryReservation && hc.MemoryReservation > 0 && hc.MemoryReservation < MIN_MEMORY) {
    throw new InvalidParameterError('Minimum memory reservation allowed is 6MB');
  }
  if (hc.MemorySwappiness !== undefined && hc.MemorySwappiness !== null && hc.MemorySwappiness !== -1 &&
      (hc.MemorySwappiness < 0 || hc.MemorySwappiness > 100)) {
    throw new InvalidParameterError(`Invalid value: ${hc.MemorySwappiness}, valid memory swappiness range is 0-100`);
  }
  if (hc.NanoCpus) {
    if (hc.NanoCpus < 0 || hc.NanoCpus < 1e7 || hc.NanoCpus > ncpu * 1e9) {
      throw new InvalidParameterError(`Range of CPUs is from 0.01 to ${ncpu.toFixed(2)}, as there are only ${ncpu} CPUs available`);
    }
    if (hc.CpuQuota || hc.CpuPeriod) throw new InvalidParameterError('Conflicting options: Nano CPUs and CPU Period cannot both be set');
  }
  if (hc.CpuShares !== undefined && hc.CpuShares < 0) {
    throw new InvalidParameterError(`invalid CPU shares (${hc.CpuShares}): value must be a positive integer`);
  }
  if (hc.ShmSize !== undefined && hc.ShmSize < 0) throw new InvalidParameterError('SHM size can not be less than 0');
  if (hc.CpusetCpus && !/^\d+(-\d+)?(,\d+(-\d+)?)*$/.test(hc.CpusetCpus)) {
    throw new InvalidParameterError(`Invalid value ${hc.CpusetCpus} for cpuset cpus`);
  }
  validateRestartPolicy(hc.RestartPolicy);
  validateHealthcheck(body.Healthcheck as HealthConfig | undefined);
  if (hc.AutoRemove && hc.RestartPolicy && hc.RestartPolicy.Name && hc.RestartPolicy.Name !== 'no') {
    throw new InvalidParameterError(`can't create 'AutoRemove' container with restart policy`);
  }
  const nm = hc.NetworkMode ?? '';
  if (nm === 'container' || nm === 'container:') throw new InvalidParameterError('invalid network mode: container');
  validateNamespaceModes(hc);
  validatePorts(body.ExposedPorts, hc.PortBindings);
  validateTmpfs(hc.Tmpfs);
  const annotations = hc.Annotations as Record<string, unknown> | null | undefined;
  if (annotations && Object.prototype.hasOwnProperty.call(annotations, '')) {
    throw new InvalidParameterError('invalid Annotations: the empty string is not permitted as an annotation key');
  }
  validateUserSpec(body.User);
  if (body.StopTimeout !== undefined && body.StopTimeout !== null && !Number.isInteger(body.StopTimeout)) {
    throw new InvalidParameterError('invalid StopTimeout');
  }
}

// Checked at create as dockerd does, not first at start: a bad mode must not give a container that can never run.
function validateNamespaceModes(hc: HostConfig): void {
  const str = (v: unknown) => (typeof v === 'string' ? v : '');
  const joins = (m: string) => m.startsWith('container:') && m.length > 'container:'.length;
  const ipc = str(hc.IpcMode);
  if (!['', 'none', 'private', 'shareable', 'host'].includes(ipc) && !joins(ipc)) throw new InvalidParameterError(`invalid IPC mode: ${ipc}`);
  const pid = str(hc.PidMode);
  if (!['', 'host'].includes(pid) && !joins(pid)) throw new InvalidParameterError(`invalid PID mode: ${pid}`);
  const uts = str(hc.UTSMode);
  if (!['', 'host'].includes(uts)) throw new InvalidParameterError(`invalid UTS mode: ${uts}`);
}

/** "80" and "80/TCP" are "80/tcp" (moby's nat.NewPort); keys are validated before this runs. */
export function normalizePortKeys<T>(m: Record<string, T>): Record<string, T> {
  const out: Record<string, T> = {};
  for (const [k, v] of Object.entries(m)) {
    const slash = k.indexOf('/');
    const num = slash < 0 ? k : k.slice(0, slash);
    const proto = (slash < 0 ? '' : k.slice(slash + 1)).toLowerCase() || 'tcp';
    out[`${num}/${proto}`] = v;
  }
  return out;
}

// Port keys (`80`, `80/tcp`) and host ports (`''`, `8080`, `8000-8010`) as moby validates them (A3); an invalid
// key would otherwise only fail when the container starts on a bridge, or never (network none/host).
function validatePorts(exposed: Record<string, object> | null | undefined, bindings: HostConfig['PortBindings']): void {
  for (const key of Object.keys(exposed ?? {})) parsePortKey(key);
  for (const [key, list] of Object.entries(bindings ?? {})) {
    parsePortKey(key);
    for (const b of list ?? []) {
      const hp = (b?.HostPort ?? '').trim();
      if (hp !== '' && hp !== '0' && !parsePortRange(hp)) throw new InvalidParameterError(`invalid port specification: "${hp}"`);
    }
  }
}

function validateTmpfs(tmpfs: unknown): void {
  for (const dest of Object.keys((tmpfs as Record<string, string> | null | undefined) ?? {})) {
    if (!dest.startsWith('/')) throw new InvalidParameterError(`invalid mount config for type "tmpfs": mount path must be absolute`);
    if (dest.replace(/\/+$/, '') === '') throw new InvalidParameterError(`invalid mount config for type "tmpfs": destination can't be '/'`);
  }
}

export function validateRestartPolicy(p: RestartPolicy | undefined): void {
  if (!p) return;
  const max = p.MaximumRetryCount ?? 0;
  switch (p.Name) {
    case '': case 'no': case 'always': case 'unless-stopped':
      if (max !== 0) throw new InvalidParameterError(`invalid restart policy: maximum retry count can only be used with 'on-failure'`);
      return;
    case 'on-failure':
      if (max < 0) throw new InvalidParameterError('invalid restart policy: maximum retry count cannot be negative');
      return;
    default:
      throw new InvalidParameterError(`invalid restart policy: unknown policy '${p.Name as string}'; use one of 'no', 'always', 'on-failure', or 'unless-stopped'`);
  }
}

/**
 * Merge an image's config into the create request as dockerd does (daemon/create.go merge):
 * user values win; Env is merged by key; an explicit Entrypoint drops the image's Cmd.
 */
export function mergeImageConfig(body: CreateBody, img: ImageRuntimeConfig): ContainerConfig {
  const entrypointSet = body.Entrypoint !== undefined && body.Entrypoint !== null;
  const userCmd = asList(body.Cmd);
  const userEp = asList(body.Entrypoint);
  let entrypoint = entrypointSet ? userEp! : (img.Entrypoint ?? undefined);
  // `--entrypoint ""` clears the image entrypoint.
  if (entrypoint && entrypoint.length === 1 && entrypoint[0] === '') entrypoint = [];
  let cmd = userCmd && userCmd.length ? userCmd : (entrypointSet ? undefined : (img.Cmd ?? undefined));
  if (!cmd) cmd = undefined;
  const env = completeEnvFromImage(img.Env ?? [], body.Env ?? []);
  const labels = { ...(img.Labels ?? {}), ...(body.Labels ?? {}) };
  return {
    Hostname: body.Hostname ?? '',
    Domainname: body.Domainname ?? '',
    User: body.User || img.User || '',
    AttachStdin: !!body.AttachStdin,
    AttachStdout: !!body.AttachStdout,
    AttachStderr: !!body.AttachStderr,
    ExposedPorts: normalizePortKeys({ ...(img.ExposedPorts ?? {}), ...(body.ExposedPorts ?? {}) }),
    Tty: !!body.Tty,
    OpenStdin: !!body.OpenStdin,
    StdinOnce: !!body.StdinOnce,
    Env: env,
    Cmd: cmd ?? null,
    Healthcheck: (mergeHealthcheck(body.Healthcheck as HealthConfig | undefined, img.Healthcheck as HealthConfig | undefined) as Record<string, unknown> | undefined) ?? undefined,
    Image: body.Image ?? '',
    Volumes: { ...(img.Volumes ?? {}), ...(body.Volumes ?? {}) },
    WorkingDir: body.WorkingDir || img.WorkingDir || '',
    Entrypoint: entrypoint && entrypoint.length ? entrypoint : null,
    OnBuild: null,
    Labels: labels,
    StopSignal: body.StopSignal || img.StopSignal || undefined,
    StopTimeout: body.StopTimeout ?? undefined,
    // Deprecated since API 1.44 (the CLI sends the endpoint's), still honoured: networking applies it to the primary network.
    ...((body as { MacAddress?: string }).MacAddress ? { MacAddress: (body as { MacAddress?: string }).MacAddress } : {}),
  };
}

export const DEFAULT_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

/** Entrypoint + Cmd → argv, or an error message as docker gives when there is nothing to run. */
export function processArgs(cfg: ContainerConfig): string[] {
  const args = [...(asList(cfg.Entrypoint) ?? []), ...(asList(cfg.Cmd) ?? [])];
  if (args.length === 0) throw new InvalidParameterError('no command specified');
  return args;
}

const SIGNALS: Record<string, number> = {
  HUP: 1, INT: 2, QUIT: 3, ILL: 4, TRAP: 5, ABRT: 6, IOT: 6, BUS: 7, FPE: 8, KILL: 9, USR1: 10, SEGV: 11, USR2: 12,
  PIPE: 13, ALRM: 14, TERM: 15, STKFLT: 16, CHLD: 17, CONT: 18, STOP: 19, TSTP: 20, TTIN: 21, TTOU: 22, URG: 23,
  XCPU: 24, XFSZ: 25, VTALRM: 26, PROF: 27, WINCH: 28, IO: 29, POLL: 29, PWR: 30, SYS: 31,
};

/** Parse a signal as Docker accepts it: "TERM", "SIGTERM", "15", "SIGRTMIN+3". */
export function parseSignal(s: string): number {
  const v = s.trim().toUpperCase();
  if (/^\d+$/.test(v)) {
    const n = Number(v);
    if (n < 1 || n > 64) throw new InvalidParameterError(`Invalid signal: ${s}`);
    return n;
  }
  const name = v.startsWith('SIG') ? v.slice(3) : v;
  if (SIGNALS[name] !== undefined) return SIGNALS[name]!;
  const rt = /^RTMIN(?:\+(\d+))?$/.exec(name) ?? /^RTMAX(?:-(\d+))?$/.exec(name);
  if (rt) {
    const off = Number(rt[1] ?? 0);
    const n = name.startsWith('RTMIN') ? 34 + off : 64 - off;
    if (n >= 34 && n <= 64) return n;
  }
  throw new InvalidParameterError(`Invalid signal: ${s}`);
}

const ADJ = ['admiring', 'adoring', 'affectionate', 'agitated', 'amazing', 'angry', 'awesome', 'blissful', 'bold', 'brave', 'charming', 'clever', 'cool', 'compassionate', 'competent', 'confident', 'dazzling', 'determined', 'eager', 'ecstatic', 'elastic', 'elated', 'elegant', 'epic', 'festive', 'focused', 'friendly', 'funny', 'gallant', 'gifted', 'goofy', 'gracious', 'happy', 'hopeful', 'infallible', 'inspiring', 'jolly', 'keen', 'kind', 'laughing', 'loving', 'lucid', 'magical', 'modest', 'musing', 'nice', 'nifty', 'nostalgic', 'objective', 'optimistic', 'peaceful', 'pensive', 'practical', 'priceless', 'quirky', 'relaxed', 'reverent', 'romantic', 'serene', 'sharp', 'silly', 'sleepy', 'stoic', 'sweet', 'tender', 'thirsty', 'trusting', 'upbeat', 'vibrant', 'vigilant', 'wizardly', 'wonderful', 'youthful', 'zealous', 'zen'];
const NAMES = ['albattani', 'allen', 'archimedes', 'babbage', 'banach', 'bardeen', 'bell', 'bhabha', 'booth', 'bose', 'brahmagupta', 'cannon', 'carson', 'cerf', 'chandrasekhar', 'curie', 'darwin', 'dijkstra', 'einstein', 'euclid', 'euler', 'fermat', 'fermi', 'feynman', 'franklin', 'galileo', 'gauss', 'goldberg', 'goodall', 'hamilton', 'hawking', 'heisenberg', 'hodgkin', 'hopper', 'hypatia', 'jackson', 'johnson', 'kalam', 'keller', 'kepler', 'knuth', 'lamport', 'lovelace', 'mccarthy', 'meitner', 'mendel', 'morse', 'newton', 'nobel', 'noether', 'pascal', 'pasteur', 'perlman', 'raman', 'ritchie', 'rosalind', 'sammet', 'shannon', 'sinoussi', 'tesla', 'thompson', 'torvalds', 'turing', 'volhard', 'wescoff', 'wilbur', 'williams', 'wing', 'wozniak', 'wright', 'yalow', 'yonath'];

export function randomName(rand: () => number = Math.random): string {
  return `${ADJ[Math.floor(rand() * ADJ.length)]}_${NAMES[Math.floor(rand() * NAMES.length)]}`;
}
