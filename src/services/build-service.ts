// POST /build: the tar context (plain or gzip) is streamed to a temp dir through the confined layer
// applier (never held in memory), the executor runs the Dockerfile, and the dir goes afterwards.
import fsp from 'node:fs/promises';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { BuildExecutor, newContextDirName, type BuildDeps, type BuildOptions, type BuildOutput } from '../builder/executor.js';
import { applyLayerTar, type LayerApplySys } from '../store/layers/tar-apply.js';
import type { Paths } from '../store/paths.js';

export type BuildRequest = Omit<BuildOptions, 'contextDir'>;

export class BuildService {
  private readonly executor: BuildExecutor;

  constructor(private readonly paths: Paths, private readonly sys: LayerApplySys, deps: Omit<BuildDeps, 'cacheFile' | 'containerLog'>) {
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
}
