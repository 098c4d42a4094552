import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import fs from 'node:fs';
import type { WebSocket } from 'ws';
import { InvalidParameterError, NotFoundError } from '../errors.js';
import { writeError } from './errors.js';
import { acceptWebSocket } from './stream/websocket.js';
import { createTlsServer, type TlsSettings } from './tls-listener.js';
import { bodyDecoderFor } from './api-schema.js';
import { dropNullFields } from '../core/json-body.js';

import { API_VERSION, BERTH_VERSION, MIN_API_VERSION } from '../version.js';
import { compareVersions } from '../core/version-compare.js';
export { API_VERSION, BERTH_VERSION, MIN_API_VERSION } from '../version.js';

/** Request bodies above this are refused before parsing (RELIABILITY A12). */
export const MAX_JSON_BODY = 32 * 1024 * 1024;

export interface RouteContext {
  req: IncomingMessage;
  res: ServerResponse;
  params: Record<string, string>;
  query: URLSearchParams;
  /** API version the client asked for (from /v1.NN/), or the server's. */
  apiVersion: string;
  /** Parsed JSON body with Docker's validation; `undefined` when the body is empty. */
  json<T = unknown>(): Promise<T | undefined>;
  /** The raw socket after a 101 (or 200 for clients that did not ask to upgrade). */
  hijack(contentType?: string): Duplex;
  /** Whether the client asked for an upgraded (hijacked) connection. */
  upgrade: boolean;
  /** Completes a websocket handshake (`Upgrade: websocket`); rejects with InvalidParameterError before
   *  touching the connection when the request is not a valid one, so the handler can still answer. */
  websocket(): Promise<WebSocket>;
}

export type Handler = (ctx: RouteContext) => Promise<void> | void;

export interface Route {
  method: 'GET' | 'POST' | 'PUT' | 'DELETE' | 'HEAD';
  /** moby-style pattern: `/containers/{name}/json`, `/images/{name:.*}/json` (`.*` may span slashes). */
  path: string;
  handler: Handler;
}

interface CompiledRoute extends Route {
  re: RegExp;
  keys: string[];
  /** Go's decoding rules for this route's body (types from the spec, null = unset). */
  decodeBody: (value: unknown) => unknown;
}

function compile(route: Route): CompiledRoute {
  const keys: string[] = [];
  const src = route.path.replace(/[.+?^$()|[\]\\]/g, '\\$&').replace(/\\?\{(\w+)(?::\\\.\*)?\}/g, (m, key: string) => {
    keys.push(key);
    return m.includes('*') ? '(.+)' : '([^/]+)';
  });
  return { ...route, re: new RegExp(`^${src}$`), keys, decodeBody: bodyDecoderFor(route.method, route.path) ?? dropNullFields };
}

export { compareVersions } from '../core/version-compare.js';

function commonHeaders(res: ServerResponse): void {
  res.setHeader('Api-Version', API_VERSION);
  res.setHeader('Server', `berth/${BERTH_VERSION} (linux)`);
  res.setHeader('Ostype', 'linux');
  res.setHeader('Docker-Experimental', 'false');
}

async function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  const declared = Number(req.headers['content-length'] ?? 0);
  if (declared > limit) throw new InvalidParameterError(`request body too large: ${declared} bytes (limit ${limit})`);
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > limit) throw new InvalidParameterError(`request body too large (limit ${limit} bytes)`);
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}

/** Docker's JSON body rules (moby httputils.ReadJSON). */
export function parseJsonBody<T>(body: Buffer, contentType: string | undefined): T | undefined {
  if (body.length === 0) return undefined;
  // As moby's CheckForJSON: no Content-Type is fine only without a body.
  const mt = (contentType ?? '').split(';')[0]!.trim().toLowerCase();
  if (mt !== 'application/json') {
    throw new InvalidParameterError(`unsupported Content-Type header (${contentType ?? ''}): must be 'application/json'`);
  }
  const text = body.toString('utf8');
  try {
    return JSON.parse(text) as T;
  } catch (err) {
    // Distinguish trailing garbage from a bad document, as Go's decoder does.
    const trimmed = text.trim();
    if (trimmed === '') return undefined;
    try {
      JSON.parse(firstJsonValue(trimmed));
      throw new InvalidParameterError('unexpected content after JSON');
    } catch (inner) {
      if (inner instanceof InvalidParameterError) throw inner;
    }
    throw new InvalidParameterError(`invalid JSON: ${goJsonError(text, (err as Error).message)}`);
  }
}

