// Where COPY/ADD take their owners and sources from, built with the real docker CLI (classic API)
// against berthd: --chown by name from the image's account files, FROM --platform, and ADD from http URLs
// served by a loopback server the test starts.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import { spawnSync } from 'node:child_process';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import zlib from 'node:zlib';
import os from 'node:os';
import path from 'node:path';
import { startDaemon, type Daemon } from '../helpers/daemon.js';
import { berth, docker, show, type CliResult } from '../helpers/cli.js';
import { busyboxTar } from '../helpers/fixtures.js';
import { ptyAvailable, spawnPty } from '../helpers/pty.js';
import { berthBin } from '../helpers/cli.js';

let d: Daemon;
let root: string;
let server: http.Server;
let base: string;
/** `chunks`: the body goes out in that many parts 150 ms apart (a download slow enough to draw progress). */
const served = new Map<string, { body: string | Buffer; headers?: Record<string, string>; status?: number; chunks?: number }>();
const env = () => ({ ...d.env, DOCKER_BUILDKIT: '0' });

async function ok(r: Promise<CliResult>): Promise<CliResult> {
  const x = await r;
  assert.equal(x.code, 0, show(x));
  return x;
}

function context(name: string, lines: string[], files: Record<string, string> = {}): string {
  const p = path.join(root, name);
  fs.mkdirSync(p, { recursive: true });
  fs.writeFileSync(path.join(p, 'Dockerfile'), lines.join('\n') + '\n');
  for (const [f, body] of Object.entries(files)) fs.writeFileSync(path.join(p, f), body);
  return p;
}

const build = (args: string[]) => docker(env(), ['build', ...args], { timeoutMs: 120_000 });
const sh = async (image: string, script: string) => (await ok(berth(d.env, ['run', '--rm', image, 'sh', '-c', script]))).stdout;

