import { publishingEndpoint } from './attachments.js';
import type { NetState } from './net-state.js';
import type { AttachmentRecord, EndpointConfig, NetworkRecord } from './network-store.js';
import type { Proto } from './ports.js';

/** Docker's read shapes of networking (container NetworkSettings, the Ports column, network inspect): pure. */

/** NetworkSettings for container inspect (Docker's shape; top-level legacy fields mirror the default bridge). */
export function containerNetworkSettings(state: NetState, a: AttachmentRecord | undefined, list: Array<{ networkId: string } & Partial<EndpointConfig>>): Record<string, unknown> {
  const sb = a?.sandbox;
  const ports: Record<string, Array<{ HostIp: string; HostPort: string }> | null> = {};
  for (const k of a?.exposed ?? []) { const key = k.includes('/') ? k.toLowerCase() : `${k}/tcp`; ports[key] ??= null; }
  const v6 = !!publishingEndpoint(state, a)?.ep.ip6;
  for (const p of sb?.ports ?? []) {
    const list = (ports[`${p.containerPort}/${p.proto}`] ??= [])!;
    list.push({ HostIp: p.hostIp || '0.0.0.0', HostPort: String(p.hostPort) });
    if (v6 && !p.hostIp) list.push({ HostIp: '::', HostPort: String(p.hostPort) }); // DNATed to its IPv6 address too
  }
  const networks: Record<string, unknown> = {};
  for (const w of list) {
    const n = state.networks.get(w.networkId);
    if (!n) continue;
    const ep = sb?.endpoints[n.Id];
    const aliases = w.aliases ?? [];
    const ipam = {
      ...(w.ipv4Address ? { IPv4Address: w.ipv4Address } : {}), ...(w.ipv6Address ? { IPv6Address: w.ipv6Address } : {}),
      ...(w.linkLocalIps?.length ? { LinkLocalIPs: w.linkLocalIps } : {}),
    };
    networks[n.Name] = {
      IPAMConfig: Object.keys(ipam).length ? ipam : null, Links: w.links?.length ? w.links : null,
      Aliases: aliases.length ? aliases : null, MacAddress: ep?.mac ?? w.macAddress ?? '', DriverOpts: null, GwPriority: 0, NetworkID: n.Id,
      EndpointID: ep?.endpointId ?? '', Gateway: ep?.gateway ?? '', IPAddress: ep?.ip ?? '', IPPrefixLen: ep?.prefixLen ?? 0,
      IPv6Gateway: ep?.gateway6 ?? '', GlobalIPv6Address: ep?.ip6 ?? '', GlobalIPv6PrefixLen: ep?.prefixLen6 ?? 0,
      DNSNames: ep?.dnsNames.length ? ep.dnsNames : null,
    };
  }
  const def = state.defaultBridge();
  const dep = def ? sb?.endpoints[def.Id] : undefined;
  return {
    Bridge: '', SandboxID: sb?.sandboxId ?? '', SandboxKey: sb?.netnsPath ?? '', HairpinMode: false,
    LinkLocalIPv6Address: '', LinkLocalIPv6PrefixLen: 0, Ports: ports, SecondaryIPAddresses: null, SecondaryIPv6Addresses: null,
    EndpointID: dep?.endpointId ?? '', Gateway: dep?.gateway ?? '', GlobalIPv6Address: dep?.ip6 ?? '', GlobalIPv6PrefixLen: dep?.prefixLen6 ?? 0,
    IPAddress: dep?.ip ?? '', IPPrefixLen: dep?.prefixLen ?? 0, IPv6Gateway: dep?.gateway6 ?? '', MacAddress: dep?.mac ?? '', Networks: networks,
  };
}

export type PortSummary = Array<{ IP?: string; PrivatePort: number; PublicPort?: number; Type: Proto }>;

/** The Ports column of GET /containers/json (`::` too for ports a dual-stack network publishes on IPv6). */
export function portSummaryOf(a: AttachmentRecord | undefined, state?: NetState): PortSummary {
  const out: PortSummary = [];
  const v6 = !!state && !!publishingEndpoint(state, a)?.ep.ip6;
  for (const p of a?.sandbox?.ports ?? []) {
    out.push({ IP: p.hostIp || '0.0.0.0', PrivatePort: p.containerPort, PublicPort: p.hostPort, Type: p.proto });
    if (v6 && !p.hostIp) out.push({ IP: '::', PrivatePort: p.containerPort, PublicPort: p.hostPort, Type: p.proto });
  }
  for (const k of a?.exposed ?? []) {
    const [num, proto = 'tcp'] = k.toLowerCase().split('/');
    const port = Number(num);
    if (!out.some((o) => o.PrivatePort === port && o.Type === proto)) out.push({ PrivatePort: port, Type: proto as Proto });
  }
  return out;
}

/** A network as GET /networks and /networks/{id} show it. */
export function networkResource(state: NetState, n: NetworkRecord, withContainers: boolean): Record<string, unknown> {
  const containers: Record<string, unknown> = {};
  if (withContainers) {
    for (const a of state.activeEndpoints(n.Id)) {
      const ep = a.sandbox!.endpoints[n.Id]!;
      containers[a.containerId] = {
        Name: a.name, EndpointID: ep.endpointId, MacAddress: ep.mac, IPv4Address: `${ep.ip}/${ep.prefixLen}`,
        IPv6Address: ep.ip6 ? `${ep.ip6}/${ep.prefixLen6}` : '',
      };
    }
  }
  return {
    Name: n.Name, Id: n.Id, Created: n.Created, Scope: 'local', Driver: n.Driver, EnableIPv4: n.Driver === 'bridge', EnableIPv6: !!n.EnableIPv6,
    IPAM: n.IPAM, Internal: n.Internal, Attachable: n.Attachable, Ingress: false, ConfigFrom: { Network: '' }, ConfigOnly: false,
    Containers: containers, Options: n.Options, Labels: n.Labels,
  };
}
