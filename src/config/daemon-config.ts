import fs from 'node:fs';
import { InvalidParameterError } from '../errors.js';

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
}

export const DEFAULTS: DaemonConfig = {
  hosts: ['unix:///run/berth/berth.sock'],
  dataRoot: '/var/lib/berth',
  execRoot: '/run/berth',
  pidfile: '/run/berth/berthd.pid',
  logLevel: 'info',
  configFile: '/etc/berth/daemon.json',
};

/** daemon.json keys berth understands now, mapped to config fields. Unknown keys are rejected. */
const FILE_KEYS: Record<string, keyof DaemonConfig | null> = {
  'hosts': 'hosts', 'data-root': 'dataRoot', 'exec-root': 'execRoot', 'pidfile': 'pidfile', 'log-level': 'logLevel',
  'bridge': 'bridge', 'bip': 'bip', 'default-address-pools': 'pools', 'detach-keys': 'detachKeys',
  // Accepted and not yet acted on; they arrive with later features.
  'log-driver': 'logDriver', 'log-opts': 'logOpts', 'group': 'group',
  'live-restore': null, 'debug': null,
  'dns': null, 'insecure-registries': null, 'registry-mirrors': null, 'default-ulimits': null, 'runtimes': null,
  'storage-driver': null, 'features': null, 'experimental': null,
};

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
}

const FLAG_TO_FILE: Record<string, string> = { host: 'hosts', 'data-root': 'data-root', 'exec-root': 'exec-root', pidfile: 'pidfile', 'log-level': 'log-level', bridge: 'bridge', bip: 'bip', group: 'group' };

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
  const unknown = Object.keys(file).filter((k) => !(k in FILE_KEYS));
  if (unknown.length) throw new InvalidParameterError(`the following directives don't match any configuration option: ${unknown.join(', ')}`);
  const cfg: DaemonConfig = { ...DEFAULTS, configFile };
  for (const [k, field] of Object.entries(FILE_KEYS)) {
    if (field && k in file) (cfg as unknown as Record<string, unknown>)[field] = file[k];
  }
  if (flags.host && flags.host.length) cfg.hosts = flags.host;
  if (flags['data-root']) cfg.dataRoot = flags['data-root'];
  if (flags['exec-root']) cfg.execRoot = flags['exec-root'];
  if (flags.pidfile) cfg.pidfile = flags.pidfile;
  else if (flags['exec-root'] && !('pidfile' in file)) cfg.pidfile = `${cfg.execRoot}/berthd.pid`;
  if (flags['log-level']) cfg.logLevel = flags['log-level'] as DaemonConfig['logLevel'];
  if (flags.debug) cfg.logLevel = 'debug';
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

function defaultRead(p: string): string | undefined {
  try { return fs.readFileSync(p, 'utf8'); } catch { return undefined; }
}
