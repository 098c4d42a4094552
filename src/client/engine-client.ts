/**
 * A typed Docker Engine API (v1.45) client over a unix socket or TCP.
 *
 * Three kinds of call: JSON request/response (`json`), streamed responses (`stream`, with
 * `jsonMessages` for newline-delimited JSON and `demux` for the 8-byte multiplexed framing), and
 * hijacked connections (`hijack`: `Connection: Upgrade` / `Upgrade: tcp`, 101 → raw duplex socket)
 * for attach. Failures are typed: `EngineApiError` carries the daemon's status and message;
 * `DaemonUnreachableError` means nothing answered at the host address.
 */
import http from 'node:http';
import { lazyBuiltin } from './lazy-builtin.js';
import type { Duplex, Readable } from 'node:stream';

export const API_VERSION = '1.45';
export const DEFAULT_HOST = 'unix:///run/berth/berth.sock';

/** What a daemon's error status means, as moby's errdefs classes it (errdefs.FromStatusCode). */
export type ApiErrorKind =
  | 'not-modified' | 'invalid-parameter' | 'unauthorized' | 'forbidden' | 'not-found' | 'conflict'
  | 'system' | 'not-implemented' | 'unavailable' | 'unknown';

export function apiErrorKind(status: number): ApiErrorKind {
  switch (status) {
    case 304: return 'not-modified';
    case 400: return 'invalid-parameter';
    case 401: return 'unauthorized';
    case 403: return 'forbidden';
    case 404: return 'not-found';
    case 409: return 'conflict';
    case 500: return 'system';
    case 501: return 'not-implemented';
    case 503: return 'unavailable';
    default: return 'unknown';
  }
}

/** The daemon's answer to a failed call: its HTTP status, its kind, and Docker's message. Commands test `kind`. */
export class EngineApiError extends Error {
  readonly kind: ApiErrorKind;
  constructor(readonly status: number, message: string) {
    super(message);
    this.kind = apiErrorKind(status);
  }
}

/** The daemon answered that the object does not exist (errdefs.IsNotFound). */
export function isNotFound(e: unknown): e is EngineApiError {
  return e instanceof EngineApiError && e.kind === 'not-found';
}

export class DaemonUnreachableError extends Error {
  constructor(readonly host: string, override readonly cause: unknown) {
    super(`Cannot connect to the berth daemon at ${host}. Is the berth daemon running?`);
  }
}

export type Query = Record<string, string | number | boolean | undefined | null | string[]>;

export interface RequestOptions {
  query?: Query;
  /** object → JSON body; Buffer/string → raw; Readable → streamed */
  body?: unknown;
  headers?: Record<string, string>;
  contentType?: string;
}

interface Endpoint { socketPath?: string; host?: string; port?: number }

/**
 * TLS towards a tcp:// daemon (docker's --tls/--tlsverify): PEM contents, not paths. `verify` checks the
 * daemon's certificate against `ca` (or the system roots) and its name; without it any certificate is
 * taken, as docker's --tls alone.
 */
export interface ClientTls {
  verify: boolean;
  ca?: Buffer;
  cert?: Buffer;
  key?: Buffer;
}

/** `tls`: a tcp:// host without a port gets docker's 2376 instead of 2375. */
export function parseHost(host: string, tls = false): Endpoint {
  if (host.startsWith('unix://')) return { socketPath: host.slice('unix://'.length) };
  if (host.startsWith('/')) return { socketPath: host };
  const m = /^(?:tcp|http|https):\/\/\[?([^\]/]*?)\]?(?::(\d+))?\/?$/.exec(host);
  if (m) return { host: m[1] || '127.0.0.1', port: m[2] ? Number(m[2]) : tls ? 2376 : 2375 };
  throw new Error(`unable to parse docker host \`${host}\``);
}

/** Builds `?a=1&filters=...`; booleans as docker's client sends them ("1"/"0"), arrays repeated. */
export function buildQuery(q: Query | undefined): string {
  if (!q) return '';
  const p = new URLSearchParams();
  for (const [k, v] of Object.entries(q)) {
    if (v === undefined || v === null) continue;
    if (Array.isArray(v)) for (const x of v) p.append(k, x);
    else p.append(k, typeof v === 'boolean' ? (v ? '1' : '0') : String(v));
  }
  const s = p.toString();
  return s ? `?${s}` : '';
}

