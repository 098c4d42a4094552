import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Demuxer, muxFrame } from '../../src/api/stream/mux.js';
import { K8sLogParser, dockerTimestamp, parseTimeNs, type LogEntry } from '../../src/core/k8s-log.js';
import { parseFilters, parseGoDuration, parseTimestamp, matchLabels } from '../../src/core/filters.js';

test('mux frames round-trip through the demuxer across chunk boundaries', () => {
  const frames = Buffer.concat([muxFrame(1, Buffer.from('hello\n')), muxFrame(2, Buffer.from('err')), muxFrame(1, Buffer.alloc(0))]);
  assert.deepEqual([...frames.subarray(0, 8)], [1, 0, 0, 0, 0, 0, 0, 6]);
  const got: [number, string][] = [];
  const d = new Demuxer((s, p) => got.push([s, p.toString()]));
  for (let i = 0; i < frames.length; i += 3) d.push(frames.subarray(i, i + 3));
  assert.deepEqual(got, [[1, 'hello\n'], [2, 'err'], [1, '']]);
});

test('k8s-file parser joins partial records and keeps streams apart', () => {
  const out: LogEntry[] = [];
  const p = new K8sLogParser((e) => out.push(e));
  const text = '2026-11-22T20:01:00.580151849+00:00 stdout F hello\n' +
    '2026-11-22T20:01:00.600000000+00:00 stderr F err\n' +
    '2026-11-22T20:01:01.000000000+00:00 stdout P par\n' +
    '2026-11-22T20:01:01.100000000+00:00 stdout F tial\n' +
    '2026-11-22T20:01:02.000000000+00:00 stdout P no-newline\n';
  const b = Buffer.from(text);
  p.push(b.subarray(0, 30));
  p.push(b.subarray(30));
  p.flushPartial();
  assert.deepEqual(out.map((e) => [e.stream, e.data.toString()]), [
    ['stdout', 'hello\n'], ['stderr', 'err\n'], ['stdout', 'partial\n'], ['stdout', 'no-newline'],
  ]);
  assert.equal(out[0]!.timeNs, parseTimeNs('2026-11-22T20:01:00.580151849+00:00'));
  assert.equal(dockerTimestamp(out[0]!.timeNs), '2026-11-22T20:01:00.580151849Z');
  assert.equal(dockerTimestamp(parseTimeNs('2026-11-22T20:01:00.500000000+00:00')), '2026-11-22T20:01:00.5Z');
});

test('filters: both JSON forms, invalid JSON is InvalidParameter', () => {
  assert.deepEqual(parseFilters('{"label":["a=b"],"status":{"running":true}}'), new Map([['label', ['a=b']], ['status', ['running']]]));
  assert.throws(() => parseFilters('garb1age}'), /invalid filter/);
  assert.throws(() => parseFilters('{"nope":["x"]}', ['label']), /invalid filter 'nope'/);
  assert.ok(matchLabels(['a', 'b=2'], { a: '', b: '2' }));
  assert.ok(!matchLabels(['b=3'], { b: '2' }));
});

test('timestamps: unix, RFC3339, Go durations', () => {
  assert.equal(parseGoDuration('1m30s'), 90000);
  assert.equal(parseGoDuration('1h'), 3600000);
  assert.equal(parseGoDuration('abc'), undefined);
  assert.equal(parseTimestamp('1700000000.5'), 1700000000500);
  assert.equal(parseTimestamp('10s', 100000), 90000);
  assert.equal(parseTimestamp('2026-01-01T00:00:00Z'), Date.parse('2026-01-01T00:00:00Z'));
  assert.throws(() => parseTimestamp('yesterday'), /failed to parse/);
});
