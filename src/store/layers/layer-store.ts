import { createHash, randomBytes } from 'node:crypto';
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { trace } from '../../core/trace.js';
import { InvalidParameterError, NotFoundError } from '../../errors.js';
import type { Mount } from '../../sys/sys.js';
import { fsyncDir, writeFileAtomic } from '../meta/atomic.js';
import type { Paths } from '../paths.js';
import type { LayerCompressionKind } from './decompress.js';
import { applyLayerTar, type LayerApplySys } from './tar-apply.js';
import { encodeTarSplit, splitOfUpper, tarFromSplit } from './tar-split.js';
import { UpperMirror } from './upper-copy.js';

/** A layer whose content does not hash to the diffID it was given: callers tell it from other bad input by type. */
export class DiffIdMismatchError extends InvalidParameterError {}

/**
 * Unpacked layers, one overlay lower dir each.
 *
 * Vocabulary: a layer's *diffID* is the sha256 of its uncompressed tar; its *chainID* names the
 * layer together with everything below it (OCI: chainID(L0) = diffID(L0), chainID(Ln) =
 * sha256(chainID(Ln-1) + " " + diffID(Ln))), so one diff on two different parents is two layers.
 * Layer dirs are keyed by the chainID hex (equal to the diffID hex for a base layer).
 *
 *   layers/<chain-hex>/diff     the unpacked tree (overlay format: whiteouts are 0:0 char devices)
 *   layers/<chain-hex>/link     the 26-char short id; l/<short> -> ../layers/<chain-hex>/diff
 *   layers/<chain-hex>/tar-split  a committed layer's tar as a tar-split (no tar blob is kept for it)
 *   layers/<chain-hex>/ok       the layer record (JSON), written last, before the dir is published
 *   layers/tmp-<rand>/          a layer being built; published by rename(2) once `ok` is in it
 *   layers/<chain-hex>-removing-<rand>/  a layer being deleted
 *   layers/empty/               an empty dir: the lower dir of images with no layers
 *
 * A kill -9 at any point leaves only complete layers visible; `init()` removes the rest (C7).
 */
export interface LayerRecord {
  chainId: string;
  diffId: string;
  /** chainID of the layer below, if any. */
  parent?: string;
  /** Sum of regular file sizes in this layer alone. */
  size: number;
  /** Name of the l/ link for this layer's diff dir. */
  shortId: string;
  created: string;
  /** Set for a layer made by fromUpper: the size of its tar, which its tar-split gives back (tarOf). */
  tarSize?: number;
}

export interface ApplyLayerOptions {
  onRaw?: (chunk: Buffer) => Promise<void> | void;
  /** When known (pull, load), a mismatch fails the apply. */
  expectedDiffId?: string;
  /** The caller verified the input hashes to `expectedDiffId` (a plain-tar blob): no second sha256 pass. */
  verified?: boolean;
}

export interface AppliedLayer {
  layer: LayerRecord;
  /** False when an identical layer (same chainID) already existed; the new copy was discarded. */
  created: boolean;
  compression: LayerCompressionKind;
  warnings: string[];
}

export function chainIds(diffIds: readonly string[]): string[] {
  const out: string[] = [];
  for (const d of diffIds) {
    const prev = out[out.length - 1];
    out.push(prev === undefined ? d : `sha256:${createHash('sha256').update(`${prev} ${d}`).digest('hex')}`);
  }
  return out;
}

export function chainIdOf(parent: string | undefined, diffId: string): string {
  return parent === undefined ? diffId : chainIds([parent, diffId])[1]!;
}

const EMPTY = 'empty';
const TAR_SPLIT = 'tar-split';
/** fsyncs of a committed layer's files in flight at once (of the thread pool's four threads). */
const SYNC_BATCH = 2;
const SHORT_ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';

function newShortId(): string {
  const bytes = randomBytes(26);
  let s = '';
  for (const b of bytes) s += SHORT_ALPHABET[b & 31];
  return s;
}

