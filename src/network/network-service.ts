import { trace, type Trace } from '../core/trace.js';
import { createHash } from 'node:crypto';
import fsp from 'node:fs/promises';
import { ForbiddenError, InvalidParameterError, NotFoundError, SystemError } from '../errors.js';
import type { Paths } from '../store/paths.js';
import type { Sys } from '../sys/sys.js';
import { attachmentFor, bridgeAddressOf, endpointConfigOf, hostsOf, wantedNetworks, type ContainerNetInfo, type EndpointRequest } from './attachments.js';
import { bridgeSettings } from './bridge-options.js';
import { Bridges } from './bridges.js';
import type { CniRunner } from './cni.js';
import { DnsServers } from './dns-servers.js';
import { Endpoints } from './endpoints.js';
import { buildHosts, buildResolvConf, upstreamServers } from './etc-files.js';
import { IpTool } from './ip-tool.js';
import { checkLinkLocalSyntax, checkPools, checkStaticIp, ipv6Pools, linkLocalCidrs } from './ipam.js';
import { chainPrefixFor, Iptables } from './iptables.js';
import { NetState, newId, short } from './net-state.js';
import { NetnsManager } from './netns.js';
import { auxAddresses, NetworkPaths, NetworkStore, v4Config, type AttachmentRecord, type HostsLink, type NetworkRecord, type SandboxState } from './network-store.js';
import { IFNAME_RE, NetworkRegistry, type CreateNetworkRequest } from './networks.js';
import { PortAllocator } from './port-alloc.js';
import { planPublishRequests, type PortBinding } from './ports.js';
import { RuleApplier } from './rules.js';
import { containerNetworkSettings, portSummaryOf, type PortSummary } from './views.js';

export type { ContainerNetInfo } from './attachments.js';
export type { CreateNetworkRequest } from './networks.js';

export const DEFAULT_BRIDGE_NAME = 'berth0';
/** `bridgeName: 'none'`: no default `bridge` network at all (dockerd --bridge=none). */
export const NO_BRIDGE = 'none';
/** Not Docker's 172.17.0.0/16, not podman's 10.88.0.0/16; free on these machines (checked against `ip route`). */
export const DEFAULT_BRIDGE_CIDR = '172.30.0.1/16';
/** User-defined networks get /24s from here unless --subnet is given (Docker: default-address-pools). */
export const DEFAULT_POOLS = [{ base: '10.210.0.0/16', size: 24 }];

export interface NetworkServiceOptions {
  paths: Paths;
  sys: Sys;
  cni: CniRunner;
  /** Must use this instance's chain prefix (chainPrefixFor(bridgeName)); built from it when absent. */
  iptables?: Iptables;
  /** The same for ip6tables (dual-stack networks); Iptables.v6(prefix) when absent. */
  ip6tables?: Iptables;
  /** Runs `ip` (bridges); the real one when absent. */
  ip?: IpTool;
  /**
   * `-b/--bridge`, daemon.json `bridge`: the default bridge's device (default berth0), or 'none' for no default
   * bridge network. It also names the instance on the host: its iptables chain prefix derives from it, so
   * daemons that must run side by side need different bridges (and non-overlapping --bip).
   */
  bridgeName?: string;
  /** daemon.json `bip`: the default bridge's gateway/prefix, e.g. 172.30.0.1/16 */
  bip?: string;
  /** daemon.json `default-address-pools` (IPv4 bases for every network, IPv6 bases for dual-stack ones) */
  pools?: Array<{ base: string; size: number }>;
  /** daemon.json `dns`: upstreams when a container has no --dns */
  dns?: string[];
  hostResolvConfPath?: string;
  /** DNS port (53; tests may use another) */
  dnsPort?: number;
}

export interface SetupOptions extends ContainerNetInfo {
  hostname: string;
  domainname?: string;
  portBindings?: Record<string, PortBinding[] | null>;
  publishAllPorts?: boolean;
  exposedPorts?: Record<string, unknown>;
  dns?: string[];
  dnsSearch?: string[];
  dnsOptions?: string[];
  extraHosts?: string[];
  /** legacy links (default bridge): a hosts line per child, at the child's current address */
  links?: HostsLink[];
  /** the container's hosts file: rewritten in place on connect/disconnect (it is bind-mounted) */
  hostsPath?: string;
  /** the container's resolv.conf: rewritten in place when a connect brings the embedded DNS */
  resolvConfPath?: string;
}

