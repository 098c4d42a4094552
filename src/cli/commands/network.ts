/** network create/ls/inspect/rm/prune/connect/disconnect, as docker's cli/command/network. */
import { isNotFound } from '../../client/engine-client.js';
import { goStruct } from '../../core/go-template.js';
import { formatGoTime, parseRfc3339 } from '../../core/go-time.js';
import { StatusError, bool, filtersParam, list, str, type Command } from '../context.js';
import { reportErrorText } from '../errors.js';
import { FlagError } from '../flags.js';
import { renderFormat, truncateId } from '../format.js';
import { naturalCompare } from './container-ops.js';
import { inspectAll } from './inspect.js';
import { confirm } from './lifecycle.js';
import { FORMAT_TABLE_DESC } from './ps.js';

const INSPECT_FORMAT_DESC = "Format output using a custom template:\n'json':             Print in JSON format\n'TEMPLATE':         Print output using the given Go template.\nRefer to https://docs.docker.com/go/formatting/ for more information about formatting output with templates";

/** pflag StringSlice: every occurrence may hold a comma-separated list */
function slice(values: string[]): string[] {
  return values.flatMap((v) => (v === '' ? [] : v.split(',')));
}

/** opts.MapOpts / ConvertKVStringsToMap: "k=v" → k:v, "k" → k:"" */
function kvMap(values: string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const v of values) {
    const i = v.indexOf('=');
    if (i < 0) out[v] = '';
    else out[v.slice(0, i)] = v.slice(i + 1);
  }
  return out;
}

interface Cidr { bits: number; base: bigint; prefix: number }

function parseIp(s: string): { value: bigint; bits: number } | null {
  if (/^\d{1,3}(\.\d{1,3}){3}$/.test(s)) {
    const parts = s.split('.').map(Number);
    if (parts.some((n) => n > 255)) return null;
    return { value: parts.reduce((a, n) => (a << 8n) | BigInt(n), 0n), bits: 32 };
  }
  if (!s.includes(':')) return null;
  const [head, tail, extra] = s.split('::');
  if (extra !== undefined) return null;
  const groups = (x: string | undefined) => (x ? x.split(':') : []);
  const h = groups(head), t = tail === undefined ? [] : groups(tail);
  const fill = tail === undefined ? 0 : 8 - h.length - t.length;
  if (fill < 0 || (tail === undefined && h.length !== 8)) return null;
  const all = [...h, ...Array(fill).fill('0'), ...t];
  if (all.some((g) => !/^[0-9a-fA-F]{1,4}$/.test(g))) return null;
  return { value: all.reduce((a, g) => (a << 16n) | BigInt(parseInt(g, 16)), 0n), bits: 128 };
}

/** net.ParseCIDR, enough for docker's subnet checks. */
function parseCidr(s: string): Cidr | null {
  const i = s.indexOf('/');
  if (i < 0) return null;
  const ip = parseIp(s.slice(0, i));
  const prefix = Number(s.slice(i + 1));
  if (!ip || !/^\d+$/.test(s.slice(i + 1)) || prefix > ip.bits) return null;
  const mask = ((1n << BigInt(prefix)) - 1n) << BigInt(ip.bits - prefix);
  return { bits: ip.bits, base: ip.value & mask, prefix };
}

/** docker's subnetMatches: does `data` (an IP or a CIDR) lie in `subnet`? */
function subnetMatches(subnet: string, data: string): boolean {
  const s = parseCidr(subnet);
  if (!s) throw new StatusError(`invalid subnet: invalid CIDR address: ${subnet}`, 1);
  let ip;
  if (data.includes('/')) {
    const d = parseCidr(data);
    if (!d) throw new StatusError(`invalid CIDR address: ${data}`, 1);
    ip = { value: d.base, bits: d.bits };
  } else ip = parseIp(data);
  if (!ip || ip.bits !== s.bits) return false;
  const mask = ((1n << BigInt(s.prefix)) - 1n) << BigInt(s.bits - s.prefix);
  return (ip.value & mask) === s.base;
}

