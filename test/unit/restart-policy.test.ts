import { test, mock } from 'node:test';
import assert from 'node:assert/strict';
import {
  RestartManager, decideRestart, killCancelsRestart, nextDelay, shouldStartOnDaemonBoot,
  INITIAL_DELAY_MS, MAX_DELAY_MS, type ExitFacts,
} from '../../src/services/restart-manager.js';

const exit = (over: Partial<ExitFacts> = {}): ExitFacts => ({
  exitCode: 1, manuallyStopped: false, restartCount: 0, runDurationMs: 50, prevDelayMs: 0, ...over,
});

test('no / empty policy never restarts', () => {
  for (const p of [{ Name: 'no' }, { Name: '' }, undefined, null]) {
    assert.equal(decideRestart(p, exit()).restart, false);
    assert.equal(decideRestart(p, exit({ exitCode: 0 })).restart, false);
  }
});

test('always restarts on any exit code, but not when the user cancelled it or the daemon stops', () => {
  const always = { Name: 'always' };
  assert.equal(decideRestart(always, exit({ exitCode: 0 })).restart, true);
  assert.equal(decideRestart(always, exit({ exitCode: 137 })).restart, true);
  // the flag alone (a kill with a non-stop signal) does not stop `always`
  assert.equal(decideRestart(always, exit({ manuallyStopped: true })).restart, true);
  assert.equal(decideRestart(always, exit({ manuallyStopped: true, canceled: true })).restart, false);
  assert.equal(decideRestart(always, exit({ daemonShuttingDown: true })).restart, false);
});

test('unless-stopped restarts unless the user stopped it', () => {
  const p = { Name: 'unless-stopped' };
  assert.equal(decideRestart(p, exit({ exitCode: 0 })).restart, true);
  assert.equal(decideRestart(p, exit({ exitCode: 3 })).restart, true);
  assert.equal(decideRestart(p, exit({ manuallyStopped: true })).restart, false);
});

test('on-failure restarts only on a non-zero exit while retries remain (0 = unlimited)', () => {
  const p3 = { Name: 'on-failure', MaximumRetryCount: 3 };
  assert.equal(decideRestart(p3, exit({ exitCode: 0 })).restart, false);
  const seen: boolean[] = [];
  for (let count = 0; count < 5; count++) seen.push(decideRestart(p3, exit({ restartCount: count })).restart);
  assert.deepEqual(seen, [true, true, true, false, false]);
  const unlimited = { Name: 'on-failure', MaximumRetryCount: 0 };
  assert.equal(decideRestart(unlimited, exit({ restartCount: 10_000 })).restart, true);
  assert.equal(decideRestart({ Name: 'on-failure' }, exit({ restartCount: 10_000 })).restart, true);
  assert.equal(decideRestart(unlimited, exit({ exitCode: 0 })).restart, false);
});

test('back-off doubles from 100 ms, caps at one minute, and resets after 10 s of running', () => {
  const delays: number[] = [];
  let prev = 0;
  for (let i = 0; i < 12; i++) {
    const d = decideRestart({ Name: 'always' }, exit({ prevDelayMs: prev, runDurationMs: 200 }));
    assert.equal(d.restart, true);
    delays.push(d.delayMs);
    prev = d.delayMs;
  }
  assert.deepEqual(delays, [100, 200, 400, 800, 1600, 3200, 6400, 12800, 25600, 51200, 60000, 60000]);
  assert.equal(decideRestart({ Name: 'always' }, exit({ prevDelayMs: prev, runDurationMs: 9_999 })).delayMs, MAX_DELAY_MS);
  assert.equal(decideRestart({ Name: 'always' }, exit({ prevDelayMs: prev, runDurationMs: 10_000 })).delayMs, INITIAL_DELAY_MS);
  assert.equal(nextDelay(51_200, 0), 60_000);
});

