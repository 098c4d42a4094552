import http, { type IncomingMessage } from 'node:http';
import https from 'node:https';
import type { Readable } from 'node:stream';
import { goDialError } from '../core/go-dial-error.js';
import { MANIFEST_ACCEPT } from '../core/manifest.js';
import { ForbiddenError, InvalidParameterError, NotFoundError, SystemError, UnauthorizedError, UnavailableError } from '../errors.js';

/**
 * An OCI distribution client for one registry host: the WWW-Authenticate challenge (anonymous, basic,
 * bearer token per scope), manifest and blob reads, blob checks, mounts and uploads, manifest puts.
 * Errors are berth's taxonomy with Docker's wording where the docker CLI shows them.
 */
export interface RegistryCredentials {
  username?: string;
  password?: string;
  /** An OAuth refresh token (docker login's IdentityToken). */
  identitytoken?: string;
  /** A bearer token to send as is. */
  registrytoken?: string;
}

/** TLS for an https endpoint: verification (off for an insecure registry), extra CAs, a client certificate. */
export interface RegistryTls {
  rejectUnauthorized: boolean;
  /** The system roots plus certs.d's `*.crt` (unset: Node's default roots). */
  ca?: string[];
  cert?: string;
  key?: string;
}

export interface RegistryEndpoint {
  /** The registry's name in references (`127.0.0.1:5000`, `docker.io`). */
  domain: string;
  /** Where requests go (`http://127.0.0.1:5000`, a mirror's URL with its path prefix). */
  base: string;
  /** A registry-mirrors entry (any failure moves on to the next endpoint). */
  mirror?: boolean;
  tls?: RegistryTls;
}

const failures = new WeakSet<object>();
const answered = new WeakSet<RegistryEndpoint>();
/** Whether the endpoint has answered a request (so it speaks its scheme: no plain-http retry after). */
export function endpointAnswered(e: RegistryEndpoint): boolean { return answered.has(e); }
/** Whether `err` is a request that got no HTTP answer (connect, TLS, reset): dockerd moves on to its next endpoint. */
export function isTransportFailure(err: unknown): boolean {
  return typeof err === 'object' && err !== null && failures.has(err);
}

export interface RequestOptions {
  method?: string;
  headers?: Record<string, string>;
  body?: Buffer | Readable;
  /** The scope the token must cover (`repository:x/y:pull`). */
  scope: string;
  /** Statuses the caller handles itself (others become errors). */
  ok?: number[];
  signal?: AbortSignal;
}

interface Challenge { scheme: string; params: Record<string, string> }

export function parseChallenge(h: string): Challenge | undefined {
  const m = /^\s*(\w+)\s*(.*)$/.exec(h);
  if (!m) return undefined;
  const params: Record<string, string> = {};
  const re = /(\w+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^,\s]*))/g;
  let p: RegExpExecArray | null;
  while ((p = re.exec(m[2]!))) params[p[1]!.toLowerCase()] = p[2] !== undefined ? p[2].replace(/\\(.)/g, '$1') : p[3]!;
  return { scheme: m[1]!.toLowerCase(), params };
}

const agents = { http: new http.Agent({ keepAlive: true, maxSockets: 16 }), https: new https.Agent({ keepAlive: true, maxSockets: 16 }) };
/** Chunked uploads (after a 413): chunks start at 8 MiB and halve on a 413, down to 64 KiB. */
const CHUNK = 8 * 1024 * 1024;
const MIN_CHUNK = 64 * 1024;
const TLS_HANDSHAKE_MS = 10_000;
/**
 * How long a response may take to start, or a body may go without a byte (a stalled registry). Docker has
 * no such bound (Go's client waits on a silent socket until TCP gives up); 60 s is far longer than any
 * healthy registry pauses, and a pull retries the blob after it (pull.ts).
 */
export const IDLE_MS = 60_000;
const ANY_STATUS = Array.from({ length: 500 }, (_, i) => i + 100);

export class RegistryClient {
  private readonly tokens = new Map<string, string>();
  private challenge: Challenge | undefined;

  /** `idleMs`: the read time-out (IDLE_MS; tests give a shorter one). */
  constructor(readonly endpoint: RegistryEndpoint, private readonly creds: RegistryCredentials = {}, private readonly idleMs = IDLE_MS) {}

