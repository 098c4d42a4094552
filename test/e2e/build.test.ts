// POST /build through the real docker CLI's classic builder (DOCKER_BUILDKIT=0) against a private berthd.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startDaemon, type Daemon } from '../helpers/daemon.js';
import { docker, show, type CliOptions, type CliResult } from '../helpers/cli.js';
import { busyboxTar } from '../helpers/fixtures.js';

let d: Daemon;
let ctx: string;
const env = () => ({ ...d.env, DOCKER_BUILDKIT: '0' });
const build = (args: string[], opts?: CliOptions) => docker(env(), ['build', ...args], { timeoutMs: 120_000, ...opts });

async function ok(args: string[], opts?: CliOptions): Promise<CliResult> {
  const r = await docker(env(), args, opts);
  assert.equal(r.code, 0, `docker ${args.join(' ')} failed: ${show(r)}`);
  return r;
}

before(async () => {
  assert.ok(spawnSync('docker', ['--version']).status === 0, 'the docker CLI must be on PATH');
  d = await startDaemon();
  await ok(['import', '--change', 'CMD ["sh"]', await busyboxTar(), 'busybox:local'], { timeoutMs: 60_000 });
  ctx = fs.mkdtempSync(path.join(os.tmpdir(), 'bt-build-'));
  fs.writeFileSync(path.join(ctx, 'echo.sh'), '#!/bin/sh\necho "hello TZ=$TZ"\n');
  fs.writeFileSync(path.join(ctx, 'Dockerfile'), [
    'FROM busybox:local AS builder', 'RUN echo artifact > /art.txt',
    'FROM busybox:local', 'ENV TZ=Asia/Shanghai', 'ADD echo.sh /usr/local/bin/echo.sh', 'RUN chmod +x /usr/local/bin/echo.sh',
    'COPY --from=builder /art.txt /art.txt', 'CMD ["/usr/local/bin/echo.sh"]', '',
  ].join('\n'));
});

after(async () => {
  if (ctx) fs.rmSync(ctx, { recursive: true, force: true });
  if (!d) return;
  const leftovers = await d.cleanup();
  if (leftovers.length) console.error(`build: swept leftovers: ${leftovers.join(', ')}`);
});

test('the seed Dockerfile builds with the classic builder stream and runs; multi-stage COPY --from works', async () => {
  const r = await build(['-t', 'seed:1', ctx]);
  assert.equal(r.code, 0, show(r));
  assert.match(r.stdout, /^Step 1\/8 : FROM busybox:local AS builder$/m, show(r));
  assert.match(r.stdout, /^ ---> Running in [0-9a-f]{12}$/m);
  assert.match(r.stdout, /^Successfully built [0-9a-f]{12}$/m);
  assert.match(r.stdout, /^Successfully tagged seed:1$/m);
  assert.equal((await ok(['run', '--rm', 'seed:1'])).stdout, 'hello TZ=Asia/Shanghai\n');
  assert.equal((await ok(['run', '--rm', 'seed:1', 'cat', '/art.txt'])).stdout, 'artifact\n');
  assert.equal((await ok(['ps', '-aq'])).stdout, '', 'no intermediate container is left');
});

test('a second build is fully cached; changing one copied file re-runs from that step only', async () => {
  const r = await build(['-t', 'seed:1', ctx]);
  assert.equal(r.code, 0, show(r));
  assert.doesNotMatch(r.stdout, /Running in/, `everything from cache: ${show(r)}`);
  assert.equal(r.stdout.match(/Using cache/g)?.length, 6, show(r));
  // only the mtime changes: Docker leaves modification times out of COPY/ADD's cache checksum
  const later = new Date(Date.now() + 3_600_000);
  fs.utimesSync(path.join(ctx, 'echo.sh'), later, later);
  const t = await build(['-t', 'seed:1', ctx]);
  assert.equal(t.code, 0, show(t));
  assert.doesNotMatch(t.stdout, /Running in/, `a touched file still hits the cache: ${show(t)}`);
  fs.writeFileSync(path.join(ctx, 'echo.sh'), '#!/bin/sh\necho "changed TZ=$TZ"\n');
  const c = await build(['-t', 'seed:2', ctx]);
  assert.equal(c.code, 0, show(c));
  const steps = c.stdout.split(/^Step /m).slice(1);
  const cachedStep = (i: number) => /Using cache/.test(steps[i]!);
  assert.deepEqual(steps.map((_, i) => cachedStep(i)), [false, true, false, true, false, false, false, false], show(c));
  assert.equal((await ok(['run', '--rm', 'seed:2'])).stdout, 'changed TZ=Asia/Shanghai\n');
});

test('a failing RUN stops the build with its output and exit code and leaves no container behind', async () => {
  fs.writeFileSync(path.join(ctx, 'Dockerfile.fail'), 'FROM busybox:local\nRUN echo before-fail && exit 3\nRUN echo never\n');
  const images = (await ok(['images', '-a', '-q'])).stdout;
  const r = await build(['-f', path.join(ctx, 'Dockerfile.fail'), ctx]);
  assert.equal(r.code, 3, show(r));
  assert.match(r.stdout, /before-fail/);
  assert.match(r.stderr, /returned a non-zero code: 3/, show(r));
  assert.doesNotMatch(r.stdout, /never/);
  assert.equal((await ok(['ps', '-aq'])).stdout, '');
  assert.equal((await ok(['images', '-a', '-q'])).stdout, images, 'no new image from a failed step');
});

test('bad input: a missing COPY source, an unknown instruction, squash', async () => {
  fs.writeFileSync(path.join(ctx, 'Dockerfile.bad'), 'FROM busybox:local\nCOPY nope.txt /\n');
  const r = await build(['-f', path.join(ctx, 'Dockerfile.bad'), ctx]);
  assert.notEqual(r.code, 0);
  assert.match(r.stderr, /file not found in build context/, show(r));
  fs.writeFileSync(path.join(ctx, 'Dockerfile.bad'), 'FROM busybox:local\nFOO bar\n');
  const u = await build(['-f', path.join(ctx, 'Dockerfile.bad'), ctx]);
  assert.notEqual(u.code, 0);
  assert.match(u.stderr, /unknown instruction: FOO/i, show(u));
  assert.equal((await ok(['ps', '-aq'])).stdout, '');
});
