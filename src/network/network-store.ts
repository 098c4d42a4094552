import fsp from 'node:fs/promises';
import path from 'node:path';
import type { Paths } from '../store/paths.js';
import { readJson, writeFileAtomic } from '../store/meta/atomic.js';
import type { PortMapping, PublishRequest } from './ports.js';

/**
 * Where networking state lives (built on Paths; Paths stays the root of every path):
 *
 * <data-root>/networks/<id>.json            network record (crash-safe: temp + fsync + rename)
 * <data-root>/networks/containers/<id>.json  a container's attachment: the networks it wants (kept while the
 *                                            container exists) and, while it runs, its sandbox (netns path,
 *                                            endpoints with addresses, published ports)
 * <data-root>/networks/ipam/<network-id>/    host-local's lease files (one file per address, naming the container)
 * <exec-root>/netns/<container-id>           the container's network namespace (nsfs bind mount)
 */
export class NetworkPaths {
  constructor(readonly paths: Paths) {}
  get dir(): string { return path.join(this.paths.dataRoot, 'networks'); }
  record(id: string): string { return path.join(this.dir, `${id}.json`); }
  get attachmentsDir(): string { return path.join(this.dir, 'containers'); }
  attachment(containerId: string): string { return path.join(this.attachmentsDir, `${containerId}.json`); }
  get ipamDir(): string { return path.join(this.dir, 'ipam'); }
  ipamNetworkDir(networkId: string): string { return path.join(this.ipamDir, networkId); }
  get netnsDir(): string { return path.join(this.paths.execRoot, 'netns'); }
}

export interface IpamConfigEntry {
  Subnet: string; Gateway: string; IPRange?: string;
  /** --aux-address: name → address, never handed to a container (reserved as host-local leases) */
  AuxiliaryAddresses?: Record<string, string>;
}

/** The addresses a network's --aux-address entries hold back from allocation (both families). */
export function auxAddresses(n: NetworkRecord): string[] {
  return n.IPAM.Config.flatMap((c) => Object.values(c.AuxiliaryAddresses ?? {}));
}

/** host-local's lease content for an --aux-address: not a container id, so no container's DEL releases it. */
export const AUX_LEASE_OWNER = 'berth-aux-address';

/** A bridge network's IPv4 entry (every bridge network has one; it comes first in IPAM.Config). */
export function v4Config(n: NetworkRecord): IpamConfigEntry { return n.IPAM.Config.find((c) => !c.Subnet.includes(':'))!; }

/** A dual-stack network's IPv6 entry (EnableIPv6 and an IPv6 subnet), else undefined. */
export function v6Config(n: NetworkRecord): IpamConfigEntry | undefined {
  return n.EnableIPv6 ? n.IPAM.Config.find((c) => c.Subnet.includes(':')) : undefined;
}

export interface NetworkRecord {
  Id: string;
  Name: string;
  Created: string;
  Driver: 'bridge' | 'host' | 'null';
  Internal: boolean;
  Attachable: boolean;
  EnableIPv6: boolean;
  IPAM: { Driver: string; Options: Record<string, string> | null; Config: IpamConfigEntry[] };
  Options: Record<string, string>;
  Labels: Record<string, string>;
  /** The Linux bridge device (bridge driver only). */
  bridge?: string;
  /** The bridge existed before the network (the user's, named with bridge.name): used, never deleted. */
  bridgeExternal?: boolean;
  /** bridge, host, none: created by berth, cannot be removed. */
  predefined?: boolean;
}

export interface EndpointConfig {
  aliases: string[]; ipv4Address?: string; /** --ip6: on a dual-stack network */ ipv6Address?: string; /** asked for; the plugin sets it */ macAddress?: string;
  /** IPAMConfig.LinkLocalIPs: added to the interface after the CNI ADD */
  linkLocalIps?: string[];
  /** EndpointSettings.Links (`name:alias`): on a user-defined network, aliases only this container resolves */
  links?: string[];
}

/** A legacy link of a container on the default bridge: the child's bridge address goes into its hosts file. */
export interface HostsLink { containerId: string; names: string }

export interface EndpointState {
  endpointId: string;
  ifname: string;
  ip: string;
  prefixLen: number;
  gateway: string;
  /** the IPv6 address, prefix length and gateway on a dual-stack network */
  ip6?: string;
  prefixLen6?: number;
  gateway6?: string;
  mac: string;
  dnsNames: string[];
}

export interface SandboxState {
  sandboxId: string;
  netnsPath: string;
  /** 'setting-up' until every endpoint is in place: a crash before 'ready' is undone by reconcile. */
  phase: 'setting-up' | 'ready';
  endpoints: Record<string, EndpointState>;
  ports: PortMapping[];
}