before(async () => {
  d = await startDaemon();
  await ok(berth(d.env, ['import', '--change', 'CMD ["sh"]', await busyboxTar(), 'busybox:local'], { timeoutMs: 60_000 }));
  root = fs.mkdtempSync(path.join(os.tmpdir(), 'bt-bsrc-'));
  server = http.createServer((req, res) => {
    const f = served.get(req.url ?? '');
    res.writeHead(f?.status ?? (f ? 200 : 404), f?.headers ?? {});
    if (!f?.chunks) { res.end(f ? f.body : 'nope\n'); return; }
    const body = Buffer.from(f.body);
    const size = Math.ceil(body.length / f.chunks);
    let i = 0;
    const next = () => {
      if (i * size >= body.length) { res.end(); return; }
      res.write(body.subarray(i * size, ++i * size));
      setTimeout(next, 150);
    };
    next();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

after(async () => {
  server?.close();
  if (root) fs.rmSync(root, { recursive: true, force: true });
  if (!d) return;
  const leftovers = await d.cleanup();
  if (leftovers.length) console.error(`build-sources: swept leftovers: ${leftovers.join(', ')}`);
});

test('COPY/ADD --chown by name: resolved from the image\'s /etc/passwd and /etc/group, also from a later layer', async () => {
  const ctx = context('chown', [
    'FROM busybox:local',
    'COPY --chown=app f /f1',
    'COPY --chown=app:nogroup f /f2',
    'ADD --chown=nobody:app f /f3',
    'RUN echo "svc:x:555:556::/:/bin/sh" >> /etc/passwd && echo "svcgrp:x:557:" >> /etc/group',
    'ARG WHO=svc',
    'COPY --chown=${WHO}:svcgrp f /f4',
  ], { f: 'data\n' });
  await ok(build(['-t', 'chown:names', ctx]));
  assert.equal(await sh('chown:names', 'stat -c "%u:%g %n" /f1 /f2 /f3 /f4'), '1000:1000 /f1\n1000:65534 /f2\n65534:1000 /f3\n555:557 /f4\n');
});

test('an unknown --chown name fails the build in the classic builder\'s words', async () => {
  for (const [spec, message] of [
    ['bob', "can't find uid for user bob: no such user: bob"],
    ['nobody', "can't find gid for group nobody: no such group: nobody"],
    ['root:staff', "can't find gid for group staff: no such group: staff"],
  ]) {
    const ctx = context(`bad-${spec.replace(':', '-')}`, ['FROM busybox:local', `COPY --chown=${spec} f /f`], { f: 'x' });
    const r = await build([ctx]);
    assert.notEqual(r.code, 0, show(r));
    assert.ok(r.stderr.includes(message), show(r));
  }
  const scratch = context('bad-scratch', ['FROM scratch', 'COPY --chown=app f /f'], { f: 'x' });
  const r = await build([scratch]);
  assert.notEqual(r.code, 0, show(r));
  assert.match(r.stderr, /can't find uid for user app: open \/etc\/passwd: no such file or directory/, show(r));
});

test('FROM --platform and the platform args: honoured where the store has the platform, refused otherwise', async () => {
  const r0 = await docker(d.env, ['import', '--platform', 'linux/arm64', '--change', 'CMD ["sh"]', await busyboxTar(), 'bb:arm64'], { timeoutMs: 60_000 });
  assert.equal(r0.code, 0, show(r0));
  const ctx = context('platform', [
    'ARG BASE=busybox:local',
    'FROM --platform=$BUILDPLATFORM $BASE AS tools',
    'ARG BUILDPLATFORM',
    'ARG TARGETARCH',
    'ARG BASE',
    'RUN echo "$BUILDPLATFORM $TARGETARCH [$TARGETOS] $BASE" > /out',
    'FROM --platform=linux/arm64 scratch AS empty',
    'COPY f /f',
    'FROM --platform=linux/arm64 bb:arm64',
    'COPY --from=tools /out /out',
    'COPY --from=empty /f /f',
  ], { f: 'x' });
  await ok(build(['-t', 'plat:arm', '--platform', 'linux/amd64', ctx]));
  const arch = await ok(docker(d.env, ['image', 'inspect', '-f', '{{.Os}}/{{.Architecture}}', 'plat:arm']));
  assert.equal(arch.stdout.trim(), 'linux/arm64');
  const out = await ok(berth(d.env, ['create', '--name', 'plat-c', 'plat:arm']));
  assert.equal(out.code, 0);
  const cp = await ok(docker(d.env, ['cp', 'plat-c:/out', '-']));
  assert.match(cp.stdout, /linux\/amd64 amd64 \[\] busybox:local\n/, 'BUILDPLATFORM, TARGETARCH and the meta ARG where declared; TARGETOS not declared');
  await ok(berth(d.env, ['rm', 'plat-c']));
  const ctx2 = context('platform-empty', ['FROM --platform=linux/arm64 scratch', 'COPY f /f'], { f: 'x' });
  await ok(build(['-t', 'plat:scratch', ctx2]));
  assert.equal((await ok(docker(d.env, ['image', 'inspect', '-f', '{{.Architecture}}', 'plat:scratch']))).stdout.trim(), 'arm64');

  const bad = context('platform-bad', ['FROM --platform=linux/arm64 busybox:local', 'RUN true']);
  const r = await build([bad]);
  assert.notEqual(r.code, 0, show(r));
  assert.match(r.stderr, /image with reference busybox:local was found but does not match the specified platform: wanted linux\/arm64, actual: linux\/amd64/, show(r));
  const bad2 = context('platform-bad2', ['FROM bb:arm64', 'RUN true']);
  const r2 = await build(['--platform', 'linux/amd64', bad2]);
  assert.notEqual(r2.code, 0, show(r2));
  assert.match(r2.stderr, /image with reference bb:arm64 was found but does not match the specified platform: wanted linux\/amd64, actual: linux\/arm64/, show(r2));
});

test('ADD from an http URL: name from the path or Content-Disposition, mode 0600, Last-Modified mtime, --checksum, no unpacking', async () => {
  const lastModified = 'Wed, 21 Oct 2015 07:28:00 GMT';
  served.set('/files/hello.txt', { body: 'hello\n', headers: { 'Last-Modified': lastModified } });
  served.set('/files/plain', { body: 'plain\n' });
  served.set('/named/', { body: 'named\n', headers: { 'Content-Disposition': 'attachment; filename="from-header.txt"' } });
  // gzip magic: a local ADD would unpack this; a downloaded one stays a file.
  served.set('/files/a.tar.gz', { body: zlib.gzipSync(fs.readFileSync(await busyboxTar()).subarray(0, 10240)) });
  const sum = `sha256:${createHash('sha256').update('hello\n').digest('hex')}`;
  const ctx = context('url', [
    'FROM busybox:local',
    `ADD ${base}/files/hello.txt /dl/`,
    `ADD --chown=app ${base}/files/plain /plain`,
    `ADD ${base}/named/ /dl/`,
    `ARG SUM=${sum}`,
    `ADD --checksum=$SUM ${base}/files/hello.txt /checked`,
    `ADD ${base}/files/a.tar.gz /dl/`,
  ]);
  const r = await ok(build(['-t', 'url:1', ctx]));
  assert.match(r.stdout, /Successfully tagged url:1/);
  assert.equal(await sh('url:1', 'cd / && stat -c "%a %u:%g %Y %n" dl/hello.txt plain dl/from-header.txt checked dl/a.tar.gz && cat dl/hello.txt plain dl/from-header.txt'),
    `600 0:0 1445412480 dl/hello.txt\n600 1000:1000 0 plain\n600 0:0 0 dl/from-header.txt\n600 0:0 1445412480 checked\n600 0:0 0 dl/a.tar.gz\nhello\nplain\nnamed\n`);

  // The same bytes and headers: the step is cached; a changed body re-runs it.
  const again = await ok(build(['-t', 'url:1', ctx]));
  assert.equal((again.stdout.match(/Using cache/g) ?? []).length, 6, show(again));
  // A new Last-Modified over the same bytes: still cached (the classic builder keys a download on its content).
  served.set('/files/hello.txt', { body: 'hello\n', headers: { 'Last-Modified': 'Thu, 01 Jan 2015 00:00:00 GMT' } });
  const touched = await ok(build(['-t', 'url:1', ctx]));
  assert.equal((touched.stdout.match(/Using cache/g) ?? []).length, 6, show(touched));
  assert.match(await sh('url:1', 'stat -c %Y /dl/hello.txt'), /^1445412480$/m, 'the cached image keeps its mtime');
  served.set('/files/plain', { body: 'changed\n' });
  await ok(build(['-t', 'url:2', ctx]));
  assert.equal(await sh('url:2', 'cat /plain'), 'changed\n');
});

test('ADD URL errors: an HTTP error status, a wrong --checksum, COPY of a URL, --checksum on a local file', async () => {
  const cases: [string[], RegExp][] = [
    [[`ADD ${base}/missing.txt /x`], new RegExp(`failed to GET ${base}/missing.txt with status 404 Not Found: nope`)],
    [[`ADD --checksum=sha256:${'0'.repeat(64)} ${base}/files/hello.txt /x`], new RegExp(`digest mismatch sha256:[0-9a-f]{64}: sha256:${'0'.repeat(64)}`)],
    [[`COPY ${base}/files/hello.txt /x`], /source can't be a URL for COPY/],
    [[`ADD --checksum=sha256:${'0'.repeat(64)} f /x`], /checksum can't be specified for non-HTTP\(S\) sources/],
  ];
  for (const [i, [lines, re]] of cases.entries()) {
    const ctx = context(`url-bad-${i}`, ['FROM busybox:local', ...lines], { f: 'x' });
    const r = await build([ctx]);
    assert.notEqual(r.code, 0, show(r));
    assert.match(r.stderr, re, show(r));
  }
});

/** POST /build with a directory as the tar context; the JSON messages of the response. */
async function rawBuild(dir: string, query = ''): Promise<Record<string, any>[]> {
  const tarball = spawnSync('tar', ['-C', dir, '-cf', '-', '.'], { maxBuffer: 1 << 26 });
  assert.equal(tarball.status, 0, String(tarball.stderr));
  const text = await new Promise<string>((resolve, reject) => {
    const req = http.request({ socketPath: d.socket, method: 'POST', path: `/v1.45/build${query}`, headers: { 'Content-Type': 'application/x-tar' } }, (res) => {
      let t = '';
      res.setEncoding('utf8').on('data', (c: string) => { t += c; }).on('end', () => resolve(t));
    });
    req.on('error', reject);
    req.end(tarball.stdout);
  });
  return text.split('\r\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, any>);
}

test('ADD from a URL sends the classic builder\'s "Downloading" progress (and berth build draws it on a terminal)', async () => {
  const big = Buffer.alloc(4_000_000, 'x');
  served.set('/big.bin', { body: big, headers: { 'Content-Length': String(big.length) }, chunks: 4 });
  const ctx = context('url-progress', ['FROM busybox:local', `ADD ${base}/big.bin /big.bin`, 'RUN wc -c < /big.bin']);
  const msgs = await rawBuild(ctx, '?nocache=1');
  const at = msgs.findIndex((m) => m.stream?.startsWith('Step 2/3 : ADD'));
  const prog: Record<string, any>[] = [];
  let i = at + 1;
  for (; msgs[i]?.status === 'Downloading'; i++) prog.push(msgs[i]!);
  assert.ok(prog.length >= 3, `progress lines as the download goes: ${JSON.stringify(msgs)}`);
  for (const m of prog) {
    assert.deepEqual(Object.keys(m), ['status', 'progressDetail', 'progress'], 'no id: moby omits an empty one');
    assert.equal(m.progressDetail.total, 4_000_000);
  }
  assert.ok(prog.some((m) => m.progressDetail.current > 0 && m.progressDetail.current < 4_000_000), JSON.stringify(prog));
  assert.deepEqual(prog.at(-1), { status: 'Downloading', progressDetail: { current: 4_000_000, total: 4_000_000 }, progress: `[${'='.repeat(50)}>]      4MB/4MB` });
  assert.deepEqual(msgs[i], { stream: '\n' }, 'the classic builder\'s blank line after the download');
  assert.ok(msgs.some((m) => m.stream === '4000000\n'), 'the file arrived whole');
  const quiet = await rawBuild(ctx, '?nocache=1&q=1');
  assert.ok(!quiet.some((m) => m.status === 'Downloading'), `-q sends no progress: ${JSON.stringify(quiet)}`);

  // The docker CLI 28 draws no progress for a classic build (checked against a stub daemon: it draws pull's),
  // so its plain output has the blank line only; berth build draws the bar on a terminal, as older docker CLIs did.
  const plain = await ok(build(['--no-cache', '-t', 'url:big', ctx]));
  assert.doesNotMatch(plain.stdout, /Downloading/);
  assert.match(plain.stdout, /Step 2\/3 : ADD \S+ \/big.bin\n\n ---> [0-9a-f]{12}\n/, show(plain));
  const plainBerth = await ok(berth(env(), ['build', '--no-cache', '-t', 'url:big', ctx]));
  assert.doesNotMatch(plainBerth.stdout, /Downloading/, 'not on a terminal: left out');
  if (!ptyAvailable()) return;
  const p = spawnPty([berthBin, 'build', '--no-cache', '-t', 'url:big', ctx], { rows: 40, cols: 160, env: env() });
  assert.equal((await p.exited).code, 0, p.output);
  const drawn = p.output.split(/\r|\n/).map((l) => l.replace(/\x1b\[[0-9;]*[A-Za-z]/g, '')).filter((l) => l.startsWith('Downloading'));
  assert.match(drawn.at(-1) ?? '', /^Downloading \[={50}>\] +4MB\/4MB$/, JSON.stringify(p.output));
});
