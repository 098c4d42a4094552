// docker pull (the real CLI) from `berth registry` into a private berthd: by tag, by digest, a manifest
// list with two platforms, layers already present, then hostile registries (tampered blob, missing
// manifest) leaving the daemon's store as it was.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createHash } from 'node:crypto';
import { execFile } from 'node:child_process';
import { compress as zstdCompress } from 'zstd-napi';
import { api, startDaemon, storeContents, type Daemon } from '../helpers/daemon.js';
import { berth, docker, show, type CliResult } from '../helpers/cli.js';
import { busyboxTar } from '../helpers/fixtures.js';
import { putBlob, tarWithFile, writeImageBlobs, writeLayout } from '../helpers/oci-layout.js';
import { putManifest, pushWritten, startRegistry, type TestRegistry } from '../helpers/registry.js';

let d: Daemon;
let reg: TestRegistry;
let tmp: string;
let bb: Buffer;

async function ok(args: string[]): Promise<CliResult> {
  const r = await docker(d.env, args);
  assert.equal(r.code, 0, `docker ${args.join(' ')} failed: ${show(r)}\n${d.logTail()}`);
  return r;
}

const storeState = () => storeContents(d.dataRoot);

before(async () => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-pull-'));
  bb = fs.readFileSync(await busyboxTar());
  reg = await startRegistry(path.join(tmp, 'reg'));
  d = await startDaemon({ args: ['-b', 'none'] });
});

after(async () => {
  reg?.stop();
  if (d) await d.cleanup();
  fs.rmSync(tmp, { recursive: true, force: true });
});

test('docker pull by tag and by digest, run it, pull again is up to date', async () => {
  const dir = path.join(tmp, 'img1');
  const [img] = writeLayout(dir, [{ layers: [bb, tarWithFile('marker', 'one\n')], cmd: ['cat', '/marker'] }]);
  await pushWritten(reg.base, 'e2e/bb', 'v1', dir, img!);
  const name = `${reg.host}/e2e/bb:v1`;

  const pull = await ok(['pull', name]);
  assert.match(pull.stdout, /v1: Pulling from e2e\/bb/);
  assert.match(pull.stdout, new RegExp(`Digest: ${img!.manifestDigest}`));
  assert.match(pull.stdout, new RegExp(`Status: Downloaded newer image for ${name.replace(/\./g, '\\.')}`));
  const insp = JSON.parse((await ok(['image', 'inspect', name])).stdout)[0];
  assert.equal(insp.Id, img!.configDigest);
  assert.deepEqual(insp.RepoDigests, [`${reg.host}/e2e/bb@${img!.manifestDigest}`]);
  assert.equal(insp.RootFS.Layers.length, 2);
  const run = await ok(['run', '--rm', '--network', 'none', name]);
  assert.equal(run.stdout, 'one\n');

  const again = await ok(['pull', name]);
  assert.match(again.stdout, /Already exists/);
  assert.match(again.stdout, /Image is up to date/);
  assert.equal(storeState().ingest.length, 0);

  // By digest, into a fresh repository name: layers are shared, nothing is downloaded twice.
  await pushWritten(reg.base, 'e2e/other', 'x', dir, img!);
  const byDigest = await ok(['pull', `${reg.host}/e2e/other@${img!.manifestDigest}`]);
  assert.match(byDigest.stdout, /Already exists/);
  const insp2 = JSON.parse((await ok(['image', 'inspect', `${reg.host}/e2e/other@${img!.manifestDigest}`])).stdout)[0];
  assert.equal(insp2.Id, img!.configDigest);

  // rmi takes the pulled layer blobs with the last image using them.
  await ok(['rmi', name, `${reg.host}/e2e/other@${img!.manifestDigest}`]);
  assert.deepEqual(storeState().images, []);
  for (const l of img!.layerDigests) assert.ok(!storeState().blobs.includes(l.slice(7)), `layer blob ${l} removed`);
});

