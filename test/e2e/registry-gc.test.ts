// berth registry garbage-collect: two images sharing a layer, one deleted; the collector refuses to run beside a
// writable server, --dry-run deletes nothing, a real run deletes exactly the unshared blobs, --delete-untagged
// drops an untagged manifest but keeps an index's child and a referrer; then the real docker CLI pulls and runs
// the image that is left, through a private berthd, from the read-only server on the collected root.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startDaemon, type Daemon } from '../helpers/daemon.js';
import { berth, docker, show, type CliResult } from '../helpers/cli.js';
import { busyboxTar } from '../helpers/fixtures.js';
import { tarWithFile, writeImageBlobs, type WrittenImage } from '../helpers/oci-layout.js';
import { putManifest, pushWritten, startRegistry, type TestRegistry } from '../helpers/registry.js';

const OCI = 'application/vnd.oci.image.manifest.v1+json';
const INDEX = 'application/vnd.oci.image.index.v1+json';
const sha = (b: Buffer | string) => `sha256:${createHash('sha256').update(b).digest('hex')}`;

let d: Daemon;
let tmp: string;
let root: string;
let dir: string;
let reg: TestRegistry | undefined;
let a: WrittenImage;
let b: WrittenImage;
let c: WrittenImage;
let child: WrittenImage;
let referrer: Buffer;
let index: Buffer;

const blobFile = (dg: string) => path.join(root, 'content', 'blobs', 'sha256', dg.slice(7));
const has = (dg: string) => fs.existsSync(blobFile(dg));
const gc = (...args: string[]) => berth(d.env, ['registry', 'garbage-collect', '--root', root, ...args]);

async function stop(r: TestRegistry): Promise<void> {
  const exited = new Promise((res) => r.proc.once('exit', res));
  r.stop();
  await exited;
}

function ok(r: CliResult, what: string): CliResult {
  assert.equal(r.code, 0, `${what} failed: ${show(r)}`);
  return r;
}

before(async () => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-reggc-'));
  root = path.join(tmp, 'reg');
  dir = path.join(tmp, 'blobs');
  const bb = fs.readFileSync(await busyboxTar());
  a = writeImageBlobs(dir, { layers: [bb, tarWithFile('marker', 'a\n')], cmd: ['cat', '/marker'] });
  b = writeImageBlobs(dir, { layers: [bb, tarWithFile('marker', 'b\n')], cmd: ['cat', '/marker'] });
  c = writeImageBlobs(dir, { layers: [tarWithFile('c', 'only in c\n')], cmd: ['c'] });
  child = writeImageBlobs(dir, { layers: [tarWithFile('child', 'in the index\n')], cmd: ['child'] });
  reg = await startRegistry(root);
  await pushWritten(reg.base, 'gc/app', 'a', dir, a);
  await pushWritten(reg.base, 'gc/app', 'b', dir, b);
  await pushWritten(reg.base, 'gc/app', c.manifestDigest, dir, c);
  await pushWritten(reg.base, 'gc/app', child.manifestDigest, dir, child);
  index = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: INDEX, manifests: [{ mediaType: OCI, digest: child.manifestDigest, size: child.manifest.length, platform: { os: 'linux', architecture: 'amd64' } }] }));
  await putManifest(reg.base, 'gc/app', 'multi', index, INDEX);
  const empty = Buffer.from('{}');
  assert.equal((await fetch(`${reg.base}/v2/gc/app/blobs/uploads/?digest=${sha(empty)}`, { method: 'POST', body: empty })).status, 201);
  referrer = Buffer.from(JSON.stringify({
    schemaVersion: 2, mediaType: OCI, artifactType: 'application/vnd.example.sig',
    config: { mediaType: 'application/vnd.oci.empty.v1+json', digest: sha(empty), size: 2 }, layers: [],
    subject: { mediaType: OCI, digest: b.manifestDigest, size: b.manifest.length },
  }));
  await putManifest(reg.base, 'gc/app', sha(referrer), referrer, OCI);
  d = await startDaemon({ args: ['-b', 'none'] });
});

after(async () => {
  if (reg) await stop(reg);
  if (d) await d.cleanup();
  fs.rmSync(tmp, { recursive: true, force: true });
});