/** Stream types of the multiplexed attach/logs framing. */
export const STDIN = 0, STDOUT = 1, STDERR = 2, SYSTEMERR = 3;

/**
 * Splits the 8-byte-header multiplexed stream ([type,0,0,0,size32be] + payload) into frames.
 * Resolves when the source ends. Frames may straddle chunks.
 */
export function demux(src: Readable, onFrame: (stream: number, payload: Buffer) => void, initial?: Buffer): Promise<void> {
  let buf: Buffer = initial && initial.length ? initial : Buffer.alloc(0);
  const drain = () => {
    while (buf.length >= 8) {
      const size = buf.readUInt32BE(4);
      if (buf.length < 8 + size) break;
      onFrame(buf[0]!, buf.subarray(8, 8 + size));
      buf = buf.subarray(8 + size);
    }
  };
  drain();
  return new Promise((resolve, reject) => {
    src.on('data', (c: Buffer) => {
      buf = buf.length ? Buffer.concat([buf, c]) : c;
      drain();
    });
    src.on('end', () => resolve());
    src.on('close', () => resolve());
    src.on('error', (e: NodeJS.ErrnoException) => (e.code === 'ECONNRESET' ? resolve() : reject(e)));
  });
}

/** Newline-delimited JSON objects of a streamed response (events, pull/import progress). */
export async function* jsonMessages<T = Record<string, unknown>>(src: Readable): AsyncGenerator<T> {
  let pending = '';
  for await (const chunk of src) {
    pending += (chunk as Buffer).toString('utf8');
    let nl: number;
    while ((nl = pending.indexOf('\n')) >= 0) {
      const line = pending.slice(0, nl).trim();
      pending = pending.slice(nl + 1);
      if (line) yield JSON.parse(line) as T;
    }
  }
  if (pending.trim()) yield JSON.parse(pending) as T;
}

export interface Hijacked {
  socket: Duplex;
  /** bytes read past the response head */
  head: Buffer;
  /** the daemon's Content-Type: raw-stream (tty) or multiplexed-stream */
  contentType: string;
}

export interface EarlyHandle<T> {
  /** resolves once the daemon has answered the request's headers (or after a short grace) */
  registered: Promise<void>;
  result: Promise<T>;
  /** drops the request (when the caller gives up before the answer comes) */
  cancel(): void;
}

export type WaitHandle = EarlyHandle<{ StatusCode: number; Error?: { Message: string } | null }>;

/** What the endpoint groups need of the client: its four ways of sending a request. */
export type Transport = Pick<EngineClient, 'json' | 'stream' | 'hijack' | 'early'>;

const https = lazyBuiltin<typeof import('node:https')>('node:https');

export class EngineClient {
  private readonly endpoint: Endpoint;
  private readonly agent: http.Agent;
  /** http or https, per the endpoint */
  private readonly proto: { request: typeof http.request };
  private readonly tlsOptions: { ca?: Buffer; cert?: Buffer; key?: Buffer; rejectUnauthorized?: boolean };
  private readonly servername: string | undefined;

  readonly containers = new ContainersApi(this);
  readonly exec = new ExecApi(this);
  readonly networks = new NetworksApi(this);
  readonly images = new ImagesApi(this);

  constructor(readonly host: string = DEFAULT_HOST, readonly apiVersion: string = API_VERSION, readonly tls?: ClientTls,
    private readonly debug?: (msg: string) => void) {
    const useTls = !!tls && !host.startsWith('unix://') && !host.startsWith('/');
    this.endpoint = parseHost(host, useTls);
    this.tlsOptions = useTls ? { ca: tls!.ca, cert: tls!.cert, key: tls!.key, rejectUnauthorized: tls!.verify } : {};
    this.agent = useTls ? new (https().Agent)({ keepAlive: true, ...this.tlsOptions }) : new http.Agent({ keepAlive: true });
    this.proto = useTls ? https() : http;
    // Without TLS there is no server name to send: an empty one spares http.Agent computing it (its
    // first isIP() compiles the IPv6 pattern, ~5 ms of every CLI command's start).
    if (!useTls) this.servername = '';
  }

  /** Releases pooled connections so the process can exit. */
  close(): void {
    this.agent.destroy();
  }

