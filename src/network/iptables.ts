import { createHash } from 'node:crypto';
import { SystemError } from '../errors.js';
import { posixRunner, type ProcessRunner } from '../sys/process-runner.js';
import type { PortMapping, Proto } from './ports.js';


/**
 * berth's packet filtering and NAT, planned as data and applied atomically.
 *
 * Everything lives in berth's own chains; the built-in chains get exactly one jump each (JUMPS). The
 * chains' contents are regenerated from the whole desired state (all networks, all published ports) on
 * every change and loaded with one `iptables-restore --noflush` (a chain declared in the input is
 * flushed first). So a restart after kill -9 converges by re-planning from the store: rules of containers
 * that no longer exist simply are not planned. Docker's chains and policies are never read or changed.
 *
 *   nat    PREROUTING  -m addrtype --dst-type LOCAL -j BERTH-PREROUTING
 *          OUTPUT      -m addrtype --dst-type LOCAL -j BERTH-OUTPUT
 *          POSTROUTING -j BERTH-POSTROUTING
 *          BERTH-PREROUTING: ! -d 127.0.0.0/8 -j BERTH-DNAT   (loopback bindings never match packets from outside, N1)
 *          BERTH-OUTPUT: -j BERTH-DNAT                        (the host itself, incl. 127.0.0.1 via route_localnet)
 *          BERTH-DNAT: one DNAT per published port
 *          BERTH-POSTROUTING: masquerade outbound, local-source (127.0.0.1) and hairpin traffic into the bridge
 *   filter FORWARD (inserted first, so a DROP policy set by Docker does not matter) -j BERTH-FORWARD
 *          BERTH-FORWARD: replies and published (DNATed) traffic in, intra-network, isolation between berth
 *          networks, outbound; everything else into a berth bridge is dropped (N2)
 *   raw    PREROUTING -j BERTH-RAW: drop packets addressed straight to a container's loopback-only published
 *          port from anywhere but its bridge (N1, "direct routing")
 *
 * Several instances on one host: the names above are the default instance's (bridge berth0). An instance with
 * another bridge uses the prefix `BERTH-<6 hex of sha256(bridge)>` (chainPrefixFor) for all six chains and
 * jumps, and touches nothing else. Between instances: every berth bridge matches `berth+`, so a container of
 * one instance cannot open connections into another's networks; replies and published (DNATed) traffic into
 * a bridge that is not ours are RETURNed, for the owning instance's chain to decide. Host ports are
 * allocated across instances by reading the others' DNAT chains (parseForeignPublished).
 */

export interface NetworkRuleSpec { bridge: string; subnet: string; internal: boolean; masquerade: boolean; icc: boolean }
export interface EndpointPorts { bridge: string; containerIp: string; ports: PortMapping[] }

/** Every berth bridge of every instance matches this (berth0, berth-<id>, berth9...): isolation between them. */
export const BRIDGE_WILDCARD = 'berth+';
/** The chain prefix of the default instance (bridge berth0): its chain names are the historical ones. */
export const DEFAULT_CHAIN_PREFIX = 'BERTH';
/** iptables' limit on a chain name (XT_EXTENSION_MAXNAMELEN 29, with the NUL). */
export const MAX_CHAIN_NAME = 28;

const BASE_CHAINS: Record<string, string[]> = {
  nat: ['PREROUTING', 'OUTPUT', 'POSTROUTING', 'DNAT'],
  filter: ['FORWARD'],
  raw: ['RAW'],
};

/**
 * One berth instance's chains (table → names). Several daemons (different bridge, data root, exec root)
 * share one host: each owns only the chains of its prefix and never reads or flushes another's.
 */
export function chainsFor(prefix: string): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (const [table, bases] of Object.entries(BASE_CHAINS)) {
    out[table] = bases.map((b) => {
      const name = `${prefix}-${b}`;
      if (name.length > MAX_CHAIN_NAME) throw new SystemError(`iptables chain name ${name} is longer than ${MAX_CHAIN_NAME} characters`);
      return name;
    });
  }
  return out;
}

