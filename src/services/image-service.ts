import { Transform, type Readable } from 'node:stream';
import { applyChanges } from '../core/dockerfile-change.js';
import { boolFilter, matchLabels, parseTimestamp, type Filters } from '../core/filters.js';
import { compareVersions } from '../core/version-compare.js';
import {
  familiarName, familiarString, fullName, fullString, normalize, parse, parseNormalized, repoTagReference, shortId,
  matchReferenceFilter, withDefaultTag, type Reference,
} from '../core/reference.js';
import { ConflictError, InvalidParameterError, NotFoundError } from '../errors.js';
import { ContentStore, type IngestWriter } from '../store/content/content-store.js';
import { LayerBlobs } from '../store/layers/layer-blobs.js';
import {
  ImageStore, type ImageConfigJson, type ImageContainerConfig, type ImageRecord,
} from '../store/images/image-store.js';
import { chainIds, LayerStore } from '../store/layers/layer-store.js';
import type { LayerApplySys } from '../store/layers/tar-apply.js';
import type { Paths } from '../store/paths.js';
import type { Mount } from '../sys/sys.js';
import { containerConfigView } from '../core/image-config.js';
import type { EventBus } from './events.js';
import { fetchImportSource, importUrl } from './import-source.js';
import type { ProgressSink } from '../distribution/pull.js';

/** Supplied by the container service: which containers were created from an image (full `sha256:` id). */
export interface ImageUsage {
  containersUsingImage(imageId: string): { id: string; running: boolean }[];
}

export interface ImageServiceDeps {
  paths: Paths;
  sys: LayerApplySys;
  events: EventBus;
  usage: ImageUsage;
  /** Keep each imported layer's uncompressed tar as a blob (digest = diffID) for save/push. Default true. */
  keepLayerTars?: boolean;
  /** Written as `docker_version` in configs this daemon creates. */
  version?: string;
}

export interface ImageSummary {
  Id: string;
  ParentId: string;
  RepoTags: string[];
  RepoDigests: string[];
  Created: number;
  Size: number;
  SharedSize: number;
  VirtualSize?: number;
  Labels: Record<string, string> | null;
  Containers: number;
}

export interface HistoryItem {
  Id: string;
  Created: number;
  CreatedBy: string;
  Tags: string[] | null;
  Size: number;
  Comment: string;
}

/** An image as callers see it: the local record plus its parsed config. */
export interface ImageView extends ImageRecord {
  config: ImageConfigJson;
}

export type DeleteItem = { Untagged: string } | { Deleted: string };

export interface ImportOptions {
  repo?: string;
  tag?: string;
  changes?: string[];
  message?: string;
  /** os[/arch[/variant]]; default: this host. */
  platform?: string;
}

/** Where an import's tar comes from: the request body, or a URL the daemon fetches. */
export type ImportSource = { body: Readable } | { url: string; signal?: AbortSignal };

export interface ImportResult {
  id: string;
  warnings: string[];
}

const ZERO_TIME = '0001-01-01T00:00:00Z';
const LIST_FILTERS = ['dangling', 'label', 'before', 'since', 'reference', 'until'] as const;
const PRUNE_FILTERS = ['dangling', 'label', 'label!', 'until'] as const;

export function hostPlatform(): { os: string; architecture: string; variant?: string } {
  const arch: Record<string, string> = { x64: 'amd64', arm64: 'arm64', arm: 'arm', ia32: '386', ppc64: 'ppc64le', s390x: 's390x', riscv64: 'riscv64' };
  return { os: 'linux', architecture: arch[process.arch] ?? process.arch };
}