function hexOf(digest: string): string {
  const i = digest.indexOf(':');
  return i >= 0 ? digest.slice(i + 1) : digest;
}

export class LayerStore {
  private readonly layers = new Map<string, LayerRecord>();
  private indexOff = false;

  constructor(private readonly paths: Paths, private readonly sys: LayerApplySys) {}

  /** Where images with no layers get their (empty) lower dir. Not in paths.ts: local helper. */
  get emptyLowerDir(): string { return path.join(this.paths.layersDir, EMPTY, 'diff'); }

  async init(): Promise<void> {
    await fsp.mkdir(this.paths.layersDir, { recursive: true, mode: 0o700 });
    await fsp.mkdir(this.paths.linksDir, { recursive: true, mode: 0o700 });
    await fsp.mkdir(this.emptyLowerDir, { recursive: true, mode: 0o755 });
    this.indexOff = fs.existsSync('/sys/module/overlay/parameters/index');
    this.layers.clear();
    for (const name of await fsp.readdir(this.paths.layersDir)) {
      if (name === EMPTY) continue;
      const dir = path.join(this.paths.layersDir, name);
      const rec = /^[a-f0-9]{64}$/.test(name) ? await readRecord(dir) : undefined;
      if (!rec || hexOf(rec.chainId) !== name) {
        // Half-built (tmp-*), half-deleted (*-removing-*) or unpublished: never used, removed now.
        await fsp.rm(dir, { recursive: true, force: true });
        continue;
      }
      this.layers.set(rec.chainId, rec);
    }
    // Links whose layer is gone (crash between link creation and publish, or during delete).
    const valid = new Set([...this.layers.values()].map((l) => l.shortId));
    for (const name of await fsp.readdir(this.paths.linksDir)) {
      if (!valid.has(name)) await fsp.rm(path.join(this.paths.linksDir, name), { force: true });
    }
  }

  get(chainId: string): LayerRecord | undefined { return this.layers.get(chainId); }
  has(chainId: string): boolean { return this.layers.has(chainId); }
  list(): LayerRecord[] { return [...this.layers.values()]; }

  diffDir(chainId: string): string { return path.join(this.paths.layerDir(hexOf(chainId)), 'diff'); }

  /** The chain bottom → top ending at `top`. */
  chain(top: string | undefined): LayerRecord[] {
    const out: LayerRecord[] = [];
    let cur = top;
    while (cur !== undefined) {
      const l = this.layers.get(cur);
      if (!l) throw new NotFoundError(`layer ${cur} does not exist`);
      out.unshift(l);
      cur = l.parent;
      if (out.length > 1000) throw new InvalidParameterError('layer chain too long');
    }
    return out;
  }

  /** Unpack a layer tar (plain, gzip or zstd) on top of `parent` (a chainID) and publish it. */
  async apply(input: Readable, parent: string | undefined, opts: ApplyLayerOptions = {}): Promise<AppliedLayer> {
    const tmp = await this.newTmp(parent);
    try {
      const res = await applyLayerTar(input, path.join(tmp, 'diff'), {
        sys: this.sys, onRaw: opts.onRaw, ...(opts.verified && opts.expectedDiffId ? { knownDiffId: opts.expectedDiffId } : {}),
      });
      if (opts.expectedDiffId && opts.expectedDiffId !== res.diffId) {
        throw new DiffIdMismatchError(`layer diffID mismatch: got ${res.diffId}, expected ${opts.expectedDiffId}`);
      }
      const { layer, created } = await this.publish(tmp, parent, { diffId: res.diffId, size: res.size });
      return { layer, created, compression: res.compression, warnings: res.warnings };
    } catch (err) {
      await fsp.rm(tmp, { recursive: true, force: true }).catch(() => {});
      throw err;
    }
  }

