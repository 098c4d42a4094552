// GET /system/df (moby daemon/disk_usage.go SystemDiskUsage and the system router's getDiskUsage): images
// with their shared size and container count, containers with their sizes, local volumes with UsageData.
// The build cache is the classic builder's step cache (BuildService.diskUsage): a record per entry.
import type { BuildCacheRecord } from '../core/build-cache.js';
import { compareVersions } from '../core/version-compare.js';
import type { VolumeView } from '../core/volumes.js';
import type { ImageSummary } from './image-service.js';

export type DiskUsageObject = 'container' | 'image' | 'volume' | 'build-cache';
export const DISK_USAGE_OBJECTS: readonly DiskUsageObject[] = ['container', 'image', 'volume', 'build-cache'];

export interface DiskUsageDeps {
  images: {
    list(opts: { sharedSize: boolean; containerCount: boolean; apiVersion?: string }): ImageSummary[];
    layersSize(): number;
  };
  containers: { list(opts: { all: boolean; size: boolean }): Record<string, unknown>[] };
  volumes: { usage(): Promise<VolumeView[]> };
  buildCache: { diskUsage(): Promise<BuildCacheRecord[]> };
}

/** moby types.DiskUsage, its field order; a part not asked for is null, as Docker's. */
export interface DiskUsage {
  LayersSize?: number;
  Images: ImageSummary[] | null;
  Containers: Record<string, unknown>[] | null;
  Volumes: VolumeView[] | null;
  BuildCache: BuildCacheRecord[] | null;
  /** API < 1.42: the build cache's size (moby's deprecated field, omitted when 0). */
  BuilderSize?: number;
}

export class DiskUsageService {
  constructor(private readonly d: DiskUsageDeps) {}

  async diskUsage(want: ReadonlySet<DiskUsageObject>, apiVersion?: string): Promise<DiskUsage> {
    const out: DiskUsage = { Images: null, Containers: null, Volumes: null, BuildCache: null };
    if (want.has('image')) {
      const layers = this.d.images.layersSize();
      if (layers > 0) out.LayersSize = layers;
      out.Images = this.d.images.list({ sharedSize: true, containerCount: true, ...(apiVersion ? { apiVersion } : {}) });
    }
    if (want.has('container')) out.Containers = this.d.containers.list({ all: true, size: true });
    if (want.has('volume')) out.Volumes = await this.d.volumes.usage();
    let builderSize = 0;
    if (want.has('build-cache')) {
      const old = apiVersion !== undefined && compareVersions(apiVersion, '1.42') < 0;
      out.BuildCache = (await this.d.buildCache.diskUsage()).map((b) => {
        if (!old) return b;
        // Before 1.42 a record had one Parent, and the response the cache's size.
        builderSize += b.Size;
        const { ID, Parents, ...rest } = b;
        return { ID, ...(Parents?.length ? { Parent: Parents[0] } : {}), ...rest };
      });
    }
    // moby's key order: LayersSize first
    return {
      ...(out.LayersSize !== undefined ? { LayersSize: out.LayersSize } : {}), Images: out.Images, Containers: out.Containers, Volumes: out.Volumes,
      BuildCache: out.BuildCache, ...(builderSize ? { BuilderSize: builderSize } : {}),
    };
  }
}