test('a manifest list pulls this platform (and --platform picks another)', async () => {
  const dir = path.join(tmp, 'multi');
  fs.mkdirSync(dir, { recursive: true });
  const amd = writeImageBlobs(dir, { layers: [bb, tarWithFile('marker', 'amd64\n')], cmd: ['cat', '/marker'] });
  const arm = writeImageBlobs(dir, { layers: [bb, tarWithFile('marker', 'arm64\n')], cmd: ['cat', '/marker'], architecture: 'arm64', variant: 'v8' });
  await pushWritten(reg.base, 'e2e/multi', amd.manifestDigest, dir, amd);
  await pushWritten(reg.base, 'e2e/multi', arm.manifestDigest, dir, arm);
  const index = Buffer.from(JSON.stringify({
    schemaVersion: 2, mediaType: 'application/vnd.oci.image.index.v1+json',
    manifests: [
      { mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: arm.manifestDigest, size: arm.manifest.length, platform: { os: 'linux', architecture: 'arm64', variant: 'v8' } },
      { mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: amd.manifestDigest, size: amd.manifest.length, platform: { os: 'linux', architecture: 'amd64' } },
    ],
  }));
  const indexDigest = await putManifest(reg.base, 'e2e/multi', 'latest', index, 'application/vnd.oci.image.index.v1+json');
  const name = `${reg.host}/e2e/multi`;
  const pull = await ok(['pull', name]);
  assert.match(pull.stdout, new RegExp(`Digest: ${indexDigest}`));
  assert.equal((await ok(['run', '--rm', '--network', 'none', name])).stdout, 'amd64\n');
  assert.equal(JSON.parse((await ok(['image', 'inspect', name])).stdout)[0].Id, amd.configDigest);
  await ok(['pull', '--platform', 'linux/arm64', `${name}:latest`]);
  const insp = JSON.parse((await ok(['image', 'inspect', name])).stdout)[0];
  assert.equal(insp.Id, arm.configDigest);
  assert.equal(insp.Architecture, 'arm64');
  const none = await docker(d.env, ['pull', '--platform', 'linux/s390x', name]);
  assert.notEqual(none.code, 0);
  assert.match(none.stderr, /no matching manifest for linux\/s390x/);
  await ok(['rmi', amd.configDigest, arm.configDigest]);
});

test('hostile registry content: tampered blob, missing manifest, bad config; the store is unchanged', async () => {
  const before = storeState();
  const missing = await docker(d.env, ['pull', `${reg.host}/e2e/absent:nope`]);
  assert.notEqual(missing.code, 0);
  assert.match(missing.stderr, /not found/);

  const dir = path.join(tmp, 'bad');
  const [img] = writeLayout(dir, [{ layers: [tarWithFile('a', 'good'), tarWithFile('b', 'also good')] }]);
  await pushWritten(reg.base, 'e2e/bad', 'v1', dir, img!);
  // Corrupt the second layer inside the registry's storage (same size, other bytes).
  const blobFile = path.join(tmp, 'reg', 'content', 'blobs', 'sha256', img!.layerDigests[1]!.slice(7));
  const orig = fs.readFileSync(blobFile);
  const bad = Buffer.from(orig);
  bad[bad.length - 5] = bad[bad.length - 5]! ^ 0xff;
  fs.chmodSync(blobFile, 0o644);
  fs.writeFileSync(blobFile, bad);
  const r = await docker(d.env, ['pull', `${reg.host}/e2e/bad:v1`]);
  assert.notEqual(r.code, 0, show(r));
  assert.match(r.stderr + r.stdout, /digest/);
  assert.deepEqual(storeState(), before, 'nothing of the failed pull stays');
  fs.writeFileSync(blobFile, orig);

  // A config whose diff_ids do not match the layers: unpacked layers are refused, nothing stays.
  const liar = path.join(tmp, 'liar');
  const w = writeImageBlobs(liar, { layers: [tarWithFile('c', 'x')] });
  const cfg = JSON.parse(w.config.toString());
  cfg.rootfs.diff_ids = [`sha256:${createHash('sha256').update('not it').digest('hex')}`];
  const cfgBuf = Buffer.from(JSON.stringify(cfg));
  const cfgDigest = `sha256:${createHash('sha256').update(cfgBuf).digest('hex')}`;
  fs.writeFileSync(path.join(liar, 'blobs', 'sha256', cfgDigest.slice(7)), cfgBuf);
  const man = JSON.parse(w.manifest.toString());
  man.config = { ...man.config, digest: cfgDigest, size: cfgBuf.length };
  const manBuf = Buffer.from(JSON.stringify(man));
  await pushWritten(reg.base, 'e2e/liar', 'v1', liar, { ...w, configDigest: cfgDigest, manifest: manBuf });
  const r2 = await docker(d.env, ['pull', `${reg.host}/e2e/liar:v1`]);
  assert.notEqual(r2.code, 0, show(r2));
  assert.match(r2.stderr + r2.stdout, /diffID mismatch/);
  assert.deepEqual(storeState(), before);
});

const skopeo = (args: string[]) => new Promise<string>((resolve, reject) => {
  execFile('skopeo', args, (err, stdout, stderr) => (err ? reject(new Error(`skopeo ${args.join(' ')}: ${stderr}`)) : resolve(stdout)));
});
const ZSTD = 'application/vnd.oci.image.layer.v1.tar+zstd';

