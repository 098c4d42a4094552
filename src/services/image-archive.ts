// docker save / docker load (GET /images/get, POST /images/load): the archive format is in
// core/image-archive.ts; this room reads and writes it over the image service's stores.
import { createHash, randomBytes } from 'node:crypto';
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import { PassThrough, Transform, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type * as tarTypes from 'tar-stream';
import {
  ArchiveError, blobPath, blobPathDigest, cleanArchivePath, loadedConfigFacts, loadedTag, ociEntryName,
  parseArchiveManifest, saveLayout, type ArchiveManifestItem, type SaveImage,
} from '../core/image-archive.js';
import { INDEX_TYPES, layerCompression, ManifestError, parseManifest, selectPlatform } from '../core/manifest.js';
import {
  familiarString, isFullId, normalize, parseNormalized, type Reference,
} from '../core/reference.js';
import { InvalidParameterError, NotFoundError } from '../errors.js';
import type { ImageRecord } from '../store/images/image-store.js';
import { decompressStream } from '../store/layers/decompress.js';
import { chainIds, DiffIdMismatchError } from '../store/layers/layer-store.js';
import type { Paths } from '../store/paths.js';
import { lazyCjs } from '../sys/cjs.js';
import type { EventBus } from './events.js';
import { hostPlatform, type ImageService } from './image-service.js';

const tar = lazyCjs<typeof tarTypes>('tar-stream');

const sha256 = (b: Buffer) => `sha256:${createHash('sha256').update(b).digest('hex')}`;
const short = (d: string) => d.slice(d.indexOf(':') + 1, d.indexOf(':') + 13);
const MAX_META = 64 * 1024 * 1024;
const MAX_ENTRIES = 100_000;

/** What a load reports (the JSON-message stream). */
export interface LoadOutput {
  progress(id: string, status: string, current: number, total?: number): void;
  /** A `{"stream": text}` line. */
  stream(text: string): Promise<void>;
}

/** A member of the spooled archive: its bytes in one temp file, hashed on the way in. */
interface Member { file: string; size: number; digest: string }

/** The archive's regular files (by cleaned name) and links, spooled under the data root's tmp/. */
class Spool {
  readonly files = new Map<string, Member>();
  readonly links = new Map<string, string>();

  constructor(readonly dir: string) {}

  /** The member `name` resolves to, following links inside the archive (FollowSymlinkInScope). */
  member(name: string): Member {
    let cur = cleanArchivePath(name);
    for (let hops = 0; hops < 40; hops++) {
      const f = this.files.get(cur);
      if (f) return f;
      const link = this.links.get(cur);
      if (link === undefined) throw new ArchiveError(`invalid archive: ${name} is not in the archive`);
      cur = link;
    }
    throw new ArchiveError(`invalid archive: too many links resolving ${name}`);
  }

  has(name: string): boolean {
    try { this.member(name); return true; } catch { return false; }
  }

  async read(name: string): Promise<Buffer> {
    const m = this.member(name);
    if (m.size > MAX_META) throw new ArchiveError(`invalid archive: ${name} is too large (${m.size} bytes)`);
    const body = await fsp.readFile(m.file);
    const want = blobPathDigest(cleanArchivePath(name));
    // A blob is named by its digest: a tampered one is refused before anything is stored.
    if (want && want !== m.digest) throw new ArchiveError(`invalid archive: ${name}: digest mismatch: got ${m.digest}`);
    return body;
  }
}

/** One image of the archive, ready to be stored. */
interface LoadItem {
  config: Buffer;
  diffIds: string[];
  layers: string[];
  tags: Reference[];
}

export class ImageArchiveService {
  constructor(private readonly images: ImageService, private readonly paths: Paths, private readonly events: EventBus) {}

  /** Remove what loads a crash cut short left under tmp/. */
  async init(): Promise<void> {
    let names: string[] = [];
    try { names = await fsp.readdir(this.paths.tmpDir); } catch { return; }
    for (const n of names) if (n.startsWith('load-')) await fsp.rm(path.join(this.paths.tmpDir, n), { recursive: true, force: true });
  }

  // ---------------------------------------------------------------- save

  /**
   * GET /images/get: resolve `names` as moby's tarexporter (a name alone is every tag of the repository,
   * a digest reference or id is the image untagged), make sure each layer has its uncompressed tar as a
   * blob, then stream the archive. Errors before the returned stream are HTTP errors.
   */
  async save(names: string[]): Promise<Readable> {
    const chosen = new Map<string, Reference[]>();
    const add = (img: ImageRecord, ref?: Reference) => {
      const refs = chosen.get(img.id) ?? [];
      chosen.set(img.id, refs);
      if (ref && ref.digest === undefined && !refs.some((r) => familiarString(r) === familiarString(ref))) refs.push(ref);
    };
    for (const name of names) this.resolveForSave(name, add);
    const images: SaveImage[] = [];
    const blobs = new Set<string>();
    for (const [id, tags] of chosen) {
      const rec = this.images.store.get(id)!;
      const cfg = this.images.store.config(id);
      const diffIds = cfg.rootfs.diff_ids;
      if (diffIds.length === 0) throw new InvalidParameterError('empty export - not implemented');
      const sizes: number[] = [];
      for (let i = 0; i < diffIds.length; i++) {
        await this.ensureLayerTar(diffIds[i]!, rec.blobs?.[i]);
        sizes.push(await this.images.blobs.size(diffIds[i]!));
        blobs.add(diffIds[i]!);
      }
      blobs.add(id);
      images.push({ id, configSize: await this.images.content.size(id), diffIds, layerSizes: sizes, tags });
    }
    const layout = saveLayout(images, sha256);
    for (const img of images) this.announce('save', img.id);
    return this.writeArchive([...blobs], layout);
  }

  private resolveForSave(name: string, add: (img: ImageRecord, ref?: Reference) => void): void {
    const store = this.images.store;
    if (/^sha256:[a-f0-9]{64}$/.test(name) || isFullId(name)) {
      const img = store.resolve(name);
      if (!img) throw new NotFoundError(`No such image: ${name}`);
      add(img);
      return;
    }
    let ref: Reference;
    try { ref = parseNormalized(name); } catch {
      const img = store.resolve(name);
      if (!img) throw new NotFoundError(`No such image: ${name}`);
      add(img);
      return;
    }
    if (ref.tag === undefined && ref.digest === undefined) {
      // A repository name alone: all its tags (none: an id prefix, as moby's Search).
      const repo = `${ref.domain}/${ref.path}`;
      let found = false;
      for (const img of store.list()) {
        for (const t of img.repoTags) {
          const r = normalize(t);
          if (`${r.domain}/${r.path}` === repo) { add(img, r); found = true; }
        }
      }
      if (found) return;
      const img = store.resolve(name);
      if (!img) throw new NotFoundError(`No such image: ${name}`);
      add(img);
      return;
    }
    const img = store.resolve(name);
    if (!img) throw new NotFoundError(ref.digest !== undefined ? `No such image: ${name}` : 'reference does not exist');
    add(img, normalize(name));
  }

  /**
   * A layer's tar as a blob (digest = diffID): kept since import or load, made from a committed layer's
   * tar-split, else decompressed from the pulled blob (gzip or zstd).
   */
  private async ensureLayerTar(diffId: string, gz: string | undefined): Promise<void> {
    const content = this.images.content;
    if (await this.images.blobs.has(diffId)) return;
    if (!gz || !(await content.has(gz))) throw new NotFoundError(`layer ${diffId} has no tar to save (it was not kept)`);
    const w = await content.ingest();
    try {
      const { stream } = await decompressStream(content.createReadStream(gz));
      await pipeline(stream, async (src: AsyncIterable<Buffer>) => {
        for await (const c of src) await w.write(c);
      });
    } catch (err) {
      await w.abort();
      throw err;
    }
    await w.commit({ digest: diffId });
  }

  private writeArchive(blobs: string[], layout: ReturnType<typeof saveLayout>): Readable {
    const pack = tar.pack();
    const source = this.images.blobs;
    const epoch = new Date(0);
    const put = (name: string, body: Buffer) => new Promise<void>((resolve, reject) => {
      pack.entry({ name, size: body.length, mode: 0o644, mtime: epoch }, body, (err?: Error | null) => (err ? reject(err) : resolve()));
    });
    const dir = (name: string) => new Promise<void>((resolve, reject) => {
      pack.entry({ name, type: 'directory', mode: 0o755, mtime: epoch }, (err?: Error | null) => (err ? reject(err) : resolve()));
    });
    const run = async () => {
      await dir('blobs/');
      await dir('blobs/sha256/');
      const extra = new Map(layout.manifests.map((m) => [m.digest, m.body]));
      for (const d of [...new Set([...blobs, ...extra.keys()])].sort()) {
        const body = extra.get(d);
        if (body) { await put(blobPath(d), body); continue; }
        const size = await source.size(d);
        await new Promise<void>((resolve, reject) => {
          const sink = pack.entry({ name: blobPath(d), size, mode: 0o644, mtime: epoch }, (err?: Error | null) => (err ? reject(err) : resolve()));
          pipeline(source.read(d), sink as unknown as NodeJS.WritableStream).catch(reject);
        });
      }
      await put('index.json', layout.indexJson);
      await put('manifest.json', layout.manifestJson);
      await put('oci-layout', layout.ociLayout);
      if (layout.repositories) await put('repositories', layout.repositories);
      pack.finalize();
    };
    const out = new PassThrough();
    run().catch((err: Error) => { pack.destroy(err); out.destroy(err); });
    pack.on('error', (err: Error) => out.destroy(err));
    pack.pipe(out);
    out.on('close', () => { if (!pack.destroyed) pack.destroy(); });
    return out;
  }

  // ---------------------------------------------------------------- load

  /**
   * POST /images/load: spool the archive under tmp/ (members hashed on the way in), read manifest.json
   * (or the OCI index), verify every config and layer against its digest and diffID while unpacking, and
   * only when every image of the archive is complete record them and move their tags. A failure removes
   * the layers and blobs this load made: nothing partial becomes visible.
   */
  async load(input: Readable, quiet: boolean, out: LoadOutput): Promise<void> {
    await fsp.mkdir(this.paths.tmpDir, { recursive: true, mode: 0o700 });
    const dir = path.join(this.paths.tmpDir, `load-${randomBytes(8).toString('hex')}`);
    await fsp.mkdir(dir, { mode: 0o700 });
    try {
      const spool = await this.spool(input, dir).catch((err: unknown) => {
        // Let the client finish sending (it reads the answer only then); the rest is discarded.
        input.unpipe();
        if (!input.readableEnded) input.resume();
        throw err;
      });
      const items = await this.loadItems(spool);
      const madeLayers: string[] = [];
      const madeBlobs: string[] = [];
      try {
        for (const it of items) {
          const chains = chainIds(it.diffIds);
          for (let i = 0; i < it.diffIds.length; i++) {
            if (this.images.layers.has(chains[i]!)) continue;
            await this.loadLayer(spool, it.layers[i]!, i === 0 ? undefined : chains[i - 1], it.diffIds[i]!, quiet ? undefined : out, madeLayers, madeBlobs);
          }
        }
        await this.record(items, out);
      } catch (err) {
        for (const c of madeLayers.reverse()) await this.images.layers.remove(c).catch(() => {});
        for (const b of madeBlobs) await this.images.content.delete(b).catch(() => {});
        throw err;
      }
    } finally {
      await fsp.rm(dir, { recursive: true, force: true });
    }
  }

  private async spool(input: Readable, dir: string): Promise<Spool> {
    const spool = new Spool(dir);
    const ex = tar.extract();
    input.on('error', (err) => ex.destroy(err));
    input.pipe(ex as unknown as NodeJS.WritableStream);
    let n = 0;
    for await (const e of ex) {
      if (++n > MAX_ENTRIES) throw new ArchiveError(`invalid archive: more than ${MAX_ENTRIES} entries`);
      const h = e.header;
      const name = cleanArchivePath(h.name);
      if (h.type === 'file' || h.type === 'contiguous-file') {
        const file = path.join(dir, String(n));
        const hash = createHash('sha256');
        let size = 0;
        const ws = fs.createWriteStream(file, { mode: 0o600 });
        await pipeline(e, new Transform({ transform(c: Buffer, _e, cb) { hash.update(c); size += c.length; cb(null, c); } }), ws);
        spool.links.delete(name);
        spool.files.set(name, { file, size, digest: `sha256:${hash.digest('hex')}` });
        continue;
      }
      if ((h.type === 'symlink' || h.type === 'link') && h.linkname) {
        const target = h.type === 'link' || h.linkname.startsWith('/')
          ? cleanArchivePath(h.linkname)
          : cleanArchivePath(path.posix.join(path.posix.dirname(name), h.linkname));
        spool.files.delete(name);
        spool.links.set(name, target);
      }
      e.resume();
    }
    return spool;
  }

  /** manifest.json's images, or, without it, the OCI index's. */
  private async loadItems(spool: Spool): Promise<LoadItem[]> {
    if (spool.has('manifest.json')) {
      const items = parseArchiveManifest((await spool.read('manifest.json')).toString('utf8'));
      const out: LoadItem[] = [];
      for (const m of items) out.push(await this.dockerItem(spool, m));
      return out;
    }
    if (spool.has('index.json')) return this.ociItems(spool);
    throw new ArchiveError('invalid archive: does not contain a manifest.json');
  }

  private async dockerItem(spool: Spool, m: ArchiveManifestItem): Promise<LoadItem> {
    const config = await spool.read(m.Config);
    const { diffIds, os } = loadedConfigFacts(config, m.Config);
    if (os && os !== 'linux') throw new ArchiveError(`cannot load ${os} image on linux`);
    if (m.Layers.length !== diffIds.length) {
      throw new ArchiveError(`invalid manifest, layers length mismatch: expected ${m.Layers.length}, got ${diffIds.length}`);
    }
    for (const l of m.Layers) spool.member(l);
    return { config, diffIds, layers: m.Layers, tags: (m.RepoTags ?? []).map(loadedTag) };
  }

  private async ociItems(spool: Spool): Promise<LoadItem[]> {
    const manifest = async (digest: string, mediaType: string) => {
      try { return parseManifest(await spool.read(blobPath(digest)), mediaType); } catch (err) {
        if (err instanceof ManifestError) throw new ArchiveError(`invalid archive: manifest ${digest}: ${err.message}`);
        throw err;
      }
    };
    let index;
    try { index = parseManifest(await spool.read('index.json'), ''); } catch (err) {
      if (err instanceof ManifestError) throw new ArchiveError(`invalid archive: index.json: ${err.message}`);
      throw err;
    }
    if (index.kind !== 'index') throw new ArchiveError('invalid archive: index.json is not an image index');
    const byManifest = new Map<string, LoadItem>();
    for (const entry of index.manifest.manifests) {
      let desc = entry;
      if (INDEX_TYPES.includes(desc.mediaType)) {
        const inner = await manifest(desc.digest, desc.mediaType);
        if (inner.kind !== 'index') throw new ArchiveError(`invalid archive: ${desc.digest} is not an index`);
        const pick = selectPlatform(inner.manifest, hostPlatform());
        if (!pick) continue;
        desc = { ...pick, annotations: entry.annotations ?? {} };
      }
      let item = byManifest.get(desc.digest);
      if (!item) {
        const m = await manifest(desc.digest, desc.mediaType);
        if (m.kind !== 'image') throw new ArchiveError(`invalid archive: ${desc.digest} is not an image manifest`);
        for (const l of m.manifest.layers) {
          const c = layerCompression(l.mediaType);
          if (c === undefined) throw new ArchiveError(`unsupported layer media type ${JSON.stringify(l.mediaType)} (layer ${l.digest})`);
        }
        const config = await spool.read(blobPath(m.manifest.config.digest));
        const { diffIds, os } = loadedConfigFacts(config, m.manifest.config.digest);
        if (os && os !== 'linux') throw new ArchiveError(`cannot load ${os} image on linux`);
        if (diffIds.length !== m.manifest.layers.length) {
          throw new ArchiveError(`invalid manifest, layers length mismatch: expected ${m.manifest.layers.length}, got ${diffIds.length}`);
        }
        item = { config, diffIds, layers: m.manifest.layers.map((l) => blobPath(l.digest)), tags: [] };
        byManifest.set(desc.digest, item);
      }
      const name = ociEntryName(desc.annotations);
      if (name) item.tags.push(name);
    }
    return [...byManifest.values()];
  }

  private async loadLayer(spool: Spool, name: string, parent: string | undefined, diffId: string, out: LoadOutput | undefined, madeLayers: string[], madeBlobs: string[]): Promise<void> {
    const m = spool.member(name);
    const want = blobPathDigest(cleanArchivePath(name));
    if (want && want !== m.digest) throw new ArchiveError(`invalid archive: layer ${name}: digest mismatch: got ${m.digest}`);
    const id = short(diffId);
    const content = this.images.content;
    const hadTar = await content.has(diffId);
    const ingest = hadTar ? undefined : await content.ingest();
    let read = 0;
    const counter = new Transform({
      transform(chunk: Buffer, _e, cb) { read += chunk.length; out?.progress(id, 'Loading layer', read, m.size); cb(null, chunk); },
    });
    const src = fs.createReadStream(m.file);
    src.on('error', (err) => counter.destroy(err));
    let applied;
    try {
      applied = await this.images.layers.apply(src.pipe(counter), parent, {
        expectedDiffId: diffId, ...(ingest ? { onRaw: (c: Buffer) => ingest.write(c) } : {}),
      });
    } catch (err) {
      await ingest?.abort();
      if (err instanceof DiffIdMismatchError) {
        throw new ArchiveError(`invalid archive: layer ${name}: ${err.message}`, { cause: err });
      }
      throw err;
    }
    if (applied.created) madeLayers.push(applied.layer.chainId);
    if (ingest) {
      await ingest.commit({ digest: diffId });
      madeBlobs.push(diffId);
    }
  }

  /** Store the configs and move the tags, with moby's lines ("Loaded image: x", "Loaded image ID: y"). */
  private async record(items: LoadItem[], out: LoadOutput): Promise<void> {
    const ids: string[] = [];
    let lastTagged = 0;
    for (const it of items) {
      const chains = chainIds(it.diffIds);
      const top = chains[chains.length - 1];
      const res = await this.images.addPulled(it.config, { ...(top ? { topLayer: top } : {}), blobs: [] }, it.tags, 'load');
      ids.push(res.id);
      for (const mv of res.moved) {
        await out.stream(`The image ${familiarString(mv.ref)} already exists, renaming the old one with ID ${mv.from} to empty string\n`);
      }
      for (const t of it.tags) await out.stream(`Loaded image: ${familiarString(t)}\n`);
      lastTagged = it.tags.length;
    }
    // moby prints the ids only when the last image of the archive had no tags.
    if (lastTagged === 0) for (const id of ids) await out.stream(`Loaded image ID: ${id}\n`);
  }

  private announce(action: string, id: string): void {
    const labels = this.images.store.hasConfig(id) ? this.images.store.config(id).config?.Labels : undefined;
    this.events.publish('image', action, id, { ...(labels ?? {}), name: id });
  }
}
