import { createHash } from 'node:crypto';
import { ForbiddenError, InvalidParameterError } from '../errors.js';
import { bridgeSettings } from './bridge-options.js';
import { cidr6Contains, cidrs6Overlap, formatCidr6, formatIPv6, isLinkLocal6, lastAddress6, parseCidr6, parseIPv6, type Cidr6 } from './ip6.js';
import { bridgeConfig, type HostLocalRange } from './cni.js';
import { cidrContains, cidrsOverlap, formatCidr, formatIPv4, lastAddress, parseCidr, parseIPv4, type Cidr } from './ip.js';
import { v4Config, v6Config, type IpamConfigEntry, type NetworkRecord } from './network-store.js';

/**
 * Address management of bridge networks, pure: subnets picked from pools, a create request's IPAM config
 * checked and normalised, static addresses checked, the CNI config (bridge + host-local) built.
 */

export interface IpamRequestConfig { Subnet?: string; IPRange?: string; Gateway?: string; AuxiliaryAddresses?: Record<string, string> | null }

/**
 * --aux-address entries of one config (moby ValidateIPAM's checks and wording; the gateway cannot be one, as
 * libnetwork's reservation fails), normalised to the text host-local names its lease files by.
 */
function planAux(c: IpamRequestConfig, subnetText: string, gateway: string, family: 4 | 6,
  contains: (ip: string) => boolean | undefined, format: (ip: string) => string): Record<string, string> | undefined {
  const entries = Object.entries(c.AuxiliaryAddresses ?? {});
  if (!entries.length) return undefined;
  const out: Record<string, string> = {};
  for (const [name, ip] of entries) {
    const inside = contains(String(ip));
    const other = family === 4 ? parseIPv6(String(ip)) !== undefined : parseIPv4(String(ip)) !== undefined;
    const why = other ? `parent subnet is an IPv${family} block` : inside === undefined ? 'invalid address' : !inside ? `parent subnet ${subnetText} doesn't contain this address` : '';
    if (why) throw new InvalidParameterError(`invalid network config:\ninvalid auxiliary address ${name}: ${why}`);
    const norm = format(String(ip));
    if (norm === gateway || Object.values(out).includes(norm)) {
      throw new ForbiddenError(`failed to allocate secondary ip address (${name}:${ip}): Address already in use`);
    }
    out[name] = norm;
  }
  return out;
}

/** The first pool block that overlaps nothing in `used` (Docker: default-address-pools). */
export function pickSubnet(used: Cidr[], pools: Array<{ base: string; size: number }>): Cidr {
  for (const pool of pools) {
    const base = parseCidr(pool.base);
    if (!base) continue;
    const step = 2 ** (32 - pool.size);
    for (let a = base.base; a < lastAddress(base); a += step) {
      const c = { base: a >>> 0, prefix: pool.size };
      if (!used.some((u) => cidrsOverlap(u, c))) return c;
    }
  }
  throw new ForbiddenError('could not find an available, non-overlapping IPv4 address pool among the defaults to assign to the network');
}

/**
 * A create request's IPv4 config → the record's entry. `existing` are the subnets of other bridge networks;
 * `auto` picks a subnet when none is given.
 */
