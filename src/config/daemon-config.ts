import fs from 'node:fs';
import { InvalidParameterError } from '../errors.js';
import { parseDefaultUlimits, type Ulimit } from '../core/create-settings.js';
import { registryServiceConfig, type RegistryServiceConfig } from '../core/registry-config.js';
import { parseAddRuntimeFlags, parseRuntimesFile, type RuntimeTable } from '../core/runtimes.js';

/** berthd settings: flags merged with daemon.json (a key set in both is an error, as dockerd). */
export interface DaemonConfig {
  hosts: string[];
  dataRoot: string;
  execRoot: string;
  pidfile: string;
  logLevel: 'debug' | 'info' | 'warn' | 'error' | 'fatal';
  configFile: string;
  /** default bridge device (dockerd -b); 'none' disables the default bridge network */
  bridge?: string;
  /** the default bridge's address/prefix (dockerd --bip) */
  bip?: string;
  /** daemon.json default-address-pools */
  pools?: { base: string; size: number }[];
  /** daemon.json detach-keys */
  detachKeys?: string;
  /** daemon.json log-driver (default json-file) */
  logDriver?: string;
  /** daemon.json log-opts */
  logOpts?: Record<string, string>;
  /** dockerd -G/--group, daemon.json group: the unix socket's group (default docker) */
  group?: string;
  /** -D / daemon.json debug (shown by info; implies log-level debug) */
  debug: boolean;
  /**
   * daemon.json live-restore. berth's default is true (unlike dockerd's false): berth was built to
   * live-restore and its users rely on containers surviving a berthd restart. `"live-restore": false`
   * makes an orderly shutdown (SIGTERM/SIGINT) stop the running containers first, as dockerd does.
   */
  liveRestore: boolean;
  /** daemon.json dns, dns-search, dns-opts: for containers that give none of their own */
  dns: string[];
  dnsSearch: string[];
  dnsOptions: string[];
  /** daemon.json default-ulimits */
  defaultUlimits: Ulimit[];
  /** -H tcp:// on a non-loopback address without TLS: refused unless this is set (--unsafe-tcp) */
  unsafeTcp?: boolean;
  /** --tls / --tlsverify (dockerd's): TLS on tcp:// listeners; with verify, clients need a cert signed by tlsCaCert */
  tls: boolean;
  tlsVerify: boolean;
  tlsCaCert?: string;
  tlsCert?: string;
  tlsKey?: string;
  /** daemon.json insecure-registries and registry-mirrors, as given */
  insecureRegistries?: string[];
  registryMirrors?: string[];
  /** ... validated and resolved as dockerd's registry service config (what `docker info` shows) */
  registry: RegistryServiceConfig;
  /** daemon.json runtimes / --add-runtime: OCI runtimes beside runc (core/runtimes.ts) */
  runtimes: RuntimeTable;
  /** daemon.json default-runtime / --default-runtime; unset: crun on cgroup v2 when installed, else runc */
  defaultRuntime?: string;
  /** daemon.json max-concurrent-downloads (dockerd's default 3): layer downloads at once per pull */
  maxConcurrentDownloads: number;
  /** daemon.json max-download-attempts (dockerd's default 5): tries per layer download */
  maxDownloadAttempts: number;
  /** Warnings loading the configuration gave (dockerd logs them at start). */
  warnings: string[];
}

export const DEFAULTS: DaemonConfig = {
  hosts: ['unix:///run/berth/berth.sock'],
  dataRoot: '/var/lib/berth',
  execRoot: '/run/berth',
  pidfile: '/run/berth/berthd.pid',
  logLevel: 'info',
  configFile: '/etc/berth/daemon.json',
  debug: false,
  liveRestore: true,
  dns: [], dnsSearch: [], dnsOptions: [],
  defaultUlimits: [],
  tls: false,
  tlsVerify: false,
  registry: registryServiceConfig({}).config,
  runtimes: {},
  maxConcurrentDownloads: 3,
  maxDownloadAttempts: 5,
  warnings: [],
};