test('zstd layers (skopeo --dest-compress-format zstd): pull, run, push keeps them zstd, save/load round-trips', { skip: !fs.existsSync('/usr/bin/skopeo') && 'skopeo not installed' }, async () => {
  const dir = path.join(tmp, 'zstd-src');
  writeLayout(dir, [{ layers: [bb, tarWithFile('marker', 'zstd\n')], cmd: ['cat', '/marker'], ref: 'v1' }]);
  const name = `${reg.host}/e2e/zstd:v1`;
  await skopeo(['copy', '-q', '--dest-tls-verify=false', '--dest-compress-format', 'zstd', `oci:${dir}:v1`, `docker://${name}`]);
  const raw = JSON.parse(await skopeo(['inspect', '--raw', '--tls-verify=false', `docker://${name}`]));
  assert.deepEqual(raw.layers.map((l: { mediaType: string }) => l.mediaType), [ZSTD, ZSTD]);
  for (const l of raw.layers) {
    const head = await (await fetch(`${reg.base}/v2/e2e/zstd/blobs/${l.digest}`)).arrayBuffer();
    assert.equal(Buffer.from(head).readUInt32LE(0), 0xfd2fb528, 'the registry holds zstd frames');
  }

  const pull = await ok(['pull', name]);
  assert.match(pull.stdout, /Pull complete/);
  assert.equal((await ok(['run', '--rm', '--network', 'none', name])).stdout, 'zstd\n');
  const insp = JSON.parse((await ok(['image', 'inspect', name])).stdout)[0];
  assert.equal(insp.RootFS.Layers.length, 2);

  // Push sends the zstd blobs as they were pulled, under the zstd media type.
  const again = `${reg.host}/e2e/zstd-again:v1`;
  await ok(['tag', name, again]);
  await ok(['push', again]);
  const pushed = JSON.parse(await skopeo(['inspect', '--raw', '--tls-verify=false', `docker://${again}`]));
  assert.deepEqual(pushed.layers.map((l: { mediaType: string; digest: string }) => [l.mediaType, l.digest]),
    raw.layers.map((l: { mediaType: string; digest: string }) => [ZSTD, l.digest]));

  // save decompresses them into the archive's layer tars; load unpacks those.
  const saved = path.join(tmp, 'zstd.tar');
  await ok(['save', '-o', saved, name]);
  await ok(['rmi', name, again]);
  await ok(['load', '-i', saved]);
  assert.equal((await ok(['run', '--rm', '--network', 'none', name])).stdout, 'zstd\n');
  await ok(['rmi', name]);
  assert.equal(storeState().ingest.length, 0);
});

test('a zstd blob that does not decode (its digest is right): refused, the store unchanged', async () => {
  const before = storeState();
  const dir = path.join(tmp, 'badzstd');
  const good = zstdCompress(tarWithFile('f', 'x'.repeat(5000)));
  const broken = Buffer.concat([good.subarray(0, 4), Buffer.alloc(64, 0x55)]);
  const layer = putBlob(dir, broken);
  const diffId = `sha256:${createHash('sha256').update(tarWithFile('f', 'x'.repeat(5000))).digest('hex')}`;
  const config = Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', config: {}, rootfs: { type: 'layers', diff_ids: [diffId] } }));
  const configDigest = putBlob(dir, config);
  const manifest = Buffer.from(JSON.stringify({
    schemaVersion: 2, mediaType: 'application/vnd.oci.image.manifest.v1+json',
    config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: configDigest, size: config.length },
    layers: [{ mediaType: ZSTD, digest: layer, size: broken.length }],
  }));
  await pushWritten(reg.base, 'e2e/badzstd', 'v1', dir, { manifestDigest: '', configDigest, manifest, config, layerDigests: [layer] });
  const r = await docker(d.env, ['pull', `${reg.host}/e2e/badzstd:v1`]);
  assert.notEqual(r.code, 0, show(r));
  assert.match(r.stderr, /invalid zstd layer stream/);
  assert.deepEqual(storeState(), before, 'nothing of the failed pull stays');
});

test('docker import, tag, push to berth registry, rmi, pull back, run', async () => {
  const tarFile = await busyboxTar();
  await ok(['import', '--change', 'CMD ["echo","pushed"]', tarFile, 'local/bb:imp']);
  const name = `${reg.host}/e2e/pushed:v1`;
  await ok(['tag', 'local/bb:imp', name]);
  const push = await ok(['push', name]);
  assert.match(push.stdout, /The push refers to repository/);
  assert.match(push.stdout, /v1: digest: sha256:[a-f0-9]{64} size: \d+/);
  const again = await ok(['push', name]);
  assert.match(again.stdout, /Layer already exists/);
  const id = JSON.parse((await ok(['image', 'inspect', name])).stdout)[0].Id;
  await ok(['rmi', name, 'local/bb:imp']);
  await ok(['pull', name]);
  assert.equal(JSON.parse((await ok(['image', 'inspect', name])).stdout)[0].Id, id, 'image id (config digest) survives the round trip');
  assert.equal((await ok(['run', '--rm', '--network', 'none', name])).stdout, 'pushed\n');
  await ok(['rmi', name]);
});

