import { execFile, spawn } from 'node:child_process';
import { promisify } from 'node:util';
import { SystemError } from '../errors.js';
import type { PortMapping } from './ports.js';

const execFileP = promisify(execFile);

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
 */

export interface NetworkRuleSpec { bridge: string; subnet: string; internal: boolean; masquerade: boolean; icc: boolean }
export interface EndpointPorts { bridge: string; containerIp: string; ports: PortMapping[] }

export const BRIDGE_WILDCARD = 'berth+';

export const JUMPS: Array<{ table: string; chain: string; rule: string[]; insert?: boolean }> = [
  { table: 'nat', chain: 'PREROUTING', rule: ['-m', 'addrtype', '--dst-type', 'LOCAL', '-j', 'BERTH-PREROUTING'] },
  { table: 'nat', chain: 'OUTPUT', rule: ['-m', 'addrtype', '--dst-type', 'LOCAL', '-j', 'BERTH-OUTPUT'] },
  { table: 'nat', chain: 'POSTROUTING', rule: ['-j', 'BERTH-POSTROUTING'] },
  { table: 'filter', chain: 'FORWARD', rule: ['-j', 'BERTH-FORWARD'], insert: true },
  { table: 'raw', chain: 'PREROUTING', rule: ['-j', 'BERTH-RAW'] },
];

export const CHAINS: Record<string, string[]> = {
  nat: ['BERTH-PREROUTING', 'BERTH-OUTPUT', 'BERTH-POSTROUTING', 'BERTH-DNAT'],
  filter: ['BERTH-FORWARD'],
  raw: ['BERTH-RAW'],
};

/** The full iptables-restore input (all BERTH chains of nat, filter, raw) for the desired state. */
export function planRules(networks: NetworkRuleSpec[], endpoints: EndpointPorts[]): string {
  const nat: string[] = [];
  const filter: string[] = [];
  const raw: string[] = [];
  nat.push('-A BERTH-PREROUTING ! -d 127.0.0.0/8 -j BERTH-DNAT');
  nat.push('-A BERTH-OUTPUT -j BERTH-DNAT');
  const sorted = [...networks].sort((a, b) => a.bridge.localeCompare(b.bridge));
  const internalBridges = new Set(sorted.filter((n) => n.internal).map((n) => n.bridge));
  for (const ep of [...endpoints].sort((a, b) => a.containerIp.localeCompare(b.containerIp))) {
    if (internalBridges.has(ep.bridge)) continue; // Docker: no port publishing on internal networks
    for (const p of ep.ports) {
      const dst = p.hostIp ? ` -d ${p.hostIp}/32` : '';
      nat.push(`-A BERTH-DNAT${dst} -p ${p.proto} -m ${p.proto} --dport ${p.hostPort} -j DNAT --to-destination ${ep.containerIp}:${p.containerPort}`);
      if (p.hostIp.startsWith('127.')) {
        raw.push(`-A BERTH-RAW -d ${ep.containerIp}/32 ! -i ${ep.bridge} -p ${p.proto} -m ${p.proto} --dport ${p.containerPort} -j DROP`);
      }
    }
  }
  for (const n of sorted.filter((x) => !x.internal)) {
    if (n.masquerade) nat.push(`-A BERTH-POSTROUTING -s ${n.subnet} ! -o ${n.bridge} -j MASQUERADE`);
    // Host-originated traffic (127.0.0.1 or a host address) DNATed into the bridge, and container→host-address→container
    // hairpin: rewrite the source so replies come back through the host's conntrack.
    nat.push(`-A BERTH-POSTROUTING -o ${n.bridge} -m addrtype --src-type LOCAL -j MASQUERADE`);
    nat.push(`-A BERTH-POSTROUTING -s ${n.subnet} -o ${n.bridge} -m conntrack --ctstate DNAT -j MASQUERADE`);
  }
  // filter: internal networks first (fully closed), then replies/published traffic, then per-network policy.
  for (const n of sorted.filter((x) => x.internal)) {
    filter.push(`-A BERTH-FORWARD -i ${n.bridge} -o ${n.bridge} -j ${n.icc ? 'ACCEPT' : 'DROP'}`);
    filter.push(`-A BERTH-FORWARD -i ${n.bridge} -j DROP`);
    filter.push(`-A BERTH-FORWARD -o ${n.bridge} -j DROP`);
  }
  const open = sorted.filter((x) => !x.internal);
  for (const n of open) {
    filter.push(`-A BERTH-FORWARD -o ${n.bridge} -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT`);
    filter.push(`-A BERTH-FORWARD -o ${n.bridge} -m conntrack --ctstate DNAT -j ACCEPT`);
  }
  for (const n of open) {
    filter.push(`-A BERTH-FORWARD -i ${n.bridge} -o ${n.bridge} -j ${n.icc ? 'ACCEPT' : 'DROP'}`);
    filter.push(`-A BERTH-FORWARD -i ${n.bridge} -o ${BRIDGE_WILDCARD} -j DROP`);
    filter.push(`-A BERTH-FORWARD -i ${n.bridge} -j ACCEPT`);
  }
  for (const n of open) filter.push(`-A BERTH-FORWARD -o ${n.bridge} -j DROP`);

  const table = (name: string, rules: string[]) =>
    [`*${name}`, ...CHAINS[name]!.map((c) => `:${c} - [0:0]`), ...rules, 'COMMIT'].join('\n');
  return `${table('nat', nat)}\n${table('filter', filter)}\n${table('raw', raw)}\n`;
}

