import { ForbiddenError } from '../errors.js';
import { bridgeExists, type Bridges } from './bridges.js';
import { CniError, parseAddResult, type CniRunner } from './cni.js';
import { cniConfigFor, linkLocalCidrs } from './ipam.js';
import type { IpTool } from './ip-tool.js';
import { newId, short, type NetState } from './net-state.js';
import type { NetnsManager } from './netns.js';
import type { AttachmentRecord, EndpointConfig, NetworkPaths, NetworkStore, SandboxState } from './network-store.js';

/**
 * A container's interfaces: one veth per network through the CNI bridge plugin (host-local leases), and the
 * netns that holds them. Callers order these per container; the record changes are theirs to persist.
 */
export class Endpoints {
  constructor(private readonly d: {
    state: NetState; cni: CniRunner; bridges: Bridges; netns: NetnsManager; store: NetworkStore; np: NetworkPaths; ip: IpTool;
  }) {}

  cniConfig(networkId: string, statics: { ip4?: string; ip6?: string } = {}): Record<string, unknown> {
    return cniConfigFor(this.d.state.networks.get(networkId)!, this.d.np.ipamDir, statics);
  }

  async add(a: AttachmentRecord, w: { networkId: string } & EndpointConfig): Promise<void> {
    const n = this.d.state.networks.get(w.networkId)!;
    const sb = a.sandbox!;
    const used = new Set(Object.values(sb.endpoints).map((e) => e.ifname));
    let i = 0;
    while (used.has(`eth${i}`)) i++;
    const ifname = `eth${i}`;
    if (!bridgeExists(n.bridge!)) await this.d.bridges.ensure(n); // deleted behind our back
    const args: Record<string, string> = {};
    if (w.macAddress) args.MAC = w.macAddress;
    // --ip/--ip6 go in the config (host-local's args.cni.ips: one per family), not CNI_ARGS (one address only)
    const statics = { ip4: w.ipv4Address, ip6: w.ipv6Address };
    const res = await this.d.cni.exec('bridge', { command: 'ADD', containerId: a.containerId, netns: sb.netnsPath, ifname, args }, this.cniConfig(n.Id, statics))
      .catch((err: unknown) => {
        if ((w.ipv4Address || w.ipv6Address) && err instanceof CniError && err.failure === 'address-unavailable') throw new ForbiddenError(`Address already in use`, { cause: err });
        throw err;
      });
    const r = parseAddResult(res ?? {}, ifname);
    // Recorded before the addresses go on, so a failure below is undone with the rest of the sandbox.
    const ll = linkLocalCidrs(w.linkLocalIps);
    const dnsNames = n.predefined ? [] : [a.name, ...w.aliases, short(a.containerId)].filter((x, k, arr) => x && arr.indexOf(x) === k);
    sb.endpoints[n.Id] = {
      endpointId: newId(), ifname, ip: r.ip, prefixLen: r.prefixLen, gateway: r.gateway, mac: r.mac, dnsNames,
      ...(r.ip6 ? { ip6: r.ip6, prefixLen6: r.prefixLen6, gateway6: r.gateway6 } : {}),
    };
    try {
      for (const cidr of ll) await this.d.ip.exec({ op: 'add-addr', dev: ifname, cidr }, sb.netnsPath);
    } catch (err) {
      await this.del(a, n.Id, true); // a connect must not leave the half-made interface behind
      throw err;
    }
  }

  async del(a: AttachmentRecord, networkId: string, netnsAlive: boolean, sb: SandboxState = a.sandbox!): Promise<void> {
    const ep = sb.endpoints[networkId];
    const n = this.d.state.networks.get(networkId);
    if (n && n.Driver === 'bridge') {
      await this.d.cni.exec('bridge', { command: 'DEL', containerId: a.containerId, netns: netnsAlive ? sb.netnsPath : '', ifname: ep?.ifname ?? 'eth0' }, this.cniConfig(n.Id))
        .catch(() => undefined);
    }
    delete sb.endpoints[networkId];
  }

  /** Undo a sandbox entirely (idempotent): endpoints, IPAM leases, netns; the attachment's wishes are kept. */
  async releaseSandbox(a: AttachmentRecord): Promise<void> {
    const sb = a.sandbox;
    if (!sb) return;
    await this.releaseHost(a, sb);
    a.sandbox = undefined;
    await this.d.store.saveAttachment(a);
  }

  /** The host side of a sandbox's end: CNI DELs (veths, leases) and the netns. Needs no lock once `sb` is detached. */
  async releaseHost(a: AttachmentRecord, sb: SandboxState): Promise<void> {
    const alive = await this.d.netns.isMounted(sb.netnsPath);
    for (const netId of Object.keys(sb.endpoints)) await this.del(a, netId, alive, sb);
    // Endpoints added before a crash may be missing from the record: let host-local release by container id.
    for (const w of sb.phase === 'ready' ? [] : a.networks) {
      const n = this.d.state.networks.get(w.networkId);
      if (n?.Driver === 'bridge') {
        await this.d.cni.exec('bridge', { command: 'DEL', containerId: a.containerId, netns: '', ifname: 'eth0' }, this.cniConfig(n.Id)).catch(() => undefined);
      }
    }
    await this.d.netns.remove(a.containerId).catch(() => undefined);
  }
}