/** daemon.json keys berth understands now, mapped to config fields. Unknown keys are rejected. */
const FILE_KEYS: Record<string, keyof DaemonConfig | null> = {
  'hosts': 'hosts', 'data-root': 'dataRoot', 'exec-root': 'execRoot', 'pidfile': 'pidfile', 'log-level': 'logLevel',
  'bridge': 'bridge', 'bip': 'bip', 'default-address-pools': 'pools', 'detach-keys': 'detachKeys',
  'log-driver': 'logDriver', 'log-opts': 'logOpts', 'group': 'group',
  'live-restore': 'liveRestore', 'debug': 'debug',
  'dns': 'dns', 'dns-search': 'dnsSearch', 'dns-opts': 'dnsOptions', 'default-ulimits': 'defaultUlimits',
  'tls': 'tls', 'tlsverify': 'tlsVerify', 'tlscacert': 'tlsCaCert', 'tlscert': 'tlsCert', 'tlskey': 'tlsKey',
  'insecure-registries': 'insecureRegistries', 'registry-mirrors': 'registryMirrors',
  'runtimes': 'runtimes', 'default-runtime': 'defaultRuntime',
  'max-concurrent-downloads': 'maxConcurrentDownloads', 'max-download-attempts': 'maxDownloadAttempts',
};

/**
 * dockerd keys berth knows and cannot honour yet: refused with a reason rather than taken and ignored
 * (or reported as unknown, which would suggest a typo). A value equal to what berth always does is
 * accepted (`"storage-driver": "overlay2"`, `"experimental": false`).
 */
export const REFUSED_FILE_KEYS: Record<string, { accepts?: (v: unknown) => boolean; message: string }> = {
  'storage-driver': { accepts: (v) => v === 'overlay2', message: 'storage-driver: berth supports overlay2 only' },
  'experimental': { accepts: (v) => v === false, message: 'experimental features are not supported by berth' },
  // IPv6 lives on user-defined networks (`network create --ipv6`); the default bridge stays IPv4
  'ipv6': { accepts: (v) => v === false, message: 'ipv6: the default bridge network has no IPv6 in berth; create a user-defined network with --ipv6' },
  'fixed-cidr-v6': { message: 'fixed-cidr-v6: the default bridge network has no IPv6 in berth; create a user-defined network with --ipv6 --subnet' },
  'ip6tables': { accepts: (v) => v === true, message: 'ip6tables: berth always manages ip6tables rules for its IPv6 networks' },
  'features': { accepts: (v) => typeof v === 'object' && v !== null && Object.keys(v).length === 0, message: 'features: berth has no optional daemon features to enable' },
};

/** Every daemon.json key berth accepts and acts on, for the enforcement test. */
export const ACCEPTED_FILE_KEYS = (): string[] => Object.keys(FILE_KEYS);

export interface FlagValues {
  host?: string[];
  'data-root'?: string;
  'exec-root'?: string;
  pidfile?: string;
  'config-file'?: string;
  'log-level'?: string;
  debug?: boolean;
  bridge?: string;
  bip?: string;
  group?: string;
  'unsafe-tcp'?: boolean;
  tls?: boolean;
  tlsverify?: boolean;
  tlscacert?: string;
  tlscert?: string;
  tlskey?: string;
  'add-runtime'?: string[];
  'default-runtime'?: string;
}

const FLAG_TO_FILE: Record<string, string> = { host: 'hosts', 'data-root': 'data-root', 'exec-root': 'exec-root', pidfile: 'pidfile', 'log-level': 'log-level', bridge: 'bridge', bip: 'bip', group: 'group',
  tls: 'tls', tlsverify: 'tlsverify', tlscacert: 'tlscacert', tlscert: 'tlscert', tlskey: 'tlskey',
  'add-runtime': 'runtimes', 'default-runtime': 'default-runtime' };

