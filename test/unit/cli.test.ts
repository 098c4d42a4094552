/**
 * The berth CLI run in-process against a fake Engine API on a temporary unix socket: checks flag
 * parsing, the requests sent, output formatting and exit codes. (Real end-to-end runs against
 * berthd live in test/e2e.)
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import type { Duplex } from 'node:stream';
import { main } from '../../src/cli/main.js';

interface Seen { method: string; path: string; query: URLSearchParams; body: string; headers: http.IncomingHttpHeaders }
type Handler = (req: Seen, res: http.ServerResponse) => void;

interface Fake {
  host: string;
  seen: Seen[];
  close(): Promise<void>;
  onUpgrade?: (req: Seen, socket: Duplex) => void;
}

async function fakeDaemon(routes: Record<string, Handler>): Promise<Fake> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-cli-test-'));
  const sock = path.join(dir, 'api.sock');
  const seen: Seen[] = [];
  const fake: Fake = { host: `unix://${sock}`, seen, close: async () => undefined };
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const u = new URL(req.url!, 'http://x');
      const p = u.pathname.replace(/^\/v1\.\d+/, '');
      const s: Seen = { method: req.method!, path: p, query: u.searchParams, body: Buffer.concat(chunks).toString(), headers: req.headers };
      seen.push(s);
      const h = routes[`${req.method} ${p}`];
      if (!h) {
        res.writeHead(404, { 'Content-Type': 'application/json' });
        res.end(JSON.stringify({ message: `page not found: ${req.method} ${p}` }));
        return;
      }
      h(s, res);
    });
  });
  server.on('upgrade', (req, socket) => {
    const u = new URL(req.url!, 'http://x');
    const s: Seen = { method: req.method!, path: u.pathname.replace(/^\/v1\.\d+/, ''), query: u.searchParams, body: '', headers: req.headers };
    seen.push(s);
    socket.write('HTTP/1.1 101 UPGRADED\r\nContent-Type: application/vnd.docker.multiplexed-stream\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n\r\n');
    fake.onUpgrade?.(s, socket);
  });
  await new Promise<void>((r) => server.listen(sock, r));
  fake.close = () => new Promise<void>((r) => {
    server.closeAllConnections();
    server.close(() => { fs.rmSync(dir, { recursive: true, force: true }); r(); });
  });
  return fake;
}

function json(status: number, body: unknown): Handler {
  return (_req, res) => {
    res.writeHead(status, { 'Content-Type': 'application/json' });
    res.end(body === undefined ? '' : JSON.stringify(body));
  };
}

function frame(stream: number, text: string): Buffer {
  const payload = Buffer.from(text);
  const h = Buffer.alloc(8);
  h[0] = stream;
  h.writeUInt32BE(payload.length, 4);
  return Buffer.concat([h, payload]);
}

async function run(args: string[], host: string, stdinText?: string): Promise<{ code: number; out: string; err: string }> {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  const stdin = new PassThrough();
  let out = '';
  let err = '';
  stdout.on('data', (c) => { out += c; });
  stderr.on('data', (c) => { err += c; });
  if (stdinText !== undefined) stdin.end(stdinText);
  const code = await main(args, { stdout, stderr, stdin, env: { BERTH_HOST: host } });
  return { code, out, err };
}

const nowSec = () => Math.floor(Date.now() / 1000);

test('ps prints docker table columns, truncating ids and commands', async () => {
  const fake = await fakeDaemon({
    'GET /containers/json': json(200, [
      {
        Id: 'a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f9', Names: ['/web'], Image: 'busybox',
        ImageID: 'sha256:ffff', Command: 'sh -c "while true; do sleep 1; done"', Created: nowSec() - 5,
        Ports: [{ IP: '0.0.0.0', PrivatePort: 80, PublicPort: 8080, Type: 'tcp' }], State: 'running', Status: 'Up 4 seconds', Labels: { a: 'x' },
      },
    ]),
  });
  try {
    const r = await run(['ps'], fake.host);
    assert.equal(r.code, 0, r.err);
    const lines = r.out.split('\n');
    assert.equal(lines.length, 3);
    const header = lines[0]!;
    const row = lines[1]!;
    for (const col of ['CONTAINER ID', 'IMAGE', 'COMMAND', 'CREATED', 'STATUS', 'PORTS', 'NAMES']) assert.ok(header.includes(col), col);
    // each column starts at the same offset in header and row (tabwriter alignment, padding 3)
    assert.equal(header.indexOf('IMAGE'), row.indexOf('busybox'));
    assert.equal(header.indexOf('IMAGE'), 'a1b2c3d4e5f6'.length + 3);
    assert.equal(header.indexOf('COMMAND'), row.indexOf('"sh -c'));
    assert.equal(header.indexOf('NAMES'), row.indexOf('web'));
    assert.ok(row.startsWith('a1b2c3d4e5f6   busybox'));
    assert.ok(row.includes('"sh -c \\"while true; …"'), row);
    assert.ok(row.includes('5 seconds ago') || row.includes('6 seconds ago'), row);
    assert.ok(row.includes('0.0.0.0:8080->80/tcp'));
    const q = fake.seen.find((s) => s.path === '/containers/json')!;
    assert.equal(q.query.get('all'), null);

    const all = await run(['ps', '-a', '--no-trunc', '-q', '--filter', 'status=exited'], fake.host);
    assert.equal(all.out, 'a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f9\n');
    const q2 = fake.seen.filter((s) => s.path === '/containers/json')[1]!;
    assert.equal(q2.query.get('all'), '1');
    assert.deepEqual(JSON.parse(q2.query.get('filters')!), { status: { exited: true } });

    const f = await run(['ps', '--format', '{{.Names}} {{.Label "a"}} {{.State}}'], fake.host);
    assert.equal(f.out, 'web x running\n');
    const j = await run(['ps', '--format', 'json'], fake.host);
    const parsed = JSON.parse(j.out);
    assert.equal(parsed.Names, 'web');
    assert.equal(parsed.ID, 'a1b2c3d4e5f6');
    assert.equal(parsed.Labels, 'a=x');
    const t = await run(['ps', '--format', 'table {{.ID}}\\t{{.Status}}'], fake.host);
    assert.equal(t.out, 'CONTAINER ID   STATUS\na1b2c3d4e5f6   Up 4 seconds\n');
  } finally {
    await fake.close();
  }
});

test('run -d sends the create body docker would and prints the id', async () => {
  const id = 'c0ffee'.padEnd(64, '0');
  const fake = await fakeDaemon({
    'POST /containers/create': json(201, { Id: id, Warnings: [] }),
    'POST /containers/c0ffee0000000000000000000000000000000000000000000000000000000000/start': json(204, undefined),
    'POST /containers/c0ffee0000000000000000000000000000000000000000000000000000000000/wait': json(200, { StatusCode: 0 }),
  });
  try {
    const r = await run(['run', '-d', '--name=web', '-e', 'A=1', '-eB=2', '-m', '64m', '--cpus', '1.5', '-p', '8080:80', '-v', '/data',
      '-l', 'k=v', '--restart', 'on-failure:3', '--rm', 'busybox', 'sh', '-c', 'echo hi', '--not-a-flag'], fake.host);
    assert.equal(r.code, 0, r.err);
    assert.equal(r.out, `${id}\n`);
    const create = fake.seen.find((s) => s.path === '/containers/create')!;
    assert.equal(create.query.get('name'), 'web');
    const body = JSON.parse(create.body);
    assert.equal(body.Image, 'busybox');
    assert.deepEqual(body.Cmd, ['sh', '-c', 'echo hi', '--not-a-flag']);
    assert.deepEqual(body.Env, ['A=1', 'B=2']);
    assert.equal(body.HostConfig.Memory, 64 * 1024 * 1024);
    assert.equal(body.HostConfig.NanoCpus, 1.5e9);
    assert.deepEqual(body.HostConfig.PortBindings, { '80/tcp': [{ HostIp: '', HostPort: '8080' }] });
    assert.deepEqual(body.ExposedPorts, { '80/tcp': {} });
    assert.deepEqual(body.Volumes, { '/data': {} });
    assert.deepEqual(body.Labels, { k: 'v' });
    assert.deepEqual(body.HostConfig.RestartPolicy, { Name: 'on-failure', MaximumRetryCount: 3 });
    assert.equal(body.HostConfig.AutoRemove, true);
    assert.equal(body.AttachStdout, false);
    // start happened; a detached run does not attach
    assert.ok(fake.seen.some((s) => s.path.endsWith('/start')));
    assert.ok(!fake.seen.some((s) => s.path.endsWith('/attach')));
  } finally {
    await fake.close();
  }
});

test('run attaches before start, demuxes output and exits with the container status', async () => {
  const id = 'abc'.padEnd(64, '1');
  let attachedSocket: Duplex | null = null;
  let started = false;
  let waitSeenBeforeStart = false;
  let waitRes: http.ServerResponse | null = null;
  const fake = await fakeDaemon({
    'POST /containers/create': json(201, { Id: id }),
    [`POST /containers/${id}/wait`]: (req, res) => {
      waitSeenBeforeStart = !started;
      assert.equal(req.query.get('condition'), 'removed');
      res.writeHead(200, { 'Content-Type': 'application/json' });
      res.flushHeaders();
      waitRes = res;
    },
    [`POST /containers/${id}/start`]: (_req, res) => {
      started = true;
      assert.ok(attachedSocket, 'attach must precede start');
      res.writeHead(204);
      res.end();
      setTimeout(() => {
        attachedSocket!.write(Buffer.concat([frame(1, 'hello out\n'), frame(2, 'hello err\n')]));
        attachedSocket!.end();
        waitRes!.end(JSON.stringify({ StatusCode: 3 }));
      }, 20);
    },
  });
  fake.onUpgrade = (req, socket) => {
    assert.equal(req.path, `/containers/${id}/attach`);
    assert.equal(req.query.get('stdout'), '1');
    assert.equal(req.query.get('stream'), '1');
    assert.equal(req.headers.upgrade, 'tcp');
    attachedSocket = socket;
  };
  try {
    const r = await run(['run', '--rm', 'busybox', 'sh', '-c', 'exit 3'], fake.host);
    assert.equal(r.code, 3, r.err);
    assert.equal(r.out, 'hello out\n');
    assert.equal(r.err, 'hello err\n');
    assert.ok(waitSeenBeforeStart, 'wait must be registered before start');
  } finally {
    await fake.close();
  }
});

test('run maps start failures to docker exit codes 127/126/125', async () => {
  const id = 'dead'.padEnd(64, '2');
  const cases: Array<[string, number]> = [
    ['failed to create task: exec: "nope": executable file not found in $PATH', 127],
    ['exec /etc/passwd: permission denied', 126],
    ['something else broke', 125],
  ];
  for (const [message, code] of cases) {
    const fake = await fakeDaemon({
      'POST /containers/create': json(201, { Id: id }),
      [`POST /containers/${id}/wait`]: json(200, { StatusCode: 0 }),
      [`POST /containers/${id}/start`]: json(400, { message }),
    });
    fake.onUpgrade = (_req, socket) => { setTimeout(() => socket.end(), 50); };
    try {
      const r = await run(['run', 'busybox', 'nope'], fake.host);
      assert.equal(r.code, code, message);
      assert.equal(r.err, `berth: Error response from daemon: ${message}\n\nRun 'berth run --help' for more information\n`);
    } finally {
      await fake.close();
    }
  }
});

test('run pulls when the image is missing, then retries create', async () => {
  const id = 'beef'.padEnd(64, '3');
  let creates = 0;
  const fake = await fakeDaemon({
    'POST /containers/create': (_req, res) => {
      creates++;
      if (creates === 1) return json(404, { message: 'No such image: alpine:latest' })(_req, res);
      return json(201, { Id: id })(_req, res);
    },
    'POST /images/create': (_req, res) => { res.writeHead(200); res.end('{"status":"Pulling from library/alpine","id":"latest"}\n{"status":"Status: Downloaded newer image for alpine:latest"}\n'); },
    [`POST /containers/${id}/start`]: json(204, undefined),
    [`POST /containers/${id}/wait`]: json(200, { StatusCode: 0 }),
  });
  try {
    const r = await run(['run', '-d', 'alpine'], fake.host);
    assert.equal(r.code, 0, r.err);
    assert.ok(r.err.startsWith("Unable to find image 'alpine:latest' locally\n"), r.err);
    const pull = fake.seen.find((s) => s.path === '/images/create')!;
    assert.equal(pull.query.get('fromImage'), 'alpine');
    assert.equal(pull.query.get('tag'), 'latest');
    assert.equal(creates, 2);
  } finally {
    await fake.close();
  }
});

test('daemon errors print "Error response from daemon" and exit 1; rm -f ignores missing', async () => {
  const fake = await fakeDaemon({
    'DELETE /containers/nope': json(404, { message: 'No such container: nope' }),
    'DELETE /containers/ok': json(204, undefined),
  });
  try {
    const r = await run(['rm', 'ok', 'nope'], fake.host);
    assert.equal(r.code, 1);
    assert.equal(r.out, 'ok\n');
    assert.equal(r.err, 'Error response from daemon: No such container: nope\n');
    const f = await run(['rm', '-f', 'nope'], fake.host);
    assert.equal(f.code, 0);
    assert.equal(fake.seen.filter((s) => s.path === '/containers/nope').at(-1)!.query.get('force'), '1');
  } finally {
    await fake.close();
  }
});

test('inspect -f renders Go templates over the raw JSON; falls back from container to image', async () => {
  const ctr = { Id: 'x1', State: { ExitCode: 7, Status: 'exited' }, Config: { Env: ['A=1', 'B=2'], Labels: {} }, HostConfig: { Memory: 67108864 } };
  const fake = await fakeDaemon({
    'GET /containers/x1/json': json(200, ctr),
    'GET /containers/busybox/json': json(404, { message: 'No such container: busybox' }),
    'GET /images/busybox/json': json(200, { Id: 'sha256:abc', RepoTags: ['busybox:latest'] }),
    'GET /containers/zzz/json': json(404, { message: 'No such container: zzz' }),
    'GET /images/zzz/json': json(404, { message: 'No such image: zzz' }),
  });
  try {
    let r = await run(['inspect', '-f', '{{.State.ExitCode}} {{.HostConfig.Memory}} {{.Config.Env}} {{json .Config.Env}}', 'x1'], fake.host);
    assert.equal(r.out, '7 67108864 [A=1 B=2] ["A=1","B=2"]\n');
    r = await run(['inspect', 'x1'], fake.host);
    assert.deepEqual(JSON.parse(r.out), [ctr]);
    assert.ok(r.out.startsWith('[\n    {\n        "Id": "x1"'));
    r = await run(['inspect', '--format', '{{.Id}}', 'busybox'], fake.host);
    assert.equal(r.out, 'sha256:abc\n');
    r = await run(['inspect', 'zzz'], fake.host);
    assert.equal(r.code, 1);
    assert.equal(r.out, '[]\n');
    assert.equal(r.err, 'Error: No such object: zzz\n');
    r = await run(['inspect', '-f', '{{.Nope}}', 'x1'], fake.host);
    assert.equal(r.code, 1);
    assert.match(r.err, /map has no entry for key "Nope"/);
  } finally {
    await fake.close();
  }
});

test('images lists one row per tag with docker columns', async () => {
  const created = nowSec() - 7200;
  const fake = await fakeDaemon({
    'GET /images/json': json(200, [
      { Id: 'sha256:0123456789abcdef0123456789abcdef', RepoTags: ['busybox:latest', 'busybox:1.36'], RepoDigests: [], Created: created, Size: 4261550, Containers: -1 },
      { Id: 'sha256:fedcba9876543210fedcba9876543210', RepoTags: [], RepoDigests: [], Created: created, Size: 1234, Containers: -1 },
    ]),
  });
  try {
    const r = await run(['images'], fake.host);
    assert.equal(r.code, 0, r.err);
    const lines = r.out.trimEnd().split('\n');
    assert.equal(lines.length, 4);
    const h = lines[0]!;
    for (const c of ['REPOSITORY', 'TAG', 'IMAGE ID', 'CREATED', 'SIZE']) assert.ok(h.includes(c));
    assert.equal(h.indexOf('TAG'), 'REPOSITORY'.length + 3);
    assert.ok(lines[1]!.startsWith('busybox      latest    0123456789ab   2 hours ago   4.26MB'), lines[1]);
    assert.ok(lines[2]!.includes('1.36'));
    assert.ok(lines[3]!.startsWith('<none>       <none>    fedcba987654'), lines[3]);
    const q = await run(['images', '-q'], fake.host);
    assert.equal(q.out, '0123456789ab\n0123456789ab\nfedcba987654\n');
  } finally {
    await fake.close();
  }
});

test('import streams the file and prints the image id', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-import-'));
  const file = path.join(dir, 'rootfs.tar');
  fs.writeFileSync(file, 'not really a tar but bytes');
  const fake = await fakeDaemon({
    'POST /images/create': (_req, res) => { res.writeHead(200); res.end('{"status":"sha256:4242"}\n'); },
  });
  try {
    const r = await run(['import', '-c', 'CMD ["sh"]', '-m', 'hello', file, 'myimg:v1'], fake.host);
    assert.equal(r.code, 0, r.err);
    assert.equal(r.out, 'sha256:4242\n');
    const s = fake.seen.find((x) => x.path === '/images/create')!;
    assert.equal(s.query.get('fromSrc'), '-');
    assert.equal(s.query.get('repo'), 'myimg');
    assert.equal(s.query.get('tag'), 'v1');
    assert.equal(s.query.get('message'), 'hello');
    assert.deepEqual(s.query.getAll('changes'), ['CMD ["sh"]']);
    assert.equal(s.body, 'not really a tar but bytes');
  } finally {
    await fake.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('logs demuxes stdout and stderr and passes tail/timestamps', async () => {
  const fake = await fakeDaemon({
    'GET /containers/c1/json': json(200, { Id: 'c1', Config: { Tty: false } }),
    'GET /containers/c1/logs': (_req, res) => {
      res.writeHead(200, { 'Content-Type': 'application/vnd.docker.multiplexed-stream' });
      const all = Buffer.concat([frame(1, 'line1\n'), frame(2, 'oops\n'), frame(1, 'line2\n')]);
      res.write(all.subarray(0, 5)); // a frame split across chunks
      setTimeout(() => res.end(all.subarray(5)), 10);
    },
  });
  try {
    const r = await run(['logs', '--tail', '2', '-t', 'c1'], fake.host);
    assert.equal(r.code, 0, r.err);
    assert.equal(r.out, 'line1\nline2\n');
    assert.equal(r.err, 'oops\n');
    const s = fake.seen.find((x) => x.path === '/containers/c1/logs')!;
    assert.equal(s.query.get('tail'), '2');
    assert.equal(s.query.get('timestamps'), '1');
  } finally {
    await fake.close();
  }
});

test('flag and argument errors follow docker wording and exit codes', async () => {
  let r = await run(['run', '--bogus', 'busybox'], 'unix:///nonexistent.sock');
  assert.equal(r.code, 125);
  assert.equal(r.err, "unknown flag: --bogus\n\nUsage:  berth run [OPTIONS] IMAGE [COMMAND] [ARG...]\n\nRun 'berth run --help' for more information\n");
  r = await run(['ps', '-n', 'x'], 'unix:///nonexistent.sock');
  assert.equal(r.code, 125);
  assert.match(r.err, /^invalid argument "x" for "-n, --last" flag: strconv.ParseInt/);
  r = await run(['rename', 'a'], 'unix:///nonexistent.sock');
  assert.equal(r.code, 1);
  assert.match(r.err, /^berth: 'berth rename' requires 2 arguments/);
  r = await run(['container', 'nope'], 'unix:///nonexistent.sock');
  assert.equal(r.code, 1);
  r = await run(['run', '-m', 'lots', 'busybox'], 'unix:///nonexistent.sock');
  assert.equal(r.code, 125);
  assert.match(r.err, /^invalid argument "lots" for "-m, --memory" flag: invalid size: 'lots'/);
  r = await run(['ps'], 'unix:///nonexistent.sock');
  assert.equal(r.code, 1);
  assert.equal(r.err, 'Cannot connect to the berth daemon at unix:///nonexistent.sock. Is the berth daemon running?\n');
  r = await run(['run', '--help'], 'unix:///nonexistent.sock');
  assert.equal(r.code, 0);
  assert.match(r.out, /^Usage:  berth run \[OPTIONS\] IMAGE \[COMMAND\] \[ARG\.\.\.\]/);
  assert.match(r.out, /-e, --env list/);
});

test('host selection: -H beats BERTH_HOST beats DOCKER_HOST', async () => {
  const fake = await fakeDaemon({ 'POST /containers/a/kill': json(204, undefined) });
  try {
    const stdout = new PassThrough();
    const stderr = new PassThrough();
    let out = '';
    stdout.on('data', (c) => { out += c; });
    const code = await main(['-H', fake.host, 'kill', '-s', 'HUP', 'a'], { stdout, stderr, stdin: new PassThrough(), env: { BERTH_HOST: 'unix:///wrong.sock', DOCKER_HOST: 'unix:///wrong2.sock' } });
    assert.equal(code, 0);
    assert.equal(out, 'a\n');
    assert.equal(fake.seen[0]!.query.get('signal'), 'HUP');
    const code2 = await main(['kill', 'a'], { stdout, stderr, stdin: new PassThrough(), env: { DOCKER_HOST: fake.host } });
    assert.equal(code2, 0);
  } finally {
    await fake.close();
  }
});
