import { InvalidParameterError } from '../errors.js';
import { convertSeccompProfile, type DockerSeccompProfile, type OciSeccomp } from './seccomp.js';

/**
 * The OCI runtime spec (config.json) for one container, built the way moby's
 * `daemon/pkg/oci/defaults.go` + `daemon/oci_linux.go` build it. buildSpec is pure: the host facts
 * (sys/host-info.ts) and the default seccomp profile (store/seccomp-default.ts) come in with the input.
 */

export interface OciUser { uid: number; gid: number; additionalGids?: number[]; umask?: number }
export interface OciCapabilities { bounding: string[]; effective: string[]; permitted: string[]; inheritable?: string[]; ambient?: string[] }
export interface OciRlimit { type: string; hard: number; soft: number }
export interface OciProcess {
  terminal: boolean;
  consoleSize?: { height: number; width: number };
  user: OciUser;
  args: string[];
  env: string[];
  cwd: string;
  capabilities: OciCapabilities;
  rlimits: OciRlimit[];
  noNewPrivileges: boolean;
  apparmorProfile?: string;
  oomScoreAdj?: number;
  selinuxLabel?: string;
}
export interface OciMount { destination: string; type: string; source: string; options: string[] }
export interface OciNamespace { type: 'pid' | 'network' | 'mount' | 'ipc' | 'uts' | 'user' | 'cgroup' | 'time'; path?: string }
export interface OciDeviceCgroup { allow: boolean; type?: string; major?: number; minor?: number; access?: string }
export interface OciLinuxDevice { path: string; type: string; major: number; minor: number; fileMode?: number; uid?: number; gid?: number }
export interface OciResources {
  devices: OciDeviceCgroup[];
  memory?: { limit?: number; reservation?: number; swap?: number; kernel?: number; swappiness?: number; disableOOMKiller?: boolean };
  cpu?: { shares?: number; quota?: number; period?: number; cpus?: string; mems?: string };
  pids?: { limit: number };
}
export interface OciLinux {
  namespaces: OciNamespace[];
  devices?: OciLinuxDevice[];
  cgroupsPath: string;
  resources: OciResources;
  maskedPaths?: string[];
  readonlyPaths?: string[];
  seccomp?: OciSeccomp;
  sysctl?: Record<string, string>;
}
export interface OciSpec {
  ociVersion: string;
  process: OciProcess;
  root: { path: string; readonly: boolean };
  hostname: string;
  domainname?: string;
  mounts: OciMount[];
  annotations?: Record<string, string>;
  linux: OciLinux;
}

export interface SpecInput {
  id: string;
  /** entrypoint + cmd, already resolved */
  args: string[];
  /** KEY=VALUE, image env + user env already merged */
  env: string[];
  cwd: string;
  user: { uid: number; gid: number; additionalGids: number[] };
  hostname: string;
  domainname?: string;
  tty: boolean;
  openStdin: boolean;
  /** absolute path of the mounted overlay (merged) */
  rootfs: string;
  readonlyRootfs?: boolean;
  /** none: new netns (loopback only); host: no netns; path: join netnsPath */
  network: { mode: 'none' | 'host' | 'path'; netnsPath?: string };
  /** absolute, e.g. '/berth/<id>' (CONMON.md §7) */
  cgroupsPath: string;
  resources: {
    memory?: number; memorySwap?: number; nanoCpus?: number; cpuShares?: number;
    cpusetCpus?: string; cpusetMems?: string; pidsLimit?: number; oomKillDisable?: boolean;
  };
  privileged?: boolean;
  capAdd?: string[];
  capDrop?: string[];
  noNewPrivileges?: boolean;
  /** object = a docker-format profile */
  seccomp?: 'default' | 'unconfined' | object;
  /** bytes; default 64 MiB */
  shmSize?: number;
  /** extra mounts (e.g. /etc/hosts binds), appended after the defaults; same destination replaces a default */
  mounts?: { destination: string; type: string; source: string; options: string[] }[];
  maskedPaths?: string[];
  readonlyPaths?: string[];
  annotations?: Record<string, string>;
  rlimits?: { type: string; hard: number; soft: number }[];
  /** device nodes to create (e.g. the host's devices for --privileged, --device) */
  devices?: OciLinuxDevice[];
  /** extra device cgroup rules (--device's permissions) */
  deviceRules?: OciDeviceCgroup[];
  /** --pid host: share the host's pid namespace; a path: join that namespace (container:<id>) */
  pidNamespace?: 'host' | { path: string };
  /** --uts host: the host's UTS namespace (no hostname of the container's own) */
  utsNamespace?: 'host';
  /** --ipc host: share the host's ipc namespace; a path: join it */
  ipcNamespace?: 'host' | { path: string };
  /** host facts (sys/host-info.ts reads them) */
  host: HostInfo;
  /** the profile `seccomp: 'default'` means: moby's, as store/seccomp-default.ts loads it */
  defaultSeccomp: DockerSeccompProfile;
}