  private options(method: string, path: string, o: RequestOptions): http.RequestOptions {
    const headers: Record<string, string> = { 'User-Agent': `berth-cli/${API_VERSION}`, ...(o.headers ?? {}) };
    this.debug?.(`${method} ${path}${buildQuery(o.query)}`);
    return {
      ...this.endpoint,
      ...this.tlsOptions,
      ...(this.servername === undefined ? {} : { servername: this.servername }),
      agent: this.agent,
      method,
      path: `/v${this.apiVersion}${path}${buildQuery(o.query)}`,
      headers,
    };
  }

  private send(req: http.ClientRequest, o: RequestOptions): void {
    const b = o.body;
    if (b === undefined) { req.end(); return; }
    if (b && typeof (b as Readable).pipe === 'function') {
      req.setHeader('Content-Type', o.contentType ?? 'application/x-tar');
      (b as Readable).pipe(req);
      return;
    }
    if (Buffer.isBuffer(b) || typeof b === 'string') {
      req.setHeader('Content-Type', o.contentType ?? 'text/plain');
      req.end(b);
      return;
    }
    const data = JSON.stringify(b);
    req.setHeader('Content-Type', 'application/json');
    req.setHeader('Content-Length', Buffer.byteLength(data));
    req.end(data);
  }

  private wrapConnError(e: NodeJS.ErrnoException): Error {
    if (['ECONNREFUSED', 'ENOENT', 'EACCES', 'ECONNRESET', 'EHOSTUNREACH', 'ENOTFOUND', 'EPIPE'].includes(e.code ?? '')) {
      return new DaemonUnreachableError(this.host, e);
    }
    return e;
  }

  /** Sends a request; resolves with the response for status < 400, else rejects with EngineApiError. */
  async request(method: string, path: string, o: RequestOptions = {}): Promise<http.IncomingMessage> {
    const res = await new Promise<http.IncomingMessage>((resolve, reject) => {
      const req = this.proto.request(this.options(method, path, o), resolve);
      req.on('error', (e) => reject(this.wrapConnError(e)));
      this.send(req, o);
    });
    if ((res.statusCode ?? 500) >= 400) throw await errorFrom(res);
    return res;
  }

  /** JSON call; undefined for empty bodies (204/304). */
  async json<T = any>(method: string, path: string, o: RequestOptions = {}): Promise<T> {
    const res = await this.request(method, path, o);
    const text = await readAll(res);
    if (!text.trim()) return undefined as T;
    return JSON.parse(text) as T;
  }

  /** Streamed body (logs, events, import progress). */
  stream(method: string, path: string, o: RequestOptions = {}): Promise<http.IncomingMessage> {
    return this.request(method, path, o);
  }

  /** Upgrades the connection (attach/exec start); also accepts a plain 200 streamed response. */
  hijack(method: string, path: string, o: RequestOptions = {}): Promise<Hijacked> {
    return new Promise<Hijacked>((resolve, reject) => {
      const opts = this.options(method, path, o);
      // a hijacked connection must not go back to the keep-alive pool
      opts.agent = false;
      opts.headers = { ...(opts.headers as Record<string, string>), Connection: 'Upgrade', Upgrade: 'tcp' };
      const req = this.proto.request(opts);
      req.on('upgrade', (res, socket, head) => {
        socket.setNoDelay?.(true);
        resolve({ socket, head, contentType: String(res.headers['content-type'] ?? '') });
      });
      req.on('response', (res) => {
        if ((res.statusCode ?? 500) >= 400) { errorFrom(res).then(reject, reject); return; }
        // a daemon that does not upgrade: treat the body as the output stream (no stdin)
        resolve({ socket: res as unknown as Duplex, head: Buffer.alloc(0), contentType: String(res.headers['content-type'] ?? '') });
      });
      req.on('error', (e) => reject(this.wrapConnError(e)));
      this.send(req, o);
    });
  }

  /**
   * Sends a request whose answer comes late (container wait): `registered` resolves when the daemon sends
   * the response headers, or `graceMs` after the request went out for a daemon that holds them back.
   */
  early<T>(method: string, path: string, o: RequestOptions, graceMs: number): EarlyHandle<T> {
    let markRegistered!: () => void;
    let req!: http.ClientRequest;
    const registered = new Promise<void>((r) => { markRegistered = r; });
    const result = new Promise<T>((resolve, reject) => {
      const opts = this.options(method, path, o);
      opts.agent = false;
      req = this.proto.request(opts, (res) => {
        markRegistered();
        if ((res.statusCode ?? 500) >= 400) { errorFrom(res).then(reject, reject); return; }
        readAll(res).then((t) => {
          try { resolve(JSON.parse(t) as T); } catch { reject(new Error(`unexpected response: ${t}`)); }
        }, reject);
      });
      req.on('error', (e) => { markRegistered(); reject(this.wrapConnError(e)); });
      req.on('finish', () => setTimeout(markRegistered, graceMs).unref());
      req.end();
    });
    result.catch(() => undefined);
    return { registered, result, cancel: () => req.destroy() };
  }

