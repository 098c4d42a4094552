import { buildHosts } from './etc-files.js';
import { parseMac } from './mac.js';
import { short, type NetState } from './net-state.js';
import type { AttachmentRecord, EndpointConfig, EndpointState, NetworkRecord } from './network-store.js';

/** What the container service knows about a container, for connect/disconnect/setup. */
export interface ContainerNetInfo {
  id: string;
  name: string;
  running: boolean;
  /** HostConfig.NetworkMode: default | bridge | host | none | container:<id> | <network name or id> */
  networkMode: string;
  /** NetworkingConfig.EndpointsConfig from create */
  endpointsConfig?: Record<string, EndpointRequest | null>;
  /** Config.MacAddress: the first network's MAC unless its endpoint names one (moby's migration of the old field). */
  macAddress?: string;
}

/** One entry of NetworkingConfig.EndpointsConfig (create) or EndpointConfig (connect). */
export type EndpointRequest = { Aliases?: string[] | null; IPAMConfig?: { IPv4Address?: string; IPv6Address?: string; LinkLocalIPs?: string[] | null } | null; MacAddress?: string; Links?: string[] | null };

/** An endpoint request → what the attachment records of it (a MAC is checked and normalised). */
export function endpointConfigOf(e: EndpointRequest | null | undefined): EndpointConfig {
  const mac = e?.MacAddress ? parseMac(e.MacAddress) : undefined;
  const links = (e?.Links ?? []).filter(Boolean);
  const ll = (e?.IPAMConfig?.LinkLocalIPs ?? []).filter(Boolean);
  return {
    ...(ll.length ? { linkLocalIps: ll } : {}),
    ...(e?.IPAMConfig?.IPv6Address ? { ipv6Address: e.IPAMConfig.IPv6Address } : {}),
    aliases: [...(e?.Aliases ?? [])], ipv4Address: e?.IPAMConfig?.IPv4Address || undefined, ...(mac ? { macAddress: mac } : {}),
    ...(links.length ? { links } : {}),
  };
}

/** The networks a container asks for at create (NetworkMode + EndpointsConfig) → attach list. */
export function wantedNetworks(state: NetState, c: ContainerNetInfo, bridgeDisabled: boolean): Array<{ networkId: string } & EndpointConfig> {
  const mode = c.networkMode || 'default';
  const out: Array<{ networkId: string } & EndpointConfig> = [];
  const first = mode === 'default' ? 'bridge' : mode;
  const cfgFor = (ref: string, n: NetworkRecord) => endpointConfigOf(c.endpointsConfig?.[ref] ?? c.endpointsConfig?.[n.Name] ?? c.endpointsConfig?.[n.Id] ??
    (n.Name === 'bridge' ? c.endpointsConfig?.default : undefined) ?? null);
  // --bridge=none: the default network is simply absent (dockerd marks such containers NetworkDisabled).
  const skip = (ref: string) => bridgeDisabled && (ref === 'bridge' || ref === 'default');
  if (!skip(first)) {
    const n0 = state.resolve(first);
    const cfg = cfgFor(first, n0);
    if (c.macAddress && !cfg.macAddress) cfg.macAddress = parseMac(c.macAddress);
    out.push({ networkId: n0.Id, ...cfg });
  }
  for (const ref of Object.keys(c.endpointsConfig ?? {})) {
    if (skip(ref)) continue;
    // the docker CLI names the endpoint of its default network "default"
    const n = state.resolve(ref === 'default' ? 'bridge' : ref);
    if (!out.some((x) => x.networkId === n.Id)) out.push({ networkId: n.Id, ...cfgFor(ref, n) });
  }
  return out;
}

/** The container's attachment, made from its create-time wishes the first time it is needed. */
export function attachmentFor(state: NetState, c: ContainerNetInfo, bridgeDisabled: boolean): AttachmentRecord {
  let a = state.attachments.get(c.id);
  if (!a) {
    a = { containerId: c.id, name: c.name.replace(/^\//, ''), networks: wantedNetworks(state, c, bridgeDisabled), publish: [], exposed: [] };
    state.attachments.set(c.id, a);
  }
  a.name = c.name.replace(/^\//, '');
  return a;
}

/** The hosts file of a container with a sandbox: one line per address it has. */
export function hostsOf(state: NetState, a: AttachmentRecord): string {
  // moby: one line per address, IPv4 and IPv6 of each network
  const ips = a.networks.flatMap((w) => { const ep = a.sandbox?.endpoints[w.networkId]; return ep ? [ep.ip, ep.ip6] : []; })
    .filter((x): x is string => !!x);
  const o = a.hostsOptions;
  return buildHosts({ hostname: o?.hostname ?? short(a.containerId), domainname: o?.domainname, extraHosts: o?.extraHosts, hostGatewayIp: state.defaultGateway(), ips, links: linkLines(state, a) });
}

/** The parent's hosts lines of its legacy links: each child's current address on the default bridge. */
function linkLines(state: NetState, a: AttachmentRecord): Array<{ ip: string; names: string }> {
  const def = state.defaultBridge();
  if (!def || !a.sandbox?.endpoints[def.Id]) return [];
  const out: Array<{ ip: string; names: string }> = [];
  for (const l of a.hostsOptions?.links ?? []) {
    const ip = bridgeAddressOf(state, l.containerId);
    if (ip) out.push({ ip, names: l.names });
  }
  return out;
}

/** A running container's address on the default bridge, if it has one. */
export function bridgeAddressOf(state: NetState, containerId: string): string | undefined {
  const def = state.defaultBridge();
  const sb = state.attachments.get(containerId)?.sandbox;
  return def && sb?.phase === 'ready' ? sb.endpoints[def.Id]?.ip : undefined;
}

/**
 * The endpoint whose address publishes a container's ports: that of its first network that is not internal (as
 * Docker picks the endpoint providing connectivity). Its IPv6 address, on a dual-stack network, publishes too.
 */
export function publishingEndpoint(state: NetState, a: AttachmentRecord | undefined): { n: NetworkRecord; ep: EndpointState } | undefined {
  const sb = a?.sandbox;
  if (!sb) return undefined;
  for (const w of a.networks) {
    const n = state.networks.get(w.networkId);
    const ep = sb.endpoints[w.networkId];
    if (n && ep && !n.Internal) return { n, ep };
  }
  return undefined;
}