/** docker's createIPAMConfig: pairs each --ip-range/--gateway/--aux-address with its --subnet. */
export function ipamConfig(subnets: string[], ranges: string[], gateways: string[], aux: Record<string, string>): Array<Record<string, unknown>> {
  if (subnets.length < ranges.length || subnets.length < gateways.length) {
    throw new StatusError('every ip-range or gateway must have a corresponding subnet', 1);
  }
  const data = new Map<string, { Subnet: string; IPRange?: string; Gateway?: string; AuxiliaryAddresses: Record<string, string> }>();
  for (const s of subnets) {
    for (const k of data.keys()) {
      if (subnetMatches(s, k) || subnetMatches(k, s)) throw new StatusError('multiple overlapping subnet configuration is not supported', 1);
    }
    data.set(s, { Subnet: s, AuxiliaryAddresses: {} });
  }
  const place = (value: string, what: 'IPRange' | 'Gateway', label: string) => {
    let match = false;
    for (const s of subnets) {
      if (what === 'IPRange' && !parseCidr(value)) throw new StatusError(`invalid CIDR address: ${value}`, 1);
      if (!subnetMatches(s, value)) continue;
      const d = data.get(s)!;
      if (d[what]) {
        throw new StatusError(what === 'IPRange'
          ? `cannot configure multiple ranges (${value}, ${d[what]}) on the same subnet (${s})`
          : `cannot configure multiple gateways (${value}, ${d[what]}) for the same subnet (${s})`, 1);
      }
      d[what] = value;
      match = true;
    }
    if (!match) throw new StatusError(`no matching subnet for ${label} ${value}`, 1);
  };
  for (const r of ranges) place(r, 'IPRange', 'range');
  for (const g of gateways) place(g, 'Gateway', 'gateway');
  for (const [k, a] of Object.entries(aux)) {
    let match = false;
    for (const s of subnets) {
      if (!subnetMatches(s, a)) continue;
      data.get(s)!.AuxiliaryAddresses[k] = a;
      match = true;
    }
    if (!match) throw new StatusError(`no matching subnet for aux-address ${a}`, 1);
  }
  return [...data.values()].map((d) => {
    const o: Record<string, unknown> = { Subnet: d.Subnet };
    if (d.IPRange) o.IPRange = d.IPRange;
    if (d.Gateway) o.Gateway = d.Gateway;
    if (Object.keys(d.AuxiliaryAddresses).length) o.AuxiliaryAddresses = d.AuxiliaryAddresses;
    return o;
  });
}

const create: Command = {
  spec: {
    path: 'network create', usage: 'network create [OPTIONS] NETWORK', desc: 'Create a network', args: { exact: 1 },
    flags: [
      { name: 'attachable', kind: 'bool', desc: 'Enable manual container attachment' },
      { name: 'aux-address', kind: 'list', type: 'map', desc: 'Auxiliary IPv4 or IPv6 addresses used by Network driver' },
      { name: 'config-from', kind: 'string', desc: 'The network from which to copy the configuration' },
      { name: 'config-only', kind: 'bool', desc: 'Create a configuration only network' },
      { name: 'driver', short: 'd', kind: 'string', desc: 'Driver to manage the Network', default: 'bridge' },
      { name: 'gateway', kind: 'list', type: 'strings', desc: 'IPv4 or IPv6 Gateway for the master subnet' },
      { name: 'ingress', kind: 'bool', desc: 'Create swarm routing-mesh network' },
      { name: 'internal', kind: 'bool', desc: 'Restrict external access to the network' },
      { name: 'ip-range', kind: 'list', type: 'strings', desc: 'Allocate container ip from a sub-range' },
      { name: 'ipam-driver', kind: 'string', desc: 'IP Address Management Driver', default: 'default' },
      { name: 'ipam-opt', kind: 'list', type: 'map', desc: 'Set IPAM driver specific options' },
      { name: 'ipv4', kind: 'bool', desc: 'Enable or disable IPv4 address assignment', default: true },
      { name: 'ipv6', kind: 'bool', desc: 'Enable or disable IPv6 address assignment' },
      { name: 'label', kind: 'list', desc: 'Set metadata on a network' },
      { name: 'opt', short: 'o', kind: 'list', type: 'map', desc: 'Set driver specific options' },
      { name: 'scope', kind: 'string', desc: "Control the network's scope" },
      { name: 'subnet', kind: 'list', type: 'strings', desc: 'Subnet in CIDR format that represents a network segment' },
    ],
  },
  async run(ctx, p) {
    const body: Record<string, unknown> = {
      Name: p.args[0]!,
      Driver: str(p, 'driver'),
      Scope: str(p, 'scope'),
    };
    if (p.changed.has('ipv4')) body.EnableIPv4 = bool(p, 'ipv4');
    if (p.changed.has('ipv6')) body.EnableIPv6 = bool(p, 'ipv6');
    body.IPAM = {
      Driver: str(p, 'ipam-driver'),
      Config: ipamConfig(slice(list(p, 'subnet')), slice(list(p, 'ip-range')), slice(list(p, 'gateway')), kvMap(list(p, 'aux-address'))),
      Options: kvMap(list(p, 'ipam-opt')),
    };
    body.Internal = bool(p, 'internal');
    body.Attachable = bool(p, 'attachable');
    body.Ingress = bool(p, 'ingress');
    body.ConfigOnly = bool(p, 'config-only');
    if (str(p, 'config-from')) body.ConfigFrom = { Network: str(p, 'config-from') };
    body.Options = kvMap(list(p, 'opt'));
    for (const l of list(p, 'label')) {
      if ((l.includes('=') ? l.slice(0, l.indexOf('=')) : l).trim() === '') throw new FlagError(`invalid argument "${l}" for "--label" flag: invalid label '${l}': empty name`);
    }
    body.Labels = kvMap(list(p, 'label'));
    const r = await ctx.client.networks.create(body);
    ctx.out(`${r.Id}\n`);
    return 0;
  },
};

