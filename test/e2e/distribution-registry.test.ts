// berthd against Debian's docker-registry (github.com/docker/distribution), the registry most private
// "warehouses" run: on loopback, without and with htpasswd auth, through the real docker CLI (login, tag,
// push, rmi, pull, run) and berth login.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import net, { type AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import bcrypt from 'bcryptjs';
import { startDaemon, waitFor, type Daemon } from '../helpers/daemon.js';
import { berth, docker, show, type CliEnv, type CliResult } from '../helpers/cli.js';
import { busyboxTar } from '../helpers/fixtures.js';
import { startRegistry } from '../helpers/registry.js';

const BIN = '/usr/bin/docker-registry';
let d: Daemon;
let tmp: string;
const procs: ChildProcess[] = [];

async function freePort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', () => r()));
  const port = (s.address() as AddressInfo).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

/** docker-registry serve CONFIG on a free loopback port, ready once /v2/ answers (200 or 401). */
async function startDistribution(name: string, auth: boolean, logs?: { text: string }): Promise<string> {
  const port = await freePort();
  const dir = path.join(tmp, name);
  fs.mkdirSync(dir, { recursive: true });
  const authYaml = auth ? `auth:\n  htpasswd:\n    realm: e2e\n    path: ${path.join(tmp, 'htpasswd')}\n` : '';
  fs.writeFileSync(path.join(dir, 'config.yml'), `version: 0.1
log:
  level: ${logs ? 'info' : 'warn'}
storage:
  filesystem:
    rootdirectory: ${path.join(dir, 'data')}
http:
  addr: 127.0.0.1:${port}
${authYaml}`);
  const p = spawn(BIN, ['serve', path.join(dir, 'config.yml')], { stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  p.stderr!.on('data', (c: Buffer) => { err += c.toString(); if (logs) logs.text += c.toString(); });
  procs.push(p);
  await waitFor(async () => {
    if (p.exitCode !== null) throw new Error(`docker-registry exited: ${err}`);
    const r = await fetch(`http://127.0.0.1:${port}/v2/`).catch(() => undefined);
    return r && (r.status === 200 || r.status === 401) ? true : undefined;
  }, 15_000);
  return `127.0.0.1:${port}`;
}

async function ok(run: Promise<CliResult>, what: string): Promise<CliResult> {
  const r = await run;
  assert.equal(r.code, 0, `${what} failed: ${show(r)}\n${d.logTail()}`);
  return r;
}

function cliEnv(name: string): { dir: string; env: CliEnv } {
  const dir = path.join(tmp, `cfg-${name}`);
  fs.mkdirSync(dir, { recursive: true });
  return { dir, env: { ...d.env, DOCKER_CONFIG: dir } };
}

/** tag, push, rmi, pull, run, rmi: the walk-through a user does. */
async function roundTrip(env: CliEnv, name: string): Promise<void> {
  await ok(docker(env, ['tag', 'local/bb:dist', name]), 'tag');
  const push = await ok(docker(env, ['push', name]), 'push');
  assert.match(push.stdout, /: digest: sha256:[a-f0-9]{64} size: \d+/);
  const id = JSON.parse((await ok(docker(env, ['image', 'inspect', name]), 'inspect')).stdout)[0].Id;
  await ok(docker(env, ['rmi', name]), 'rmi');
  const pull = await ok(docker(env, ['pull', name]), 'pull');
  // local/bb:dist keeps the image (and its layer), so the pull fetches the manifest and config only.
  assert.match(pull.stdout, new RegExp(`Digest: sha256:[a-f0-9]{64}\nStatus: (Downloaded newer image|Image is up to date) for ${name.replace(/\./g, '\\.')}`));
  assert.equal(JSON.parse((await ok(docker(env, ['image', 'inspect', name]), 'inspect')).stdout)[0].Id, id, 'the config digest survives');
  assert.equal((await ok(docker(env, ['run', '--rm', '--network', 'none', name]), 'run')).stdout, 'distribution\n');
  await ok(docker(env, ['rmi', name]), 'rmi');
}

before(async () => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-distreg-'));
  fs.writeFileSync(path.join(tmp, 'htpasswd'), `alice:${bcrypt.hashSync('s3cret', 6).replace(/^\$2b\$/, '$2y$')}\n`);
  d = await startDaemon({ args: ['-b', 'none'] });
  await ok(docker(cliEnv('setup').env, ['import', '--change', 'CMD ["echo","distribution"]', await busyboxTar(), 'local/bb:dist']), 'import');
});

after(async () => {
  for (const p of procs) p.kill('SIGTERM');
  if (d) await d.cleanup();
  fs.rmSync(tmp, { recursive: true, force: true });
});

test('docker-registry without auth: docker tag, push, rmi, pull, run', { skip: !fs.existsSync(BIN) && 'docker-registry is not installed' }, async () => {
  const host = await startDistribution('open', false);
  await roundTrip(cliEnv('open').env, `${host}/e2e/open:v1`);
  // distribution has no v1 search API: docker search says so in moby's words
  const s = await docker(cliEnv('open').env, ['search', `${host}/e2e`]);
  assert.notEqual(s.code, 0, show(s));
  assert.match(s.stderr, /unexpected status code 404/, show(s));
});

test('docker-registry with htpasswd: refused without login, docker login then the walk-through, berth login too', { skip: !fs.existsSync(BIN) && 'docker-registry is not installed' }, async () => {
  const host = await startDistribution('auth', true);
  const { env } = cliEnv('auth');
  await ok(docker(env, ['tag', 'local/bb:dist', `${host}/e2e/auth:v0`]), 'tag');
  const anon = await docker(env, ['push', `${host}/e2e/auth:v0`]);
  assert.notEqual(anon.code, 0, show(anon));
  assert.match(anon.stdout + anon.stderr, /no basic auth credentials/);
  await ok(docker(env, ['rmi', `${host}/e2e/auth:v0`]), 'rmi');

  const wrong = await docker(env, ['login', host, '-u', 'alice', '-p', 'nope']);
  assert.equal(wrong.code, 1, show(wrong));
  assert.match(wrong.stderr, new RegExp(`login attempt to http://${host}/v2/ failed with status: 401 Unauthorized`));
  assert.match((await ok(docker(env, ['login', host, '-u', 'alice', '--password-stdin'], { input: 's3cret\n' }), 'login')).stdout, /Login Succeeded/);
  await roundTrip(env, `${host}/e2e/auth:v1`);
  await ok(docker(env, ['logout', host]), 'logout');

  // berth login stores what the docker CLI then sends.
  const b = cliEnv('auth-berth');
  assert.match((await ok(berth(b.env, ['login', host, '-u', 'alice', '--password-stdin'], { input: 's3cret\n' }), 'berth login')).stdout, /Login Succeeded/);
  await roundTrip(b.env, `${host}/e2e/berth:v1`);
});

test('push to docker-registry: blobs it has are skipped, blobs another repository has are mounted, the rest go up as PATCH + PUT', { skip: !fs.existsSync(BIN) && 'docker-registry is not installed' }, async () => {
  const logs = { text: '' };
  const host = await startDistribution('complete', false, logs);
  const { env } = cliEnv('complete');
  await ok(docker(env, ['tag', 'local/bb:dist', `${host}/e2e/a:v1`]), 'tag');
  const first = await ok(docker(env, ['push', `${host}/e2e/a:v1`]), 'push');
  assert.match(first.stdout, /: Pushed\n/);
  // docker's upload: the body in a PATCH, the digest in a body-less PUT
  assert.match(logs.text, /http\.request\.method=PATCH[^\n]*http\.request\.uri="\/v2\/e2e\/a\/blobs\/uploads\//);
  const again = await ok(docker(env, ['push', `${host}/e2e/a:v1`]), 'push again');
  assert.match(again.stdout, /: Layer already exists\n/);
  assert.doesNotMatch(again.stdout, /Pushed/);
  // After the push the image has e2e/a's digest (as dockerd records it), so pushing it elsewhere mounts.
  const insp = JSON.parse((await ok(docker(env, ['image', 'inspect', 'local/bb:dist']), 'inspect')).stdout)[0];
  assert.ok(insp.RepoDigests.some((r: string) => r.startsWith(`${host}/e2e/a@sha256:`)), insp.RepoDigests.join(','));
  await ok(docker(env, ['tag', 'local/bb:dist', `${host}/e2e/b:v1`]), 'tag');
  const mounted = await ok(docker(env, ['push', `${host}/e2e/b:v1`]), 'push b');
  assert.match(mounted.stdout, /: Mounted from e2e\/a\n/);
  assert.doesNotMatch(mounted.stdout, /: Pushed\n/);
  assert.match(logs.text, /http\.request\.method=POST[^\n]*http\.request\.uri="\/v2\/e2e\/b\/blobs\/uploads\/\?mount=sha256%3A[a-f0-9]{64}&from=e2e%2Fa"/);
  await ok(docker(env, ['rmi', `${host}/e2e/a:v1`, `${host}/e2e/b:v1`]), 'rmi');
  await ok(docker(env, ['pull', `${host}/e2e/b:v1`]), 'pull b');
  assert.equal((await ok(docker(env, ['run', '--rm', '--network', 'none', `${host}/e2e/b:v1`]), 'run')).stdout, 'distribution\n');
  await ok(docker(env, ['rmi', `${host}/e2e/b:v1`]), 'rmi');
});

/** A proxy to 127.0.0.1:upPort that answers 413 to any request body over `limit` bytes; it counts PATCH sizes and refusals. */
async function limitProxy(upPort: number, limit: number): Promise<{ host: string; patches: number[]; refused: () => number; close(): Promise<void> }> {
  const patches: number[] = [];
  let refused = 0;
  const proxy = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      if (body.length > limit) { refused++; res.writeHead(413, { 'Content-Type': 'text/html' }); res.end('<html>413 Request Entity Too Large</html>'); return; }
      if (req.method === 'PATCH') patches.push(body.length);
      const up = http.request({ host: '127.0.0.1', port: upPort, method: req.method, path: req.url, headers: req.headers }, (ur) => {
        res.writeHead(ur.statusCode!, ur.headers);
        ur.pipe(res);
      });
      up.on('error', () => res.destroy());
      up.end(body);
    });
  });
  await new Promise<void>((r) => proxy.listen(0, '127.0.0.1', () => r()));
  return {
    host: `127.0.0.1:${(proxy.address() as AddressInfo).port}`, patches, refused: () => refused,
    close: () => new Promise<void>((r) => proxy.close(() => r())),
  };
}

