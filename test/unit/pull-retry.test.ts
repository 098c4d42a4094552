// pullImage's download loop against a registry that misbehaves on cue (test/helpers/hostile-registry.ts),
// into a real content store: read time-outs and retries, Range resumes, a registry that ignores Range.
// The layer store is a stand-in that reads the blob through (no unpacking); e2e pull-hostile covers berthd.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pullImage, retryable, type PullStore } from '../../src/distribution/pull.js';
import { ContentStore } from '../../src/store/content/content-store.js';
import { Paths } from '../../src/store/paths.js';
import { UnavailableError } from '../../src/errors.js';
import { hostileImage, startHostileRegistry, type BlobMisbehaviour, type HostileRegistry } from '../helpers/hostile-registry.js';

let tmp: string;
let reg: HostileRegistry;
const sha = (b: Buffer) => `sha256:${createHash('sha256').update(b).digest('hex')}`;

before(async () => { tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'pull-retry-')); reg = await startHostileRegistry(); });
after(async () => { await reg.stop(); fs.rmSync(tmp, { recursive: true, force: true }); });

async function storeIn(name: string): Promise<{ store: PullStore; content: ContentStore; ingestDir: string; statuses: string[] }> {
  const paths = new Paths(path.join(tmp, name), path.join(tmp, `${name}-exec`));
  const content = new ContentStore(paths);
  await content.init();
  const layers = new Set<string>();
  const statuses: string[] = [];
  const store: PullStore = {
    hasBlob: (d) => content.has(d), ingest: () => content.ingest(), readBlob: (d) => content.createReadStream(d),
    deleteBlob: (d) => content.delete(d), getBlob: (d) => content.get(d),
    hasLayer: (c) => layers.has(c),
    applyLayer: async (input, _parent, diffId) => { for await (const _ of input) { /* read through */ } layers.add(diffId); return { chainId: diffId, created: true }; },
    removeLayer: async (c) => { layers.delete(c); },
    hasImage: () => false,
    addPulled: async (config) => ({ id: sha(config), created: true }),
  };
  return { store, content, ingestDir: paths.ingestDir, statuses };
}

/** One image whose single layer (an opaque blob: the stand-in layer store does not unpack) misbehaves as told. */
function image(repo: string, size: number, how?: BlobMisbehaviour): { blob: Buffer; digest: string } {
  const blob = randomBytes(size);
  const digest = reg.blob(blob, how);
  hostileImage(reg, repo, 'v1', [{ digest, size, diffId: digest }]);
  return { blob, digest };
}

const pull = (store: PullStore, repo: string, statuses: string[], o: { idleMs?: number; attempts?: number } = {}) => pullImage(store, {
  ref: { domain: reg.host, path: repo, tag: 'v1' }, platform: { os: 'linux', architecture: 'amd64' },
  endpoint: { domain: reg.host, base: reg.base }, retryDelay: () => 0, ...o,
}, { status: async (s, id) => { statuses.push(id ? `${id}: ${s}` : s); }, progress: () => {} });

const blobGets = (digest: string) => reg.requests.filter((r) => r.method === 'GET' && r.path.endsWith(`/blobs/${digest}`));

test('a connection cut mid-blob is resumed with Range: bytes=N- and the blob verifies', async () => {
  const { store, content, ingestDir, statuses } = await storeIn('resume');
  const { blob, digest } = image('t/resume', 1024 * 1024, { kind: 'cut', times: 2, at: 300_000 });
  await pull(store, 't/resume', statuses);
  const gets = blobGets(digest);
  assert.equal(gets.length, 3, 'two cuts, then the rest');
  assert.equal(gets[0]!.range, undefined);
  assert.match(gets[1]!.range ?? '', /^bytes=[1-9]\d*-$/, 'the retry asks for the rest');
  assert.deepEqual(await content.get(digest), blob);
  assert.deepEqual(fs.readdirSync(ingestDir), []);
});

test('a registry that ignores Range (200, the whole blob again) restarts the download cleanly', async () => {
  const { store, content, statuses } = await storeIn('norange');
  const { blob, digest } = image('t/norange', 700_000, { kind: 'cut', times: 1, at: 400_000, ignoreRange: true });
  await pull(store, 't/norange', statuses);
  const gets = blobGets(digest);
  assert.equal(gets.length, 2);
  assert.match(gets[1]!.range ?? '', /^bytes=\d+-$/);
  assert.deepEqual(await content.get(digest), blob, 'no bytes twice');
});

test('a blob that stalls after its headers: a read time-out, retried max-download-attempts times, then a clear error; nothing left', async () => {
  const { store, content, ingestDir, statuses } = await storeIn('stall');
  const { digest } = image('t/stall', 200_000, { kind: 'stall', after: 1000 });
  await assert.rejects(pull(store, 't/stall', statuses, { idleMs: 300, attempts: 3 }),
    (e: Error) => e instanceof UnavailableError && /read timeout: no data from the registry for 0.3 s/.test(e.message));
  assert.equal(blobGets(digest).length, 3);
  assert.equal(await content.has(digest), false);
  assert.deepEqual(fs.readdirSync(ingestDir), []);
});

test('a cut retried with the real countdown says "Retrying in N seconds", as dockerd', async () => {
  const { store, statuses } = await storeIn('countdown');
  const { digest } = image('t/countdown', 100_000, { kind: 'cut', times: 1, at: 50_000 });
  await pullImage(store, {
    ref: { domain: reg.host, path: 't/countdown', tag: 'v1' }, platform: { os: 'linux', architecture: 'amd64' },
    endpoint: { domain: reg.host, base: reg.base }, retryDelay: (n) => n,
  }, { status: async (s, id) => { statuses.push(id ? `${id}: ${s}` : s); }, progress: () => {} });
  assert.ok(statuses.includes(`${digest.slice(7, 19)}: Retrying in 1 second`), statuses.join('\n'));
});

test('what is retried: the network and the registry being unavailable, not bad content', () => {
  assert.equal(retryable(new UnavailableError('503')), true);
  assert.equal(retryable(Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' })), true);
  assert.equal(retryable(new Error('digest mismatch')), false);
});
