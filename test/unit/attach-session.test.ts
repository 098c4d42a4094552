import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Duplex } from 'node:stream';
import { attachSession, hijackedEnd, CLIENT_MAX_BEHIND, type ClientEnd } from '../../src/api/stream/attach-session.js';
import type { AttachConnection } from '../../src/core/attach-connection.js';

/** A container's streams that the test feeds by hand. */
function fakeConn(): AttachConnection & { emit(s: 1 | 2, d: Buffer): void; destroyed: boolean } {
  const data: ((s: 1 | 2, d: Buffer) => void)[] = [];
  const close: (() => void)[] = [];
  const c = {
    destroyed: false,
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

test('a hijacked client that does not read is dropped once CLIENT_MAX_BEHIND is queued, not buffered without bound', () => {
  const sock = stalledSocket();
  const ce = hijackedEnd(sock, true);
  let left = 0;
  ce.onGone(() => left++);
  const chunk = Buffer.alloc(64 * 1024);
  let sent = 0;
  while (!ce.gone && sent < 4 * CLIENT_MAX_BEHIND) { ce.send(1, chunk); sent += chunk.length; }
  assert.ok(ce.gone, 'the client was dropped');
  assert.ok(sent <= CLIENT_MAX_BEHIND + chunk.length, `dropped after ${sent} bytes`);
  assert.equal(left, 1, 'the session hears of it once');
  assert.ok(sock.destroyed);
});

test('live output held while a replay waits on the client is bounded: past the bound the client is dropped', async () => {
  const conn = fakeConn();
  let release!: () => void;
  const stuck = new Promise<void>((r) => { release = r; });
  let dropped = 0;
  const goneCbs: (() => void)[] = [];
  let gone = false;
  const ce: ClientEnd = {
    get gone() { return gone; },
    send: () => true,
    drained: () => stuck,
    end() {},
    drop() { dropped++; gone = true; for (const cb of goneCbs) cb(); release(); },
    input() {}, discardInput() {}, pauseInput() {},
    onGone: (cb) => { goneCbs.push(cb); },
  };
  const session = attachSession(Promise.resolve(conn), {
    stdout: true, stderr: true,
    replay: async (_send, drained) => { await drained(); }, // a client that never reads: the replay waits
  });
  const run = session.run(ce);
  await new Promise((r) => setImmediate(r));
  const chunk = Buffer.alloc(64 * 1024);
  for (let i = 0; i * chunk.length <= CLIENT_MAX_BEHIND && !conn.destroyed; i++) conn.emit(1, chunk);
  assert.equal(dropped, 1, 'the client was dropped');
  assert.ok(conn.destroyed, "the container's streams were given up");
  await run;
});
