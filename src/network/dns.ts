import dgram from 'node:dgram';
import { lazyCjs } from '../sys/cjs.js';
import type * as dnsPacketTypes from 'dns-packet';
import { formatIPv6, parseIPv6, parseReverseName6, reverseName6 } from './ip6.js';

// CommonJS packages through require(): see src/sys/cjs.ts.
const dnsPacket = lazyCjs<typeof dnsPacketTypes>('dns-packet');

/**
 * The embedded DNS server of one user-defined network. Docker serves 127.0.0.11 inside each container's
 * namespace; berth serves the network's gateway address on the host instead (one UDP socket per network, no
 * per-container thread or setns), and writes that address as the containers' only nameserver. It answers
 * A (and, on a dual-stack network, AAAA) queries for container names, network aliases and short ids on this
 * network (all addresses, rotated per query: round robin for shared aliases), PTR for the containers'
 * addresses (in-addr.arpa and ip6.arpa), and forwards everything
 * else to upstream resolvers (the container's --dns servers, else the host's). Only clients inside the
 * network's subnet are answered, so one network cannot look into another.
 */
export interface DnsRecords {
  /** lower-case name → addresses (IPv4 and IPv6; A and AAAA answers pick their family) */
  names: Map<string, string[]>;
  /** address (IPv6 in Go's text) → name (for PTR) */
  reverse: Map<string, string>;
  /** client address → its upstream servers (from --dns) */
  upstreams: Map<string, string[]>;
  /** client address → its own aliases (`--link name:alias` on this network): lower-case alias → name */
  clientAliases: Map<string, Map<string, string>>;
}

export function emptyRecords(): DnsRecords { return { names: new Map(), reverse: new Map(), upstreams: new Map(), clientAliases: new Map() }; }

export function addRecord(r: DnsRecords, names: string[], ip: string): void {
  for (const n of names) {
    const k = n.toLowerCase().replace(/\.$/, '');
    if (!k) continue;
    const list = r.names.get(k) ?? [];
    if (!list.includes(ip)) list.push(ip);
    r.names.set(k, list);
  }
  if (names[0] && !r.reverse.has(ip)) r.reverse.set(ip, names[0]);
}

export function reverseName(ip: string): string {
  const v6 = parseIPv6(ip);
  return v6 !== undefined ? reverseName6(v6) : `${ip.split('.').reverse().join('.')}.in-addr.arpa`;
}

/** A PTR query name → the address it asks about ('' when it is neither in-addr.arpa nor ip6.arpa). */
function reverseAddress(name: string): string {
  if (name.endsWith('.in-addr.arpa')) return name.slice(0, -'.in-addr.arpa'.length).split('.').reverse().join('.');
  const v6 = parseReverseName6(name);
  return v6 !== undefined ? formatIPv6(v6) : '';
}

export interface DnsServerOptions {
  address: string;
  port?: number;
  /** true when a client address belongs to the network */
  isClient: (ip: string) => boolean;
  defaultUpstreams: () => string[];
  ttl?: number;
  timeoutMs?: number;
}

export class EmbeddedDns {
  private sock?: dgram.Socket;
  private records: DnsRecords = emptyRecords();
  private rr = 0;

  constructor(private readonly o: DnsServerOptions) {}

  setRecords(r: DnsRecords): void { this.records = r; }

  async start(): Promise<void> {
    const sock = dgram.createSocket({ type: 'udp4', reuseAddr: true });
    sock.on('message', (msg, rinfo) => { void this.onQuery(msg, rinfo); });
    sock.on('error', () => { /* per-datagram errors: the client retries */ });
    await new Promise<void>((resolve, reject) => {
      sock.once('error', reject);
      sock.bind(this.o.port ?? 53, this.o.address, () => { sock.off('error', reject); resolve(); });
    });
    this.sock = sock;
  }

  get port(): number { return this.sock?.address().port ?? 0; }

  close(): void { try { this.sock?.close(); } catch { /* closed */ } this.sock = undefined; }