export const NETWORK_HEADER: Record<string, string> = {
  ID: 'NETWORK ID', Name: 'NAME', Driver: 'DRIVER', Scope: 'SCOPE', IPv4: 'IPV4', IPv6: 'IPV6', Internal: 'INTERNAL',
  Labels: 'LABELS', CreatedAt: 'CREATED AT',
};

/** Go's time.Time.String() of an RFC 3339 timestamp, in the zone it was written in. */
export function goTimeFromRfc3339(s: string): string {
  const t = parseRfc3339(s ?? '');
  return t ? formatGoTime(t, 'String') : s ?? '';
}

/** docker's networkContext */
export function networkContext(n: any, trunc: boolean) {
  const labels = (n.Labels ?? null) as Record<string, string> | null;
  const c = {
    ID: () => (trunc ? truncateId(n.Id ?? '') : n.Id ?? ''),
    Name: () => n.Name ?? '',
    Driver: () => n.Driver ?? '',
    Scope: () => n.Scope ?? '',
    IPv4: () => String(n.EnableIPv4 ?? false),
    IPv6: () => String(n.EnableIPv6 ?? false),
    Internal: () => String(n.Internal ?? false),
    Labels: () => (labels ? Object.entries(labels).map(([k, v]) => `${k}=${v}`).join(',') : ''),
    Label: (name: string) => (labels ? labels[name] ?? '' : ''),
    CreatedAt: () => goTimeFromRfc3339(n.Created ?? ''),
    toJSON() {
      const o: Record<string, unknown> = {};
      for (const k of ['CreatedAt', 'Driver', 'ID', 'IPv4', 'IPv6', 'Internal', 'Labels', 'Name', 'Scope']) o[k] = (c as any)[k]();
      return o;
    },
  };
  return goStruct(c, '*network.networkContext');
}

const ls: Command = {
  spec: {
    path: 'network ls', usage: 'network ls [OPTIONS]', desc: 'List networks', aliases: ['network ls', 'network list'], args: { exact: 0 },
    flags: [
      { name: 'filter', short: 'f', kind: 'list', type: 'filter', desc: 'Provide filter values (e.g. "driver=bridge")' },
      { name: 'format', kind: 'string', desc: FORMAT_TABLE_DESC },
      { name: 'no-trunc', kind: 'bool', desc: 'Do not truncate the output' },
      { name: 'quiet', short: 'q', kind: 'bool', desc: 'Only display network IDs' },
    ],
  },
  async run(ctx, p) {
    const nets = await ctx.client.networks.list({ filters: filtersParam(list(p, 'filter')) });
    nets.sort((a, b) => naturalCompare(String(a.Name ?? ''), String(b.Name ?? '')));
    let format = str(p, 'format') || 'table';
    if (format === 'table') format = bool(p, 'quiet') ? '{{.ID}}' : 'table {{.ID}}\t{{.Name}}\t{{.Driver}}\t{{.Scope}}';
    else if (format === 'raw') {
      format = bool(p, 'quiet') ? 'network_id: {{.ID}}' : 'network_id: {{.ID}}\\nname: {{.Name}}\\ndriver: {{.Driver}}\\nscope: {{.Scope}}\\n';
    }
    const trunc = !bool(p, 'no-trunc');
    ctx.out(renderFormat(format, nets.map((n) => networkContext(n, trunc)), NETWORK_HEADER));
    return 0;
  },
};

const inspect: Command = {
  spec: {
    path: 'network inspect', usage: 'network inspect [OPTIONS] NETWORK [NETWORK...]', desc: 'Display detailed information on one or more networks', args: { min: 1 },
    flags: [
      { name: 'format', short: 'f', kind: 'string', desc: INSPECT_FORMAT_DESC },
      { name: 'verbose', short: 'v', kind: 'bool', desc: 'Verbose output for diagnostics' },
    ],
  },
  run: (ctx, p) => inspectAll(ctx, p.args, str(p, 'format'), (ref) => ctx.client.networks.inspect(ref, bool(p, 'verbose'))),
};

