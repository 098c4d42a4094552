import { ConflictError, ForbiddenError, InvalidParameterError, NotFoundError } from '../errors.js';
import { matchLabels, parseFilters, parseTimestamp } from '../core/filters.js';
import { bridgeSettings, checkBridgeOptions, OPT_BRIDGE_NAME } from './bridge-options.js';
import { bridgeExists, bridgeOwner, hostRoutes, hostRoutes6, isBridge, type Bridges } from './bridges.js';
import type { DnsServers } from './dns-servers.js';
import { cidrsOverlap, formatCidr, formatIPv4 } from './ip.js';
import { ipamFamilies, parseBip, pickSubnet, pickSubnet6, planIpv4Config, planIpv6Config } from './ipam.js';
import { newId, short, type NetState } from './net-state.js';
import { auxAddresses, type NetworkRecord, type NetworkStore } from './network-store.js';
import type { RuleApplier } from './rules.js';
import { networkResource } from './views.js';

export interface CreateNetworkRequest {
  Name?: string;
  Driver?: string;
  Internal?: boolean;
  Attachable?: boolean;
  EnableIPv6?: boolean;
  /** API 1.47+ (the docker CLI sends it for --ipv4); berth networks always have IPv4 */
  EnableIPv4?: boolean;
  IPAM?: { Driver?: string; Config?: Array<{ Subnet?: string; IPRange?: string; Gateway?: string; AuxiliaryAddresses?: Record<string, string> | null }> | null; Options?: Record<string, string> | null } | null;
  Options?: Record<string, string> | null;
  Labels?: Record<string, string> | null;
  Scope?: string;
  Ingress?: boolean;
  ConfigOnly?: boolean;
  ConfigFrom?: { Network?: string } | null;
}

/** Create fields of swarm and of other IPAM drivers: refused rather than stored and ignored. */
function checkUnsupported(req: CreateNetworkRequest): void {
  const ipamDriver = req.IPAM?.Driver || 'default';
  if (ipamDriver !== 'default') throw new NotFoundError(`plugin "${ipamDriver}" not found`);
  if (Object.keys(req.IPAM?.Options ?? {}).length) throw new InvalidParameterError('IPAM driver options are not supported by berth');
  if (req.Scope && req.Scope !== 'local') throw new InvalidParameterError(`network scope ${req.Scope} is not supported by berth (local only)`);
  if (req.Ingress) throw new InvalidParameterError('ingress networks need a swarm, which berth does not support');
  if (req.ConfigOnly || req.ConfigFrom?.Network) throw new InvalidParameterError('config-only networks (--config-only, --config-from) are not supported by berth');
}

/** Linux interface names: at most 15 bytes (IFNAMSIZ - 1); berth keeps to a safe alphabet. */
export const IFNAME_RE = /^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,14}$/;

export interface NetworkRegistryOptions {
  state: NetState; store: NetworkStore; bridges: Bridges; rules: RuleApplier; dns: DnsServers;
  /** The default bridge's device, or 'none' for no default bridge network. */
  bridgeName: string; bridgeDisabled: boolean; bip: string;
  pools: Array<{ base: string; size: number }>;
  /** where auto-picked IPv6 subnets come from (ipv6Pools: daemon.json's, else the instance's ULA /48) */
  pools6: Array<{ base: string; size: number }>;
  ownerTag: string;
}

export function newRecord(name: string, driver: NetworkRecord['Driver'], p: Partial<NetworkRecord>): NetworkRecord {
  return {
    Id: newId(), Name: name, Created: new Date().toISOString(), Driver: driver, Internal: false, Attachable: false,
    EnableIPv6: false, IPAM: { Driver: 'default', Options: null, Config: [] }, Options: {}, Labels: {}, ...p,
  };
}

/** Network records and their bridges: the predefined three, create, remove, prune, list, inspect. Callers hold serial(). */
export class NetworkRegistry {
  constructor(private readonly o: NetworkRegistryOptions) {}

  private get state(): NetState { return this.o.state; }

