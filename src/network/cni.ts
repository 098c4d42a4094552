import { posixRunner, type ProcessRunner } from '../sys/process-runner.js';
import path from 'node:path';
import { SystemError } from '../errors.js';

/**
 * A typed wrapper over the CNI reference plugins (Debian's containernetworking-plugins in /usr/lib/cni).
 * Pure builders (`cniEnv`, `bridgeConfig`) return data; `CniRunner.exec` is the only place a plugin runs.
 * berth uses `bridge` (bridge + veth + routes, host-local IPAM) and `loopback`; NAT, port publishing and
 * isolation rules are berth's own (iptables.ts), so that they live in BERTH-* chains and can be
 * regenerated from berth's store after a crash.
 */
export const DEFAULT_CNI_PATH = '/usr/lib/cni';
export const CNI_VERSION = '1.0.0';

export type CniCommand = 'ADD' | 'DEL' | 'CHECK' | 'VERSION';

export interface CniInvocation {
  command: CniCommand;
  containerId: string;
  /** Path of the network namespace; '' for a DEL whose namespace is already gone (allowed by the spec). */
  netns: string;
  ifname: string;
  /** CNI_ARGS key/values, e.g. {IP: '172.30.0.5', MAC: '02:42:...'}; IgnoreUnknown is always added. */
  args?: Record<string, string>;
  cniPath?: string;
}

export function cniEnv(inv: CniInvocation): Record<string, string> {
  const args = Object.entries(inv.args ?? {}).map(([k, v]) => `${k}=${v}`);
  const env: Record<string, string> = {
    CNI_COMMAND: inv.command,
    CNI_CONTAINERID: inv.containerId,
    CNI_NETNS: inv.netns,
    CNI_IFNAME: inv.ifname,
    CNI_PATH: inv.cniPath ?? DEFAULT_CNI_PATH,
    PATH: process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin',
  };
  if (args.length) env.CNI_ARGS = ['IgnoreUnknown=1', ...args].join(';');
  return env;
}

/** One host-local range (a range set of one). */
export interface HostLocalRange { subnet: string; gateway: string; rangeStart?: string; rangeEnd?: string }

export interface BridgeNetworkSpec {
  /** CNI network name: berth uses the network id, so host-local's lease dir is <ipamDir>/<id>. */
  name: string;
  bridge: string;
  subnet: string;
  gateway: string;
  /** host-local allocation range inside the subnet (from --ip-range); the whole subnet when absent. */
  rangeStart?: string;
  rangeEnd?: string;
  ipamDataDir: string;
  mtu?: number;
  /** Default route via the gateway; off for --internal networks (no way out). */
  defaultRoute: boolean;
  /** A dual-stack network's IPv6 range: host-local then hands out one address of each family. */
  range6?: HostLocalRange;
  /** Addresses the ADD asks for (--ip, --ip6), one per family, as host-local's `args.cni.ips`. */
  ips?: string[];
}

export function bridgeConfig(s: BridgeNetworkSpec): Record<string, unknown> {
  const range: Record<string, string> = { subnet: s.subnet, gateway: s.gateway };
  if (s.rangeStart) range.rangeStart = s.rangeStart;
  if (s.rangeEnd) range.rangeEnd = s.rangeEnd;
  const conf: Record<string, unknown> = {
    cniVersion: CNI_VERSION,
    name: s.name,
    type: 'bridge',
    bridge: s.bridge,
    isGateway: true,
    // berth writes masquerade rules itself (BERTH-POSTROUTING); the plugin's would live in CNI-* chains.
    ipMasq: false,
    // A container reaching its own published port through the host's address comes back on its own port.
    hairpinMode: true,
    ipam: {
      type: 'host-local',
      dataDir: s.ipamDataDir,
      ranges: s.range6 ? [[range], [{ ...s.range6 }]] : [[range]],
      routes: s.defaultRoute ? [{ dst: '0.0.0.0/0' }, ...(s.range6 ? [{ dst: '::/0' }] : [])] : [],
    },
  };
  if (s.mtu) conf.mtu = s.mtu;
  // host-local 1.1 takes one address in CNI_ARGS IP; the config's args take one per range set
  if (s.ips?.length) conf.args = { cni: { ips: s.ips } };
  return conf;
}

export function loopbackConfig(): Record<string, unknown> {
  return { cniVersion: CNI_VERSION, name: 'berth-loopback', type: 'loopback' };
}

