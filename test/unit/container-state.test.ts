import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  assertAllowed, initialState, refusal, statusText, transition, TRANSITIONS, STATUSES, ZERO_TIME, type ContainerState,
} from '../../src/core/container-state.js';
import { ConflictError, NotModifiedError, SystemError } from '../../src/errors.js';

const ctx = { id: 'abc', name: '/web' };
const running = (): ContainerState => transition(initialState(), 'started', { Pid: 42, StartedAt: new Date().toISOString() });

test('a created container starts; the flags follow the status', () => {
  const s = running();
  assert.equal(s.Status, 'running');
  assert.deepEqual([s.Running, s.Paused, s.Restarting, s.Dead, s.Pid], [true, false, false, false, 42]);
  const p = transition(s, 'paused');
  assert.deepEqual([p.Status, p.Running, p.Paused], ['paused', true, true]);
  const u = transition(p, 'unpaused');
  assert.deepEqual([u.Status, u.Running, u.Paused], ['running', true, false]);
});

test('an exit records its facts; with a restart the container is restarting and still "running"', () => {
  const e = transition(running(), 'exited', { Pid: 0, ExitCode: 3, FinishedAt: new Date().toISOString() });
  assert.deepEqual([e.Status, e.Running, e.ExitCode, e.Pid], ['exited', false, 3, 0]);
  const r = transition(running(), 'exited-restarting', { Pid: 0, ExitCode: 1 });
  assert.deepEqual([r.Status, r.Running, r.Restarting], ['restarting', true, true]);
  // the policy's start runs with Running false, then the start (or its cancellation) ends the restart
  const b = transition(r, 'restart-begin', { Running: false });
  assert.deepEqual([b.Status, b.Running, b.Restarting], ['restarting', false, true]);
  assert.equal(transition(b, 'started').Status, 'running');
  const c = transition(r, 'restart-ended', { Pid: 0 });
  assert.deepEqual([c.Status, c.Running, c.Restarting], ['exited', false, false]);
});

test('a start failure keeps the status; transitions outside the table are bugs', () => {
  const f = transition(initialState(), 'start-failed', { ExitCode: 127, Error: 'not found' });
  assert.deepEqual([f.Status, f.ExitCode, f.Error], ['created', 127, 'not found']);
  assert.throws(() => transition(initialState(), 'paused'), SystemError);
  assert.throws(() => transition(initialState(), 'exited'), SystemError);
  assert.throws(() => transition(running(), 'started'), SystemError);
  assert.throws(() => transition(running(), 'unpaused'), SystemError);
  // every event's sources are states
  for (const t of Object.values(TRANSITIONS)) for (const s of t.from) assert.ok(STATUSES.includes(s));
});

test('removing is reachable from every state', () => {
  for (const s of STATUSES) {
    assert.equal(transition({ ...initialState(), Status: s }, 'removing').Status, 'removing');
  }
  assert.equal(statusText(transition(initialState(), 'removing')), 'Removal In Progress');
});

test("Docker's 304 and 409 answers come from the state", () => {
  assert.ok(refusal('start', running(), ctx) instanceof NotModifiedError);
  assert.equal(refusal('start', initialState(), ctx), undefined);
  const startPaused = refusal('start', transition(running(), 'paused'), ctx);
  assert.ok(startPaused instanceof ConflictError, 'start of a paused container is a 409, as Docker');
  assert.equal(startPaused.message, 'cannot start a paused container, try unpause instead');
  assert.ok(refusal('stop', initialState(), ctx) instanceof NotModifiedError);
  assert.equal(refusal('stop', running(), ctx), undefined);
  const kill = refusal('kill', initialState(), { ...ctx, ref: 'web' });
  assert.ok(kill instanceof ConflictError);
  assert.equal(kill.message, 'cannot kill container: web: container abc is not running');
  assert.equal(refusal('pause', initialState(), ctx)?.message, 'Container abc is not running');
  assert.equal(refusal('pause', transition(running(), 'paused'), ctx)?.message, 'Container abc is already paused');
  assert.equal(refusal('unpause', running(), ctx)?.message, 'Container abc is not paused');
  const rm = refusal('remove', running(), ctx);
  assert.ok(rm instanceof ConflictError);
  assert.match(rm.message, /^cannot remove container "\/web": container is running/);
  assert.equal(refusal('remove', running(), { ...ctx, force: true }), undefined);
  const restarting = transition(running(), 'exited-restarting');
  assert.match(refusal('remove', restarting, ctx)!.message, /container is restarting/);
  assert.equal(refusal('attach', transition(running(), 'paused'), ctx)?.message, 'You cannot attach to a paused container, unpause it first');
  assert.equal(refusal('attach', initialState(), ctx), undefined);
  assert.equal(refusal('attach', { ...initialState(), Status: 'dead' }, ctx)?.message, 'You cannot attach to a stopped container, start it first');
  assert.throws(() => assertAllowed('resize', initialState(), ctx), ConflictError);
  assert.equal(initialState().StartedAt, ZERO_TIME);
});
