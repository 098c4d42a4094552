import { InvalidParameterError } from '../errors.js';
import { parseGoDurationMs } from './go-duration.js';

/** Docker's `filters` query value: {"key": ["v1","v2"]} (or the legacy {"key": {"v1": true}}). */
export type Filters = Map<string, string[]>;

export function parseFilters(raw: string | null | undefined, allowed?: readonly string[]): Filters {
  const out: Filters = new Map();
  if (!raw) return out;
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch {
    throw new InvalidParameterError(`invalid filter '${raw}'`);
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
    throw new InvalidParameterError(`invalid filter '${raw}'`);
  }
  for (const [k, v] of Object.entries(parsed as Record<string, unknown>)) {
    let values: string[];
    if (Array.isArray(v)) values = v.map(String);
    else if (v && typeof v === 'object') values = Object.entries(v as Record<string, unknown>).filter(([, b]) => b).map(([x]) => x);
    else throw new InvalidParameterError(`invalid filter '${raw}'`);
    if (allowed && !allowed.includes(k)) throw new InvalidParameterError(`invalid filter '${k}'`);
    out.set(k, values);
  }
  return out;
}

/** label filters: "key" (present) or "key=value" against a label map. All must match. */
export function matchLabels(filters: string[] | undefined, labels: Record<string, string> | undefined | null): boolean {
  if (!filters || filters.length === 0) return true;
  const l = labels ?? {};
  return filters.every((f) => {
    const i = f.indexOf('=');
    if (i < 0) return Object.prototype.hasOwnProperty.call(l, f);
    return l[f.slice(0, i)] === f.slice(i + 1);
  });
}

/** Docker's timestamp parameters: unix seconds (with optional fraction), RFC 3339, or a Go duration relative to now. */
export function parseTimestamp(value: string, now = Date.now()): number {
  const v = value.trim();
  if (/^-?\d+(\.\d+)?$/.test(v)) return Math.round(Number(v) * 1000);
  const dur = parseGoDuration(v);
  if (dur !== undefined) return now - dur;
  const t = Date.parse(v);
  if (Number.isNaN(t)) throw new InvalidParameterError(`failed to parse value as time or duration: "${value}"`);
  return t;
}

/** Go duration ("1h2m3.5s", "300ms", "-1.5h") in milliseconds; undefined when not a duration. */
export function parseGoDuration(v: string): number | undefined {
  return parseGoDurationMs(v.trim());
}

/** A true/false filter (`dangling=true`): several values OR together; anything else is moby's invalid filter. */
export function boolFilter(f: Filters, key: string): boolean | undefined {
  const vals = f.get(key);
  if (!vals || vals.length === 0) return undefined;
  let out: boolean | undefined;
  for (const v of vals) {
    const s = v.toLowerCase();
    let b: boolean;
    if (s === 'true' || s === '1') b = true;
    else if (s === 'false' || s === '0') b = false;
    else throw new InvalidParameterError(`invalid filter '${key}=${v}'`);
    out = out === undefined ? b : out || b;
  }
  return out;
}