  async ensurePredefined(): Promise<void> {
    const byName = (name: string) => [...this.state.networks.values()].find((n) => n.Name === name && n.predefined);
    const { cidr, gateway: gw } = parseBip(this.o.bip);
    if (this.o.bridgeDisabled) {
      // --bridge=none: the default bridge network does not exist (a record from an earlier run goes; its
      // device is left alone, another instance may use that name).
      const old = byName('bridge');
      if (old) { this.state.networks.delete(old.Id); await this.o.store.deleteNetwork(old.Id); }
    } else {
      // Two daemons on one subnet would fight over routes: refuse, as dockerd does for an overlapping --bip.
      const clash = (await hostRoutes()).find((r) => r.dev !== this.o.bridgeName && cidrsOverlap(r, cidr));
      if (clash) {
        throw new InvalidParameterError(`bip ${this.o.bip} overlaps with ${formatCidr(clash)} on ${clash.dev} (another berthd needs another --bip)`);
      }
    }
    const want: NetworkRecord[] = [
      ...(this.o.bridgeDisabled ? [] : [newRecord('bridge', 'bridge', {
        IPAM: { Driver: 'default', Options: null, Config: [{ Subnet: formatCidr(cidr), Gateway: formatIPv4(gw) }] },
        Options: {
          'com.docker.network.bridge.default_bridge': 'true', 'com.docker.network.bridge.enable_icc': 'true',
          'com.docker.network.bridge.enable_ip_masquerade': 'true', 'com.docker.network.bridge.host_binding_ipv4': '0.0.0.0',
          'com.docker.network.bridge.name': this.o.bridgeName, 'com.docker.network.driver.mtu': '1500',
        },
        bridge: this.o.bridgeName,
      })]),
      newRecord('host', 'host', {}),
      newRecord('none', 'null', {}),
    ];
    for (const w of want) {
      const have = byName(w.Name);
      if (have && (w.Name !== 'bridge' || (JSON.stringify(have.IPAM.Config) === JSON.stringify(w.IPAM.Config) && have.bridge === w.bridge))) continue;
      if (have) { w.Id = have.Id; w.Created = have.Created; } // --bip or --bridge changed: same network, new subnet/device
      w.predefined = true;
      this.state.networks.set(w.Id, w);
      await this.o.store.saveNetwork(w);
    }
  }

  /** Checks a create request and builds its record (nothing exists yet). */
  private async plan(req: CreateNetworkRequest): Promise<NetworkRecord> {
    const name = req.Name ?? '';
    if (!name) throw new InvalidParameterError('network name is required');
    // moby (libnetwork config.IsValidName) only refuses blank names: `test 01` is a valid network name.
    if (!name.trim()) throw new InvalidParameterError(`invalid name: ${name}`);
    const driver = req.Driver || 'bridge';
    if (driver === 'host' || driver === 'null') throw new ForbiddenError(`only one instance of "${driver}" network is allowed`);
    if (driver !== 'bridge') throw new NotFoundError(`plugin "${driver}" not found`);
    if ([...this.state.networks.values()].some((n) => n.Name === name)) throw new ConflictError(`network with name ${name} already exists`);
    checkUnsupported(req);
    if (req.EnableIPv4 === false) throw new InvalidParameterError('IPv6-only networks (--ipv4=false) are not supported by berth');
    const opts = req.Options ?? {};
    checkBridgeOptions(opts);
    const fam = ipamFamilies(req.IPAM?.Config ?? [], !!req.EnableIPv6);
    const cfg = await planIpv4Config(fam.v4, this.state.bridgeSubnets(),
      async () => pickSubnet([...this.state.bridgeSubnets(), ...(await hostRoutes())], this.o.pools));
    const cfg6 = fam.v6 && await planIpv6Config(fam.v6, this.state.bridgeSubnets6(),
      async () => pickSubnet6([...this.state.bridgeSubnets6(), ...(await hostRoutes6())], this.o.pools6));
    // Below 1280 the kernel takes IPv6 off the bridge and the veths: refused here, not at the first start
    const { mtu } = bridgeSettings(opts);
    if (cfg6 && mtu && mtu < 1280) throw new InvalidParameterError(`invalid MTU number: ${mtu} (an IPv6 network needs at least 1280)`);
    let id = newId();
    // Another daemon's bridges are named the same way: an auto name that exists on the host is skipped.
    while (!opts[OPT_BRIDGE_NAME] && bridgeExists(`berth-${id.slice(0, 9)}`)) id = newId();
    const bridge = opts[OPT_BRIDGE_NAME] || `berth-${id.slice(0, 9)}`;
    if (bridge.length > 15) throw new InvalidParameterError(`bridge name ${bridge} is longer than 15 characters`);
    if (!IFNAME_RE.test(bridge)) throw new InvalidParameterError(`invalid bridge name ${bridge}`);
    if ([...this.state.networks.values()].some((n) => n.bridge === bridge)) throw new ConflictError(`bridge name ${bridge} is already in use`);
    const owner = await bridgeOwner(bridge);
    if (owner?.startsWith('berth:') && owner !== this.o.ownerTag) throw new ConflictError(`bridge name ${bridge} is already in use by another berth daemon`);
    // A bridge the user made (as moby's ifaceCreatedByUser) is used, never deleted; any other device is refused.
    const external = owner !== undefined && !owner.startsWith('berth:');
    if (external && !isBridge(bridge)) throw new ConflictError(`device ${bridge} exists and is not a bridge`);
    return newRecord(name, 'bridge', {
      Id: id, Internal: !!req.Internal, Attachable: !!req.Attachable, EnableIPv6: !!cfg6,
      // IPv4 first, then IPv6, as moby's inspect lists them
      IPAM: { Driver: req.IPAM?.Driver || 'default', Options: req.IPAM?.Options ?? null, Config: cfg6 ? [cfg, cfg6] : [cfg] },
      Options: opts, Labels: req.Labels ?? {}, bridge, ...(external ? { bridgeExternal: true } : {}),
    });
  }

