import { SystemError } from '../errors.js';
import { parseLink } from '../core/links.js';
import { addRecord, EmbeddedDns, emptyRecords, type DnsRecords } from './dns.js';
import { cidrContains, parseCidr, parseIPv4 } from './ip.js';
import type { NetState } from './net-state.js';
import { v4Config } from './network-store.js';

/** One embedded DNS server per user-defined bridge network, listening on its gateway. */
export class DnsServers {
  private readonly servers = new Map<string, EmbeddedDns>();
  constructor(private readonly state: NetState, private readonly o: { port: number; upstreams: () => string[] }) {}

  /** Every user network's server exists and answers the names of its ready endpoints. */
  async refresh(): Promise<void> {
    for (const n of this.state.bridgeNetworks()) {
      if (n.predefined) continue;
      const rec: DnsRecords = emptyRecords();
      for (const a of this.state.activeEndpoints(n.Id)) {
        const ep = a.sandbox!.endpoints[n.Id];
        if (a.sandbox!.phase !== 'ready' || !ep) continue; // names resolve once the container is up
        addRecord(rec, ep.dnsNames, ep.ip);
        if (ep.ip6) addRecord(rec, ep.dnsNames, ep.ip6);
        if (a.dns?.length) rec.upstreams.set(ep.ip, a.dns);
        const links = a.networks.find((w) => w.networkId === n.Id)?.links ?? [];
        if (links.length) rec.clientAliases.set(ep.ip, new Map(links.map(linkAlias)));
      }
      let srv = this.servers.get(n.Id);
      if (!srv) {
        // Containers query over IPv4 (resolv.conf names the IPv4 gateway), also on a dual-stack network.
        const c = v4Config(n);
        const subnet = parseCidr(c.Subnet)!;
        srv = new EmbeddedDns({
          address: c.Gateway, port: this.o.port,
          isClient: (ip) => { const v = parseIPv4(ip); return v !== undefined && cidrContains(subnet, v); },
          defaultUpstreams: this.o.upstreams,
        });
        try { await srv.start(); } catch (err) { throw new SystemError(`embedded DNS for network ${n.Name}: ${(err as Error).message}`, { cause: err }); }
        this.servers.set(n.Id, srv);
      }
      srv.setRecords(rec);
    }
  }

  close(networkId: string): void {
    this.servers.get(networkId)?.close();
    this.servers.delete(networkId);
  }

  closeAll(): void {
    for (const d of this.servers.values()) d.close();
    this.servers.clear();
  }
}


function linkAlias(l: string): [string, string] {
  try {
    const { name, alias } = parseLink(l);
    return [alias.toLowerCase(), name.toLowerCase()];
  } catch {
    return ['', ''];
  }
}