  /**
   * A container's upper dir as a layer on `parent` (commit, each builder RUN step), without a tar: one walk
   * copies the upper dir into the new layer dir (UpperMirror) and hashes the tar packUpper makes of the copy
   * (the diffID), kept as a tar-split from which tarOf makes it again for push and save; the copied files are
   * fsynced as they come. `lowers`: the parent's layer dirs, topmost first.
   */
  async fromUpper(upper: string, parent: string | undefined, lowers: readonly string[]): Promise<AppliedLayer> {
    const tr = trace(`layer from ${path.basename(path.dirname(upper)).slice(0, 12)}`);
    const tmp = await this.newTmp(parent);
    try {
      const diff = path.join(tmp, 'diff');
      const syncs = new SyncQueue();
      const mirror = new UpperMirror(diff, this.sys, (f) => syncs.add(f));
      let split;
      try {
        split = await splitOfUpper(upper, { sys: this.sys, lowers, mirror });
        mirror.finish();
        tr.mark('copy+hash');
      } finally {
        await syncs.done();
      }
      tr.mark('fsync');
      await writeFileAtomic(path.join(tmp, TAR_SPLIT), encodeTarSplit(split), 0o600);
      tr.mark('split');
      const { layer, created } = await this.publish(tmp, parent, { diffId: split.diffId, size: mirror.size, tarSize: split.size });
      tr.mark('publish');
      tr.end();
      return { layer, created, compression: 'none', warnings: [] };
    } catch (err) {
      await fsp.rm(tmp, { recursive: true, force: true }).catch(() => {});
      throw err;
    }
  }

  /** The tar of a layer of that diffID that has a tar-split (fromUpper), made again from its files; else undefined. */
  tarOf(diffId: string): { size: number; open(): Readable } | undefined {
    const rec = [...this.layers.values()].find((l) => l.diffId === diffId && l.tarSize !== undefined);
    if (!rec) return undefined;
    const dir = this.paths.layerDir(hexOf(rec.chainId));
    return { size: rec.tarSize!, open: () => tarFromSplit(path.join(dir, TAR_SPLIT), path.join(dir, 'diff')) };
  }

  private async newTmp(parent: string | undefined): Promise<string> {
    if (parent !== undefined && !this.layers.has(parent)) throw new NotFoundError(`parent layer ${parent} does not exist`);
    const tmp = path.join(this.paths.layersDir, `tmp-${randomBytes(8).toString('hex')}`);
    await fsp.mkdir(path.join(tmp, 'diff'), { recursive: true, mode: 0o700 });
    await fsp.chmod(path.join(tmp, 'diff'), 0o755);
    return tmp;
  }

  /** Publish a built layer dir (tmp) as the layer of that diffID on `parent`; an existing identical layer wins. */
  private async publish(tmp: string, parent: string | undefined, res: { diffId: string; size: number; tarSize?: number }): Promise<{ layer: LayerRecord; created: boolean }> {
    const chainId = chainIdOf(parent, res.diffId);
    const existing = this.layers.get(chainId);
    if (existing) {
      await fsp.rm(tmp, { recursive: true, force: true });
      return { layer: existing, created: false };
    }
    const rec: LayerRecord = {
      chainId, diffId: res.diffId, size: res.size, shortId: newShortId(), created: new Date().toISOString(),
    };
    if (parent !== undefined) rec.parent = parent;
    if (res.tarSize !== undefined) rec.tarSize = res.tarSize;
    const final = this.paths.layerDir(hexOf(chainId));
    const linkPath = path.join(this.paths.linksDir, rec.shortId);
    await fsp.symlink(path.join('..', 'layers', hexOf(chainId), 'diff'), linkPath);
    try {
      await writeFileAtomic(path.join(tmp, 'link'), rec.shortId, 0o644);
      await writeFileAtomic(path.join(tmp, 'ok'), JSON.stringify(rec), 0o600);
      try {
        await fsp.rename(tmp, final);
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        if (code !== 'ENOTEMPTY' && code !== 'EEXIST') throw err;
        // A concurrent apply of the same layer won the race: use its copy.
        const theirs = await readRecord(final);
        if (!theirs) throw err;
        await fsp.rm(linkPath, { force: true });
        await fsp.rm(tmp, { recursive: true, force: true });
        this.layers.set(theirs.chainId, theirs);
        return { layer: theirs, created: false };
      }
    } catch (err) {
      await fsp.rm(linkPath, { force: true }).catch(() => {});
      throw err;
    }
    await fsyncDir(this.paths.layersDir);
    this.layers.set(chainId, rec);
    return { layer: rec, created: true };
  }