test('daemon boot: always comes back even after a manual stop, unless-stopped not, never-started never', () => {
  const base = { manuallyStopped: false, startedBefore: true, running: false, exitCode: 0, restartCount: 0 };
  assert.equal(shouldStartOnDaemonBoot({ Name: 'always' }, base), true);
  assert.equal(shouldStartOnDaemonBoot({ Name: 'always' }, { ...base, manuallyStopped: true }), true);
  assert.equal(shouldStartOnDaemonBoot({ Name: 'unless-stopped' }, base), true);
  assert.equal(shouldStartOnDaemonBoot({ Name: 'unless-stopped' }, { ...base, manuallyStopped: true }), false);
  assert.equal(shouldStartOnDaemonBoot({ Name: 'no' }, { ...base, exitCode: 255 }), false);
  assert.equal(shouldStartOnDaemonBoot({ Name: 'always' }, { ...base, startedBefore: false }), false);
  assert.equal(shouldStartOnDaemonBoot({ Name: 'always' }, { ...base, running: true }), false);
  // on-failure: a hard restart gave exit 255, so it comes back while retries remain
  assert.equal(shouldStartOnDaemonBoot({ Name: 'on-failure' }, { ...base, exitCode: 255 }), true);
  assert.equal(shouldStartOnDaemonBoot({ Name: 'on-failure', MaximumRetryCount: 2 }, { ...base, exitCode: 255, restartCount: 2 }), false);
  assert.equal(shouldStartOnDaemonBoot({ Name: 'on-failure' }, base), false);
});

test('a kill cancels the policy for SIGKILL, the stop signal, or any signal without a StopSignal', () => {
  assert.equal(killCancelsRestart(9, 15), true);
  assert.equal(killCancelsRestart(15, undefined), true);
  assert.equal(killCancelsRestart(1, undefined), true);
  assert.equal(killCancelsRestart(3, 3), true);
  assert.equal(killCancelsRestart(1, 15), false);
});

test('RestartManager remembers the back-off per container and resets it on a user start', () => {
  const rm = new RestartManager();
  const p = { Name: 'always' };
  const facts = { exitCode: 1, manuallyStopped: false, restartCount: 0, runDurationMs: 10 };
  assert.deepEqual([rm.decide('a', p, facts).delayMs, rm.decide('a', p, facts).delayMs, rm.decide('a', p, facts).delayMs], [100, 200, 400]);
  assert.equal(rm.decide('b', p, facts).delayMs, 100, 'containers do not share a back-off');
  rm.reset('a');
  assert.equal(rm.decide('a', p, facts).delayMs, 100);
});

test('RestartManager timers fire once, can be cancelled, replaced and all cleared', (t) => {
  mock.timers.enable({ apis: ['setTimeout'] });
  t.after(() => mock.timers.reset());
  const errors: unknown[] = [];
  const rm = new RestartManager((_id, err) => errors.push(err));
  const fired: string[] = [];
  rm.schedule('a', 100, () => { fired.push('a'); });
  rm.schedule('b', 200, () => { fired.push('b'); });
  rm.schedule('c', 300, () => { fired.push('c'); });
  assert.equal(rm.pendingCount(), 3);
  assert.equal(rm.cancel('b'), true);
  assert.equal(rm.cancel('b'), false);
  rm.schedule('c', 50, () => { fired.push('c2'); }); // replaces the pending one
  mock.timers.tick(99);
  assert.deepEqual(fired, ['c2']);
  mock.timers.tick(1);
  assert.deepEqual(fired, ['c2', 'a']);
  mock.timers.tick(1000);
  assert.deepEqual(fired, ['c2', 'a'], 'the cancelled and the replaced timers never fire');
  assert.equal(rm.isPending('a'), false);
  rm.schedule('x', 10, () => { fired.push('x'); });
  rm.schedule('y', 10, () => { throw new Error('boom'); });
  rm.cancelAll();
  mock.timers.tick(100);
  assert.deepEqual(fired, ['c2', 'a']);
  assert.equal(rm.pendingCount(), 0);
  rm.schedule('y', 10, () => { throw new Error('boom'); });
  mock.timers.tick(10);
  assert.equal((errors[0] as Error).message, 'boom');
});

test('RestartManager passes an async failure of the restart to onError', async () => {
  const errors: unknown[] = [];
  const rm = new RestartManager((id, err) => errors.push([id, (err as Error).message]));
  await new Promise<void>((resolve) => {
    rm.schedule('z', 1, async () => { await Promise.resolve(); setImmediate(resolve); throw new Error('start failed'); });
  });
  await new Promise((r) => setImmediate(r));
  assert.deepEqual(errors, [['z', 'start failed']]);
});