/**
 * V8's JSON.parse message → the text Go's encoding/json gives for the same input (clients and moby's tests
 * match it, e.g. "invalid character 'i' looking for beginning of object key string"); V8's text otherwise.
 */
export function goJsonError(text: string, v8: string): string {
  if (/Unexpected end of JSON input|Unterminated string/.test(v8)) return 'unexpected EOF';
  const pos = /at position (\d+)/.exec(v8);
  const ch = pos ? text[Number(pos[1])] : /^Unexpected token '(.)'/.exec(v8)?.[1];
  if (ch === undefined) return v8;
  const q = ch === "'" ? "'\\''" : ch === '"' ? `'"'` : `'${JSON.stringify(ch).slice(1, -1)}'`;
  if (/property name/.test(v8) && !/after property name/.test(v8)) return `invalid character ${q} looking for beginning of object key string`;
  if (/after property name/.test(v8)) return `invalid character ${q} after object key`;
  if (/after property value/.test(v8)) return `invalid character ${q} after object key:value pair`;
  if (/after array element/.test(v8)) return `invalid character ${q} after array element`;
  if (/control character/.test(v8)) return `invalid character ${q} in string literal`;
  if (/escaped character/.test(v8)) return `invalid character ${q} in string escape code`;
  return `invalid character ${q} looking for beginning of value`;
}

function firstJsonValue(text: string): string {
  // Find the end of the first top-level object/array by bracket depth (strings respected).
  let depth = 0, inStr = false, esc = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (inStr) {
      if (esc) esc = false; else if (c === '\\') esc = true; else if (c === '"') inStr = false;
      continue;
    }
    if (c === '"') inStr = true;
    else if (c === '{' || c === '[') depth++;
    else if (c === '}' || c === ']') { depth--; if (depth === 0) return text.slice(0, i + 1); }
  }
  return text;
}

export interface App {
  handle(req: IncomingMessage, res: ServerResponse, upgradeSocket?: Duplex, head?: Buffer): void;
}

export function buildApp(routes: Route[], opts: { debug?: (msg: string) => void } = {}): App {
  const compiled = routes.map(compile);

  function handle(req: IncomingMessage, res: ServerResponse, upgradeSocket?: Duplex, head?: Buffer): void {
    opts.debug?.(`Calling ${req.method} ${req.url}`);
    commonHeaders(res);
    const url = new URL(req.url ?? '/', 'http://berth');
    let pathname = url.pathname;
    let apiVersion = API_VERSION;
    const vm = /^\/v([0-9]+(?:\.[0-9]+)*)(\/.*)$/.exec(pathname);
    if (vm) {
      apiVersion = vm[1]!;
      pathname = vm[2]!;
      if (compareVersions(apiVersion, MIN_API_VERSION) < 0) {
        return writeError(res, new InvalidParameterError(`client version ${apiVersion} is too old. Minimum supported API version is ${MIN_API_VERSION}, please upgrade your client to a newer version`));
      }
      if (compareVersions(apiVersion, API_VERSION) > 0) {
        return writeError(res, new InvalidParameterError(`client version ${apiVersion} is too new. Maximum supported API version is ${API_VERSION}`));
      }
    }
    const method = req.method === 'HEAD' && pathname === '/_ping' ? 'HEAD' : req.method;
    let match: { route: CompiledRoute; m: RegExpExecArray } | undefined;
    for (const r of compiled) {
      if (r.method !== method) continue;
      const m = r.re.exec(pathname);
      if (m) { match = { route: r, m }; break; }
    }
    if (!match) return writeError(res, new NotFoundError('page not found'));
    const params: Record<string, string> = {};
    match.route.keys.forEach((k, i) => { params[k] = decodeURIComponent(match!.m[i + 1]!); });

    let bodyPromise: Promise<Buffer> | undefined;
    const ctx: RouteContext = {
      req, res, params, query: url.searchParams, apiVersion,
      upgrade: !!upgradeSocket,
      async json<T>() {
        bodyPromise ??= readBody(req, MAX_JSON_BODY);
        const parsed = parseJsonBody<unknown>(await bodyPromise, req.headers['content-type']);
        return (parsed === undefined ? undefined : match!.route.decodeBody(parsed) ?? undefined) as T | undefined;
      },
      hijack(contentType = 'application/vnd.docker.raw-stream'): Duplex {
        if (upgradeSocket) {
          upgradeSocket.write(
            `HTTP/1.1 101 UPGRADED\r\nContent-Type: ${contentType}\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n` +
            `Api-Version: ${API_VERSION}\r\n\r\n`);
          if (head && head.length) upgradeSocket.unshift(head);
          res.detachSocket(upgradeSocket as never);
          return upgradeSocket;
        }
        // Not upgraded: answer 200 and treat the rest of the connection as the raw stream.
        const sock = req.socket;
        sock.write(`HTTP/1.1 200 OK\r\nContent-Type: ${contentType}\r\nApi-Version: ${API_VERSION}\r\nConnection: close\r\n\r\n`);
        res.detachSocket(sock);
        return sock;
      },
      async websocket(): Promise<WebSocket> {
        if (!upgradeSocket) throw new InvalidParameterError('websocket: the client is not using the websocket protocol');
        const ws = await acceptWebSocket(req, upgradeSocket, head ?? Buffer.alloc(0),
          { 'Api-Version': API_VERSION, Server: `berth/${BERTH_VERSION} (linux)` });
        res.detachSocket(upgradeSocket as never);
        return ws;
      },
    };
    Promise.resolve()
      .then(() => match!.route.handler(ctx))
      .catch((err) => {
        if (process.env.BERTH_DEBUG) console.error(err);
        writeError(res, err);
      });
  }
  return { handle };
}