export function loadConfig(flags: FlagValues, readFile: (p: string) => string | undefined = defaultRead): DaemonConfig {
  const configFile = flags['config-file'] ?? DEFAULTS.configFile;
  const text = readFile(configFile);
  if (text === undefined && flags['config-file']) throw new InvalidParameterError(`unable to configure the berth daemon with file ${configFile}: no such file`);
  let file: Record<string, unknown> = {};
  if (text !== undefined && text.trim() !== '') {
    try { file = JSON.parse(text) as Record<string, unknown>; } catch (err) {
      throw new InvalidParameterError(`unable to configure the berth daemon with file ${configFile}: ${(err as Error).message}`);
    }
  }
  const conflicts: string[] = [];
  for (const [flag, key] of Object.entries(FLAG_TO_FILE)) {
    const v = flags[flag as keyof FlagValues];
    if (v !== undefined && !(Array.isArray(v) && v.length === 0) && key in file) conflicts.push(`${flag}: (from flag: ${String(v)}, from file: ${JSON.stringify(file[key])})`);
  }
  if (conflicts.length) {
    throw new InvalidParameterError(`the following directives are specified both as a flag and in the configuration file: ${conflicts.join(', ')}`);
  }
  const unknown = Object.keys(file).filter((k) => !(k in FILE_KEYS) && !(k in REFUSED_FILE_KEYS));
  if (unknown.length) throw new InvalidParameterError(`the following directives don't match any configuration option: ${unknown.join(', ')}`);
  for (const [k, r] of Object.entries(REFUSED_FILE_KEYS)) {
    if (k in file && !(r.accepts?.(file[k]) ?? false)) throw new InvalidParameterError(r.message);
  }
  const cfg: DaemonConfig = { ...DEFAULTS, configFile, warnings: [] };
  for (const [k, field] of Object.entries(FILE_KEYS)) {
    if (field && k in file) (cfg as unknown as Record<string, unknown>)[field] = file[k];
  }
  if (flags.host && flags.host.length) cfg.hosts = flags.host;
  if (flags['data-root']) cfg.dataRoot = flags['data-root'];
  if (flags['exec-root']) cfg.execRoot = flags['exec-root'];
  if (flags.pidfile) cfg.pidfile = flags.pidfile;
  else if (flags['exec-root'] && !('pidfile' in file)) cfg.pidfile = `${cfg.execRoot}/berthd.pid`;
  if (flags['log-level']) cfg.logLevel = flags['log-level'] as DaemonConfig['logLevel'];
  if (flags.debug) cfg.debug = true;
  if (typeof cfg.debug !== 'boolean') throw new InvalidParameterError('debug must be a boolean');
  if (cfg.debug && !flags['log-level'] && !('log-level' in file)) cfg.logLevel = 'debug';
  if (flags['unsafe-tcp']) cfg.unsafeTcp = true;
  checkTls(cfg, flags);
  if (typeof cfg.liveRestore !== 'boolean') throw new InvalidParameterError('live-restore must be a boolean');
  for (const [k, f] of [['dns', 'dns'], ['dns-search', 'dnsSearch'], ['dns-opts', 'dnsOptions']] as const) {
    const v = cfg[f] as unknown;
    if (!Array.isArray(v) || v.some((x) => typeof x !== 'string')) throw new InvalidParameterError(`${k} must be a list of strings`);
  }
  for (const ip of cfg.dns) {
    if (!isIp(ip)) throw new InvalidParameterError(`${ip} is not an ip address`);
  }
  cfg.defaultUlimits = parseDefaultUlimits(file['default-ulimits']);
  cfg.runtimes = flags['add-runtime']?.length ? parseAddRuntimeFlags(flags['add-runtime']) : parseRuntimesFile(file['runtimes']);
  if (flags['default-runtime'] !== undefined) cfg.defaultRuntime = flags['default-runtime'];
  if (cfg.defaultRuntime !== undefined && typeof cfg.defaultRuntime !== 'string') throw new InvalidParameterError('default-runtime must be a string');
  // moby's ValidateMaxConcurrentDownloads / ValidateMaxDownloadAttempts wording
  if (!Number.isInteger(cfg.maxConcurrentDownloads) || cfg.maxConcurrentDownloads < 0) throw new InvalidParameterError(`invalid max concurrent downloads: ${String(cfg.maxConcurrentDownloads)}`);
  if (!Number.isInteger(cfg.maxDownloadAttempts) || cfg.maxDownloadAttempts <= 0) throw new InvalidParameterError(`invalid max download attempts: ${String(cfg.maxDownloadAttempts)}`);
  const reg = registryServiceConfig({ mirrors: cfg.registryMirrors, insecure: cfg.insecureRegistries });
  cfg.registry = reg.config;
  cfg.warnings.push(...reg.warnings);
  if (flags.bridge) cfg.bridge = flags.bridge;
  if (flags.bip) cfg.bip = flags.bip;
  if (flags.group) cfg.group = flags.group;
  if (cfg.group !== undefined && (typeof cfg.group !== 'string' || !/^[a-z_][a-z0-9_.-]*\$?$|^\d+$/i.test(cfg.group))) {
    throw new InvalidParameterError(`invalid group: ${String(cfg.group)}`);
  }
  if (cfg.bridge !== undefined && !/^[a-zA-Z0-9_.-]{1,15}$/.test(cfg.bridge)) throw new InvalidParameterError(`invalid bridge name: ${cfg.bridge}`);
  if (cfg.logDriver !== undefined && typeof cfg.logDriver !== 'string') throw new InvalidParameterError('log-driver must be a string');
  if (cfg.logOpts !== undefined && (typeof cfg.logOpts !== 'object' || cfg.logOpts === null || Array.isArray(cfg.logOpts))) {
    throw new InvalidParameterError('log-opts must be an object of strings');
  }
  if (!['debug', 'info', 'warn', 'error', 'fatal'].includes(cfg.logLevel)) throw new InvalidParameterError(`unable to parse logging level: ${cfg.logLevel}`);
  for (const h of cfg.hosts) {
    if (!/^(unix:\/\/\/.+|tcp:\/\/[^:]*:\d+)$/.test(h)) throw new InvalidParameterError(`invalid host: ${h}`);
  }
  return cfg;
}

