import { bridgeSettings } from './bridge-options.js';
import type { Iptables, EndpointPorts, NetworkRuleSpec } from './iptables.js';
import { planRules } from './iptables.js';
import type { NetState } from './net-state.js';
import { v4Config } from './network-store.js';

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
    const first = a.networks.map((w) => ({ n: state.networks.get(w.networkId), ep: sb.endpoints[w.networkId] })).find((x) => x.n && x.ep && !x.n.Internal);
    if (!first) continue;
    eps.push({ bridge: first.n!.bridge!, containerIp: first.ep!.ip, ports: sb.ports });
  }
  return { nets, eps };
}

/** Makes this instance's iptables chains match the state (one restore; skipped when nothing changed). */
export class RuleApplier {
  private applied?: string;
  constructor(private readonly ipt: Iptables, private readonly state: NetState) {}

  async apply(): Promise<void> {
    const { nets, eps } = ruleInputs(this.state);
    const text = planRules(nets, eps, this.ipt.prefix);
    if (text === this.applied) return; // most starts publish nothing: skip the restore
    await this.ipt.restore(text);
    this.applied = text;
  }

  async removeAll(): Promise<void> {
    await this.ipt.removeAll();
    this.applied = undefined;
  }
}
