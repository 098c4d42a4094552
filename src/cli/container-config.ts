/**
 * Turns `run`/`create` flags into the Engine API create body (Config + HostConfig +
 * NetworkingConfig), following docker's cli/command/container/opts.go rules. Pure except for
 * reading --env-file/--label-file.
 */
import fs from 'node:fs';
import { parseGoDurationNs } from '../core/go-duration.js';
import { ramInBytes } from '../core/human.js';
import { FlagError, type ParsedArgs } from './flags.js';
import { bool, list, num, str } from './context.js';
import { resourceHostConfig } from './resource-flags.js';

export interface CreateRequest {
  name?: string;
  platform?: string;
  body: {
    [k: string]: unknown;
    Image: string;
    HostConfig: Record<string, unknown>;
    NetworkingConfig: { EndpointsConfig: Record<string, unknown> };
  };
}

export function flagErr(value: string, flag: string, msg: string): FlagError {
  return new FlagError(`invalid argument "${value}" for "${flag}" flag: ${msg}`);
}

export function bytesFlag(p: ParsedArgs, name: string, shown: string): number | undefined {
  const v = str(p, name);
  if (!v) return undefined;
  if (name === 'memory-swap' && v === '-1') return -1;
  try {
    return ramInBytes(v);
  } catch (e) {
    throw flagErr(v, shown, (e as Error).message);
  }
}

/** Go time.ParseDuration → nanoseconds */
export function parseDurationNs(v: string, shown: string): number {
  if (v === '') return 0;
  const ns = parseGoDurationNs(v);
  if (ns === undefined) throw flagErr(v, shown, `time: invalid duration "${v}"`);
  return ns;
}

/** -e KEY=VAL as is; -e KEY takes the client's value when set (docker's ValidateEnv). */
export function envValue(v: string, env: Record<string, string | undefined>): string {
  if (v.includes('=')) {
    if (v.startsWith('=')) throw flagErr(v, '-e, --env', `invalid environment variable: ${v}`);
    return v;
  }
  const val = env[v];
  return val === undefined ? v : `${v}=${val}`;
}

export function readKvFile(file: string, env: Record<string, string | undefined>, isEnv: boolean): string[] {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (e) {
    throw new FlagError(`open ${file}: no such file or directory`);
  }
  const out: string[] = [];
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.replace(/^\s+/, '');
    if (!line || line.startsWith('#')) continue;
    out.push(isEnv ? envValue(line, env) : line);
  }
  return out;
}

export interface PortSpec { containerPort: string; bindings: Array<{ HostIp: string; HostPort: string }> }

/** `-p [ip:][hostPort:]containerPort[/proto]` with ranges → exposed ports and bindings. */
export function parsePortSpec(spec: string): PortSpec[] {
  let rest = spec;
  let proto = 'tcp';
  const slash = rest.lastIndexOf('/');
  if (slash >= 0) { proto = rest.slice(slash + 1); rest = rest.slice(0, slash); }
  let ip = '';
  let hostPart = '';
  let ctr = rest;
  if (rest.startsWith('[')) {
    const close = rest.indexOf(']');
    ip = rest.slice(1, close);
    const after = rest.slice(close + 2).split(':');
    if (after.length === 2) { hostPart = after[0]!; ctr = after[1]!; } else ctr = after[0]!;
  } else {
    const parts = rest.split(':');
    if (parts.length === 3) { ip = parts[0]!; hostPart = parts[1]!; ctr = parts[2]!; }
    else if (parts.length === 2) { hostPart = parts[0]!; ctr = parts[1]!; }
    else if (parts.length > 3) throw flagErr(spec, '-p, --publish', `invalid proto: ${spec}`);
  }
  if (!['tcp', 'udp', 'sctp'].includes(proto.toLowerCase())) throw flagErr(spec, '-p, --publish', `invalid proto: ${proto}`);
  const range = (s: string): [number, number] | null => {
    if (!s) return null;
    const m = /^(\d+)(?:-(\d+))?$/.exec(s);
    if (!m) throw flagErr(spec, '-p, --publish', `invalid containerPort: ${s}`);
    const a = Number(m[1]), b = m[2] ? Number(m[2]) : a;
    if (a > 65535 || b > 65535 || b < a) throw flagErr(spec, '-p, --publish', `invalid port range: ${s}`);
    return [a, b];
  };
  const cr = range(ctr);
  if (!cr) throw flagErr(spec, '-p, --publish', 'no port specified: ' + spec);
  const hr = range(hostPart);
  const n = cr[1] - cr[0];
  if (hr && hr[1] - hr[0] !== n && hr[1] !== hr[0]) {
    if (n !== 0) throw flagErr(spec, '-p, --publish', `invalid ranges specified for container and host Ports: ${ctr} and ${hostPart}`);
  }
  const out: PortSpec[] = [];
  for (let i = 0; i <= n; i++) {
    let hostPort = '';
    if (hr) hostPort = hr[1] - hr[0] === n ? String(hr[0] + i) : hr[0] === hr[1] ? String(hr[0]) : `${hr[0]}-${hr[1]}`;
    out.push({ containerPort: `${cr[0] + i}/${proto.toLowerCase()}`, bindings: [{ HostIp: ip, HostPort: hostPort }] });
  }
  return out;
}