  /** Delete one layer (the caller checks nothing references it). Returns false if absent. */
  async remove(chainId: string): Promise<boolean> {
    const rec = this.layers.get(chainId);
    if (!rec) return false;
    if ([...this.layers.values()].some((l) => l.parent === chainId)) {
      throw new InvalidParameterError(`layer ${chainId} has child layers`);
    }
    this.layers.delete(chainId);
    const dir = this.paths.layerDir(hexOf(chainId));
    const doomed = `${dir}-removing-${randomBytes(4).toString('hex')}`;
    // Rename first: a crash mid-delete leaves a *-removing dir that init() finishes off.
    await fsp.rename(dir, doomed);
    await fsp.rm(path.join(this.paths.linksDir, rec.shortId), { force: true });
    await fsp.rm(doomed, { recursive: true, force: true });
    return true;
  }

  /**
   * Plan the overlay mount of a container rootfs on the chain ending at `top` (pure: returns data,
   * mounts nothing). Lower dirs are topmost first, via the short l/ links to keep data under a page.
   */
  rootfsMount(top: string | undefined, upperDir: string, workDir: string, target: string): Mount {
    const chain = this.chain(top);
    const lowers = chain.length === 0
      ? [this.emptyLowerDir]
      : chain.reverse().map((l) => path.join(this.paths.linksDir, l.shortId));
    const options = [`lowerdir=${lowers.join(':')}`, `upperdir=${upperDir}`, `workdir=${workDir}`];
    if (this.indexOff) options.push('index=off');
    return { type: 'overlay', source: 'overlay', target, options };
  }

  /** Sum of layer sizes of the chain ending at `top`. */
  chainSize(top: string | undefined): number {
    return this.chain(top).reduce((n, l) => n + l.size, 0);
  }
}

async function readRecord(dir: string): Promise<LayerRecord | undefined> {
  try {
    const rec = JSON.parse(await fsp.readFile(path.join(dir, 'ok'), 'utf8')) as LayerRecord;
    if (typeof rec.chainId !== 'string' || typeof rec.diffId !== 'string' || typeof rec.shortId !== 'string') return undefined;
    if (!fs.existsSync(path.join(dir, 'diff'))) return undefined;
    return rec;
  } catch {
    return undefined;
  }
}

/**
 * fsyncs of a committed layer's files, started as each is copied, two at a time (the thread pool's other two
 * threads go on copying and reading). With the directory fsync at publish this makes a committed layer survive
 * a crash: it is the only copy of the container's changes (no tar blob is kept for it). On ext4 and xfs a file's
 * fsync also commits the journal that holds the directory entries made before it.
 */
class SyncQueue {
  private readonly queue: string[] = [];
  private running = 0;
  private error: unknown;
  private idle: (() => void) | undefined;

  add(file: string): void {
    this.queue.push(file);
    this.pump();
  }

  /** Every fsync finished; throws the first failure. */
  async done(): Promise<void> {
    if (this.running > 0 || this.queue.length > 0) await new Promise<void>((resolve) => { this.idle = resolve; });
    if (this.error) throw this.error;
  }

  private pump(): void {
    while (this.running < SYNC_BATCH && this.queue.length) {
      const file = this.queue.shift()!;
      this.running++;
      syncFile(file).catch((err: unknown) => { this.error ??= err; }).finally(() => {
        this.running--;
        this.pump();
        if (this.running === 0 && this.queue.length === 0) this.idle?.();
      });
    }
  }
}

async function syncFile(file: string): Promise<void> {
  const fh = await fsp.open(file, 'r');
  try { await fh.sync(); } finally { await fh.close(); }
}
