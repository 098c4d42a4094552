import { createHash } from 'node:crypto';
import type { Readable } from 'node:stream';
import { Transform } from 'node:stream';
import {
  INDEX_TYPES, layerCompression, parseManifest, platformString, selectPlatform, ManifestError,
  type Descriptor, type ImageManifest, type PlatformWanted,
} from '../core/manifest.js';
import { familiarString, type Reference } from '../core/reference.js';
import { chainIds } from '../store/layers/layer-store.js';
import { InvalidParameterError, NotFoundError, NotImplementedError, UnavailableError } from '../errors.js';
import { RegistryClient, type RegistryCredentials, type RegistryEndpoint } from './registry-client.js';

/**
 * Pull one image from a registry into the local stores (docker pull): manifest (an index resolved to this
 * platform), config, then the layers: several downloads at once, each streamed into a content-store ingest
 * whose digest and size are checked before the blob becomes visible; each layer is unpacked as soon as
 * its download and the layer below it are done, with its diffID checked against the config. Layers
 * already present are skipped. Progress goes to a JSON-message writer, as dockerd's.
 */

/** The JSON-message stream (api/stream/json-progress.ts implements it). */
export interface ProgressSink {
  status(status: string, id?: string): Promise<void>;
  progress(id: string, status: string, current: number, total?: number): void;
}

export interface Ingest {
  readonly bytesWritten: number;
  write(chunk: Buffer): Promise<void>;
  /** Truncate to nothing: the download starts over. */
  reset(): Promise<void>;
  commit(expected: { digest?: string; size?: number }): Promise<{ digest: string; size: number }>;
  abort(): Promise<void>;
}

/** What a pull needs of the image service (narrow, so tests can fake it). */
export interface PullStore {
  hasBlob(digest: string): Promise<boolean>;
  ingest(): Promise<Ingest>;
  readBlob(digest: string): Readable;
  deleteBlob(digest: string): Promise<void>;
  getBlob(digest: string): Promise<Buffer>;
  hasLayer(chainId: string): boolean;
  /** `verified`: the input is a blob whose checked digest is `expectedDiffId` (a plain tar), so it is not hashed again. */
  applyLayer(input: Readable, parent: string | undefined, expectedDiffId: string, verified: boolean): Promise<{ chainId: string; created: boolean }>;
  removeLayer(chainId: string): Promise<void>;
  hasImage(id: string): boolean;
  /** Store config + record and point `refs` at it; publishes the pull event. */
  addPulled(config: Buffer, rec: { topLayer?: string; blobs: string[] }, refs: Reference[]): Promise<{ id: string; created: boolean }>;
}

export interface PullOptions {
  ref: Reference;
  platform: PlatformWanted;
  credentials?: RegistryCredentials;
  /** Where to pull from (RegistryHosts.pullEndpoints gives them in dockerd's order). */
  endpoint: RegistryEndpoint;
  signal?: AbortSignal;
  /** Downloads at once (dockerd's max-concurrent-downloads, default 3; 0: no limit). */
  concurrency?: number;
  /** Tries per layer download (dockerd's max-download-attempts, default 5). */
  attempts?: number;
  /** Seconds before retry n (1-based): dockerd's 5 s × n; tests shorten it. */
  retryDelay?: (n: number) => number;
  /** Read time-out of the registry client (registry-client.ts IDLE_MS). */
  idleMs?: number;
}

const WRITE_CHUNK = 1024 * 1024;

/** What a failed blob download did not finish; retried, resumed with Range from what the ingest holds. */
class Interrupted extends UnavailableError {}

/** Errors a download retries after (dockerd's retryOnError): the network, time-outs, 5xx/429, a cut body. */
export function retryable(err: unknown): boolean {
  if (err instanceof UnavailableError) return true;
  const code = (err as NodeJS.ErrnoException)?.code ?? '';
  return ['ECONNRESET', 'ECONNREFUSED', 'EPIPE', 'ETIMEDOUT', 'ENETUNREACH', 'EHOSTUNREACH', 'ERR_STREAM_PREMATURE_CLOSE'].includes(code);
}

/** Resolves after `ms`, or rejects when `signal` aborts. */
function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) { reject(signal.reason as Error); return; }
    const t = setTimeout(() => { signal?.removeEventListener('abort', stop); resolve(); }, ms);
    const stop = () => { clearTimeout(t); reject(signal!.reason as Error); };
    signal?.addEventListener('abort', stop, { once: true });
  });
}

