/**
 * Go's time formatting, for the places where the docker CLI prints a time.Time and the daemon writes one:
 * Time.String(), RFC3339, RFC3339Nano (trailing zeros trimmed) and the CLI's RFC3339NanoFixed. One
 * implementation, so the four layouts agree on zones and fractions.
 */

/** An instant with the zone it is shown in, as a Go time.Time carries its Location. */
export interface GoTime {
  /** nanoseconds since the epoch */
  ns: bigint;
  /** the zone's offset east of UTC, in minutes */
  offsetMin: number;
  /** the zone's abbreviation; '' for an unnamed zone, which Go prints as -0700 */
  zone: string;
}

export type GoLayout = 'String' | 'RFC3339' | 'RFC3339Nano' | 'RFC3339NanoFixed';

const NS_PER_S = 1_000_000_000n;

export function utcGoTime(ns: bigint): GoTime {
  return { ns, offsetMin: 0, zone: 'UTC' };
}

/** The instant in the local zone (TZ), as Go's time.Local shows it. */
export function localGoTime(ns: bigint): GoTime {
  const d = new Date(Number(floorDiv(ns, 1_000_000n)));
  const offsetMin = -d.getTimezoneOffset() || 0; // never -0
  return { ns, offsetMin, zone: localAbbrev(d, offsetMin) };
}

/** Unix seconds (the Engine API's `Created` numbers) in the local zone. */
export function localGoTimeFromUnix(seconds: number): GoTime {
  return localGoTime(BigInt(Math.trunc(seconds)) * NS_PER_S);
}

/**
 * An RFC 3339 text as Go's time.Parse(RFC3339, s) gives it back: Z is UTC; an offset is the local zone when
 * the local zone has that offset at that instant, else an unnamed zone. Undefined when it does not parse.
 */
export function parseRfc3339(s: string): GoTime | undefined {
  const m = /^(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?([Zz]|([+-])(\d{2}):(\d{2}))$/.exec(s);
  if (!m) return undefined;
  const wallMs = Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3]), Number(m[4]), Number(m[5]), Number(m[6]));
  if (Number.isNaN(wallMs)) return undefined;
  const frac = BigInt((m[7] ?? '').padEnd(9, '0') || '0');
  const utc = m[8] === 'Z' || m[8] === 'z';
  const offsetMin = utc ? 0 : (m[9] === '-' ? -1 : 1) * (Number(m[10]) * 60 + Number(m[11]));
  const ns = (BigInt(wallMs) - BigInt(offsetMin) * 60_000n) * 1_000_000n + frac;
  if (utc) return utcGoTime(ns);
  const local = localGoTime(ns);
  return local.offsetMin === offsetMin ? local : { ns, offsetMin, zone: '' };
}

export function formatGoTime(t: GoTime, layout: GoLayout): string {
  const nanos = floorMod(t.ns, NS_PER_S);
  const seconds = floorDiv(t.ns, NS_PER_S);
  const wall = new Date(Number(seconds) * 1000 + t.offsetMin * 60_000);
  const date = `${pad(wall.getUTCFullYear(), 4)}-${pad(wall.getUTCMonth() + 1)}-${pad(wall.getUTCDate())}`;
  const clock = `${pad(wall.getUTCHours())}:${pad(wall.getUTCMinutes())}:${pad(wall.getUTCSeconds())}`;
  const fixed = nanos.toString().padStart(9, '0');
  const trimmed = fixed.replace(/0+$/, '');
  const frac9 = trimmed ? `.${trimmed}` : '';
  switch (layout) {
    // "2006-01-02 15:04:05.999999999 -0700 MST"
    case 'String': return `${date} ${clock}${frac9} ${numericZone(t.offsetMin, '')} ${t.zone || numericZone(t.offsetMin, '')}`;
    // "2006-01-02T15:04:05Z07:00"
    case 'RFC3339': return `${date}T${clock}${isoZone(t.offsetMin)}`;
    case 'RFC3339Nano': return `${date}T${clock}${frac9}${isoZone(t.offsetMin)}`;
    case 'RFC3339NanoFixed': return `${date}T${clock}.${fixed}${isoZone(t.offsetMin)}`;
  }
}

/** -0700 (sep '') or -07:00 (sep ':'). */
function numericZone(offsetMin: number, sep: string): string {
  const abs = Math.abs(offsetMin);
  return `${offsetMin < 0 ? '-' : '+'}${pad(Math.floor(abs / 60))}${sep}${pad(abs % 60)}`;
}

/** Z07:00: Z for a zero offset whatever the zone's name. */
function isoZone(offsetMin: number): string {
  return offsetMin === 0 ? 'Z' : numericZone(offsetMin, ':');
}

/**
 * The local zone's abbreviation as Intl knows it ('' when it only knows "GMT+5:30": Go would print the
 * tzdata abbreviation, which needs a file read core/ does not do, so the numeric form stands in).
 */
function localAbbrev(d: Date, offsetMin: number): string {
  try {
    const v = new Intl.DateTimeFormat('en-US', { timeZoneName: 'short' }).formatToParts(d).find((p) => p.type === 'timeZoneName')?.value;
    if (!v || /^GMT[+-]/.test(v)) return '';
    return v === 'GMT' && offsetMin === 0 ? 'UTC' : v;
  } catch {
    return '';
  }
}

function pad(n: number, w = 2): string {
  return String(n).padStart(w, '0');
}

function floorDiv(a: bigint, b: bigint): bigint {
  const q = a / b;
  return a % b < 0n ? q - 1n : q;
}

function floorMod(a: bigint, b: bigint): bigint {
  return ((a % b) + b) % b;
}
