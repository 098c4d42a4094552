// GET /containers/{id}/attach/ws against a real berthd, with the `ws` client over the unix socket:
// stdin reaches the container, output arrives raw (no 8-byte header) in binary frames (text before API
// 1.28), logs=1 replays, error answers come before the handshake, and the server closes on exit.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { WebSocket } from 'ws';
import { api, startDaemon, waitFor, type Daemon } from '../helpers/daemon.js';
import { docker, show } from '../helpers/cli.js';
import { busyboxTar } from '../helpers/fixtures.js';

const IMG = 'busybox:attachws';
let d: Daemon;
let cleaned = false;

interface Frame { data: Buffer; binary: boolean }

/** A websocket client session that records every frame and how it ended. */
class Session {
  readonly frames: Frame[] = [];
  closeCode: number | undefined;
  readonly closed: Promise<number>;
  constructor(readonly ws: WebSocket) {
    ws.on('message', (data: Buffer, binary: boolean) => this.frames.push({ data, binary }));
    this.closed = new Promise((resolve) => ws.on('close', (code: number) => { this.closeCode = code; resolve(code); }));
  }
  text(): string { return Buffer.concat(this.frames.map((f) => f.data)).toString('utf8'); }
  async expectText(re: RegExp, timeoutMs = 10_000): Promise<void> {
    const okay = await waitFor(() => re.test(this.text()), timeoutMs, 20);
    assert.ok(okay, `expected ${re} in ${JSON.stringify(this.text())}; log: ${d.logTail(1000)}`);
  }
}

/** Opens a websocket on the daemon's socket; resolves with the session, or rejects with the HTTP answer. */
function connect(urlPath: string): Promise<Session> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`ws+unix://${d.socket}:${urlPath}`);
    const s = new Session(ws);
    ws.once('open', () => resolve(s));
    ws.once('unexpected-response', (_req, res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        ws.terminate();
        reject(Object.assign(new Error(`HTTP ${res.statusCode}`), { status: res.statusCode, body: Buffer.concat(chunks).toString('utf8') }));
      });
    });
    ws.once('error', reject);
  });
}

async function create(name: string, cmd: string[], extra: Record<string, unknown> = {}): Promise<string> {
  const r = await api(d.socket, 'POST', `/containers/create?name=${name}`,
    { Image: IMG, Cmd: cmd, HostConfig: { NetworkMode: 'none' }, ...extra });
  assert.equal(r.status, 201, r.body);
  return (JSON.parse(r.body) as { Id: string }).Id;
}

async function start(id: string): Promise<void> {
  const r = await api(d.socket, 'POST', `/containers/${id}/start`);
  assert.equal(r.status, 204, r.body);
}

async function inspect(id: string): Promise<{ Status: string; Running: boolean; ExitCode: number }> {
  const r = await api(d.socket, 'GET', `/containers/${id}/json`);
  assert.equal(r.status, 200, r.body);
  return (JSON.parse(r.body) as { State: { Status: string; Running: boolean; ExitCode: number } }).State;
}

const fdCount = () => fs.readdirSync(`/proc/${d.pid}/fd`).length;

const ECHO_LOOP = ['sh', '-c', 'while read l; do echo got:$l; done'];

before(async () => {
  // -b none: leave the default bridge (berth0) alone.
  d = await startDaemon({ args: ['-b', 'none'] });
  const r = await docker(d.env, ['import', '--change', 'CMD ["sh"]', await busyboxTar(), IMG], { timeoutMs: 60_000 });
  assert.equal(r.code, 0, show(r));
});

after(async () => {
  if (!d || cleaned) return;
  const leftovers = await d.cleanup();
  if (leftovers.length) console.error(`attach-ws: swept leftovers: ${leftovers.join(', ')}`);
});

test('stdin reaches the container and its echo comes back raw in binary frames; stdin stays open after a client leaves', async () => {
  const id = await create('wsecho', ECHO_LOOP, { OpenStdin: true });
  await start(id);
  const s = await connect(`/v1.45/containers/${id}/attach/ws?stream=1&stdin=1&stdout=1&stderr=1`);
  s.ws.send('hi\n');
  await s.expectText(/got:hi\n/);
  assert.equal(s.text(), 'got:hi\n', 'exactly the container\'s bytes: no multiplex header');
  assert.ok(s.frames.every((f) => f.binary), 'API >= 1.28 sends binary frames');
  // Text frames are stdin too.
  s.ws.send(Buffer.from('there\n'), { binary: true });
  await s.expectText(/got:there\n/);
  s.ws.close();
  await s.closed;
  // Not StdinOnce: the container's stdin survives the client's going, so a second client is answered.
  const again = await connect(`/v1.45/containers/${id}/attach/ws?stream=1&stdin=1&stdout=1`);
  again.ws.send('again\n');
  await again.expectText(/got:again\n/);
  assert.equal((await inspect(id)).Running, true);
  again.ws.close();
  await again.closed;
});

