/**
 * Human-readable durations and sizes as docker prints them (the rules of docker/go-units:
 * HumanDuration, HumanSize, BytesSize, RAMInBytes, FromHumanSize), plus the container status line
 * the daemon reports in `GET /containers/json` ("Up 3 seconds", "Exited (0) 2 minutes ago").
 */
import { formatG } from './go-template.js';

/** go-units HumanDuration: "Less than a second", "About a minute", "2 hours", "3 weeks". */
export function humanDuration(ms: number): string {
  const seconds = Math.trunc(ms / 1000);
  if (seconds < 1) return 'Less than a second';
  if (seconds === 1) return '1 second';
  if (seconds < 60) return `${seconds} seconds`;
  const minutes = Math.trunc(ms / 60000);
  if (minutes === 1) return 'About a minute';
  if (minutes < 60) return `${minutes} minutes`;
  const hoursF = ms / 3600000;
  const hours = Math.trunc(hoursF + 0.5);
  if (hours === 1) return 'About an hour';
  if (hours < 48) return `${hours} hours`;
  if (hours < 24 * 7 * 2) return `${Math.trunc(hours / 24)} days`;
  if (hours < 24 * 30 * 2) return `${Math.trunc(hours / 24 / 7)} weeks`;
  if (hours < 24 * 365 * 2) return `${Math.trunc(hours / 24 / 30)} months`;
  return `${Math.trunc(Math.trunc(hoursF) / 24 / 365)} years`;
}

/** "3 seconds ago" for a unix-seconds timestamp; `now` in ms. */
export function timeAgo(unixSeconds: number, now = Date.now()): string {
  return humanDuration(now - unixSeconds * 1000) + ' ago';
}

const DECIMAL_UNITS = ['B', 'kB', 'MB', 'GB', 'TB', 'PB', 'EB', 'ZB', 'YB'];
const BINARY_UNITS = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB', 'EiB', 'ZiB', 'YiB'];

function customSize(size: number, base: number, units: string[], precision: number): string {
  let i = 0;
  while (size >= base && i < units.length - 1) {
    size /= base;
    i++;
  }
  return formatG(size, precision) + units[i];
}

/** go-units HumanSizeWithPrecision: decimal units, `precision` significant digits ("1.23MB"). */
export function humanSizeWithPrecision(size: number, precision: number): string {
  return customSize(size, 1000, DECIMAL_UNITS, precision);
}

/** go-units HumanSize: 4 significant digits ("4.096kB"). */
export function humanSize(size: number): string {
  return humanSizeWithPrecision(size, 4);
}

/** go-units BytesSize: binary units, 4 significant digits ("64MiB"). */
export function bytesSize(size: number): string {
  return customSize(size, 1024, BINARY_UNITS, 4);
}

const SIZE_RE = /^(\d+(?:\.\d+)*) ?([kKmMgGtTpP])?[iI]?[bB]?$/;
const MULT: Record<string, number> = { k: 1, m: 2, g: 3, t: 4, p: 5 };

function parseSize(s: string, base: number): number {
  const m = SIZE_RE.exec(s);
  if (!m) throw new Error(`invalid size: '${s}'`);
  const n = Number(m[1]);
  if (Number.isNaN(n)) throw new Error(`invalid size: '${s}'`);
  const unit = m[2] ? MULT[m[2].toLowerCase()]! : 0;
  return Math.trunc(n * base ** unit);
}

/** go-units RAMInBytes: binary multipliers, "64m" = 67108864. Throws "invalid size: 'x'". */
export function ramInBytes(s: string): number {
  return parseSize(s, 1024);
}

/** go-units FromHumanSize: decimal multipliers, "1k" = 1000. */
export function fromHumanSize(s: string): number {
  return parseSize(s, 1000);
}

export interface StatusInput {
  status: string; // created | running | paused | restarting | removing | exited | dead
  startedAt?: string;
  finishedAt?: string;
  exitCode?: number;
  health?: string; // starting | healthy | unhealthy
}

const ZERO_TIME = '0001-01-01T00:00:00Z';

function parseTime(t: string | undefined): number | null {
  if (!t || t.startsWith('0001-01-01')) return null;
  const v = Date.parse(t);
  return Number.isNaN(v) ? null : v;
}

/** The daemon's State.String() for `GET /containers/json` Status ("Up 2 minutes (healthy)"). */
export function containerStatus(s: StatusInput, now = Date.now()): string {
  const started = parseTime(s.startedAt);
  const finished = parseTime(s.finishedAt);
  switch (s.status) {
    case 'running':
    case 'paused': {
      const up = `Up ${humanDuration(now - (started ?? now))}`;
      if (s.status === 'paused') return `${up} (Paused)`;
      if (s.health && s.health !== 'none') return `${up} (${s.health === 'starting' ? 'health: starting' : s.health})`;
      return up;
    }
    case 'restarting':
      return `Restarting (${s.exitCode ?? 0}) ${humanDuration(now - (finished ?? now))} ago`;
    case 'removing':
      return 'Removal In Progress';
    case 'dead':
      return 'Dead';
    case 'created':
      return 'Created';
    case 'exited':
      if (finished === null) return 'Created';
      return `Exited (${s.exitCode ?? 0}) ${humanDuration(now - finished)} ago`;
    default:
      return s.status;
  }
}
export { ZERO_TIME };