export interface HostInfo {
  /** kernel release (uname -r) */
  kernel: string;
  /** Go-style arch: amd64, arm64 */
  arch: string;
  /** hard limits of this process, by OCI rlimit type (RLIMIT_NOFILE ...); Infinity = unlimited */
  hardLimits: Record<string, number>;
  /** highest capability number the kernel knows (/proc/sys/kernel/cap_last_cap) */
  capLastCap: number;
  /**
   * The daemon's own bounding set (CapBnd). "All capabilities" (--privileged, --cap-add ALL) means
   * these, as podman does: runc cannot grant a capability its caller lacks. Omitted = all known.
   */
  boundingCaps?: string[];
  /** memory.memsw.* present (swap accounting); without it a swap limit would make runc fail */
  swapAccounting: boolean;
  /** /sys/devices/system/cpu/cpu<N>/thermal_throttle paths that exist (Docker masks them) */
  thermalThrottlePaths: string[];
}

export const DEFAULT_PATH_ENV = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';
export const DEFAULT_SHM_SIZE = 64 * 1024 * 1024;

/** moby daemon/pkg/oci/caps/defaults.go, in its order. */
export const DEFAULT_CAPABILITIES: readonly string[] = [
  'CAP_CHOWN', 'CAP_DAC_OVERRIDE', 'CAP_FSETID', 'CAP_FOWNER', 'CAP_MKNOD', 'CAP_NET_RAW',
  'CAP_SETGID', 'CAP_SETUID', 'CAP_SETFCAP', 'CAP_SETPCAP', 'CAP_NET_BIND_SERVICE',
  'CAP_SYS_CHROOT', 'CAP_KILL', 'CAP_AUDIT_WRITE',
];

/** Capability names by number (linux/capability.h). */
export const ALL_CAPABILITIES: readonly string[] = [
  'CAP_CHOWN', 'CAP_DAC_OVERRIDE', 'CAP_DAC_READ_SEARCH', 'CAP_FOWNER', 'CAP_FSETID', 'CAP_KILL',
  'CAP_SETGID', 'CAP_SETUID', 'CAP_SETPCAP', 'CAP_LINUX_IMMUTABLE', 'CAP_NET_BIND_SERVICE',
  'CAP_NET_BROADCAST', 'CAP_NET_ADMIN', 'CAP_NET_RAW', 'CAP_IPC_LOCK', 'CAP_IPC_OWNER',
  'CAP_SYS_MODULE', 'CAP_SYS_RAWIO', 'CAP_SYS_CHROOT', 'CAP_SYS_PTRACE', 'CAP_SYS_PACCT',
  'CAP_SYS_ADMIN', 'CAP_SYS_BOOT', 'CAP_SYS_NICE', 'CAP_SYS_RESOURCE', 'CAP_SYS_TIME',
  'CAP_SYS_TTY_CONFIG', 'CAP_MKNOD', 'CAP_LEASE', 'CAP_AUDIT_WRITE', 'CAP_AUDIT_CONTROL',
  'CAP_SETFCAP', 'CAP_MAC_OVERRIDE', 'CAP_MAC_ADMIN', 'CAP_SYSLOG', 'CAP_WAKE_ALARM',
  'CAP_BLOCK_SUSPEND', 'CAP_AUDIT_READ', 'CAP_PERFMON', 'CAP_BPF', 'CAP_CHECKPOINT_RESTORE',
];