export function parsePlatform(p: string | undefined): { os: string; architecture: string; variant?: string } {
  if (!p) return hostPlatform();
  const parts = p.toLowerCase().split('/');
  if (parts.length > 3 || parts.some((x) => !/^[a-z0-9_.-]+$/.test(x))) {
    throw new InvalidParameterError(`"${p}": unknown operating system or architecture: invalid argument`);
  }
  const [os, arch, variant] = parts;
  const out: { os: string; architecture: string; variant?: string } = {
    os: os!, architecture: arch ?? hostPlatform().architecture,
  };
  if (arch === 'x86_64' || arch === 'x86-64') out.architecture = 'amd64';
  if (arch === 'aarch64') out.architecture = 'arm64';
  if (variant) out.variant = variant;
  if (out.os !== 'linux') throw new InvalidParameterError('operating system is not supported'); // moby image.CheckOS
  return out;
}

interface Conflict { message: string; hard: boolean; used: boolean }

export class ImageService {
  readonly content: ContentStore;
  readonly layers: LayerStore;
  readonly store: ImageStore;
  /** Blobs as push and save read them: the content store's and committed layers' tars (from their tar-splits). */
  readonly blobs: LayerBlobs;
  private usage: ImageUsage;
  private readonly events: EventBus;
  private readonly keepLayerTars: boolean;
  private readonly version: string | undefined;
  private lock: Promise<unknown> = Promise.resolve();

  constructor(deps: ImageServiceDeps) {
    this.content = new ContentStore(deps.paths);
    this.layers = new LayerStore(deps.paths, deps.sys);
    this.store = new ImageStore(deps.paths, this.content);
    this.blobs = new LayerBlobs(this.content, this.layers);
    this.events = deps.events;
    this.usage = deps.usage;
    this.keepLayerTars = deps.keepLayerTars ?? true;
    this.version = deps.version;
  }

  /** For composition roots where the container service is built after this one. */
  setUsage(usage: ImageUsage): void { this.usage = usage; }

  /** Prepare the stores; removes half-built layers and stale ingests. Returns warnings. */
  async init(): Promise<string[]> {
    await this.content.init();
    await this.layers.init();
    return this.store.init();
  }

