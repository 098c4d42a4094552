/** Pure IPv4 helpers: addresses as unsigned 32-bit numbers, subnets as {base, prefix}. */

export interface Cidr { base: number; prefix: number }

export function parseIPv4(s: string): number | undefined {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(s.trim());
  if (!m) return undefined;
  const parts = m.slice(1).map(Number);
  if (parts.some((p) => p > 255)) return undefined;
  return ((parts[0]! << 24) >>> 0) + (parts[1]! << 16) + (parts[2]! << 8) + parts[3]!;
}

export function formatIPv4(n: number): string {
  return [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join('.');
}

export function mask(prefix: number): number {
  return prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0;
}

/** Parses `a.b.c.d/nn`; the base is normalised to the network address (as Docker does for --subnet). */
export function parseCidr(s: string): Cidr | undefined {
  const [ip, p, extra] = s.split('/');
  if (extra !== undefined || ip === undefined || p === undefined || !/^\d{1,2}$/.test(p)) return undefined;
  const prefix = Number(p);
  const addr = parseIPv4(ip);
  if (addr === undefined || prefix > 32) return undefined;
  return { base: (addr & mask(prefix)) >>> 0, prefix };
}

export function formatCidr(c: Cidr): string { return `${formatIPv4(c.base)}/${c.prefix}`; }

export function lastAddress(c: Cidr): number { return (c.base | (~mask(c.prefix) >>> 0)) >>> 0; }

export function cidrContains(c: Cidr, ip: number): boolean {
  return ((ip & mask(c.prefix)) >>> 0) === c.base;
}

export function cidrsOverlap(a: Cidr, b: Cidr): boolean {
  return cidrContains(a, b.base) || cidrContains(b, a.base);
}

/** Docker-style MAC from the IPv4 address: 02:42 then the 4 address bytes (locally administered, stable). */
export function macFromIPv4(ip: number): string {
  const b = [0x02, 0x42, ip >>> 24, (ip >>> 16) & 255, (ip >>> 8) & 255, ip & 255];
  return b.map((x) => x.toString(16).padStart(2, '0')).join(':');
}