export const DEFAULT_MASKED_PATHS: readonly string[] = [
  '/proc/acpi', '/proc/asound', '/proc/interrupts', '/proc/kcore', '/proc/keys', '/proc/latency_stats',
  '/proc/sched_debug', '/proc/scsi', '/proc/timer_list', '/proc/timer_stats',
  '/sys/devices/virtual/powercap', '/sys/firmware',
];

export const DEFAULT_READONLY_PATHS: readonly string[] = [
  '/proc/bus', '/proc/fs', '/proc/irq', '/proc/sys', '/proc/sysrq-trigger',
];

/** moby's device cgroup rules; runc adds its own allow-list (pts, ptmx, full, tun) on top. */
export const DEFAULT_DEVICE_RULES: readonly OciDeviceCgroup[] = [
  { allow: false, access: 'rwm' },
  { allow: true, type: 'c', major: 1, minor: 5, access: 'rwm' },
  { allow: true, type: 'c', major: 1, minor: 3, access: 'rwm' },
  { allow: true, type: 'c', major: 1, minor: 9, access: 'rwm' },
  { allow: true, type: 'c', major: 1, minor: 8, access: 'rwm' },
  { allow: true, type: 'c', major: 5, minor: 0, access: 'rwm' },
  { allow: true, type: 'c', major: 5, minor: 1, access: 'rwm' },
  { allow: false, type: 'c', major: 10, minor: 229, access: 'rwm' },
];

/** systemd's default, which Docker containers inherit since moby#45534 (RELIABILITY S6). */
const DEFAULT_NOFILE = { soft: 1024, hard: 524288 };

function normalizeCap(c: string): string {
  const u = c.trim().toUpperCase();
  if (u === 'ALL') return 'ALL';
  const name = u.startsWith('CAP_') ? u : `CAP_${u}`;
  if (!ALL_CAPABILITIES.includes(name)) throw new InvalidParameterError(`unknown capability: "${c}"`);
  return name;
}

/** moby caps.TweakCapabilities: privileged = all; ALL in add/drop; drop first, then add. */
export function computeCapabilities(opts: { privileged?: boolean; capAdd?: string[]; capDrop?: string[]; capLastCap?: number; boundingCaps?: string[] }): string[] {
  let all = ALL_CAPABILITIES.slice(0, (opts.capLastCap ?? ALL_CAPABILITIES.length - 1) + 1);
  if (opts.boundingCaps) all = all.filter((c) => opts.boundingCaps!.includes(c));
  if (opts.privileged) return [...all];
  const adds = (opts.capAdd ?? []).map(normalizeCap);
  const drops = (opts.capDrop ?? []).map(normalizeCap);
  if (adds.length === 0 && drops.length === 0) return [...DEFAULT_CAPABILITIES];
  let caps: string[];
  if (adds.includes('ALL')) caps = all.filter((c) => !drops.includes(c));
  else if (drops.includes('ALL')) caps = adds.filter((c) => c !== 'ALL');
  else caps = [...DEFAULT_CAPABILITIES.filter((c) => !drops.includes(c)), ...adds];
  return [...new Set(caps)];
}

/** Docker's env: PATH, HOSTNAME, TERM (tty) first, then the container env replaces or appends by key. */
export function buildEnv(env: string[], hostname: string, tty: boolean): string[] {
  const out = [`PATH=${DEFAULT_PATH_ENV}`, `HOSTNAME=${hostname}`];
  if (tty) out.push('TERM=xterm');
  const index = new Map<string, number>();
  out.forEach((e, i) => index.set(e.split('=')[0]!, i));
  for (const e of env) {
    const key = e.includes('=') ? e.slice(0, e.indexOf('=')) : e;
    const at = index.get(key);
    if (at !== undefined) out[at] = e;
    else { index.set(key, out.length); out.push(e); }
  }
  // A bare KEY (no '=') means "unset" in Docker's ReplaceOrAppendEnvValues.
  return out.filter((e) => e.includes('='));
}

function clampRlimits(limits: OciRlimit[], hard: Record<string, number>): OciRlimit[] {
  return limits.map((r) => {
    const max = hard[r.type] ?? Infinity;
    const h = Math.min(r.hard, max);
    return { type: r.type, hard: h, soft: Math.min(r.soft, h) };
  });
}

