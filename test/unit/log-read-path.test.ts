// The logs read path's pieces: the k8s-file record scanner, the per-stream runs (one frame per run of
// a stream's bytes), and streamLogs' two paths (plain: records straight into runs; entries: parsed,
// for timestamps/since/until/tail), which must hand out the same bytes in the same order.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { K8sLogParser, scanK8sRecords, type LogEntry, type LogStreamId } from '../../src/core/k8s-log.js';
import { StreamRuns } from '../../src/core/log-runs.js';
import { streamLogs, type LogOptions } from '../../src/services/log-driver/reader.js';

const T = '2026-11-22T20:01:00.580151849+00:00';
const rec = (stream: 'stdout' | 'stderr', tag: 'F' | 'P', data: string, time = T) => `${time} ${stream} ${tag} ${data}\n`;

test('scanK8sRecords: fields by offset, P without its newline, the unfinished record left for the next read', () => {
  const text = rec('stdout', 'F', 'hello') + rec('stderr', 'P', 'par') + 'garbage line\n' +
    rec('stdout', 'F', 'x', '2026-11-22T20:01:00.5+00:00') + rec('stdout', 'F', 'cut');
  const buf = Buffer.from(text);
  const cut = buf.length - 10;
  const got: [LogStreamId, boolean, string, string][] = [];
  const used = scanK8sRecords(buf, 0, cut, (b, s, p, tf, tt, df, dt) => got.push([s, p, b.toString('latin1', tf, tt), b.toString('latin1', df, dt)]));
  assert.deepEqual(got, [
    [1, false, T, 'hello\n'],
    [2, true, T, 'par'],
    // a shorter time than conmon's 35 bytes is still found (by search)
    [1, false, '2026-11-22T20:01:00.5+00:00', 'x\n'],
  ]);
  assert.equal(used, text.lastIndexOf(T), 'consumed up to the record the cut split');
  assert.equal(scanK8sRecords(buf, used, buf.length, () => undefined), buf.length);
});

test('StreamRuns: one run per stretch of a stream, order kept, runs capped, handed-out runs never overwritten', () => {
  const runs: [LogStreamId, Buffer][] = [];
  const r = new StreamRuns((s, d) => runs.push([s, d]), 64);
  const src = Buffer.from('0123456789'.repeat(20));
  r.add(1, src, 0, 10);
  r.add(1, src, 10, 20);
  r.add(2, src, 0, 5);
  r.add(1, src, 0, 100); // more than a run holds: split at 64-byte slabs
  r.flush();
  r.add(1, src, 0, 3);
  r.flush();
  r.flush(); // nothing more: no empty run
  const text = runs.map(([s, d]) => [s, d.toString()]);
  assert.deepEqual(text.slice(0, 2), [[1, '01234567890123456789'], [2, '01234']]);
  assert.equal(text.filter(([s]) => s === 1).map(([, d]) => d).join(''), `01234567890123456789${src.toString().slice(0, 100)}012`);
  assert.ok(runs.every(([, d]) => d.length <= 64));
  assert.equal(runs.at(-1)![1].toString(), '012');
  src.fill(0x7a); // the caller reuses its buffer: runs are copies
  assert.equal(runs[0]![1].toString(), '01234567890123456789');
});

/** A log with everything the parser joins or splits: partials, stream switches mid-partial, long lines. */
const ALPHABET = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789';
function sampleLog(): string {
  let s = '';
  for (let i = 0; i < 4000; i++) {
    const t = `2026-11-22T20:01:${String(i % 60).padStart(2, '0')}.${String(i).padStart(9, '0')}+00:00`;
    // varied bytes: a byte moved to the wrong place shows
    const long = ALPHABET.repeat(12).slice(i % 61, i % 61 + ((i * 37) % 700));
    switch (i % 7) {
      case 0: s += rec('stdout', 'F', `out ${i} ${long}`, t); break;
      case 1: s += rec('stderr', 'F', `err ${i}`, t); break;
      case 2: s += rec('stdout', 'P', `part-a ${i} `, t) + rec('stdout', 'P', 'part-b ', t) + rec('stdout', 'F', 'end', t); break;
      case 3: s += rec('stdout', 'P', `cut ${i} `, t) + rec('stderr', 'F', `between ${i}`, t) + rec('stdout', 'F', 'after', t); break;
      case 4: s += rec('stderr', 'P', `ep ${i}`, t) + rec('stderr', 'F', long, t); break;
      default: s += rec('stdout', 'F', `${i}`, t);
    }
  }
  return s + rec('stdout', 'P', 'no newline at the end');
}

/** What the entries (K8sLogParser) make of a log: the reference the fast path must equal. */
function reference(text: string, keep: (e: LogEntry) => boolean): [string, string][] {
  const out: [string, string][] = [];
  const p = new K8sLogParser((e) => { if (keep(e)) out.push([e.stream, e.data.toString('latin1')]); });
  p.push(Buffer.from(text, 'latin1'));
  p.flushPartial();
  return out;
}