export interface AttachmentRecord {
  containerId: string;
  name: string;
  /** network id → config, in attach order (eth0, eth1, ...) */
  networks: Array<{ networkId: string } & EndpointConfig>;
  /** what -p/-P asked for (kept so a restart re-publishes on the same terms) */
  publish: PublishRequest[];
  exposed: string[];
  hostsPath?: string;
  /** the container's resolv.conf (bind-mounted): rewritten when a connect brings the embedded DNS */
  resolvConfPath?: string;
  hostsOptions?: { hostname: string; domainname?: string; extraHosts?: string[]; links?: HostsLink[] };
  dns?: string[];
  dnsSearch?: string[];
  dnsOptions?: string[];
  sandbox?: SandboxState;
}

export class NetworkStore {
  constructor(readonly np: NetworkPaths) {}

  async init(): Promise<void> {
    await fsp.mkdir(this.np.attachmentsDir, { recursive: true, mode: 0o700 });
    await fsp.mkdir(this.np.ipamDir, { recursive: true, mode: 0o700 });
  }

  async loadNetworks(): Promise<NetworkRecord[]> {
    const out: NetworkRecord[] = [];
    for (const f of await fsp.readdir(this.np.dir).catch(() => [] as string[])) {
      if (!/^[0-9a-f]{64}\.json$/.test(f)) continue; // temp files of a crashed write are ignored
      const r = await readJson<NetworkRecord>(path.join(this.np.dir, f)).catch(() => undefined);
      if (r) out.push(r);
    }
    return out;
  }
  saveNetwork(r: NetworkRecord): Promise<void> { return writeFileAtomic(this.np.record(r.Id), JSON.stringify(r)); }
  async deleteNetwork(id: string): Promise<void> {
    await fsp.rm(this.np.record(id), { force: true });
    await fsp.rm(this.np.ipamNetworkDir(id), { recursive: true, force: true });
  }

  async loadAttachments(): Promise<AttachmentRecord[]> {
    const out: AttachmentRecord[] = [];
    for (const f of await fsp.readdir(this.np.attachmentsDir).catch(() => [] as string[])) {
      if (!/^[0-9a-f]{64}\.json$/.test(f)) continue;
      const r = await readJson<AttachmentRecord>(path.join(this.np.attachmentsDir, f)).catch(() => undefined);
      if (r) out.push(r);
    }
    return out;
  }
  /** Sandboxes die with the host: atomic without fsync is enough (see writeFileAtomic). */
  saveAttachment(a: AttachmentRecord): Promise<void> { return writeFileAtomic(this.np.attachment(a.containerId), JSON.stringify(a), 0o600, { durable: false }); }
  async deleteAttachment(containerId: string): Promise<void> { await fsp.rm(this.np.attachment(containerId), { force: true }); }

  /**
   * --aux-address: a lease file per address in host-local's store (it treats an existing file as taken), written
   * once; a file already there (a container's lease, or ours) is left as it is.
   */
  async reserveAux(networkId: string, ips: string[]): Promise<void> {
    if (!ips.length) return;
    const dir = this.np.ipamNetworkDir(networkId);
    await fsp.mkdir(dir, { recursive: true, mode: 0o700 });
    for (const ip of ips) {
      await fsp.writeFile(path.join(dir, ip), AUX_LEASE_OWNER, { flag: 'wx', mode: 0o600 }).catch((e: NodeJS.ErrnoException) => {
        if (e.code !== 'EEXIST') throw e;
      });
    }
  }

  /** host-local leases: network id → [{ip, containerId}] */
  async leases(): Promise<Map<string, Array<{ ip: string; containerId: string }>>> {
    const out = new Map<string, Array<{ ip: string; containerId: string }>>();
    for (const net of await fsp.readdir(this.np.ipamDir).catch(() => [] as string[])) {
      const dir = this.np.ipamNetworkDir(net);
      const list: Array<{ ip: string; containerId: string }> = [];
      for (const f of await fsp.readdir(dir).catch(() => [] as string[])) {
        // one file per address, named by it (v4 or v6); last_reserved_ip.N and lock are host-local's own
        if (!/^\d+\.\d+\.\d+\.\d+$/.test(f) && !/^[0-9a-f]*:[0-9a-f:]*$/.test(f)) continue;
        const text = await fsp.readFile(path.join(dir, f), 'utf8').catch(() => '');
        list.push({ ip: f, containerId: text.split(/\r?\n/)[0]!.trim() });
      }
      out.set(net, list);
    }
    return out;
  }
}
