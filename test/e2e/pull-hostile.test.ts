// docker pull (the real CLI) into a private berthd from a registry that misbehaves on cue
// (test/helpers/hostile-registry.ts, loopback only): a connection cut mid-blob (resumed with Range), the
// client killed mid-pull (the pull is cancelled and its partial download removed), a missing blob, a
// truncated one, a wrong layer media type, and a decompression bomb against a data root on a small tmpfs.
// Every failure leaves the store as it was. Stalls and read time-outs: test/unit/pull-retry.test.ts.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import zlib from 'node:zlib';
import tarStream from 'tar-stream';
import { startDaemon, storeContents, waitFor, type Daemon } from '../helpers/daemon.js';
import { docker, show, spawnCli, type CliResult } from '../helpers/cli.js';
import { busyboxTar } from '../helpers/fixtures.js';
import { tarWithFile } from '../helpers/oci-layout.js';
import { hostileImage, startHostileRegistry, type BlobMisbehaviour, type HostileRegistry } from '../helpers/hostile-registry.js';

let d: Daemon;
let reg: HostileRegistry;
let bb: Buffer;
const sha = (b: Buffer) => `sha256:${createHash('sha256').update(b).digest('hex')}`;

const storeState = (daemon = d) => storeContents(daemon.dataRoot);

async function ok(args: string[]): Promise<CliResult> {
  const r = await docker(d.env, args);
  assert.equal(r.code, 0, `docker ${args.join(' ')} failed: ${show(r)}\n${d.logTail()}`);
  return r;
}

/** busybox + a marker layer, the busybox layer (gzip) misbehaving as told; returns the pull name. */
function runnable(repo: string, marker: string, how?: BlobMisbehaviour, mediaType?: string): { name: string; bbDigest: string } {
  const gz = zlib.gzipSync(bb, { level: 1 });
  const bbDigest = reg.blob(gz, how);
  const m = tarWithFile('marker', marker);
  const mgz = zlib.gzipSync(m);
  hostileImage(reg, repo, 'v1', [
    { digest: bbDigest, size: gz.length, diffId: sha(bb), ...(mediaType ? { mediaType } : {}) },
    { digest: reg.blob(mgz), size: mgz.length, diffId: sha(m) },
  ], ['cat', '/marker']);
  return { name: `${reg.host}/${repo}:v1`, bbDigest };
}

before(async () => {
  bb = fs.readFileSync(await busyboxTar());
  reg = await startHostileRegistry();
  d = await startDaemon({ args: ['-b', 'none'] });
});

after(async () => {
  await reg?.stop();
  if (d) await d.cleanup();
});

test('a connection cut mid-layer: docker pull retries after 5 s, asks for the rest with Range, and the image runs', async () => {
  const half = Math.floor(zlib.gzipSync(bb, { level: 1 }).length / 2);
  const { name, bbDigest } = runnable('h/resume', 'resumed\n', { kind: 'cut', times: 1, at: half });
  const r = await ok(['pull', name]);
  assert.match(r.stdout, /Retrying in 5 seconds/);
  const gets = reg.requests.filter((q) => q.path.endsWith(bbDigest));
  assert.equal(gets.length, 2);
  assert.match(gets[1]!.range ?? '', /^bytes=[1-9]\d*-$/);
  assert.equal((await ok(['run', '--rm', '--network', 'none', name])).stdout, 'resumed\n');
  await ok(['rmi', name]);
  assert.deepEqual(storeState().ingest, []);
});

test('the docker CLI killed mid-pull: berthd cancels the download and removes the partial blob', async () => {
  const before = storeState();
  const { name } = runnable('h/cancel', 'never\n', { kind: 'stall', after: 200_000 });
  const child = spawnCli('docker', d.env, ['pull', name]);
  const ingest = path.join(d.dataRoot, 'content', 'ingest');
  // the partial download is on disk and the registry holds the stalled response open
  assert.ok(await waitFor(() => reg.stalled() > 0 && fs.readdirSync(ingest).length > 0, 15_000), 'the download started');
  child.kill('SIGKILL');
  assert.ok(await waitFor(() => reg.stalled() === 0 && fs.readdirSync(ingest).length === 0, 10_000),
    `cancelled: stalled=${reg.stalled()} ingest=${fs.readdirSync(ingest).join(',')}\n${d.logTail()}`);
  assert.deepEqual(storeState(), before);
  await ok(['version']);
});

