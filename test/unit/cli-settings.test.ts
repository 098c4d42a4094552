/**
 * The CLI's own settings run in-process against a small fake Engine API: config.json's psFormat /
 * imagesFormat / detachKeys change what `berth` does, and global flags are acted on or refused.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import { main } from '../../src/cli/main.js';

interface Fake { host: string; dir: string; seen: Array<{ method: string; path: string; query: URLSearchParams }>; close(): Promise<void> }

/** Answers a fixed JSON per "METHOD /path"; everything else 404. */
async function fakeDaemon(routes: Record<string, unknown>): Promise<Fake> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-clis-'));
  const sock = path.join(dir, 'api.sock');
  const seen: Fake['seen'] = [];
  const server = http.createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      const u = new URL(req.url!, 'http://x');
      const p = u.pathname.replace(/^\/v1\.\d+/, '');
      seen.push({ method: req.method!, path: p, query: u.searchParams });
      const body = routes[`${req.method} ${p}`];
      res.writeHead(body === undefined ? 404 : 200, { 'Content-Type': 'application/json' });
      res.end(JSON.stringify(body ?? { message: 'page not found' }));
    });
  });
  await new Promise<void>((r) => server.listen(sock, r));
  return {
    host: `unix://${sock}`, dir, seen,
    close: () => new Promise<void>((r) => { server.closeAllConnections(); server.close(() => { fs.rmSync(dir, { recursive: true, force: true }); r(); }); }),
  };
}

export async function runCli(args: string[], env: Record<string, string | undefined>): Promise<{ code: number; out: string; err: string }> {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  const stdin = new PassThrough();
  stdin.end();
  let out = '';
  let err = '';
  stdout.on('data', (c) => { out += c; });
  stderr.on('data', (c) => { err += c; });
  const code = await main(args, { stdout, stderr, stdin, env });
  return { code, out, err };
}

const CONTAINER = { Id: 'c'.repeat(64), Names: ['/web'], Image: 'busybox', Command: 'sh', Created: 0, Ports: [], State: 'running', Status: 'Up', Labels: {} };
const IMAGE = { Id: 'sha256:' + 'a'.repeat(64), RepoTags: ['busybox:latest'], RepoDigests: [], Created: 0, Size: 1, Labels: {} };

test('config.json psFormat and imagesFormat replace the default table; --format and -q still win', async () => {
  const fake = await fakeDaemon({ 'GET /containers/json': [CONTAINER], 'GET /images/json': [IMAGE] });
  const cfg = path.join(fake.dir, 'cfg');
  fs.mkdirSync(cfg);
  fs.writeFileSync(path.join(cfg, 'config.json'), JSON.stringify({ psFormat: 'PS {{.Names}}', imagesFormat: 'IMG {{.Repository}}:{{.Tag}}' }));
  try {
    const env = { BERTH_HOST: fake.host, DOCKER_CONFIG: cfg };
    assert.equal((await runCli(['ps'], env)).out, 'PS web\n');
    assert.equal((await runCli(['images'], env)).out, 'IMG busybox:latest\n');
    assert.equal((await runCli(['ps', '--format', '{{.Image}}'], env)).out, 'busybox\n');
    assert.equal((await runCli(['ps', '-q'], env)).out, 'c'.repeat(12) + '\n');
    assert.equal((await runCli(['images', '-q'], env)).out, 'a'.repeat(12) + '\n');
    // --config names the directory too, over DOCKER_CONFIG
    const other = path.join(fake.dir, 'other');
    fs.mkdirSync(other);
    fs.writeFileSync(path.join(other, 'config.json'), JSON.stringify({ psFormat: 'OTHER {{.Names}}' }));
    assert.equal((await runCli(['--config', other, 'ps'], env)).out, 'OTHER web\n');
    // a broken file is docker's warning, then defaults
    fs.writeFileSync(path.join(other, 'config.json'), '{');
    const broken = await runCli(['--config', other, 'ps'], env);
    assert.equal(broken.code, 0);
    assert.match(broken.err, /^WARNING: Error loading config file/);
    assert.match(broken.out, /^CONTAINER ID/);
  } finally {
    await fake.close();
  }
});