  // ------------------------------------------------------------ system

  ping(): Promise<string> {
    return this.request('GET', '/_ping').then(readAll);
  }
  version(): Promise<any> { return this.json('GET', '/version'); }
  info(): Promise<any> { return this.json('GET', '/info'); }
  events(query: Query): Promise<http.IncomingMessage> { return this.stream('GET', '/events', { query }); }
}

/** /containers/… */
export class ContainersApi {
  constructor(private readonly c: Transport) {}

  list(query: Query): Promise<any[]> { return this.c.json('GET', '/containers/json', { query }); }
  create(config: unknown, query: Query): Promise<{ Id: string; Warnings?: string[] }> {
    return this.c.json('POST', '/containers/create', { query, body: config });
  }
  inspect(id: string, size = false): Promise<any> {
    return this.c.json('GET', `/containers/${enc(id)}/json`, { query: size ? { size: true } : undefined });
  }
  start(id: string): Promise<void> { return this.c.json('POST', `/containers/${enc(id)}/start`); }
  stop(id: string, query: Query): Promise<void> { return this.c.json('POST', `/containers/${enc(id)}/stop`, { query }); }
  restart(id: string, query: Query): Promise<void> { return this.c.json('POST', `/containers/${enc(id)}/restart`, { query }); }
  kill(id: string, signal?: string): Promise<void> {
    return this.c.json('POST', `/containers/${enc(id)}/kill`, { query: { signal: signal || undefined } });
  }
  remove(id: string, query: Query): Promise<void> { return this.c.json('DELETE', `/containers/${enc(id)}`, { query }); }
  rename(id: string, name: string): Promise<void> { return this.c.json('POST', `/containers/${enc(id)}/rename`, { query: { name } }); }
  resize(id: string, h: number, w: number): Promise<void> { return this.c.json('POST', `/containers/${enc(id)}/resize`, { query: { h, w } }); }
  prune(query: Query): Promise<{ ContainersDeleted: string[] | null; SpaceReclaimed: number }> {
    return this.c.json('POST', '/containers/prune', { query });
  }
  logs(id: string, query: Query): Promise<http.IncomingMessage> { return this.c.stream('GET', `/containers/${enc(id)}/logs`, { query }); }
  attach(id: string, query: Query): Promise<Hijacked> { return this.c.hijack('POST', `/containers/${enc(id)}/attach`, { query }); }

  /**
   * POST /containers/{id}/wait. The request is sent at once; `registered` resolves when the daemon
   * sends the response headers (Docker flushes them before waiting), or after `graceMs` for a
   * daemon that holds them back, so a caller can start the container without losing the exit.
   */
  wait(id: string, condition: string, graceMs = 250): WaitHandle {
    return this.c.early('POST', `/containers/${enc(id)}/wait`, { query: { condition } }, graceMs);
  }

  pause(id: string): Promise<void> { return this.c.json('POST', `/containers/${enc(id)}/pause`); }
  unpause(id: string): Promise<void> { return this.c.json('POST', `/containers/${enc(id)}/unpause`); }
  update(id: string, body: unknown): Promise<{ Warnings?: string[] | null }> {
    return this.c.json('POST', `/containers/${enc(id)}/update`, { body });
  }
  top(id: string, psArgs?: string): Promise<{ Titles: string[]; Processes: string[][] }> {
    return this.c.json('GET', `/containers/${enc(id)}/top`, { query: { ps_args: psArgs || undefined } });
  }
  /** GET /containers/{id}/stats: newline-delimited StatsResponse documents (one when stream=false). */
  stats(id: string, stream: boolean): Promise<http.IncomingMessage> {
    return this.c.stream('GET', `/containers/${enc(id)}/stats`, { query: { stream } });
  }
}

/** /exec/… and POST /containers/{id}/exec */
export class ExecApi {
  constructor(private readonly c: Transport) {}