function defaultMounts(shmSize: number, privileged: boolean): OciMount[] {
  const sysOpts = privileged ? ['nosuid', 'noexec', 'nodev', 'rw'] : ['nosuid', 'noexec', 'nodev', 'ro'];
  const cgOpts = privileged ? ['rw', 'nosuid', 'noexec', 'nodev', 'relatime'] : ['ro', 'nosuid', 'noexec', 'nodev'];
  return [
    { destination: '/proc', type: 'proc', source: 'proc', options: ['nosuid', 'noexec', 'nodev'] },
    { destination: '/dev', type: 'tmpfs', source: 'tmpfs', options: ['nosuid', 'strictatime', 'mode=755', 'size=65536k'] },
    { destination: '/dev/pts', type: 'devpts', source: 'devpts', options: ['nosuid', 'noexec', 'newinstance', 'ptmxmode=0666', 'mode=0620', 'gid=5'] },
    { destination: '/sys', type: 'sysfs', source: 'sysfs', options: sysOpts },
    { destination: '/sys/fs/cgroup', type: 'cgroup', source: 'cgroup', options: cgOpts },
    { destination: '/dev/mqueue', type: 'mqueue', source: 'mqueue', options: ['nosuid', 'noexec', 'nodev'] },
    { destination: '/dev/shm', type: 'tmpfs', source: 'shm', options: ['nosuid', 'noexec', 'nodev', 'mode=1777', `size=${shmSize}`] },
  ];
}

function mergeMounts(defaults: OciMount[], extra: OciMount[]): OciMount[] {
  const userDest = new Set(extra.map((m) => m.destination.replace(/\/+$/, '') || '/'));
  const kept = defaults.filter((m) => {
    if (userDest.has(m.destination)) return false;
    // A user mount on /dev replaces the whole default /dev tree.
    if (userDest.has('/dev') && m.destination.startsWith('/dev/')) return false;
    return true;
  });
  return [...kept, ...extra.map((m) => ({ ...m, options: [...m.options] }))];
}

function memoryResources(r: SpecInput['resources'], host: HostInfo): OciResources['memory'] | undefined {
  const mem: NonNullable<OciResources['memory']> = {};
  if (r.memory && r.memory > 0) mem.limit = r.memory;
  let swap = r.memorySwap ?? 0;
  // moby adaptContainerSettings: Memory set and MemorySwap unset → swap = 2 × memory.
  if (mem.limit !== undefined && swap === 0) swap = mem.limit * 2;
  if (swap !== 0 && host.swapAccounting) mem.swap = swap;
  if (r.oomKillDisable) mem.disableOOMKiller = true;
  return Object.keys(mem).length > 0 ? mem : undefined;
}

function cpuResources(r: SpecInput['resources']): OciResources['cpu'] | undefined {
  const cpu: NonNullable<OciResources['cpu']> = {};
  if (r.cpuShares && r.cpuShares > 0) cpu.shares = r.cpuShares;
  if (r.nanoCpus && r.nanoCpus > 0) {
    cpu.period = 100000;
    cpu.quota = Math.round((r.nanoCpus * cpu.period) / 1e9);
  }
  if (r.cpusetCpus) cpu.cpus = r.cpusetCpus;
  if (r.cpusetMems) cpu.mems = r.cpusetMems;
  return Object.keys(cpu).length > 0 ? cpu : undefined;
}

function namespaces(input: SpecInput): OciNamespace[] {
  const network = input.network;
  const ns: OciNamespace[] = [{ type: 'mount' }];
  if (network.mode === 'none') ns.push({ type: 'network' });
  else if (network.mode === 'path') {
    if (!network.netnsPath) throw new InvalidParameterError('network mode "path" needs a netns path');
    ns.push({ type: 'network', path: network.netnsPath });
  }
  if (input.utsNamespace !== 'host') ns.push({ type: 'uts' });
  const shared = (type: 'pid' | 'ipc', mode: SpecInput['pidNamespace']) => {
    if (mode === 'host') return;
    ns.push(mode ? { type, path: mode.path } : { type });
  };
  shared('pid', input.pidNamespace);
  shared('ipc', input.ipcNamespace);
  return ns;
}

