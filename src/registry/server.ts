import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { pipeline } from 'node:stream/promises';
import { isDigestString, MT } from '../core/manifest.js';
import { RegistryError } from './errcode.js';
import { REPO_NAME, isRepoName, isTag } from './repo-paths.js';
import { MAX_MANIFEST_BYTES, RegistryStorage } from './storage.js';

/**
 * `berth registry`: the OCI distribution spec over HTTP (pull, monolithic and chunked push, cross-repository
 * mount, delete, tag listing and catalog with pagination, referrers). The route table is data; each handler parses the
 * request, makes one storage call and writes the answer; every failure is a `RegistryError` written once.
 */
/** What a request needs, as distribution's auth.Access (its JSON is the 401's detail). */
export interface Access { Type: 'repository' | 'registry'; Class: string; Name: string; Action: string }
export interface AuthDenial { challenge: string; reason?: string }

export interface RegistryAuth {
  /** Undefined when the request may do `access`; otherwise the WWW-Authenticate challenge for the 401. */
  check(req: IncomingMessage, access: Access[]): Promise<AuthDenial | undefined>;
}

export interface RegistryOptions {
  storage: RegistryStorage;
  auth?: RegistryAuth;
  readOnly?: boolean;
  /** PEM certificate chain and key: serve HTTPS instead of HTTP. */
  tls?: { cert: Buffer; key: Buffer };
  log?: (line: string) => void;
}

interface Ctx {
  req: IncomingMessage;
  res: ServerResponse;
  url: URL;
  name: string;
  rest: string;
}

type RouteHandler = (c: Ctx) => Promise<void>;
interface RegistryRoute { method: string; kind: 'manifests' | 'blobs' | 'uploads' | 'upload' | 'tags' | 'referrers'; write: boolean; handler: RouteHandler }

const NAME_ROUTE = new RegExp(`^/v2/(${REPO_NAME})/(manifests/|blobs/uploads/|blobs/|tags/list$|referrers/)(.*)$`);

