import { test } from 'node:test';
import assert from 'node:assert/strict';
import { formatGoTime, localGoTime, parseRfc3339, utcGoTime, type GoTime } from '../../src/core/go-time.js';
import { goTimeString } from '../../src/cli/format.js';
import { rfc3339NanoFixed } from '../../src/cli/commands/system.js';
import { goTimeFromRfc3339 } from '../../src/cli/commands/network.js';
import { dockerTimestamp } from '../../src/core/k8s-log.js';

// 2024-05-01T10:00:00.5Z
const T = 1714557600_500000000n;

function withTz<R>(tz: string, f: () => R): R {
  const old = process.env.TZ;
  process.env.TZ = tz;
  try { return f(); } finally { if (old === undefined) delete process.env.TZ; else process.env.TZ = old; }
}

test('formatGoTime: the four layouts as Go prints them', () => {
  const utc = utcGoTime(T);
  assert.equal(formatGoTime(utc, 'String'), '2024-05-01 10:00:00.5 +0000 UTC');
  assert.equal(formatGoTime(utc, 'RFC3339'), '2024-05-01T10:00:00Z');
  assert.equal(formatGoTime(utc, 'RFC3339Nano'), '2024-05-01T10:00:00.5Z');
  assert.equal(formatGoTime(utc, 'RFC3339NanoFixed'), '2024-05-01T10:00:00.500000000Z');
  const cest: GoTime = { ns: T, offsetMin: 120, zone: 'CEST' };
  assert.equal(formatGoTime(cest, 'String'), '2024-05-01 12:00:00.5 +0200 CEST');
  assert.equal(formatGoTime(cest, 'RFC3339'), '2024-05-01T12:00:00+02:00');
  const west: GoTime = { ns: T, offsetMin: -(9 * 60 + 30), zone: '' };
  // An unnamed zone prints as -0700 in the MST position, minutes included.
  assert.equal(formatGoTime(west, 'String'), '2024-05-01 00:30:00.5 -0930 -0930');
  assert.equal(formatGoTime({ ns: T, offsetMin: 60, zone: '' }, 'String'), '2024-05-01 11:00:00.5 +0100 +0100');
  assert.equal(formatGoTime(west, 'RFC3339Nano'), '2024-05-01T00:30:00.5-09:30');
  // Whole seconds: no fraction in String and RFC3339Nano.
  assert.equal(formatGoTime(utcGoTime(1714557600_000000000n), 'String'), '2024-05-01 10:00:00 +0000 UTC');
  assert.equal(formatGoTime(utcGoTime(1714557600_000000000n), 'RFC3339Nano'), '2024-05-01T10:00:00Z');
  // Before the epoch: the fraction counts forward from the second below.
  assert.equal(formatGoTime(utcGoTime(-1n), 'RFC3339Nano'), '1969-12-31T23:59:59.999999999Z');
});

test('parseRfc3339: Z is UTC, an offset keeps its value and is unnamed unless the local zone has it', () => {
  assert.deepEqual(parseRfc3339('2024-05-01T10:00:00.5Z'), utcGoTime(T));
  withTz('UTC', () => {
    const t = parseRfc3339('2024-05-01T12:00:00.500+02:00')!;
    assert.deepEqual(t, { ns: T, offsetMin: 120, zone: '' });
  });
  withTz('Asia/Kolkata', () => {
    const t = parseRfc3339('2024-05-01T15:30:00.5+05:30')!;
    assert.equal(t.ns, T);
    assert.equal(t.offsetMin, 330);
  });
  assert.equal(parseRfc3339('2024-05-01 10:00:00Z'), undefined);
  assert.equal(parseRfc3339('yesterday'), undefined);
});

test('localGoTime follows TZ, with the numeric zone when Intl has no abbreviation', () => {
  withTz('UTC', () => assert.deepEqual(localGoTime(T), { ns: T, offsetMin: 0, zone: 'UTC' }));
  withTz('Asia/Kolkata', () => {
    assert.equal(formatGoTime(localGoTime(T), 'String'), '2024-05-01 15:30:00.5 +0530 +0530');
    assert.equal(formatGoTime(localGoTime(T), 'RFC3339NanoFixed'), '2024-05-01T15:30:00.500000000+05:30');
  });
  withTz('America/New_York', () => assert.equal(formatGoTime(localGoTime(T), 'String'), '2024-05-01 06:00:00.5 -0400 EDT'));
});

test('the CLI and log formatters all go through formatGoTime', () => {
  withTz('UTC', () => {
    assert.equal(goTimeString(1714557600_000), '2024-05-01 10:00:00 +0000 UTC');
    assert.equal(rfc3339NanoFixed(T), '2024-05-01T10:00:00.500000000Z');
    assert.equal(goTimeFromRfc3339('2024-05-01T10:00:00.5Z'), '2024-05-01 10:00:00.5 +0000 UTC');
    assert.equal(goTimeFromRfc3339('2024-05-01T12:00:00+02:00'), '2024-05-01 12:00:00 +0200 +0200');
    assert.equal(goTimeFromRfc3339('not a time'), 'not a time');
  });
  withTz('Europe/Berlin', () => {
    // Intl (en-US) names no European zone, so the numeric form stands in, minutes included.
    assert.equal(goTimeString(Date.UTC(2024, 0, 1, 12)), '2024-01-01 13:00:00 +0100 +0100');
  });
  assert.equal(dockerTimestamp(T), '2024-05-01T10:00:00.5Z');
});
