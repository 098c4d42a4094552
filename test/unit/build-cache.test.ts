// The build cache's prune plan and system df records (core/build-cache.ts): what df calls reclaimable is what
// the plan frees, a tag or an outside image makes an entry shared, a container makes it in use.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { buildCacheRecords, planCachePrune, type CacheImageFact, type CacheLayerFact } from '../../src/core/build-cache.js';

const T = '2026-12-04T20:00:00.000Z';
const img = (id: string, o: Partial<CacheImageFact> = {}): CacheImageFact => ({ id, referenced: false, containers: 0, created: T, createdBy: `step ${id}`, ...o });
// base (tagged, layer L0) → run1 (L1) → label (no layer) → run2 (L2)
const layers: CacheLayerFact[] = [
  { chainId: 'L0', size: 1000 }, { chainId: 'L1', parent: 'L0', size: 100 }, { chainId: 'L2', parent: 'L1', size: 10 },
];
const chain = (o: { tagTop?: boolean; ctr?: string; outsideChild?: boolean } = {}): CacheImageFact[] => [
  img('base', { topLayer: 'L0', referenced: true }),
  img('run1', { parent: 'base', topLayer: 'L1', ...(o.ctr === 'run1' ? { containers: 1 } : {}) }),
  img('label', { parent: 'run1', topLayer: 'L1' }),
  img('run2', { parent: 'label', topLayer: 'L2', referenced: !!o.tagTop, ...(o.ctr === 'run2' ? { containers: 1 } : {}) }),
  ...(o.outsideChild ? [img('commit', { parent: 'run1', topLayer: 'L1' })] : []),
];
const entries = [{ key: 'k1', id: 'run1' }, { key: 'k2', id: 'label', lastUsed: T, uses: 3 }, { key: 'k3', id: 'run2' }];
const cacheIds = entries.map((e) => e.id);
/** The docker CLI's figures: size of the unshared records, and that minus the in-use ones. */
const cli = (recs: ReturnType<typeof buildCacheRecords>) => {
  const size = recs.filter((r) => !r.Shared).reduce((n, r) => n + r.Size, 0);
  return { size, reclaimable: size - recs.filter((r) => r.InUse && !r.Shared).reduce((n, r) => n + r.Size, 0) };
};

test('untagged steps go children first; their layers are what df calls reclaimable', () => {
  const images = chain();
  const plan = planCachePrune(images, layers, cacheIds);
  assert.deepEqual(plan.remove, ['run2']);
  assert.deepEqual([...plan.removed].sort(), ['label', 'run1', 'run2']);
  assert.deepEqual([...plan.freedLayers].sort(), ['L1', 'L2']);
  assert.equal(plan.reclaimed, 110);
  const recs = buildCacheRecords(entries, images, layers, plan);
  assert.deepEqual(recs.map((r) => [r.ID, r.Size, r.InUse, r.Shared]), [['k1', 100, false, false], ['k2', 0, false, false], ['k3', 10, false, false]]);
  assert.deepEqual(cli(recs), { size: 110, reclaimable: 110 });
  assert.deepEqual(recs.map((r) => r.Parents ?? null), [null, ['k1'], ['k2']], 'the parent entry, when the parent image is an entry');
  assert.deepEqual([recs[1]!.LastUsedAt, recs[1]!.UsageCount, recs[0]!.LastUsedAt, recs[0]!.UsageCount], [T, 3, null, 1]);
  assert.equal(recs[2]!.Description, 'step run2');
});

test('a tagged top keeps the whole chain: every entry is shared, nothing is reclaimable', () => {
  const images = chain({ tagTop: true });
  const plan = planCachePrune(images, layers, cacheIds);
  assert.deepEqual(plan.remove, []);
  assert.equal(plan.reclaimed, 0);
  const recs = buildCacheRecords(entries, images, layers, plan);
  assert.ok(recs.every((r) => r.Shared && !r.InUse));
  assert.deepEqual(cli(recs), { size: 0, reclaimable: 0 });
});

test('a container on a step keeps it and its parents in use; the steps above it still go', () => {
  const images = chain({ ctr: 'run1' });
  const plan = planCachePrune(images, layers, cacheIds);
  assert.deepEqual([...plan.removed].sort(), ['label', 'run2']);
  assert.deepEqual([...plan.freedLayers], ['L2']);
  const recs = buildCacheRecords(entries, images, layers, plan);
  assert.deepEqual(recs.map((r) => [r.ID, r.InUse, r.Shared]), [['k1', true, false], ['k2', false, false], ['k3', false, false]]);
  assert.deepEqual(cli(recs), { size: 110, reclaimable: 10 });
  assert.equal(cli(recs).reclaimable, plan.reclaimed);
});

test('an image outside the cache on a step (a commit) keeps it shared', () => {
  const images = chain({ outsideChild: true });
  const plan = planCachePrune(images, layers, cacheIds);
  assert.deepEqual([...plan.removed].sort(), ['label', 'run2']);
  const recs = buildCacheRecords(entries, images, layers, plan);
  assert.deepEqual(recs.map((r) => [r.ID, r.Shared]), [['k1', true], ['k2', false], ['k3', false]]);
  assert.deepEqual(cli(recs), { size: 10, reclaimable: 10 });
  assert.equal(plan.reclaimed, 10);
});

test('a candidate list limited by until: older entries only, and a kept child holds its parent', () => {
  const images = chain();
  const plan = planCachePrune(images, layers, ['run1', 'label']);
  assert.deepEqual(plan.remove, [], 'run2 stays, so label and run1 under it stay');
  assert.equal(plan.reclaimed, 0);
  assert.deepEqual([...planCachePrune(images, layers, ['run2']).removed].sort(), ['label', 'run1', 'run2'], 'parents go by the rule, as rmi does');
});

test('a layer two entries added counts once; an entry whose image is gone is not listed', () => {
  const images = [img('base', { topLayer: 'L0', referenced: true }), img('a', { parent: 'base', topLayer: 'L1' }), img('b', { parent: 'base', topLayer: 'L1' })];
  const plan = planCachePrune(images, layers, ['a', 'b']);
  const recs = buildCacheRecords([{ key: 'ka', id: 'a' }, { key: 'kb', id: 'b' }, { key: 'kx', id: 'gone' }], images, layers, plan);
  assert.deepEqual(recs.map((r) => [r.ID, r.Size]), [['ka', 100], ['kb', 0]]);
  assert.equal(cli(recs).reclaimable, plan.reclaimed);
});