export function registryHandler(opts: RegistryOptions): (req: IncomingMessage, res: ServerResponse) => void {
  const st = opts.storage;

  const routes: RegistryRoute[] = [
    { method: 'GET', kind: 'manifests', write: false, handler: (c) => getManifest(c, true) },
    { method: 'HEAD', kind: 'manifests', write: false, handler: (c) => getManifest(c, false) },
    { method: 'PUT', kind: 'manifests', write: true, handler: putManifest },
    { method: 'DELETE', kind: 'manifests', write: true, handler: deleteManifest },
    { method: 'GET', kind: 'blobs', write: false, handler: (c) => getBlob(c, true) },
    { method: 'HEAD', kind: 'blobs', write: false, handler: (c) => getBlob(c, false) },
    { method: 'DELETE', kind: 'blobs', write: true, handler: deleteBlob },
    { method: 'POST', kind: 'uploads', write: true, handler: startUpload },
    { method: 'GET', kind: 'upload', write: false, handler: uploadStatus },
    { method: 'PATCH', kind: 'upload', write: true, handler: patchUpload },
    { method: 'PUT', kind: 'upload', write: true, handler: putUpload },
    { method: 'DELETE', kind: 'upload', write: true, handler: cancelUpload },
    { method: 'GET', kind: 'tags', write: false, handler: listTags },
    { method: 'GET', kind: 'referrers', write: false, handler: listReferrers },
  ];

  function ref(c: Ctx): { ref: string; isDigest: boolean } {
    const r = c.rest;
    if (isDigestString(r)) return { ref: r, isDigest: true };
    if (r.includes(':')) throw new RegistryError('DIGEST_INVALID', `invalid digest ${JSON.stringify(r)}`);
    if (!isTag(r)) throw new RegistryError('TAG_INVALID', `invalid tag ${JSON.stringify(r)}`);
    return { ref: r, isDigest: false };
  }

  function digestParam(s: string | null): string {
    if (!s || !isDigestString(s)) throw new RegistryError('DIGEST_INVALID', `invalid digest ${JSON.stringify(s ?? '')}`);
    return s;
  }

  async function getManifest(c: Ctx, body: boolean): Promise<void> {
    const { ref: r, isDigest } = ref(c);
    const m = await st.getManifest(c.name, r, isDigest);
    c.res.writeHead(200, {
      'Content-Type': m.mediaType, 'Content-Length': m.body.length, 'Docker-Content-Digest': m.digest, ETag: `"${m.digest}"`,
    });
    c.res.end(body ? m.body : undefined);
  }

  async function putManifest(c: Ctx): Promise<void> {
    const { ref: r, isDigest } = ref(c);
    const body = await readLimited(c.req, MAX_MANIFEST_BYTES);
    const { digest, subject } = await st.putManifest(c.name, r, isDigest, body, String(c.req.headers['content-type'] ?? ''));
    c.res.writeHead(201, {
      Location: `/v2/${c.name}/manifests/${digest}`, 'Docker-Content-Digest': digest, 'Content-Length': 0,
      // OCI distribution 1.1: a registry with the referrers API names the subject it indexed.
      ...(subject ? { 'OCI-Subject': subject } : {}),
    });
    c.res.end();
  }

  async function deleteManifest(c: Ctx): Promise<void> {
    const { ref: r, isDigest } = ref(c);
    await st.deleteManifest(c.name, r, isDigest);
    c.res.writeHead(202, { 'Content-Length': 0 });
    c.res.end();
  }

  async function getBlob(c: Ctx, body: boolean): Promise<void> {
    const digest = digestParam(c.rest);
    const size = await st.statBlob(c.name, digest);
    const headers: http.OutgoingHttpHeaders = {
      'Content-Type': 'application/octet-stream', 'Docker-Content-Digest': digest, ETag: `"${digest}"`,
      'Accept-Ranges': 'bytes', 'Cache-Control': 'max-age=31536000',
    };
    const range = parseRange(c.req.headers.range, size);
    if (range === 'invalid') {
      c.res.writeHead(416, { 'Content-Range': `bytes */${size}` });
      c.res.end();
      return;
    }
    if (range) {
      c.res.writeHead(206, { ...headers, 'Content-Length': range.end - range.start + 1, 'Content-Range': `bytes ${range.start}-${range.end}/${size}` });
    } else {
      c.res.writeHead(200, { ...headers, 'Content-Length': size });
    }
    if (!body || size === 0) { c.res.end(); return; }
    await pipeline(st.blobStream(digest, range ?? undefined), c.res).catch(() => c.res.destroy());
  }

  async function deleteBlob(c: Ctx): Promise<void> {
    await st.deleteBlob(c.name, digestParam(c.rest));
    c.res.writeHead(202, { 'Content-Length': 0 });
    c.res.end();
  }

  function uploadHeaders(c: Ctx, id: string, size: number): http.OutgoingHttpHeaders {
    return {
      Location: `/v2/${c.name}/blobs/uploads/${id}`, 'Docker-Upload-UUID': id,
      Range: `0-${Math.max(0, size - 1)}`, 'Content-Length': 0,
    };
  }

  async function startUpload(c: Ctx): Promise<void> {
    if (c.rest !== '') throw new RegistryError('BLOB_UPLOAD_UNKNOWN');
    const q = c.url.searchParams;
    const mount = q.get('mount');
    const from = q.get('from');
    if (mount && from) {
      const digest = digestParam(mount);
      if (isRepoName(from) && await st.mount(c.name, from, digest)) {
        c.res.writeHead(201, { Location: `/v2/${c.name}/blobs/${digest}`, 'Docker-Content-Digest': digest, 'Content-Length': 0 });
        c.res.end();
        return;
      }
      // Not mountable: the spec says fall back to an upload session; any body is ignored.
    }
    const monolithic = q.get('digest');
    const digest = monolithic === null ? undefined : digestParam(monolithic);
    const u = await st.startUpload(c.name);
    if (digest !== undefined) {
      await st.appendUpload(u, c.req).catch(async (err) => { await st.cancelUpload(u); throw err; });
      await st.finishUpload(u, digest);
      c.res.writeHead(201, { Location: `/v2/${c.name}/blobs/${digest}`, 'Docker-Content-Digest': digest, 'Content-Length': 0 });
      c.res.end();
      return;
    }
    c.req.resume();
    c.res.writeHead(202, uploadHeaders(c, u.id, 0));
    c.res.end();
  }

  async function uploadStatus(c: Ctx): Promise<void> {
    const u = st.upload(c.name, c.rest);
    c.res.writeHead(204, uploadHeaders(c, u.id, u.writer.bytesWritten));
    c.res.end();
  }

  async function patchUpload(c: Ctx): Promise<void> {
    const u = st.upload(c.name, c.rest);
    const cr = c.req.headers['content-range'];
    let start: number | undefined;
    if (cr) {
      const m = /^(?:bytes[ =])?(\d+)-(\d+)$/.exec(String(cr).trim());
      if (!m) throw new RegistryError('RANGE_INVALID', `invalid Content-Range ${JSON.stringify(cr)}`);
      start = Number(m[1]);
      const len = Number(c.req.headers['content-length'] ?? NaN);
      if (Number.isFinite(len) && Number(m[2]) - start + 1 !== len) throw new RegistryError('RANGE_INVALID', 'Content-Range does not match Content-Length');
    }
    const size = await st.appendUpload(u, c.req, start);
    c.res.writeHead(202, uploadHeaders(c, u.id, size));
    c.res.end();
  }

  async function putUpload(c: Ctx): Promise<void> {
    const u = st.upload(c.name, c.rest);
    const digest = digestParam(c.url.searchParams.get('digest'));
    await st.appendUpload(u, c.req);
    await st.finishUpload(u, digest);
    c.res.writeHead(201, { Location: `/v2/${c.name}/blobs/${digest}`, 'Docker-Content-Digest': digest, 'Content-Length': 0 });
    c.res.end();
  }

  async function cancelUpload(c: Ctx): Promise<void> {
    await st.cancelUpload(st.upload(c.name, c.rest));
    c.res.writeHead(204, { 'Content-Length': 0 });
    c.res.end();
  }

  async function listTags(c: Ctx): Promise<void> {
    const all = await st.tags(c.name);
    const page = paginate(all, c.url.searchParams);
    if (page.next) c.res.setHeader('Link', `</v2/${c.name}/tags/list?n=${page.n}&last=${encodeURIComponent(page.next)}>; rel="next"`);
    sendJson(c.res, 200, { name: c.name, tags: page.items });
  }

  /** OCI distribution 1.1 referrers: an index of the manifests whose subject is the digest (never a 404 for it). */
  async function listReferrers(c: Ctx): Promise<void> {
    const subject = digestParam(c.rest);
    const types = c.url.searchParams.getAll('artifactType').filter((t) => t !== '');
    const manifests = await st.referrers(c.name, subject, types.length ? types : undefined);
    const text = JSON.stringify({ schemaVersion: 2, mediaType: MT.ociIndex, manifests });
    c.res.writeHead(200, {
      'Content-Type': MT.ociIndex, 'Content-Length': Buffer.byteLength(text),
      ...(types.length ? { 'OCI-Filters-Applied': 'artifactType' } : {}),
    });
    c.res.end(text);
  }

  async function catalog(c: Ctx): Promise<void> {
    const page = paginate(await st.catalog(), c.url.searchParams);
    if (page.next) c.res.setHeader('Link', `</v2/_catalog?n=${page.n}&last=${encodeURIComponent(page.next)}>; rel="next"`);
    sendJson(c.res, 200, { repositories: page.items });
  }

  /**
   * The v1 search API that `docker search HOST/TERM` asks (distribution has none): repositories whose name
   * contains the term, at most `n` (default 25), in Docker Hub's result shape.
   */
  async function search(c: Ctx): Promise<void> {
    const q = (c.url.searchParams.get('q') ?? '').toLowerCase();
    const nRaw = c.url.searchParams.get('n');
    const n = nRaw && /^\d+$/.test(nRaw) ? Math.min(100, Math.max(1, Number(nRaw))) : 25;
    const found = (await st.catalog()).filter((r) => r.includes(q));
    const results = found.slice(0, n).map((name) => ({ name, description: '', star_count: 0, is_official: false, is_automated: false }));
    sendJson(c.res, 200, { query: q, num_results: found.length, num_pages: Math.max(1, Math.ceil(found.length / n)), page: 1, page_size: n, results });
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    res.setHeader('Docker-Distribution-API-Version', 'registry/2.0');
    const url = new URL(req.url ?? '/', 'http://registry');
    const p = url.pathname;
    const method = req.method ?? 'GET';
    const c: Ctx = { req, res, url, name: '', rest: '' };
    if (p === '/v2/' || p === '/v2') {
      if (method !== 'GET' && method !== 'HEAD') throw new RegistryError('UNSUPPORTED');
      await authorize(req, [], false);
      sendJson(res, 200, {});
      return;
    }
    // The catalog and search (which reveals it) need distribution's registry:catalog:* scope.
    const catalogAccess: Access[] = [{ Type: 'registry', Class: '', Name: 'catalog', Action: '*' }];
    if (p === '/v2/_catalog') {
      if (method !== 'GET') throw new RegistryError('UNSUPPORTED');
      await authorize(req, catalogAccess, false);
      await catalog(c);
      return;
    }
    if (p === '/v1/search') {
      if (method !== 'GET') throw new RegistryError('UNSUPPORTED');
      await authorize(req, catalogAccess, false);
      await search(c);
      return;
    }
    const m = NAME_ROUTE.exec(p);
    if (!m) {
      if (p.startsWith('/v2/')) throw new RegistryError('NAME_INVALID', 'invalid repository name or path');
      res.writeHead(404, { 'Content-Type': 'text/plain' });
      res.end('404 page not found\n');
      return;
    }
    const [, name, what, rest] = m as unknown as [string, string, string, string];
    if (!isRepoName(name)) throw new RegistryError('NAME_INVALID', `invalid repository name ${JSON.stringify(name)}`);
    c.name = name;
    c.rest = decodeURIComponent(rest);
    const kind: RegistryRoute['kind'] = what === 'manifests/' ? 'manifests' : what === 'blobs/' ? 'blobs'
      : what === 'tags/list' ? 'tags' : what === 'referrers/' ? 'referrers' : c.rest === '' ? 'uploads' : 'upload';
    const route = routes.find((r) => r.kind === kind && r.method === method);
    if (!route) throw new RegistryError('UNSUPPORTED');
    const access = accessFor(method, name);
    const from = url.searchParams.get('from');
    if (from) access.push(...accessFor('GET', from));
    await authorize(req, access, route.write);
    await route.handler(c);
  }

  async function authorize(req: IncomingMessage, access: Access[], write: boolean): Promise<void> {
    const denied = await opts.auth?.check(req, access);
    if (denied !== undefined) {
      if (denied.reason) opts.log?.(`auth: ${denied.reason}`);
      throw Object.assign(new RegistryError('UNAUTHORIZED', undefined, access.length ? access : null), { challenge: denied.challenge });
    }
    if (write && opts.readOnly) throw new RegistryError('UNSUPPORTED', 'the registry is in read-only mode');
  }

  return (req, res) => {
    const started = Date.now();
    handle(req, res).catch((err: unknown) => {
      const e = err instanceof RegistryError ? err : new RegistryError('UNSUPPORTED', (err as Error).message);
      const status = err instanceof RegistryError ? e.status : 500;
      if (res.headersSent) { res.destroy(); return; }
      const body = e.body();
      const headers: http.OutgoingHttpHeaders = { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body) };
      const challenge = (err as { challenge?: string }).challenge;
      if (challenge) headers['WWW-Authenticate'] = challenge;
      res.writeHead(status, headers);
      res.end(req.method === 'HEAD' ? undefined : body);
      if (!req.complete) discardBody(req);
    }).finally(() => {
      opts.log?.(`${req.method} ${req.url} ${res.statusCode} ${Date.now() - started}ms`);
    });
  };
}