/** The one jump per built-in chain into an instance's chains. */
export function jumpsFor(prefix: string): Array<{ table: string; chain: string; rule: string[]; insert?: boolean }> {
  return [
    { table: 'nat', chain: 'PREROUTING', rule: ['-m', 'addrtype', '--dst-type', 'LOCAL', '-j', `${prefix}-PREROUTING`] },
    { table: 'nat', chain: 'OUTPUT', rule: ['-m', 'addrtype', '--dst-type', 'LOCAL', '-j', `${prefix}-OUTPUT`] },
    { table: 'nat', chain: 'POSTROUTING', rule: ['-j', `${prefix}-POSTROUTING`] },
    { table: 'filter', chain: 'FORWARD', rule: ['-j', `${prefix}-FORWARD`], insert: true },
    { table: 'raw', chain: 'PREROUTING', rule: ['-j', `${prefix}-RAW`] },
  ];
}

/** The default instance's jumps and chains (kept for readers of the old constants). */
export const JUMPS = jumpsFor(DEFAULT_CHAIN_PREFIX);
export const CHAINS = chainsFor(DEFAULT_CHAIN_PREFIX);

/** 'BERTH' for the default bridge berth0, else `BERTH-<first 6 hex of sha256(bridge name)>` (24 chars at most with -POSTROUTING). */
export function chainPrefixFor(bridgeName: string): string {
  if (bridgeName === 'berth0') return DEFAULT_CHAIN_PREFIX;
  return `${DEFAULT_CHAIN_PREFIX}-${createHash('sha256').update(bridgeName).digest('hex').slice(0, 6)}`;
}

/** Whether an interface name is covered by BRIDGE_WILDCARD. */
function matchesWildcard(dev: string): boolean { return dev.startsWith(BRIDGE_WILDCARD.slice(0, -1)); }

/** The full iptables-restore input (this instance's chains of nat, filter, raw) for the desired state. */
export function planRules(networks: NetworkRuleSpec[], endpoints: EndpointPorts[], prefix = DEFAULT_CHAIN_PREFIX): string {
  const C = (b: string) => `${prefix}-${b}`;
  const chains = chainsFor(prefix);
  const nat: string[] = [];
  const filter: string[] = [];
  const raw: string[] = [];
  nat.push(`-A ${C('PREROUTING')} ! -d 127.0.0.0/8 -j ${C('DNAT')}`);
  nat.push(`-A ${C('OUTPUT')} -j ${C('DNAT')}`);
  const sorted = [...networks].sort((a, b) => a.bridge.localeCompare(b.bridge));
  const internalBridges = new Set(sorted.filter((n) => n.internal).map((n) => n.bridge));
  for (const ep of [...endpoints].sort((a, b) => a.containerIp.localeCompare(b.containerIp))) {
    if (internalBridges.has(ep.bridge)) continue; // Docker: no port publishing on internal networks
    for (const p of ep.ports) {
      const dst = p.hostIp ? ` -d ${p.hostIp}/32` : '';
      nat.push(`-A ${C('DNAT')}${dst} -p ${p.proto} -m ${p.proto} --dport ${p.hostPort} -j DNAT --to-destination ${ep.containerIp}:${p.containerPort}`);
      if (p.hostIp.startsWith('127.')) {
        raw.push(`-A ${C('RAW')} -d ${ep.containerIp}/32 ! -i ${ep.bridge} -p ${p.proto} -m ${p.proto} --dport ${p.containerPort} -j DROP`);
      }
    }
  }
  for (const n of sorted.filter((x) => !x.internal)) {
    if (n.masquerade) nat.push(`-A ${C('POSTROUTING')} -s ${n.subnet} ! -o ${n.bridge} -j MASQUERADE`);
    // Host-originated traffic (127.0.0.1 or a host address) DNATed into the bridge, and container→host-address→container
    // hairpin: rewrite the source so replies come back through the host's conntrack.
    nat.push(`-A ${C('POSTROUTING')} -o ${n.bridge} -m addrtype --src-type LOCAL -j MASQUERADE`);
    nat.push(`-A ${C('POSTROUTING')} -s ${n.subnet} -o ${n.bridge} -m conntrack --ctstate DNAT -j MASQUERADE`);
  }
  filter.push(...forwardRules(C('FORWARD'), sorted));

  const table = (name: string, rules: string[]) =>
    [`*${name}`, ...chains[name]!.map((c) => `:${c} - [0:0]`), ...rules, 'COMMIT'].join('\n');
  return `${table('nat', nat)}\n${table('filter', filter)}\n${table('raw', raw)}\n`;
}