test('garbage-collect: refused beside a writable server, --dry-run, then the unshared blobs of a deleted image go', async () => {
  assert.equal((await fetch(`${reg!.base}/v2/gc/app/manifests/${a.manifestDigest}`, { method: 'DELETE' })).status, 202);
  const refused = await gc();
  assert.notEqual(refused.code, 0, show(refused));
  assert.match(refused.stderr, new RegExp(`berth registry serve \\(pid ${reg!.proc.pid}\\) is running on ${root} and takes writes: stop it or restart it with --read-only`));
  assert.ok(has(a.manifestDigest), 'nothing deleted by a refused run');
  await stop(reg!);
  reg = undefined;
  assert.deepEqual(fs.readdirSync(path.join(root, 'servers')), [], 'a stopped server drops its record');

  const unshared = [a.manifestDigest, a.configDigest, a.layerDigests[1]!];
  const dry = ok(await gc('--dry-run'), 'gc --dry-run');
  for (const dg of unshared) assert.match(dry.stdout, new RegExp(`^blob eligible for deletion: ${dg}$`, 'm'));
  assert.match(dry.stdout, /^gc\/app$/m);
  assert.match(dry.stdout, new RegExp(`^gc/app: marking manifest ${b.manifestDigest} $`, 'm'));
  assert.match(dry.stdout, new RegExp(`^gc/app: marking blob ${b.layerDigests[0]}$`, 'm'));
  assert.match(dry.stdout, /^\d+ blobs marked, 3 blobs and 0 manifests eligible for deletion$/m);
  assert.match(dry.stdout, new RegExp(`^gc/app: layer link eligible for deletion: ${a.configDigest}$`, 'm'));
  for (const dg of unshared) assert.ok(has(dg), `dry run kept ${dg}`);

  const real = ok(await gc(), 'gc');
  assert.equal(real.stdout, dry.stdout, 'the real run reports what the dry run did');
  for (const dg of unshared) assert.ok(!has(dg), `${dg} deleted`);
  for (const dg of [b.manifestDigest, b.configDigest, ...b.layerDigests, c.manifestDigest, ...c.layerDigests, child.manifestDigest, sha(index), sha(referrer)]) {
    assert.ok(has(dg), `${dg} kept`);
  }
  assert.ok(!fs.existsSync(path.join(root, 'repositories', 'gc', 'app', '_layers', 'sha256', a.layerDigests[1]!.slice(7))), 'its layer link went too');
  assert.ok(fs.existsSync(path.join(root, 'repositories', 'gc', 'app', '_layers', 'sha256', a.layerDigests[0]!.slice(7))), 'the shared one stays');
  const again = ok(await gc(), 'gc again');
  assert.match(again.stdout, /^\d+ blobs marked, 0 blobs and 0 manifests eligible for deletion$/m);
  assert.equal(ok(await gc('-q'), 'gc -q').stdout, '');
});

test('garbage-collect --delete-untagged beside a read-only server: untagged manifests go, an index child and a referrer stay; docker pulls what is left', async () => {
  reg = await startRegistry(root, ['--read-only']);
  const out = ok(await gc('--delete-untagged'), 'gc --delete-untagged');
  assert.match(out.stdout, new RegExp(`^manifest eligible for deletion: \\{gc/app ${c.manifestDigest} \\[b multi\\]\\}$`, 'm'));
  assert.match(out.stdout, /^\d+ blobs marked, 3 blobs and 1 manifests eligible for deletion$/m);
  for (const dg of [c.manifestDigest, c.configDigest, c.layerDigests[0]!]) assert.ok(!has(dg), `${dg} deleted`);
  for (const dg of [child.manifestDigest, ...child.layerDigests, sha(index), sha(referrer)]) assert.ok(has(dg), `${dg} kept`);

  assert.equal((await fetch(`${reg.base}/v2/gc/app/manifests/${c.manifestDigest}`)).status, 404);
  assert.equal((await fetch(`${reg.base}/v2/gc/app/manifests/a`)).status, 404);
  const refs = await (await fetch(`${reg.base}/v2/gc/app/referrers/${b.manifestDigest}`)).json() as { manifests: { digest: string }[] };
  assert.deepEqual(refs.manifests.map((m) => m.digest), [sha(referrer)]);

  const name = `${reg.host}/gc/app:b`;
  const pull = await docker(d.env, ['pull', name]);
  assert.equal(pull.code, 0, `${show(pull)}\n${d.logTail()}`);
  const runB = await docker(d.env, ['run', '--rm', '--network', 'none', name]);
  assert.equal(runB.stdout, 'b\n', show(runB));
  assert.equal((await docker(d.env, ['pull', `${reg.host}/gc/app:multi`])).code, 0);
  const gone = await docker(d.env, ['pull', `${reg.host}/gc/app:a`]);
  assert.notEqual(gone.code, 0, show(gone));
});