  /** One request, answering a 401 challenge once. The response body is the caller's to read. */
  async request(path: string, o: RequestOptions): Promise<IncomingMessage> {
    const retryable = !o.body || Buffer.isBuffer(o.body);
    let res = await this.send(path, o, this.authHeader(o.scope));
    if (res.statusCode === 401 && retryable) {
      const ch = parseChallenge(String(res.headers['www-authenticate'] ?? ''));
      res.resume();
      if (ch) this.challenge = ch;
      if (ch?.scheme === 'basic' && !this.creds.username) {
        // docker's wording (Go's url.Error around distribution's ErrNoBasicAuthCredentials); not a 401, so
        // the docker CLI does not turn it into a login prompt.
        const m = o.method ?? 'GET';
        throw new SystemError(`${m[0]}${m.slice(1).toLowerCase()} "${this.endpoint.base}${path}": no basic auth credentials`);
      }
      const auth = await this.authorize(o.scope, o.signal);
      if (auth) res = await this.send(path, o, auth);
    }
    answered.add(this.endpoint);
    const status = res.statusCode ?? 0;
    if ((o.ok ?? [200]).includes(status)) return res;
    const text = await readText(res).catch(() => '');
    throw registryError(status, text, `${o.method ?? 'GET'} ${this.endpoint.base}${path}`);
  }

  private authHeader(scope: string): string | undefined {
    if (this.creds.registrytoken) return `Bearer ${this.creds.registrytoken}`;
    const ch = this.challenge;
    if (!ch) return undefined;
    if (ch.scheme === 'basic') return this.basic();
    const t = this.tokens.get(scope);
    return t ? `Bearer ${t}` : undefined;
  }

  private basic(): string | undefined {
    if (!this.creds.username) return undefined;
    return `Basic ${Buffer.from(`${this.creds.username}:${this.creds.password ?? ''}`).toString('base64')}`;
  }

  /** The Authorization for `scope` after a challenge: basic credentials, or a token from the realm. */
  private async authorize(scope: string, signal?: AbortSignal): Promise<string | undefined> {
    const ch = this.challenge;
    if (!ch) return undefined;
    if (ch.scheme === 'basic') return this.basic();
    if (ch.scheme !== 'bearer' || !ch.params.realm) return undefined;
    const url = new URL(ch.params.realm);
    if (ch.params.service) url.searchParams.set('service', ch.params.service);
    // One `scope` parameter per resource (a mount's is two), as docker's client asks for them.
    for (const sc of scope.split(' ').filter(Boolean)) url.searchParams.append('scope', sc);
    const headers: Record<string, string> = {};
    let method = 'GET';
    let body: Buffer | undefined;
    if (this.creds.identitytoken) {
      // OAuth2 refresh-token grant, as docker does with an identity token.
      method = 'POST';
      const form = new URLSearchParams({ grant_type: 'refresh_token', refresh_token: this.creds.identitytoken, service: ch.params.service ?? '', scope, client_id: 'berth' });
      body = Buffer.from(form.toString());
      headers['Content-Type'] = 'application/x-www-form-urlencoded';
    } else {
      const b = this.basic();
      if (b) headers.Authorization = b;
    }
    // The token server is reached with the registry's TLS settings, as dockerd's transport does.
    const res = await rawRequest(url, { method, headers, idleMs: this.idleMs, ...(body ? { body } : {}), ...(signal ? { signal } : {}), ...(this.endpoint.tls ? { tls: this.endpoint.tls } : {}) });
    const text = await readText(res);
    if (res.statusCode !== 200) throw registryError(res.statusCode ?? 0, text, `token from ${url.origin}${url.pathname}`);
    let tok: { token?: string; access_token?: string };
    try { tok = JSON.parse(text) as typeof tok; } catch { throw new SystemError(`token server ${url.origin}: not JSON`); }
    const token = tok.token ?? tok.access_token;
    if (!token) throw new SystemError(`token server ${url.origin}: no token in its answer`);
    this.tokens.set(scope, token);
    return `Bearer ${token}`;
  }