/**
 * IPv6 (ip6tables) for dual-stack networks: the same filter policy as IPv4 (replies and published traffic in,
 * intra-network per icc, isolation between berth networks, outbound, nothing else into a bridge; internal
 * networks closed), the outbound MASQUERADE, and DNAT of ports published on every address (`-p 8080:80`) to the
 * container's IPv6 address, as dockerd does with ip6tables. The CNI bridge plugin turns on
 * net.ipv6.conf.all.forwarding for an IPv6 gateway, so without these the host would route IPv6 between networks
 * and from outside into them. IPv6 has no route_localnet: [::1]:port is not DNATed (dockerd uses its proxy there).
 *
 *   nat    PREROUTING/OUTPUT -m addrtype --dst-type LOCAL -j <prefix>-PREROUTING/-OUTPUT: ! -d ::1 -j <prefix>-DNAT
 *          POSTROUTING -j <prefix>-POSTROUTING: masquerade outbound, local-source and hairpin traffic into the bridge
 *   filter FORWARD (inserted first) -j <prefix>-FORWARD
 */
const BASE_CHAINS6: Record<string, string[]> = { nat: ['PREROUTING', 'OUTPUT', 'POSTROUTING', 'DNAT'], filter: ['FORWARD'] };

export function chains6For(prefix: string): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (const [table, bases] of Object.entries(BASE_CHAINS6)) out[table] = bases.map((b) => `${prefix}-${b}`);
  return out;
}

export function jumps6For(prefix: string): Array<{ table: string; chain: string; rule: string[]; insert?: boolean }> {
  return jumpsFor(prefix).filter((j) => j.table !== 'raw');
}

/**
 * The FORWARD policy, the same for both families: internal networks first (fully closed), then replies and
 * published traffic, then each network's policy (icc, isolation from the other bridges).
 */
function forwardRules(F: string, sorted: readonly NetworkRuleSpec[]): string[] {
  const filter: string[] = [];
  for (const n of sorted.filter((x) => x.internal)) {
    filter.push(`-A ${F} -i ${n.bridge} -o ${n.bridge} -j ${n.icc ? 'ACCEPT' : 'DROP'}`);
    filter.push(`-A ${F} -i ${n.bridge} -j DROP`);
    filter.push(`-A ${F} -o ${n.bridge} -j DROP`);
  }
  const open = sorted.filter((x) => !x.internal);
  for (const n of open) {
    filter.push(`-A ${F} -o ${n.bridge} -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT`);
    filter.push(`-A ${F} -o ${n.bridge} -m conntrack --ctstate DNAT -j ACCEPT`);
  }
  // Every bridge of this instance is decided above this line for replies and published traffic. What is left
  // is another instance's bridge: its replies and its published ports are that instance's call, so hand the
  // packet on to the next FORWARD jump instead of isolating it here.
  filter.push(`-A ${F} -o ${BRIDGE_WILDCARD} -m conntrack --ctstate RELATED,ESTABLISHED,DNAT -j RETURN`);
  const outside = sorted.filter((x) => !matchesWildcard(x.bridge)); // e.g. --bridge docker1: not covered by berth+
  for (const n of open) {
    filter.push(`-A ${F} -i ${n.bridge} -o ${n.bridge} -j ${n.icc ? 'ACCEPT' : 'DROP'}`);
    filter.push(`-A ${F} -i ${n.bridge} -o ${BRIDGE_WILDCARD} -j DROP`);
    for (const m of outside) if (m.bridge !== n.bridge) filter.push(`-A ${F} -i ${n.bridge} -o ${m.bridge} -j DROP`);
    filter.push(`-A ${F} -i ${n.bridge} -j ACCEPT`);
  }
  for (const n of open) filter.push(`-A ${F} -o ${n.bridge} -j DROP`);
  return filter;
}

