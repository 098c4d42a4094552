import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import {
  ArchiveError, blobPathDigest, cleanArchivePath, loadedConfigFacts, loadedTag, ociEntryName, parseArchiveManifest, saveLayout,
} from '../../src/core/image-archive.js';
import { fullString, normalize } from '../../src/core/reference.js';

const d = (c: string) => `sha256:${c.repeat(64)}`;
const sha = (b: Buffer) => `sha256:${createHash('sha256').update(b).digest('hex')}`;

test('cleanArchivePath: ./ and // are cleaned, names leaving the archive refused', () => {
  assert.equal(cleanArchivePath('./blobs//sha256/ab/'), 'blobs/sha256/ab');
  assert.equal(cleanArchivePath('a/../b'), 'b');
  assert.throws(() => cleanArchivePath('../etc/passwd'), ArchiveError);
  assert.throws(() => cleanArchivePath('a/../../b'), ArchiveError);
  assert.equal(cleanArchivePath('/abs/x'), 'abs/x');
  assert.equal(blobPathDigest(`blobs/sha256/${'a'.repeat(64)}`), d('a'));
  assert.equal(blobPathDigest('abc/layer.tar'), undefined);
});

test('parseArchiveManifest: moby messages for null and non-JSON; shapes checked', () => {
  assert.throws(() => parseArchiveManifest('null'), /manifest cannot be null \(but can be \[\]\)/);
  assert.throws(() => parseArchiveManifest('{'), /failed to decode manifest.json/);
  assert.throws(() => parseArchiveManifest('[{"Layers":[]}]'), /has no Config/);
  assert.throws(() => parseArchiveManifest('[{"Config":"c","Layers":[1]}]'), /Layers must be/);
  assert.deepEqual(parseArchiveManifest('[]'), []);
  assert.deepEqual(parseArchiveManifest('[{"Config":"c.json","RepoTags":null,"Layers":["a/layer.tar"]}]'), [{ Config: 'c.json', RepoTags: null, Layers: ['a/layer.tar'] }]);
});

test('loadedTag needs a tag; ociEntryName reads containerd\'s name or a full ref.name, not a bare tag', () => {
  assert.equal(fullString(loadedTag('busybox:1')), 'docker.io/library/busybox:1');
  assert.throws(() => loadedTag('busybox'), /invalid tag/);
  assert.throws(() => loadedTag('Bad:x'), ArchiveError);
  assert.equal(fullString(ociEntryName({ 'io.containerd.image.name': 'docker.io/library/a:b' })!), 'docker.io/library/a:b');
  assert.equal(fullString(ociEntryName({ 'org.opencontainers.image.ref.name': 'reg:5000/x/y:z' })!), 'reg:5000/x/y:z');
  assert.equal(ociEntryName({ 'org.opencontainers.image.ref.name': 'latest' }), undefined);
  assert.equal(ociEntryName(undefined), undefined);
});

test('loadedConfigFacts: diff_ids must be sha256 digests', () => {
  assert.deepEqual(loadedConfigFacts(Buffer.from(JSON.stringify({ os: 'linux', rootfs: { diff_ids: [d('a')] } })), 'c'), { diffIds: [d('a')], os: 'linux' });
  assert.throws(() => loadedConfigFacts(Buffer.from('{"rootfs":{"diff_ids":["x"]}}'), 'c'), /bad rootfs.diff_ids/);
  assert.throws(() => loadedConfigFacts(Buffer.from('nope'), 'c'), /invalid image config c/);
});

test('saveLayout: manifest.json, index.json per tag, repositories; untagged images have null RepoTags and no repositories', () => {
  const l = saveLayout([
    { id: d('c'), configSize: 10, diffIds: [d('1'), d('2')], layerSizes: [100, 200], tags: [normalize('busybox:1'), normalize('busybox:2')] },
    { id: d('e'), configSize: 5, diffIds: [d('3')], layerSizes: [7], tags: [] },
  ], sha);
  const items = JSON.parse(l.manifestJson.toString());
  assert.deepEqual(items[0], { Config: `blobs/sha256/${'c'.repeat(64)}`, RepoTags: ['busybox:1', 'busybox:2'], Layers: [`blobs/sha256/${'1'.repeat(64)}`, `blobs/sha256/${'2'.repeat(64)}`] });
  assert.equal(items[1].RepoTags, null);
  assert.ok(l.manifestJson.toString().endsWith('\n'));
  const idx = JSON.parse(l.indexJson.toString());
  assert.equal(idx.manifests.length, 3);
  assert.deepEqual(idx.manifests[1].annotations, { 'io.containerd.image.name': 'docker.io/library/busybox:2', 'org.opencontainers.image.ref.name': '2' });
  assert.equal(idx.manifests[2].annotations, undefined);
  const m = JSON.parse(l.manifests[0]!.body.toString());
  assert.equal(sha(l.manifests[0]!.body), l.manifests[0]!.digest);
  assert.deepEqual(m.layers[1], { mediaType: 'application/vnd.oci.image.layer.v1.tar', digest: d('2'), size: 200 });
  assert.deepEqual(JSON.parse(l.repositories!.toString()), { busybox: { 1: '2'.repeat(64), 2: '2'.repeat(64) } });
  assert.equal(saveLayout([{ id: d('e'), configSize: 5, diffIds: [d('3')], layerSizes: [7], tags: [] }], sha).repositories, undefined);
});
