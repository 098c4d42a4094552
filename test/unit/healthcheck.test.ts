import { test, mock, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import {
  goDuration, healthSuffix, mergeHealthcheck, probeCommand, resolveHealthcheck, truncateOutput, validateHealthcheck,
  type HealthState,
} from '../../src/core/healthcheck.js';
import { InvalidParameterError } from '../../src/errors.js';
import { HealthMonitor, type ProbeResult } from '../../src/services/health-monitor.js';

const S = 1_000_000_000; // one second in ns
const MS = 1_000_000;

// ----- config: parse, defaults, merge, validation

test('defaults: interval 30s, timeout 30s, retries 3, start period 0, start interval 5s', () => {
  const s = resolveHealthcheck({ Test: ['CMD-SHELL', 'wget -q -O- localhost'] });
  assert.ok(s);
  assert.deepEqual(s.cmd, ['/bin/sh', '-c', 'wget -q -O- localhost']);
  assert.equal(s.intervalMs, 30_000);
  assert.equal(s.timeoutMs, 30_000);
  assert.equal(s.retries, 3);
  assert.equal(s.startPeriodMs, 0);
  assert.equal(s.startIntervalMs, 5_000);
  assert.equal(s.timeoutText, '30s');
  const t = resolveHealthcheck({ Test: ['CMD', 'true'], Interval: 2 * S, Timeout: 1500 * MS, Retries: 5, StartPeriod: 10 * S, StartInterval: 1 * S });
  assert.deepEqual(t, { cmd: ['true'], intervalMs: 2000, timeoutMs: 1500, startPeriodMs: 10_000, startIntervalMs: 1000, retries: 5, timeoutText: '1.5s' });
});

test('probe command: CMD execs, CMD-SHELL uses the container shell, NONE / empty / unknown mean no probe', () => {
  assert.deepEqual(probeCommand({ Test: ['CMD', 'curl', '-f', 'http://x/'] }), ['curl', '-f', 'http://x/']);
  assert.deepEqual(probeCommand({ Test: ['CMD-SHELL', 'exit 1'] }, ['/bin/bash', '-ec']), ['/bin/bash', '-ec', 'exit 1']);
  assert.equal(probeCommand({ Test: ['NONE'] }), undefined);
  assert.equal(probeCommand({ Test: [] }), undefined);
  assert.equal(probeCommand({ Test: ['CMD'] }), undefined);
  assert.equal(probeCommand({ Test: ['BOGUS', 'x'] }), undefined);
  assert.equal(probeCommand(undefined), undefined);
  assert.equal(resolveHealthcheck({ Test: ['NONE'], Interval: S }), undefined);
});

test('merge: the image fills what the user left unset; --no-healthcheck (NONE) wins', () => {
  const image = { Test: ['CMD-SHELL', 'check'], Interval: 5 * S, Timeout: 2 * S, Retries: 4 };
  assert.deepEqual(mergeHealthcheck(undefined, image), image);
  assert.deepEqual(mergeHealthcheck({ Interval: 1 * S }, image), { Test: ['CMD-SHELL', 'check'], Interval: 1 * S, Timeout: 2 * S, Retries: 4 });
  assert.deepEqual(mergeHealthcheck({ Test: ['CMD', 'other'], Retries: 0 }, image)!.Test, ['CMD', 'other']);
  assert.equal(mergeHealthcheck({ Test: ['CMD', 'other'], Retries: 0 }, image)!.Retries, 4);
  const none = mergeHealthcheck({ Test: ['NONE'] }, image);
  assert.deepEqual(none!.Test, ['NONE']);
  assert.equal(resolveHealthcheck(none), undefined);
  assert.equal(mergeHealthcheck(undefined, undefined), undefined);
  assert.deepEqual(mergeHealthcheck({ Test: ['CMD', 'x'] }, undefined), { Test: ['CMD', 'x'] });
});

test('validation: moby messages, zero means default, 1ms is the floor', () => {
  const bad = (hc: object, msg: string) => assert.throws(() => validateHealthcheck(hc), (e: unknown) => e instanceof InvalidParameterError && (e as Error).message === msg);
  bad({ Interval: -10 * MS }, 'Interval in Healthcheck cannot be less than 1ms');
  bad({ Interval: 500_000 }, 'Interval in Healthcheck cannot be less than 1ms');
  bad({ Interval: S, Timeout: -100 * MS }, 'Timeout in Healthcheck cannot be less than 1ms');
  bad({ Interval: S, Timeout: S, Retries: -10 }, 'Retries in Healthcheck cannot be negative');
  bad({ Interval: S, Timeout: S, StartPeriod: 100_000 }, 'StartPeriod in Healthcheck cannot be less than 1ms');
  bad({ StartInterval: 1 }, 'StartInterval in Healthcheck cannot be less than 1ms');
  bad({ Test: 'CMD true' }, 'invalid Healthcheck: Test must be an array of strings');
  bad({ Interval: 1.5 }, 'invalid Healthcheck: Interval must be an integer');
  validateHealthcheck({ Test: ['CMD', 'true'], Interval: 0, Timeout: 0, Retries: 0, StartPeriod: 0 });
  validateHealthcheck({ Interval: MS, Timeout: MS, StartPeriod: MS, StartInterval: MS });
  validateHealthcheck(null);
  validateHealthcheck(undefined);
});

test('Go duration text and output truncation', () => {
  assert.deepEqual([30 * S, 1500 * MS, 500 * MS, 60 * S, 150 * S, 3600 * S, 100_000, 1, 0].map(goDuration),
    ['30s', '1.5s', '500ms', '1m0s', '2m30s', '1h0m0s', '100µs', '1ns', '0s']);
  assert.equal(truncateOutput('ok\n'), 'ok\n');
  const long = 'x'.repeat(5000);
  const out = truncateOutput(long);
  assert.equal(out.length, 4096 + 3);
  assert.ok(out.endsWith('x...'));
  assert.equal(truncateOutput('y'.repeat(4096)), 'y'.repeat(4096));
  assert.equal(healthSuffix('starting'), ' (health: starting)');
  assert.equal(healthSuffix('healthy'), ' (healthy)');
  assert.equal(healthSuffix(''), ' (unhealthy)');
});

// ----- the monitor, driven by a fake probe and fake timers

type Planned = ProbeResult | 'hang' | Error;

function harness(t: TestContext, plan: Planned[]) {
  mock.timers.enable({ apis: ['setTimeout', 'Date'], now: 1_000_000 });
  t.after(() => mock.timers.reset());
  const calls: { id: string; cmd: string[]; timeoutMs: number; at: number }[] = [];
  const aborted: number[] = [];
  const statuses: string[] = [];
  const changes: HealthState[] = [];
  const mon = new HealthMonitor({
    runProbe: (id, cmd, timeoutMs, signal) => {
      calls.push({ id, cmd, timeoutMs, at: Date.now() });
      const p = plan.length ? plan.shift()! : { exitCode: 0, output: '' };
      if (p instanceof Error) return Promise.reject(p);
      if (p === 'hang') {
        return new Promise((resolve) => signal.addEventListener('abort', () => { aborted.push(Date.now()); resolve({ exitCode: 137, output: 'partial' }); }));
      }
      return Promise.resolve(p);
    },
    onStatus: (id, s) => statuses.push(`${id}:${s}`),
    onChange: (_id, h) => changes.push(h),
  });
  // Let fired timers' promise chains run (setImmediate is not faked).
  const flush = async () => { for (let i = 0; i < 3; i++) await new Promise((r) => setImmediate(r)); };
  const advance = async (ms: number) => { mock.timers.tick(ms); await flush(); };
  return { mon, calls, aborted, statuses, changes, advance, flush };
}

const hc = (over: object = {}) => ({ Test: ['CMD-SHELL', 'probe'], Interval: 2 * S, Timeout: 1 * S, Retries: 3, ...over });

test('starting → healthy → unhealthy after Retries consecutive failures, events only on a change', async (t) => {
  const h = harness(t, [
    { exitCode: 0, output: 'ok' }, { exitCode: 0, output: 'ok' },
    { exitCode: 1, output: 'bad' }, { exitCode: 1, output: 'bad' }, { exitCode: 1, output: 'bad' }, { exitCode: 1, output: 'bad' },
    { exitCode: 0, output: 'ok' },
  ]);
  assert.equal(h.mon.start('c1', hc(), { startedAt: Date.now() }), true);
  assert.equal(h.mon.health('c1')!.Status, 'starting');
  assert.equal(h.mon.statusSuffix('c1'), ' (health: starting)');
  await h.advance(1999);
  assert.equal(h.calls.length, 0, 'the first probe waits one interval');
  await h.advance(1);
  assert.equal(h.calls.length, 1);
  assert.deepEqual(h.calls[0]!.cmd, ['/bin/sh', '-c', 'probe']);
  assert.equal(h.calls[0]!.timeoutMs, 1000);
  assert.equal(h.mon.health('c1')!.Status, 'healthy');
  assert.equal(h.mon.statusSuffix('c1'), ' (healthy)');
  assert.deepEqual(h.statuses, ['c1:healthy']);
  await h.advance(2000); // ok
  await h.advance(2000); // fail 1
  await h.advance(2000); // fail 2
  let st = h.mon.health('c1')!;
  assert.equal(st.Status, 'healthy', 'still healthy below Retries');
  assert.equal(st.FailingStreak, 2);
  await h.advance(2000); // fail 3
  st = h.mon.health('c1')!;
  assert.equal(st.Status, 'unhealthy');
  assert.equal(st.FailingStreak, 3);
  assert.equal(h.mon.statusSuffix('c1'), ' (unhealthy)');
  assert.equal(h.mon.statusOf('c1'), 'unhealthy');
  await h.advance(2000); // fail 4: no new event
  assert.deepEqual(h.statuses, ['c1:healthy', 'c1:unhealthy']);
  await h.advance(2000); // ok again
  assert.equal(h.mon.health('c1')!.FailingStreak, 0);
  assert.deepEqual(h.statuses, ['c1:healthy', 'c1:unhealthy', 'c1:healthy']);
  assert.equal(h.calls.length, 7);
  // the log keeps only the last 5 results, oldest first
  const log = h.mon.health('c1')!.Log;
  assert.equal(log.length, 5);
  assert.deepEqual(log.map((l) => l.ExitCode), [1, 1, 1, 1, 0]);
  assert.equal(log[4]!.Output, 'ok');
  assert.ok(Date.parse(log[0]!.Start) <= Date.parse(log[0]!.End));
  assert.ok(h.changes.length >= 7, 'every probe result is reported for persistence');
  h.mon.forget('c1');
  assert.equal(h.mon.health('c1'), undefined);
  assert.equal(h.mon.statusSuffix('c1'), '');
});

test('start period: failures while starting do not count, StartInterval paces the probes, then they count', async (t) => {
  const h = harness(t, Array.from({ length: 20 }, () => ({ exitCode: 1, output: 'no' })));
  h.mon.start('c', hc({ Interval: 10 * S, StartPeriod: 5 * S, StartInterval: 1 * S, Retries: 2 }), { startedAt: Date.now() });
  await h.advance(1000);
  await h.advance(1000);
  await h.advance(1000);
  await h.advance(1000);
  assert.equal(h.calls.length, 4, 'one probe per StartInterval during the start period');
  let st = h.mon.health('c')!;
  assert.equal(st.Status, 'starting');
  assert.equal(st.FailingStreak, 0);
  await h.advance(1000); // probe at t=5s: the start period is over → counts
  st = h.mon.health('c')!;
  assert.equal(h.calls.length, 5);
  assert.equal(st.FailingStreak, 1);
  assert.equal(st.Status, 'starting');
  await h.advance(1000);
  assert.equal(h.calls.length, 5, 'after the start period the Interval applies');
  await h.advance(9000);
  assert.equal(h.calls.length, 6);
  assert.equal(h.mon.health('c')!.Status, 'unhealthy');
  assert.deepEqual(h.statuses, ['c:unhealthy']);
});

test('start period: once a probe succeeded, failures inside the start period count', async (t) => {
  const h = harness(t, [{ exitCode: 0, output: '' }, { exitCode: 1, output: '' }, { exitCode: 1, output: '' }]);
  h.mon.start('c', hc({ Interval: 1 * S, StartPeriod: 60 * S, StartInterval: 1 * S, Retries: 2 }), { startedAt: Date.now() });
  await h.advance(1000);
  assert.equal(h.mon.health('c')!.Status, 'healthy');
  await h.advance(1000);
  await h.advance(1000);
  const st = h.mon.health('c')!;
  assert.equal(st.FailingStreak, 2);
  assert.equal(st.Status, 'unhealthy');
});

test('a probe over its timeout is aborted and recorded as exit -1 with Docker\'s message', async (t) => {
  const h = harness(t, ['hang', { exitCode: 0, output: 'fine' }]);
  h.mon.start('c', hc({ Interval: 2 * S, Timeout: 3 * S, Retries: 1 }), { startedAt: Date.now() });
  await h.advance(2000);
  assert.equal(h.calls.length, 1);
  await h.advance(2999);
  assert.equal(h.aborted.length, 0);
  assert.equal(h.mon.health('c')!.Log.length, 0);
  await h.advance(1);
  assert.equal(h.aborted.length, 1, 'the probe is aborted at its timeout');
  const st = h.mon.health('c')!;
  assert.equal(st.Log.length, 1);
  assert.equal(st.Log[0]!.ExitCode, -1);
  assert.equal(st.Log[0]!.Output, 'Health check exceeded timeout (3s): partial');
  assert.equal(st.Status, 'unhealthy');
  await h.advance(2000);
  assert.equal(h.calls.length, 2, 'the next probe comes one interval after the timed-out one ended');
  assert.equal(h.mon.health('c')!.Status, 'healthy');
});

test('a probe that cannot run counts as a failure with the error as output', async (t) => {
  const h = harness(t, [new Error('container is not running')]);
  h.mon.start('c', hc({ Retries: 1 }), { startedAt: Date.now() });
  await h.advance(2000);
  const st = h.mon.health('c')!;
  assert.deepEqual([st.Log[0]!.ExitCode, st.Log[0]!.Output, st.Status], [-1, 'container is not running', 'unhealthy']);
});

test('stop: no more probes, an in-flight result is dropped, status becomes unhealthy; start resets to starting and keeps the log', async (t) => {
  const h = harness(t, [{ exitCode: 0, output: '' }, 'hang', { exitCode: 0, output: '' }]);
  h.mon.start('c', hc(), { startedAt: Date.now() });
  await h.advance(2000);
  assert.equal(h.mon.health('c')!.Status, 'healthy');
  await h.advance(2000); // second probe hangs
  assert.equal(h.calls.length, 2);
  h.mon.stop('c');
  await h.flush();
  assert.equal(h.aborted.length, 1, 'the in-flight probe is aborted');
  let st = h.mon.health('c')!;
  assert.equal(st.Status, 'unhealthy');
  assert.equal(st.Log.length, 1, 'the aborted probe is not recorded');
  assert.equal(h.mon.isMonitoring('c'), false);
  await h.advance(60_000);
  assert.equal(h.calls.length, 2, 'nothing probes a stopped container');
  assert.deepEqual(h.statuses, ['c:healthy'], 'stopping emits no health_status event');
  // restart of the container
  h.mon.start('c', hc(), { startedAt: Date.now() });
  st = h.mon.health('c')!;
  assert.equal(st.Status, 'starting');
  assert.equal(st.FailingStreak, 0);
  assert.equal(st.Log.length, 1, 'the log survives a restart');
  await h.advance(2000);
  assert.equal(h.mon.health('c')!.Status, 'healthy');
  h.mon.stopAll();
  await h.advance(60_000);
  assert.equal(h.calls.length, 3);
});

test('pause stops probing; unpause resumes without resetting the state', async (t) => {
  const h = harness(t, [{ exitCode: 1, output: '' }, { exitCode: 0, output: '' }]);
  h.mon.start('c', hc(), { startedAt: Date.now() });
  await h.advance(2000);
  assert.equal(h.mon.health('c')!.FailingStreak, 1);
  h.mon.pause('c');
  assert.equal(h.mon.health('c')!.Status, 'unhealthy');
  await h.advance(10_000);
  assert.equal(h.calls.length, 1);
  h.mon.unpause('c');
  assert.equal(h.mon.health('c')!.FailingStreak, 1);
  await h.advance(2000);
  assert.equal(h.calls.length, 2);
  assert.equal(h.mon.health('c')!.Status, 'healthy');
});

test('no probe configured: start is a no-op; previous state seeds the log after a daemon restart', async (t) => {
  const h = harness(t, []);
  assert.equal(h.mon.start('n', { Test: ['NONE'] }, { startedAt: Date.now() }), false);
  assert.equal(h.mon.health('n'), undefined);
  assert.equal(h.mon.statusSuffix('n'), '');
  assert.equal(h.mon.statusOf('n'), 'none');
  const previous: HealthState = {
    Status: 'healthy', FailingStreak: 0,
    Log: [{ Start: '2024-01-01T00:00:00.000Z', End: '2024-01-01T00:00:00.100Z', ExitCode: 0, Output: 'old' }],
  };
  h.mon.start('r', hc(), { startedAt: Date.now(), previous });
  const st = h.mon.health('r')!;
  assert.equal(st.Status, 'starting', 'a re-adopted container starts over from starting');
  assert.deepEqual(st.Log.map((l) => l.Output), ['old']);
  h.mon.load('s', { ...previous, Status: 'unhealthy' });
  assert.equal(h.mon.health('s')!.Status, 'unhealthy');
  assert.equal(h.mon.isMonitoring('s'), false);
  h.mon.stopAll();
});