test('config.json detachKeys is sent on attach when --detach-keys is not given', async () => {
  const fake = await fakeDaemon({
    'GET /containers/web/json': { Id: 'web', State: { Running: true }, Config: { Tty: false, OpenStdin: false } },
  });
  const cfg = path.join(fake.dir, 'cfg');
  fs.mkdirSync(cfg);
  fs.writeFileSync(path.join(cfg, 'config.json'), JSON.stringify({ detachKeys: 'ctrl-x,y' }));
  try {
    // the fake answers attach with 404, which ends the command; the query is what matters here
    await runCli(['attach', '--no-stdin', 'web'], { BERTH_HOST: fake.host, DOCKER_CONFIG: cfg });
    await runCli(['attach', '--no-stdin', '--detach-keys', 'ctrl-q', 'web'], { BERTH_HOST: fake.host, DOCKER_CONFIG: cfg });
    const attaches = fake.seen.filter((s) => s.path === '/containers/web/attach');
    assert.deepEqual(attaches.map((a) => a.query.get('detachKeys')), ['ctrl-x,y', 'ctrl-q']);
  } finally {
    await fake.close();
  }
});

test('global flags act or are refused: -l is validated, -D prints debug lines, TLS flags need TLS and a tcp:// host', async () => {
  const fake = await fakeDaemon({ 'GET /containers/json': [] });
  const cfg = path.join(fake.dir, 'cfg');
  try {
    const env = { BERTH_HOST: fake.host, DOCKER_CONFIG: cfg };
    const bad = await runCli(['-l', 'loud', 'ps'], env);
    assert.equal(bad.code, 1);
    assert.equal(bad.err, 'Unable to parse logging level: loud\n');
    assert.equal(fake.seen.length, 0, 'nothing sent with a bad log level');
    const quiet = await runCli(['-l', 'warn', 'ps'], env);
    assert.equal(quiet.code, 0);
    assert.equal(quiet.err, '');
    for (const args of [['-D', 'ps'], ['-l', 'debug', 'ps']]) {
      const dbg = await runCli(args, env);
      assert.equal(dbg.code, 0, dbg.err);
      assert.match(dbg.err, /level=debug msg="GET \/containers\/json/, args.join(' '));
    }
    const noTls = await runCli(['--tlscacert', '/ca.pem', 'ps'], env);
    assert.equal(noTls.code, 1);
    assert.match(noTls.err, /--tlscacert needs --tls or --tlsverify/);
    const unix = await runCli(['--tlsverify', 'ps'], env);
    assert.equal(unix.code, 1);
    assert.match(unix.err, /TLS applies to tcp:\/\/ hosts only/);
    const both = await runCli(['-H', fake.host, '--context', 'x', 'ps'], env);
    assert.equal(both.code, 1);
    assert.match(both.err, /conflicting options: cannot specify both --host and --context/);
    const missing = await runCli(['ps'], { DOCKER_CONFIG: cfg, DOCKER_CONTEXT: 'nope' });
    assert.equal(missing.code, 1);
    assert.match(missing.err, /context "nope" does not exist/);
    assert.equal(fake.seen.length, 3, 'only the ps runs that were not refused reached the daemon');
  } finally {
    await fake.close();
  }
});

test('flags berth cannot honour are refused, not dropped: start --checkpoint, images --tree', async () => {
  const fake = await fakeDaemon({ 'GET /images/json': [] });
  try {
    const env = { BERTH_HOST: fake.host };
    const cp = await runCli(['start', '--checkpoint', 'c1', 'web'], env);
    assert.equal(cp.code, 125);
    assert.match(cp.err, /--checkpoint is not supported/);
    const tree = await runCli(['images', '--tree'], env);
    assert.equal(tree.code, 125);
    assert.match(tree.err, /--tree is not supported/);
    assert.equal(fake.seen.length, 0);
  } finally {
    await fake.close();
  }
});
