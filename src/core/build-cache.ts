// What `builder prune` removes and what `system df` reports of the build cache, from one plan so that the two
// agree: df's reclaimable bytes are the bytes a prune frees. berth's build cache is the classic builder's:
// step cache entries naming images, so the plan follows the image service's removal rules (an image goes when
// it is untagged, no container uses it and no image stands on it; its parent then goes by the same rule, and
// a layer goes when no remaining image stands on it).

export interface CacheImageFact {
  id: string;
  parent?: string;
  /** chainID of the image's top layer; undefined for an image without layers. */
  topLayer?: string;
  /** Has a tag or a digest reference. */
  referenced: boolean;
  /** Containers created from this very image. */
  containers: number;
  /** RFC 3339 creation time. */
  created: string;
  /** The last history entry's created_by: the step that made it. */
  createdBy: string;
}

export interface CacheLayerFact { chainId: string; parent?: string; size: number }

export interface CacheEntryFact { key: string; id: string; lastUsed?: string; uses?: number }

export interface PrunePlan {
  /** Images to remove, in an order that removes children first (the candidates only; parents follow by the rule). */
  remove: string[];
  /** Every image that goes, parents freed by the rule included. */
  removed: Set<string>;
  /** Layers (chainIDs) that no remaining image stands on. */
  freedLayers: Set<string>;
  /** The bytes those layers hold. */
  reclaimed: number;
}

function chainOf(top: string | undefined, layers: Map<string, CacheLayerFact>): string[] {
  const out: string[] = [];
  for (let cur = top; cur !== undefined && out.length <= 1000; cur = layers.get(cur)?.parent) out.push(cur);
  return out;
}

/** The removals a prune of `candidates` (image ids) makes, repeated until nothing more can go. */
export function planCachePrune(images: readonly CacheImageFact[], layers: readonly CacheLayerFact[], candidates: Iterable<string>): PrunePlan {
  const byId = new Map(images.map((i) => [i.id, i]));
  const alive = new Set(byId.keys());
  const children = new Map<string, number>();
  for (const i of images) if (i.parent && byId.has(i.parent)) children.set(i.parent, (children.get(i.parent) ?? 0) + 1);
  const removable = (id: string): boolean => {
    const i = byId.get(id);
    return !!i && alive.has(id) && !i.referenced && i.containers === 0 && !children.get(id);
  };
  const removed = new Set<string>();
  const drop = (id: string): void => {
    alive.delete(id);
    removed.add(id);
    const p = byId.get(id)!.parent;
    if (p && byId.has(p)) {
      children.set(p, children.get(p)! - 1);
      if (removable(p)) drop(p);
    }
  };
  const remove: string[] = [];
  const cands = [...new Set(candidates)];
  for (let progress = true; progress;) {
    progress = false;
    for (const id of cands) {
      if (!removable(id)) continue;
      remove.push(id);
      drop(id);
      progress = true;
    }
  }
  const layerMap = new Map(layers.map((l) => [l.chainId, l]));
  const kept = new Set<string>();
  for (const id of alive) for (const l of chainOf(byId.get(id)!.topLayer, layerMap)) kept.add(l);
  const freedLayers = new Set<string>();
  for (const id of removed) for (const l of chainOf(byId.get(id)!.topLayer, layerMap)) if (!kept.has(l) && layerMap.has(l)) freedLayers.add(l);
  const reclaimed = [...freedLayers].reduce((n, l) => n + layerMap.get(l)!.size, 0);
  return { remove, removed, freedLayers, reclaimed };
}

/** moby's build.CacheRecord, its field order. */
export interface BuildCacheRecord {
  ID: string;
  Parent?: string;
  Parents?: string[];
  Type: string;
  Description: string;
  InUse: boolean;
  Shared: boolean;
  Size: number;
  CreatedAt: string;
  LastUsedAt: string | null;
  UsageCount: number;
}

/**
 * The records of `GET /system/df`'s BuildCache: one per entry whose image exists. Size is the layer the step
 * added (0 for a metadata step; a layer two entries added counts once). An entry whose layer a prune would
 * free is neither in use nor shared; one that a container keeps (its image or an image on top of it) is in
 * use; any other is shared (a tag, or an image outside the cache, keeps it). So the docker CLI's
 * reclaimable figure (the sizes neither shared nor in use) is what `builder prune` frees.
 */
export function buildCacheRecords(entries: readonly CacheEntryFact[], images: readonly CacheImageFact[], layers: readonly CacheLayerFact[], plan: PrunePlan): BuildCacheRecord[] {
  const byId = new Map(images.map((i) => [i.id, i]));
  const sizes = new Map(layers.map((l) => [l.chainId, l.size]));
  const pinned = new Set<string>();
  for (const i of images) {
    if (i.containers === 0) continue;
    for (let cur: string | undefined = i.id; cur && !pinned.has(cur); cur = byId.get(cur)?.parent) pinned.add(cur);
  }
  const keyOf = new Map<string, string>();
  for (const e of entries) if (byId.has(e.id) && !keyOf.has(e.id)) keyOf.set(e.id, e.key);
  const counted = new Set<string>();
  const out: BuildCacheRecord[] = [];
  for (const e of entries) {
    const img = byId.get(e.id);
    if (!img) continue;
    const parent = img.parent ? byId.get(img.parent) : undefined;
    const own = img.topLayer !== undefined && img.topLayer !== parent?.topLayer ? img.topLayer : undefined;
    let size = 0;
    if (own !== undefined && !counted.has(own)) { counted.add(own); size = sizes.get(own) ?? 0; }
    const freed = plan.removed.has(img.id) && (own === undefined || plan.freedLayers.has(own));
    const inUse = !freed && pinned.has(img.id);
    const parentKey = img.parent ? keyOf.get(img.parent) : undefined;
    out.push({
      ID: e.key, ...(parentKey ? { Parents: [parentKey] } : {}), Type: 'regular', Description: img.createdBy,
      InUse: inUse, Shared: !freed && !inUse, Size: size, CreatedAt: img.created,
      LastUsedAt: e.lastUsed ?? null, UsageCount: e.uses ?? 1,
    });
  }
  return out;
}