/** Push through a 256 KiB-limit proxy to `upstream`: chunks, and each blob upstream is byte for byte the layer. */
async function chunkedPush(upstream: string, what: string): Promise<void> {
  const proxy = await limitProxy(Number(upstream.split(':')[1]), 256 * 1024);
  try {
    const { env } = cliEnv(`chunked-${what}`);
    const name = `${proxy.host}/e2e/chunked:v1`;
    await ok(docker(env, ['tag', 'local/bb:dist', name]), 'tag');
    assert.match((await ok(docker(env, ['push', name]), 'push')).stdout, /: Pushed\n/);
    assert.ok(proxy.refused() >= 1, 'the layer did not exceed the limit: the test proves nothing');
    assert.ok(proxy.patches.length > 2 && proxy.patches.every((n) => n <= 256 * 1024), `chunks: ${proxy.patches.join(',')}`);
    await ok(docker(env, ['rmi', name]), 'rmi');
    const man = await (await fetch(`http://${upstream}/v2/e2e/chunked/manifests/v1`, { headers: { Accept: 'application/vnd.oci.image.manifest.v1+json' } })).json() as { layers: { digest: string; size: number }[] };
    for (const l of man.layers) {
      const blob = Buffer.from(await (await fetch(`http://${upstream}/v2/e2e/chunked/blobs/${l.digest}`)).arrayBuffer());
      assert.equal(blob.length, l.size);
      assert.equal(`sha256:${createHash('sha256').update(blob).digest('hex')}`, l.digest);
    }
    const direct = `${upstream}/e2e/chunked:v1`;
    await ok(docker(env, ['pull', direct]), 'pull');
    assert.equal((await ok(docker(env, ['run', '--rm', '--network', 'none', direct]), 'run')).stdout, 'distribution\n');
    await ok(docker(env, ['rmi', direct]), 'rmi');
  } finally { await proxy.close(); }
}

test('push through a proxy that refuses bodies over 256 KiB (413): the blob goes up again in chunks, to docker-registry and to berth registry', { skip: !fs.existsSync(BIN) && 'docker-registry is not installed' }, async () => {
  await chunkedPush(await startDistribution('chunked', false), 'distribution');
  const reg = await startRegistry(path.join(tmp, 'berth-chunked'));
  try { await chunkedPush(reg.host, 'berth'); } finally { reg.stop(); }
});
