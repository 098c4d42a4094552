// The body of `POST /images/create?fromSrc=<URL>`: moby's remotecontext.GetWithStatusError over Go's http.Get
// (a URL without a scheme gets http://, up to 10 redirects, a status >= 400 is an error with the body's text).
import http, { type IncomingMessage } from 'node:http';
import https from 'node:https';
import { goDialError } from '../core/go-dial-error.js';
import { ForbiddenError, InvalidParameterError, NotFoundError, SystemError, UnauthorizedError } from '../errors.js';

const MAX_REDIRECTS = 10;
const MAX_ERROR_BODY = 64 * 1024;

/** moby postImagesCreate: "localhost:8000/x.tar" means http. */
export function importUrl(src: string): URL {
  const s = src.split('://').length === 1 ? `http://${src}` : src;
  let u: URL;
  try { u = new URL(s); } catch { throw new InvalidParameterError(`parse "${s}": invalid URL`); }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new InvalidParameterError(`Get "${s}": unsupported protocol scheme "${u.protocol.replace(/:$/, '')}"`);
  return u;
}

function get(u: URL, signal?: AbortSignal): Promise<IncomingMessage> {
  return new Promise((resolve, reject) => {
    const mod = u.protocol === 'https:' ? https : http;
    const req = mod.get(u, { signal, headers: { 'User-Agent': 'berth' } }, resolve);
    req.on('error', (err: NodeJS.ErrnoException) => reject(new SystemError(`Get "${u.href}": ${goDialError(u, err)}`, { cause: err })));
  });
}

async function errorBody(res: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  let n = 0;
  for await (const c of res as AsyncIterable<Buffer>) {
    if (n < MAX_ERROR_BODY) chunks.push(c);
    n += c.length;
  }
  return Buffer.concat(chunks).subarray(0, MAX_ERROR_BODY).toString('utf8').trim();
}

/** GET the import source; resolves with the response (status < 400) once its headers are in. */
export async function fetchImportSource(u: URL, signal?: AbortSignal): Promise<{ body: IncomingMessage; size?: number }> {
  let cur = u;
  for (let hops = 0; ; hops++) {
    const res = await get(cur, signal);
    const status = res.statusCode ?? 0;
    const loc = res.headers.location;
    if (status >= 300 && status < 400 && loc && [301, 302, 303, 307, 308].includes(status)) {
      res.resume();
      if (hops >= MAX_REDIRECTS) throw new SystemError(`Get "${cur.href}": stopped after ${MAX_REDIRECTS} redirects`);
      cur = new URL(loc, cur);
      continue;
    }
    if (status < 400) {
      const len = Number(res.headers['content-length']);
      return { body: res, ...(Number.isFinite(len) && res.headers['content-length'] !== undefined ? { size: len } : {}) };
    }
    const text = await errorBody(res).catch(() => undefined);
    const msg = `failed to GET ${u.href} with status ${status} ${res.statusMessage ?? ''}`.trimEnd();
    if (text === undefined) throw new SystemError(`${msg}: error reading body`);
    const full = `${msg}: ${text}`;
    if (status === 404) throw new NotFoundError(full);
    if (status === 400) throw new InvalidParameterError(full);
    if (status === 401) throw new UnauthorizedError(full);
    if (status === 403) throw new ForbiddenError(full);
    throw new SystemError(full);
  }
}