const sha256 = (b: Buffer) => `sha256:${createHash('sha256').update(b).digest('hex')}`;
const short = (d: string) => d.slice(d.indexOf(':') + 1, d.indexOf(':') + 13);

function checkDigest(body: Buffer, want: string | undefined, what: string): string {
  const got = sha256(body);
  if (want && want.startsWith('sha256:') && want !== got) {
    throw new InvalidParameterError(`${what}: digest mismatch: got ${got}, expected ${want}`);
  }
  return got;
}

function parse(body: Buffer, mediaType: string) {
  try {
    return parseManifest(body, mediaType);
  } catch (err) {
    if (err instanceof ManifestError) throw new InvalidParameterError(err.message);
    throw err;
  }
}

export async function pullImage(store: PullStore, opts: PullOptions, out: ProgressSink): Promise<{ id: string; digest: string }> {
  const client = new RegistryClient(opts.endpoint, opts.credentials ?? {}, opts.idleMs);
  // Cancelled by the client going away (opts.signal) or by this pull failing: downloads in flight stop.
  const inner = new AbortController();
  const stopInner = () => inner.abort(opts.signal?.reason);
  if (opts.signal?.aborted) stopInner();
  else opts.signal?.addEventListener('abort', stopInner, { once: true });
  try {
    return await pullWith(store, opts, out, client, inner);
  } finally {
    opts.signal?.removeEventListener('abort', stopInner);
  }
}

