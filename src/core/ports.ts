import { InvalidParameterError } from '../errors.js';

/**
 * Port publishing vocabulary:
 *  - port key: `80/tcp` (the Engine API's ExposedPorts / PortBindings key)
 *  - binding: Docker's {HostIp, HostPort}; HostPort may be '', a number, or a range to allocate into
 *  - PublishRequest: one container port to publish, before host ports are chosen
 *  - PortMapping: an allocated mapping (host ip/port → container port), what the iptables planner consumes
 */
export type Proto = 'tcp' | 'udp' | 'sctp';
export interface PortBinding { HostIp?: string; HostPort?: string }
export interface PortSpecMapping { port: string; binding: { HostIp: string; HostPort: string } }
export interface PublishRequest { proto: Proto; containerPort: number; hostIp: string; hostPortStart: number; hostPortEnd: number }
export interface PortMapping { proto: Proto; containerPort: number; hostIp: string; hostPort: number }

export function parsePortNumber(s: string): number | undefined {
  if (!/^\d{1,5}$/.test(s)) return undefined;
  const n = Number(s);
  return n >= 1 && n <= 65535 ? n : undefined;
}

/** `8000-8010` or `80` → [start, end]; undefined when invalid (including a reversed range). */
export function parsePortRange(s: string): [number, number] | undefined {
  if (s === '') return undefined;
  const i = s.indexOf('-');
  if (i < 0) { const n = parsePortNumber(s); return n === undefined ? undefined : [n, n]; }
  const a = parsePortNumber(s.slice(0, i)), b = parsePortNumber(s.slice(i + 1));
  if (a === undefined || b === undefined || b < a) return undefined;
  return [a, b];
}

/** An Engine API port key (`80`, `80/TCP`, `53/udp`) → [port, proto]; moby's validation (RELIABILITY A3). */
export function parsePortKey(key: string): [number, Proto] {
  const slash = key.indexOf('/');
  const num = slash < 0 ? key : key.slice(0, slash);
  const proto = (slash < 0 ? 'tcp' : key.slice(slash + 1) || 'tcp').toLowerCase();
  if (/^\d+-\d+$/.test(num)) {
    const [a, b] = num.split('-').map(Number) as [number, number];
    if (b < a) throw new InvalidParameterError(`invalid port range: ${key}`);
  }
  const n = parsePortNumber(num);
  if (n === undefined) throw new InvalidParameterError(`invalid port '${key}': invalid syntax`);
  if (proto !== 'tcp' && proto !== 'udp' && proto !== 'sctp') throw new InvalidParameterError(`invalid proto: ${proto}`);
  return [n, proto];
}
