import { trace, type Trace } from '../core/trace.js';
import { createHash, randomBytes } from 'node:crypto';
import dgram from 'node:dgram';
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import net from 'node:net';
import { ConflictError, ForbiddenError, InvalidParameterError, NotFoundError, SystemError } from '../errors.js';
import { matchLabels, parseFilters, parseTimestamp } from '../core/filters.js';
import type { Paths } from '../store/paths.js';
import type { Sys } from '../sys/sys.js';
import { execFileFast as execFileP } from '../sys/spawn.js';
import { bridgeConfig, parseAddResult, type CniRunner } from './cni.js';
import { addRecord, EmbeddedDns, emptyRecords, type DnsRecords } from './dns.js';
import { buildHosts, buildResolvConf, upstreamServers } from './etc-files.js';
import { chainPrefixFor, Iptables, planRules, type EndpointPorts, type NetworkRuleSpec } from './iptables.js';
import { cidrContains, cidrsOverlap, formatCidr, formatIPv4, lastAddress, parseCidr, parseIPv4, type Cidr } from './ip.js';
import { NetnsManager } from './netns.js';
import { NetworkPaths, NetworkStore, type AttachmentRecord, type EndpointConfig, type NetworkRecord, type SandboxState } from './network-store.js';
import { allocatePorts, planPublishRequests, portsClash, type PortBinding, type PortMapping, type Proto } from './ports.js';


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
  /**
   * `-b/--bridge`, daemon.json `bridge`: the default bridge's device (default berth0), or 'none' for no default
   * bridge network. It also names the instance on the host: its iptables chain prefix derives from it, so
   * daemons that must run side by side need different bridges (and non-overlapping --bip).
   */
  bridgeName?: string;
  /** daemon.json `bip`: the default bridge's gateway/prefix, e.g. 172.30.0.1/16 */
  bip?: string;
  /** daemon.json `default-address-pools` */
  pools?: Array<{ base: string; size: number }>;
  /** daemon.json `dns`: upstreams when a container has no --dns */
  dns?: string[];
  hostResolvConfPath?: string;
  /** DNS port (53; tests may use another) */
  dnsPort?: number;
}

/** What the container service knows about a container, for connect/disconnect/setup. */
export interface ContainerNetInfo {
  id: string;
  name: string;
  running: boolean;
  /** HostConfig.NetworkMode: default | bridge | host | none | container:<id> | <network name or id> */
  networkMode: string;
  /** NetworkingConfig.EndpointsConfig from create */
  endpointsConfig?: Record<string, { Aliases?: string[] | null; IPAMConfig?: { IPv4Address?: string } | null } | null>;
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

export interface CreateNetworkRequest {
  Name?: string;
  Driver?: string;
  Internal?: boolean;
  Attachable?: boolean;
  EnableIPv6?: boolean;
  IPAM?: { Driver?: string; Config?: Array<{ Subnet?: string; IPRange?: string; Gateway?: string }> | null; Options?: Record<string, string> | null } | null;
  Options?: Record<string, string> | null;
  Labels?: Record<string, string> | null;
}

const newId = () => randomBytes(32).toString('hex');
const short = (id: string) => id.slice(0, 12);
const NAME_RE = /^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/;
/** Linux interface names: at most 15 bytes (IFNAMSIZ - 1); berth keeps to a safe alphabet. */
const IFNAME_RE = /^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,14}$/;
/** What create names a user network's bridge: `berth-` + 9 hex of the network id. */
const USER_BRIDGE_RE = /^berth-[0-9a-f]{9}$/;

/**
 * Docker's networking on top of the CNI bridge plugin: networks (records + bridge devices), container
 * sandboxes (a netns with one veth per network), published ports, NAT and isolation (iptables.ts), embedded
 * DNS for user-defined networks (dns.ts). Every mutation runs under one lock, persists its intent before
 * touching the host, and `reconcile` makes the host match the store after a crash.
 */