test('pulling back what was pushed, then removing it, leaves the layer tars other images stand on (push, save still work)', async () => {
  const tarFile = await busyboxTar();
  await ok(['import', '--change', 'CMD ["echo","kept"]', tarFile, 'local/bb:keep']);
  await ok(['run', '--name', 'keep-c', '--network', 'none', 'local/bb:keep', 'sh', '-c', 'echo layer > /added']);
  await ok(['commit', 'keep-c', 'local/bb:keep2']);
  await ok(['rm', 'keep-c']);
  const name = `${reg.host}/e2e/keep:v1`;
  await ok(['tag', 'local/bb:keep2', name]);
  await ok(['push', name]);
  // the registry's blobs are berth's uncompressed layer tars: a pull records them as the image's blobs
  await ok(['rmi', name]);
  await ok(['save', '-o', path.join(os.tmpdir(), `keep-${process.pid}.tar`), 'local/bb:keep2']);
  await ok(['rmi', 'local/bb:keep2']);
  await ok(['pull', name]);
  await ok(['rmi', name]);
  // local/bb:keep still stands on the base layer: its tar must still be there
  await ok(['tag', 'local/bb:keep', `${reg.host}/e2e/keep-base:v1`]);
  const push = await ok(['push', `${reg.host}/e2e/keep-base:v1`]);
  assert.match(push.stdout, /v1: digest: sha256:[a-f0-9]{64}/);
  const saved = path.join(os.tmpdir(), `keep-base-${process.pid}.tar`);
  await ok(['save', '-o', saved, 'local/bb:keep']);
  assert.ok(fs.statSync(saved).size > 100_000, 'the saved archive holds the layer');
  fs.rmSync(saved, { force: true });
  fs.rmSync(path.join(os.tmpdir(), `keep-${process.pid}.tar`), { force: true });
  await ok(['rmi', `${reg.host}/e2e/keep-base:v1`, 'local/bb:keep']);
});

test('docker search and berth search against berth registry: names, --limit, filters, Docker\'s errors', async () => {
  const tarFile = await busyboxTar();
  await ok(['import', tarFile, 'local/bb:search']);
  for (const repo of ['tools/searchable-a', 'tools/searchable-b', 'other/unrelated']) {
    await ok(['tag', 'local/bb:search', `${reg.host}/${repo}:v1`]);
    await ok(['push', '-q', `${reg.host}/${repo}:v1`]);
    await ok(['rmi', `${reg.host}/${repo}:v1`]);
  }
  const berthCli = (args: string[]) => berth(d.env, args);
  for (const run of [(a: string[]) => docker(d.env, a), berthCli]) {
    const all = await run(['search', `${reg.host}/searchable`]);
    assert.equal(all.code, 0, show(all));
    const lines = all.stdout.trim().split('\n');
    assert.match(lines[0]!, /^NAME\s+DESCRIPTION\s+STARS\s+OFFICIAL$/);
    assert.deepEqual(lines.slice(1).map((l) => l.split(/\s+/)[0]), ['tools/searchable-a', 'tools/searchable-b']);
    const one = await run(['search', '--limit', '1', '--format', '{{.Name}} {{.StarCount}}', `${reg.host}/searchable`]);
    assert.equal(one.stdout, 'tools/searchable-a 0\n', show(one));
    const official = await run(['search', '-f', 'is-official=true', '--format', '{{.Name}}', `${reg.host}/searchable`]);
    assert.equal(official.stdout, '', show(official));
    const stars = await run(['search', '-f', 'stars=lots', `${reg.host}/x`]);
    assert.notEqual(stars.code, 0);
    assert.match(stars.stderr, /invalid filter 'stars=lots'/, show(stars));
    const limit = await run(['search', '--limit', '101', `${reg.host}/x`]);
    assert.notEqual(limit.code, 0);
    assert.match(limit.stderr, /limit 101 is outside the range of \[1, 100\]/, show(limit));
  }
  const bad = await api(d.socket, 'GET', '/images/search?term=x&filters=' + encodeURIComponent('{"colour":["red"]}'));
  assert.equal(bad.status, 400);
  assert.equal(JSON.parse(bad.body).message, "invalid filter 'colour'");
  await ok(['rmi', 'local/bb:search']);
});
