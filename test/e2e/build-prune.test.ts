// `docker builder prune` and `berth builder prune` (POST /build/prune) against berthd: the step images only the cache keeps go
// with their entries, -a drops every entry so each step runs again, and tagged images survive.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { api, startDaemon, type Daemon } from '../helpers/daemon.js';
import { berth, docker, show, type CliResult } from '../helpers/cli.js';
import { busyboxTar } from '../helpers/fixtures.js';
import { humanSize, humanSizeWithPrecision } from '../../src/core/human.js';

let d: Daemon;
let root: string;
const env = () => ({ ...d.env, DOCKER_BUILDKIT: '0' });

async function ok(r: Promise<CliResult>): Promise<CliResult> {
  const x = await r;
  assert.equal(x.code, 0, show(x));
  return x;
}

before(async () => {
  d = await startDaemon();
  await ok(berth(d.env, ['import', '--change', 'CMD ["sh"]', await busyboxTar(), 'busybox:local'], { timeoutMs: 60_000 }));
  root = fs.mkdtempSync(path.join(os.tmpdir(), 'bt-bprune-'));
  fs.writeFileSync(path.join(root, 'Dockerfile'), [
    'FROM busybox:local AS tool', 'RUN head -c 200000 /dev/urandom > /junk && echo tool-ran',
    'FROM busybox:local', 'RUN echo final-ran | tee /final', '',
  ].join('\n'));
});

after(async () => {
  if (root) fs.rmSync(root, { recursive: true, force: true });
  if (!d) return;
  const leftovers = await d.cleanup();
  if (leftovers.length) console.error(`build-prune: swept leftovers: ${leftovers.join(', ')}`);
});

const build = () => ok(docker(env(), ['build', '-t', 'pr:1', root], { timeoutMs: 120_000 }));
// The tool stage built alone and untagged: its RUN image is kept by the cache only.
const tool = () => ok(docker(env(), ['build', '--target', 'tool', root], { timeoutMs: 120_000 }));
const ran = (r: CliResult, what: string) => new RegExp(`^${what}$`, 'm').test(r.stdout);

test('builder prune removes what only the cache keeps; -a makes every step run again; filters are checked', async () => {
  assert.ok(ran(await tool(), 'tool-ran'));
  assert.ok(ran(await build(), 'final-ran'));
  assert.ok(!ran(await tool(), 'tool-ran'), 'cached');

  const none = await ok(docker(d.env, ['builder', 'prune', '-f', '--filter', 'until=24h']));
  assert.match(none.stdout, /^Total reclaimed space: 0B$/m, 'nothing is a day old');
  const bad = await docker(d.env, ['builder', 'prune', '-f', '--filter', 'type=regular']);
  assert.notEqual(bad.code, 0);
  assert.match(bad.stderr, /invalid filter 'type'/, show(bad));

  // The tool's RUN image (untagged, no child) and its entry go, and its layer with /junk in it.
  const p1 = await ok(docker(d.env, ['builder', 'prune', '-f']));
  assert.match(p1.stdout, /^Deleted build cache objects:\n[0-9a-f]{64}\n\nTotal reclaimed space: (19\d|20\d)kB$/m, show(p1));
  assert.ok(ran(await tool(), 'tool-ran'), 'the pruned step runs again');
  const kept = await build();
  assert.ok(!ran(kept, 'final-ran'), `the tagged image's steps are still cached: ${show(kept)}`);
  // berth builder prune: the same request and the docker CLI's output.
  const p2 = await ok(berth(d.env, ['builder', 'prune', '-f']));
  assert.match(p2.stdout, /^Deleted build cache objects:\n[0-9a-f]{64}\n\nTotal reclaimed space: (19\d|20\d)kB\n$/, show(p2));
  assert.equal((await ok(berth(d.env, ['builder', 'prune', '-f', '--filter', 'until=24h']))).stdout, 'Total reclaimed space: 0B\n');

  await ok(docker(d.env, ['builder', 'prune', '-a', '-f']));
  const all = await build();
  assert.ok(ran(all, 'final-ran'), show(all));
  assert.doesNotMatch(all.stdout, /Using cache/, show(all));
  assert.equal((await ok(berth(d.env, ['run', '--rm', 'pr:1', 'cat', '/final']))).stdout, 'final-ran\n', 'the tagged image survives');
});

const normalized = (s: string) => s.replace(/(Less than a second|About a minute|\d+ seconds?|\d+ minutes)( ago)?/g, 'T').replace(/ {2,}/g, '  ');
const df = async (version = '1.45') => JSON.parse((await api(d.socket, 'GET', `/v${version}/system/df?type=build-cache`)).body);
const summary = async () => (await ok(docker(d.env, ['system', 'df']))).stdout.split('\n').find((l) => l.startsWith('Build Cache'))!;

