import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PassThrough, Writable } from 'node:stream';
import { JsonProgressWriter, formatProgress, type JsonMessage } from '../../src/api/stream/json-progress.js';

function lines(text: string): JsonMessage[] {
  assert.ok(text === '' || text.endsWith('\r\n'), 'messages end with \\r\\n');
  return text.split('\r\n').filter((l) => l !== '').map((l) => JSON.parse(l) as JsonMessage);
}

function collect(): { out: PassThrough; text: () => string } {
  const out = new PassThrough();
  const chunks: Buffer[] = [];
  out.on('data', (c: Buffer) => chunks.push(c));
  return { out, text: () => Buffer.concat(chunks).toString('utf8') };
}

test('status, progress, aux and error lines are what the docker CLI parses', async () => {
  const { out, text } = collect();
  let begun = 0;
  let t = 0;
  const w = new JsonProgressWriter(out, { begin: () => { begun++; }, now: () => t });
  assert.equal(w.started, false);
  await w.status('Pulling from x/y', 'latest');
  assert.equal(begun, 1);
  assert.equal(w.started, true);
  w.progress('abc', 'Downloading', 10, 100);
  t += 10;
  w.progress('abc', 'Downloading', 20, 100); // throttled away
  t += 200;
  w.progress('abc', 'Downloading', 50, 100);
  w.progress('abc', 'Downloading', 100, 100); // final: never throttled
  await w.status('Download complete', 'abc');
  await w.aux({ Tag: 'latest', Digest: 'sha256:00', Size: 5 });
  await w.error(new Error('boom'));
  await w.end();
  await new Promise((r) => setImmediate(r));
  assert.equal(begun, 1);
  const msgs = lines(text());
  assert.deepEqual(msgs[0], { status: 'Pulling from x/y', id: 'latest' });
  assert.deepEqual(msgs.slice(1, 4).map((m) => m.progressDetail), [{ current: 10, total: 100 }, { current: 50, total: 100 }, { current: 100, total: 100 }]);
  assert.equal(msgs[1]!.id, 'abc');
  assert.equal(msgs[1]!.status, 'Downloading');
  assert.match(msgs[2]!.progress!, /^\[=+>\s+\]\s+50B\/100B$/);
  assert.deepEqual(msgs[4], { status: 'Download complete', id: 'abc' });
  assert.deepEqual(msgs[5], { aux: { Tag: 'latest', Digest: 'sha256:00', Size: 5 } });
  assert.deepEqual(msgs[6], { errorDetail: { message: 'boom' }, error: 'boom' });
  assert.equal(msgs.length, 7);
  assert.ok(out.writableEnded);
});

test('end() on an unused writer still begins the response once', async () => {
  const { out } = collect();
  let begun = 0;
  const w = new JsonProgressWriter(out, { begin: () => { begun++; } });
  await w.end();
  await w.end();
  assert.equal(begun, 1);
});

test('a client that does not read: progress is coalesced per id, status lines wait for drain', async () => {
  const written: string[] = [];
  let release: (() => void) | undefined;
  // A sink that takes one chunk and then holds the next until released.
  const sink = new Writable({
    highWaterMark: 64,
    write(chunk: Buffer, _enc, cb) {
      written.push(chunk.toString());
      if (written.length === 1) release = cb; else cb();
    },
  });
  const w = new JsonProgressWriter(sink, { throttleMs: 0 });
  w.progress('a', 'Downloading', 1, 1000);
  assert.ok(sink.writableNeedDrain, 'the first progress line fills the small buffer');
  for (let i = 2; i < 500; i++) w.progress('a', 'Downloading', i, 1000);
  w.progress('b', 'Downloading', 7, 1000);
  let statusDone = false;
  const st = w.status('Download complete', 'b').then(() => { statusDone = true; });
  await new Promise((r) => setImmediate(r));
  assert.equal(statusDone, false, 'status waits for the client');
  release!();
  await st;
  await w.end();
  const msgs = lines(written.join(''));
  // The 498 progress updates for "a" collapse into at most one pending line; "b"'s was superseded by its status.
  const aLines = msgs.filter((m) => m.id === 'a');
  assert.ok(aLines.length <= 2, `a lines: ${aLines.length}`);
  assert.equal(aLines.at(-1)!.progressDetail!.current, 499);
  assert.deepEqual(msgs.filter((m) => m.id === 'b'), [{ status: 'Download complete', id: 'b' }]);
});

test('progress after the client went away is dropped, not thrown', async () => {
  const out = new PassThrough();
  const w = new JsonProgressWriter(out);
  out.destroy();
  w.progress('a', 'Downloading', 1, 2);
  assert.equal(w.closed, true);
  await w.end();
});

test('formatProgress: moby\'s JSONProgress.String at width 200 (bar always ending in >, %8v counts)', () => {
  assert.equal(formatProgress(0), '');
  assert.equal(formatProgress(1500), '   1.5kB');
  assert.equal(formatProgress(3_000_000, 3_000_000), `[${'='.repeat(50)}>]      3MB/3MB`);
  assert.equal(formatProgress(1_500_000, 3_000_000), `[${'='.repeat(25)}>${' '.repeat(25)}]    1.5MB/3MB`);
  assert.equal(formatProgress(0, 10), `[>${' '.repeat(50)}]       0B/10B`);
  assert.equal(formatProgress(20, 10), `[${'='.repeat(50)}>]      20B`, 'a current past the total drops the total');
});

test('a progress line without an id leaves id out, and zero counts, as Go\'s omitempty', async () => {
  const { PassThrough } = await import('node:stream');
  const sink = new PassThrough();
  let text = '';
  sink.on('data', (c: Buffer) => { text += c.toString(); });
  const w = new JsonProgressWriter(sink, { throttleMs: 1000, now: () => 0 });
  w.progress('', 'Downloading', 0, undefined);
  w.progress('', 'Downloading', 5, undefined); // throttled
  w.progress('', 'Downloading', 7, undefined, true); // last: never throttled
  await w.end();
  assert.deepEqual(text.trim().split('\r\n').map((l) => JSON.parse(l)), [
    { status: 'Downloading', progressDetail: {} },
    { status: 'Downloading', progressDetail: { current: 7 }, progress: '      7B' },
  ]);
});
