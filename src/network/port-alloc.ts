import dgram from 'node:dgram';
import fsp from 'node:fs/promises';
import net from 'node:net';
import { ConflictError } from '../errors.js';
import type { Iptables } from './iptables.js';
import { newId, type NetState } from './net-state.js';
import type { AttachmentRecord } from './network-store.js';
import { allocatePorts, portsClash, type PortMapping, type Proto } from './ports.js';

async function ephemeralRange(): Promise<[number, number]> {
  const t = await fsp.readFile('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').catch(() => '32768 60999');
  const [a, b] = t.trim().split(/\s+/).map(Number);
  return [a || 32768, b || 60999];
}

/** Whether a host socket is free (a non-berth process may hold the port: Docker's proxy would fail to bind too). */
async function probeFree(proto: Proto, hostIp: string, port: number): Promise<boolean> {
  if (proto === 'sctp') return true;
  if (proto === 'udp') {
    return new Promise((resolve) => {
      const s = dgram.createSocket('udp4');
      s.once('error', () => { s.close(); resolve(false); });
      s.bind(port, hostIp || '0.0.0.0', () => { s.close(); resolve(true); });
    });
  }
  return new Promise((resolve) => {
    const srv = net.createServer();
    srv.once('error', () => resolve(false));
    srv.listen({ port, host: hostIp || '0.0.0.0', exclusive: true }, () => srv.close(() => resolve(true)));
  });
}

/** Host ports for a container's publish requests: not held by another sandbox, another berthd, or any socket. */
export class PortAllocator {
  /** Ephemeral picks go round-robin (as Docker's portallocator), so a just-freed port is not handed out at once. */
  private nextPort?: number;
  constructor(private readonly state: NetState, private readonly ipt: Iptables) {}

  async allocate(a: AttachmentRecord, endpointName: string): Promise<PortMapping[]> {
    if (!a.publish.length) return [];
    const taken = [...this.state.attachments.values()].filter((x) => x !== a && x.sandbox).flatMap((x) => x.sandbox!.ports);
    const eph = await ephemeralRange();
    const foreign = await this.ipt.foreignPublished();
    // Another berthd's published port holds no socket here: to this instance it is a busy host port.
    const isFree = async (proto: Proto, hostIp: string, port: number) =>
      !foreign.some((f) => portsClash(f, { proto, hostIp, hostPort: port })) && probeFree(proto, hostIp, port);
    try {
      const out = await allocatePorts(a.publish, taken, eph, isFree, this.nextPort);
      const last = out.filter((p) => p.hostPort >= eph[0] && p.hostPort <= eph[1]).pop();
      if (last) this.nextPort = last.hostPort + 1;
      return out;
    } catch (err) {
      if (err instanceof ConflictError) {
        throw new ConflictError(`driver failed programming external connectivity on endpoint ${endpointName} (${newId()}): ${err.message}`, { cause: err });
      }
      throw err;
    }
  }
}