  async create(req: CreateNetworkRequest): Promise<{ Id: string; Warning: string }> {
    const rec = await this.plan(req);
    const id = rec.Id;
    await this.o.store.saveNetwork(rec); // record first: a crash after this leaves a network reconcile completes
    this.state.networks.set(id, rec);
    try {
      await this.o.store.reserveAux(id, auxAddresses(rec));
      await this.o.bridges.ensure(rec);
      await this.o.rules.apply();
      await this.o.dns.refresh();
    } catch (err) {
      this.state.networks.delete(id);
      await this.o.bridges.remove(rec); // device before record: a crash in between leaves a record init repairs
      await this.o.store.deleteNetwork(id);
      throw err;
    }
    return { Id: id, Warning: '' };
  }

  async remove(ref: string): Promise<void> {
    const n = this.state.resolve(ref);
    if (n.predefined) throw new ForbiddenError(`${n.Name} is a pre-defined network and cannot be removed`);
    const users = this.state.activeEndpoints(n.Id);
    if (users.length) {
      throw new ForbiddenError(`error while removing network: network ${n.Name} has active endpoints (name:"${users[0]!.name}" id:"${short(users[0]!.containerId)}")`);
    }
    await this.removeRecord(n);
  }

  private async removeRecord(n: NetworkRecord): Promise<void> {
    this.o.dns.close(n.Id);
    this.state.networks.delete(n.Id);
    await this.o.bridges.remove(n); // device before record: a crash in between leaves a record init repairs
    await this.o.store.deleteNetwork(n.Id);
    await this.o.rules.apply();
  }

  async prune(filtersRaw?: string | null): Promise<{ NetworksDeleted: string[] }> {
    const f = parseFilters(filtersRaw, ['until', 'label', 'label!']);
    const until = f.get('until')?.[0];
    const untilMs = until ? parseTimestamp(until) : undefined;
    const deleted: string[] = [];
    for (const n of [...this.state.networks.values()]) {
      if (n.predefined || this.state.activeEndpoints(n.Id).length) continue;
      if (untilMs !== undefined && Date.parse(n.Created) >= untilMs) continue;
      if (!matchLabels(f.get('label'), n.Labels)) continue;
      if (f.get('label!')?.length && matchLabels(f.get('label!'), n.Labels)) continue;
      await this.removeRecord(n);
      deleted.push(n.Name);
    }
    return { NetworksDeleted: deleted };
  }

  list(filtersRaw?: string | null): Array<Record<string, unknown>> {
    const f = parseFilters(filtersRaw, ['dangling', 'driver', 'id', 'label', 'name', 'scope', 'type']);
    return [...this.state.networks.values()]
      .filter((n) => {
        if (f.get('name')?.length && !f.get('name')!.some((x) => n.Name.includes(x))) return false;
        if (f.get('id')?.length && !f.get('id')!.some((x) => n.Id.startsWith(x))) return false;
        if (f.get('driver')?.length && !f.get('driver')!.includes(n.Driver)) return false;
        if (f.get('scope')?.length && !f.get('scope')!.includes('local')) return false;
        if (f.get('type')?.length && !f.get('type')!.includes(n.predefined ? 'builtin' : 'custom')) return false;
        if (f.get('dangling')?.length) {
          const want = ['true', '1'].includes(f.get('dangling')![0]!);
          const dangling = !n.predefined && this.state.activeEndpoints(n.Id).length === 0;
          if (want !== dangling) return false;
        }
        return matchLabels(f.get('label'), n.Labels);
      })
      .sort((a, b) => a.Name.localeCompare(b.Name))
      .map((n) => networkResource(this.state, n, false));
  }

  inspect(ref: string): Record<string, unknown> { return networkResource(this.state, this.state.resolve(ref), true); }
}