export class NetworkService {
  readonly np: NetworkPaths;
  private readonly store: NetworkStore;
  private readonly netns: NetnsManager;
  private readonly ipt: Iptables;
  private networks = new Map<string, NetworkRecord>();
  private attachments = new Map<string, AttachmentRecord>();
  private dnsServers = new Map<string, EmbeddedDns>();
  private lock: Promise<unknown> = Promise.resolve();
  /** Per-container order of setup/teardown/connect/disconnect/forget (their slow parts run outside `lock`). */
  private chains = new Map<string, Promise<unknown>>();
  private hostResolv = '';
  private nextPort?: number;
  private appliedRules?: string;
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
    this.chainPrefix = chainPrefixFor(this.bridgeName);
    this.ipt = o.iptables ?? new Iptables(this.chainPrefix);
    if (this.ipt.prefix !== this.chainPrefix) throw new SystemError(`iptables chain prefix ${this.ipt.prefix} is not this instance's ${this.chainPrefix}`);
    this.ownerTag = `berth:${this.chainPrefix}:${createHash('sha256').update(o.paths.dataRoot).digest('hex').slice(0, 12)}`;
  }

  private get bridgeDisabled(): boolean { return this.bridgeName === NO_BRIDGE; }

  private serial<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.lock.then(fn, fn);
    this.lock = run.catch(() => undefined);
    return run;
  }

  // ---------------------------------------------------------------- daemon lifecycle

  /** Daemon start: load the store, create the predefined networks, then reconcile against the running containers. */
  init(liveContainerIds: Set<string>, existingContainerIds?: Set<string>): Promise<void> {
    return this.serial(async () => {
      await this.store.init();
      this.hostResolv = await fsp.readFile(this.o.hostResolvConfPath ?? '/etc/resolv.conf', 'utf8').catch(() => '');
      for (const r of await this.store.loadNetworks()) this.networks.set(r.Id, r);
      for (const a of await this.store.loadAttachments()) this.attachments.set(a.containerId, a);
      await this.ensurePredefined();
      await fsp.writeFile('/proc/sys/net/ipv4/ip_forward', '1').catch(() => undefined);
      await this.ipt.ensureJumps();
      for (const n of this.networks.values()) if (n.Driver === 'bridge') await this.ensureBridge(n);
      await this.reconcileLocked(liveContainerIds, existingContainerIds);
    });
  }

  /** Stops the DNS servers; leaves sandboxes, bridges and rules in place for running containers (live restore). */
  async close(): Promise<void> {
    // Teardowns finish their CNI DELs outside the lock: let them end, or a netns mount stays behind.
    await Promise.all([...this.chains.values()]);
    await this.serial(async () => { for (const d of this.dnsServers.values()) d.close(); this.dnsServers.clear(); });
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
    for (const a of [...this.attachments.values()]) {
      if (a.sandbox && (!live.has(a.containerId) || a.sandbox.phase !== 'ready' || !(await this.netns.isMounted(a.sandbox.netnsPath)))) {
        await this.releaseSandbox(a);
      }
      if (existing && !existing.has(a.containerId) && !live.has(a.containerId)) {
        this.attachments.delete(a.containerId);
        await this.store.deleteAttachment(a.containerId);
      }
    }
    const claimed = new Set([...this.attachments.values()].filter((a) => a.sandbox).map((a) => a.containerId));
    for (const name of await this.netns.list()) {
      if (!claimed.has(name)) await this.netns.remove(name).catch(() => undefined);
    }
    for (const [netId, leases] of await this.store.leases()) {
      const n = this.networks.get(netId);
      if (!n) { await fsp.rm(this.np.ipamNetworkDir(netId), { recursive: true, force: true }); continue; }
      for (const l of leases) {
        if (claimed.has(l.containerId) && this.attachments.get(l.containerId)?.sandbox?.endpoints[netId]?.ip === l.ip) continue;
        // An orphan lease: let the plugin release it (DEL without a netns is allowed by the CNI spec).
        await this.o.cni.exec('bridge', { command: 'DEL', containerId: l.containerId, netns: '', ifname: 'eth0' }, this.cniConfig(n))
          .catch(() => fsp.rm(`${this.np.ipamNetworkDir(netId)}/${l.ip}`, { force: true }));
        await fsp.rm(`${this.np.ipamNetworkDir(netId)}/${l.ip}`, { force: true });
      }
    }
    // Bridges this instance made that no network claims (a crash inside `network create`). Other daemons'
    // bridges are named alike, so ownership is the ifalias tag, never the name alone.
    const ours = new Set([...this.networks.values()].map((n) => n.bridge).filter(Boolean));
    for (const dev of await fsp.readdir('/sys/class/net').catch(() => [] as string[])) {
      if (USER_BRIDGE_RE.test(dev) && !ours.has(dev) && (await bridgeOwner(dev)) === this.ownerTag) {
        await execFileP('ip', ['link', 'del', dev]).catch(() => undefined);
      }
    }
    await this.applyRules();
    await this.refreshDns();
  }

  // ---------------------------------------------------------------- networks

  private async ensurePredefined(): Promise<void> {
    const byName = (name: string) => [...this.networks.values()].find((n) => n.Name === name && n.predefined);
    const bip = this.o.bip ?? DEFAULT_BRIDGE_CIDR;
    const gw = parseIPv4(bip.split('/')[0] ?? '');
    const cidr = parseCidr(bip);
    if (gw === undefined || !cidr) throw new InvalidParameterError(`invalid bip: ${bip}`);
    if (!cidrContains(cidr, gw) || gw === cidr.base || gw === lastAddress(cidr)) {
      throw new InvalidParameterError(`invalid bip: ${bip}: the address must be a host address of its subnet`);
    }
    if (this.bridgeDisabled) {
      // --bridge=none: the default bridge network does not exist (a record from an earlier run goes; its
      // device is left alone, another instance may use that name).
      const old = byName('bridge');
      if (old) { this.networks.delete(old.Id); await this.store.deleteNetwork(old.Id); }
    } else {
      // Two daemons on one subnet would fight over routes: refuse, as dockerd does for an overlapping --bip.
      const clash = (await hostRoutes()).find((r) => r.dev !== this.bridgeName && cidrsOverlap(r, cidr));
      if (clash) {
        throw new InvalidParameterError(`bip ${bip} overlaps with ${formatCidr(clash)} on ${clash.dev} (another berthd needs another --bip)`);
      }
    }
    const want: NetworkRecord[] = [
      ...(this.bridgeDisabled ? [] : [this.newRecord('bridge', 'bridge', {
        IPAM: { Driver: 'default', Options: null, Config: [{ Subnet: formatCidr(cidr), Gateway: formatIPv4(gw) }] },
        Options: {
          'com.docker.network.bridge.default_bridge': 'true', 'com.docker.network.bridge.enable_icc': 'true',
          'com.docker.network.bridge.enable_ip_masquerade': 'true', 'com.docker.network.bridge.host_binding_ipv4': '0.0.0.0',
          'com.docker.network.bridge.name': this.bridgeName, 'com.docker.network.driver.mtu': '1500',
        },
        bridge: this.bridgeName,
      })]),
      this.newRecord('host', 'host', {}),
      this.newRecord('none', 'null', {}),
    ];
    for (const w of want) {
      const have = byName(w.Name);
      if (have && (w.Name !== 'bridge' || (JSON.stringify(have.IPAM.Config) === JSON.stringify(w.IPAM.Config) && have.bridge === w.bridge))) continue;
      if (have) { w.Id = have.Id; w.Created = have.Created; } // --bip or --bridge changed: same network, new subnet/device
      w.predefined = true;
      this.networks.set(w.Id, w);
      await this.store.saveNetwork(w);
    }
  }

  private newRecord(name: string, driver: NetworkRecord['Driver'], p: Partial<NetworkRecord>): NetworkRecord {
    return {
      Id: newId(), Name: name, Created: new Date().toISOString(), Driver: driver, Internal: false, Attachable: false,
      EnableIPv6: false, IPAM: { Driver: 'default', Options: null, Config: [] }, Options: {}, Labels: {}, ...p,
    };
  }

  /** Docker's lookup order: full id, exact name, id prefix (ambiguous prefixes are an error). */
  resolve(ref: string): NetworkRecord {
    const all = [...this.networks.values()];
    const exact = all.find((n) => n.Id === ref) ?? all.find((n) => n.Name === ref);
    if (exact) return exact;
    const pref = ref ? all.filter((n) => n.Id.startsWith(ref)) : [];
    if (pref.length === 1) return pref[0]!;
    if (pref.length > 1) throw new InvalidParameterError(`network ${ref} is ambiguous (${pref.length} matches found based on ID prefix)`);
    throw new NotFoundError(`network ${ref} not found`);
  }

  create(req: CreateNetworkRequest): Promise<{ Id: string; Warning: string }> {
    return this.serial(async () => {
      const name = req.Name ?? '';
      if (!name) throw new InvalidParameterError('network name is required');
      if (!NAME_RE.test(name)) throw new InvalidParameterError(`invalid network name "${name}": must match [a-zA-Z0-9][a-zA-Z0-9_.-]`);
      const driver = req.Driver || 'bridge';
      if (driver === 'host' || driver === 'null') throw new ForbiddenError(`only one instance of "${driver}" network is allowed`);
      if (driver !== 'bridge') throw new NotFoundError(`plugin "${driver}" not found`);
      if ([...this.networks.values()].some((n) => n.Name === name)) throw new ConflictError(`network with name ${name} already exists`);
      if (req.EnableIPv6) throw new InvalidParameterError('IPv6 networks are not supported by berth');
      const opts = req.Options ?? {};
      const cfgs = req.IPAM?.Config ?? [];
      if (cfgs.length > 1) throw new InvalidParameterError('berth supports one IPv4 subnet per network');
      const c = cfgs[0] ?? {};
      let subnet: Cidr;
      if (c.Subnet) {
        const s = parseCidr(c.Subnet);
        if (!s) throw new InvalidParameterError(`invalid subnet ${c.Subnet} : invalid CIDR address: ${c.Subnet}`);
        subnet = s;
        if (this.bridgeSubnets().some((o) => cidrsOverlap(o, subnet))) {
          throw new ForbiddenError('invalid pool request: Pool overlaps with other one on this address space');
        }
      } else {
        if (c.Gateway || c.IPRange) throw new InvalidParameterError('invalid network configuration: a gateway or ip-range requires a subnet');
        subnet = await this.pickSubnet();
      }
      if (subnet.prefix > 30) throw new InvalidParameterError(`subnet ${formatCidr(subnet)} is too small`);
      let gateway = subnet.base + 1;
      if (c.Gateway) {
        const g = parseIPv4(c.Gateway);
        if (g === undefined) throw new InvalidParameterError(`invalid gateway address ${c.Gateway}`);
        if (!cidrContains(subnet, g)) throw new ForbiddenError(`no matching subnet for gateway ${c.Gateway}`);
        gateway = g;
      }
      if (c.IPRange) {
        const r = parseCidr(c.IPRange);
        if (!r) throw new InvalidParameterError(`invalid ip-range ${c.IPRange}`);
        if (!cidrContains(subnet, r.base) || r.prefix < subnet.prefix) throw new ForbiddenError(`no matching subnet for range ${c.IPRange}`);
      }
      let id = newId();
      // Another daemon's bridges are named the same way: an auto name that exists on the host is skipped.
      while (!opts['com.docker.network.bridge.name'] && fs.existsSync(`/sys/class/net/berth-${id.slice(0, 9)}`)) id = newId();
      const bridge = opts['com.docker.network.bridge.name'] || `berth-${id.slice(0, 9)}`;
      if (bridge.length > 15) throw new InvalidParameterError(`bridge name ${bridge} is longer than 15 characters`);
      if (!IFNAME_RE.test(bridge)) throw new InvalidParameterError(`invalid bridge name ${bridge}`);
      if ([...this.networks.values()].some((n) => n.bridge === bridge)) throw new ConflictError(`bridge name ${bridge} is already in use`);
      const owner = await bridgeOwner(bridge);
      if (owner?.startsWith('berth:') && owner !== this.ownerTag) throw new ConflictError(`bridge name ${bridge} is already in use by another berth daemon`);
      const rec = this.newRecord(name, 'bridge', {
        Id: id, Internal: !!req.Internal, Attachable: !!req.Attachable,
        IPAM: {
          Driver: req.IPAM?.Driver || 'default', Options: req.IPAM?.Options ?? null,
          Config: [{ Subnet: formatCidr(subnet), Gateway: formatIPv4(gateway), ...(c.IPRange ? { IPRange: formatCidr(parseCidr(c.IPRange)!) } : {}) }],
        },
        Options: opts, Labels: req.Labels ?? {}, bridge,
      });
      await this.store.saveNetwork(rec); // record first: a crash after this leaves a network reconcile completes
      this.networks.set(id, rec);
      try {
        await this.ensureBridge(rec);
        await this.applyRules();
        await this.refreshDns();
      } catch (err) {
        this.networks.delete(id);
        await this.deleteBridge(rec); // device before record: a crash in between leaves a record init repairs
        await this.store.deleteNetwork(id);
        throw err;
      }
      return { Id: id, Warning: '' };
    });
  }

  remove(ref: string): Promise<void> {
    return this.serial(async () => {
      const n = this.resolve(ref);
      if (n.predefined) throw new ForbiddenError(`${n.Name} is a pre-defined network and cannot be removed`);
      const users = this.activeEndpoints(n.Id);
      if (users.length) {
        throw new ForbiddenError(`error while removing network: network ${n.Name} has active endpoints (name:"${users[0]!.name}" id:"${short(users[0]!.containerId)}")`);
      }
      await this.removeNetworkLocked(n);
    });
  }

  private async removeNetworkLocked(n: NetworkRecord): Promise<void> {
    this.dnsServers.get(n.Id)?.close();
    this.dnsServers.delete(n.Id);
    this.networks.delete(n.Id);
    await this.deleteBridge(n); // device before record: a crash in between leaves a record init repairs
    await this.store.deleteNetwork(n.Id);
    await this.applyRules();
  }

  prune(filtersRaw?: string | null): Promise<{ NetworksDeleted: string[] }> {
    return this.serial(async () => {
      const f = parseFilters(filtersRaw, ['until', 'label', 'label!']);
      const until = f.get('until')?.[0];
      const untilMs = until ? parseTimestamp(until) : undefined;
      const deleted: string[] = [];
      for (const n of [...this.networks.values()]) {
        if (n.predefined || this.activeEndpoints(n.Id).length) continue;
        if (untilMs !== undefined && Date.parse(n.Created) >= untilMs) continue;
        if (!matchLabels(f.get('label'), n.Labels)) continue;
        if (f.get('label!')?.length && matchLabels(f.get('label!'), n.Labels)) continue;
        await this.removeNetworkLocked(n);
        deleted.push(n.Name);
      }
      return { NetworksDeleted: deleted };
    });
  }

  list(filtersRaw?: string | null): Array<Record<string, unknown>> {
    const f = parseFilters(filtersRaw, ['dangling', 'driver', 'id', 'label', 'name', 'scope', 'type']);
    return [...this.networks.values()]
      .filter((n) => {
        if (f.get('name')?.length && !f.get('name')!.some((x) => n.Name.includes(x))) return false;
        if (f.get('id')?.length && !f.get('id')!.some((x) => n.Id.startsWith(x))) return false;
        if (f.get('driver')?.length && !f.get('driver')!.includes(n.Driver)) return false;
        if (f.get('scope')?.length && !f.get('scope')!.includes('local')) return false;
        if (f.get('type')?.length && !f.get('type')!.includes(n.predefined ? 'builtin' : 'custom')) return false;
        if (f.get('dangling')?.length) {
          const want = ['true', '1'].includes(f.get('dangling')![0]!);
          const dangling = !n.predefined && this.activeEndpoints(n.Id).length === 0;
          if (want !== dangling) return false;
        }
        return matchLabels(f.get('label'), n.Labels);
      })
      .sort((a, b) => a.Name.localeCompare(b.Name))
      .map((n) => this.resource(n, false));
  }

  inspect(ref: string): Record<string, unknown> { return this.resource(this.resolve(ref), true); }

  private resource(n: NetworkRecord, withContainers: boolean): Record<string, unknown> {
    const containers: Record<string, unknown> = {};
    if (withContainers) {
      for (const a of this.activeEndpoints(n.Id)) {
        const ep = a.sandbox!.endpoints[n.Id]!;
        containers[a.containerId] = { Name: a.name, EndpointID: ep.endpointId, MacAddress: ep.mac, IPv4Address: `${ep.ip}/${ep.prefixLen}`, IPv6Address: '' };
      }
    }
    return {
      Name: n.Name, Id: n.Id, Created: n.Created, Scope: 'local', Driver: n.Driver, EnableIPv4: n.Driver === 'bridge', EnableIPv6: false,
      IPAM: n.IPAM, Internal: n.Internal, Attachable: n.Attachable, Ingress: false, ConfigFrom: { Network: '' }, ConfigOnly: false,
      Containers: containers, Options: n.Options, Labels: n.Labels,
    };
  }

  /** Containers with an endpoint on the network, or one being set up (a network must not go under a start). */
  private activeEndpoints(networkId: string): AttachmentRecord[] {
    return [...this.attachments.values()].filter((a) => a.sandbox && (a.sandbox.endpoints[networkId]
      || (a.sandbox.phase === 'setting-up' && a.networks.some((w) => w.networkId === networkId))));
  }

  private bridgeSubnets(): Cidr[] {
    return [...this.networks.values()].filter((n) => n.Driver === 'bridge').map((n) => parseCidr(n.IPAM.Config[0]!.Subnet)!);
  }

  private async pickSubnet(): Promise<Cidr> {
    const used = [...this.bridgeSubnets(), ...(await hostRoutes())];
    for (const pool of this.o.pools ?? DEFAULT_POOLS) {
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

  private cniConfig(n: NetworkRecord, staticIp = false): Record<string, unknown> {
    const c = n.IPAM.Config[0]!;
    const subnet = parseCidr(c.Subnet)!;
    let rangeStart: string | undefined, rangeEnd: string | undefined;
    if (c.IPRange && !staticIp) {
      // A static --ip may lie outside --ip-range (Docker allows it): then the whole subnet is the range.
      const r = parseCidr(c.IPRange)!;
      rangeStart = formatIPv4(Math.max(r.base, subnet.base + 1));
      rangeEnd = formatIPv4(Math.min(lastAddress(r), lastAddress(subnet) - 1));
    }
    const mtu = Number(n.Options['com.docker.network.driver.mtu'] ?? 0);
    return bridgeConfig({
      name: n.Id, bridge: n.bridge!, subnet: c.Subnet, gateway: c.Gateway, rangeStart, rangeEnd,
      ipamDataDir: this.np.ipamDir, defaultRoute: !n.Internal, ...(mtu ? { mtu } : {}),
    });
  }

  /** The bridge exists with its gateway address before any container joins (DNS listens there). */
  private async ensureBridge(n: NetworkRecord): Promise<void> {
    const dev = n.bridge!;
    const c = n.IPAM.Config[0]!;
    const prefix = c.Subnet.split('/')[1];
    if (!fs.existsSync(`/sys/class/net/${dev}`)) {
      await execFileP('ip', ['link', 'add', 'name', dev, 'type', 'bridge']).catch((err: Error) => {
        if (!fs.existsSync(`/sys/class/net/${dev}`)) throw new SystemError(`create bridge ${dev}: ${err.message}`);
      });
    }
    const { stdout } = await execFileP('ip', ['-o', '-4', 'addr', 'show', 'dev', dev]);
    if (!stdout.includes(` ${c.Gateway}/`)) await execFileP('ip', ['addr', 'add', `${c.Gateway}/${prefix}`, 'dev', dev]);
    // The alias cannot be given to `ip link add` (ignored there), so it follows at once; an existing device
    // with a tag keeps it (the default bridge may be shared by daemons of one prefix).
    if ((await bridgeOwner(dev)) === '') await execFileP('ip', ['link', 'set', 'dev', dev, 'alias', this.ownerTag]);
    // A bridge whose MAC was never set takes the lowest MAC of its ports: each new veth may change it, and the
    // containers' ARP entries for the gateway then point at a MAC that is gone for seconds (DNS queries to the
    // embedded server time out). Setting it, even to its current value, pins it (as Docker does).
    // A bridge without ports reports 00:00:00:00:00:00: that one gets a random locally administered MAC.
    const assign = (await fsp.readFile(`/sys/class/net/${dev}/addr_assign_type`, 'utf8').catch(() => '3')).trim();
    const current = (await fsp.readFile(`/sys/class/net/${dev}/address`, 'utf8').catch(() => '')).trim();
    const usable = /^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/.test(current) && current !== '00:00:00:00:00:00';
    if (assign !== '3' || !usable) {
      const mac = usable ? current : ['02', ...randomBytes(5).toString('hex').match(/../g)!].join(':');
      await execFileP('ip', ['link', 'set', 'dev', dev, 'address', mac]);
    }
    await execFileP('ip', ['link', 'set', dev, 'up']);
    // 127.0.0.1:<published port> is DNATed into this bridge; the kernel drops such packets unless this is set.
    await fsp.writeFile(`/proc/sys/net/ipv4/conf/${dev}/route_localnet`, '1');
  }

  private async deleteBridge(n: NetworkRecord): Promise<void> {
    if (n.bridge && fs.existsSync(`/sys/class/net/${n.bridge}`)) await execFileP('ip', ['link', 'del', n.bridge]).catch(() => undefined);
  }

  // ---------------------------------------------------------------- containers

  /** The networks a container asks for at create (NetworkMode + EndpointsConfig) → attach list. */
  private wantedNetworks(c: ContainerNetInfo): Array<{ networkId: string } & EndpointConfig> {
    const mode = c.networkMode || 'default';
    const out: Array<{ networkId: string } & EndpointConfig> = [];
    const first = mode === 'default' ? 'bridge' : mode;
    const cfgFor = (ref: string, n: NetworkRecord) => {
      const e = c.endpointsConfig?.[ref] ?? c.endpointsConfig?.[n.Name] ?? c.endpointsConfig?.[n.Id] ??
        (n.Name === 'bridge' ? c.endpointsConfig?.default : undefined) ?? null;
      return { aliases: [...(e?.Aliases ?? [])], ipv4Address: e?.IPAMConfig?.IPv4Address || undefined };
    };
    // --bridge=none: the default network is simply absent (dockerd marks such containers NetworkDisabled).
    const skip = (ref: string) => this.bridgeDisabled && (ref === 'bridge' || ref === 'default');
    if (!skip(first)) {
      const n0 = this.resolve(first);
      out.push({ networkId: n0.Id, ...cfgFor(first, n0) });
    }
    for (const ref of Object.keys(c.endpointsConfig ?? {})) {
      if (skip(ref)) continue;
      // the docker CLI names the endpoint of its default network "default"
      const n = this.resolve(ref === 'default' ? 'bridge' : ref);
      if (!out.some((x) => x.networkId === n.Id)) out.push({ networkId: n.Id, ...cfgFor(ref, n) });
    }
    return out;
  }

  private attachmentFor(c: ContainerNetInfo): AttachmentRecord {
    let a = this.attachments.get(c.id);
    if (!a) {
      a = { containerId: c.id, name: c.name.replace(/^\//, ''), networks: this.wantedNetworks(c), publish: [], exposed: [] };
      this.attachments.set(c.id, a);
    }
    a.name = c.name.replace(/^\//, '');
    return a;
  }

  /** Validates a create request's networks (404 for unknown names, Docker's static-IP rule) before anything exists. */
  validateCreate(c: ContainerNetInfo): void {
    const mode = c.networkMode || 'default';
    if (mode === 'host' || mode === 'none' || mode.startsWith('container:')) return;
    for (const w of this.wantedNetworks(c)) this.checkStaticIp(this.networks.get(w.networkId)!, w.ipv4Address);
  }

  private checkStaticIp(n: NetworkRecord, ip?: string): void {
    if (!ip) return;
    if (n.predefined) throw new InvalidParameterError('user specified IP address is supported on user defined networks only');
    const v = parseIPv4(ip);
    if (v === undefined) throw new InvalidParameterError(`invalid IPv4 address: ${ip}`);
    if (!cidrContains(parseCidr(n.IPAM.Config[0]!.Subnet)!, v)) {
      throw new InvalidParameterError(`no configured subnet or ip-range contain the IP address ${ip}`);
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
          await this.serial(() => this.releaseSandbox(a)).catch(() => undefined);
          throw err;
        }
        tr.mark('netns');
        const done = this.completeSetup(o, a, sb, tr);
        resolveEarly({ network: { mode: 'path', netnsPath: sb.netnsPath }, done });
        await done.catch(() => undefined); // the caller hears of a failure through `done`
      }).catch(rejectEarly);
    });
  }

  /** Under the lock: validate, reserve ports, record the intent (or answer at once for host/none modes). */
  private planSetup(o: SetupOptions): Promise<{ result: SetupResult } | { a: AttachmentRecord }> {
    return this.serial(async () => {
      const mode = o.networkMode || 'default';
      const hostsBase = { hostname: o.hostname, domainname: o.domainname, extraHosts: o.extraHosts, hostGatewayIp: this.defaultGateway() };
      if (mode === 'host') {
        const hostHosts = await fsp.readFile('/etc/hosts', 'utf8').catch(() => '127.0.0.1\tlocalhost\n');
        const extra = buildHosts({ ...hostsBase, ips: [] }).split('\n').slice(6).join('\n');
        return { result: { network: { mode: 'host' }, hosts: hostHosts + extra, resolvConf: this.hostResolv } };
      }
      const loopbackOnly = (): { result: SetupResult } => ({ result: {
        network: { mode: 'none' }, hosts: buildHosts({ ...hostsBase, ips: [] }),
        resolvConf: buildResolvConf({ hostResolvConf: this.hostResolv, dns: o.dns, dnsSearch: o.dnsSearch, dnsOptions: o.dnsOptions }),
      } });
      if (mode === 'none' || mode.startsWith('container:')) return loopbackOnly();
      const a = this.attachmentFor(o);
      if (a.sandbox) { await this.releaseSandbox(a); await this.applyRules(); await this.refreshDns(); } // a stale one from an unclean stop
      if (!a.networks.length) return loopbackOnly(); // the default network under --bridge=none
      for (const w of a.networks) {
        const n = this.networks.get(w.networkId);
        if (!n) throw new NotFoundError(`network ${w.networkId} not found`);
        this.checkStaticIp(n, w.ipv4Address);
      }
      a.publish = planPublishRequests(o.portBindings, !!o.publishAllPorts, o.exposedPorts);
      a.exposed = Object.keys(o.exposedPorts ?? {}).concat(Object.keys(o.portBindings ?? {}));
      a.hostsPath = o.hostsPath;
      a.resolvConfPath = o.resolvConfPath;
      a.hostsOptions = { hostname: o.hostname, domainname: o.domainname, extraHosts: o.extraHosts };
      a.dns = o.dns;
      a.dnsSearch = o.dnsSearch;
      a.dnsOptions = o.dnsOptions;
      const ports = await this.allocate(a, a.name);
      a.sandbox = { sandboxId: newId(), netnsPath: this.netns.pathOf(a.containerId), phase: 'setting-up', endpoints: {}, ports };
      await this.store.saveAttachment(a); // intent first: reconcile undoes a half-built sandbox
      return { a };
    });
  }

  /** Outside the lock: this container's interfaces (CNI ADD); then under it: rules and DNS. */
  private async completeSetup(o: SetupOptions, a: AttachmentRecord, sb: SandboxState, tr: Trace): Promise<SetupResult> {
    try {
      for (const w of a.networks) await this.addEndpoint(a, w);
    } catch (err) {
      await this.serial(() => this.releaseSandbox(a)).catch(() => undefined);
      throw err;
    }
    tr.mark('cni');
    return this.serial(async () => {
      try {
        // A network cannot go while this sandbox is setting up (activeEndpoints counts it); checked anyway.
        for (const w of a.networks) if (!this.networks.has(w.networkId)) throw new NotFoundError(`network ${w.networkId} not found`);
        sb.phase = 'ready';
        await this.store.saveAttachment(a);
        await this.applyRules();
        await this.refreshDns();
      } catch (err) {
        await this.releaseSandbox(a).catch(() => undefined);
        await this.applyRules().catch(() => undefined);
        await this.refreshDns().catch(() => undefined);
        throw err;
      }
      tr.mark('publish');
      tr.end();
      const first = this.networks.get(a.networks[0]!.networkId)!;
      const embedded = first.predefined ? undefined : first.IPAM.Config[0]!.Gateway;
      return {
        network: { mode: 'path', netnsPath: sb.netnsPath },
        hosts: this.hostsOf(a),
        resolvConf: buildResolvConf({ hostResolvConf: this.hostResolv, dns: o.dns ?? this.o.dns, dnsSearch: o.dnsSearch, dnsOptions: o.dnsOptions, embeddedDns: embedded }),
      };
    });
  }

  private hostsOf(a: AttachmentRecord): string {
    const ips = a.networks.map((w) => a.sandbox?.endpoints[w.networkId]?.ip).filter((x): x is string => !!x);
    return buildHosts({ hostname: a.hostsOptions?.hostname ?? short(a.containerId), domainname: a.hostsOptions?.domainname, extraHosts: a.hostsOptions?.extraHosts, hostGatewayIp: this.defaultGateway(), ips });
  }

  private defaultGateway(): string | undefined {
    return [...this.networks.values()].find((n) => n.predefined && n.Driver === 'bridge')?.IPAM.Config[0]?.Gateway;
  }

  private async allocate(a: AttachmentRecord, endpointName: string): Promise<PortMapping[]> {
    if (!a.publish.length) return [];
    const taken = [...this.attachments.values()].filter((x) => x !== a && x.sandbox).flatMap((x) => x.sandbox!.ports);
    const eph = await ephemeralRange();
    const foreign = await this.ipt.foreignPublished();
    // Another berthd's published port holds no socket here: to this instance it is a busy host port.
    const isFree = async (proto: Proto, hostIp: string, port: number) =>
      !foreign.some((f) => portsClash(f, { proto, hostIp, hostPort: port })) && probeFree(proto, hostIp, port);
    try {
      const out = await allocatePorts(a.publish, taken, eph, isFree, this.nextPort);
      const last = out.filter((p) => p.hostPort >= eph[0] && p.hostPort <= eph[1]).pop();
      if (last) this.nextPort = last.hostPort + 1;
      return out;
    } catch (err) {
      if (err instanceof ConflictError) {
        throw new ConflictError(`driver failed programming external connectivity on endpoint ${endpointName} (${newId()}): ${err.message}`, { cause: err });
      }
      throw err;
    }
  }

  private async addEndpoint(a: AttachmentRecord, w: { networkId: string } & EndpointConfig): Promise<void> {
    const n = this.networks.get(w.networkId)!;
    const sb = a.sandbox!;
    const used = new Set(Object.values(sb.endpoints).map((e) => e.ifname));
    let i = 0;
    while (used.has(`eth${i}`)) i++;
    const ifname = `eth${i}`;
    if (!fs.existsSync(`/sys/class/net/${n.bridge}`)) await this.ensureBridge(n); // deleted behind our back
    const args: Record<string, string> = {};
    if (w.ipv4Address) args.IP = w.ipv4Address;
    const res = await this.o.cni.exec('bridge', { command: 'ADD', containerId: a.containerId, netns: sb.netnsPath, ifname, args }, this.cniConfig(n, !!w.ipv4Address))
      .catch((err: Error) => {
        if (w.ipv4Address && /already|requested IP/.test(err.message)) throw new ForbiddenError(`Address already in use`, { cause: err });
        throw err;
      });
    const r = parseAddResult(res ?? {}, ifname);
    const dnsNames = n.predefined ? [] : [a.name, ...w.aliases, short(a.containerId)].filter((x, k, arr) => x && arr.indexOf(x) === k);
    sb.endpoints[n.Id] = { endpointId: newId(), ifname, ip: r.ip, prefixLen: r.prefixLen, gateway: r.gateway, mac: r.mac, dnsNames };
  }

  private async delEndpoint(a: AttachmentRecord, networkId: string, netnsAlive: boolean, sb: SandboxState = a.sandbox!): Promise<void> {
    const ep = sb.endpoints[networkId];
    const n = this.networks.get(networkId);
    if (n && n.Driver === 'bridge') {
      await this.o.cni.exec('bridge', { command: 'DEL', containerId: a.containerId, netns: netnsAlive ? sb.netnsPath : '', ifname: ep?.ifname ?? 'eth0' }, this.cniConfig(n))
        .catch(() => undefined);
    }
    delete sb.endpoints[networkId];
  }

  /** Undo a sandbox entirely (idempotent): endpoints, IPAM leases, netns; the attachment's wishes are kept. */
  private async releaseSandbox(a: AttachmentRecord): Promise<void> {
    const sb = a.sandbox;
    if (!sb) return;
    await this.releaseHost(a, sb);
    a.sandbox = undefined;
    await this.store.saveAttachment(a);
  }

  /** The host side of a sandbox's end: CNI DELs (veths, leases) and the netns. Needs no lock once `sb` is detached. */
  private async releaseHost(a: AttachmentRecord, sb: SandboxState): Promise<void> {
    const alive = await this.netns.isMounted(sb.netnsPath);
    for (const netId of Object.keys(sb.endpoints)) await this.delEndpoint(a, netId, alive, sb);
    // Endpoints added before a crash may be missing from the record: let host-local release by container id.
    for (const w of sb.phase === 'ready' ? [] : a.networks) {
      const n = this.networks.get(w.networkId);
      if (n?.Driver === 'bridge') {
        await this.o.cni.exec('bridge', { command: 'DEL', containerId: a.containerId, netns: '', ifname: 'eth0' }, this.cniConfig(n)).catch(() => undefined);
      }
    }
    await this.netns.remove(a.containerId).catch(() => undefined);
  }

  /**
   * Container exit: tear the sandbox down, free its ports and addresses. The record and the rules change
   * under the lock; the CNI DELs run outside it (a crash in between is swept by reconcile: unclaimed netns
   * and leases go).
   */
  teardown(containerId: string): Promise<void> {
    return this.perContainer(containerId, async () => {
      const taken = await this.serial(async () => {
        const a = this.attachments.get(containerId);
        const sb = a?.sandbox;
        if (!a || !sb) return undefined;
        a.sandbox = undefined;
        await this.store.saveAttachment(a);
        await this.applyRules();
        await this.refreshDns();
        return { a, sb };
      });
      if (taken) await this.releaseHost(taken.a, taken.sb);
    });
  }

  /** Container removal: forget its network wishes too. */
  forget(containerId: string): Promise<void> {
    return this.perContainer(containerId, async () => {
      const taken = await this.serial(async () => {
        const a = this.attachments.get(containerId);
        if (!a) return undefined;
        const sb = a.sandbox;
        a.sandbox = undefined;
        this.attachments.delete(containerId);
        await this.store.deleteAttachment(containerId);
        if (sb) { await this.applyRules(); await this.refreshDns(); }
        return sb ? { a, sb } : undefined;
      });
      if (taken) await this.releaseHost(taken.a, taken.sb);
    });
  }

  /** Runs `fn` after every earlier perContainer call for the same container has settled. */
  private perContainer<T>(id: string, fn: () => Promise<T>): Promise<T> {
    const run = (this.chains.get(id) ?? Promise.resolve()).then(fn, fn);
    const tail = run.then(() => undefined, () => undefined);
    this.chains.set(id, tail);
    void tail.then(() => { if (this.chains.get(id) === tail) this.chains.delete(id); });
    return run;
  }

  /** `docker network connect`: on a running container a new interface appears at once; otherwise at next start. */
  connect(netRef: string, c: ContainerNetInfo, cfg?: { Aliases?: string[] | null; IPAMConfig?: { IPv4Address?: string } | null } | null): Promise<ConnectResult | undefined> {
    return this.perContainer(c.id, () => this.serial(async () => {
      const n = this.resolve(netRef);
      if (n.Driver !== 'bridge') throw new ForbiddenError('container cannot be disconnected from host network or connected to host network');
      const mode = c.networkMode || 'default';
      if (mode === 'host' || mode === 'none' || mode.startsWith('container:')) {
        throw new ForbiddenError(`container sharing network namespace with another container or host cannot be connected to any other network`);
      }
      const a = this.attachmentFor(c);
      const name = a.name;
      if (a.networks.some((w) => w.networkId === n.Id)) throw new ForbiddenError(`endpoint with name ${name} already exists in network ${n.Name}`);
      const w = { networkId: n.Id, aliases: [...(cfg?.Aliases ?? [])], ipv4Address: cfg?.IPAMConfig?.IPv4Address || undefined };
      this.checkStaticIp(n, w.ipv4Address);
      let result: ConnectResult | undefined;
      if (c.running && a.sandbox?.phase === 'ready') {
        await this.addEndpoint(a, w);
        const ep = a.sandbox.endpoints[n.Id]!;
        result = { IPAddress: ep.ip, Gateway: ep.gateway, MacAddress: ep.mac, IPPrefixLen: ep.prefixLen };
      }
      const hadEmbedded = a.networks.some((x) => !this.networks.get(x.networkId)?.predefined);
      a.networks.push(w);
      await this.store.saveAttachment(a);
      if (result) {
        await this.applyRules(); await this.refreshDns(); await this.rewriteHosts(a);
        // As dockerd: joining a user-defined network switches the container to the embedded DNS.
        if (!hadEmbedded && !n.predefined && a.resolvConfPath) {
          const conf = buildResolvConf({ hostResolvConf: this.hostResolv, dns: a.dns ?? this.o.dns, dnsSearch: a.dnsSearch, dnsOptions: a.dnsOptions, embeddedDns: n.IPAM.Config[0]!.Gateway });
          await fsp.writeFile(a.resolvConfPath, conf).catch(() => undefined);
        }
      }
      return result;
    }));
  }

  disconnect(netRef: string, c: ContainerNetInfo, force = false): Promise<void> {
    return this.perContainer(c.id, () => this.serial(async () => {
      const n = this.resolve(netRef);
      const a = this.attachmentFor(c);
      if (!a.networks.some((w) => w.networkId === n.Id)) {
        if (force) return;
        throw new ForbiddenError(`container ${c.id} is not connected to network ${n.Name}`);
      }
      if (a.sandbox?.endpoints[n.Id]) {
        await this.delEndpoint(a, n.Id, await this.netns.isMounted(a.sandbox.netnsPath));
      }
      a.networks = a.networks.filter((w) => w.networkId !== n.Id);
      await this.store.saveAttachment(a);
      await this.applyRules();
      await this.refreshDns();
      await this.rewriteHosts(a);
    }));
  }

  private async rewriteHosts(a: AttachmentRecord): Promise<void> {
    // In place (no rename): the file is bind-mounted into the container by inode.
    if (a.hostsPath && a.sandbox) await fsp.writeFile(a.hostsPath, this.hostsOf(a)).catch(() => undefined);
  }

  /** The netns of a running container (for --network container:<id>). */
  netnsPathOf(containerId: string): string | undefined {
    const sb = this.attachments.get(containerId)?.sandbox;
    return sb?.phase === 'ready' ? sb.netnsPath : undefined;
  }

  /** NetworkSettings for container inspect (Docker's shape; top-level legacy fields mirror the default bridge). */
  settings(c: ContainerNetInfo): Record<string, unknown> {
    const a = this.attachments.get(c.id);
    const sb = a?.sandbox;
    const ports: Record<string, Array<{ HostIp: string; HostPort: string }> | null> = {};
    for (const k of a?.exposed ?? []) { const key = k.includes('/') ? k.toLowerCase() : `${k}/tcp`; ports[key] ??= null; }
    for (const p of sb?.ports ?? []) (ports[`${p.containerPort}/${p.proto}`] ??= [])!.push({ HostIp: p.hostIp || '0.0.0.0', HostPort: String(p.hostPort) });
    const networks: Record<string, unknown> = {};
    const mode = c.networkMode || 'default';
    const list = a?.networks ?? (mode === 'host' || mode === 'none' ? [{ networkId: this.resolve(mode).Id, aliases: [] as string[] }]
      : mode.startsWith('container:') ? [] : safe(() => this.wantedNetworks(c)) ?? []);
    for (const w of list) {
      const n = this.networks.get(w.networkId);
      if (!n) continue;
      const ep = sb?.endpoints[n.Id];
      networks[n.Name] = {
        IPAMConfig: 'ipv4Address' in w && w.ipv4Address ? { IPv4Address: w.ipv4Address } : null, Links: null,
        Aliases: w.aliases.length ? w.aliases : null, MacAddress: ep?.mac ?? '', DriverOpts: null, GwPriority: 0, NetworkID: n.Id,
        EndpointID: ep?.endpointId ?? '', Gateway: ep?.gateway ?? '', IPAddress: ep?.ip ?? '', IPPrefixLen: ep?.prefixLen ?? 0,
        IPv6Gateway: '', GlobalIPv6Address: '', GlobalIPv6PrefixLen: 0, DNSNames: ep?.dnsNames.length ? ep.dnsNames : null,
      };
    }
    const def = [...this.networks.values()].find((n) => n.predefined && n.Driver === 'bridge');
    const dep = def ? sb?.endpoints[def.Id] : undefined;
    return {
      Bridge: '', SandboxID: sb?.sandboxId ?? '', SandboxKey: sb?.netnsPath ?? '', HairpinMode: false,
      LinkLocalIPv6Address: '', LinkLocalIPv6PrefixLen: 0, Ports: ports, SecondaryIPAddresses: null, SecondaryIPv6Addresses: null,
      EndpointID: dep?.endpointId ?? '', Gateway: dep?.gateway ?? '', GlobalIPv6Address: '', GlobalIPv6PrefixLen: 0,
      IPAddress: dep?.ip ?? '', IPPrefixLen: dep?.prefixLen ?? 0, IPv6Gateway: '', MacAddress: dep?.mac ?? '', Networks: networks,
    };
  }

  /** The Ports column of GET /containers/json. */
  portSummary(containerId: string): Array<{ IP?: string; PrivatePort: number; PublicPort?: number; Type: Proto }> {
    const a = this.attachments.get(containerId);
    const out: Array<{ IP?: string; PrivatePort: number; PublicPort?: number; Type: Proto }> = [];
    for (const p of a?.sandbox?.ports ?? []) out.push({ IP: p.hostIp || '0.0.0.0', PrivatePort: p.containerPort, PublicPort: p.hostPort, Type: p.proto });
    for (const k of a?.exposed ?? []) {
      const [num, proto = 'tcp'] = k.toLowerCase().split('/');
      const port = Number(num);
      if (!out.some((o) => o.PrivatePort === port && o.Type === proto)) out.push({ PrivatePort: port, Type: proto as Proto });
    }
    return out;
  }

  // ---------------------------------------------------------------- rules and DNS

  private async applyRules(): Promise<void> {
    const nets: NetworkRuleSpec[] = [...this.networks.values()].filter((n) => n.Driver === 'bridge').map((n) => ({
      bridge: n.bridge!, subnet: n.IPAM.Config[0]!.Subnet, internal: n.Internal,
      masquerade: n.Options['com.docker.network.bridge.enable_ip_masquerade'] !== 'false',
      icc: n.Options['com.docker.network.bridge.enable_icc'] !== 'false',
    }));
    const eps: EndpointPorts[] = [];
    for (const a of this.attachments.values()) {
      const sb = a.sandbox;
      if (!sb?.ports.length || sb.phase !== 'ready') continue;
      // Ports are published on the first network's address (as Docker does for the endpoint providing connectivity).
      const first = a.networks.map((w) => ({ n: this.networks.get(w.networkId), ep: sb.endpoints[w.networkId] })).find((x) => x.n && x.ep && !x.n.Internal);
      if (!first) continue;
      eps.push({ bridge: first.n!.bridge!, containerIp: first.ep!.ip, ports: sb.ports });
    }
    const text = planRules(nets, eps, this.chainPrefix);
    if (text === this.appliedRules) return; // most starts publish nothing: skip the restore
    await this.ipt.restore(text);
    this.appliedRules = text;
  }

  private async refreshDns(): Promise<void> {
    for (const n of this.networks.values()) {
      if (n.Driver !== 'bridge' || n.predefined) continue;
      const rec: DnsRecords = emptyRecords();
      for (const a of this.activeEndpoints(n.Id)) {
        const ep = a.sandbox!.endpoints[n.Id];
        if (a.sandbox!.phase !== 'ready' || !ep) continue; // names resolve once the container is up
        addRecord(rec, ep.dnsNames, ep.ip);
        if (a.dns?.length) rec.upstreams.set(ep.ip, a.dns);
      }
      let srv = this.dnsServers.get(n.Id);
      if (!srv) {
        const subnet = parseCidr(n.IPAM.Config[0]!.Subnet)!;
        srv = new EmbeddedDns({
          address: n.IPAM.Config[0]!.Gateway, port: this.o.dnsPort ?? 53,
          isClient: (ip) => { const v = parseIPv4(ip); return v !== undefined && cidrContains(subnet, v); },
          defaultUpstreams: () => upstreamServers(this.hostResolv, this.o.dns),
        });
        try { await srv.start(); } catch (err) { throw new SystemError(`embedded DNS for network ${n.Name}: ${(err as Error).message}`, { cause: err }); }
        this.dnsServers.set(n.Id, srv);
      }
      srv.setRecords(rec);
    }
  }

  /** Tests and `berthd --cleanup`: remove every trace of berth networking from the host (not the store). */
  async destroyHostState(): Promise<void> {
    await this.serial(async () => {
      for (const d of this.dnsServers.values()) d.close();
      this.dnsServers.clear();
      for (const a of this.attachments.values()) if (a.sandbox) await this.releaseSandbox(a);
      for (const n of this.networks.values()) await this.deleteBridge(n);
      await this.ipt.removeAll();
      this.appliedRules = undefined;
    });
  }
}