function seccompFor(input: SpecInput, caps: string[], host: HostInfo): OciSeccomp | undefined {
  const s = input.seccomp ?? 'default';
  if (s === 'unconfined') return undefined;
  if (s === 'default') {
    // moby skips the default profile for privileged containers; a custom one still applies.
    if (input.privileged) return undefined;
    return convertSeccompProfile(input.defaultSeccomp, { arch: host.arch, caps, kernel: host.kernel });
  }
  return convertSeccompProfile(s as DockerSeccompProfile, { arch: host.arch, caps, kernel: host.kernel });
}

export function buildSpec(input: SpecInput): OciSpec {
  const host = input.host;
  const privileged = input.privileged === true;
  if (!input.rootfs.startsWith('/')) throw new InvalidParameterError(`rootfs must be absolute: ${input.rootfs}`);
  if (input.args.length === 0) throw new InvalidParameterError('no command specified');
  const caps = computeCapabilities({ privileged, capAdd: input.capAdd, capDrop: input.capDrop, capLastCap: host.capLastCap, boundingCaps: host.boundingCaps });

  const rlimits: OciRlimit[] = [];
  const user = input.rlimits ?? [];
  if (!user.some((r) => r.type === 'RLIMIT_NOFILE')) rlimits.push({ type: 'RLIMIT_NOFILE', ...DEFAULT_NOFILE });
  for (const r of user) {
    if (r.soft > r.hard) throw new InvalidParameterError(`ulimit soft limit must be less than or equal to hard limit: ${r.soft} > ${r.hard}`);
    rlimits.push({ type: r.type, hard: r.hard, soft: r.soft });
  }

  const resources: OciResources = {
    devices: privileged ? [{ allow: true, access: 'rwm' }] : [...DEFAULT_DEVICE_RULES.map((d) => ({ ...d })), ...(input.deviceRules ?? [])],
  };
  const memory = memoryResources(input.resources, host);
  if (memory) resources.memory = memory;
  const cpu = cpuResources(input.resources);
  if (cpu) resources.cpu = cpu;
  if (input.resources.pidsLimit && input.resources.pidsLimit !== 0) resources.pids = { limit: input.resources.pidsLimit };

  const linux: OciLinux = {
    namespaces: namespaces(input),
    cgroupsPath: input.cgroupsPath,
    resources,
  };
  if (input.devices?.length) linux.devices = input.devices.map((d) => ({ ...d }));
  if (!privileged) {
    linux.maskedPaths = input.maskedPaths ? [...input.maskedPaths] : [...DEFAULT_MASKED_PATHS, ...host.thermalThrottlePaths];
    linux.readonlyPaths = input.readonlyPaths ? [...input.readonlyPaths] : [...DEFAULT_READONLY_PATHS];
  }
  const seccomp = seccompFor(input, caps, host);
  if (seccomp) linux.seccomp = seccomp;
  if (input.network.mode !== 'host') {
    // moby oci_linux.go: a private netns gets unprivileged low ports and ping.
    linux.sysctl = { 'net.ipv4.ip_unprivileged_port_start': '0', 'net.ipv4.ping_group_range': '0 2147483647' };
  }

  const spec: OciSpec = {
    ociVersion: '1.0.2-dev',
    process: {
      terminal: input.tty,
      user: { uid: input.user.uid, gid: input.user.gid, additionalGids: [...input.user.additionalGids] },
      args: [...input.args],
      env: buildEnv(input.env, input.hostname, input.tty),
      cwd: input.cwd || '/',
      capabilities: { bounding: [...caps], effective: [...caps], permitted: [...caps] },
      rlimits: clampRlimits(rlimits, host.hardLimits),
      noNewPrivileges: input.noNewPrivileges === true,
      oomScoreAdj: 0,
    },
    root: { path: input.rootfs, readonly: input.readonlyRootfs === true },
    hostname: input.hostname,
    mounts: mergeMounts(defaultMounts(input.shmSize && input.shmSize > 0 ? input.shmSize : DEFAULT_SHM_SIZE, privileged), input.mounts ?? []),
    linux,
  };
  if (input.tty) spec.process.consoleSize = { height: 24, width: 80 };
  // runc refuses a hostname without a UTS namespace of the container's own.
  if (input.utsNamespace === 'host') spec.hostname = '';
  else if (input.domainname) spec.domainname = input.domainname;
  if (input.annotations && Object.keys(input.annotations).length > 0) spec.annotations = { ...input.annotations };
  return spec;
}
