// docker save / docker load (the real CLI) and berth save / berth load against a private berthd: several
// images (imported, committed, pulled) round-trip through one archive; archives in the layouts docker
// itself writes (legacy <id>/layer.tar, OCI-only) load; a tampered archive is refused with the store intact.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import type * as tarTypes from 'tar-stream';
import { startDaemon, storeListing, type Daemon } from '../helpers/daemon.js';
import { berth, berthBin, docker, runCli, show, type CliResult } from '../helpers/cli.js';
import { busyboxTar } from '../helpers/fixtures.js';
import { tarWithFile, writeLayout } from '../helpers/oci-layout.js';
import { pushWritten, startRegistry, type TestRegistry } from '../helpers/registry.js';

const tar = createRequire(import.meta.url)('tar-stream') as typeof tarTypes;
const sha = (b: Buffer) => `sha256:${createHash('sha256').update(b).digest('hex')}`;

let d: Daemon;
let reg: TestRegistry;
let tmp: string;
let bb: Buffer;

async function ok(args: string[]): Promise<CliResult> {
  const r = await docker(d.env, args, { timeoutMs: 120_000 });
  assert.equal(r.code, 0, `docker ${args.join(' ')} failed: ${show(r)}\n${d.logTail()}`);
  return r;
}

interface Entry { name: string; body?: Buffer; type?: 'file' | 'symlink' | 'directory'; linkname?: string }

async function packTar(entries: Entry[]): Promise<Buffer> {
  const pack = tar.pack();
  const chunks: Buffer[] = [];
  pack.on('data', (c: unknown) => { chunks.push(c as Buffer); });
  const done = new Promise<void>((resolve, reject) => { pack.on('end', resolve); pack.on('error', reject); });
  for (const e of entries) {
    await new Promise<void>((resolve, reject) => {
      const cb = (err?: Error | null) => (err ? reject(err) : resolve());
      if (e.type === 'symlink') pack.entry({ name: e.name, type: 'symlink', linkname: e.linkname! }, cb);
      else if (e.type === 'directory') pack.entry({ name: e.name, type: 'directory' }, cb);
      else pack.entry({ name: e.name, size: e.body!.length }, e.body!, cb);
    });
  }
  pack.finalize();
  await done;
  return Buffer.concat(chunks);
}

async function readTar(buf: Buffer): Promise<Map<string, Buffer>> {
  const ex = tar.extract();
  const out = new Map<string, Buffer>();
  ex.end(buf);
  for await (const e of ex) {
    const chunks: Buffer[] = [];
    for await (const c of e) chunks.push(c as Buffer);
    out.set(e.header.name, Buffer.concat(chunks));
  }
  return out;
}

const storeState = () => storeListing(d.dataRoot);

const inspectId = async (ref: string) => JSON.parse((await ok(['image', 'inspect', ref])).stdout)[0].Id as string;

before(async () => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-saveload-'));
  bb = fs.readFileSync(await busyboxTar());
  reg = await startRegistry(path.join(tmp, 'reg'));
  d = await startDaemon({ args: ['-b', 'none'] });
});

after(async () => {
  reg?.stop();
  if (d) await d.cleanup();
  fs.rmSync(tmp, { recursive: true, force: true });
});