/** distribution's appendAccessRecords: reads pull, writes pull and push, deletes delete. */
function accessFor(method: string, repo: string): Access[] {
  const a = (Action: string): Access => ({ Type: 'repository', Class: '', Name: repo, Action });
  if (method === 'GET' || method === 'HEAD') return [a('pull')];
  if (method === 'POST' || method === 'PUT' || method === 'PATCH') return [a('pull'), a('push')];
  if (method === 'DELETE') return [a('delete')];
  return [];
}

function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(text) });
  res.end(text);
}

/** Bytes of a refused request's body read and dropped after the answer, so the client sees the answer. */
const DISCARD_LIMIT = 8 * 1024 * 1024;

/**
 * An error answered before the request body was read: a client still sending would get a reset (and most
 * lose the answer) if the connection closed now, so up to DISCARD_LIMIT more bytes are read and dropped
 * (the connection then serves the next request); past that it is cut, as Go's server cuts at 256 KiB.
 */
function discardBody(req: IncomingMessage): void {
  let n = 0;
  req.on('data', (c: Buffer) => {
    n += c.length;
    if (n > DISCARD_LIMIT) req.socket.destroy();
  });
  req.on('error', () => {});
  req.resume();
}

/** The body, at most `limit` bytes; more is SIZE_INVALID, without consuming (or destroying) the rest. */
function readLimited(req: IncomingMessage, limit: number): Promise<Buffer> {
  const declared = Number(req.headers['content-length'] ?? 0);
  if (declared > limit) return Promise.reject(new RegistryError('SIZE_INVALID', `manifest too large: ${declared} bytes (limit ${limit})`));
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let n = 0;
    const done = (err?: Error): void => {
      req.off('data', onData).off('end', onEnd).off('error', onError);
      req.pause();
      if (err) reject(err); else resolve(Buffer.concat(chunks));
    };
    const onData = (c: Buffer): void => {
      n += c.length;
      if (n > limit) done(new RegistryError('SIZE_INVALID', `manifest too large (limit ${limit} bytes)`));
      else chunks.push(c);
    };
    const onEnd = (): void => done();
    const onError = (err: Error): void => done(err);
    req.on('data', onData).on('end', onEnd).on('error', onError);
  });
}