  private send(path: string, o: RequestOptions, auth: string | undefined): Promise<IncomingMessage> {
    const headers: Record<string, string> = { 'User-Agent': 'berth/0.1.0', ...(o.headers ?? {}) };
    if (auth) headers.Authorization = auth;
    return rawRequest(new URL(this.endpoint.base + path), {
      method: o.method ?? 'GET', headers, idleMs: this.idleMs, ...(o.body ? { body: o.body } : {}), ...(o.signal ? { signal: o.signal } : {}),
      ...(this.endpoint.tls ? { tls: this.endpoint.tls } : {}),
    });
  }

  /** GET /v2/ to learn the auth scheme and check credentials (docker login); the final status. */
  async ping(ok: number[] = [200]): Promise<number> {
    const res = await this.request('/v2/', { scope: '', ok });
    res.resume();
    return res.statusCode ?? 0;
  }

  async getManifest(repo: string, ref: string, signal?: AbortSignal): Promise<{ body: Buffer; mediaType: string; digest?: string }> {
    const res = await this.request(`/v2/${repo}/manifests/${ref}`, {
      headers: { Accept: MANIFEST_ACCEPT }, scope: `repository:${repo}:pull`, ...(signal ? { signal } : {}),
    }).catch((err: unknown) => {
      if (err instanceof NotFoundError) throw new NotFoundError(`manifest for ${this.endpoint.domain}/${repo}:${ref} not found: manifest unknown: manifest unknown`);
      throw err;
    });
    const body = await readLimitedBody(res, 4 * 1024 * 1024);
    const digest = res.headers['docker-content-digest'];
    return { body, mediaType: String(res.headers['content-type'] ?? '').split(';')[0]!.trim(), ...(typeof digest === 'string' ? { digest } : {}) };
  }

  /** Every tag of a repository (GET /v2/<name>/tags/list, following the Link header's pages). */
  async listTags(repo: string, signal?: AbortSignal): Promise<string[]> {
    const tags: string[] = [];
    let next: string | undefined = `/v2/${repo}/tags/list`;
    for (let pages = 0; next && pages < 1000; pages++) {
      const res = await this.request(next, { scope: `repository:${repo}:pull`, ...(signal ? { signal } : {}) });
      const doc = JSON.parse((await readLimitedBody(res, 16 * 1024 * 1024)).toString('utf8')) as { tags?: unknown };
      if (Array.isArray(doc.tags)) tags.push(...doc.tags.filter((t): t is string => typeof t === 'string'));
      const link = /<([^>]+)>;\s*rel="?next"?/.exec(String(res.headers.link ?? ''));
      next = link ? this.relative(link[1]!) : undefined;
    }
    return tags;
  }

  /** The v1 search API (`GET /v1/search?q=&n=`), which Docker Hub and berth registry have and distribution lacks. */
  async search(term: string, limit: number): Promise<{ results?: unknown }> {
    const res = await this.request(`/v1/search?q=${encodeURIComponent(term)}&n=${limit}`, {
      scope: 'registry:catalog:search', headers: { 'X-Docker-Token': 'true' }, ok: ANY_STATUS,
    });
    const body = await readLimitedBody(res, 16 * 1024 * 1024);
    // moby's searchRepositories: any answer but 200 is this, whatever the body says
    if (res.statusCode !== 200) throw new SystemError(`unexpected status code ${res.statusCode}`);
    try { return JSON.parse(body.toString('utf8')) as { results?: unknown }; } catch (err) {
      throw new SystemError(`error decoding registry search results: ${(err as Error).message}`);
    }
  }

  /** A blob's body; from `offset` on with `Range: bytes=N-` (a registry may ignore it: 200 with the whole blob). */
  async getBlob(repo: string, digest: string, signal?: AbortSignal, offset = 0): Promise<IncomingMessage> {
    return this.request(`/v2/${repo}/blobs/${digest}`, {
      scope: `repository:${repo}:pull`, ...(signal ? { signal } : {}),
      ...(offset > 0 ? { headers: { Range: `bytes=${offset}-` }, ok: [200, 206] } : {}),
    });
  }