async function pullWith(store: PullStore, opts: PullOptions, out: ProgressSink, client: RegistryClient, inner: AbortController): Promise<{ id: string; digest: string }> {
  const { ref } = opts;
  const repo = ref.path;
  const tagOrDigest = ref.digest ?? ref.tag ?? 'latest';
  const signal = inner.signal;

  // Manifest first: a missing image is an HTTP error (nothing written yet), as dockerd's.
  const first = await client.getManifest(repo, tagOrDigest, signal);
  const topDigest = checkDigest(first.body, ref.digest, `manifest ${tagOrDigest}`);
  await out.status(`Pulling from ${ref.path}`, ref.digest ?? tagOrDigest);
  let parsed = parse(first.body, first.mediaType);
  if (parsed.kind === 'index') {
    const pick = selectPlatform(parsed.manifest, opts.platform);
    if (!pick) throw new NotFoundError(`no matching manifest for ${platformString(opts.platform)} in the manifest list entries`);
    const m = await client.getManifest(repo, pick.digest, signal);
    checkDigest(m.body, pick.digest, `manifest ${pick.digest}`);
    parsed = parse(m.body, m.mediaType || pick.mediaType);
    if (parsed.kind !== 'image' || INDEX_TYPES.includes(parsed.mediaType)) throw new InvalidParameterError('manifest list entry is not an image manifest');
  }
  const manifest: ImageManifest = parsed.manifest;
  for (const l of manifest.layers) {
    const c = layerCompression(l.mediaType);
    if (c === undefined) throw new InvalidParameterError(`unsupported layer media type ${JSON.stringify(l.mediaType)} (layer ${l.digest})`);
    if (l.urls?.length) throw new NotImplementedError(`foreign layers are not supported: layer ${l.digest}`);
  }

  // Config: small, read whole, digest and size checked.
  const configRes = await client.getBlob(repo, manifest.config.digest, signal);
  const config = await readAll(configRes, manifest.config.size);
  checkDigest(config, manifest.config.digest, 'image config');
  let diffIds: string[];
  try {
    const doc = JSON.parse(config.toString('utf8')) as { rootfs?: { diff_ids?: unknown } };
    diffIds = doc.rootfs?.diff_ids as string[];
    if (!Array.isArray(diffIds) || diffIds.some((d) => typeof d !== 'string' || !/^sha256:[a-f0-9]{64}$/.test(d))) throw new Error('bad rootfs.diff_ids');
  } catch (err) {
    throw new InvalidParameterError(`invalid image config ${manifest.config.digest}: ${(err as Error).message}`);
  }
  if (diffIds.length !== manifest.layers.length) {
    throw new InvalidParameterError(`image config has ${diffIds.length} diff_ids but the manifest ${manifest.layers.length} layers`);
  }

  const chains = chainIds(diffIds);
  const layers = manifest.layers;
  const need = layers.map((_, i) => !store.hasLayer(chains[i]!));
  for (let i = 0; i < layers.length; i++) {
    await out.status(need[i] ? 'Pulling fs layer' : 'Already exists', short(layers[i]!.digest));
  }

  // Downloads, at most `concurrency` at once; each resolves when its blob is committed.
  // 0 is no limit, as in dockerd's transfer manager
  const limit = opts.concurrency === 0 ? Infinity : Math.max(1, opts.concurrency ?? 3);
  let running = 0;
  const queue: (() => void)[] = [];
  const slot = async () => {
    if (running >= limit) await new Promise<void>((r) => queue.push(r));
    running++;
  };
  const release = () => { running--; queue.shift()?.(); };
  const download = async (d: Descriptor): Promise<void> => {
    if (await store.hasBlob(d.digest)) { await out.status('Download complete', short(d.digest)); return; }
    if (queue.length + running >= limit) await out.status('Waiting', short(d.digest));
    await slot();
    try {
      await fetchBlob(client, store, repo, d, out, { signal, attempts: opts.attempts ?? 5, delay: opts.retryDelay ?? ((n) => 5 * n) });
      fetched.push(d.digest);
    } finally { release(); }
  };
  const fetched: string[] = [];
  const made: string[] = [];
  const downloads = layers.map((d, i) => (need[i] ? download(d) : Promise.resolve()));
  // Until the unpack chain awaits each download, keep an early failure from being unhandled.
  for (const p of downloads) p.catch(() => {});

  let parent: string | undefined;
  try {
    for (let i = 0; i < layers.length; i++) {
      const d = layers[i]!;
      if (!need[i]) { parent = chains[i]; continue; }
      await downloads[i];
      if (store.hasLayer(chains[i]!)) { parent = chains[i]; await out.status('Pull complete', short(d.digest)); continue; }
      const id = short(d.digest);
      let read = 0;
      const counter = new Transform({
        transform(chunk: Buffer, _e, cb) { read += chunk.length; out.progress(id, 'Extracting', read, d.size); cb(null, chunk); },
      });
      const src = store.readBlob(d.digest);
      src.on('error', (err) => counter.destroy(err));
      // A plain-tar blob (berth pushes those) was hashed as it downloaded: its digest is its diffID.
      const applied = await store.applyLayer(src.pipe(counter), parent, diffIds[i]!, d.digest === diffIds[i] && layerCompression(d.mediaType) === 'none');
      parent = applied.chainId;
      if (applied.created) made.push(applied.chainId);
      await out.status('Pull complete', id);
    }
  } catch (err) {
    // Blobs this pull fetched belong to no image now: a failed pull leaves the store as it found it.
    inner.abort(err);
    await Promise.allSettled(downloads);
    for (const d of fetched) await store.deleteBlob(d).catch(() => {});
    for (const c of made.reverse()) await store.removeLayer(c).catch(() => {});
    throw err;
  }

  const refs: Reference[] = [];
  if (ref.tag !== undefined && ref.digest === undefined) refs.push(ref);
  refs.push({ domain: ref.domain, path: ref.path, digest: topDigest });
  const id = sha256(config);
  const had = store.hasImage(id);
  const res = await store.addPulled(config, { ...(parent ? { topLayer: parent } : {}), blobs: layers.map((l) => l.digest) }, refs);
  await out.status(`Digest: ${topDigest}`);
  const name = familiarString(ref);
  await out.status(had && !need.some(Boolean) ? `Status: Image is up to date for ${name}` : `Status: Downloaded newer image for ${name}`);
  return { id: res.id, digest: topDigest };
}

/**
 * One layer blob into a content-store ingest, as dockerd's layer download: a failure of the network, the
 * registry (5xx, 429) or a read time-out is retried up to `attempts` times, after 5, 10, 15... s ("Retrying
 * in N seconds"); a retry asks for the rest with `Range: bytes=N-`, and a registry that answers 200 (it
 * ignores Range) is read again from the start. The digest and size are checked once, at the end: a
 * mismatch is not retried, and a failure or cancel drops the ingest.
 */
