import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MT, ManifestError, layerCompression, parseManifest, normalizePlatform, platformMatches, platformString, selectPlatform, type ImageIndex } from '../../src/core/manifest.js';
import { paginate, parseRange } from '../../src/registry/server.js';

const d = (c: string) => `sha256:${c.repeat(64)}`;
const image = { schemaVersion: 2, mediaType: MT.ociManifest, config: { mediaType: MT.ociConfig, digest: d('a'), size: 2 }, layers: [{ mediaType: MT.ociLayerGzip, digest: d('b'), size: 3 }] };

test('parseManifest: kinds, media type from body or header, refusals', () => {
  const p = parseManifest(JSON.stringify(image), MT.ociManifest);
  assert.equal(p.kind, 'image');
  assert.equal(p.mediaType, MT.ociManifest);
  const noType = { ...image, mediaType: undefined };
  assert.equal(parseManifest(JSON.stringify(noType), MT.ociManifest).mediaType, MT.ociManifest);
  assert.equal(parseManifest(JSON.stringify(noType)).mediaType, MT.ociManifest);
  const idx = parseManifest(JSON.stringify({ schemaVersion: 2, manifests: [] }));
  assert.equal(idx.kind, 'index');
  const bad = (body: unknown, ct = '') => assert.throws(() => parseManifest(typeof body === 'string' ? body : JSON.stringify(body), ct), ManifestError);
  bad('{');
  bad([]);
  bad({ ...image, schemaVersion: 1 });
  bad(image, MT.dockerManifest); // body says OCI, header says Docker
  bad({ ...image, mediaType: 'text/plain' });
  bad({ ...image, config: { ...image.config, digest: 'sha256:abc' } });
  bad({ ...image, layers: [{ mediaType: MT.ociLayer, digest: d('c'), size: -1 }] });
  bad({ ...image, mediaType: MT.dockerManifest }); // Docker manifest with an OCI config type
  bad({ schemaVersion: 2, mediaType: MT.ociIndex });
});

test('selectPlatform: os/arch, variants, no match', () => {
  const entry = (architecture: string, variant?: string, c = 'a') => ({ mediaType: MT.ociManifest, digest: d(c), size: 1, platform: { os: 'linux', architecture, ...(variant ? { variant } : {}) } });
  const idx: ImageIndex = { schemaVersion: 2, manifests: [entry('arm', 'v6', '1'), entry('arm', 'v7', '2'), entry('amd64', undefined, '3'), entry('arm64', 'v8', '4')] };
  assert.equal(selectPlatform(idx, { os: 'linux', architecture: 'amd64' })?.digest, d('3'));
  assert.equal(selectPlatform(idx, { os: 'linux', architecture: 'arm' })?.digest, d('2'));
  assert.equal(selectPlatform(idx, { os: 'linux', architecture: 'arm', variant: 'v6' })?.digest, d('1'));
  assert.equal(selectPlatform(idx, { os: 'linux', architecture: 'arm64' })?.digest, d('4'));
  assert.equal(selectPlatform(idx, { os: 'linux', architecture: 's390x' }), undefined);
  assert.equal(selectPlatform(idx, { os: 'windows', architecture: 'amd64' }), undefined);
});

test('layerCompression from media types', () => {
  assert.equal(layerCompression(MT.dockerLayerGzip), 'gzip');
  assert.equal(layerCompression(MT.ociLayerGzip), 'gzip');
  assert.equal(layerCompression(MT.ociLayer), 'none');
  assert.equal(layerCompression(MT.ociLayerZstd), 'zstd');
  assert.equal(layerCompression('application/octet-stream'), undefined);
});

test('registry pagination and Range parsing', () => {
  const all = ['a', 'b', 'c'];
  assert.deepEqual(paginate(all, new URLSearchParams('')), { items: all, n: 3 });
  assert.deepEqual(paginate(all, new URLSearchParams('n=2')), { items: ['a', 'b'], n: 2, next: 'b' });
  assert.deepEqual(paginate(all, new URLSearchParams('n=2&last=b')), { items: ['c'], n: 2 });
  assert.deepEqual(paginate(all, new URLSearchParams('n=0')), { items: [], n: 0 });
  assert.throws(() => paginate(all, new URLSearchParams('n=-1')));
  assert.deepEqual(parseRange('bytes=0-9', 100), { start: 0, end: 9 });
  assert.deepEqual(parseRange('bytes=90-', 100), { start: 90, end: 99 });
  assert.deepEqual(parseRange('bytes=-10', 100), { start: 90, end: 99 });
  assert.equal(parseRange('bytes=100-', 100), 'invalid');
  assert.equal(parseRange('items=1-2', 100), 'invalid');
  assert.equal(parseRange(undefined, 100), undefined);
});

test('platformMatches: os and arch must match; base variants normalise; a variant-less image serves any variant', () => {
  assert.ok(platformMatches({ os: 'linux', architecture: 'amd64' }, { os: 'linux', architecture: 'amd64' }));
  assert.ok(!platformMatches({ os: 'linux', architecture: 'arm64' }, { os: 'linux', architecture: 'amd64' }));
  assert.ok(platformMatches({ os: 'linux', architecture: 'arm64', variant: 'v8' }, { os: 'linux', architecture: 'arm64' }));
  assert.ok(platformMatches({ os: 'linux', architecture: 'arm', variant: 'v7' }, { os: 'linux', architecture: 'arm' }));
  assert.ok(!platformMatches({ os: 'linux', architecture: 'arm', variant: 'v7' }, { os: 'linux', architecture: 'arm', variant: 'v6' }));
  assert.ok(platformMatches({ os: 'linux', architecture: 'amd64' }, { architecture: 'amd64' }));
  assert.equal(platformString(normalizePlatform({ os: 'linux', architecture: 'amd64', variant: 'v1' })), 'linux/amd64');
});
