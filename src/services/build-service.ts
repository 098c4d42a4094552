// POST /build: the tar context (plain or gzip) is streamed to a temp dir through the confined layer
// applier (never held in memory), the executor runs the Dockerfile, and the dir goes afterwards.
// POST /build/prune: the step cache and the images only it keeps.
import fsp from 'node:fs/promises';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { BuildExecutor, newContextDirName, type BuildDeps, type BuildOptions, type BuildOutput } from '../builder/executor.js';
import { parseTimestamp, type Filters } from '../core/filters.js';
import { buildCacheRecords, planCachePrune, type BuildCacheRecord, type CacheImageFact, type CacheLayerFact } from '../core/build-cache.js';
import { ConflictError, InvalidParameterError, NotFoundError } from '../errors.js';
import type { ImageConfigJson } from '../store/images/image-store.js';
import { applyLayerTar, type LayerApplySys } from '../store/layers/tar-apply.js';
import type { Paths } from '../store/paths.js';

export type BuildRequest = Omit<BuildOptions, 'contextDir'>;

/**
 * What prune and df need of the image service: the images (with their parent, top layer, references and
 * container counts), removal (which refuses images with children or containers), the layers.
 */
export interface CacheImages {
  list(opts: { all: boolean; containerCount: boolean }): { Id: string; Containers: number }[];
  get(ref: string): { id: string; parent?: string; topLayer?: string; repoTags: readonly string[]; repoDigests: readonly string[]; config: ImageConfigJson };
  remove(ref: string, opts?: { force?: boolean; noprune?: boolean }): Promise<({ Untagged: string } | { Deleted: string })[]>;
  readonly layers: { list(): { chainId: string; parent?: string; size: number }[] };
}

export interface BuildCachePruneReport { CachesDeleted: string[] | null; SpaceReclaimed: number }

const PRUNE_FILTERS = ['until'];

export class BuildService {
  private readonly executor: BuildExecutor;

  constructor(private readonly paths: Paths, private readonly sys: LayerApplySys, deps: Omit<BuildDeps, 'cacheFile' | 'containerLog'>,
    private readonly cacheImages: CacheImages) {
    this.executor = new BuildExecutor({
      ...deps, cacheFile: paths.buildCacheFile, containerLog: (id) => paths.containerLog(id),
    });
  }

  async build(context: Readable, o: BuildRequest, out: BuildOutput): Promise<string> {
    await fsp.mkdir(this.paths.tmpDir, { recursive: true, mode: 0o700 });
    const dir = path.join(this.paths.tmpDir, newContextDirName());
    await fsp.mkdir(dir, { mode: 0o700 });
    try {
      await applyLayerTar(context, dir, { sys: this.sys });
      return await this.executor.build({ ...o, contextDir: dir }, out);
    } finally {
      await fsp.rm(dir, { recursive: true, force: true });
    }
  }

  /**
   * `docker builder prune`: the step images nothing else keeps (untagged, no child image, no container)
   * are deleted with the cache entries that named them; `all` also drops the entries of images that
   * stay (tagged images and their parents), so every step runs again. `until` limits it to older steps.
   * What goes is planCachePrune's plan, the one `system df` reports as reclaimable.
   */
  async prune(o: { all?: boolean; filters?: Filters } = {}): Promise<BuildCachePruneReport> {
    const f = o.filters ?? new Map<string, string[]>();
    for (const k of f.keys()) if (!PRUNE_FILTERS.includes(k)) throw new InvalidParameterError(`invalid filter '${k}'`);
    const untilT = f.get('until')?.length ? Math.min(...f.get('until')!.map((v) => parseTimestamp(v))) : undefined;
    const old = (created: string): boolean => untilT === undefined || Date.parse(created) < untilT;
    const { images, layers } = this.facts();
    const byId = new Map(images.map((i) => [i.id, i]));
    const sizes = new Map(layers.map((l) => [l.chainId, l.size]));
    const index = await this.executor.steps.read();
    const candidates = Object.values(index).map((e) => e.id).filter((id) => byId.has(id) && old(byId.get(id)!.created));
    let reclaimed = 0;
    for (const id of planCachePrune(images, layers, candidates).remove) {
      try {
        for (const item of await this.cacheImages.remove(id)) {
          if ('Deleted' in item) reclaimed += sizes.get(item.Deleted) ?? 0;
        }
      } catch (err) {
        // Gone or taken meanwhile (a container created, a tag added): it stays, as a removal would decide now.
        if (!(err instanceof ConflictError) && !(err instanceof NotFoundError)) throw err;
      }
    }
    const exists = (id: string): { created: string } | undefined => {
      try { return { created: this.cacheImages.get(id).config.created ?? '' }; } catch { return undefined; }
    };
    const deleted = await this.executor.steps.update((idx) => {
      const gone: string[] = [];
      for (const [key, e] of Object.entries(idx)) {
        const img = exists(e.id);
        if (img ? o.all && old(img.created) : true) { delete idx[key]; gone.push(key); }
      }
      return gone;
    });
    return { CachesDeleted: deleted.length ? deleted : null, SpaceReclaimed: reclaimed };
  }

  /** GET /system/df's BuildCache: a record per cache entry, reclaimable as prune would free it. */
  async diskUsage(): Promise<BuildCacheRecord[]> {
    const { images, layers } = this.facts();
    const ids = new Set(images.map((i) => i.id));
    const entries = Object.entries(await this.executor.steps.read()).map(([key, e]) => ({ key, ...e }));
    const plan = planCachePrune(images, layers, entries.map((e) => e.id).filter((id) => ids.has(id)));
    return buildCacheRecords(entries, images, layers, plan);
  }

  private facts(): { images: CacheImageFact[]; layers: CacheLayerFact[] } {
    const images: CacheImageFact[] = [];
    for (const s of this.cacheImages.list({ all: true, containerCount: true })) {
      let v;
      try { v = this.cacheImages.get(s.Id); } catch { continue; }
      const history = v.config.history ?? [];
      images.push({
        id: v.id, ...(v.parent ? { parent: v.parent } : {}), ...(v.topLayer ? { topLayer: v.topLayer } : {}),
        referenced: v.repoTags.length + v.repoDigests.length > 0, containers: Math.max(0, s.Containers),
        created: v.config.created ?? '', createdBy: history[history.length - 1]?.created_by ?? '',
      });
    }
    const layers = this.cacheImages.layers.list().map((l) => ({ chainId: l.chainId, ...(l.parent ? { parent: l.parent } : {}), size: l.size }));
    return { images, layers };
  }
}