export async function planIpv4Config(c: IpamRequestConfig, existing: Cidr[], auto: () => Promise<Cidr>): Promise<IpamConfigEntry> {
  let subnet: Cidr;
  if (c.Subnet) {
    const s = parseCidr(c.Subnet);
    if (!s) throw new InvalidParameterError(`invalid subnet ${c.Subnet} : invalid CIDR address: ${c.Subnet}`);
    subnet = s;
    if (existing.some((o) => cidrsOverlap(o, subnet))) {
      throw new ForbiddenError('invalid pool request: Pool overlaps with other one on this address space');
    }
  } else {
    if (c.Gateway || c.IPRange) throw new InvalidParameterError('invalid network configuration: a gateway or ip-range requires a subnet');
    subnet = await auto();
  }
  if (subnet.prefix > 30) throw new InvalidParameterError(`subnet ${formatCidr(subnet)} is too small`);
  let gateway = subnet.base + 1;
  if (c.Gateway) {
    const g = parseIPv4(c.Gateway);
    if (g === undefined) throw new InvalidParameterError(`invalid gateway address ${c.Gateway}`);
    if (!cidrContains(subnet, g)) throw new ForbiddenError(`no matching subnet for gateway ${c.Gateway}`);
    gateway = g;
  }
  let range: string | undefined;
  if (c.IPRange) {
    const r = parseCidr(c.IPRange);
    if (!r) throw new InvalidParameterError(`invalid ip-range ${c.IPRange}`);
    if (!cidrContains(subnet, r.base) || r.prefix < subnet.prefix) throw new ForbiddenError(`no matching subnet for range ${c.IPRange}`);
    range = formatCidr(r);
  }
  const aux = planAux(c, formatCidr(subnet), formatIPv4(gateway), 4,
    (ip) => { const v = parseIPv4(ip); return v === undefined ? undefined : cidrContains(subnet, v); }, (ip) => formatIPv4(parseIPv4(ip)!));
  return { Subnet: formatCidr(subnet), Gateway: formatIPv4(gateway), ...(range ? { IPRange: range } : {}), ...(aux ? { AuxiliaryAddresses: aux } : {}) };
}

const isV6Entry = (c: IpamRequestConfig) => [c.Subnet, c.Gateway, c.IPRange].some((x) => x?.includes(':'));

/**
 * A create request's IPAM.Config split by family: one IPv4 entry (possibly empty: the subnet is picked) and,
 * with EnableIPv6, one IPv6 entry (empty: picked from the IPv6 pools). An IPv6 subnet without EnableIPv6 is
 * refused: older dockerd kept it in inspect and gave no container an IPv6 address (taken and ignored).
 */
export function ipamFamilies(cfgs: IpamRequestConfig[], enableIPv6: boolean): { v4: IpamRequestConfig; v6?: IpamRequestConfig } {
  const v6s = cfgs.filter(isV6Entry);
  const v4s = cfgs.filter((c) => !isV6Entry(c));
  if (v4s.length > 1) throw new InvalidParameterError('berth supports one IPv4 subnet per network');
  if (v6s.length > 1) throw new InvalidParameterError('berth supports one IPv6 subnet per network');
  if (v6s.length && !enableIPv6) {
    throw new InvalidParameterError(`invalid network config: IPv6 subnet ${v6s[0]!.Subnet || v6s[0]!.Gateway || v6s[0]!.IPRange} given but IPv6 is not enabled (--ipv6)`);
  }
  return { v4: v4s[0] ?? {}, ...(enableIPv6 ? { v6: v6s[0] ?? {} } : {}) };
}

/** A create request's IPv6 config → the record's entry (as planIpv4Config; the gateway defaults to the first address). */
export async function planIpv6Config(c: IpamRequestConfig, existing: Cidr6[], auto: () => Promise<Cidr6>): Promise<IpamConfigEntry> {
  let subnet: Cidr6;
  if (c.Subnet) {
    const s = parseCidr6(c.Subnet);
    if (!s) throw new InvalidParameterError(`invalid subnet ${c.Subnet} : invalid CIDR address: ${c.Subnet}`);
    subnet = s;
    if (existing.some((o) => cidrs6Overlap(o, subnet))) {
      throw new ForbiddenError('invalid pool request: Pool overlaps with other one on this address space');
    }
  } else {
    if (c.Gateway || c.IPRange) throw new InvalidParameterError('invalid network config: a gateway or ip-range requires a subnet');
    subnet = await auto();
  }
  if (subnet.prefix > 126) throw new InvalidParameterError(`subnet ${formatCidr6(subnet)} is too small`);
  let gateway = subnet.base + 1n;
  if (c.Gateway) {
    const g = parseIPv6(c.Gateway);
    if (g === undefined) throw new InvalidParameterError(`invalid gateway address ${c.Gateway}`);
    if (!cidr6Contains(subnet, g)) throw new ForbiddenError(`no matching subnet for gateway ${c.Gateway}`);
    gateway = g;
  }
  let range: string | undefined;
  if (c.IPRange) {
    const r = parseCidr6(c.IPRange);
    if (!r) throw new InvalidParameterError(`invalid ip-range ${c.IPRange}`);
    if (!cidr6Contains(subnet, r.base) || r.prefix < subnet.prefix) throw new ForbiddenError(`no matching subnet for range ${c.IPRange}`);
    range = formatCidr6(r);
  }
  const aux = planAux(c, formatCidr6(subnet), formatIPv6(gateway), 6,
    (ip) => { const v = parseIPv6(ip); return v === undefined ? undefined : cidr6Contains(subnet, v); }, (ip) => formatIPv6(parseIPv6(ip)!));
  return { Subnet: formatCidr6(subnet), Gateway: formatIPv6(gateway), ...(range ? { IPRange: range } : {}), ...(aux ? { AuxiliaryAddresses: aux } : {}) };
}