test('docker save of several images (imported, committed, pulled) → rmi → docker load round-trips them', async () => {
  const bbFile = path.join(tmp, 'bb.tar');
  fs.writeFileSync(bbFile, bb);
  await ok(['import', '--change', 'CMD ["sh"]', bbFile, 'e2e/base:one']);
  await ok(['tag', 'e2e/base:one', 'e2e/base:two']);
  await ok(['run', '--name', 'mk', '--network', 'none', 'e2e/base:one', 'sh', '-c', 'echo committed > /marker']);
  await ok(['commit', '--change', 'CMD ["cat", "/marker"]', 'mk', 'e2e/committed:latest']);
  await ok(['rm', 'mk']);
  // A pulled image keeps only the registry's gzip blobs: save makes its layer tars from them.
  const layoutDir = path.join(tmp, 'layout');
  const [img] = writeLayout(layoutDir, [{ layers: [bb, tarWithFile('marker', 'pulled\n')], cmd: ['cat', '/marker'] }]);
  await pushWritten(reg.base, 'e2e/pulled', 'v1', layoutDir, img!);
  const pulled = `${reg.host}/e2e/pulled:v1`;
  await ok(['pull', pulled]);

  const ids = {
    base: await inspectId('e2e/base:one'), committed: await inspectId('e2e/committed:latest'), pulled: await inspectId(pulled),
  };
  assert.equal(ids.pulled, img!.configDigest);
  const archive = path.join(tmp, 'all.tar');
  // A repository name alone saves all its tags.
  await ok(['save', '-o', archive, 'e2e/base', 'e2e/committed:latest', pulled]);

  const files = await readTar(fs.readFileSync(archive));
  for (const f of ['manifest.json', 'index.json', 'oci-layout', 'repositories']) assert.ok(files.has(f), `archive lacks ${f}: ${[...files.keys()].join(' ')}`);
  const manifest = JSON.parse(files.get('manifest.json')!.toString()) as { Config: string; RepoTags: string[]; Layers: string[] }[];
  assert.deepEqual(manifest.map((m) => [...m.RepoTags].sort()), [['e2e/base:one', 'e2e/base:two'], ['e2e/committed:latest'], [pulled]]);
  // Every blob is named by its digest, layers are the uncompressed tars (digest = diffID).
  for (const [name, body] of files) {
    if (name.startsWith('blobs/sha256/') && body.length) assert.equal(sha(body), `sha256:${name.slice(13)}`, name);
  }
  assert.equal(manifest[2]!.Config, `blobs/sha256/${img!.configDigest.slice(7)}`);
  assert.equal(manifest[2]!.Layers[1], `blobs/sha256/${sha(tarWithFile('marker', 'pulled\n')).slice(7)}`);
  const index = JSON.parse(files.get('index.json')!.toString()) as { manifests: { annotations?: Record<string, string> }[] };
  assert.deepEqual(index.manifests.map((m) => m.annotations?.['org.opencontainers.image.ref.name']), ['one', 'two', 'latest', 'v1']);
  assert.deepEqual(Object.keys(JSON.parse(files.get('repositories')!.toString())).sort(), [`${reg.host}/e2e/pulled`, 'e2e/base', 'e2e/committed']);

  await ok(['rmi', 'e2e/base:one', 'e2e/base:two', 'e2e/committed:latest', pulled]);
  assert.equal((await ok(['images', '-q'])).stdout.trim(), '');

  const load = await ok(['load', '-i', archive]);
  assert.equal(load.stdout, 'Loaded image: e2e/base:one\nLoaded image: e2e/base:two\nLoaded image: e2e/committed:latest\n'
    + `Loaded image: ${pulled}\n`);
  assert.equal(await inspectId('e2e/base:two'), ids.base);
  assert.equal(await inspectId('e2e/committed:latest'), ids.committed);
  assert.equal(await inspectId(pulled), ids.pulled);
  assert.equal((await ok(['run', '--rm', '--network', 'none', 'e2e/committed:latest'])).stdout, 'committed\n');
  assert.equal((await ok(['run', '--rm', '--network', 'none', pulled])).stdout, 'pulled\n');

  // Loading the same archive again is a no-op that says the same.
  const again = await ok(['load', '-i', archive]);
  assert.match(again.stdout, /Loaded image: e2e\/base:one/);
  assert.deepEqual(storeState().tmp, []);
});

test('berth save to stdout and berth load from stdin (-q); an untagged image loads as "Loaded image ID"', async () => {
  const file = path.join(tmp, 'berth.tar');
  const s = await runCli('sh', d.env, ['-c', `'${berthBin}' save e2e/committed:latest > '${file}'`]);
  assert.equal(s.code, 0, show(s));
  const byId = path.join(tmp, 'byid.tar');
  const id = await inspectId('e2e/committed:latest');
  assert.equal((await berth(d.env, ['save', '-o', byId, id])).code, 0);
  await ok(['rmi', 'e2e/committed:latest']);

  const l = await runCli('sh', d.env, ['-c', `'${berthBin}' load -q < '${file}'`]);
  assert.equal(l.code, 0, show(l));
  assert.equal(l.stdout, 'Loaded image: e2e/committed:latest\n');
  assert.equal(await inspectId('e2e/committed:latest'), id);

  const u = await berth(d.env, ['load', '-i', byId]);
  assert.equal(u.code, 0, show(u));
  assert.equal(u.stdout, `Loaded image ID: ${id}\n`);

  const tty = await berth(d.env, ['save', 'nosuch:img', '-o', path.join(tmp, 'x.tar')]);
  assert.equal(tty.code, 1);
  assert.match(tty.stderr, /reference does not exist|No such image/);
  assert.ok(!fs.existsSync(path.join(tmp, 'x.tar')));
});