function safe<T>(fn: () => T): T | undefined { try { return fn(); } catch { return undefined; } }

/** A device's ifalias ('' when unset, undefined when there is no such device). */
async function bridgeOwner(dev: string): Promise<string | undefined> {
  try { return (await fsp.readFile(`/sys/class/net/${dev}/ifalias`, 'utf8')).trim(); } catch { return undefined; }
}

async function ephemeralRange(): Promise<[number, number]> {
  const t = await fsp.readFile('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').catch(() => '32768 60999');
  const [a, b] = t.trim().split(/\s+/).map(Number);
  return [a || 32768, b || 60999];
}

/** Routes on the host (from /proc/net/route), so auto-picked subnets avoid the host's own networks. */
async function hostRoutes(): Promise<Array<Cidr & { dev: string }>> {
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

/** Whether a host socket is free (a non-berth process may hold the port: Docker's proxy would fail to bind too). */
async function probeFree(proto: Proto, hostIp: string, port: number): Promise<boolean> {
  if (proto === 'sctp') return true;
  if (proto === 'udp') {
    return new Promise((resolve) => {
      const s = dgram.createSocket('udp4');
      s.once('error', () => { s.close(); resolve(false); });
      s.bind(port, hostIp || '0.0.0.0', () => { s.close(); resolve(true); });
    });
  }
  return new Promise((resolve) => {
    const srv = net.createServer();
    srv.once('error', () => resolve(false));
    srv.listen({ port, host: hostIp || '0.0.0.0', exclusive: true }, () => srv.close(() => resolve(true)));
  });
}
