// `berth build` as a user runs it (and the same cases through the docker CLI's classic builder):
// the seed Dockerfile, multi-stage, .dockerignore, a fully cached rebuild, one changed file, and the
// ways of giving a context and a Dockerfile (-f outside, -f -, a tar or a Dockerfile on stdin, a URL).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { startDaemon, type Daemon } from '../helpers/daemon.js';
import { berth, docker, show, type CliOptions, type CliResult } from '../helpers/cli.js';
import { busyboxTar } from '../helpers/fixtures.js';

let d: Daemon;
let root: string;
const denv = () => ({ ...d.env, DOCKER_BUILDKIT: '0' });
const bbuild = (args: string[], opts?: CliOptions) => berth(d.env, ['build', ...args], { timeoutMs: 120_000, ...opts });
const dbuild = (args: string[], opts?: CliOptions) => docker(denv(), ['build', ...args], { timeoutMs: 120_000, ...opts });

async function ok(r: Promise<CliResult>): Promise<CliResult> {
  const x = await r;
  assert.equal(x.code, 0, show(x));
  return x;
}
const run = (args: string[]) => ok(berth(d.env, ['run', '--rm', ...args]));

function dir(name: string, files: Record<string, string>): string {
  const p = path.join(root, name);
  for (const [f, body] of Object.entries(files)) {
    fs.mkdirSync(path.dirname(path.join(p, f)), { recursive: true });
    fs.writeFileSync(path.join(p, f), body);
  }
  return p;
}

const SEED = [
  'FROM busybox:local AS builder', 'RUN echo artifact > /art.txt',
  'FROM busybox:local', 'ENV TZ=Asia/Shanghai', 'ADD echo.sh /usr/local/bin/echo.sh', 'RUN chmod +x /usr/local/bin/echo.sh',
  'COPY --from=builder /art.txt /art.txt', 'CMD ["/usr/local/bin/echo.sh"]', '',
].join('\n');

/** Step numbers whose output says " ---> Using cache". */
function cachedSteps(out: string): boolean[] {
  return out.split(/^Step /m).slice(1).map((s) => /^ ---> Using cache$/m.test(s));
}

before(async () => {
  assert.ok(spawnSync('docker', ['--version']).status === 0, 'the docker CLI must be on PATH');
  d = await startDaemon();
  await ok(berth(d.env, ['import', '--change', 'CMD ["sh"]', await busyboxTar(), 'busybox:local'], { timeoutMs: 60_000 }));
  root = fs.mkdtempSync(path.join(os.tmpdir(), 'bt-bbuild-'));
});

after(async () => {
  if (root) fs.rmSync(root, { recursive: true, force: true });
  if (!d) return;
  const leftovers = await d.cleanup();
  if (leftovers.length) console.error(`berth-build: swept leftovers: ${leftovers.join(', ')}`);
});

test('berth build: the seed Dockerfile builds, runs, is fully cached, and one changed file re-runs from its step', async () => {
  const ctx = dir('seed', { Dockerfile: SEED, 'echo.sh': '#!/bin/sh\necho "hello TZ=$TZ"\n' });
  const r = await ok(bbuild(['-t', 'seed:1', '-t', 'seed:one', ctx]));
  assert.match(r.stdout, /^Sending build context to Docker daemon +\d+(\.\d+)?kB\r\r\n/, show(r));
  assert.match(r.stdout, /^Step 1\/8 : FROM busybox:local AS builder$/m);
  assert.match(r.stdout, /^ ---> Running in [0-9a-f]{12}$/m);
  assert.match(r.stdout, /^Successfully built [0-9a-f]{12}\nSuccessfully tagged seed:1\nSuccessfully tagged seed:one\n$/m);
  assert.equal((await run(['seed:one'])).stdout, 'hello TZ=Asia/Shanghai\n');
  assert.equal((await run(['seed:1', 'cat', '/art.txt'])).stdout, 'artifact\n', 'multi-stage: the artifact came from the builder stage');

  const again = await ok(bbuild(['-t', 'seed:1', ctx]));
  assert.doesNotMatch(again.stdout, /Running in/, show(again));
  assert.deepEqual(cachedSteps(again.stdout), [false, true, false, true, true, true, true, true]);
  // the docker CLI's output for the same, fully cached build is the same text
  const viaDocker = await ok(dbuild(['-t', 'seed:1', ctx]));
  const norm = (s: string) => s.replace(/^Sending build context to Docker daemon +[^\r]*/, 'Sending build context');
  assert.equal(norm(again.stdout), norm(viaDocker.stdout));

  fs.writeFileSync(path.join(ctx, 'echo.sh'), '#!/bin/sh\necho "changed TZ=$TZ"\n');
  const c = await ok(bbuild(['-t', 'seed:2', ctx]));
  assert.deepEqual(cachedSteps(c.stdout), [false, true, false, true, false, false, false, false], show(c));
  assert.equal((await run(['seed:2'])).stdout, 'changed TZ=Asia/Shanghai\n');
  assert.equal((await ok(berth(d.env, ['ps', '-aq']))).stdout, '', 'no intermediate container is left');
});

test('.dockerignore is honoured by berth build and by the docker CLI alike', async () => {
  const ctx = dir('ignore', {
    Dockerfile: 'FROM busybox:local\nCOPY . /ctx/\nCMD ["find", "/ctx", "-type", "f"]\n',
    '.dockerignore': '# not sent\nsecret.txt\n/logs\n**/*.tmp\n!keep.tmp\nDockerfile\n.dockerignore\n',
    'app.txt': 'a', 'secret.txt': 's', 'logs/x.log': 'l', 'sub/deep/y.tmp': 't', 'keep.tmp': 'k', 'sub/z.txt': 'z',
  });
  const want = ['/ctx/app.txt', '/ctx/keep.tmp', '/ctx/sub/z.txt'];
  for (const [tool, b] of [['berth', bbuild], ['docker', dbuild]] as const) {
    await ok(b(['--no-cache', '-t', `ign:${tool}`, ctx]));
    const files = (await run([`ign:${tool}`])).stdout.trim().split('\n').sort();
    assert.deepEqual(files, want, `${tool}: the Dockerfile and .dockerignore are sent but dropped from the context`);
  }
});

