/**
 * Go's time.ParseDuration, the one copy: a signed sequence of decimal numbers, each with an optional
 * fraction and a unit ("300ms", "-1.5h", "2h45m", ".5s"); units ns, us, µs (U+00B5 or U+03BC), ms, s, m, h.
 * "0" alone needs no unit. Returns nanoseconds, or undefined when Go would refuse the text (including
 * overflow past int64).
 */
const UNIT_NS: Record<string, number> = { ns: 1, us: 1e3, 'µs': 1e3, 'μs': 1e3, ms: 1e6, s: 1e9, m: 60e9, h: 3600e9 };
const MAX_NS = 2 ** 63 - 1;

export function parseGoDurationNs(s: string): number | undefined {
  let i = 0;
  let neg = false;
  if (s[0] === '-' || s[0] === '+') { neg = s[0] === '-'; i = 1; }
  if (s.slice(i) === '0') return 0;
  if (i === s.length) return undefined;
  let total = 0;
  while (i < s.length) {
    const num = /^(\d*)(?:\.(\d*))?/.exec(s.slice(i))!;
    const [whole, int = '', frac] = num;
    if (int === '' && (frac === undefined || frac === '')) return undefined; // "." or a unit with no number
    i += whole.length;
    const unit = /^[^\d.]+/.exec(s.slice(i))?.[0];
    if (unit === undefined) return undefined; // Go: missing unit
    const mult = UNIT_NS[unit];
    if (mult === undefined) return undefined; // Go: unknown unit
    i += unit.length;
    total += Number(`${int || '0'}.${frac || '0'}`) * mult;
    if (total > MAX_NS) return undefined;
  }
  return neg ? -Math.round(total) : Math.round(total);
}

/** parseGoDurationNs in milliseconds (fractional below 1 ms). */
export function parseGoDurationMs(s: string): number | undefined {
  const ns = parseGoDurationNs(s);
  return ns === undefined ? undefined : ns / 1e6;
}