export interface SetupResult {
  /** what to put in the OCI spec */
  network: { mode: 'path'; netnsPath: string } | { mode: 'host' } | { mode: 'none' };
  hosts: string;
  resolvConf: string;
}

export interface SetupStarted {
  /** what to put in the OCI spec: ready now */
  network: SetupResult['network'];
  /** settles when the interfaces, rules and DNS are in place (or failed, the sandbox undone) */
  done: Promise<SetupResult>;
}

export interface ConnectResult { IPAddress: string; Gateway: string; MacAddress: string; IPPrefixLen: number }

/**
 * Docker's networking on top of the CNI bridge plugin, as a facade over its rooms: network records and
 * bridges (networks.ts, bridges.ts, ipam.ts), container endpoints (endpoints.ts, CNI), published ports
 * (port-alloc.ts), NAT and isolation (rules.ts over iptables.ts), embedded DNS (dns-servers.ts), read views
 * (views.ts). Every mutation runs under one lock (NetState.serial), persists its intent before touching the
 * host, and `reconcile` makes the host match the store after a crash.
 */
export class NetworkService {
  readonly np: NetworkPaths;
  private readonly store: NetworkStore;
  private readonly netns: NetnsManager;
  private readonly ipt: Iptables;
  private readonly state = new NetState();
  private readonly bridges: Bridges;
  private readonly registry: NetworkRegistry;
  private readonly endpoints: Endpoints;
  private readonly ports: PortAllocator;
  private readonly rules: RuleApplier;
  private readonly dns: DnsServers;
  private hostResolv = '';
  /** The default bridge device, or 'none'. */
  readonly bridgeName: string;
  /** This instance's iptables chain prefix ('BERTH' for berth0). */
  readonly chainPrefix: string;
  /**
   * Written as the ifalias of every bridge this service creates: the reconcile sweep of orphan bridges only
   * deletes devices carrying exactly this tag, so it never touches another daemon's networks (another bridge
   * name, or the same one with another data root).
   */
  readonly ownerTag: string;

  constructor(private readonly o: NetworkServiceOptions) {
    this.np = new NetworkPaths(o.paths);
    this.store = new NetworkStore(this.np);
    this.netns = new NetnsManager(this.np.netnsDir, o.sys);
    this.bridgeName = o.bridgeName ?? DEFAULT_BRIDGE_NAME;
    if (this.bridgeName !== NO_BRIDGE && !IFNAME_RE.test(this.bridgeName)) {
      throw new InvalidParameterError(`invalid bridge name ${this.bridgeName}: 1 to 15 characters of [a-zA-Z0-9_.-]`);
    }
    checkPools(o.pools ?? []); // a base berth cannot parse would otherwise be skipped without a word
    this.chainPrefix = chainPrefixFor(this.bridgeName);
    this.ipt = o.iptables ?? new Iptables(this.chainPrefix);
    if (this.ipt.prefix !== this.chainPrefix) throw new SystemError(`iptables chain prefix ${this.ipt.prefix} is not this instance's ${this.chainPrefix}`);
    this.ownerTag = `berth:${this.chainPrefix}:${createHash('sha256').update(o.paths.dataRoot).digest('hex').slice(0, 12)}`;
    const ip = o.ip ?? new IpTool();
    this.bridges = new Bridges(ip, this.ownerTag);
    const ipt6 = o.ip6tables ?? Iptables.v6(this.chainPrefix);
    if (ipt6.prefix !== this.chainPrefix || ipt6.family !== 6) throw new SystemError(`ip6tables chain prefix ${ipt6.prefix} is not this instance's ${this.chainPrefix}`);
    this.rules = new RuleApplier(this.ipt, this.state, ipt6);
    this.dns = new DnsServers(this.state, { port: o.dnsPort ?? 53, upstreams: () => upstreamServers(this.hostResolv, o.dns) });
    this.ports = new PortAllocator(this.state, this.ipt);
    this.endpoints = new Endpoints({ state: this.state, cni: o.cni, bridges: this.bridges, netns: this.netns, store: this.store, np: this.np, ip });
    this.registry = new NetworkRegistry({
      state: this.state, store: this.store, bridges: this.bridges, rules: this.rules, dns: this.dns,
      bridgeName: this.bridgeName, bridgeDisabled: this.bridgeDisabled, bip: o.bip ?? DEFAULT_BRIDGE_CIDR,
      pools: o.pools ?? DEFAULT_POOLS, pools6: ipv6Pools(o.pools ?? [], this.ownerTag), ownerTag: this.ownerTag,
    });
  }