export interface CniInterface { name: string; mac?: string; sandbox?: string }
export interface CniResult {
  cniVersion?: string;
  interfaces?: CniInterface[];
  ips?: Array<{ interface?: number; address: string; gateway?: string }>;
}

export interface AddResult {
  ip: string; prefixLen: number; gateway: string; mac: string; hostVeth?: string;
  /** the IPv6 address of a dual-stack network */
  ip6?: string; prefixLen6?: number; gateway6?: string;
}

/** The container-side interface, its IPv4 address and (dual stack) its IPv6 address from an ADD result. */
export function parseAddResult(r: CniResult, ifname: string): AddResult {
  const ifs = r.interfaces ?? [];
  const idx = ifs.findIndex((i) => i.name === ifname && i.sandbox);
  const ipEntry = (r.ips ?? []).find((e) => e.interface === idx && !e.address.includes(':')) ?? (r.ips ?? []).find((e) => !e.address.includes(':'));
  if (!ipEntry) throw new SystemError(`cni: no address in result for ${ifname}`);
  const [ip, prefix] = ipEntry.address.split('/');
  const v6 = (r.ips ?? []).find((e) => e.interface === idx && e.address.includes(':')) ?? (r.ips ?? []).find((e) => e.address.includes(':'));
  const hostVeth = ifs.find((i) => !i.sandbox && i.name.startsWith('veth'))?.name;
  const out: AddResult = { ip: ip!, prefixLen: Number(prefix), gateway: ipEntry.gateway ?? '', mac: idx >= 0 ? ifs[idx]!.mac ?? '' : '', hostVeth };
  if (v6) {
    const [a6, p6] = v6.address.split('/');
    Object.assign(out, { ip6: a6!, prefixLen6: Number(p6), gateway6: v6.gateway ?? '' });
  }
  return out;
}

/** CNI's well-known error codes (spec §"Error"); 100+ are plugin-specific, 999 is the plugins' catch-all. */
export const CNI_ERR_INTERNAL = 999;

/** Why a plugin call failed, as far as berth acts on it. */
export type CniFailure = 'address-unavailable' | 'other';

/**
 * Classifies a plugin's JSON error. host-local reports a requested address that is taken or outside its
 * ranges with the catch-all code 999, so the code alone cannot tell it apart: its wording is matched here,
 * at the wrapper's edge, and nowhere else.
 */
export function classifyCniError(code: number | undefined, msg: string): CniFailure {
  if (code === CNI_ERR_INTERNAL && /requested IP address .* is not available|failed to allocate all requested IPs|already (allocated|reserved)/.test(msg)) {
    return 'address-unavailable';
  }
  return 'other';
}

/** A plugin answered with an error (its JSON `code`/`msg`/`details` when it printed one). */
export class CniError extends SystemError {
  readonly failure: CniFailure;
  constructor(message: string, readonly code: number | undefined, readonly pluginMsg: string) {
    super(message);
    this.failure = classifyCniError(code, pluginMsg);
  }
}

export interface CniRunner {
  exec(plugin: string, inv: CniInvocation, config: Record<string, unknown>): Promise<CniResult | undefined>;
}

/** Runs a plugin binary: env per the CNI spec, config JSON on stdin, result (or error object) on stdout. */
export class ExecCniRunner implements CniRunner {
  constructor(private readonly cniPath = DEFAULT_CNI_PATH, private readonly runner: ProcessRunner = posixRunner) {}

  async exec(plugin: string, inv: CniInvocation, config: Record<string, unknown>): Promise<CniResult | undefined> {
    const bin = path.join(this.cniPath, plugin);
    let r;
    try {
      r = await this.runner.capture(bin, [], { env: cniEnv({ ...inv, cniPath: this.cniPath }), input: JSON.stringify(config) });
    } catch (e) {
      throw new SystemError(`cni ${plugin}: ${(e as Error).message}`, { cause: e });
    }
    const text = r.stdout.toString('utf8').trim();
    if (r.code !== 0) {
      let msg = r.stderr.toString('utf8').trim() || text;
      let code: number | undefined;
      try {
        const j = JSON.parse(text) as { code?: number; msg?: string; details?: string };
        msg = [j.msg, j.details].filter(Boolean).join(': ');
        code = typeof j.code === 'number' ? j.code : undefined;
      } catch { /* not JSON */ }
      throw new CniError(`cni ${plugin} ${inv.command} ${inv.ifname}: ${msg || `exit ${r.code ?? r.signal}`}`, code, msg);
    }
    try { return text ? JSON.parse(text) as CniResult : undefined; } catch { return undefined; }
  }
}
