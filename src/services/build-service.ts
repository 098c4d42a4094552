// POST /build: the tar context (plain or gzip) is streamed to a temp dir through the confined layer
// applier (never held in memory), the executor runs the Dockerfile, and the dir goes afterwards.
// POST /build/prune: the step cache and the images only it keeps.
import fsp from 'node:fs/promises';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { BuildExecutor, newContextDirName, type BuildDeps, type BuildOptions, type BuildOutput } from '../builder/executor.js';
import { parseTimestamp, type Filters } from '../core/filters.js';
import { ConflictError, InvalidParameterError } from '../errors.js';
import { applyLayerTar, type LayerApplySys } from '../store/layers/tar-apply.js';
import type { Paths } from '../store/paths.js';

export type BuildRequest = Omit<BuildOptions, 'contextDir'>;

/** What prune needs of the image service: refs, removal (which refuses images with children or containers), layer sizes. */
export interface CacheImages {
  inspect(ref: string): Record<string, unknown>;
  remove(ref: string, opts?: { force?: boolean; noprune?: boolean }): Promise<({ Untagged: string } | { Deleted: string })[]>;
  readonly layers: { list(): { chainId: string; size: number }[] };
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
   */
  async prune(o: { all?: boolean; filters?: Filters } = {}): Promise<BuildCachePruneReport> {
    const f = o.filters ?? new Map<string, string[]>();
    for (const k of f.keys()) if (!PRUNE_FILTERS.includes(k)) throw new InvalidParameterError(`invalid filter '${k}'`);
    const untilT = f.get('until')?.length ? Math.min(...f.get('until')!.map((v) => parseTimestamp(v))) : undefined;
    const exists = (id: string): Record<string, unknown> | undefined => { try { return this.cacheImages.inspect(id); } catch { return undefined; } };
    const old = (img: Record<string, unknown>): boolean => untilT === undefined || Date.parse(String(img.Created ?? '')) < untilT;
    const sizes = new Map(this.cacheImages.layers.list().map((l) => [l.chainId, l.size]));
    let reclaimed = 0;
    const index = await this.executor.steps.read();
    const ids = [...new Set(Object.values(index))];
    // Children before parents: a removal can free the parent it stood on, so go round until nothing moves.
    for (let progress = true; progress;) {
      progress = false;
      for (const id of ids) {
        const img = exists(id);
        if (!img || !old(img)) continue;
        if ((img.RepoTags as unknown[] | undefined)?.length || (img.RepoDigests as unknown[] | undefined)?.length) continue;
        try {
          for (const item of await this.cacheImages.remove(id)) {
            if ('Deleted' in item) reclaimed += sizes.get(item.Deleted) ?? 0;
          }
          progress = true;
        } catch (err) {
          if (!(err instanceof ConflictError) && exists(id)) throw err;
        }
      }
    }
    const deleted = await this.executor.steps.update((idx) => {
      const gone: string[] = [];
      for (const [key, id] of Object.entries(idx)) {
        const img = exists(id);
        if (img ? o.all && old(img) : true) { delete idx[key]; gone.push(key); }
      }
      return gone;
    });
    return { CachesDeleted: deleted.length ? deleted : null, SpaceReclaimed: reclaimed };
  }
}