/** The ip6tables-restore input (this instance's nat and filter chains) for the dual-stack networks' IPv6 subnets. */
export function planRules6(networks: NetworkRuleSpec[], endpoints: EndpointPorts[] = [], prefix = DEFAULT_CHAIN_PREFIX): string {
  const C = (b: string) => `${prefix}-${b}`;
  const F = C('FORWARD');
  const nat: string[] = [`-A ${C('PREROUTING')} ! -d ::1/128 -j ${C('DNAT')}`, `-A ${C('OUTPUT')} ! -d ::1/128 -j ${C('DNAT')}`];
  const filter: string[] = [];
  const sorted = [...networks].sort((a, b) => a.bridge.localeCompare(b.bridge));
  const internalBridges = new Set(sorted.filter((n) => n.internal).map((n) => n.bridge));
  for (const ep of [...endpoints].sort((a, b) => a.containerIp.localeCompare(b.containerIp))) {
    if (internalBridges.has(ep.bridge)) continue;
    for (const p of ep.ports) {
      if (p.hostIp) continue; // a host address given is an IPv4 one (IPv6 host addresses are refused at create)
      nat.push(`-A ${C('DNAT')} -p ${p.proto} -m ${p.proto} --dport ${p.hostPort} -j DNAT --to-destination [${ep.containerIp}]:${p.containerPort}`);
    }
  }
  const open = sorted.filter((x) => !x.internal);
  for (const n of open) {
    if (n.masquerade) nat.push(`-A ${C('POSTROUTING')} -s ${n.subnet} ! -o ${n.bridge} -j MASQUERADE`);
    nat.push(`-A ${C('POSTROUTING')} -o ${n.bridge} -m addrtype --src-type LOCAL -j MASQUERADE`);
    nat.push(`-A ${C('POSTROUTING')} -s ${n.subnet} -o ${n.bridge} -m conntrack --ctstate DNAT -j MASQUERADE`);
  }
  filter.push(...forwardRules(F, sorted));
  const chains = chains6For(prefix);
  const table = (name: string, rules: string[]) => [`*${name}`, ...chains[name]!.map((c) => `:${c} - [0:0]`), ...rules, 'COMMIT'].join('\n');
  return `${table('nat', nat)}\n${table('filter', filter)}\n`;
}

/**
 * Host ports published by OTHER berth instances, from `iptables-save -t nat`: the DNAT rules in their
 * `<prefix>-DNAT` chains. berth publishes with DNAT alone (no proxy socket holds the port), so a probe
 * bind cannot see another daemon's ports; this can.
 */
export function parseForeignPublished(natSave: string, ownPrefix: string): Array<{ proto: Proto; hostIp: string; hostPort: number }> {
  const out: Array<{ proto: Proto; hostIp: string; hostPort: number }> = [];
  const own = `${ownPrefix}-DNAT`;
  for (const line of natSave.split('\n')) {
    const m = /^-A (BERTH(?:-[0-9a-f]{6})?-DNAT) (.*)$/.exec(line.trim());
    if (!m || m[1] === own || !/ -j DNAT\b/.test(` ${m[2]}`)) continue;
    const rest = ` ${m[2]}`;
    const port = / --dport (\d+)\b/.exec(rest);
    const proto = / -p (tcp|udp|sctp)\b/.exec(rest);
    if (!port || !proto) continue;
    const dst = / -d (\d+\.\d+\.\d+\.\d+)(?:\/32)?\b/.exec(rest);
    out.push({ proto: proto[1] as Proto, hostIp: dst?.[1] ?? '', hostPort: Number(port[1]) });
  }
  return out;
}