  /** Serialize metadata mutations (tag/untag/delete/commit of an import). */
  private exclusive<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.lock.then(fn, fn);
    this.lock = run.catch(() => {});
    return run;
  }

  /** Find an image by reference or id; NotFoundError with Docker's wording otherwise. */
  has(refOrId: string): boolean {
    try { this.get(refOrId); return true; } catch { return false; }
  }

  get(refOrId: string): ImageView {
    const img = this.find(refOrId);
    return { ...img, repoTags: [...img.repoTags], repoDigests: [...img.repoDigests], config: this.config(img) };
  }

  private find(refOrId: string): ImageRecord {
    if (refOrId === '') throw new NotFoundError('No such image: ');
    const img = this.store.resolve(refOrId);
    if (!img) throw new NotFoundError(`No such image: ${notFoundName(refOrId)}`);
    return img;
  }

  count(): number { return this.store.list().length; }

  config(img: ImageRecord): ImageConfigJson {
    if (!this.store.hasConfig(img.id)) return { architecture: '', os: '', rootfs: { type: 'layers', diff_ids: [] } };
    return this.store.config(img.id);
  }

  /** Size of an image: the sum of its layers. */
  size(img: ImageRecord): number {
    try { return this.layers.chainSize(img.topLayer); } catch { return 0; }
  }

  private labels(img: ImageRecord): Record<string, string> | null {
    const l = this.config(img).config?.Labels;
    return l && Object.keys(l).length ? l : null;
  }

  private created(img: ImageRecord): string {
    return this.config(img).created ?? img.stored;
  }

  private hasChildren(id: string): boolean {
    return this.store.list().some((i) => i.parent === id);
  }

  /** Size of the image with this id (its layers); 0 once it is gone (a container's image force-removed). */
  imageSize(id: string): number {
    const img = this.store.get(id);
    return img ? this.size(img) : 0;
  }

  /** moby LayerDiskUsage: the layers that images stand on, each counted once. */
  layersSize(): number {
    const sizes = new Map<string, number>();
    for (const img of this.store.list()) for (const l of this.layersOf(img)) sizes.set(l.chainId, l.size);
    return [...sizes.values()].reduce((a, b) => a + b, 0);
  }

  /**
   * GET /images/json. `sharedSize`: per image the size of its layers that another listed image stands on too
   * (moby's SharedSize); `containerCount`: how many containers use it (moby's ContainerCount, `system df`).
   * Without them both are -1, as Docker's.
   */
  list(opts: { all?: boolean; filters?: Filters; digests?: boolean; sharedSize?: boolean; containerCount?: boolean; apiVersion?: string } = {}): ImageSummary[] {
    const f = opts.filters ?? new Map<string, string[]>();
    for (const k of f.keys()) {
      if (!(LIST_FILTERS as readonly string[]).includes(k)) throw new InvalidParameterError(`invalid filter '${k}'`);
    }
    const dangling = boolFilter(f, 'dangling');
    const refPatterns = f.get('reference') ?? [];
    const beforeT = f.get('before')?.length ? Math.min(...f.get('before')!.map((r) => Date.parse(this.created(this.find(r))))) : undefined;
    const sinceT = f.get('since')?.length ? Math.max(...f.get('since')!.map((r) => Date.parse(this.created(this.find(r))))) : undefined;
    const untilT = f.get('until')?.length ? Math.min(...f.get('until')!.map((v) => parseTimestamp(v))) : undefined;
    const out: ImageSummary[] = [];
    const chains = new Map<ImageSummary, ReturnType<ImageService['layersOf']>>();
    const images = [...this.store.list()].sort((a, b) => Date.parse(this.created(b)) - Date.parse(this.created(a)));
    for (const img of images) {
      const created = Date.parse(this.created(img));
      if (beforeT !== undefined && !(created < beforeT)) continue;
      if (sinceT !== undefined && !(created > sinceT)) continue;
      if (untilT !== undefined && !(created < untilT)) continue;
      if (dangling === true && img.repoTags.length > 0) continue;
      if (dangling === false && img.repoTags.length === 0) continue;
      if (!matchLabels(f.get('label'), this.labels(img))) continue;
      let tags = img.repoTags;
      let digests = img.repoDigests;
      if (refPatterns.length) {
        const match = (r: string) => { const ref = parse(r); return refPatterns.some((p) => matchReferenceFilter(p, ref)); };
        tags = tags.filter(match);
        digests = digests.filter(match);
        if (tags.length === 0 && digests.length === 0) continue;
      }
      // Intermediate images (untagged parents of other images) only with all=true.
      if (!opts.all && img.repoTags.length === 0 && this.hasChildren(img.id)) continue;
      const size = this.size(img);
      const s: ImageSummary = {
        Containers: -1,
        Created: Math.floor(created / 1000),
        Id: img.id,
        Labels: this.labels(img),
        ParentId: img.parent ?? '',
        RepoDigests: digests.map(familiarize),
        RepoTags: tags.map(familiarize),
        SharedSize: -1,
        Size: size,
      };
      if (opts.apiVersion && compareVersions(opts.apiVersion, '1.44') < 0) s.VirtualSize = size;
      if (opts.containerCount) s.Containers = this.usage.containersUsingImage(img.id).length;
      out.push(s);
      chains.set(s, this.layersOf(img));
    }
    if (opts.sharedSize) {
      const refs = new Map<string, number>();
      for (const c of chains.values()) for (const l of c) refs.set(l.chainId, (refs.get(l.chainId) ?? 0) + 1);
      for (const [s, c] of chains) s.SharedSize = c.reduce((n, l) => n + ((refs.get(l.chainId) ?? 0) > 1 ? l.size : 0), 0);
    }
    return out;
  }

  inspect(ref: string): Record<string, unknown> {
    const img = this.find(ref);
    const cfg = this.config(img);
    const chain = this.layersOf(img);
    const graphData: Record<string, string> = {};
    if (chain.length) {
      graphData.UpperDir = this.layers.diffDir(chain[chain.length - 1]!.chainId);
      if (chain.length > 1) graphData.LowerDir = chain.slice(0, -1).reverse().map((l) => this.layers.diffDir(l.chainId)).join(':');
    }
    const out: Record<string, unknown> = {
      Id: img.id,
      RepoTags: img.repoTags.map(familiarize),
      RepoDigests: img.repoDigests.map(familiarize),
      Parent: img.parent ?? '',
      Comment: cfg.comment ?? '',
      Created: cfg.created ?? img.stored,
      DockerVersion: cfg.docker_version ?? '',
      Author: cfg.author ?? '',
      Config: containerConfigView(cfg.config),
      Architecture: cfg.architecture,
      Os: cfg.os,
      Size: this.size(img),
      GraphDriver: { Name: 'overlay2', Data: graphData },
      RootFS: { Type: 'layers', Layers: [...cfg.rootfs.diff_ids] },
      Metadata: { LastTagTime: img.lastTagTime ?? ZERO_TIME },
    };
    if (cfg.variant) out.Variant = cfg.variant;
    return out;
  }

  private layersOf(img: ImageRecord) {
    try { return this.layers.chain(img.topLayer); } catch { return []; }
  }

  history(ref: string): HistoryItem[] {
    const img = this.find(ref);
    const cfg = this.config(img);
    const diffIds = cfg.rootfs.diff_ids;
    const chains = chainIds(diffIds);
    let layer = 0;
    const items: HistoryItem[] = [];
    for (const h of cfg.history ?? []) {
      let size = 0;
      if (!h.empty_layer) {
        if (layer >= diffIds.length) throw new InvalidParameterError('too many non-empty layers in History section');
        size = this.layers.get(chains[layer]!)?.size ?? 0;
        layer++;
      }
      items.unshift({
        Id: '<missing>',
        Created: h.created ? Math.floor(Date.parse(h.created) / 1000) : 0,
        CreatedBy: h.created_by ?? '',
        Tags: null,
        Size: size,
        Comment: h.comment ?? '',
      });
    }
    // Walk local parents to name the entries this daemon knows.
    let cur: ImageRecord | undefined = img;
    for (const item of items) {
      if (!cur) break;
      item.Id = cur.id;
      item.Tags = cur.repoTags.length ? cur.repoTags.map(familiarize) : null;
      cur = cur.parent ? this.store.get(cur.parent) : undefined;
    }
    return items;
  }

  /** POST /images/{name}/tag: `repo` may carry the tag (`repo=busybox:local`). */
  async tag(ref: string, repo: string, tag?: string): Promise<void> {
    if (!repo) throw new InvalidParameterError('repository name must have at least one component');
    const newRef = repoTagReference(repo, tag);
    if (familiarName(newRef) === 'sha256') {
      throw new InvalidParameterError('refusing to create an ambiguous tag using digest algorithm as name');
    }
    const img = this.find(ref);
    await this.exclusive(() => this.tagImage(img.id, newRef));
  }

  /** After a push, as dockerd: `repo@<manifest digest>` names the image (and where its blobs are, for mounts). */
  async addDigestRef(id: string, ref: Reference & { digest: string }): Promise<void> {
    await this.exclusive(async () => { await this.store.addRef(id, ref); });
  }

  private async tagImage(id: string, ref: Reference): Promise<void> {
    await this.store.addRef(id, ref);
    this.publish('tag', id, familiarString(ref));
  }

  private publish(action: string, id: string, name: string): void {
    const img = this.store.get(id);
    const attrs: Record<string, string> = Object.create(null) as Record<string, string>;
    const labels = img ? this.labels(img) : null;
    if (labels) Object.assign(attrs, labels);
    attrs.name = name;
    this.events.publish('image', action, id, { ...attrs });
  }

  /** DELETE /images/{name}: moby's ImageDelete semantics and messages. */
  async remove(ref: string, opts: { force?: boolean; noprune?: boolean } = {}): Promise<DeleteItem[]> {
    return this.exclusive(() => this.removeLocked(ref, !!opts.force, !opts.noprune));
  }

  private refsOf(id: string): Reference[] {
    const img = this.store.get(id);
    if (!img) return [];
    return [...img.repoTags, ...img.repoDigests].map((r) => parse(r));
  }

  private async removeLocked(imageRef: string, force: boolean, prune: boolean): Promise<DeleteItem[]> {
    const img = this.find(imageRef);
    const id = img.id;
    const records: DeleteItem[] = [];
    let repoRefs = this.refsOf(id);
    let removedRepositoryRef = false;
    if (!isImageIdPrefix(id, imageRef)) {
      if (!force && isSingleReference(repoRefs)) {
        const ctr = this.usage.containersUsingImage(id)[0];
        if (ctr) {
          throw new ConflictError(`conflict: unable to remove repository reference ${JSON.stringify(imageRef)} (must force) - container ${shortId(ctr.id)} is using its referenced image ${shortId(id)}`);
        }
      }
      const parsed = withDefaultTag(parseNormalized(imageRef));
      await this.store.removeRef(fullString(parsed));
      this.publish('untag', id, id);
      records.push({ Untagged: familiarString(parsed) });
      repoRefs = this.refsOf(id);
      if (parsed.digest === undefined) {
        const name = fullName(parsed);
        const sameRepoTag = repoRefs.some((r) => r.digest === undefined && fullName(r) === name);
        if (!sameRepoTag) {
          for (const r of repoRefs) {
            if (r.digest !== undefined && fullName(r) === name) {
              await this.store.removeRef(fullString(r));
              records.push({ Untagged: familiarString(r) });
            }
          }
          repoRefs = this.refsOf(id);
        }
      }
      if (repoRefs.length > 0) return records;
      removedRepositoryRef = true;
    } else if (isSingleReference(repoRefs)) {
      const c = this.conflict(id, { child: true, running: true, stopped: !force, refs: false });
      if (c) throw new ConflictError(c.message);
      for (const r of repoRefs) {
        await this.store.removeRef(fullString(r));
        this.publish('untag', id, id);
        records.push({ Untagged: familiarString(r) });
      }
    }
    await this.deleteHelper(id, records, force, prune, removedRepositoryRef);
    return records;
  }

  private conflict(id: string, mask: { child: boolean; running: boolean; refs: boolean; stopped: boolean }): Conflict | undefined {
    const fmt = (hard: boolean, msg: string) => `conflict: unable to delete ${shortId(id)} (${hard ? 'cannot be forced' : 'must be forced'}) - ${msg}`;
    if (mask.child && this.hasChildren(id)) return { hard: true, used: false, message: fmt(true, 'image has dependent child images') };
    const users = this.usage.containersUsingImage(id);
    if (mask.running) {
      const r = users.find((u) => u.running);
      if (r) return { hard: true, used: true, message: fmt(true, `image is being used by running container ${shortId(r.id)}`) };
    }
    if (mask.refs && this.refsOf(id).length > 0) {
      return { hard: false, used: false, message: fmt(false, 'image is referenced in multiple repositories') };
    }
    if (mask.stopped) {
      const s = users.find((u) => !u.running);
      if (s) return { hard: false, used: true, message: fmt(false, `image is being used by stopped container ${shortId(s.id)}`) };
    }
    return undefined;
  }

  private async deleteHelper(id: string, records: DeleteItem[], force: boolean, prune: boolean, quiet: boolean): Promise<void> {
    const c = this.conflict(id, { child: true, running: true, refs: !force, stopped: !force });
    if (c) {
      const dangling = this.refsOf(id).length === 0 && !this.hasChildren(id);
      if (quiet && (!dangling || c.used)) return;
      throw new ConflictError(c.message);
    }
    const img = this.store.get(id)!;
    const parent = img.parent;
    for (const r of this.refsOf(id)) {
      await this.store.removeRef(fullString(r));
      this.publish('untag', id, id);
      records.push({ Untagged: familiarString(r) });
    }
    const labels = this.labels(img);
    const stillUsed = this.usage.containersUsingImage(id).length > 0;
    const chain = this.layersOf(img);
    await this.store.delete(id);
    await this.releaseBlobs(img.blobs);
    const attrs: Record<string, string> = { ...(labels ?? {}), name: id };
    this.events.publish('image', 'delete', id, attrs);
    records.push({ Deleted: id });
    // Layers a (force-deleted) image's containers still stand on stay until those containers go.
    if (!stillUsed) {
      for (const l of await this.releaseLayers(chain.map((x) => x.chainId))) records.push({ Deleted: l });
    }
    if (prune && parent && this.store.get(parent)) await this.deleteHelper(parent, records, false, true, true);
  }

  /** Remove layers (top first) that no remaining image stands on; returns the removed chainIDs. */
  private async releaseLayers(chain: string[]): Promise<string[]> {
    const inUse = new Set<string>();
    for (const other of this.store.list()) for (const l of this.layersOf(other)) inUse.add(l.chainId);
    const removed: string[] = [];
    for (const chainId of [...chain].reverse()) {
      if (inUse.has(chainId)) break;
      const rec = this.layers.get(chainId);
      if (!rec) continue;
      await this.layers.remove(chainId);
      this.reclaimed += rec.size;
      if (this.keepLayerTars && !this.layers.list().some((l) => l.diffId === rec.diffId)) {
        await this.content.delete(rec.diffId).catch(() => {});
      }
      removed.push(chainId);
    }
    return removed;
  }

  private reclaimed = 0;

  /** Delete pulled layer blobs no remaining image lists. */
  private async releaseBlobs(blobs: string[] | undefined): Promise<void> {
    if (!blobs?.length) return;
    const used = new Set(this.store.list().flatMap((i) => i.blobs ?? []));
    // An uncompressed layer blob (what berth pushes for a commit or an import) is also the kept tar of a
    // layer, by its diffID: it goes only with the last layer of that diffID (releaseLayers).
    for (const l of this.layers.list()) used.add(l.diffId);
    for (const b of blobs) if (!used.has(b)) await this.content.delete(b).catch(() => {});
  }

  /**
   * Record an image that arrived whole (pull, load: config blob, top layer, a registry's layer blobs) and
   * point `refs` at it; publishes Docker's `pull` (named after the tag) or `load` (the id) event. `moved`
   * lists the refs taken from another image.
   */
  async addPulled(config: Buffer, rec: { topLayer?: string; blobs: string[] }, refs: Reference[], action: 'pull' | 'load' = 'pull'): Promise<{ id: string; created: boolean; moved: { ref: Reference; from: string }[] }> {
    return this.exclusive(async () => {
      const { image, created } = await this.store.create(config, rec);
      if (!created && rec.blobs.some((b) => !image.blobs?.includes(b))) {
        image.blobs = [...new Set([...(image.blobs ?? []), ...rec.blobs])];
        await this.store.save(image);
      }
      const moved: { ref: Reference; from: string }[] = [];
      for (const r of refs) {
        const from = await this.store.addRef(image.id, r);
        if (from) moved.push({ ref: r, from });
      }
      const tagged = refs.find((r) => r.digest === undefined) ?? refs[0];
      this.publish(action, image.id, action === 'pull' && tagged ? familiarString(tagged) : image.id);
      return { id: image.id, created, moved };
    });
  }

  /**
   * POST /images/create?fromSrc=: import a rootfs tar (plain or gzip) as a one-layer image, from the request
   * body (`-`) or a URL (moby's "Downloading from", then "Importing" progress). Parameters are checked
   * before the body is read or the URL fetched.
   */
  async importImage(source: ImportSource, opts: ImportOptions = {}, out?: ProgressSink): Promise<ImportResult> {
    const newRef = opts.repo ? repoTagReference(opts.repo, opts.tag) : undefined;
    const platform = parsePlatform(opts.platform);
    const containerConfig: ImageContainerConfig = applyChanges({}, opts.changes ?? []);
    const comment = opts.message || `Imported from ${'url' in source ? source.url : '-'}`;
    if ('url' in source) {
      const u = importUrl(source.url);
      const got = await fetchImportSource(u, source.signal);
      await out?.status(`Downloading from ${u.href}`);
      let current = 0;
      const counted = new Transform({
        transform(c: Buffer, _e, cb) { current += c.length; out?.progress('', 'Importing', current, got.size); cb(null, c); },
      });
      got.body.on('error', (err) => counted.destroy(err));
      try {
        return await this.importLayer(got.body.pipe(counted), platform, containerConfig, comment, newRef);
      } finally {
        got.body.destroy();
      }
    }
    return this.importLayer(source.body, platform, containerConfig, comment, newRef);
  }

  private async importLayer(stream: Readable, platform: ReturnType<typeof parsePlatform>, containerConfig: ImageContainerConfig, comment: string, newRef: Reference | undefined): Promise<ImportResult> {
    let ingest: IngestWriter | undefined;
    if (this.keepLayerTars) ingest = await this.content.ingest();
    let applied;
    try {
      applied = await this.layers.apply(stream, undefined, ingest ? { onRaw: (c) => ingest!.write(c) } : {});
    } catch (err) {
      await ingest?.abort();
      throw err;
    }
    if (ingest) await ingest.commit({ digest: applied.layer.diffId });

    const created = new Date().toISOString();
    const config: ImageConfigJson = {
      architecture: platform.architecture,
      ...(platform.variant ? { variant: platform.variant } : {}),
      comment,
      config: containerConfig,
      created,
      ...(this.version ? { docker_version: this.version } : {}),
      history: [{ created, comment }],
      os: platform.os,
      rootfs: { type: 'layers', diff_ids: [applied.layer.diffId] },
    };
    return this.exclusive(async () => {
      const { image } = await this.store.create(Buffer.from(JSON.stringify(config)), { topLayer: applied.layer.chainId });
      if (newRef) await this.tagImage(image.id, newRef);
      this.publish('import', image.id, image.id);
      return { id: image.id, warnings: applied.warnings };
    });
  }

  /**
   * Unpack a layer tar on top of an image's layers (commit, build), keeping the tar as a blob as
   * imports do. Returns the layer's chainID and diffID.
   */
  async applyLayer(stream: Readable, parentImageId: string | undefined): Promise<{ chainId: string; diffId: string }> {
    const parent = parentImageId ? this.find(parentImageId).topLayer : undefined;
    let ingest: IngestWriter | undefined;
    if (this.keepLayerTars) ingest = await this.content.ingest();
    let applied;
    try {
      applied = await this.layers.apply(stream, parent, ingest ? { onRaw: (c) => ingest!.write(c) } : {});
    } catch (err) {
      await ingest?.abort();
      throw err;
    }
    if (ingest) await ingest.commit({ digest: applied.layer.diffId });
    return { chainId: applied.layer.chainId, diffId: applied.layer.diffId };
  }

  /** A container's upper dir as a layer on an image's (commit, RUN steps), its tar kept as a tar-split (fromUpper). */
  async commitLayer(upper: string, lowers: readonly string[], parentImageId: string): Promise<{ chainId: string; diffId: string }> {
    const { layer } = await this.layers.fromUpper(upper, this.find(parentImageId).topLayer, lowers);
    return { chainId: layer.chainId, diffId: layer.diffId };
  }

  /** Layer dirs of an image, topmost first (what a container's upper dir is compared with). */
  lowerDirs(imageId: string): string[] {
    return this.layersOf(this.find(imageId)).reverse().map((l) => this.layers.diffDir(l.chainId));
  }

  /** Store a new image config (commit, build) with its local parent, and tag it. Returns the id. */
  async addImage(config: ImageConfigJson, rec: { topLayer?: string; parent?: string }, tags: readonly Reference[] = []): Promise<string> {
    return this.exclusive(async () => {
      if (rec.parent && !this.store.get(rec.parent)) throw new NotFoundError(`No such image: ${rec.parent}`);
      const r: { topLayer?: string; parent?: string } = {};
      if (rec.topLayer) r.topLayer = rec.topLayer;
      if (rec.parent) r.parent = rec.parent;
      const { image } = await this.store.create(Buffer.from(JSON.stringify(config)), r);
      for (const t of tags) await this.tagImage(image.id, t);
      return image.id;
    });
  }

  /** POST /images/prune. */
  async prune(opts: { filters?: Filters } = {}): Promise<{ ImagesDeleted: DeleteItem[] | null; SpaceReclaimed: number }> {
    const f = opts.filters ?? new Map<string, string[]>();
    for (const k of f.keys()) {
      if (!(PRUNE_FILTERS as readonly string[]).includes(k)) throw new InvalidParameterError(`invalid filter '${k}'`);
    }
    const danglingOnly = boolFilter(f, 'dangling') ?? true;
    const untilT = f.get('until')?.length ? Math.min(...f.get('until')!.map((v) => parseTimestamp(v))) : undefined;
    return this.exclusive(async () => {
      this.reclaimed = 0;
      const deleted: DeleteItem[] = [];
      for (const img of [...this.store.list()]) {
        if (!this.store.get(img.id)) continue;
        if (danglingOnly && (img.repoTags.length > 0 || this.hasChildren(img.id))) continue;
        if (untilT !== undefined && !(Date.parse(this.created(img)) < untilT)) continue;
        const labels = this.labels(img);
        if (!matchLabels(f.get('label'), labels)) continue;
        const neg = f.get('label!') ?? [];
        if (neg.length && neg.some((l) => matchLabels([l], labels))) continue;
        if (this.usage.containersUsingImage(img.id).length > 0) continue;
        try {
          if (!danglingOnly) {
            for (const r of [...img.repoTags, ...img.repoDigests]) {
              if (!this.store.get(img.id)) break;
              deleted.push(...await this.removeLocked(familiarize(r), false, true));
            }
          }
          if (this.store.get(img.id)) deleted.push(...await this.removeLocked(img.id, false, true));
        } catch (err) {
          if (!(err instanceof ConflictError)) throw err;
        }
      }
      const SpaceReclaimed = this.reclaimed;
      this.events.publish('image', 'prune', '', { reclaimed: String(SpaceReclaimed) });
      return { ImagesDeleted: deleted.length ? deleted : null, SpaceReclaimed };
    });
  }

  /** Plan the overlay mount of a container rootfs on an image (pure: returns data). */
  rootfsMount(imageId: string, upperDir: string, workDir: string, target: string): Mount {
    const img = this.store.get(imageId) ?? this.find(imageId);
    return this.layers.rootfsMount(img.topLayer, upperDir, workDir, target);
  }
}

function familiarize(full: string): string {
  try { return familiarString(parse(full)); } catch { return full; }
}

/** The name Docker prints in "No such image": references get their default tag. */
function notFoundName(s: string): string {
  if (/^sha256:/.test(s) || /^[a-f0-9]{64}$/.test(s)) return s;
  try { return familiarString(normalize(s)); } catch { return s; }
}

function isImageIdPrefix(id: string, s: string): boolean {
  return id.startsWith(s) || id.slice(id.indexOf(':') + 1).startsWith(s);
}

/** moby isSingleReference: all refs in one repository and at most one tag; false for none. */
function isSingleReference(refs: Reference[]): boolean {
  if (refs.length <= 1) return refs.length === 1;
  let single: Reference | undefined;
  const canonical = new Set<string>();
  for (const r of refs) {
    if (r.digest !== undefined) canonical.add(fullName(r));
    else if (!single) single = r;
    else return false;
  }
  single ??= refs[0]!;
  return canonical.size === 1 && canonical.has(fullName(single));
}
