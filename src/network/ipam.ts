import { ForbiddenError, InvalidParameterError } from '../errors.js';
import { bridgeSettings } from './bridge-options.js';
import { formatIPv6, isLinkLocal6, parseIPv6 } from './ip6.js';
import { bridgeConfig } from './cni.js';
import { cidrContains, cidrsOverlap, formatCidr, formatIPv4, lastAddress, parseCidr, parseIPv4, type Cidr } from './ip.js';
import type { IpamConfigEntry, NetworkRecord } from './network-store.js';

/**
 * Address management of bridge networks, pure: subnets picked from pools, a create request's IPAM config
 * checked and normalised, static addresses checked, the CNI config (bridge + host-local) built.
 */

export interface IpamRequestConfig { Subnet?: string; IPRange?: string; Gateway?: string }

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
  return { Subnet: formatCidr(subnet), Gateway: formatIPv4(gateway), ...(range ? { IPRange: range } : {}) };
}

/** Docker's static-address rules for `--ip` (create, connect, start). */
export function checkStaticIp(n: NetworkRecord, ip?: string, ip6?: string): void {
  if (ip6) {
    // --ip6 / IPAMConfig.IPv6Address: berth's networks have no IPv6 subnet (EnableIPv6 is refused), so no v6
    // address can be honoured; refused in moby's words instead of dropped.
    if (n.predefined) throw new InvalidParameterError('user specified IP address is supported on user defined networks only');
    if (parseIPv6(ip6) === undefined) throw new InvalidParameterError(`invalid IPv6 address: ${ip6}`);
    throw new InvalidParameterError(`no configured subnet or ip-range contain the IP address ${ip6}`);
  }
  if (!ip) return;
  if (n.predefined) throw new InvalidParameterError('user specified IP address is supported on user defined networks only');
  const v = parseIPv4(ip);
  if (v === undefined) throw new InvalidParameterError(`invalid IPv4 address: ${ip}`);
  if (!cidrContains(parseCidr(n.IPAM.Config[0]!.Subnet)!, v)) {
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

/** The CNI config of a bridge network; `staticIp`: the ADD asks for an address (it may lie outside --ip-range). */
export function cniConfigFor(n: NetworkRecord, ipamDataDir: string, staticIp = false): Record<string, unknown> {
  const c = n.IPAM.Config[0]!;
  const subnet = parseCidr(c.Subnet)!;
  let rangeStart: string | undefined, rangeEnd: string | undefined;
  if (c.IPRange && !staticIp) {
    // A static --ip may lie outside --ip-range (Docker allows it): then the whole subnet is the range.
    const r = parseCidr(c.IPRange)!;
    rangeStart = formatIPv4(Math.max(r.base, subnet.base + 1));
    rangeEnd = formatIPv4(Math.min(lastAddress(r), lastAddress(subnet) - 1));
  }
  const { mtu } = bridgeSettings(n.Options);
  return bridgeConfig({
    name: n.Id, bridge: n.bridge!, subnet: c.Subnet, gateway: c.Gateway, rangeStart, rangeEnd,
    ipamDataDir, defaultRoute: !n.Internal, ...(mtu ? { mtu } : {}),
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
