import { ConflictError, InvalidParameterError } from '../errors.js';
import { parseIPv4 } from './ip.js';

// The vocabulary and the pure key/range parsers live in core/ (container-config validates with them).
import { parsePortKey, parsePortRange, type PortMapping, type PortSpecMapping, type Proto, type PublishRequest, type PortBinding } from '../core/ports.js';
export { parsePortKey, parsePortRange, type PortBinding, type PortMapping, type PortSpecMapping, type Proto, type PublishRequest } from '../core/ports.js';

function validateProto(p: string): Proto {
  if (p === 'tcp' || p === 'udp' || p === 'sctp') return p;
  throw new InvalidParameterError(`invalid proto: ${p}`);
}

/** The CLI's `-p [ip:][hostPort:]containerPort[/proto]` (docker/go-connections nat.ParsePortSpec, its messages). */
export function parsePortSpec(raw: string): PortSpecMapping[] {
  const parts = raw.split(':');
  let ip = '', hostPort = '', cport: string;
  if (parts.length === 1) cport = parts[0]!;
  else if (parts.length === 2) { hostPort = parts[0]!; cport = parts[1]!; }
  else { ip = parts.slice(0, -2).join(':'); hostPort = parts[parts.length - 2]!; cport = parts[parts.length - 1]!; }
  const slash = cport.indexOf('/');
  let proto = slash < 0 ? 'tcp' : cport.slice(slash + 1);
  cport = slash < 0 ? cport : cport.slice(0, slash);
  if (cport === '') throw new InvalidParameterError(`no port specified: ${raw}<empty>`);
  if (proto === '') proto = 'tcp';
  const p = validateProto(proto.toLowerCase());
  if (ip.startsWith('[') && ip.endsWith(']')) ip = ip.slice(1, -1);
  if (ip !== '' && parseIPv4(ip) === undefined && !isIPv6(ip)) throw new InvalidParameterError(`invalid IP address: ${ip}`);
  const cr = parsePortRange(cport);
  if (!cr) throw new InvalidParameterError(`invalid containerPort: ${cport}`);
  let hr: [number, number] | undefined;
  if (hostPort !== '') {
    hr = parsePortRange(hostPort);
    if (!hr) throw new InvalidParameterError(`invalid hostPort: ${hostPort}`);
    // A host range beside a single container port is the range to allocate into.
    if (cr[1] - cr[0] !== hr[1] - hr[0] && cr[1] !== cr[0]) {
      throw new InvalidParameterError(`invalid ranges specified for container and host Ports: ${cport} and ${hostPort}`);
    }
  }
  const count = cr[1] - cr[0] + 1;
  const out: PortSpecMapping[] = [];
  for (let i = 0; i < count; i++) {
    let hp = '';
    if (hr) {
      hp = String(hr[0] + i);
      if (count === 1 && hr[0] !== hr[1]) hp += `-${hr[1]}`;
    }
    out.push({ port: `${cr[0] + i}/${p}`, binding: { HostIp: ip, HostPort: hp } });
  }
  return out;
}

function isIPv6(s: string): boolean {
  return /^[0-9a-fA-F:.]+$/.test(s) && s.includes(':');
}

/**
 * HostConfig.PortBindings (+ PublishAllPorts over Config.ExposedPorts) → what to publish.
 * A host port of '' or '0' means "any ephemeral port"; `8000-8010` means "any free port in that range".
 * `defaultHostIp` (the network's host_binding_ipv4) applies where no host address was given; an explicit
 * 0.0.0.0 still means every address, as in Docker.
 */