  private get bridgeDisabled(): boolean { return this.bridgeName === NO_BRIDGE; }

  private serial<T>(fn: () => Promise<T>): Promise<T> { return this.state.serial(fn); }

  private perContainer<T>(id: string, fn: () => Promise<T>): Promise<T> { return this.state.perContainer(id, fn); }

  /** Rules and DNS follow the state (after any change of endpoints or networks). */
  private async publish(): Promise<void> {
    await this.rules.apply();
    await this.dns.refresh();
  }

  // ---------------------------------------------------------------- daemon lifecycle

  /** Daemon start: load the store, create the predefined networks, then reconcile against the running containers. */
  init(liveContainerIds: Set<string>, existingContainerIds?: Set<string>): Promise<void> {
    return this.serial(async () => {
      await this.store.init();
      this.hostResolv = await fsp.readFile(this.o.hostResolvConfPath ?? '/etc/resolv.conf', 'utf8').catch(() => '');
      for (const r of await this.store.loadNetworks()) this.state.networks.set(r.Id, r);
      for (const a of await this.store.loadAttachments()) this.state.attachments.set(a.containerId, a);
      await this.registry.ensurePredefined();
      await fsp.writeFile('/proc/sys/net/ipv4/ip_forward', '1').catch(() => undefined);
      await this.ipt.ensureJumps();
      for (const n of this.state.bridgeNetworks()) {
        await this.store.reserveAux(n.Id, auxAddresses(n)); // a crash inside create may have left them out
        await this.bridges.ensure(n);
      }
      await this.reconcileLocked(liveContainerIds, existingContainerIds);
    });
  }

  /** Stops the DNS servers; leaves sandboxes, bridges and rules in place for running containers (live restore). */
  async close(): Promise<void> {
    // Teardowns finish their CNI DELs outside the lock: let them end, or a netns mount stays behind.
    await this.state.drain();
    await this.serial(async () => { this.dns.closeAll(); });
  }

  /**
   * Make the host match the store for the given set of running containers: sandboxes of containers not
   * running are torn down, attachments of containers that no longer exist are dropped, and netns files,
   * IPAM leases, bridges, rules and DNS entries nobody claims are removed. Safe to call at any time.
   */
  reconcile(liveContainerIds: Set<string>, existingContainerIds?: Set<string>): Promise<void> {
    return this.serial(() => this.reconcileLocked(liveContainerIds, existingContainerIds));
  }

