/** Pure IPv6 helpers: addresses as 128-bit bigints, subnets as {base, prefix}, text as Go's net.IP.String (RFC 5952). */
import { parseIPv4 } from './ip.js';

export interface Cidr6 { base: bigint; prefix: number }

const ALL = (1n << 128n) - 1n;

/** `2001:db8::1`, `::ffff:1.2.3.4`; no zone, no brackets. */
export function parseIPv6(s: string): bigint | undefined {
  if (!s.includes(':') || s.includes('%')) return undefined;
  let text = s;
  const lastColon = text.lastIndexOf(':');
  if (text.slice(lastColon + 1).includes('.')) {
    // a dotted IPv4 tail is the last two groups
    const v4 = parseIPv4(text.slice(lastColon + 1));
    if (v4 === undefined) return undefined;
    text = `${text.slice(0, lastColon + 1)}${(v4 >>> 16).toString(16)}:${(v4 & 0xffff).toString(16)}`;
  }
  const halves = text.split('::');
  if (halves.length > 2) return undefined;
  const group = (h: string) => (h === '' ? [] : h.split(':'));
  const head = group(halves[0]!);
  const rest = halves.length === 2 ? group(halves[1]!) : [];
  if ([...head, ...rest].some((g) => !/^[0-9a-fA-F]{1,4}$/.test(g))) return undefined;
  let groups: number[];
  if (halves.length === 2) {
    const fill = 8 - head.length - rest.length;
    if (fill < 1) return undefined;
    groups = [...head.map((g) => parseInt(g, 16)), ...Array<number>(fill).fill(0), ...rest.map((g) => parseInt(g, 16))];
  } else {
    if (head.length !== 8) return undefined;
    groups = head.map((g) => parseInt(g, 16));
  }
  let v = 0n;
  for (const g of groups) v = (v << 16n) | BigInt(g);
  return v;
}

/** RFC 5952: lower case, leading zeros dropped, the longest run (2+) of zero groups as `::`. */
export function formatIPv6(v: bigint): string {
  const g: number[] = [];
  for (let i = 7; i >= 0; i--) g.push(Number((v >> BigInt(i * 16)) & 0xffffn));
  let best = -1, bestLen = 1;
  for (let i = 0; i < 8;) {
    if (g[i] !== 0) { i++; continue; }
    let j = i;
    while (j < 8 && g[j] === 0) j++;
    if (j - i > bestLen) { best = i; bestLen = j - i; }
    i = j;
  }
  const hex = g.map((x) => x.toString(16));
  if (best < 0) return hex.join(':');
  return `${hex.slice(0, best).join(':')}::${hex.slice(best + bestLen).join(':')}`;
}

export function mask6(prefix: number): bigint {
  return prefix === 0 ? 0n : (ALL << BigInt(128 - prefix)) & ALL;
}

/** `2001:db8::/64`; the base is normalised to the network address. */
export function parseCidr6(s: string): Cidr6 | undefined {
  const [ip, p, extra] = s.split('/');
  if (extra !== undefined || ip === undefined || p === undefined || !/^\d{1,3}$/.test(p)) return undefined;
  const prefix = Number(p);
  const v = parseIPv6(ip);
  if (v === undefined || prefix > 128) return undefined;
  return { base: v & mask6(prefix), prefix };
}

export function formatCidr6(c: Cidr6): string { return `${formatIPv6(c.base)}/${c.prefix}`; }

export function cidr6Contains(c: Cidr6, ip: bigint): boolean { return (ip & mask6(c.prefix)) === c.base; }

export function cidrs6Overlap(a: Cidr6, b: Cidr6): boolean { return cidr6Contains(a, b.base) || cidr6Contains(b, a.base); }

/** fe80::/10 */
export function isLinkLocal6(v: bigint): boolean { return v >> 118n === 0x3fan; }

export function lastAddress6(c: Cidr6): bigint { return c.base | (ALL ^ mask6(c.prefix)); }

/** The PTR name of an address: nibbles in reverse under ip6.arpa. */
export function reverseName6(v: bigint): string {
  return `${v.toString(16).padStart(32, '0').split('').reverse().join('.')}.ip6.arpa`;
}

/** `…ip6.arpa` (32 nibbles) → the address, else undefined. */
export function parseReverseName6(name: string): bigint | undefined {
  const m = /^((?:[0-9a-f]\.){32})ip6\.arpa$/i.exec(name);
  if (!m) return undefined;
  return BigInt(`0x${m[1]!.split('.').filter(Boolean).reverse().join('')}`);
}
