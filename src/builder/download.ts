// ADD <http(s) URL>: the source downloaded to a file beside the build context, as the classic builder
// does it (moby builder/dockerfile/copy.go downloadSource): mode 0600, mtime from Last-Modified (else
// the epoch), the name from the URL's path or Content-Disposition; `--checksum` (buildkit's flag)
// verified on the bytes as they arrive.
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { ReadableStream as WebReadableStream } from 'node:stream/web';
import { InvalidParameterError, NotFoundError } from '../errors.js';

export interface Download { url: string; name: string; abs: string }

export function isHttpSource(src: string): boolean { return /^https?:\/\//i.test(src); }

/** moby's getFilenameForDownload: the URL path's last element, else Content-Disposition's filename. */
export function filenameForDownload(urlPath: string, contentDisposition: string | null): string {
  if (urlPath !== '' && !urlPath.endsWith('/')) {
    const base = path.posix.basename(decodeURIComponent(urlPath));
    if (base !== '' && base !== '/') return base;
  }
  const m = contentDisposition ? /(?:^|;)\s*filename\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^;\s]+))/i.exec(contentDisposition) : null;
  const name = m ? (m[1] !== undefined ? m[1].replace(/\\(.)/g, '$1') : m[2]!) : '';
  if (name !== '' && !name.endsWith('/')) {
    const base = path.posix.basename(name);
    if (base !== '' && base !== '.' && base !== '..') return base;
  }
  return '';
}

const DIGEST_HEX: Record<string, number> = { sha256: 64, sha384: 96, sha512: 128 };

/** `--checksum=alg:hex` checked as go-digest's Parse does. */
export function parseChecksum(s: string): { alg: string; hex: string } {
  const i = s.indexOf(':');
  if (i <= 0 || i + 1 === s.length) throw new InvalidParameterError('invalid checksum digest format');
  const alg = s.slice(0, i);
  const hex = s.slice(i + 1);
  const len = DIGEST_HEX[alg];
  if (len === undefined) throw new InvalidParameterError('unsupported digest algorithm');
  if (hex.length !== len || !/^[0-9a-f]+$/.test(hex)) throw new InvalidParameterError('invalid checksum digest length');
  return { alg, hex };
}

/** Go's http.Response.Status text ("404 Not Found") for a fetch response. */
function status(res: Response): string { return `${res.status} ${res.statusText}`.trim(); }

/**
 * moby's progress.Reader update rule: a progress line every 1% of a known length (at most every 512 kB) and
 * at most every 100 ms, and always the last one.
 */
export function progressGate(total: number | undefined, now: () => number = Date.now): (current: number, last: boolean) => boolean {
  let every = 512 * 1024;
  if (total !== undefined && total > 0) every = Math.min(every, Math.trunc(0.01 * total));
  let lastUpdate = 0;
  let lastAt: number | undefined;
  return (current, last) => {
    if (!last && current - lastUpdate <= every) return false;
    lastUpdate = current;
    const t = now();
    if (!last && current !== total && lastAt !== undefined && t - lastAt < 100) return false;
    lastAt = t;
    return true;
  };
}

export interface DownloadOptions {
  checksum?: string;
  signal?: AbortSignal;
  /** "Downloading" progress (the classic builder's); total is the Content-Length, undefined when none came. */
  progress?: (current: number, total: number | undefined, last: boolean) => void;
}

export async function downloadSource(url: string, file: string, o: DownloadOptions): Promise<Download> {
  const want = o.checksum === undefined ? undefined : parseChecksum(o.checksum);
  let res: Response;
  try {
    res = await fetch(url, { redirect: 'follow', ...(o.signal ? { signal: o.signal } : {}) });
  } catch (err) {
    const cause = (err as { cause?: { message?: string } }).cause?.message;
    throw new InvalidParameterError(`Get "${url}": ${cause ?? (err as Error).message}`);
  }
  if (res.status >= 400) {
    const body = (await res.text().catch(() => '')).trim();
    const msg = `failed to GET ${url} with status ${status(res)}: ${body}`;
    throw res.status === 404 ? new NotFoundError(msg) : new InvalidParameterError(msg);
  }
  const hash = createHash(want?.alg ?? 'sha256');
  const len = res.headers.get('content-length');
  const total = len !== null && /^\d+$/.test(len) ? Number(len) : undefined;
  const gate = progressGate(total);
  let current = 0;
  const tee = new Transform({
    transform(chunk: Buffer, _enc, cb) {
      hash.update(chunk);
      current += chunk.length;
      if (o.progress && gate(current, false)) o.progress(current, total, false);
      cb(null, chunk);
    },
    flush(cb) { if (o.progress && gate(current, true)) o.progress(current, total, true); cb(); },
  });
  const body = res.body ? Readable.fromWeb(res.body as unknown as WebReadableStream<Uint8Array>) : Readable.from([]);
  await pipeline(body, tee, fs.createWriteStream(file, { mode: 0o600, flags: 'wx' }));
  if (want) {
    const got = `${want.alg}:${hash.digest('hex')}`;
    if (got !== `${want.alg}:${want.hex}`) throw new InvalidParameterError(`digest mismatch ${got}: ${o.checksum}`);
  }
  await fsp.chmod(file, 0o600);
  const lm = res.headers.get('last-modified');
  const t = lm ? Date.parse(lm) : NaN;
  const when = Number.isNaN(t) ? new Date(0) : new Date(t);
  await fsp.utimes(file, when, when);
  return { url, name: filenameForDownload(new URL(res.url || url).pathname, res.headers.get('content-disposition')), abs: file };
}