  private async reconcileLocked(live: Set<string>, existing?: Set<string>): Promise<void> {
    for (const a of [...this.state.attachments.values()]) {
      if (a.sandbox && (!live.has(a.containerId) || a.sandbox.phase !== 'ready' || !(await this.netns.isMounted(a.sandbox.netnsPath)))) {
        await this.endpoints.releaseSandbox(a);
      }
      if (existing && !existing.has(a.containerId) && !live.has(a.containerId)) {
        this.state.attachments.delete(a.containerId);
        await this.store.deleteAttachment(a.containerId);
      }
    }
    const claimed = new Set([...this.state.attachments.values()].filter((a) => a.sandbox).map((a) => a.containerId));
    for (const name of await this.netns.list()) {
      if (!claimed.has(name)) await this.netns.remove(name).catch(() => undefined);
    }
    for (const [netId, leases] of await this.store.leases()) {
      const net = this.state.networks.get(netId);
      if (!net) { await fsp.rm(this.np.ipamNetworkDir(netId), { recursive: true, force: true }); continue; }
      const aux = new Set(auxAddresses(net));
      for (const l of leases) {
        if (aux.has(l.ip)) continue;
        const ep = claimed.has(l.containerId) ? this.state.attachments.get(l.containerId)?.sandbox?.endpoints[netId] : undefined;
        if (ep && (ep.ip === l.ip || ep.ip6 === l.ip)) continue;
        // An orphan lease: let the plugin release it (DEL without a netns is allowed by the CNI spec).
        await this.o.cni.exec('bridge', { command: 'DEL', containerId: l.containerId, netns: '', ifname: 'eth0' }, this.endpoints.cniConfig(netId))
          .catch(() => fsp.rm(`${this.np.ipamNetworkDir(netId)}/${l.ip}`, { force: true }));
        await fsp.rm(`${this.np.ipamNetworkDir(netId)}/${l.ip}`, { force: true });
      }
    }
    await this.bridges.sweepOrphans(new Set(this.state.bridgeNetworks().map((n) => n.bridge!)));
    await this.publish();
  }

  // ---------------------------------------------------------------- networks

  /** Docker's lookup order: full id, exact name, id prefix (ambiguous prefixes are an error). */
  resolve(ref: string): ReturnType<NetState['resolve']> { return this.state.resolve(ref); }

  create(req: CreateNetworkRequest): Promise<{ Id: string; Warning: string }> { return this.serial(() => this.registry.create(req)); }

  // A removed container's endpoint is released after its removal answers (forget is queued behind its teardown),
  // so a network removal first waits for queued per-container work: a CNI DEL still writing in the network's
  // lease dir made `network rm` right after `rm -f` fail with ENOTEMPTY.
  async remove(ref: string): Promise<void> { await this.state.drain(); return this.serial(() => this.registry.remove(ref)); }

  async prune(filtersRaw?: string | null): Promise<{ NetworksDeleted: string[] }> {
    await this.state.drain();
    return this.serial(() => this.registry.prune(filtersRaw));
  }

  list(filtersRaw?: string | null): Array<Record<string, unknown>> { return this.registry.list(filtersRaw); }

  inspect(ref: string): Record<string, unknown> { return this.registry.inspect(ref); }

  // ---------------------------------------------------------------- containers

  /** Validates a create request's networks (404 for unknown names, Docker's static-IP rule) before anything exists. */
  validateCreate(c: ContainerNetInfo): void {
    const mode = c.networkMode || 'default';
    if (mode === 'host' || mode === 'none' || mode.startsWith('container:')) return;
    for (const w of wantedNetworks(this.state, c, this.bridgeDisabled)) {
      checkStaticIp(this.state.networks.get(w.networkId)!, w.ipv4Address, w.ipv6Address);
      checkLinkLocalSyntax(w.linkLocalIps);
    }
  }

  /**
   * Container start: build the sandbox. A port conflict throws before anything is created (the container
   * stays created). Three steps: reserve and record the intent under the service lock; do the slow host work
   * (netns, CNI ADD) outside it, so that containers start side by side; publish (rules, DNS) under it again.
   * Steps of one container stay in order against its own teardown/connect (perContainer).
   */
  setup(o: SetupOptions): Promise<SetupResult> {
    return this.begin(o).then((s) => s.done);
  }

  /**
   * setup in two halves: resolves as soon as the namespace exists (what the OCI spec needs), while the
   * interfaces, rules and DNS are still being made; `done` settles when they are. The runtime can create
   * the container meanwhile; it must not start it before `done`.
   */
  begin(o: SetupOptions): Promise<SetupStarted> {
    return new Promise<SetupStarted>((resolveEarly, rejectEarly) => {
      this.perContainer(o.id, async () => {
        const tr = trace(`net ${short(o.id)}`);
        const plan = await this.planSetup(o);
        if ('result' in plan) { resolveEarly({ network: plan.result.network, done: Promise.resolve(plan.result) }); return; }
        const a = plan.a;
        const sb = a.sandbox!;
        tr.mark('plan');
        try {
          await this.netns.create(a.containerId);
        } catch (err) {
          await this.serial(() => this.endpoints.releaseSandbox(a)).catch(() => undefined);
          throw err;
        }
        tr.mark('netns');
        const done = this.completeSetup(o, a, sb, tr);
        resolveEarly({ network: { mode: 'path', netnsPath: sb.netnsPath }, done });
        await done.catch(() => undefined); // the caller hears of a failure through `done`
      }).catch(rejectEarly);
    });
  }