export function planPublishRequests(
  portBindings: Record<string, PortBinding[] | null> | undefined,
  publishAll: boolean,
  exposedPorts: Record<string, unknown> | undefined,
  defaultHostIp = '',
): PublishRequest[] {
  const out: PublishRequest[] = [];
  const seen = new Set<string>();
  for (const [key, bindings] of Object.entries(portBindings ?? {})) {
    const [port, proto] = parsePortKey(key);
    seen.add(`${port}/${proto}`);
    for (const b of bindings?.length ? bindings : [{}]) {
      const given = (b.HostIp ?? '').trim();
      const hostIp = given === '' ? defaultHostIp : normHostIp(given);
      const hp = (b.HostPort ?? '').trim();
      let range: [number, number] = [0, 0];
      if (hp !== '' && hp !== '0') {
        const r = parsePortRange(hp);
        if (!r) throw new InvalidParameterError(`invalid port specification: "${hp}"`);
        range = r;
      }
      out.push({ proto, containerPort: port, hostIp, hostPortStart: range[0], hostPortEnd: range[1] });
    }
  }
  if (publishAll) {
    for (const key of Object.keys(exposedPorts ?? {})) {
      const [port, proto] = parsePortKey(key);
      if (seen.has(`${port}/${proto}`)) continue;
      out.push({ proto, containerPort: port, hostIp: defaultHostIp, hostPortStart: 0, hostPortEnd: 0 });
    }
  }
  return out;
}

function normHostIp(ip: string): string {
  const s = ip.trim();
  if (s === '' || s === '0.0.0.0') return '';
  if (s.includes(':')) throw new InvalidParameterError(`IPv6 host addresses are not supported for port publishing: ${s}`);
  if (parseIPv4(s) === undefined) throw new InvalidParameterError(`invalid IP address: ${s}`);
  return s;
}

/** Whether two mappings would claim the same host socket (an unspecified host IP claims all). */
export function portsClash(a: { proto: Proto; hostIp: string; hostPort: number }, b: { proto: Proto; hostIp: string; hostPort: number }): boolean {
  return a.proto === b.proto && a.hostPort === b.hostPort && (a.hostIp === '' || b.hostIp === '' || a.hostIp === b.hostIp);
}

export function allocatedMessage(hostIp: string, port: number): string {
  return `Bind for ${hostIp || '0.0.0.0'}:${port} failed: port is already allocated`;
}

/**
 * Choose host ports for requests, given the mappings other containers hold. `isFree` probes the host (e.g. a
 * non-berth process listening). Pure apart from `isFree`; throws Docker's messages on conflicts.
 */
export async function allocatePorts(
  requests: PublishRequest[],
  taken: Array<{ proto: Proto; hostIp: string; hostPort: number }>,
  ephemeral: [number, number],
  isFree: (proto: Proto, hostIp: string, port: number) => Promise<boolean>,
  start?: number,
): Promise<PortMapping[]> {
  const held = [...taken];
  const out: PortMapping[] = [];
  for (const r of requests) {
    if (r.hostPortStart !== 0 && r.hostPortStart === r.hostPortEnd) {
      const m = { proto: r.proto, hostIp: r.hostIp, hostPort: r.hostPortStart };
      if (held.some((t) => portsClash(t, m))) throw new PortAllocatedError(allocatedMessage(r.hostIp, r.hostPortStart));
      if (!(await isFree(r.proto, r.hostIp, r.hostPortStart))) {
        throw new PortAllocatedError(`failed to bind host port ${r.hostIp || '0.0.0.0'}:${r.hostPortStart}/${r.proto}: address already in use`);
      }
      held.push(m);
      out.push({ ...m, containerPort: r.containerPort });
      continue;
    }
    const [lo, hi] = r.hostPortStart === 0 ? ephemeral : [r.hostPortStart, r.hostPortEnd];
    const size = hi - lo + 1;
    const first = start !== undefined && start >= lo && start <= hi ? start : lo;
    let chosen: number | undefined;
    for (let i = 0; i < size; i++) {
      const port = lo + ((first - lo + i) % size);
      const m = { proto: r.proto, hostIp: r.hostIp, hostPort: port };
      if (held.some((t) => portsClash(t, m))) continue;
      if (!(await isFree(r.proto, r.hostIp, port))) continue;
      chosen = port;
      break;
    }
    if (chosen === undefined) {
      throw new PortAllocatedError(r.hostPortStart === 0 ? 'all ports are allocated' : allocatedMessage(r.hostIp, r.hostPortStart));
    }
    held.push({ proto: r.proto, hostIp: r.hostIp, hostPort: chosen });
    out.push({ proto: r.proto, hostIp: r.hostIp, hostPort: chosen, containerPort: r.containerPort });
  }
  return out;
}

/** A host port is taken: a Conflict carrying Docker's text. */
export class PortAllocatedError extends ConflictError {}