  /** Pure answer for a query from `client`; undefined = not ours, forward it. */
  answer(q: dnsPacketTypes.Packet, client?: string): dnsPacketTypes.Packet | undefined {
    const question = q.questions?.[0];
    if (!question) return undefined;
    const asked = question.name.toLowerCase().replace(/\.$/, '');
    // A link alias resolves to its target, for the container that made the link only (moby CreateOptionAlias).
    const name = (client !== undefined ? this.records.clientAliases.get(client)?.get(asked) : undefined) ?? asked;
    const ttl = this.o.ttl ?? 600;
    if (question.type === 'PTR') {
      const host = this.records.reverse.get(reverseAddress(name));
      if (!host) return undefined;
      return this.reply(q, [{ type: 'PTR', name: question.name, ttl, data: host }]);
    }
    const all = this.records.names.get(name);
    if (!all) return undefined;
    const want = question.type as string;
    if (want === 'A' || want === 'AAAA' || want === 'ANY') {
      const ips = want === 'ANY' ? all : all.filter((ip) => ip.includes(':') === (want === 'AAAA'));
      // a known name without records of that family: NOERROR, no answers (not NXDOMAIN)
      if (!ips.length) return this.reply(q, []);
      const start = this.rr++ % ips.length;
      const rotated = [...ips.slice(start), ...ips.slice(0, start)];
      return this.reply(q, rotated.map((ip) => ({ type: ip.includes(':') ? 'AAAA' as const : 'A' as const, name: question.name, ttl, data: ip })));
    }
    return this.reply(q, []); // a known name without records of that type: NOERROR, no answers (not NXDOMAIN)
  }

  private reply(q: dnsPacketTypes.Packet, answers: dnsPacketTypes.Answer[]): dnsPacketTypes.Packet {
    return {
      id: q.id, type: 'response',
      flags: dnsPacket.AUTHORITATIVE_ANSWER | dnsPacket.RECURSION_DESIRED | dnsPacket.RECURSION_AVAILABLE,
      questions: q.questions, answers,
    };
  }

  private async onQuery(msg: Buffer, rinfo: dgram.RemoteInfo): Promise<void> {
    if (!this.o.isClient(rinfo.address)) return;
    let q: dnsPacketTypes.Packet;
    try { q = dnsPacket.decode(msg); } catch { return; }
    const a = this.answer(q, rinfo.address);
    if (a) { this.send(dnsPacket.encode(a), rinfo); return; }
    const ups = this.records.upstreams.get(rinfo.address) ?? this.o.defaultUpstreams();
    const res = await forward(msg, ups, this.o.timeoutMs ?? 2000);
    if (res) this.send(res, rinfo);
    else {
      this.send(dnsPacket.encode({ id: q.id, type: 'response', flags: dnsPacket.RECURSION_DESIRED | dnsPacket.RECURSION_AVAILABLE | 2 /* SERVFAIL */, questions: q.questions }), rinfo);
    }
  }

  private send(buf: Buffer, rinfo: dgram.RemoteInfo): void {
    this.sock?.send(buf, rinfo.port, rinfo.address);
  }
}

/** Relays a raw query to each upstream in turn; the first answer wins. */
export async function forward(msg: Buffer, upstreams: string[], timeoutMs: number): Promise<Buffer | undefined> {
  for (const server of upstreams) {
    const res = await new Promise<Buffer | undefined>((resolve) => {
      const s = dgram.createSocket(server.includes(':') ? 'udp6' : 'udp4');
      const done = (b?: Buffer) => { clearTimeout(t); try { s.close(); } catch { /* closed */ } resolve(b); };
      const t = setTimeout(() => done(), timeoutMs);
      s.on('error', () => done());
      s.on('message', (b) => { if (b.readUInt16BE(0) === msg.readUInt16BE(0)) done(b); });
      s.send(msg, 53, server);
    });
    if (res) return res;
  }
  return undefined;
}
