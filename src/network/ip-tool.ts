import { posixRunner, type ProcessRunner } from '../sys/process-runner.js';

/**
 * A typed wrapper over iproute2's `ip` for the few link/address operations berth needs on its bridges.
 * `ipArgs` is pure (unit-tested); `IpTool` is the only place `ip` runs.
 */
export type IpOp =
  | { op: 'add-bridge'; dev: string }
  | { op: 'del-link'; dev: string }
  | { op: 'show-addr'; dev: string; family: 4 | 6 }
  /** nodad: an IPv6 address usable at once (no tentative phase a bind would fail in) */
  | { op: 'add-addr'; dev: string; cidr: string; nodad?: boolean }
  | { op: 'del-addr'; dev: string; cidr: string }
  | { op: 'set-alias'; dev: string; alias: string }
  | { op: 'set-mac'; dev: string; mac: string }
  | { op: 'set-mtu'; dev: string; mtu: number }
  | { op: 'up'; dev: string };

export function ipArgs(o: IpOp): string[] {
  switch (o.op) {
    case 'add-bridge': return ['link', 'add', 'name', o.dev, 'type', 'bridge'];
    case 'del-link': return ['link', 'del', o.dev];
    case 'show-addr': return ['-o', `-${o.family}`, 'addr', 'show', 'dev', o.dev];
    case 'add-addr': return ['addr', 'add', o.cidr, 'dev', o.dev, ...(o.nodad ? ['nodad'] : [])];
    case 'del-addr': return ['addr', 'del', o.cidr, 'dev', o.dev];
    case 'set-alias': return ['link', 'set', 'dev', o.dev, 'alias', o.alias];
    case 'set-mac': return ['link', 'set', 'dev', o.dev, 'address', o.mac];
    case 'set-mtu': return ['link', 'set', 'dev', o.dev, 'mtu', String(o.mtu)];
    case 'up': return ['link', 'set', o.dev, 'up'];
  }
}

export class IpTool {
  constructor(private readonly runner: ProcessRunner = posixRunner, private readonly bin = 'ip') {}

  /** Runs one operation (inside the network namespace at `netnsPath` when given); rejects with the program's failure. */
  async exec(o: IpOp, netnsPath?: string): Promise<string> {
    if (netnsPath) return (await this.runner.run('nsenter', [`--net=${netnsPath}`, '--', this.bin, ...ipArgs(o)])).stdout;
    return (await this.runner.run(this.bin, ipArgs(o))).stdout;
  }
}