  /** The answer for containers without a sandbox of their own (host, none, container:<id>). */
  private async sandboxless(o: SetupOptions, mode: string): Promise<SetupResult> {
    const hostsBase = { hostname: o.hostname, domainname: o.domainname, extraHosts: o.extraHosts, hostGatewayIp: this.state.defaultGateway() };
    if (mode === 'host') {
      const hostHosts = await fsp.readFile('/etc/hosts', 'utf8').catch(() => '127.0.0.1\tlocalhost\n');
      const extra = buildHosts({ ...hostsBase, ips: [] }).split('\n').slice(6).join('\n');
      return { network: { mode: 'host' }, hosts: hostHosts + extra, resolvConf: this.hostResolv };
    }
    return {
      network: { mode: 'none' }, hosts: buildHosts({ ...hostsBase, ips: [] }),
      resolvConf: buildResolvConf({ hostResolvConf: this.hostResolv, dns: o.dns, dnsSearch: o.dnsSearch, dnsOptions: o.dnsOptions }),
    };
  }

  /** The network whose address publishes the ports (as rules.ts picks it: the first that is not internal). */
  private portsNetwork(a: AttachmentRecord): NetworkRecord | undefined {
    return a.networks.map((w) => this.state.networks.get(w.networkId)).find((n) => n && !n.Internal);
  }

  /** Under the lock: validate, reserve ports, record the intent (or answer at once for host/none modes). */
  private planSetup(o: SetupOptions): Promise<{ result: SetupResult } | { a: AttachmentRecord }> {
    return this.serial(async () => {
      const mode = o.networkMode || 'default';
      if (mode === 'host' || mode === 'none' || mode.startsWith('container:')) return { result: await this.sandboxless(o, mode) };
      const a = attachmentFor(this.state, o, this.bridgeDisabled);
      if (a.sandbox) { await this.endpoints.releaseSandbox(a); await this.publish(); } // a stale one from an unclean stop
      if (!a.networks.length) return { result: await this.sandboxless(o, 'none') }; // the default network under --bridge=none
      for (const w of a.networks) {
        const n = this.state.networks.get(w.networkId);
        if (!n) throw new NotFoundError(`network ${w.networkId} not found`);
        checkStaticIp(n, w.ipv4Address, w.ipv6Address);
        linkLocalCidrs(w.linkLocalIps);
      }
      const pn = this.portsNetwork(a);
      // `-p 80` binds the network's host_binding_ipv4 (Docker's DefaultBindingIP).
      a.publish = planPublishRequests(o.portBindings, !!o.publishAllPorts, o.exposedPorts, pn ? bridgeSettings(pn.Options).hostBindingIp : '');
      a.exposed = Object.keys(o.exposedPorts ?? {}).concat(Object.keys(o.portBindings ?? {}));
      a.hostsPath = o.hostsPath;
      a.resolvConfPath = o.resolvConfPath;
      a.hostsOptions = { hostname: o.hostname, domainname: o.domainname, extraHosts: o.extraHosts, ...(o.links?.length ? { links: o.links } : {}) };
      a.dns = o.dns;
      a.dnsSearch = o.dnsSearch;
      a.dnsOptions = o.dnsOptions;
      const ports = await this.ports.allocate(a, a.name);
      a.sandbox = { sandboxId: newId(), netnsPath: this.netns.pathOf(a.containerId), phase: 'setting-up', endpoints: {}, ports };
      await this.store.saveAttachment(a); // intent first: reconcile undoes a half-built sandbox
      return { a };
    });
  }