/** dockerd's TLS settings: --tlsverify implies --tls; TLS needs a cert and key, verify a CA; no file is read here. */
function checkTls(cfg: DaemonConfig, flags: FlagValues): void {
  if (flags.tls !== undefined) cfg.tls = flags.tls;
  if (flags.tlsverify !== undefined) cfg.tlsVerify = flags.tlsverify;
  if (flags.tlscacert) cfg.tlsCaCert = flags.tlscacert;
  if (flags.tlscert) cfg.tlsCert = flags.tlscert;
  if (flags.tlskey) cfg.tlsKey = flags.tlskey;
  for (const k of ['tls', 'tlsVerify'] as const) if (typeof cfg[k] !== 'boolean') throw new InvalidParameterError(`${k.toLowerCase()} must be a boolean`);
  for (const k of ['tlsCaCert', 'tlsCert', 'tlsKey'] as const) {
    if (cfg[k] !== undefined && typeof cfg[k] !== 'string') throw new InvalidParameterError(`${k.toLowerCase()} must be a string`);
  }
  if (cfg.tlsVerify) cfg.tls = true;
  const given = cfg.tlsCaCert ? '--tlscacert' : cfg.tlsCert ? '--tlscert' : cfg.tlsKey ? '--tlskey' : '';
  if (!cfg.tls) {
    if (given) throw new InvalidParameterError(`${given} needs --tls or --tlsverify`);
    return;
  }
  if (!cfg.tlsCert || !cfg.tlsKey) throw new InvalidParameterError('--tls needs --tlscert and --tlskey');
  if (cfg.tlsVerify && !cfg.tlsCaCert) throw new InvalidParameterError('--tlsverify needs --tlscacert (the CA that signs client certificates)');
  if (!cfg.hosts.some((h) => h.startsWith('tcp://'))) throw new InvalidParameterError('--tls applies to tcp:// hosts only: add -H tcp://ADDR:PORT');
}

function isIp(s: string): boolean {
  if (/^\d{1,3}(\.\d{1,3}){3}$/.test(s)) return s.split('.').every((p) => Number(p) <= 255);
  return s.includes(':') && /^[0-9a-fA-F:.]+$/.test(s);
}

/**
 * What `-H tcp://` without --tlsverify gets: refused on a non-loopback address unless
 * forced with --unsafe-tcp, a warning on loopback. The warning is dockerd's.
 */
export function tcpHostCheck(host: string, forced: boolean, tlsVerify = false): { refuse?: string; warn?: string } {
  if (!host.startsWith('tcp://') || tlsVerify) return {};
  const addr = host.slice(6).replace(/:\d+$/, '').replace(/^\[|\]$/g, '');
  const loopback = addr === 'localhost' || /^127\./.test(addr) || addr === '::1';
  const warn = `Binding to IP address without --tlsverify is insecure and gives root access on this machine to everyone who has access to your network. host="${host}"`;
  if (loopback || forced) return { warn };
  return { refuse: `${warn}: without --tlsverify berthd listens on tcp:// only on a loopback address (pass --unsafe-tcp to force it)` };
}

function defaultRead(p: string): string | undefined {
  try { return fs.readFileSync(p, 'utf8'); } catch { return undefined; }
}