/** --mount type=bind,source=/a,target=/b,readonly → API Mount */
export function parseMount(spec: string): Record<string, unknown> {
  const m: Record<string, unknown> = { Type: 'volume' };
  for (const field of spec.split(',')) {
    const eq = field.indexOf('=');
    const k = (eq < 0 ? field : field.slice(0, eq)).trim().toLowerCase();
    const v = eq < 0 ? undefined : field.slice(eq + 1);
    switch (k) {
      case 'type': m.Type = v; break;
      case 'source': case 'src': m.Source = v; break;
      case 'target': case 'destination': case 'dst': m.Target = v; break;
      case 'readonly': case 'ro': m.ReadOnly = v === undefined || ['1', 'true'].includes(v.toLowerCase()); break;
      case 'consistency': m.Consistency = v; break;
      case 'bind-propagation': m.BindOptions = { ...(m.BindOptions as object), Propagation: v }; break;
      case 'bind-recursive': m.BindOptions = { ...(m.BindOptions as object), ...(v === 'disabled' ? { NonRecursive: true } : {}) }; break;
      case 'volume-nocopy': m.VolumeOptions = { ...(m.VolumeOptions as object), NoCopy: v === undefined || v === 'true' || v === '1' }; break;
      case 'volume-driver': m.VolumeOptions = { ...(m.VolumeOptions as object), DriverConfig: { Name: v } }; break;
      case 'volume-subpath': m.VolumeOptions = { ...(m.VolumeOptions as object), Subpath: v }; break;
      case 'volume-label': {
        const vo = { ...(m.VolumeOptions as Record<string, unknown>) };
        const [lk, ...lv] = (v ?? '').split('=');
        vo.Labels = { ...(vo.Labels as object), [lk!]: lv.join('=') };
        m.VolumeOptions = vo;
        break;
      }
      case 'tmpfs-size': m.TmpfsOptions = { ...(m.TmpfsOptions as object), SizeBytes: ramInBytes(v ?? '') }; break;
      case 'tmpfs-mode': m.TmpfsOptions = { ...(m.TmpfsOptions as object), Mode: parseInt(v ?? '0', 8) }; break;
      default: throw flagErr(spec, '--mount', `unexpected key '${k}' in '${field}'`);
    }
  }
  if (!m.Target) throw flagErr(spec, '--mount', 'target is required');
  return m;
}

function restartPolicy(v: string): Record<string, unknown> {
  if (!v) return { Name: 'no' };
  const [name, max] = v.split(':');
  if (!['no', 'always', 'on-failure', 'unless-stopped'].includes(name!)) throw new FlagError(`invalid restart policy '${v}'`);
  const out: Record<string, unknown> = { Name: name };
  if (max !== undefined) {
    if (name !== 'on-failure') throw new FlagError(`invalid restart policy format: maximum retry count can only be used with 'on-failure'`);
    out.MaximumRetryCount = Number(max);
  }
  return out;
}