  /** Outside the lock: this container's interfaces (CNI ADD); then under it: rules and DNS. */
  private async completeSetup(o: SetupOptions, a: AttachmentRecord, sb: SandboxState, tr: Trace): Promise<SetupResult> {
    try {
      for (const w of a.networks) await this.endpoints.add(a, w);
    } catch (err) {
      await this.serial(() => this.endpoints.releaseSandbox(a)).catch(() => undefined);
      throw err;
    }
    tr.mark('cni');
    return this.serial(async () => {
      try {
        // A network cannot go while this sandbox is setting up (activeEndpoints counts it); checked anyway.
        for (const w of a.networks) if (!this.state.networks.has(w.networkId)) throw new NotFoundError(`network ${w.networkId} not found`);
        sb.phase = 'ready';
        await this.store.saveAttachment(a);
        await this.publish();
      } catch (err) {
        await this.endpoints.releaseSandbox(a).catch(() => undefined);
        await this.rules.apply().catch(() => undefined);
        await this.dns.refresh().catch(() => undefined);
        throw err;
      }
      // As moby addLegacyLinks: containers linking to this one see its new address.
      for (const p of this.state.attachments.values()) {
        if (p.hostsOptions?.links?.some((l) => l.containerId === a.containerId)) await this.rewriteHosts(p);
      }
      tr.mark('publish');
      tr.end();
      const first = this.state.networks.get(a.networks[0]!.networkId)!;
      const embedded = first.predefined ? undefined : v4Config(first).Gateway;
      return {
        network: { mode: 'path', netnsPath: sb.netnsPath },
        hosts: hostsOf(this.state, a),
        resolvConf: buildResolvConf({ hostResolvConf: this.hostResolv, dns: o.dns ?? this.o.dns, dnsSearch: o.dnsSearch, dnsOptions: o.dnsOptions, embeddedDns: embedded }),
      };
    });
  }

  /**
   * Container exit: tear the sandbox down, free its ports and addresses. The record and the rules change
   * under the lock; the CNI DELs run outside it (a crash in between is swept by reconcile: unclaimed netns
   * and leases go).
   */
  teardown(containerId: string): Promise<void> {
    return this.perContainer(containerId, async () => {
      const taken = await this.serial(async () => {
        const a = this.state.attachments.get(containerId);
        const sb = a?.sandbox;
        if (!a || !sb) return undefined;
        a.sandbox = undefined;
        await this.store.saveAttachment(a);
        await this.publish();
        return { a, sb };
      });
      if (taken) await this.endpoints.releaseHost(taken.a, taken.sb);
    });
  }

  /** Container removal: forget its network wishes too. */
  forget(containerId: string): Promise<void> {
    return this.perContainer(containerId, async () => {
      const taken = await this.serial(async () => {
        const a = this.state.attachments.get(containerId);
        if (!a) return undefined;
        const sb = a.sandbox;
        a.sandbox = undefined;
        this.state.attachments.delete(containerId);
        await this.store.deleteAttachment(containerId);
        if (sb) await this.publish();
        return sb ? { a, sb } : undefined;
      });
      if (taken) await this.endpoints.releaseHost(taken.a, taken.sb);
    });
  }

