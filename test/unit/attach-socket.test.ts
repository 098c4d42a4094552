// conmon's attach socket as an AttachConnection: the records of one readable event become one 'data' per
// run of a stream (order across stdout and stderr kept, a close after the last output); pause() stops the
// native reader, and a paused socket whose process has exited reads on (conmon must not stay blocked on us).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { AttachSocket, type AttachOptions, type AttachTransport } from '../../src/runtime/conmon-session.js';
import type { SeqpacketHandlers } from '../../src/sys/seqpacket.js';

/** conmon's record: one type byte (2 stdout, 3 stderr) and the payload. */
const record = (type: number, text: string) => Buffer.concat([Buffer.from([type]), Buffer.from(text)]);

function attach(opts: AttachOptions = { queueUntilRead: false }) {
  let h!: SeqpacketHandlers;
  const calls: string[] = [];
  const sock: AttachTransport & { reading: boolean; closed: boolean } = {
    reading: false, closed: false,
    start() { sock.reading = true; calls.push('start'); },
    stop() { sock.reading = false; calls.push('stop'); },
    write: () => true,
    shutdown() {},
    close() { sock.closed = true; },
  };
  const conn = new AttachSocket((handlers) => { h = handlers; return sock; }, opts);
  const got: string[] = [];
  return { h, sock, conn, got, calls };
}

test('attach socket: a readable event\'s records become one data per stream run; close comes last', () => {
  const { h, sock, conn, got } = attach();
  assert.equal(sock.reading, true, 'reads from the start');
  conn.on('data', (s, d) => got.push(`${s}:${d.toString()}`));
  conn.on('close', () => got.push('close'));
  h.records([record(2, 'a'), record(2, 'b'), record(3, 'E'), record(1, 'stdin? ignored'), record(2, 'c'), record(2, 'd')]);
  assert.deepEqual(got, ['1:ab', '2:E', '1:cd']);
  h.end();
  assert.deepEqual(got, ['1:ab', '2:E', '1:cd', 'close']);
  assert.equal(sock.closed, true, 'the native socket is closed at EOF');
});

test('attach socket: pause stops the native reader, resume starts it again', () => {
  const { sock, conn, calls } = attach();
  conn.pause();
  conn.pause();
  assert.equal(sock.reading, false);
  conn.resume();
  assert.equal(sock.reading, true);
  assert.deepEqual(calls, ['start', 'stop', 'start']);
});

test('attach socket: records before the first reader are queued (exec), bounded: past 256 KiB reading waits for the reader', () => {
  const { h, sock, conn, got } = attach({ queueUntilRead: true });
  h.records([record(2, 'early'), record(3, 'err')]);
  assert.equal(sock.reading, true);
  h.records([record(2, 'x'.repeat(256 * 1024))]);
  assert.equal(sock.reading, false, 'the queue is full: conmon waits');
  conn.on('data', (s, d) => got.push(`${s}:${d.length > 10 ? d.length : d.toString()}`));
  assert.deepEqual(got, ['1:early', '2:err', `1:${256 * 1024}`]);
  assert.equal(sock.reading, true, 'the reader came: reading goes on');
  h.records([record(2, 'late')]);
  assert.deepEqual(got.at(-1), '1:late');
});

test('attach socket: a paused socket whose process has exited reads to the end anyway', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'attach-socket-'));
  try {
    const pidFile = path.join(dir, 'pidfile');
    // a pid that is surely not running: the largest possible, never handed out
    fs.writeFileSync(pidFile, String(Number(fs.readFileSync('/proc/sys/kernel/pid_max', 'utf8')) ));
    const { sock, conn } = attach({ queueUntilRead: false, pidFile });
    conn.pause();
    assert.equal(sock.reading, false);
    for (let i = 0; i < 50 && !sock.reading; i++) await new Promise((r) => setTimeout(r, 20));
    assert.equal(sock.reading, true, 'the exit was noticed: reading resumed');
    conn.pause();
    assert.equal(sock.reading, true, 'and pause no longer stops it');
    conn.destroy();

    // a live process (this one) keeps a paused socket paused
    fs.writeFileSync(pidFile, String(process.pid));
    const live = attach({ queueUntilRead: false, pidFile });
    live.conn.pause();
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(live.sock.reading, false);
    live.conn.destroy();
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('attach socket: a reader that destroys the connection from its data callback stops the delivery there', () => {
  const { h, sock, conn, got } = attach();
  conn.on('data', (s, d) => { got.push(`${s}:${d.toString()}`); conn.destroy(); });
  h.records([record(2, 'a'), record(3, 'b')]);
  assert.deepEqual(got, ['1:a']);
  assert.equal(sock.closed, true);
});