  /** Size of a blob the repository has, or undefined. */
  async statBlob(repo: string, digest: string, scope: string): Promise<number | undefined> {
    const res = await this.request(`/v2/${repo}/blobs/${digest}`, { method: 'HEAD', scope, ok: [200, 404] });
    res.resume();
    return res.statusCode === 200 ? Number(res.headers['content-length'] ?? 0) : undefined;
  }

  /**
   * POST a blob upload session; with `mount`, a cross-repository mount. 201: the registry linked the blob
   * (mounted); 202: a session to upload into (a mount the registry could not do opens one too).
   */
  async startUpload(repo: string, mount?: { digest: string; from: string }): Promise<{ mounted: true } | { mounted: false; location: string }> {
    const q = mount ? `?mount=${encodeURIComponent(mount.digest)}&from=${encodeURIComponent(mount.from)}` : '';
    const scope = mount ? `repository:${repo}:pull,push repository:${mount.from}:pull` : `repository:${repo}:pull,push`;
    const res = await this.request(`/v2/${repo}/blobs/uploads/${q}`, { method: 'POST', scope, ok: mount ? [201, 202] : [202], body: Buffer.alloc(0) });
    res.resume();
    if (res.statusCode === 201) return { mounted: true };
    const loc = res.headers.location;
    if (!loc) throw new SystemError(`registry ${this.endpoint.domain}: upload without a Location`);
    return { mounted: false, location: loc };
  }

  /** Drop an upload session we will not use (best effort). */
  async cancelUpload(repo: string, location: string): Promise<void> {
    await this.request(this.relative(location), { method: 'DELETE', scope: `repository:${repo}:pull,push`, ok: [204, 404] }).then((r) => r.resume()).catch(() => {});
  }

  /**
   * Upload one blob as docker's client does: the body streamed in one PATCH (a chunk covering the whole
   * blob, with its Content-Range, so registries that take chunked uploads only accept it too), then a PUT
   * with the digest and no body to close the session. A 413 for the whole body starts over in chunks. `location` is a session already opened (a mount
   * answered 202); otherwise one is opened.
   */
  async uploadBlob(repo: string, digest: string, size: number, body: () => Readable, location?: string): Promise<void> {
    const scope = `repository:${repo}:pull,push`;
    let loc = location;
    if (!loc) {
      const s = await this.startUpload(repo);
      if (s.mounted) return;
      loc = s.location;
    }
    if (size > 0) {
      const src = body();
      const patch = await this.request(this.relative(loc), {
        method: 'PATCH', scope, ok: [202, 204, 413], body: src,
        headers: { 'Content-Type': 'application/octet-stream', 'Content-Length': String(size), 'Content-Range': `0-${size - 1}` },
      });
      patch.resume();
      if (patch.statusCode === 413) {
        // A registry (or a proxy in front of it) with a limit on request bodies: again in a new session, in chunks.
        src.destroy();
        await this.cancelUpload(repo, loc);
        const s = await this.startUpload(repo);
        if (s.mounted) return;
        loc = await this.uploadChunks(repo, s.location, digest, size, body());
      } else if (patch.headers.location) loc = patch.headers.location;
    }
    const url = new URL(loc, this.endpoint.base);
    url.searchParams.set('digest', digest);
    const res = await this.request(url.pathname + url.search, { method: 'PUT', scope, ok: [201, 204], body: Buffer.alloc(0) });
    res.resume();
  }