test('-f outside the context, -f - and a context on stdin (tar or a bare Dockerfile), -q and --iidfile', async () => {
  const ctx = dir('ctx', { 'data.txt': 'from-context\n' });
  const outside = path.join(root, 'elsewhere.Dockerfile');
  fs.writeFileSync(outside, 'FROM busybox:local\nCOPY data.txt /\nCMD ["cat", "/data.txt"]\n');
  await ok(bbuild(['-t', 'f:outside', '-f', outside, ctx]));
  assert.equal((await run(['f:outside'])).stdout, 'from-context\n');
  assert.equal((await run(['f:outside', 'sh', '-c', 'ls -a / | grep -c dockerfile || true'])).stdout, '0\n');

  const q = await ok(bbuild(['-q', '-t', 'f:stdin', '--iidfile', path.join(root, 'iid'), '-f', '-', ctx], { input: 'FROM busybox:local\nCOPY . /c/\nCMD ["ls", "-A", "/c"]\n' }));
  assert.match(q.stdout, /^sha256:[0-9a-f]{64}\n$/, show(q));
  assert.equal(fs.readFileSync(path.join(root, 'iid'), 'utf8'), q.stdout);
  assert.equal((await run(['f:stdin'])).stdout, 'data.txt\n', 'the generated Dockerfile name is not in the context');

  fs.writeFileSync(path.join(ctx, 'Dockerfile'), 'FROM busybox:local\nCOPY data.txt /from-tar.txt\n');
  const tarball = spawnSync('tar', ['-C', ctx, '-c', '.']).stdout;
  await ok(bbuild(['-t', 'f:tar', '-'], { input: tarball }));
  assert.equal((await run(['f:tar', 'cat', '/from-tar.txt'])).stdout, 'from-context\n');
  await ok(bbuild(['-t', 'f:bare', '-'], { input: 'FROM busybox:local\nLABEL bare=1\n' }));
  assert.match((await ok(berth(d.env, ['inspect', '-f', '{{.Config.Labels}}', 'f:bare']))).stdout, /bare:1/);

  const both = await bbuild(['-f', '-', '-'], { input: 'FROM busybox:local\n' });
  assert.equal(both.code, 1);
  assert.equal(both.stderr, "invalid argument: can't use stdin for both build context and dockerfile\n");
  const missing = await bbuild([path.join(root, 'nope')]);
  assert.equal(missing.code, 1);
  assert.match(missing.stderr, /^unable to prepare context: path ".*nope" not found\n$/);
});

test('a URL to a tar as the context; --build-arg, --target, --label and --no-cache reach the build', async () => {
  const ctx = dir('url', {
    Dockerfile: 'FROM busybox:local AS base\nARG V=1\nRUN echo "v=$V" > /v\nFROM base AS prod\nLABEL stage=prod\nFROM busybox:local AS unused\nRUN exit 9\n',
  });
  const tarball = spawnSync('tar', ['-C', ctx, '-c', '.']).stdout;
  const srv = http.createServer((req, res) => {
    if (req.url === '/ctx.tar') { res.writeHead(200, { 'Content-Length': tarball.length }); res.end(tarball); } else { res.writeHead(404); res.end('no such file'); }
  });
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${(srv.address() as AddressInfo).port}`;
  try {
    const r = await ok(bbuild(['--target', 'prod', '--build-arg', 'V=2', '--label', 'by=test', '-t', 'app:2', `${url}/ctx.tar`]));
    assert.match(r.stdout, new RegExp(`^Downloading build context from remote url: ${url}/ctx.tar \\[=+>\\] +\\d+(\\.\\d+)?kB/\\d+(\\.\\d+)?kB\\r`), show(r));
    assert.equal((await run(['app:2', 'cat', '/v'])).stdout, 'v=2\n');
    const labels = JSON.parse((await ok(berth(d.env, ['inspect', '-f', '{{json .Config.Labels}}', 'app:2']))).stdout) as Record<string, string>;
    assert.deepEqual(labels, { by: 'test', stage: 'prod' });
    const nc = await ok(bbuild(['--no-cache', '--target', 'prod', '--build-arg', 'V=2', `${url}/ctx.tar`]));
    assert.doesNotMatch(nc.stdout, /Using cache/);
    const gone = await bbuild([`${url}/missing.tar`]);
    assert.equal(gone.code, 1);
    assert.match(gone.stderr, /^unable to download remote context .*missing\.tar: failed to GET .* with status 404 Not Found: no such file\n$/);
  } finally {
    srv.close();
  }
});

test('flags berth cannot honour are refused with one line, not dropped', async () => {
  const ctx = dir('refuse', { Dockerfile: 'FROM busybox:local\n' });
  const arm = await bbuild(['--platform', 'linux/arm64', ctx]);
  assert.notEqual(arm.code, 0);
  assert.match(arm.stderr, /^Error response from daemon: .*linux\/arm64.*\n$/);
  const tag = await bbuild(['-t', 'Bad:tag', ctx]);
  assert.equal(tag.code, 125);
  assert.match(tag.stderr, /invalid argument "Bad:tag" for "-t, --tag" flag: invalid reference format: repository name \(library\/Bad\) must be lowercase\n/);
});
