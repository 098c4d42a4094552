// conmon's attach socket as an AttachConnection: records of one stream are gathered into one 'data' while
// output streams, the order across stdout and stderr is kept, and a close comes after the last output.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import { AttachSocket } from '../../src/runtime/conmon-session.js';

/** conmon's record: one type byte (2 stdout, 3 stderr) and the payload. */
const record = (type: number, text: string) => Buffer.concat([Buffer.from([type]), Buffer.from(text)]);

function fakeSocket() {
  const e = new EventEmitter() as EventEmitter & { write(): void; end(): void; destroy(): void };
  e.write = () => undefined;
  e.end = () => undefined;
  e.destroy = () => undefined;
  return e;
}

function attach(queueUntilRead = false) {
  const sock = fakeSocket();
  // the class only uses on/write/end/destroy of node-unix-socket's SeqpacketSocket
  const conn = new AttachSocket(sock as unknown as ConstructorParameters<typeof AttachSocket>[0], queueUntilRead);
  const got: string[] = [];
  return { sock, conn, got };
}

test('attach socket: a stream\'s records become one data, stream changes and close keep the order', async () => {
  const { sock, conn, got } = attach();
  conn.on('data', (s, d) => got.push(`${s}:${d.toString()}`));
  conn.on('close', () => got.push('close'));
  // a first record, then more while it is still streaming (the first batch left just now)
  sock.emit('data', record(2, 'a'));
  await new Promise((r) => setImmediate(r));
  assert.deepEqual(got, ['1:a'], 'a lone record goes on the next turn');
  sock.emit('data', record(2, 'b'));
  sock.emit('data', record(2, 'c'));
  sock.emit('data', record(3, 'E'));
  sock.emit('data', record(2, 'd'));
  sock.emit('data', record(1, 'stdin? ignored'));
  sock.emit('data', record(2, 'e'));
  assert.deepEqual(got, ['1:a', '1:bc', '2:E'], 'the other stream ends a batch at once');
  sock.emit('close');
  assert.deepEqual(got, ['1:a', '1:bc', '2:E', '1:de', 'close'], 'what was held goes before the close');
});

test('attach socket: a batch is handed on by itself shortly, and at 256 KiB at once', async () => {
  const { sock, conn, got } = attach();
  conn.on('data', (s, d) => got.push(`${s}:${d.length}`));
  sock.emit('data', record(2, 'x'));
  await new Promise((r) => setImmediate(r));
  for (let i = 0; i < 40; i++) sock.emit('data', record(2, 'y'.repeat(8192)));
  assert.deepEqual(got, ['1:1', `1:${32 * 8192}`]);
  await new Promise((r) => setTimeout(r, 20));
  assert.deepEqual(got, ['1:1', `1:${32 * 8192}`, `1:${8 * 8192}`]);
});

test('attach socket: records before the first reader are queued (exec), then batching takes over', async () => {
  const { sock, conn, got } = attach(true);
  sock.emit('data', record(2, 'early'));
  sock.emit('data', record(3, 'err'));
  conn.on('data', (s, d) => got.push(`${s}:${d.toString()}`));
  assert.deepEqual(got, ['1:early', '2:err']);
  sock.emit('data', record(2, 'late'));
  sock.emit('end');
  assert.deepEqual(got, ['1:early', '2:err', '1:late']);
});

test('attach socket: a reader that destroys the connection from its data callback never destroys the native socket from there', async () => {
  const { sock, conn } = attach();
  let nativeDestroyedInside = false;
  let inside = false;
  sock.destroy = () => { if (inside) nativeDestroyedInside = true; };
  conn.on('data', () => conn.destroy());
  inside = true;
  sock.emit('data', record(2, 'a'));
  sock.emit('data', record(3, 'b')); // the stream change hands 'a' on from inside the event
  sock.emit('end'); // and a close flushes what is held from inside 'end'
  inside = false;
  await new Promise((r) => setImmediate(r));
  assert.equal(nativeDestroyedInside, false);
});