export interface Listener { close(): Promise<void> }

/** Listen on a unix socket (unix:///path) or tcp://host:port; socket mode 0660 set before listen (S7). */
export async function listen(app: App, hostSpec: string, opts: { gid?: number; tls?: TlsSettings } = {}): Promise<{ server: http.Server; close(): Promise<void> }> {
  const base = { keepAliveTimeout: 60_000, requestTimeout: 0, headersTimeout: 60_000 };
  const handler = (req: IncomingMessage, res: ServerResponse) => app.handle(req, res);
  // TLS is for tcp:// only, as dockerd: a unix socket is guarded by its mode and group
  const server: http.Server = opts.tls && hostSpec.startsWith('tcp://') ? createTlsServer(opts.tls, base, handler) : http.createServer(base, handler);
  server.timeout = 0;
  server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    const res = new http.ServerResponse(req);
    res.assignSocket(socket as never);
    app.handle(req, res, socket, head);
  });
  server.on('clientError', (_err, socket) => { socket.destroy(); });
  if (hostSpec.startsWith('unix://') || hostSpec.startsWith('/')) {
    const p = hostSpec.startsWith('unix://') ? hostSpec.slice('unix://'.length) : hostSpec;
    try { fs.unlinkSync(p); } catch { /* absent */ }
    const oldMask = process.umask(0o177);
    try {
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(p, () => { server.off('error', reject); resolve(); });
      });
    } finally {
      process.umask(oldMask);
    }
    // Created 0600 (umask above) so nobody but root connects before the group and mode are set.
    if (opts.gid !== undefined) fs.chownSync(p, 0, opts.gid);
    fs.chmodSync(p, 0o660);
    return { server, close: () => closeServer(server, () => { try { fs.unlinkSync(p); } catch { /* gone */ } }) };
  }
  const m = /^tcp:\/\/([^:]*):(\d+)$/.exec(hostSpec);
  if (!m) throw new InvalidParameterError(`invalid host: ${hostSpec}`);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(Number(m[2]), m[1] || '127.0.0.1', () => { server.off('error', reject); resolve(); });
  });
  return { server, close: () => closeServer(server, () => {}) };
}

function closeServer(server: http.Server, after: () => void): Promise<void> {
  return new Promise((resolve) => {
    server.close(() => { after(); resolve(); });
    server.closeAllConnections();
  });
}

/** Write a JSON response. */
export function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(text) });
  res.end(text);
}

export function sendNoContent(res: ServerResponse, status = 204): void {
  res.writeHead(status);
  res.end();
}

/** Query booleans as Docker reads them: 1/true/True (and empty for presence-style flags is false). */
export function boolParam(q: URLSearchParams, name: string, dflt = false): boolean {
  const v = q.get(name);
  if (v === null) return dflt;
  const s = v.trim().toLowerCase();
  if (s === '' || s === '0' || s === 'false' || s === 'no') return false;
  return true;
}

export function intParam(q: URLSearchParams, name: string): number | undefined {
  const v = q.get(name);
  if (v === null || v === '') return undefined;
  const n = Number(v);
  if (!Number.isInteger(n)) throw new InvalidParameterError(`invalid value for ${name}: ${v}`);
  return n;
}
