// `docker builder prune` and `berth builder prune` (POST /build/prune) against berthd: the step images only the cache keeps go
// with their entries, -a drops every entry so each step runs again, and tagged images survive.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startDaemon, type Daemon } from '../helpers/daemon.js';
import { berth, docker, show, type CliResult } from '../helpers/cli.js';
import { busyboxTar } from '../helpers/fixtures.js';

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
