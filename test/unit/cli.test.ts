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
  onUpgrade?: (req: Seen, socket: Duplex, head: Buffer) => void;
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
  server.on('upgrade', (req, socket, head: Buffer) => {
    const u = new URL(req.url!, 'http://x');
    const s: Seen = { method: req.method!, path: u.pathname.replace(/^\/v1\.\d+/, ''), query: u.searchParams, body: '', headers: req.headers };
    seen.push(s);
    socket.write('HTTP/1.1 101 UPGRADED\r\nContent-Type: application/vnd.docker.multiplexed-stream\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n\r\n');
    fake.onUpgrade?.(s, socket, head);
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

test('exec -i forwards stdin, half-closes it, demuxes output and exits with the exec inspect ExitCode', async () => {
  let createBody: any = null;
  const fake = await fakeDaemon({
    'GET /containers/web/json': json(200, { Id: 'w'.repeat(64), State: { Running: true }, Config: {} }),
    'POST /containers/web/exec': (req, res) => { createBody = JSON.parse(req.body); json(201, { Id: 'e1' })(req, res); },
    'GET /exec/e1/json': json(200, { ID: 'e1', Running: false, ExitCode: 7 }),
    'POST /exec/e1/start': json(200, undefined),
  });
  let startBody = '';
  fake.onUpgrade = (req, socket, head) => {
    assert.equal(req.path, '/exec/e1/start');
    const len = Number(req.headers['content-length']);
    let buf = head;
    socket.on('data', (c: Buffer) => { buf = Buffer.concat([buf, c]); });
    // the container's stdin reads EOF only once the client half-closes
    socket.on('end', () => {
      startBody = buf.subarray(0, len).toString();
      const input = buf.subarray(len).toString();
      socket.write(Buffer.concat([frame(1, `got:${input}`), frame(2, 'warn\n')]));
      socket.end();
    });
  };
  try {
    const r = await run(['exec', '-i', '-e', 'A=1', '-w', '/tmp', '-u', 'nobody', 'web', 'cat', '-n'], fake.host, 'hello\n');
    assert.equal(r.code, 7, r.err);
    assert.equal(r.out, 'got:hello\n');
    assert.equal(r.err, 'warn\n');
    assert.deepEqual(createBody.Cmd, ['cat', '-n']);
    assert.deepEqual(createBody.Env, ['A=1']);
    assert.equal(createBody.WorkingDir, '/tmp');
    assert.equal(createBody.User, 'nobody');
    assert.equal(createBody.AttachStdin, true);
    assert.equal(createBody.AttachStdout, true);
    assert.equal(createBody.Tty, false);
    assert.deepEqual(JSON.parse(startBody), { Detach: false, Tty: false, ConsoleSize: null });

    // -d: a plain start request with Detach, no hijack, exit 0
    const d = await run(['exec', '-d', 'web', 'touch', '/x'], fake.host);
    assert.equal(d.code, 0, d.err);
    const starts = fake.seen.filter((s) => s.path === '/exec/e1/start');
    assert.equal(JSON.parse(starts[starts.length - 1]!.body).Detach, true);
    assert.equal(createBody.AttachStdout, false);

    // -t needs a terminal for stdin when -i is given (docker's CheckTty)
    const t = await run(['exec', '-it', 'web', 'sh'], fake.host, '');
    assert.equal(t.code, 1);
    assert.equal(t.err, 'the input device is not a TTY\n');
  } finally {
    await fake.close();
  }
});

test('run -i: the daemon ending the stream while the container still runs is a detach (exit 0)', async () => {
  const id = 'd7'.padEnd(64, '3');
  let waitRes: http.ServerResponse | null = null;
  const fake = await fakeDaemon({
    'POST /containers/create': json(201, { Id: id }),
    [`POST /containers/${id}/wait`]: (_req, res) => { res.writeHead(200, { 'Content-Type': 'application/json' }); res.flushHeaders(); waitRes = res; },
    [`POST /containers/${id}/start`]: json(204, undefined),
    [`GET /containers/${id}/json`]: json(200, { Id: id, State: { Running: true } }),
  });
  fake.onUpgrade = (_req, socket) => { setTimeout(() => socket.end(), 30); };
  try {
    const r = await run(['run', '-i', 'busybox', 'sh'], fake.host, '');
    assert.equal(r.code, 0, r.err);
    assert.equal(r.out, '');
    assert.ok(waitRes, 'wait was registered');
  } finally {
    await fake.close();
  }
});

test('port lists NetworkSettings.Ports sorted, or one private port; unknown port is an error', async () => {
  const fake = await fakeDaemon({
    'GET /containers/web/json': json(200, {
      Id: 'w'.repeat(64),
      NetworkSettings: {
        Ports: {
          '443/tcp': null,
          '80/tcp': [{ HostIp: '0.0.0.0', HostPort: '18080' }, { HostIp: '::', HostPort: '18080' }],
          '53/udp': [{ HostIp: '127.0.0.1', HostPort: '5353' }],
          '9000/tcp': [{ HostIp: '0.0.0.0', HostPort: '32768' }],
        },
      },
    }),
  });
  try {
    const all = await run(['port', 'web'], fake.host);
    assert.equal(all.code, 0, all.err);
    assert.equal(all.out, '53/udp -> 127.0.0.1:5353\n80/tcp -> 0.0.0.0:18080\n80/tcp -> [::]:18080\n9000/tcp -> 0.0.0.0:32768\n');
    const one = await run(['container', 'port', 'web', '80'], fake.host);
    assert.equal(one.out, '0.0.0.0:18080\n[::]:18080\n');
    const udp = await run(['port', 'web', '53/udp'], fake.host);
    assert.equal(udp.out, '127.0.0.1:5353\n');
    const none = await run(['port', 'web', '443'], fake.host);
    assert.equal(none.code, 1);
    assert.equal(none.err, "Error: No public port '443' published for web\n");
    const bad = await run(['port', 'web', 'http'], fake.host);
    assert.equal(bad.code, 1);
    assert.match(bad.err, /^Error: invalid port \(http\)/);
  } finally {
    await fake.close();
  }
});

test('network ls sorts by name naturally, truncates ids, and honours -q, --filter, --format', async () => {
  const nets = [
    { Name: 'net10', Id: 'a'.repeat(64), Driver: 'bridge', Scope: 'local', Labels: { team: 'x' }, Created: '2024-05-01T10:00:00.5Z' },
    { Name: 'bridge', Id: 'b'.repeat(64), Driver: 'bridge', Scope: 'local', Labels: {} },
    { Name: 'net9', Id: 'c'.repeat(64), Driver: 'bridge', Scope: 'local', Internal: true },
    { Name: 'host', Id: 'd'.repeat(64), Driver: 'host', Scope: 'local' },
  ];
  const fake = await fakeDaemon({ 'GET /networks': json(200, nets) });
  try {
    const r = await run(['network', 'ls'], fake.host);
    assert.equal(r.code, 0, r.err);
    const lines = r.out.trimEnd().split('\n');
    assert.deepEqual(lines.map((l) => l.split(/\s{3,}/)), [
      ['NETWORK ID', 'NAME', 'DRIVER', 'SCOPE'],
      ['b'.repeat(12), 'bridge', 'bridge', 'local'],
      ['d'.repeat(12), 'host', 'host', 'local'],
      ['c'.repeat(12), 'net9', 'bridge', 'local'],
      ['a'.repeat(12), 'net10', 'bridge', 'local'],
    ]);
    assert.equal(lines[0]!.indexOf('NAME'), lines[1]!.indexOf('bridge'));

    const q = await run(['network', 'ls', '-q', '--no-trunc', '-f', 'driver=bridge'], fake.host);
    assert.equal(q.out, ['b', 'd', 'c', 'a'].map((c) => c.repeat(64) + '\n').join(''));
    assert.deepEqual(JSON.parse(fake.seen[fake.seen.length - 1]!.query.get('filters')!), { driver: { bridge: true } });

    const f = await run(['network', 'ls', '--format', '{{.Name}} {{.Internal}} {{.Label "team"}}'], fake.host);
    assert.equal(f.out, 'bridge false \nhost false \nnet9 true \nnet10 false x\n');
    const j = await run(['network', 'ls', '--format', 'json'], fake.host);
    const last = JSON.parse(j.out.trimEnd().split('\n')[3]!);
    assert.equal(last.Name, 'net10');
    assert.equal(last.Labels, 'team=x');
    assert.equal(last.CreatedAt, '2024-05-01 10:00:00.5 +0000 UTC');
  } finally {
    await fake.close();
  }
});

test('network create sends docker\'s body; connect/disconnect/rm -f send what the flags say', async () => {
  const fake = await fakeDaemon({
    'POST /networks/create': json(201, { Id: 'n'.repeat(64), Warning: '' }),
    'POST /networks/appnet/connect': json(200, undefined),
    'POST /networks/appnet/disconnect': json(200, undefined),
    'DELETE /networks/gone': json(404, { message: 'network gone not found' }),
  });
  try {
    const r = await run(['network', 'create', '--subnet', '10.9.0.0/16', '--gateway', '10.9.0.1', '--ip-range', '10.9.1.0/24',
      '--internal', '--label', 'a=b', '-o', 'com.docker.network.bridge.name=br9', 'appnet'], fake.host);
    assert.equal(r.code, 0, r.err);
    assert.equal(r.out, `${'n'.repeat(64)}\n`);
    const body = JSON.parse(fake.seen.find((s) => s.path === '/networks/create')!.body);
    assert.equal(body.Name, 'appnet');
    assert.equal(body.Driver, 'bridge');
    assert.equal(body.Internal, true);
    assert.deepEqual(body.Labels, { a: 'b' });
    assert.deepEqual(body.Options, { 'com.docker.network.bridge.name': 'br9' });
    assert.deepEqual(body.IPAM.Config, [{ Subnet: '10.9.0.0/16', IPRange: '10.9.1.0/24', Gateway: '10.9.0.1' }]);
    assert.equal('EnableIPv6' in body, false);

    const bad = await run(['network', 'create', '--subnet', '10.9.0.0/16', '--gateway', '10.10.0.1', 'x'], fake.host);
    assert.equal(bad.code, 1);
    assert.equal(bad.err, 'no matching subnet for gateway 10.10.0.1\n');
    const overlap = await run(['network', 'create', '--subnet', '10.9.0.0/16,10.9.3.0/24', 'x'], fake.host);
    assert.equal(overlap.err, 'multiple overlapping subnet configuration is not supported\n');

    const c = await run(['network', 'connect', '--alias', 'db,database', '--ip', '10.9.1.5', 'appnet', 'web'], fake.host);
    assert.equal(c.code, 0, c.err);
    const cb = JSON.parse(fake.seen.find((s) => s.path === '/networks/appnet/connect')!.body);
    assert.equal(cb.Container, 'web');
    assert.deepEqual(cb.EndpointConfig.Aliases, ['db', 'database']);
    assert.equal(cb.EndpointConfig.IPAMConfig.IPv4Address, '10.9.1.5');

    await run(['network', 'disconnect', '-f', 'appnet', 'web'], fake.host);
    assert.deepEqual(JSON.parse(fake.seen.find((s) => s.path === '/networks/appnet/disconnect')!.body), { Container: 'web', Force: true });

    const rmf = await run(['network', 'rm', '-f', 'gone'], fake.host);
    assert.equal(rmf.code, 0);
    assert.equal(rmf.out + rmf.err, '');
    const rm = await run(['network', 'rm', 'gone'], fake.host);
    assert.equal(rm.code, 1);
    assert.equal(rm.err, 'Error response from daemon: network gone not found\n');
  } finally {
    await fake.close();
  }
});

test('stats --no-stream computes CPU % and MEM % as docker does and prints its table', async () => {
  const MiB = 1024 * 1024;
  const doc = {
    name: '/web', id: 'f'.repeat(64),
    cpu_stats: { cpu_usage: { total_usage: 500_000_000 }, system_cpu_usage: 10_000_000_000, online_cpus: 2 },
    precpu_stats: { cpu_usage: { total_usage: 300_000_000 }, system_cpu_usage: 8_400_000_000 },
    memory_stats: { usage: 100 * MiB, limit: 1024 * MiB, stats: { total_inactive_file: 4 * MiB } },
    networks: { eth0: { rx_bytes: 1500, tx_bytes: 1_234_567 }, eth1: { rx_bytes: 500, tx_bytes: 0 } },
    blkio_stats: { io_service_bytes_recursive: [{ op: 'Read', value: 4096 }, { op: 'Write', value: 0 }, { op: 'read', value: 0 }] },
    pids_stats: { current: 3 },
  };
  const fake = await fakeDaemon({ 'GET /containers/web/stats': json(200, doc) });
  try {
    const r = await run(['stats', '--no-stream', 'web'], fake.host);
    assert.equal(r.code, 0, r.err);
    const lines = r.out.trimEnd().split('\n');
    assert.equal(lines.length, 2);
    assert.deepEqual(lines[0]!.split(/\s{3,}/), ['CONTAINER ID', 'NAME', 'CPU %', 'MEM USAGE / LIMIT', 'MEM %', 'NET I/O', 'BLOCK I/O', 'PIDS']);
    // (200e6 / 1600e6) * 2 cpus * 100 = 25 %; (100 MiB - 4 MiB inactive) / 1 GiB = 9.375 %
    const cpu = ((500e6 - 300e6) / (10e9 - 8.4e9)) * 2 * 100;
    const mem = ((100 - 4) / 1024) * 100;
    assert.deepEqual(lines[1]!.split(/\s{3,}/), ['f'.repeat(12), 'web', `${cpu.toFixed(2)}%`, '96MiB / 1GiB', `${mem.toFixed(2)}%`, '2kB / 1.23MB', '4.1kB / 0B', '3']);
    assert.equal(lines[0]!.indexOf('CPU %'), lines[1]!.indexOf(`${cpu.toFixed(2)}%`));
    assert.equal(fake.seen[0]!.query.get('stream'), '0');
    assert.ok(!r.out.includes('\x1b'), 'no redraw escapes with --no-stream');

    const f = await run(['stats', '--no-stream', '--format', '{{.Container}}: {{.CPUPerc}} {{.MemPerc}} {{.PIDs}}', 'web'], fake.host);
    assert.equal(f.out, `web: ${cpu.toFixed(2)}% ${mem.toFixed(2)}% 3\n`);

    const missing = await run(['stats', '--no-stream', 'nope'], fake.host);
    assert.equal(missing.code, 1);
    assert.match(missing.err, /^Error response from daemon: page not found/);
  } finally {
    await fake.close();
  }
});

test('update turns flags into the UpdateConfig body; no flags is an error', async () => {
  const fake = await fakeDaemon({
    'POST /containers/web/update': json(200, { Warnings: [] }),
    'POST /containers/db/update': json(200, { Warnings: ['memory swap ignored'] }),
  });
  try {
    const r = await run(['update', '--memory', '256m', '--memory-swap', '-1', '--cpus', '1.5', '--cpu-shares', '512',
      '--cpuset-cpus', '0,1', '--pids-limit', '100', '--restart', 'on-failure:3', 'web', 'db'], fake.host);
    assert.equal(r.code, 0, r.err);
    assert.equal(r.out, 'web\ndb\nmemory swap ignored\n');
    const body = JSON.parse(fake.seen.find((s) => s.path === '/containers/web/update')!.body);
    assert.equal(body.Memory, 256 * 1024 * 1024);
    assert.equal(body.MemorySwap, -1);
    assert.equal(body.NanoCpus, 1_500_000_000);
    assert.equal(body.CpuShares, 512);
    assert.equal(body.CpusetCpus, '0,1');
    assert.equal(body.PidsLimit, 100);
    assert.deepEqual(body.RestartPolicy, { Name: 'on-failure', MaximumRetryCount: 3 });
    assert.equal(body.MemoryReservation, 0);

    const only = await run(['container', 'update', '--restart', 'always', 'web'], fake.host);
    assert.equal(only.code, 0, only.err);
    const b2 = JSON.parse(fake.seen.filter((s) => s.path === '/containers/web/update')[1]!.body);
    assert.equal(b2.Memory, 0);
    assert.equal('PidsLimit' in b2, false);
    assert.deepEqual(b2.RestartPolicy, { Name: 'always', MaximumRetryCount: 0 });

    const none = await run(['update', 'web'], fake.host);
    assert.equal(none.code, 1);
    assert.equal(none.err, 'you must provide one or more flags when using this command\n');
    const badCpus = await run(['update', '--cpus', 'lots', 'web'], fake.host);
    assert.equal(badCpus.code, 125);
    assert.match(badCpus.err, /^invalid argument "lots" for "--cpus" flag: failed to parse lots as a rational number/);
  } finally {
    await fake.close();
  }
});

test('top prints docker\'s tabwriter table; pause/unpause print names and join errors', async () => {
  const fake = await fakeDaemon({
    'GET /containers/web/top': json(200, { Titles: ['UID', 'PID', 'CMD'], Processes: [['root', '4242', 'sleep 100'], ['root', '4300', 'sh']] }),
    'POST /containers/web/pause': json(204, undefined),
    'POST /containers/web/unpause': json(204, undefined),
    'POST /containers/gone/pause': json(404, { message: 'No such container: gone' }),
  });
  try {
    const t = await run(['top', 'web', '-o', 'pid,comm'], fake.host);
    assert.equal(t.code, 0, t.err);
    assert.equal(fake.seen[0]!.query.get('ps_args'), '-o pid,comm');
    // minwidth 20, padding 3
    assert.equal(t.out, `${'UID'.padEnd(20)}${'PID'.padEnd(20)}CMD\n${'root'.padEnd(20)}${'4242'.padEnd(20)}sleep 100\n${'root'.padEnd(20)}${'4300'.padEnd(20)}sh\n`);
    const p = await run(['pause', 'web', 'gone'], fake.host);
    assert.equal(p.code, 1);
    assert.equal(p.out, 'web\n');
    assert.equal(p.err, 'Error response from daemon: No such container: gone\n');
    const u = await run(['container', 'unpause', 'web'], fake.host);
    assert.equal(u.out, 'web\n');
  } finally {
    await fake.close();
  }
});

test('detach keys: docker\'s key syntax and the escape filter hold back a partial sequence', async () => {
  const { EscapeFilter, detachKeyBytes } = await import('../../src/cli/hijack-stream.js');
  assert.deepEqual([...detachKeyBytes('ctrl-p,ctrl-q')], [16, 17]);
  assert.deepEqual([...detachKeyBytes('a,ctrl-@,DEL')], [97, 0, 127]);
  assert.throws(() => detachKeyBytes('ctrl-1'), /Unknown character: 'ctrl-1'/);
  const f = new EscapeFilter(Buffer.from([16, 17]));
  assert.deepEqual(f.push(Buffer.from('ab\x10')), { data: Buffer.from('ab'), detached: false });
  // the held ctrl-p is released when the sequence breaks
  assert.deepEqual(f.push(Buffer.from('x')), { data: Buffer.from('\x10x'), detached: false });
  assert.deepEqual(f.push(Buffer.from('\x10\x10')), { data: Buffer.from('\x10'), detached: false });
  assert.deepEqual(f.push(Buffer.from('\x11rest')), { data: Buffer.from(''), detached: true });
});