test('a manifest naming a missing blob, a truncated blob, a wrong layer media type: clear errors, the store unchanged', async () => {
  const before = storeState();
  const missing = runnable('h/missing', 'x\n', { kind: 'missing' });
  const r1 = await docker(d.env, ['pull', missing.name]);
  assert.notEqual(r1.code, 0, show(r1));
  assert.match(r1.stderr, /blob unknown to registry/);
  assert.deepEqual(storeState(), before);

  const short = runnable('h/short', 'x\n', { kind: 'short', bytes: 1000 });
  const r2 = await docker(d.env, ['pull', short.name]);
  assert.notEqual(r2.code, 0, show(r2));
  assert.match(r2.stderr, /the registry sent 1000 of its \d+ bytes \(truncated blob\)/);
  assert.deepEqual(storeState(), before);

  const wrong = runnable('h/wrongtype', 'x\n', undefined, 'application/vnd.example.not-a-layer');
  const r3 = await docker(d.env, ['pull', wrong.name]);
  assert.notEqual(r3.code, 0, show(r3));
  assert.match(r3.stderr, /unsupported layer media type "application\/vnd\.example\.not-a-layer"/);
  assert.deepEqual(storeState(), before);
});

/** A gzip layer of one file of `size` zero bytes (a few hundred KiB for hundreds of MiB). */
async function zeroBomb(size: number): Promise<{ gz: Buffer; diffId: string }> {
  const pack = tarStream.pack();
  const gzip = zlib.createGzip({ level: 9 });
  const hash = createHash('sha256');
  const out: Buffer[] = [];
  pack.on('data', (c: unknown) => { hash.update(c as Buffer); });
  gzip.on('data', (c: Buffer) => out.push(c));
  const done = new Promise<void>((resolve, reject) => { gzip.on('end', () => resolve()); gzip.on('error', reject); });
  (pack as unknown as NodeJS.ReadableStream).pipe(gzip);
  const entry = pack.entry({ name: 'bomb', size }) as unknown as NodeJS.WritableStream;
  const zero = Buffer.alloc(1024 * 1024);
  for (let left = size; left > 0; left -= zero.length) {
    if (!entry.write(left >= zero.length ? zero : zero.subarray(0, left))) await new Promise((r) => entry.once('drain', r));
  }
  entry.end();
  pack.finalize();
  await done;
  return { gz: Buffer.concat(out), diffId: `sha256:${hash.digest('hex')}` };
}

test('a decompression bomb (a 600 KiB gzip of 640 MiB) on a 256 MiB layer store: refused when free space runs low, nothing left', { timeout: 120_000 }, async () => {
  const small = await startDaemon({ args: ['-b', 'none'] });
  // the layer store on a small filesystem of its own (the blobs stay on the host's disk)
  const layers = path.join(small.dataRoot, 'layers');
  execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=256m,mode=0700', 'tmpfs', layers]);
  try {
    fs.mkdirSync(path.join(layers, 'empty', 'diff'), { recursive: true, mode: 0o755 });
    const { gz, diffId } = await zeroBomb(640 * 1024 * 1024);
    assert.ok(gz.length < 1024 * 1024);
    hostileImage(reg, 'h/bomb', 'v1', [{ digest: reg.blob(gz), size: gz.length, diffId }]);
    const before = storeState(small);
    const freeBefore = fs.statfsSync(layers).bavail;
    const r = await docker(small.env, ['pull', `${reg.host}/h/bomb:v1`]);
    assert.notEqual(r.code, 0, show(r));
    assert.match(r.stderr, /layer refused after \d+ bytes unpacked: less than 64 MiB left free .*decompression bomb/);
    assert.deepEqual(storeState(small), before, 'no blob, no half layer');
    const freeAfter = fs.statfsSync(layers).bavail;
    assert.ok(Math.abs(freeAfter - freeBefore) * fs.statfsSync(layers).bsize < 4 * 1024 * 1024, `space given back: ${freeBefore} → ${freeAfter} blocks`);
    assert.equal((await docker(small.env, ['version'])).code, 0);
  } finally {
    execFileSync('umount', ['-l', layers]);
    await small.cleanup();
  }
});
