import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import { SystemError } from '../errors.js';
import { bridgeSettings } from './bridge-options.js';
import type { Cidr } from './ip.js';
import type { IpTool } from './ip-tool.js';
import { v4Config, v6Config, type NetworkRecord } from './network-store.js';
import { parseIPv6, type Cidr6 } from './ip6.js';

/** What create names a user network's bridge: `berth-` + 9 hex of the network id. */
export const USER_BRIDGE_RE = /^berth-[0-9a-f]{9}$/;

export const bridgeExists = (dev: string): boolean => fs.existsSync(`/sys/class/net/${dev}`);
export const isBridge = (dev: string): boolean => fs.existsSync(`/sys/class/net/${dev}/bridge`);

/** A device's ifalias ('' when unset, undefined when there is no such device). */
export async function bridgeOwner(dev: string): Promise<string | undefined> {
  try { return (await fsp.readFile(`/sys/class/net/${dev}/ifalias`, 'utf8')).trim(); } catch { return undefined; }
}

/** Routes on the host (from /proc/net/route), so auto-picked subnets avoid the host's own networks. */
export async function hostRoutes(): Promise<Array<Cidr & { dev: string }>> {
  const t = await fsp.readFile('/proc/net/route', 'utf8').catch(() => '');
  const out: Array<Cidr & { dev: string }> = [];
  for (const line of t.split('\n').slice(1)) {
    const f = line.trim().split(/\s+/);
    if (f.length < 8 || f[1] === '00000000') continue;
    const le = (h: string) => Buffer.from(h, 'hex').readUInt32LE(0);
    const dst = le(f[1]!), msk = le(f[7]!);
    const prefix = msk.toString(2).split('').filter((x) => x === '1').length;
    out.push({ base: dst >>> 0, prefix, dev: f[0]! });
  }
  return out;
}

/** The host's IPv6 routes (from /proc/net/ipv6_route), so auto-picked IPv6 subnets avoid the host's own networks. */
export async function hostRoutes6(): Promise<Array<Cidr6 & { dev: string }>> {
  const t = await fsp.readFile('/proc/net/ipv6_route', 'utf8').catch(() => '');
  const out: Array<Cidr6 & { dev: string }> = [];
  for (const line of t.split('\n')) {
    const f = line.trim().split(/\s+/);
    if (f.length < 10) continue;
    const prefix = parseInt(f[1]!, 16);
    if (prefix === 0 || f[9] === 'lo') continue; // default and local routes are not networks
    const base = parseIPv6(f[0]!.match(/.{4}/g)!.join(':'));
    if (base !== undefined) out.push({ base, prefix, dev: f[9]! });
  }
  return out;
}

/**
 * The Linux bridge devices of bridge networks. `ownerTag` is written as the ifalias of every bridge made
 * here: the orphan sweep deletes only devices carrying exactly this tag, never another daemon's.
 */
export class Bridges {
  constructor(private readonly ip: IpTool, private readonly ownerTag: string) {}

  /** The bridge exists with its gateway address before any container joins (DNS listens there). */
  async ensure(n: NetworkRecord): Promise<void> {
    const dev = n.bridge!;
    const c = v4Config(n);
    const prefix = c.Subnet.split('/')[1];
    if (!bridgeExists(dev)) {
      await this.ip.exec({ op: 'add-bridge', dev }).catch((err: Error) => {
        if (!bridgeExists(dev)) throw new SystemError(`create bridge ${dev}: ${err.message}`);
      });
    }
    const addrs = await this.ip.exec({ op: 'show-addr', dev, family: 4 });
    if (!addrs.includes(` ${c.Gateway}/`)) await this.ip.exec({ op: 'add-addr', dev, cidr: `${c.Gateway}/${prefix}` });
    const c6 = v6Config(n);
    if (c6) {
      // A bridge made with IPv6 disabled (default.disable_ipv6=1) refuses the address; the gateway goes on
      // without DAD, so it is usable at once (the CNI plugin would otherwise add it tentative).
      await fsp.writeFile(`/proc/sys/net/ipv6/conf/${dev}/disable_ipv6`, '0');
      const addrs6 = await this.ip.exec({ op: 'show-addr', dev, family: 6 });
      if (!addrs6.includes(` ${c6.Gateway}/`)) await this.ip.exec({ op: 'add-addr', dev, cidr: `${c6.Gateway}/${c6.Subnet.split('/')[1]}`, nodad: true });
    }
    // The alias cannot be given to `ip link add` (ignored there), so it follows at once; an existing device
    // with a tag keeps it (the default bridge may be shared by daemons of one prefix).
    if (!n.bridgeExternal && (await bridgeOwner(dev)) === '') await this.ip.exec({ op: 'set-alias', dev, alias: this.ownerTag });
    await this.pinMac(dev);
    // Set once, the kernel keeps it (no auto-adjust to the ports' MTU); the veths get it from the CNI config.
    const { mtu } = bridgeSettings(n.Options);
    if (mtu) await this.ip.exec({ op: 'set-mtu', dev, mtu });
    await this.ip.exec({ op: 'up', dev });
    // 127.0.0.1:<published port> is DNATed into this bridge; the kernel drops such packets unless this is set.
    await fsp.writeFile(`/proc/sys/net/ipv4/conf/${dev}/route_localnet`, '1');
  }

  /**
   * A bridge whose MAC was never set takes the lowest MAC of its ports: each new veth may change it, and the
   * containers' ARP entries for the gateway then point at a MAC that is gone for seconds (DNS queries to the
   * embedded server time out). Setting it, even to its current value, pins it (as Docker does).
   * A bridge without ports reports 00:00:00:00:00:00: that one gets a random locally administered MAC.
   */
  private async pinMac(dev: string): Promise<void> {
    const assign = (await fsp.readFile(`/sys/class/net/${dev}/addr_assign_type`, 'utf8').catch(() => '3')).trim();
    const current = (await fsp.readFile(`/sys/class/net/${dev}/address`, 'utf8').catch(() => '')).trim();
    const usable = /^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/.test(current) && current !== '00:00:00:00:00:00';
    if (assign !== '3' || !usable) {
      const mac = usable ? current : ['02', ...randomBytes(5).toString('hex').match(/../g)!].join(':');
      await this.ip.exec({ op: 'set-mac', dev, mac });
    }
  }

  async remove(n: NetworkRecord): Promise<void> {
    if (!n.bridge || !bridgeExists(n.bridge)) return;
    if (!n.bridgeExternal) { await this.ip.exec({ op: 'del-link', dev: n.bridge }).catch(() => undefined); return; }
    // The user's bridge stays; only the gateway addresses berth gave it go.
    for (const c of [v4Config(n), v6Config(n)]) {
      if (c) await this.ip.exec({ op: 'del-addr', dev: n.bridge, cidr: `${c.Gateway}/${c.Subnet.split('/')[1]}` }).catch(() => undefined);
    }
  }

  /**
   * Bridges this instance made that no network claims (a crash inside `network create`). Other daemons'
   * bridges are named alike, so ownership is the ifalias tag, never the name alone.
   */
  async sweepOrphans(claimed: Set<string>): Promise<void> {
    for (const dev of await fsp.readdir('/sys/class/net').catch(() => [] as string[])) {
      if (USER_BRIDGE_RE.test(dev) && !claimed.has(dev) && (await bridgeOwner(dev)) === this.ownerTag) {
        await this.ip.exec({ op: 'del-link', dev }).catch(() => undefined);
      }
    }
  }
}