/** `n` and `last` as the spec reads them: entries after `last`, at most `n`; `next` is set when more remain. */
export function paginate(all: string[], q: URLSearchParams): { items: string[]; n: number; next?: string } {
  const last = q.get('last');
  let items = last ? all.filter((x) => x > last) : all;
  const nRaw = q.get('n');
  if (nRaw === null || nRaw === '') return { items, n: items.length };
  const n = Number(nRaw);
  if (!Number.isInteger(n) || n < 0) throw new RegistryError('PAGINATION_NUMBER_INVALID', `invalid n ${JSON.stringify(nRaw)}`);
  const more = items.length > n;
  items = items.slice(0, n);
  return more && n > 0 ? { items, n, next: items[items.length - 1]! } : { items, n };
}

/** A single `bytes=a-b` range (suffix and open ranges too); undefined for none. */
export function parseRange(h: string | undefined, size: number): { start: number; end: number } | undefined | 'invalid' {
  if (!h) return undefined;
  const m = /^bytes=(\d*)-(\d*)$/.exec(h.trim());
  if (!m || (m[1] === '' && m[2] === '')) return 'invalid';
  let start: number;
  let end: number;
  if (m[1] === '') { start = Math.max(0, size - Number(m[2])); end = size - 1; } else {
    start = Number(m[1]);
    end = m[2] === '' ? size - 1 : Math.min(Number(m[2]), size - 1);
  }
  if (start > end || start >= size) return 'invalid';
  return { start, end };
}

export interface RunningRegistry { port: number; address: string; close(): Promise<void> }

/** Listen on `addr` (`HOST:PORT`, port 0 picks one). */
export async function serveRegistry(opts: RegistryOptions, addr: string): Promise<RunningRegistry> {
  const m = /^(.*):(\d+)$/.exec(addr);
  if (!m) throw new Error(`invalid address ${JSON.stringify(addr)}: want HOST:PORT`);
  const host = m[1]!.replace(/^\[(.*)\]$/, '$1') || '0.0.0.0';
  const serverOpts = { requestTimeout: 0, headersTimeout: 60_000, keepAliveTimeout: 30_000 };
  const server = opts.tls
    ? https.createServer({ ...serverOpts, cert: opts.tls.cert, key: opts.tls.key }, registryHandler(opts))
    : http.createServer(serverOpts, registryHandler(opts));
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(Number(m[2]), host, () => { server.off('error', reject); resolve(); });
  });
  const a = server.address() as AddressInfo;
  return {
    port: a.port,
    address: `${a.address}:${a.port}`,
    close: () => new Promise<void>((resolve) => { server.close(() => resolve()); server.closeAllConnections(); }),
  };
}