/** Adjacent same-stream pieces merged: what a client reading frames in order sees. */
function merged(pieces: [string, string][]): [string, string][] {
  const out: [string, string][] = [];
  for (const [s, d] of pieces) {
    const last = out.at(-1);
    if (last && last[0] === s) last[1] += d; else out.push([s, d]);
  }
  return out;
}

async function read(file: string, opts: Partial<LogOptions>): Promise<[string, string][]> {
  const got: [string, string][] = [];
  await streamLogs(file, { stdout: true, stderr: true, timestamps: false, follow: false, ...opts }, {
    write: (s, d) => { got.push([s, d.toString('latin1')]); return true; },
    closed: () => false,
    drain: () => Promise.resolve(),
  }, { stopped: Promise.resolve() });
  return got;
}

test('streamLogs: the plain path gives the entries path\'s bytes in order, across read-buffer boundaries and rotated files', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'log-read-'));
  try {
    const text = sampleLog();
    assert.ok(text.length > 3 * 64 * 1024, 'spans several reads of the first read buffer');
    const file = path.join(dir, 'ctr.log');
    // a rotated file first, cut in the middle of a record (the reader carries it across files)
    const cut = Math.floor(text.length / 3) + 17;
    fs.writeFileSync(`${file}.1`, text.slice(0, cut), 'latin1');
    fs.writeFileSync(file, text.slice(cut), 'latin1');

    const all = merged(reference(text, () => true));
    assert.ok(all.length > 2000);
    assert.deepEqual(merged(await read(file, {})), all, 'plain path, both streams');
    // the entries path (tail: -1 is "all"; a huge tail keeps every entry)
    assert.deepEqual(merged(await read(file, { tail: 1_000_000 })), all, 'entries path');
    assert.deepEqual(merged(await read(file, { stderr: false })), merged(reference(text, (e) => e.stream === 'stdout')), 'stdout only');
    assert.deepEqual(merged(await read(file, { stdout: false })), merged(reference(text, (e) => e.stream === 'stderr')), 'stderr only');
    // -t through the plain path, against the entries path (a since of 0 keeps every entry but needs times)
    assert.deepEqual(merged(await read(file, { timestamps: true })), merged(await read(file, { timestamps: true, sinceMs: 0 })), '-t');
    assert.deepEqual(merged(await read(file, { timestamps: true, stdout: false })),
      merged(await read(file, { timestamps: true, stdout: false, sinceMs: 0 })), '-t, stderr only');
    const stamped = (await read(file, { timestamps: true })).map(([, d]) => d).join('');
    // Docker's RFC3339Nano: UTC, trailing zeros trimmed
    assert.ok(stamped.startsWith('2026-11-22T20:01:00Z out 0 \n2026-11-22T20:01:01.000000001Z err 1\n'), stamped.slice(0, 120));
    assert.match(stamped, /\n2026-11-22T20:01:02\.000000002Z part-a 2 part-b end\n/, 'a joined entry carries its first part\'s time');
    assert.match(stamped, /\n2026-11-22T20:01:03\.000000003Z cut 3 2026-11-22T20:01:03\.000000003Z between 3\n/, 'a partial cut by the other stream stands alone, with no newline');
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('streamLogs: runs, not lines, reach the sink (one frame per stretch of a stream)', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'log-read-'));
  try {
    const file = path.join(dir, 'ctr.log');
    let text = '';
    for (let i = 0; i < 1000; i++) text += rec('stdout', 'F', `line ${i}`);
    text += rec('stderr', 'F', 'oops');
    for (let i = 0; i < 10; i++) text += rec('stdout', 'F', `again ${i}`);
    fs.writeFileSync(file, text);
    const got = await read(file, {});
    assert.deepEqual(got.map(([s]) => s), ['stdout', 'stderr', 'stdout']);
    assert.equal(got[0]![1].split('\n').length, 1001);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('streamLogs: tail from the end of the newest file gives what parsing everything gives', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'log-read-'));
  try {
    const text = sampleLog();
    const file = path.join(dir, 'ctr.log');
    // the newest file is most of the log (tailStart reads it backwards over several chunks); the rotated
    // file holds the rest, for tails the newest cannot satisfy
    const cut = Math.floor(text.length / 10) + 5;
    fs.writeFileSync(`${file}.1`, text.slice(0, cut), 'latin1');
    fs.writeFileSync(file, text.slice(cut), 'latin1');
    const last = (keep: (e: LogEntry) => boolean, n: number) => merged(n === 0 ? [] : reference(text, keep).slice(-n));
    for (const n of [0, 1, 2, 3, 7, 100, 2500, 4000, 100_000]) {
      assert.deepEqual(merged(await read(file, { tail: n })), last(() => true, n), `tail ${n}`);
      assert.deepEqual(merged(await read(file, { tail: n, stdout: false })), last((e) => e.stream === 'stderr', n), `tail ${n}, stderr`);
    }
    // a log whose last record is partial: that entry is the last one
    fs.appendFileSync(file, rec('stderr', 'P', 'tail end'));
    const more = text + rec('stderr', 'P', 'tail end');
    assert.deepEqual(merged(await read(file, { tail: 2 })), merged(reference(more, () => true).slice(-2)));
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