async function fetchBlob(client: RegistryClient, store: PullStore, repo: string, d: Descriptor, out: ProgressSink,
  o: { signal: AbortSignal; attempts: number; delay: (n: number) => number }): Promise<void> {
  const id = short(d.digest);
  const ingest = await store.ingest();
  try {
    for (let attempt = 1; ; attempt++) {
      try {
        await downloadInto(client, ingest, repo, d, out, o.signal);
        break;
      } catch (err) {
        if (o.signal.aborted || !retryable(err) || attempt >= o.attempts) throw err;
        for (let left = o.delay(attempt); left > 0; left--) {
          await out.status(`Retrying in ${left} second${left === 1 ? '' : 's'}`, id);
          await sleep(1000, o.signal);
        }
        if (o.delay(attempt) <= 0) await sleep(0, o.signal);
      }
    }
    await out.status('Verifying Checksum', id);
    try {
      await ingest.commit({ digest: d.digest, size: d.size });
    } catch (err) {
      if (err instanceof InvalidParameterError) throw new InvalidParameterError(`filesystem layer verification failed for digest ${d.digest}: ${err.message}`, { cause: err });
      throw err;
    }
  } catch (err) {
    await ingest.abort();
    throw err;
  }
  await out.status('Download complete', id);
}

/** One request for what the ingest still lacks. */
async function downloadInto(client: RegistryClient, ingest: Ingest, repo: string, d: Descriptor, out: ProgressSink, signal: AbortSignal): Promise<void> {
  const id = short(d.digest);
  let from = ingest.bytesWritten;
  if (from >= d.size && from > 0) return;
  const res = await client.getBlob(repo, d.digest, signal, from);
  try {
    if (from > 0 && res.statusCode === 200) {
      // The registry ignores Range: the whole blob comes again, so the ingest starts over.
      await ingest.reset();
      from = 0;
    } else if (from > 0) {
      const range = /^bytes (\d+)-/.exec(String(res.headers['content-range'] ?? ''));
      if (!range || Number(range[1]) !== from) {
        await ingest.reset();
        throw new Interrupted(`blob ${d.digest}: the registry answered a Range request for byte ${from} with ${String(res.headers['content-range'] ?? 'no Content-Range')}`);
      }
    }
    const declared = Number(res.headers['content-length'] ?? NaN);
    if (Number.isFinite(declared) && declared !== d.size - from) {
      throw new InvalidParameterError(`blob ${d.digest}: registry says ${declared + from} bytes, manifest ${d.size}`);
    }
    let n = from;
    // The socket's 64 KiB reads go to disk in writes of up to 1 MiB (a sixteenth of the calls).
    let held: Buffer[] = [];
    let heldBytes = 0;
    const flush = async () => {
      if (!heldBytes) return;
      const b = held.length === 1 ? held[0]! : Buffer.concat(held, heldBytes);
      held = []; heldBytes = 0;
      await ingest.write(b);
      out.progress(id, 'Downloading', n, d.size);
    };
    try {
      for await (const chunk of res) {
        const b = chunk as Buffer;
        n += b.length;
        if (n > d.size) throw new InvalidParameterError(`blob ${d.digest}: more than the ${d.size} bytes the manifest says`);
        held.push(b);
        heldBytes += b.length;
        if (heldBytes >= WRITE_CHUNK) await flush();
      }
    } finally {
      // what arrived before a cut is kept: the retry asks for the bytes after it
      await flush();
    }
    // A body the registry ended early (the connection cut): retried from here.
    if (!res.complete) throw new Interrupted(`blob ${d.digest}: download cut short at ${n} of ${d.size} bytes`);
    if (n < d.size) throw new InvalidParameterError(`blob ${d.digest}: the registry sent ${n} of its ${d.size} bytes (truncated blob)`);
  } catch (err) {
    res.destroy();
    if (err instanceof Error && (err as NodeJS.ErrnoException).code === 'ECONNRESET' && !signal.aborted) {
      throw new Interrupted(`blob ${d.digest}: download cut short at ${ingest.bytesWritten} of ${d.size} bytes: ${err.message}`, { cause: err });
    }
    throw err;
  }
}

async function readAll(res: Readable, size: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let n = 0;
  for await (const c of res) {
    n += (c as Buffer).length;
    if (n > size || n > 64 * 1024 * 1024) throw new InvalidParameterError(`blob larger than its declared ${size} bytes`);
    chunks.push(c as Buffer);
  }
  if (n !== size) throw new InvalidParameterError(`blob has ${n} bytes, expected ${size}`);
  return Buffer.concat(chunks);
}