/** Applies plans for one instance's chain prefix. `iptables` resolves to the host's backend (nft here); berth never mixes backends. */
export class Iptables {
  private readonly chains: Record<string, string[]>;
  private readonly jumps: ReturnType<typeof jumpsFor>;
  private readonly empty: string;

  /** `family` 6: ip6tables with the IPv6 chains (chains6For); `bin` then defaults to ip6tables. */
  constructor(readonly prefix = DEFAULT_CHAIN_PREFIX, private readonly bin = 'iptables', private readonly runner: ProcessRunner = posixRunner, readonly family: 4 | 6 = 4) {
    chainsFor(prefix); // reject a prefix whose chain names iptables would refuse
    this.chains = family === 6 ? chains6For(prefix) : chainsFor(prefix);
    this.jumps = family === 6 ? jumps6For(prefix) : jumpsFor(prefix);
    this.empty = family === 6 ? planRules6([], [], prefix) : planRules([], [], prefix);
  }

  static v6(prefix = DEFAULT_CHAIN_PREFIX, runner: ProcessRunner = posixRunner): Iptables { return new Iptables(prefix, 'ip6tables', runner, 6); }

  async ensureJumps(): Promise<void> {
    // Chains must exist before a jump to them can be added: an empty restore declares them.
    await this.restore(this.empty);
    for (const j of this.jumps) {
      try {
        await this.runner.run(this.bin, ['-w', '-t', j.table, '-C', j.chain, ...j.rule]);
      } catch {
        const op = j.insert ? ['-I', j.chain, '1'] : ['-A', j.chain];
        await this.run(['-w', '-t', j.table, ...op, ...j.rule]);
      }
    }
  }

  /** Host ports other berth instances publish (see parseForeignPublished); [] when iptables-save fails. */
  async foreignPublished(): Promise<Array<{ proto: Proto; hostIp: string; hostPort: number }>> {
    try {
      const { stdout } = await this.runner.run(`${this.bin}-save`, ['-t', 'nat'], { maxBuffer: 64 << 20 });
      return parseForeignPublished(stdout, this.prefix);
    } catch { return []; }
  }

  async restore(text: string): Promise<void> {
    try {
      await this.runner.run(`${this.bin}-restore`, ['-w', '--noflush'], { input: text });
    } catch (e) {
      const detail = (e as { stderr?: string }).stderr?.trim() || (e as Error).message;
      throw new SystemError(`${this.bin}-restore: ${detail}`, { cause: e });
    }
  }

  /**
   * Removes every trace of this instance: its jumps, then its chains (flushed first: nft refuses to delete a
   * non-empty chain). Other instances' chains and jumps are left alone.
   */
  async removeAll(): Promise<void> {
    for (const j of this.jumps) {
      for (let i = 0; i < 8; i++) {
        try { await this.runner.run(this.bin, ['-w', '-t', j.table, '-D', j.chain, ...j.rule]); } catch { break; }
      }
    }
    for (const [table, chains] of Object.entries(this.chains)) {
      for (const c of chains) { try { await this.runner.run(this.bin, ['-w', '-t', table, '-F', c]); } catch { /* absent */ } }
      for (const c of chains) { try { await this.runner.run(this.bin, ['-w', '-t', table, '-X', c]); } catch { /* absent */ } }
    }
  }

  private async run(args: string[]): Promise<void> {
    try { await this.runner.run(this.bin, args); } catch (err) {
      throw new SystemError(`${this.bin} ${args.join(' ')}: ${(err as { stderr?: string }).stderr?.trim() || (err as Error).message}`);
    }
  }
}