test('system df lists the step cache: sizes, in use, shared; its reclaimable is what builder prune frees', async () => {
  await ok(docker(d.env, ['builder', 'prune', '-a', '-f']));
  await tool();
  await build();
  const { BuildCache: recs } = await df();
  assert.equal(recs.length, 2, JSON.stringify(recs));
  for (const r of recs) {
    assert.deepEqual(Object.keys(r), ['ID', 'Type', 'Description', 'InUse', 'Shared', 'Size', 'CreatedAt', 'LastUsedAt', 'UsageCount'], 'moby CacheRecord order');
    assert.match(r.ID, /^[0-9a-f]{64}$/);
    assert.equal(r.Type, 'regular');
  }
  const junk = recs.find((r: any) => r.Description.includes('/junk'));
  const fin = recs.find((r: any) => r.Description.includes('final-ran'));
  assert.ok(junk && fin, JSON.stringify(recs));
  assert.ok(junk.Size > 190_000 && junk.Size < 210_000, `the tool step's layer: ${junk.Size}`);
  assert.deepEqual([junk.InUse, junk.Shared, fin.InUse, fin.Shared], [false, false, false, true], 'the tagged image keeps its step: shared');
  assert.ok(!Number.isNaN(Date.parse(junk.CreatedAt)) && !Number.isNaN(Date.parse(junk.LastUsedAt)));
  assert.equal(junk.UsageCount, 1);
  await tool();
  assert.equal((await df()).BuildCache.find((r: any) => r.ID === junk.ID).UsageCount, 2, 'a cache hit counts as a use');

  const re = (x: string) => x.replace('.', '\\.');
  const size = re(humanSize(junk.Size));
  assert.match(await summary(), new RegExp(`^Build Cache +2 +0 +${size} +${size}$`));
  const v = await ok(docker(d.env, ['system', 'df', '-v']));
  assert.match(v.stdout, new RegExp(`\nBuild cache usage: ${size}\n\nCACHE ID +CACHE TYPE +SIZE +CREATED +LAST USED +USAGE +SHARED\n`), v.stdout);
  assert.match(v.stdout, new RegExp(`\n${junk.ID.slice(0, 12)} +regular +${re(humanSizeWithPrecision(junk.Size, 3))} +.* ago +.* ago +2 +false\n`), v.stdout);
  assert.equal(normalized((await ok(berth(d.env, ['system', 'df', '-v']))).stdout), normalized(v.stdout));
  for (const args of [['system', 'df'], ['system', 'df', '--format', 'json'],
    ['system', 'df', '-v', '--format', '{{range .BuildCache}}{{.ID}} {{.Parent}} {{.CacheType}} {{.Size}} {{.UsageCount}} {{.InUse}} {{.Shared}} {{.Description}}|{{end}}']]) {
    assert.equal(normalized((await ok(berth(d.env, args))).stdout), normalized((await ok(docker(d.env, args))).stdout), args.join(' '));
  }

  // A container on the tool's image keeps its step: in use, nothing reclaimable, and prune frees nothing.
  const img = (await ok(docker(env(), ['build', '-q', '--target', 'tool', root]))).stdout.trim();
  const c = (await ok(docker(d.env, ['create', img, 'true']))).stdout.trim();
  assert.deepEqual((await df()).BuildCache.find((r: any) => r.ID === junk.ID).InUse, true);
  assert.match(await summary(), new RegExp(`^Build Cache +2 +1 +${size} +0B$`));
  assert.match((await ok(docker(d.env, ['system', 'df', '-v']))).stdout, new RegExp(`\n${junk.ID.slice(0, 12)}\\* +regular`));
  assert.match((await ok(docker(d.env, ['builder', 'prune', '-f']))).stdout, /^Total reclaimed space: 0B$/m);
  await ok(docker(d.env, ['rm', c]));

  // API 1.41: the deprecated BuilderSize, and no Parents.
  const old = await df('1.41');
  assert.equal(old.BuilderSize, recs.reduce((n: number, r: any) => n + r.Size, 0));
  assert.ok(old.BuildCache.every((r: any) => !('Parents' in r)));

  const before = (await summary()).split(/ {2,}/)[4];
  const p = await ok(docker(d.env, ['builder', 'prune', '-f']));
  assert.match(p.stdout, new RegExp(`^Total reclaimed space: ${before}$`, 'm'), `df said ${before} reclaimable: ${p.stdout}`);
  const after = (await df()).BuildCache;
  assert.deepEqual(after.map((r: any) => r.ID), [fin.ID], 'the tagged image\'s step stays');
  assert.match(await summary(), /^Build Cache +1 +0 +0B +0B$/);
});