/** The first block of the IPv6 pools that overlaps nothing in `used`. */
export function pickSubnet6(used: Cidr6[], pools: Array<{ base: string; size: number }>): Cidr6 {
  for (const pool of pools) {
    const base = parseCidr6(pool.base);
    if (!base || pool.size < base.prefix || pool.size > 128) continue;
    const step = 1n << BigInt(128 - pool.size);
    const end = lastAddress6(base);
    // a /48 pool holds 65536 /64s: the walk skips blocks inside a used subnet in one step
    for (let a = base.base; a <= end;) {
      const c = { base: a, prefix: pool.size };
      const hit = used.find((u) => cidrs6Overlap(u, c));
      if (!hit) return c;
      a = hit.prefix < pool.size ? lastAddress6(hit) + 1n : a + step;
    }
  }
  throw new ForbiddenError('could not find an available, non-overlapping IPv6 address pool among the defaults to assign to the network');
}

/**
 * moby's deriveULABaseNetwork: a ULA /48 (fd00::/8 plus a 40-bit Global ID from sha256 of a stable id), split into
 * /64s. dockerd seeds it with its engine id; berth with its owner tag (bridge prefix and data root), stable per
 * instance and different between instances on one host.
 */
export function ulaPool(seed: string): { base: string; size: number } {
  const sha = createHash('sha256').update(seed).digest();
  const gid = sha.readBigUInt64BE(0) & ((1n << 40n) - 1n);
  return { base: formatCidr6({ base: (0xfdn << 120n) | (gid << 80n), prefix: 48 }), size: 64 };
}

/** daemon.json default-address-pools: each base a CIDR of either family, each size between its prefix and the family's width. */
export function checkPools(pools: Array<{ base: string; size: number }>): void {
  for (const p of pools) {
    const c = typeof p?.base === 'string' ? parseCidr(p.base) ?? parseCidr6(p.base) : undefined;
    if (!c) throw new InvalidParameterError(`default-address-pools: invalid base pool ${JSON.stringify(p?.base)}`);
    const width = p.base.includes(':') ? 128 : 32;
    if (!Number.isInteger(p.size) || p.size < c.prefix || p.size > width) {
      throw new InvalidParameterError(`default-address-pools: size ${JSON.stringify(p.size)} of ${p.base} must be between /${c.prefix} and /${width}`);
    }
  }
}

/** The IPv6 pools for auto-picked subnets: daemon.json's IPv6 default-address-pools, else the instance's ULA /48 (as moby). */
export function ipv6Pools(pools: Array<{ base: string; size: number }>, seed: string): Array<{ base: string; size: number }> {
  const v6 = pools.filter((p) => p.base.includes(':'));
  return v6.length ? v6 : [ulaPool(seed)];
}

/** Docker's static-address rules for `--ip` and `--ip6` (create, connect, start). */
export function checkStaticIp(n: NetworkRecord, ip?: string, ip6?: string): void {
  if ((ip || ip6) && n.predefined) throw new InvalidParameterError('user specified IP address is supported on user defined networks only');
  if (ip6) {
    const v = parseIPv6(ip6);
    if (v === undefined) throw new InvalidParameterError(`invalid IPv6 address: ${ip6}`);
    const c6 = v6Config(n);
    // a network without IPv6 has no subnet that could contain it: moby's words for both cases
    if (!c6 || !cidr6Contains(parseCidr6(c6.Subnet)!, v)) throw new InvalidParameterError(`no configured subnet or ip-range contain the IP address ${ip6}`);
  }
  if (!ip) return;
  const v = parseIPv4(ip);
  if (v === undefined) throw new InvalidParameterError(`invalid IPv4 address: ${ip}`);
  if (!cidrContains(parseCidr(v4Config(n).Subnet)!, v)) {
    throw new InvalidParameterError(`no configured subnet or ip-range contain the IP address ${ip}`);
  }
}