test('logs=1 replays earlier stdout and stderr raw, stdin then works, and the server closes when the container exits', async () => {
  const id = await create('wsexit', ['sh', '-c', 'echo before; echo oops >&2; read l; echo after:$l; exit 3'], { OpenStdin: true });
  await start(id);
  await waitFor(async () => (await api(d.socket, 'GET', `/containers/${id}/logs?stdout=1&stderr=1`)).body.includes('oops'));
  const s = await connect(`/v1.45/containers/${id}/attach/ws?logs=1&stream=1&stdin=1&stdout=1&stderr=1`);
  await s.expectText(/before\n/);
  await s.expectText(/oops\n/);
  s.ws.send('bye\n');
  await s.expectText(/after:bye\n/);
  const code = await Promise.race([s.closed, new Promise<number>((r) => setTimeout(() => r(-1), 15_000))]);
  assert.equal(code, 1000, 'the server closes the websocket normally when the container exits');
  assert.deepEqual(s.text().split('\n').filter(Boolean).sort(), ['after:bye', 'before', 'oops']);
  await waitFor(async () => (await inspect(id)).Status === 'exited');
  assert.equal((await inspect(id)).ExitCode, 3);

  // An exited container is not refused: a logs-only attach replays and closes; stdout=0 filters stdout out.
  const only = await connect(`/v1.45/containers/${id}/attach/ws?logs=1&stdout=0&stderr=1`);
  assert.equal(await only.closed, 1000);
  assert.equal(only.text(), 'oops\n');

  // Before API 1.28 frames are text, and before 1.42 stdin/stdout/stderr are all on whatever the query says.
  const old = await connect(`/v1.27/containers/${id}/attach/ws?logs=1&stdout=0`);
  assert.equal(await old.closed, 1000);
  assert.ok(old.frames.length > 0 && old.frames.every((f) => !f.binary), 'API < 1.28 sends text frames');
  assert.deepEqual(old.text().split('\n').filter(Boolean).sort(), ['after:bye', 'before', 'oops']);
});

test('a TTY container\'s output arrives as is', async () => {
  const id = await create('wstty', ['sh', '-c', 'read l; echo tty:$l'], { OpenStdin: true, Tty: true });
  await start(id);
  const s = await connect(`/v1.45/containers/${id}/attach/ws?stream=1&stdin=1&stdout=1&stderr=1`);
  s.ws.send('x\r');
  await s.expectText(/tty:x\r\n/);
  assert.equal(await s.closed, 1000);
});

test('attach before start sees the first output (the attach waits for the start)', async () => {
  const id = await create('wsfirst', ['echo', 'first-line']);
  const s = await connect(`/v1.45/containers/${id}/attach/ws?stream=1&stdout=1&stderr=1`);
  await start(id);
  assert.equal(await s.closed, 1000);
  assert.equal(s.text(), 'first-line\n');
});

test('errors are HTTP answers before the handshake: 404 unknown, 409 paused, 400 bad detachKeys or no upgrade', async () => {
  await assert.rejects(connect('/v1.45/containers/no-such-ctr/attach/ws?stream=1&stdout=1'), (e: { status: number; body: string }) => {
    assert.equal(e.status, 404);
    assert.match(JSON.parse(e.body).message, /no-such-ctr/);
    return true;
  });
  const id = await create('wspause', ['sleep', '1000']);
  await start(id);
  await assert.rejects(connect(`/v1.45/containers/${id}/attach/ws?stream=1&stdout=1&detachKeys=ctrl-%3F%3F`),
    (e: { status: number }) => { assert.equal(e.status, 400); return true; });
  const plain = await api(d.socket, 'GET', `/v1.45/containers/${id}/attach/ws?stream=1&stdout=1`);
  assert.equal(plain.status, 400, 'a plain GET is not a websocket');
  assert.equal((await api(d.socket, 'GET', '/v1.45/containers/no-such-ctr/attach/ws')).status, 404);
  const p = await api(d.socket, 'POST', `/containers/${id}/pause`);
  assert.equal(p.status, 204, p.body);
  try {
    await assert.rejects(connect(`/v1.45/containers/${id}/attach/ws?stream=1&stdout=1`),
      (e: { status: number }) => { assert.equal(e.status, 409); return true; });
  } finally {
    await api(d.socket, 'POST', `/containers/${id}/unpause`);
  }
});

test('detach keys or the client\'s close end the session and leave the container running; no fd is kept per session', async () => {
  const id = await create('wsdetach', ECHO_LOOP, { OpenStdin: true });
  await start(id);
  // Settle the daemon first: its fd count before any session here is the baseline.
  await new Promise((r) => setTimeout(r, 200));
  const baseline = fdCount();
  for (let i = 0; i < 4; i++) {
    const s = await connect(`/v1.45/containers/${id}/attach/ws?stream=1&stdin=1&stdout=1&detachKeys=ctrl-x`);
    s.ws.send(`n${i}\n`);
    await s.expectText(new RegExp(`got:n${i}\\n`));
    if (i % 2 === 0) {
      s.ws.send(Buffer.from([0x18]));
      assert.equal(await s.closed, 1000, 'the server closes on the detach sequence');
    } else {
      s.ws.close();
      await s.closed;
    }
  }
  assert.equal((await inspect(id)).Running, true);
  const back = await waitFor(() => fdCount() <= baseline, 5000);
  assert.ok(back, `berthd holds ${fdCount()} fds, ${baseline} before the sessions`);
});

test('nothing leaks: cleanup finds no runc state, conmon or mount left behind', async () => {
  cleaned = true;
  const leftovers = await d.cleanup();
  assert.deepEqual(leftovers, []);
});