test('archives in the layouts docker writes load: legacy <id>/layer.tar with a symlinked layer, and OCI-only', async () => {
  const l1 = tarWithFile('a', 'A\n');
  const l2 = tarWithFile('marker', 'legacy\n');
  const diffIds = [sha(bb), sha(l1), sha(l2), sha(l1)];
  const config = Buffer.from(JSON.stringify({
    architecture: 'amd64', os: 'linux', created: '2026-12-01T00:00:00Z',
    config: { Cmd: ['cat', '/marker', '/a'], Env: ['PATH=/usr/bin:/bin'] },
    rootfs: { type: 'layers', diff_ids: diffIds },
  }));
  const cfgHex = sha(config).slice(7);
  const v1 = ['1', '2', '3', '4'].map((c) => c.repeat(64));
  const archive = await packTar([
    { name: `${v1[0]}/`, type: 'directory' }, { name: `${v1[0]}/VERSION`, body: Buffer.from('1.0') }, { name: `${v1[0]}/layer.tar`, body: bb },
    { name: `${v1[1]}/layer.tar`, body: l1 }, { name: `${v1[2]}/layer.tar`, body: l2 },
    // docker < 25 stored a layer that recurs once, with a symlink for the repeat
    { name: `${v1[3]}/layer.tar`, type: 'symlink', linkname: `../${v1[1]}/layer.tar` },
    { name: `${cfgHex}.json`, body: config },
    { name: 'manifest.json', body: Buffer.from(JSON.stringify([{ Config: `${cfgHex}.json`, RepoTags: ['e2e/legacy:1'], Layers: v1.map((v) => `${v}/layer.tar`) }])) },
    { name: 'repositories', body: Buffer.from(JSON.stringify({ 'e2e/legacy': { 1: v1[3] } })) },
  ]);
  const r = await docker(d.env, ['load'], { input: archive, timeoutMs: 60_000 });
  assert.equal(r.code, 0, show(r));
  assert.equal(r.stdout, 'Loaded image: e2e/legacy:1\n');
  assert.equal(await inspectId('e2e/legacy:1'), `sha256:${cfgHex}`);
  assert.equal((await ok(['run', '--rm', '--network', 'none', 'e2e/legacy:1'])).stdout, 'legacy\nA\n');

  // An OCI image layout alone (gzip layers), named by containerd's annotation.
  const dir = path.join(tmp, 'oci-only');
  const [img] = writeLayout(dir, [{ layers: [bb, tarWithFile('marker', 'oci\n')], cmd: ['cat', '/marker'] }]);
  const idx = JSON.parse(fs.readFileSync(path.join(dir, 'index.json'), 'utf8'));
  idx.manifests[0].annotations['io.containerd.image.name'] = 'docker.io/e2e/oci:only';
  const entries: Entry[] = [
    { name: 'oci-layout', body: fs.readFileSync(path.join(dir, 'oci-layout')) },
    { name: 'index.json', body: Buffer.from(JSON.stringify(idx)) },
  ];
  for (const f of fs.readdirSync(path.join(dir, 'blobs', 'sha256'))) entries.push({ name: `blobs/sha256/${f}`, body: fs.readFileSync(path.join(dir, 'blobs', 'sha256', f)) });
  const o = await docker(d.env, ['load'], { input: await packTar(entries), timeoutMs: 60_000 });
  assert.equal(o.code, 0, show(o));
  assert.equal(o.stdout, 'Loaded image: e2e/oci:only\n');
  assert.equal(await inspectId('e2e/oci:only'), img!.configDigest);
  assert.equal((await ok(['run', '--rm', '--network', 'none', 'e2e/oci:only'])).stdout, 'oci\n');
});

test('a tampered archive is refused and the store is left as it was', async () => {
  const layer = tarWithFile('secret', 'original content\n');
  const config = Buffer.from(JSON.stringify({
    architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [sha(bb), sha(layer)] }, config: { Cmd: ['sh'] },
  }));
  const good = (l: Buffer, name = `blobs/sha256/${sha(layer).slice(7)}`) => packTar([
    { name: `blobs/sha256/${sha(bb).slice(7)}`, body: bb },
    { name, body: l },
    { name: `blobs/sha256/${sha(config).slice(7)}`, body: config },
    { name: 'manifest.json', body: Buffer.from(JSON.stringify([{ Config: `blobs/sha256/${sha(config).slice(7)}`, RepoTags: ['e2e/tampered:1'], Layers: [`blobs/sha256/${sha(bb).slice(7)}`, name] }])) },
  ]);
  // The busybox layer is already in the store (earlier tests): remove every image so it has to be unpacked.
  const all = (await ok(['images', '-q'])).stdout.split('\n').filter(Boolean);
  if (all.length) await ok(['rmi', '-f', ...new Set(all)]);
  const before = storeState();
  const tampered = Buffer.from(layer);
  tampered[tampered.indexOf('original')] = 'O'.charCodeAt(0);

  const r1 = await docker(d.env, ['load'], { input: await good(tampered), timeoutMs: 60_000 });
  assert.equal(r1.code, 1, show(r1));
  assert.match(r1.stderr, /digest mismatch/);
  assert.deepEqual(storeState(), before);

  // Under a name that carries no digest, the diffID check refuses it while unpacking.
  const r2 = await docker(d.env, ['load'], { input: await good(tampered, 'layer2/layer.tar'), timeoutMs: 60_000 });
  assert.equal(r2.code, 1, show(r2));
  assert.match(r2.stderr, /diffID mismatch/);
  assert.deepEqual(storeState(), before);

  const r3 = await berth(d.env, ['load'], { input: Buffer.from('not a tar at all') });
  assert.notEqual(r3.code, 0);
  assert.deepEqual(storeState(), before);

  const r4 = await docker(d.env, ['load'], { input: await packTar([{ name: 'x', body: Buffer.from('y') }]) });
  assert.equal(r4.code, 1);
  assert.match(r4.stderr, /does not contain a manifest.json/);

  // The untampered archive then loads.
  const r5 = await docker(d.env, ['load'], { input: await good(layer), timeoutMs: 60_000 });
  assert.equal(r5.code, 0, show(r5));
  assert.equal((await ok(['run', '--rm', '--network', 'none', 'e2e/tampered:1', 'cat', '/secret'])).stdout, 'original content\n');
});