/** Create-time check of IPAMConfig.LinkLocalIPs (moby EndpointIPAMConfig.Validate): each must be an address. */
export function checkLinkLocalSyntax(ips: string[] | undefined): void {
  for (const ip of ips ?? []) {
    const v4 = parseIPv4(ip);
    const v6 = parseIPv6(ip);
    if ((v4 === undefined && v6 === undefined) || v4 === 0 || v6 === 0n) {
      throw new InvalidParameterError(`invalid endpoint settings:\ninvalid link-local IP address: ${ip}`);
    }
  }
}

/**
 * Start-time (moby CreateEndpoint): each link-local address must be link-local unicast (169.254.0.0/16, fe80::/10);
 * the interface gets it with libnetwork's masks, /16 and /64.
 */
export function linkLocalCidrs(ips: string[] | undefined): string[] {
  return (ips ?? []).map((ip) => {
    const v4 = parseIPv4(ip);
    if (v4 !== undefined && v4 >>> 16 === 0xa9fe) return `${ip}/16`;
    const v6 = parseIPv6(ip);
    if (v6 !== undefined && isLinkLocal6(v6)) return `${formatIPv6(v6)}/64`;
    throw new InvalidParameterError(`invalid link local IP address: ${ip}`);
  });
}

/**
 * The CNI config of a bridge network: one host-local range set per family. `statics`: the addresses the ADD
 * asks for (--ip, --ip6); a static address may lie outside --ip-range (Docker allows it), so that family's
 * range is then the whole subnet.
 */
export function cniConfigFor(n: NetworkRecord, ipamDataDir: string, statics: { ip4?: string; ip6?: string } = {}): Record<string, unknown> {
  const c = v4Config(n);
  const subnet = parseCidr(c.Subnet)!;
  let rangeStart: string | undefined, rangeEnd: string | undefined;
  if (c.IPRange && !statics.ip4) {
    const r = parseCidr(c.IPRange)!;
    rangeStart = formatIPv4(Math.max(r.base, subnet.base + 1));
    rangeEnd = formatIPv4(Math.min(lastAddress(r), lastAddress(subnet) - 1));
  }
  let range6: HostLocalRange | undefined;
  const c6 = v6Config(n);
  if (c6) {
    range6 = { subnet: c6.Subnet, gateway: c6.Gateway };
    if (c6.IPRange && !statics.ip6) {
      const s6 = parseCidr6(c6.Subnet)!, r6 = parseCidr6(c6.IPRange)!;
      range6.rangeStart = formatIPv6(r6.base > s6.base ? r6.base : s6.base + 1n);
      range6.rangeEnd = formatIPv6(lastAddress6(r6));
    }
  }
  const ips = [statics.ip4, statics.ip6].filter((x): x is string => !!x);
  const { mtu } = bridgeSettings(n.Options);
  return bridgeConfig({
    name: n.Id, bridge: n.bridge!, subnet: c.Subnet, gateway: c.Gateway, rangeStart, rangeEnd,
    ipamDataDir, defaultRoute: !n.Internal, ...(mtu ? { mtu } : {}), ...(range6 ? { range6 } : {}), ...(ips.length ? { ips } : {}),
  });
}

/** `--bip` → the default bridge's subnet and gateway (the address must be a host address of its subnet). */
export function parseBip(bip: string): { cidr: Cidr; gateway: number } {
  const gw = parseIPv4(bip.split('/')[0] ?? '');
  const cidr = parseCidr(bip);
  if (gw === undefined || !cidr) throw new InvalidParameterError(`invalid bip: ${bip}`);
  if (!cidrContains(cidr, gw) || gw === cidr.base || gw === lastAddress(cidr)) {
    throw new InvalidParameterError(`invalid bip: ${bip}: the address must be a host address of its subnet`);
  }
  return { cidr, gateway: gw };
}