  /** `docker network connect`: on a running container a new interface appears at once; otherwise at next start. */
  connect(netRef: string, c: ContainerNetInfo, cfg?: EndpointRequest | null): Promise<ConnectResult | undefined> {
    return this.perContainer(c.id, () => this.serial(async () => {
      const n = this.state.resolve(netRef);
      if (n.Driver !== 'bridge') throw new ForbiddenError('container cannot be disconnected from host network or connected to host network');
      const mode = c.networkMode || 'default';
      if (mode === 'host' || mode === 'none' || mode.startsWith('container:')) {
        throw new ForbiddenError(`container sharing network namespace with another container or host cannot be connected to any other network`);
      }
      const a = attachmentFor(this.state, c, this.bridgeDisabled);
      if (a.networks.some((w) => w.networkId === n.Id)) throw new ForbiddenError(`endpoint with name ${a.name} already exists in network ${n.Name}`);
      const w = { networkId: n.Id, ...endpointConfigOf(cfg) };
      checkStaticIp(n, w.ipv4Address, w.ipv6Address);
      checkLinkLocalSyntax(w.linkLocalIps);
      linkLocalCidrs(w.linkLocalIps);
      let result: ConnectResult | undefined;
      if (c.running && a.sandbox?.phase === 'ready') {
        await this.endpoints.add(a, w);
        const ep = a.sandbox.endpoints[n.Id]!;
        result = { IPAddress: ep.ip, Gateway: ep.gateway, MacAddress: ep.mac, IPPrefixLen: ep.prefixLen };
      }
      const hadEmbedded = a.networks.some((x) => !this.state.networks.get(x.networkId)?.predefined);
      a.networks.push(w);
      await this.store.saveAttachment(a);
      if (result) {
        await this.publish(); await this.rewriteHosts(a);
        // As dockerd: joining a user-defined network switches the container to the embedded DNS.
        if (!hadEmbedded && !n.predefined && a.resolvConfPath) {
          const conf = buildResolvConf({ hostResolvConf: this.hostResolv, dns: a.dns ?? this.o.dns, dnsSearch: a.dnsSearch, dnsOptions: a.dnsOptions, embeddedDns: v4Config(n).Gateway });
          await fsp.writeFile(a.resolvConfPath, conf).catch(() => undefined);
        }
      }
      return result;
    }));
  }

  disconnect(netRef: string, c: ContainerNetInfo, force = false): Promise<void> {
    return this.perContainer(c.id, () => this.serial(async () => {
      const n = this.state.resolve(netRef);
      const a = attachmentFor(this.state, c, this.bridgeDisabled);
      if (!a.networks.some((w) => w.networkId === n.Id)) {
        if (force) return;
        throw new ForbiddenError(`container ${c.id} is not connected to network ${n.Name}`);
      }
      if (a.sandbox?.endpoints[n.Id]) {
        await this.endpoints.del(a, n.Id, await this.netns.isMounted(a.sandbox.netnsPath));
      }
      a.networks = a.networks.filter((w) => w.networkId !== n.Id);
      await this.store.saveAttachment(a);
      await this.publish();
      await this.rewriteHosts(a);
    }));
  }

  private async rewriteHosts(a: AttachmentRecord): Promise<void> {
    // In place (no rename): the file is bind-mounted into the container by inode.
    if (a.hostsPath && a.sandbox) await fsp.writeFile(a.hostsPath, hostsOf(this.state, a)).catch(() => undefined);
  }

  /** A running container's address on the default bridge (legacy links), if it has one. */
  bridgeAddress(containerId: string): string | undefined { return bridgeAddressOf(this.state, containerId); }

  /** The netns of a running container (for --network container:<id>). */
  netnsPathOf(containerId: string): string | undefined {
    const sb = this.state.attachments.get(containerId)?.sandbox;
    return sb?.phase === 'ready' ? sb.netnsPath : undefined;
  }

  /** NetworkSettings for container inspect (Docker's shape; top-level legacy fields mirror the default bridge). */
  settings(c: ContainerNetInfo): Record<string, unknown> {
    const a = this.state.attachments.get(c.id);
    const mode = c.networkMode || 'default';
    const list = a?.networks ?? (mode === 'host' || mode === 'none' ? [{ networkId: this.state.resolve(mode).Id, aliases: [] as string[] }]
      : mode.startsWith('container:') ? [] : safe(() => wantedNetworks(this.state, c, this.bridgeDisabled)) ?? []);
    return containerNetworkSettings(this.state, a, list);
  }

  /** The Ports column of GET /containers/json. */
  portSummary(containerId: string): PortSummary { return portSummaryOf(this.state.attachments.get(containerId), this.state); }

  /** Tests and `berthd --cleanup`: remove every trace of berth networking from the host (not the store). */
  async destroyHostState(): Promise<void> {
    await this.serial(async () => {
      this.dns.closeAll();
      for (const a of this.state.attachments.values()) if (a.sandbox) await this.endpoints.releaseSandbox(a);
      for (const n of this.state.networks.values()) await this.bridges.remove(n);
      await this.rules.removeAll();
    });
  }
}

function safe<T>(fn: () => T): T | undefined { try { return fn(); } catch { return undefined; } }
