// The log drivers berthd serves: json-file, local and none (k8s-file, conmon's own name, is accepted
// as json-file). One interface per driver: Docker's log-opt checks (the keys it knows, the values and
// combinations its constructor refuses), the rotation limits, what conmon is told to write, and
// whether `docker logs` can read it. Every driver that writes keeps conmon's k8s-file format on
// disk: what a user sees of a driver is `docker logs` and a bounded disk use.
import { InvalidParameterError } from '../../errors.js';

export interface LogConfigValue { Type: string; Config: Record<string, string> }

/** Rotation: rotate at maxSize bytes (undefined: never), keep maxFile files, gzip the rotated ones. */
export interface LogLimits { maxSize?: number; maxFile: number; compress: boolean }

/** What conmon is told: its log driver and the size at which it cuts the file itself. */
export interface LogWriterOptions { logDriver: 'k8s-file' | 'none'; logSizeMax?: number }

export interface LogDriver {
  readonly name: string;
  /** whether `docker logs` / attach's log replay can read what it wrote */
  readonly readable: boolean;
  /** Docker's checks of this driver's log-opts (the keys it knows, values, combinations) */
  validate(opts: Record<string, string>): void;
  limits(opts: Record<string, string>): LogLimits;
  writer(opts: Record<string, string>): LogWriterOptions;
}

/** The options moby's logger package takes for every driver but none, before the driver's own. */
const BUILTIN_OPTS = new Set(['mode', 'max-buffer-size']);

const JSON_FILE_OPTS = new Set(['max-size', 'max-file', 'compress', 'labels', 'env', 'tag']);
const LOCAL_OPTS = new Set(['max-size', 'max-file', 'compress']);

/**
 * A writer's options for conmon. max-file 1: conmon's own cut (it empties the file at the limit) is
 * Docker's single-file rotation. max-file > 1: berthd rotates (rotation.ts); conmon's byte count does
 * not restart on a reopen, so its cut would empty a fresh file: not passed (while berthd is down the
 * file may grow).
 */
function fileWriter(l: LogLimits): LogWriterOptions {
  return { logDriver: 'k8s-file', logSizeMax: l.maxFile === 1 ? l.maxSize : undefined };
}

const jsonFile = (name: string): LogDriver => ({
  name,
  readable: true,
  validate(opts) {
    for (const k of Object.keys(opts)) {
      if (!JSON_FILE_OPTS.has(k) && !BUILTIN_OPTS.has(k)) throw new InvalidParameterError(`unknown log opt '${k}' for json-file log driver`);
    }
    const l = this.limits(opts);
    // moby's jsonfilelog.New: compressing needs rotated files. max-file without max-size is accepted
    // (one file, never rotated), as Docker does.
    if (l.compress && (l.maxFile === 1 || l.maxSize === undefined)) {
      throw new InvalidParameterError('compress cannot be true when max-file is less than 2 or max-size is not set');
    }
  },
  limits(opts) {
    const maxSize = parseSize(opts['max-size']);
    if (maxSize !== undefined && maxSize <= 0) throw new InvalidParameterError('max-size must be a positive number');
    return { maxSize, maxFile: parseMaxFile(opts['max-file'], 1), compress: parseCompress(opts.compress, false) };
  },
  writer(opts) { return fileWriter(this.limits(opts)); },
});

/** Docker's defaults for `local`: 20m x 5 files, compressed. */
const local: LogDriver = {
  name: 'local',
  readable: true,
  validate(opts) {
    for (const k of Object.keys(opts)) {
      if (!LOCAL_OPTS.has(k) && !BUILTIN_OPTS.has(k)) throw new InvalidParameterError(`unknown log opt '${k}' for log driver local`);
    }
    const l = this.limits(opts);
    if (l.compress && l.maxFile <= 1) throw new InvalidParameterError('compression cannot be enabled when max file count is 1');
  },
  limits(opts) {
    const maxSize = opts['max-size'] === undefined ? 20 * 1024 * 1024 : parseSize(opts['max-size']);
    return { maxSize, maxFile: parseMaxFile(opts['max-file'], 5), compress: parseCompress(opts.compress, true) };
  },
  writer(opts) { return fileWriter(this.limits(opts)); },
};