const rm: Command = {
  spec: {
    path: 'network rm', usage: 'network rm NETWORK [NETWORK...]', desc: 'Remove one or more networks', aliases: ['network rm', 'network remove'], args: { min: 1 },
    flags: [{ name: 'force', short: 'f', kind: 'bool', desc: 'Do not error if the network does not exist' }],
  },
  async run(ctx, p) {
    let status = 0;
    for (const name of p.args) {
      try {
        await ctx.client.networks.remove(name);
        ctx.out(`${name}\n`);
      } catch (e) {
        if (bool(p, 'force') && isNotFound(e)) continue;
        ctx.err(`${reportErrorText(e)}\n`);
        status = 1;
      }
    }
    return status;
  },
};

const prune: Command = {
  spec: {
    path: 'network prune', usage: 'network prune [OPTIONS]', desc: 'Remove all unused networks', args: { exact: 0 },
    flags: [
      { name: 'filter', kind: 'list', type: 'filter', desc: 'Provide filter values (e.g. "until=<timestamp>")' },
      { name: 'force', short: 'f', kind: 'bool', desc: 'Do not prompt for confirmation' },
    ],
  },
  async run(ctx, p) {
    if (!bool(p, 'force') && !(await confirm(ctx, 'WARNING! This will remove all custom networks not used by at least one container.'))) {
      throw new StatusError('', 1);
    }
    const r = await ctx.client.networks.prune({ filters: filtersParam(list(p, 'filter')) });
    if (r?.NetworksDeleted?.length) ctx.out(`Deleted Networks:\n${r.NetworksDeleted.map((i) => i + '\n').join('')}\n`);
    return 0;
  },
};

const connect: Command = {
  spec: {
    path: 'network connect', usage: 'network connect [OPTIONS] NETWORK CONTAINER', desc: 'Connect a container to a network', args: { exact: 2 },
    flags: [
      { name: 'alias', kind: 'list', type: 'strings', desc: 'Add network-scoped alias for the container' },
      { name: 'driver-opt', kind: 'list', type: 'strings', desc: 'driver options for the network' },
      { name: 'gw-priority', kind: 'int', desc: 'Highest gw-priority provides the default gateway. Accepts positive and negative values.' },
      { name: 'ip', kind: 'string', desc: 'IPv4 address (e.g., "172.30.100.104")' },
      { name: 'ip6', kind: 'string', desc: 'IPv6 address (e.g., "2001:db8::33")' },
      { name: 'link', kind: 'list', desc: 'Add link to another container' },
      { name: 'link-local-ip', kind: 'list', type: 'strings', desc: 'Add a link-local address for the container' },
    ],
  },
  async run(ctx, p) {
    const driverOpts: Record<string, string> = {};
    for (const o of slice(list(p, 'driver-opt'))) {
      const i = o.indexOf('=');
      const k = (i < 0 ? o : o.slice(0, i)).trim();
      if (i < 0 || !k) throw new StatusError('invalid key/value pair format in driver options', 1);
      driverOpts[k] = o.slice(i + 1).trim();
    }
    const links = list(p, 'link');
    await ctx.client.networks.connect(p.args[0]!, p.args[1]!, {
      IPAMConfig: { IPv4Address: str(p, 'ip'), IPv6Address: str(p, 'ip6'), LinkLocalIPs: slice(list(p, 'link-local-ip')) },
      Links: links.length ? links : null,
      Aliases: slice(list(p, 'alias')),
      DriverOpts: driverOpts,
      GwPriority: Number(p.flags['gw-priority'] ?? 0),
    });
    return 0;
  },
};

const disconnect: Command = {
  spec: {
    path: 'network disconnect', usage: 'network disconnect [OPTIONS] NETWORK CONTAINER', desc: 'Disconnect a container from a network', args: { exact: 2 },
    flags: [{ name: 'force', short: 'f', kind: 'bool', desc: 'Force the container to disconnect from a network' }],
  },
  async run(ctx, p) {
    await ctx.client.networks.disconnect(p.args[0]!, p.args[1]!, bool(p, 'force'));
    return 0;
  },
};

export const commands: Record<string, Command> = {
  'network create': create, 'network ls': ls, 'network inspect': inspect, 'network rm': rm, 'network prune': prune,
  'network connect': connect, 'network disconnect': disconnect,
};