function ulimit(v: string): Record<string, unknown> {
  const m = /^([a-z]+)=(-?\d+)(?::(-?\d+))?$/.exec(v);
  if (!m) throw flagErr(v, '--ulimit', `invalid ulimit argument: ${v}`);
  return { Name: m[1], Soft: Number(m[2]), Hard: Number(m[3] ?? m[2]) };
}

function kvMap(values: string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const v of values) {
    const i = v.indexOf('=');
    if (i < 0) out[v] = '';
    else out[v.slice(0, i)] = v.slice(i + 1);
  }
  return out;
}

/** Builds the create request from parsed flags (`args[0]` is the image, the rest the command). */
export function buildCreateRequest(p: ParsedArgs, env: Record<string, string | undefined>, detach: boolean): CreateRequest {
  const [image, ...cmd] = p.args;
  const attach = list(p, 'attach').map((s) => s.toLowerCase());
  for (const a of attach) if (!['stdin', 'stdout', 'stderr'].includes(a)) throw flagErr(a, '-a, --attach', `valid streams are STDIN, STDOUT and STDERR`);
  const interactive = bool(p, 'interactive');
  let attachStdin = attach.includes('stdin');
  let attachStdout = attach.includes('stdout');
  let attachStderr = attach.includes('stderr');
  if (!detach && attach.length === 0) {
    attachStdout = true;
    attachStderr = true;
    attachStdin = interactive;
  }
  if (detach) { attachStdin = attachStdout = attachStderr = false; }

  const envList = [...list(p, 'env-file').flatMap((f) => readKvFile(f, env, true)), ...list(p, 'env').map((e) => envValue(e, env))];
  const labels = kvMap([...list(p, 'label-file').flatMap((f) => readKvFile(f, env, false)), ...list(p, 'label')]);

  const exposed: Record<string, object> = {};
  const bindings: Record<string, Array<{ HostIp: string; HostPort: string }>> = {};
  for (const spec of list(p, 'publish')) {
    for (const ps of parsePortSpec(spec)) {
      exposed[ps.containerPort] = {};
      (bindings[ps.containerPort] ??= []).push(...ps.bindings);
    }
  }
  for (const e of list(p, 'expose')) {
    const [port, proto = 'tcp'] = e.split('/');
    const m = /^(\d+)(?:-(\d+))?$/.exec(port!);
    if (!m) throw flagErr(e, '--expose', `invalid range format for --expose: ${e}`);
    for (let i = Number(m[1]); i <= Number(m[2] ?? m[1]); i++) exposed[`${i}/${proto}`] = {};
  }

  const volumes: Record<string, object> = {};
  const binds: string[] = [];
  for (const v of list(p, 'volume')) {
    const parts = v.split(':');
    if (parts.length === 1) volumes[parts[0]!] = {};
    else binds.push(v);
  }

  const tmpfs: Record<string, string> = {};
  for (const t of list(p, 'tmpfs')) {
    const i = t.indexOf(':');
    if (i < 0) tmpfs[t] = '';
    else tmpfs[t.slice(0, i)] = t.slice(i + 1);
  }

  let healthcheck: Record<string, unknown> | undefined;
  const hcChanged = ['health-cmd', 'health-interval', 'health-timeout', 'health-retries', 'health-start-period', 'health-start-interval'].some((f) => p.changed.has(f));
  if (bool(p, 'no-healthcheck')) {
    if (hcChanged) throw new FlagError('--no-healthcheck conflicts with --health-* options');
    healthcheck = { Test: ['NONE'] };
  } else if (hcChanged) {
    healthcheck = {
      ...(str(p, 'health-cmd') ? { Test: ['CMD-SHELL', str(p, 'health-cmd')] } : {}),
      Interval: parseDurationNs(str(p, 'health-interval'), '--health-interval'),
      Timeout: parseDurationNs(str(p, 'health-timeout'), '--health-timeout'),
      StartPeriod: parseDurationNs(str(p, 'health-start-period'), '--health-start-period'),
      StartInterval: parseDurationNs(str(p, 'health-start-interval'), '--health-start-interval'),
      Retries: num(p, 'health-retries'),
    };
  }

  const networks = list(p, 'network');
  const networkMode = networks[0] ?? 'default';
  const endpoints: Record<string, unknown> = {};
  const aliases = list(p, 'network-alias');
  const linkLocal = list(p, 'link-local-ip');
  if (networks.length || aliases.length || str(p, 'ip') || str(p, 'ip6') || list(p, 'link').length || linkLocal.length) {
    const first = networks[0] ?? 'default';
    for (const n of networks.length ? networks : [first]) {
      const ep: Record<string, unknown> = {};
      if (n === first) {
        if (aliases.length) ep.Aliases = aliases;
        if (str(p, 'ip') || str(p, 'ip6') || linkLocal.length) {
          ep.IPAMConfig = { IPv4Address: str(p, 'ip') || undefined, IPv6Address: str(p, 'ip6') || undefined, LinkLocalIPs: linkLocal.length ? linkLocal : undefined };
        }
        if (list(p, 'link').length) ep.Links = list(p, 'link');
      }
      endpoints[n] = ep;
    }
  }

  const cpus = str(p, 'cpus');
  let nanoCpus: number | undefined;
  if (cpus) {
    const n = Number(cpus);
    if (Number.isNaN(n)) throw flagErr(cpus, '--cpus', `failed to parse ${cpus} as a rational number`);
    nanoCpus = Math.round(n * 1e9);
  }

  const logOpts = kvMap(list(p, 'log-opt'));
  const entrypoint = p.changed.has('entrypoint') ? (str(p, 'entrypoint') === '' ? [''] : [str(p, 'entrypoint')]) : undefined;

  const hostConfig: Record<string, unknown> = {
    Binds: binds.length ? binds : null,
    ContainerIDFile: str(p, 'cidfile'),
    LogConfig: { Type: str(p, 'log-driver'), Config: logOpts },
    NetworkMode: networkMode,
    PortBindings: bindings,
    RestartPolicy: restartPolicy(str(p, 'restart')),
    AutoRemove: bool(p, 'rm'),
    VolumeDriver: str(p, 'volume-driver'),
    VolumesFrom: list(p, 'volumes-from').length ? list(p, 'volumes-from') : null,
    CapAdd: list(p, 'cap-add').length ? list(p, 'cap-add') : null,
    CapDrop: list(p, 'cap-drop').length ? list(p, 'cap-drop') : null,
    CgroupnsMode: str(p, 'cgroupns'),
    Dns: list(p, 'dns'),
    DnsOptions: list(p, 'dns-option'),
    DnsSearch: list(p, 'dns-search'),
    ExtraHosts: list(p, 'add-host').length ? list(p, 'add-host') : null,
    GroupAdd: list(p, 'group-add').length ? list(p, 'group-add') : null,
    IpcMode: str(p, 'ipc'),
    Cgroup: '',
    Links: list(p, 'link').length ? list(p, 'link') : null,
    OomScoreAdj: num(p, 'oom-score-adj'),
    PidMode: str(p, 'pid'),
    Privileged: bool(p, 'privileged'),
    PublishAllPorts: bool(p, 'publish-all'),
    ReadonlyRootfs: bool(p, 'read-only'),
    SecurityOpt: list(p, 'security-opt').length ? list(p, 'security-opt') : null,
    Tmpfs: Object.keys(tmpfs).length ? tmpfs : undefined,
    UTSMode: str(p, 'uts'),
    UsernsMode: str(p, 'userns'),
    ShmSize: bytesFlag(p, 'shm-size', '--shm-size') ?? 0,
    Sysctls: list(p, 'sysctl').length ? kvMap(list(p, 'sysctl')) : undefined,
    Runtime: str(p, 'runtime') || undefined,
    Isolation: str(p, 'isolation'),
    CpuShares: num(p, 'cpu-shares'),
    Memory: bytesFlag(p, 'memory', '-m, --memory') ?? 0,
    NanoCpus: nanoCpus ?? 0,
    CgroupParent: str(p, 'cgroup-parent'),
    BlkioWeight: num(p, 'blkio-weight'),
    CpuPeriod: num(p, 'cpu-period'),
    CpuQuota: num(p, 'cpu-quota'),
    CpuRealtimePeriod: num(p, 'cpu-rt-period'),
    CpuRealtimeRuntime: num(p, 'cpu-rt-runtime'),
    CpusetCpus: str(p, 'cpuset-cpus'),
    CpusetMems: str(p, 'cpuset-mems'),
    Devices: list(p, 'device').map((d) => {
      const [host, ctr, perms] = d.split(':');
      return { PathOnHost: host, PathInContainer: ctr ?? host, CgroupPermissions: perms ?? 'rwm' };
    }),
    DeviceCgroupRules: list(p, 'device-cgroup-rule'),
    MemoryReservation: bytesFlag(p, 'memory-reservation', '--memory-reservation') ?? 0,
    MemorySwap: bytesFlag(p, 'memory-swap', '--memory-swap') ?? 0,
    MemorySwappiness: p.changed.has('memory-swappiness') ? num(p, 'memory-swappiness') : undefined,
    OomKillDisable: p.changed.has('oom-kill-disable') ? bool(p, 'oom-kill-disable') : undefined,
    PidsLimit: p.changed.has('pids-limit') ? num(p, 'pids-limit') : undefined,
    Ulimits: list(p, 'ulimit').map(ulimit),
    Mounts: list(p, 'mount').length ? list(p, 'mount').map(parseMount) : undefined,
    Init: p.changed.has('init') ? bool(p, 'init') : undefined,
    Annotations: list(p, 'annotation').length ? kvMap(list(p, 'annotation')) : undefined,
    ...resourceHostConfig(p),
  };
  for (const k of Object.keys(hostConfig)) if (hostConfig[k] === undefined) delete hostConfig[k];

  const body: CreateRequest['body'] = {
    Hostname: str(p, 'hostname'),
    Domainname: str(p, 'domainname'),
    User: str(p, 'user'),
    AttachStdin: attachStdin,
    AttachStdout: attachStdout,
    AttachStderr: attachStderr,
    ExposedPorts: Object.keys(exposed).length ? exposed : undefined,
    Tty: bool(p, 'tty'),
    OpenStdin: interactive,
    StdinOnce: interactive && attachStdin && !detach,
    Env: envList,
    Cmd: cmd.length ? cmd : null,
    Healthcheck: healthcheck,
    Image: image!,
    Volumes: Object.keys(volumes).length ? volumes : undefined,
    WorkingDir: str(p, 'workdir'),
    Entrypoint: entrypoint ?? null,
    MacAddress: str(p, 'mac-address') || undefined,
    Labels: labels,
    StopSignal: str(p, 'stop-signal') || undefined,
    StopTimeout: p.changed.has('stop-timeout') ? num(p, 'stop-timeout') : undefined,
    HostConfig: hostConfig,
    NetworkingConfig: { EndpointsConfig: endpoints },
  };
  for (const k of Object.keys(body)) if (body[k] === undefined) delete body[k];
  return { name: str(p, 'name') || undefined, platform: str(p, 'platform') || undefined, body };
}

/** reference.FamiliarString(TagNameOnly(ref)): "busybox" → "busybox:latest" */
export function familiarWithTag(image: string): string {
  if (image.includes('@')) return image;
  const lastSlash = image.lastIndexOf('/');
  const hasTag = image.slice(lastSlash + 1).includes(':');
  let s = hasTag ? image : `${image}:latest`;
  if (s.startsWith('docker.io/')) s = s.slice(10);
  if (s.startsWith('library/') && !s.slice(8).includes('/')) s = s.slice(8);
  return s;
}