  /**
   * The OCI chunked upload: PATCHes with Content-Range in order, each to the Location the last one gave.
   * A chunk refused as too large (413) is sent again as halves (and so are the chunks after it), down to
   * 64 KiB. Returns the final Location.
   */
  private async uploadChunks(repo: string, location: string, digest: string, size: number, src: Readable): Promise<string> {
    const scope = `repository:${repo}:pull,push`;
    let loc = location;
    let offset = 0;
    // the largest chunk not yet refused: once one is, later chunks start at that size
    let limit = CHUNK;
    const send = async (buf: Buffer): Promise<void> => {
      if (buf.length > limit) {
        // the step is fixed here: a 413 further down lowers `limit`, and the pieces then split themselves
        const step = limit;
        for (let i = 0; i < buf.length; i += step) await send(buf.subarray(i, i + step));
        return;
      }
      const r = await this.request(this.relative(loc), {
        method: 'PATCH', scope, ok: [202, 204, 413], body: buf,
        headers: { 'Content-Type': 'application/octet-stream', 'Content-Range': `${offset}-${offset + buf.length - 1}` },
      });
      r.resume();
      if (r.statusCode === 413) {
        if (buf.length <= MIN_CHUNK) throw new InvalidParameterError(`registry ${this.endpoint.domain} refuses upload chunks of ${buf.length} bytes: 413 Request Entity Too Large`);
        limit = Math.ceil(buf.length / 2);
        await send(buf);
        return;
      }
      offset += buf.length;
      if (r.headers.location) loc = r.headers.location;
    };
    let parts: Buffer[] = [];
    let held = 0;
    try {
      for await (const c of src) {
        let b = c as Buffer;
        while (b.length) {
          const take = Math.min(CHUNK - held, b.length);
          parts.push(b.subarray(0, take));
          held += take;
          b = b.subarray(take);
          if (held === CHUNK) { await send(Buffer.concat(parts)); parts = []; held = 0; }
        }
      }
      if (held) await send(Buffer.concat(parts));
    } finally { src.destroy(); }
    if (offset !== size) throw new InvalidParameterError(`blob ${digest}: read ${offset} bytes, expected ${size}`);
    return loc;
  }

  async putManifest(repo: string, ref: string, mediaType: string, body: Buffer): Promise<string | undefined> {
    const res = await this.request(`/v2/${repo}/manifests/${ref}`, {
      method: 'PUT', scope: `repository:${repo}:pull,push`, ok: [200, 201, 202], body,
      headers: { 'Content-Type': mediaType },
    });
    res.resume();
    const d = res.headers['docker-content-digest'];
    return typeof d === 'string' ? d : undefined;
  }

  /**
   * A Location or Link from the registry as a path under this endpoint's base: a mirror's base has a path
   * prefix, which the registry's own links may or may not carry.
   */
  private relative(loc: string): string {
    const base = new URL(this.endpoint.base);
    const u = new URL(loc, base);
    const prefix = base.pathname.replace(/\/+$/, '');
    const p = prefix && u.pathname.startsWith(`${prefix}/`) ? u.pathname.slice(prefix.length) : u.pathname;
    return p + u.search;
  }
}

/** Node's certificate-check codes, and Go's crypto/x509 words for them (what docker users know). */
const X509_UNKNOWN_CA = new Set(['UNABLE_TO_VERIFY_LEAF_SIGNATURE', 'SELF_SIGNED_CERT_IN_CHAIN', 'DEPTH_ZERO_SELF_SIGNED_CERT',
  'UNABLE_TO_GET_ISSUER_CERT', 'UNABLE_TO_GET_ISSUER_CERT_LOCALLY']);

function transportMessage(url: URL, err: NodeJS.ErrnoException): string {
  const what = `Get "${url.origin}${url.pathname}"`;
  const code = err.code ?? '';
  // OpenSSL's codes for a TLS hello answered in plain HTTP
  if (code === 'EPROTO' || code === 'ERR_SSL_WRONG_VERSION_NUMBER' || code === 'ERR_SSL_PACKET_LENGTH_TOO_LONG') return `Get "${url.origin}/v2/": http: server gave HTTP response to HTTPS client`;
  if (X509_UNKNOWN_CA.has(code)) return `${what}: tls: failed to verify certificate: x509: certificate signed by unknown authority`;
  if (code === 'CERT_HAS_EXPIRED' || code === 'CERT_NOT_YET_VALID') return `${what}: tls: failed to verify certificate: x509: certificate has expired or is not yet valid`;
  if (code === 'ERR_TLS_CERT_ALTNAME_INVALID') return `${what}: tls: failed to verify certificate: x509: certificate is not valid for ${url.hostname} (${err.message})`;
  return `${what}: ${goDialError(url, err)}`;
}