/** Applies plans. `iptables` resolves to the host's backend (nft here); berth never mixes backends. */
export class Iptables {
  constructor(private readonly bin = 'iptables') {}

  async ensureJumps(): Promise<void> {
    // Chains must exist before a jump to them can be added: an empty restore declares them.
    await this.restore(planRules([], []));
    for (const j of JUMPS) {
      try {
        await execFileP(this.bin, ['-w', '-t', j.table, '-C', j.chain, ...j.rule]);
      } catch {
        const op = j.insert ? ['-I', j.chain, '1'] : ['-A', j.chain];
        await this.run(['-w', '-t', j.table, ...op, ...j.rule]);
      }
    }
  }

  restore(text: string): Promise<void> {
    return new Promise((resolve, reject) => {
      const child = spawn(`${this.bin}-restore`, ['-w', '--noflush'], { stdio: ['pipe', 'ignore', 'pipe'] });
      const err: Buffer[] = [];
      child.stderr.on('data', (d: Buffer) => err.push(d));
      child.on('error', (e) => reject(new SystemError(`iptables-restore: ${e.message}`, { cause: e })));
      child.on('close', (code) => code === 0 ? resolve()
        : reject(new SystemError(`iptables-restore: ${Buffer.concat(err).toString().trim() || `exit ${code}`}`)));
      child.stdin.end(text);
    });
  }

  /** Removes every trace of berth: the jumps, then the chains (flushed first: nft refuses to delete a non-empty chain). */
  async removeAll(): Promise<void> {
    for (const j of JUMPS) {
      for (let i = 0; i < 8; i++) {
        try { await execFileP(this.bin, ['-w', '-t', j.table, '-D', j.chain, ...j.rule]); } catch { break; }
      }
    }
    for (const [table, chains] of Object.entries(CHAINS)) {
      for (const c of chains) { try { await execFileP(this.bin, ['-w', '-t', table, '-F', c]); } catch { /* absent */ } }
      for (const c of chains) { try { await execFileP(this.bin, ['-w', '-t', table, '-X', c]); } catch { /* absent */ } }
    }
  }

  private async run(args: string[]): Promise<void> {
    try { await execFileP(this.bin, args); } catch (err) {
      throw new SystemError(`${this.bin} ${args.join(' ')}: ${(err as { stderr?: string }).stderr?.trim() || (err as Error).message}`);
    }
  }
}