  create(container: string, config: unknown): Promise<{ Id: string }> {
    return this.c.json('POST', `/containers/${enc(container)}/exec`, { body: config });
  }
  /** Detached start: the daemon answers once the process runs. */
  startDetached(id: string, config: unknown): Promise<void> { return this.c.json('POST', `/exec/${enc(id)}/start`, { body: config }); }
  /** Attached start: the connection is hijacked like attach; the JSON body travels with the upgrade request. */
  startAttached(id: string, config: unknown): Promise<Hijacked> { return this.c.hijack('POST', `/exec/${enc(id)}/start`, { body: config }); }
  inspect(id: string): Promise<any> { return this.c.json('GET', `/exec/${enc(id)}/json`); }
  resize(id: string, h: number, w: number): Promise<void> { return this.c.json('POST', `/exec/${enc(id)}/resize`, { query: { h, w } }); }
}

/** /networks/… */
export class NetworksApi {
  constructor(private readonly c: Transport) {}

  list(query: Query): Promise<any[]> { return this.c.json('GET', '/networks', { query }); }
  inspect(id: string, verbose = false): Promise<any> {
    return this.c.json('GET', `/networks/${enc(id)}`, { query: { verbose: verbose || undefined } });
  }
  create(body: unknown): Promise<{ Id: string; Warning?: string }> { return this.c.json('POST', '/networks/create', { body }); }
  remove(id: string): Promise<void> { return this.c.json('DELETE', `/networks/${enc(id)}`); }
  prune(query: Query): Promise<{ NetworksDeleted: string[] | null }> { return this.c.json('POST', '/networks/prune', { query }); }
  connect(id: string, container: string, endpoint: unknown): Promise<void> {
    return this.c.json('POST', `/networks/${enc(id)}/connect`, { body: { Container: container, EndpointConfig: endpoint } });
  }
  disconnect(id: string, container: string, force: boolean): Promise<void> {
    return this.c.json('POST', `/networks/${enc(id)}/disconnect`, { body: { Container: container, Force: force } });
  }
}

/** /images/… */
export class ImagesApi {
  constructor(private readonly c: Transport) {}

  list(query: Query): Promise<any[]> { return this.c.json('GET', '/images/json', { query }); }
  inspect(name: string): Promise<any> { return this.c.json('GET', `/images/${encName(name)}/json`); }
  history(name: string): Promise<any[]> { return this.c.json('GET', `/images/${encName(name)}/history`); }
  tag(name: string, repo: string, tag?: string): Promise<void> {
    return this.c.json('POST', `/images/${encName(name)}/tag`, { query: { repo, tag } });
  }
  remove(name: string, query: Query): Promise<Array<Record<string, string>>> {
    return this.c.json('DELETE', `/images/${encName(name)}`, { query });
  }
  prune(query: Query): Promise<{ ImagesDeleted: Array<Record<string, string>> | null; SpaceReclaimed: number }> {
    return this.c.json('POST', '/images/prune', { query });
  }
  /** POST /build/prune: the builder's step cache. */
  buildPrune(query: Query): Promise<{ CachesDeleted: string[] | null; SpaceReclaimed: number }> {
    return this.c.json('POST', '/build/prune', { query });
  }
  /** POST /images/create: pull (fromImage) or import (fromSrc, body = tar stream). */
  create(query: Query, body?: Readable): Promise<http.IncomingMessage> {
    return this.c.stream('POST', '/images/create', { query, body, contentType: 'application/x-tar' });
  }
}

function enc(id: string): string {
  return encodeURIComponent(id);
}

/** image names keep their slashes in the path, as docker's client sends them */
function encName(name: string): string {
  return name.split('/').map(encodeURIComponent).join('/');
}

export function readAll(res: Readable): Promise<string> {
  return new Promise((resolve, reject) => {
    const parts: Buffer[] = [];
    res.on('data', (c: Buffer) => parts.push(c));
    res.on('end', () => resolve(Buffer.concat(parts).toString('utf8')));
    res.on('error', reject);
  });
}

async function errorFrom(res: http.IncomingMessage): Promise<EngineApiError> {
  const text = await readAll(res).catch(() => '');
  let msg = text.trim();
  try {
    const j = JSON.parse(text) as { message?: string };
    if (j && typeof j.message === 'string') msg = j.message;
  } catch { /* not JSON: keep the text */ }
  if (!msg) msg = `${res.statusCode} ${res.statusMessage ?? ''}`.trim();
  return new EngineApiError(res.statusCode ?? 500, msg);
}
