import { createHash, randomBytes, type Hash } from 'node:crypto';
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { InvalidParameterError, NotFoundError } from '../../errors.js';
import { deferredSyncs, fsyncDir } from '../meta/atomic.js';
import type { Paths } from '../paths.js';

/**
 * Content-addressed blobs (containerd's local content store shape).
 *
 * Vocabulary: an *ingest* is a partial write under content/ingest/, never read as complete;
 * a *blob* is committed under content/blobs/sha256/<hex> only after fsync and a digest and size
 * check, by rename, followed by an fsync of the directory; committed blobs are read-only (0444).
 */
export interface ExpectedContent {
  digest?: string;
  size?: number;
}

const DIGEST_RE = /^sha256:[a-f0-9]{64}$/;

export function assertDigest(digest: string): void {
  if (!DIGEST_RE.test(digest)) throw new InvalidParameterError(`invalid digest: ${JSON.stringify(digest)}`);
}

/** One in-progress write; chunks are hashed as they are written. */
export class IngestWriter {
  private hash: Hash = createHash('sha256');
  private size = 0;
  private done = false;

  constructor(private readonly store: ContentStore, readonly file: string, private readonly fh: fsp.FileHandle) {}

  get bytesWritten(): number { return this.size; }

  async write(chunk: Buffer): Promise<void> {
    this.hash.update(chunk);
    const at = this.size;
    this.size += chunk.length;
    let off = 0;
    while (off < chunk.length) {
      const { bytesWritten } = await this.fh.write(chunk, off, chunk.length - off, at + off);
      off += bytesWritten;
    }
  }

  /** Start over empty (a download restarted from its first byte). */
  async reset(): Promise<void> {
    if (this.done) throw new Error('ingest already finished');
    await this.fh.truncate(0);
    this.hash = createHash('sha256');
    this.size = 0;
  }

  /** Verify and publish the blob; returns its digest. An existing identical blob wins (idempotent). */
  async commit(expected: ExpectedContent = {}): Promise<{ digest: string; size: number }> {
    if (this.done) throw new Error('ingest already finished');
    this.done = true;
    const digest = `sha256:${this.hash.digest('hex')}`;
    const defer = deferredSyncs();
    try {
      if (!defer) await this.fh.sync();
      await this.fh.close();
      if (expected.size !== undefined && expected.size !== this.size) {
        throw new InvalidParameterError(`unexpected commit size ${this.size}, expected ${expected.size}`);
      }
      if (expected.digest !== undefined && expected.digest !== digest) {
        throw new InvalidParameterError(`unexpected commit digest ${digest}, expected ${expected.digest}`);
      }
      const target = this.store.path(digest);
      if (await this.store.has(digest)) {
        await fsp.rm(this.file, { force: true });
        return { digest, size: this.size };
      }
      await fsp.mkdir(path.dirname(target), { recursive: true });
      await fsp.chmod(this.file, 0o444);
      await fsp.rename(this.file, target);
      defer?.add(target);
      await fsyncDir(path.dirname(target));
      return { digest, size: this.size };
    } catch (err) {
      await fsp.rm(this.file, { force: true });
      throw err;
    }
  }

  async abort(): Promise<void> {
    if (this.done) return;
    this.done = true;
    await this.fh.close().catch(() => {});
    await fsp.rm(this.file, { force: true });
  }
}

export class ContentStore {
  constructor(private readonly paths: Paths) {}

  /** Create the directories; drop ingests left by a crash (nothing resumes them yet). */
  async init(): Promise<void> {
    await fsp.mkdir(path.join(this.paths.contentDir, 'blobs', 'sha256'), { recursive: true, mode: 0o700 });
    await fsp.rm(this.paths.ingestDir, { recursive: true, force: true });
    await fsp.mkdir(this.paths.ingestDir, { recursive: true, mode: 0o700 });
  }

  path(digest: string): string {
    assertDigest(digest);
    return this.paths.blob(digest);
  }

  async has(digest: string): Promise<boolean> {
    try {
      await fsp.access(this.path(digest));
      return true;
    } catch {
      return false;
    }
  }

  async size(digest: string): Promise<number> {
    try {
      return (await fsp.stat(this.path(digest))).size;
    } catch (err) {
      throw notFound(digest, err);
    }
  }

  async get(digest: string): Promise<Buffer> {
    try {
      return await fsp.readFile(this.path(digest));
    } catch (err) {
      throw notFound(digest, err);
    }
  }

  /** Up to `n` first bytes of a blob. */
  async head(digest: string, n: number): Promise<Buffer> {
    let fh: fsp.FileHandle;
    try { fh = await fsp.open(this.path(digest), 'r'); } catch (err) { throw notFound(digest, err); }
    try {
      const buf = Buffer.alloc(n);
      const { bytesRead } = await fh.read(buf, 0, n, 0);
      return buf.subarray(0, bytesRead);
    } finally { await fh.close(); }
  }

  /** `chunk`: bytes per read (64 KiB by default; 1 MiB for a layer unpack, a tenth of the calls). */
  createReadStream(digest: string, chunk?: number): fs.ReadStream {
    return fs.createReadStream(this.path(digest), chunk ? { highWaterMark: chunk } : {});
  }

  async ingest(): Promise<IngestWriter> {
    const file = path.join(this.paths.ingestDir, `${Date.now()}-${randomBytes(8).toString('hex')}`);
    const fh = await fsp.open(file, 'wx', 0o600);
    return new IngestWriter(this, file, fh);
  }

  /** Store a buffer or a stream; returns the digest. `expected` is checked before the blob is published. */
  async put(data: Buffer | string | Readable, expected: ExpectedContent = {}): Promise<string> {
    const w = await this.ingest();
    try {
      if (typeof data === 'string' || Buffer.isBuffer(data)) {
        await w.write(Buffer.isBuffer(data) ? data : Buffer.from(data));
      } else {
        for await (const chunk of data) await w.write(Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk as Uint8Array));
      }
    } catch (err) {
      await w.abort();
      throw err;
    }
    return (await w.commit(expected)).digest;
  }

  /** Remove a blob; absent is fine. */
  async delete(digest: string): Promise<void> {
    await fsp.rm(this.path(digest), { force: true });
  }
}

function notFound(digest: string, err: unknown): Error {
  if ((err as NodeJS.ErrnoException).code === 'ENOENT') return new NotFoundError(`content ${digest}: not found`, { cause: err });
  return err as Error;
}