function rawRequest(url: URL, o: { method: string; headers: Record<string, string>; body?: Buffer | Readable; signal?: AbortSignal; tls?: RegistryTls; idleMs?: number }): Promise<IncomingMessage> {
  const idle = o.idleMs ?? IDLE_MS;
  const secure = url.protocol === 'https:';
  const mod = secure ? https : http;
  // Per-request TLS options: the agent keys its sockets by them, so one agent serves every registry.
  const t = secure ? o.tls : undefined;
  const tlsOpts = t ? { rejectUnauthorized: t.rejectUnauthorized, ...(t.ca ? { ca: t.ca } : {}), ...(t.cert ? { cert: t.cert, key: t.key } : {}) } : {};
  return new Promise((resolve, reject) => {
    const headers = { ...o.headers };
    if (Buffer.isBuffer(o.body)) headers['Content-Length'] = String(o.body.length);
    const req = mod.request(url, { method: o.method, headers, agent: secure ? agents.https : agents.http, ...tlsOpts, ...(o.signal ? { signal: o.signal } : {}) }, (res) => {
      // A body that stalls fails instead of hanging the pull.
      res.setTimeout?.(idle, () => res.destroy(new UnavailableError(`${o.method} "${url.origin}${url.pathname}": read timeout: no data from the registry for ${idle / 1000} s`)));
      resolve(res);
    });
    req.setTimeout(idle, () => req.destroy(new UnavailableError(`${o.method} "${url.origin}${url.pathname}": timeout: no answer from the registry after ${idle / 1000} s`)));
    // Go's TLSHandshakeTimeout: a plain server that never answers a ClientHello (an insecure registry's
    // https attempt) costs 10 s before the plain-http endpoint, not the 60 s idle time-out.
    if (secure) {
      req.on('socket', (sock) => {
        if (req.reusedSocket) return;
        const t = setTimeout(() => req.destroy(new UnavailableError(`Get "${url.origin}${url.pathname}": net/http: TLS handshake timeout`)), TLS_HANDSHAKE_MS);
        sock.once('secureConnect', () => clearTimeout(t));
        sock.once('close', () => clearTimeout(t));
      });
    }
    req.on('error', (err: NodeJS.ErrnoException) => {
      if (err.name === 'AbortError') { reject(err); return; }
      const e = err instanceof UnavailableError ? err : new UnavailableError(transportMessage(url, err), { cause: err });
      failures.add(e);
      reject(e);
    });
    if (!o.body || Buffer.isBuffer(o.body)) req.end(o.body);
    else {
      o.body.on('error', (err) => req.destroy(err));
      o.body.pipe(req);
    }
  });
}

async function readText(res: IncomingMessage): Promise<string> {
  return (await readLimitedBody(res, 1024 * 1024)).toString('utf8');
}

async function readLimitedBody(res: IncomingMessage, limit: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let n = 0;
  for await (const c of res) {
    n += (c as Buffer).length;
    if (n > limit) { res.destroy(); throw new InvalidParameterError(`registry response larger than ${limit} bytes`); }
    chunks.push(c as Buffer);
  }
  return Buffer.concat(chunks);
}

/** The spec's `{"errors":[{code,message}]}` (or any text) as berth's error classes. */
export function registryError(status: number, text: string, what: string): Error {
  let msg = '';
  let coded = false;
  try {
    const doc = JSON.parse(text) as { errors?: { code?: string; message?: string }[] };
    msg = (doc.errors ?? []).map((e) => `${(e.code ?? '').toLowerCase().replace(/_/g, ' ')}: ${e.message ?? ''}`.replace(/^: /, '')).join('; ');
    coded = (doc.errors ?? []).some((e) => e.code);
  } catch { msg = text.trim().slice(0, 200); }
  const detail = msg || `status ${status}`;
  // A body-less answer (HEAD) gets the spec's default message for its code, as docker's client does; a coded
  // error body already reads "unauthorized: ..." and is not prefixed twice.
  if (status === 401) return new UnauthorizedError(coded ? msg : `unauthorized: ${msg || 'authentication required'}`);
  if (status === 403) return new ForbiddenError(coded ? msg : `denied: ${msg || 'requested access to the resource is denied'}`);
  if (status === 404) return new NotFoundError(`${what}: ${detail}`);
  if (status === 400 || status === 415) return new InvalidParameterError(`${what}: ${detail}`);
  if (status === 429 || status >= 500) return new UnavailableError(`${what}: ${detail}`);
  return new SystemError(`${what}: unexpected status ${status}: ${detail}`);
}