/** none: nothing is written; moby checks none of its options. */
const none: LogDriver = {
  name: 'none',
  readable: false,
  validate() { /* moby's ValidateLogOpts returns at once for none */ },
  limits() { return { maxSize: undefined, maxFile: 1, compress: false }; },
  writer() { return { logDriver: 'none' }; },
};

const DRIVERS = new Map<string, LogDriver>([['json-file', jsonFile('json-file')], ['k8s-file', jsonFile('k8s-file')], ['local', local], ['none', none]]);

/** The driver named `type`; an unknown name is Docker's "no log driver named". */
export function logDriver(type: string | undefined): LogDriver {
  const d = DRIVERS.get(type || 'json-file');
  if (!d) throw new InvalidParameterError(`logger: no log driver named '${type}' is registered`);
  return d;
}

/**
 * moby's mergeAndVerifyLogConfig: no driver → the daemon's; the daemon's log-opts fill in the keys a
 * container did not set, when it uses the daemon's driver.
 */
export function mergeLogConfig(lc: { Type?: string | null; Config?: Record<string, string> | null } | null | undefined, daemon: LogConfigValue): LogConfigValue {
  const type = lc?.Type || daemon.Type;
  const config: Record<string, string> = { ...(lc?.Config ?? {}) };
  if (type === daemon.Type) for (const [k, v] of Object.entries(daemon.Config)) if (!(k in config)) config[k] = v;
  return { Type: type, Config: config };
}

/** Docker's checks, at create (and for daemon.json at berthd's start): moby's ValidateLogOpts and the driver's own. */
export function validateLogConfig(lc: LogConfigValue): void {
  const driver = logDriver(lc.Type);
  for (const [k, v] of Object.entries(lc.Config)) {
    if (typeof v !== 'string') throw new InvalidParameterError(`log opt '${k}' must be a string`);
  }
  if (driver.name !== 'none') {
    const mode = lc.Config.mode ?? '';
    if (!['', 'blocking', 'non-blocking'].includes(mode)) throw new InvalidParameterError(`logger: logging mode not supported: ${mode}`);
    if (lc.Config['max-buffer-size'] !== undefined && mode !== 'non-blocking') {
      throw new InvalidParameterError("logger: max-buffer-size option is only supported with 'mode=non-blocking'");
    }
  }
  driver.validate(lc.Config);
}

/** A container's rotation limits (its LogConfig was checked at create). */
export function logLimits(hc: { LogConfig?: { Type?: string; Config?: Record<string, string> } }): LogLimits {
  return logDriver(hc.LogConfig?.Type).limits(hc.LogConfig?.Config ?? {});
}

/** What conmon is told to write for a container. */
export function logWriterOptions(hc: { LogConfig?: { Type?: string; Config?: Record<string, string> } }): LogWriterOptions {
  return logDriver(hc.LogConfig?.Type).writer(hc.LogConfig?.Config ?? {});
}

function parseMaxFile(v: string | undefined, dflt: number): number {
  const n = v === undefined || v === '' ? dflt : Number(v);
  if (!Number.isInteger(n) || n < 1) throw new InvalidParameterError(`invalid value for max-file: ${v}`);
  return n;
}

function parseCompress(v: string | undefined, dflt: boolean): boolean {
  if (v === undefined) return dflt;
  if (v !== 'true' && v !== 'false') throw new InvalidParameterError(`invalid value for compress: ${v}`);
  return v === 'true';
}

function parseSize(v: string | undefined): number | undefined {
  if (v === undefined || v === '' || v === '-1') return undefined;
  const m = /^(\d+(?:\.\d+)?)\s*([kmg]?)b?$/i.exec(v.trim());
  if (!m) throw new InvalidParameterError(`invalid value for log-opt max-size: ${v}`);
  const mult: Record<string, number> = { '': 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3 };
  return Math.floor(Number(m[1]) * mult[m[2]!.toLowerCase()]!);
}
