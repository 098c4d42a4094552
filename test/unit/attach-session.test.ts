import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Duplex } from 'node:stream';
import { attachSession, hijackedEnd, type ClientEnd } from '../../src/api/stream/attach-session.js';

const MIB = 1024 * 1024;
import type { AttachConnection } from '../../src/core/attach-connection.js';

/** A container's streams that the test feeds by hand. */
function fakeConn(): AttachConnection & { emit(s: 1 | 2, d: Buffer): void; destroyed: boolean; paused: boolean } {
  const data: ((s: 1 | 2, d: Buffer) => void)[] = [];
  const close: (() => void)[] = [];
  const c = {
    destroyed: false,
    paused: false,
    pause() { c.paused = true; },
    resume() { c.paused = false; },
    on(ev: 'data' | 'close', cb: never) { (ev === 'data' ? data : close).push(cb); },
    write: () => true, drained: () => Promise.resolve(), end() {},
    destroy() { if (c.destroyed) return; c.destroyed = true; for (const cb of close.splice(0)) cb(); },
    emit(s: 1 | 2, d: Buffer) { for (const cb of data) cb(s, d); },
  };
  return c as never;
}

/** A socket whose peer never reads: every write stays queued. */
function stalledSocket(): Duplex {
  return new Duplex({ read() {}, write(_chunk, _enc, _cb) { /* never completes */ } });
}

test('a hijacked client that lags is never dropped: every byte stays queued for it (no output lost)', () => {
  const sock = stalledSocket();
  const ce = hijackedEnd(sock, true);
  let left = 0;
  ce.onGone(() => left++);
  const chunk = Buffer.alloc(64 * 1024);
  let sent = 0;
  while (sent < 16 * MIB) { ce.send(1, chunk); sent += chunk.length; }
  assert.equal(ce.gone, false, 'the client is still attached');
  assert.equal(left, 0);
  assert.ok(!sock.destroyed);
  assert.ok(sock.writableLength >= 16 * MIB, `all ${sent} bytes (with frame headers) queued: ${sock.writableLength}`);
});

test('live output that arrives while a replay waits on the client is held in full and sent after it', async () => {
  const conn = fakeConn();
  let release!: () => void;
  const stuck = new Promise<void>((r) => { release = r; });
  let dropped = 0;
  let got = 0;
  const ce: ClientEnd = {
    gone: false,
    queued: 0,
    send: (_s, d) => { got += d.length; return true; },
    drained: () => stuck,
    end() {},
    drop() { dropped++; },
    input() {}, discardInput() {}, pauseInput() {},
    onGone: () => {},
  };
  const session = attachSession(Promise.resolve(conn), {
    stdout: true, stderr: true,
    replay: async (_send, drained) => { await drained(); }, // the replay waits on a slow client
  });
  const run = session.run(ce);
  await new Promise((r) => setImmediate(r));
  const chunk = Buffer.alloc(64 * 1024);
  for (let i = 0; i < 128; i++) conn.emit(1, chunk);
  assert.equal(conn.paused, true, 'the container waits while the replay does (held output is bounded)');
  assert.equal(dropped, 0, 'the client is kept');
  assert.equal(got, 0, 'nothing goes out before the replay is done');
  release();
  await new Promise((r) => setTimeout(r, 10));
  assert.equal(got, 128 * chunk.length, 'every held byte is sent once the replay is done');
  assert.equal(conn.paused, false, 'live output flows again');
  assert.ok(!conn.destroyed);
  await run;
});

/** A client end over a flag: send answers `full` false; drained() resolves when the test says so. */
function clientEnd() {
  let wake: () => void = () => {};
  const goneCbs: (() => void)[] = [];
  const ce = {
    gone: false, queued: 0, full: false, dropped: 0, got: 0,
    send(_s: 1 | 2, d: Buffer) { ce.got += d.length; if (ce.full) ce.queued += d.length; return !ce.full; },
    drained: () => new Promise<void>((r) => { wake = r; }),
    drain() { ce.full = false; ce.queued = 0; wake(); },
    end() {},
    drop() { ce.dropped++; ce.gone = true; for (const cb of goneCbs) cb(); },
    input() {}, discardInput() {}, pauseInput() {},
    onGone: (cb: () => void) => { goneCbs.push(cb); },
  };
  return ce;
}

test('a full client pauses the container\'s connection until it drains; nothing is dropped', async () => {
  const conn = fakeConn();
  const ce = clientEnd();
  await attachSession(Promise.resolve(conn), { stdout: true, stderr: true }).run(ce);
  conn.emit(1, Buffer.alloc(1000));
  assert.equal(conn.paused, false);
  ce.full = true;
  conn.emit(1, Buffer.alloc(1000));
  assert.equal(conn.paused, true, 'send answered false: the container waits');
  conn.emit(2, Buffer.alloc(1000)); // what was read already still goes out
  assert.equal(ce.got, 3000);
  ce.drain();
  await new Promise((r) => setImmediate(r));
  assert.equal(conn.paused, false, 'drained: reading goes on');
  assert.equal(ce.dropped, 0);
  assert.equal(conn.destroyed, false);
});

test('after the container\'s removal a client that takes nothing is dropped; one that reads, or has nothing queued, is not', async () => {
  for (const kind of ['stalled', 'reading', 'caught-up'] as const) {
    const conn = fakeConn();
    const ce = clientEnd();
    let cancelled = 0;
    let remove!: () => void;
    const removed = new Promise<void>((r) => { remove = r; });
    await attachSession(Promise.resolve(conn), { stdout: true, stderr: true, lingerMs: 100, released: { removed, cancel: () => { cancelled++; } } }).run(ce);
    ce.full = kind !== 'caught-up';
    conn.emit(1, Buffer.alloc(1000));
    remove();
    // a reading client takes a little every 20 ms, and all of it after 160 ms
    const reading = kind === 'reading' ? setInterval(() => { ce.queued = Math.max(0, ce.queued - 100); }, 20) : undefined;
    await new Promise((r) => setTimeout(r, 300));
    clearInterval(reading);
    assert.equal(ce.dropped, kind === 'stalled' ? 1 : 0, `${kind}: ${kind === 'stalled' ? 'dropped' : 'kept'}`);
    assert.equal(cancelled, 1, 'the removal watch is let go once');
  }
});
