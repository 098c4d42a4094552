import { bridgeSettings } from './bridge-options.js';
import type { Iptables, EndpointPorts, NetworkRuleSpec } from './iptables.js';
import { planRules, planRules6 } from './iptables.js';
import { publishingEndpoint } from './attachments.js';
import type { NetState } from './net-state.js';
import { v4Config, v6Config } from './network-store.js';

/** What the rule plan needs of the networks and of the running containers' published ports (pure). */
export function ruleInputs(state: NetState): { nets: NetworkRuleSpec[]; eps: EndpointPorts[] } {
  const nets: NetworkRuleSpec[] = state.bridgeNetworks().map((n) => {
    const { masquerade, icc } = bridgeSettings(n.Options);
    return { bridge: n.bridge!, subnet: v4Config(n).Subnet, internal: n.Internal, masquerade, icc };
  });
  const eps: EndpointPorts[] = [];
  for (const a of state.attachments.values()) {
    const sb = a.sandbox;
    if (!sb?.ports.length || sb.phase !== 'ready') continue;
    // Ports are published on the first network's address (as Docker does for the endpoint providing connectivity).
    const first = publishingEndpoint(state, a);
    if (!first) continue;
    eps.push({ bridge: first.n.bridge!, containerIp: first.ep.ip, ports: sb.ports });
  }
  return { nets, eps };
}

/** The dual-stack networks as ip6tables' plan sees them (their IPv6 subnets), and the ports published to IPv6 addresses. */
export function ruleInputs6(state: NetState): { nets: NetworkRuleSpec[]; eps: EndpointPorts[] } {
  const nets = state.bridgeNetworks().flatMap((n) => {
    const c6 = v6Config(n);
    if (!c6) return [];
    const { masquerade, icc } = bridgeSettings(n.Options);
    return [{ bridge: n.bridge!, subnet: c6.Subnet, internal: n.Internal, masquerade, icc }];
  });
  const eps: EndpointPorts[] = [];
  for (const a of state.attachments.values()) {
    if (!a.sandbox?.ports.length || a.sandbox.phase !== 'ready') continue;
    const first = publishingEndpoint(state, a);
    if (first?.ep.ip6) eps.push({ bridge: first.n.bridge!, containerIp: first.ep.ip6, ports: a.sandbox.ports });
  }
  return { nets, eps };
}

/**
 * Makes this instance's iptables chains match the state (one restore; skipped when nothing changed), and its
 * ip6tables chains once a dual-stack network exists: a daemon without IPv6 networks never touches ip6tables.
 */
export class RuleApplier {
  private applied?: string;
  private applied6?: string;
  private jumps6 = false;
  constructor(private readonly ipt: Iptables, private readonly state: NetState, private readonly ipt6?: Iptables) {}

  async apply(): Promise<void> {
    const { nets, eps } = ruleInputs(this.state);
    const text = planRules(nets, eps, this.ipt.prefix);
    if (text !== this.applied) { // most starts publish nothing: skip the restore
      await this.ipt.restore(text);
      this.applied = text;
    }
    const six = ruleInputs6(this.state);
    if (!this.ipt6 || (!six.nets.length && !this.jumps6)) return;
    if (!this.jumps6) { await this.ipt6.ensureJumps(); this.jumps6 = true; }
    const text6 = planRules6(six.nets, six.eps, this.ipt6.prefix);
    if (text6 === this.applied6) return;
    await this.ipt6.restore(text6);
    this.applied6 = text6;
  }

  async removeAll(): Promise<void> {
    await this.ipt.removeAll();
    this.applied = undefined;
    // ip6tables may be missing on a host that never had a dual-stack network
    await this.ipt6?.removeAll().catch(() => undefined);
    this.applied6 = undefined;
    this.jumps6 = false;
  }
}
