import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseGoDurationMs, parseGoDurationNs } from '../../src/core/go-duration.js';
import { parseGoDuration } from '../../src/core/filters.js';
import { parseDurationNs } from '../../src/cli/container-config.js';
import { toUnix } from '../../src/cli/commands/system.js';
import { applyChanges } from '../../src/core/dockerfile-change.js';

test('Go durations as time.ParseDuration reads them', () => {
  const cases: [string, number][] = [
    ['0', 0], ['-0', 0], ['+0', 0], ['1h30m', 5400e9], ['1.5h', 5400e9], ['300ms', 300e6], ['-1.5h', -5400e9],
    ['2h45m', 9900e9], ['1ns', 1], ['1us', 1e3], ['1µs', 1e3], ['1μs', 1e3], ['1ms', 1e6], ['1s', 1e9], ['1m', 60e9],
    ['1h', 3600e9], ['.5s', 5e8], ['5.s', 5e9], ['1h2m3.5s', 3723.5e9], ['+10s', 10e9], ['100h', 360000e9],
  ];
  for (const [s, ns] of cases) assert.equal(parseGoDurationNs(s), ns, s);
  for (const bad of ['', '-', '+', '1', '10', '.', '.s', 's', '1x', '1hh', '1h 30m', ' 1h', '1.5.5s', '3000000h', '0x1s', '1h-1m']) {
    assert.equal(parseGoDurationNs(bad), undefined, bad);
  }
  assert.equal(parseGoDurationMs('1.5s'), 1500);
  assert.equal(parseGoDurationMs('500us'), 0.5);
});

test('every former copy now reads compound and fractional durations the same way', () => {
  assert.equal(parseGoDuration('1h30m'), 5400e3);
  assert.equal(parseGoDuration(' 2h45m '), 9900e3); // filters trim, as before
  assert.equal(parseDurationNs('1h30m', '--health-interval'), 5400e9);
  assert.equal(parseDurationNs('', '--health-interval'), 0);
  assert.throws(() => parseDurationNs('5x', '--health-interval'), /time: invalid duration "5x"/);
  assert.equal(toUnix('1h30m', 10_000_000), ((10_000_000 - 5400e3) / 1000).toFixed(9));
  assert.equal(toUnix('1.5h', 10_000_000), ((10_000_000 - 5400e3) / 1000).toFixed(9));
  assert.equal(toUnix('0'), '0');
  const cfg = applyChanges({}, ['HEALTHCHECK --interval=1h30m --timeout=1.5s CMD true']);
  assert.equal(cfg.Healthcheck?.Interval, 5400e9);
  assert.equal(cfg.Healthcheck?.Timeout, 1.5e9);
});
