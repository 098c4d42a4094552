import { test } from 'node:test';
import assert from 'node:assert/strict';
import { conmonArgs, parseSyncLine } from '../../src/runtime/conmon.js';
import { deleteArgs, globalArgs, killArgs, parseRuncError, signalNumber } from '../../src/runtime/runc.js';

test('conmonArgs: detached container template', () => {
  const a = conmonArgs({
    cid: 'c1', cuuid: 'c1', name: 'web', runtime: '/usr/sbin/runc', bundle: '/run/berth/bundles/c1',
    containerPidFile: '/b/pidfile', conmonPidFile: '/b/conmon.pid', exitDir: '/run/berth/exits',
    persistDir: '/b/persist', fullAttach: true, logPaths: ['k8s-file:/d/ctr.log'], logLevel: 'warning',
    runtimeArgs: ['--root', '/run/berth/runc', '--log-format=json'], terminal: true, leaveStdinOpen: true,
  });
  assert.deepEqual(a, [
    '--api-version', '1', '-c', 'c1', '-u', 'c1', '-n', 'web', '-r', '/usr/sbin/runc', '-b', '/run/berth/bundles/c1',
    '-p', '/b/pidfile', '--conmon-pidfile', '/b/conmon.pid', '--exit-dir', '/run/berth/exits', '--persist-dir', '/b/persist',
    '--full-attach', '-l', 'k8s-file:/d/ctr.log', '--log-level', 'warning',
    '--runtime-arg=--root', '--runtime-arg=/run/berth/runc', '--runtime-arg=--log-format=json', '-t', '--leave-stdin-open',
  ]);
});

test('conmonArgs: stdin, exec and exit command options', () => {
  const a = conmonArgs({
    cid: 'c', cuuid: 's', runtime: 'runc', bundle: '/s', containerPidFile: '/s/exec_pid', stdin: true, exec: true,
    execAttach: true, execProcessSpec: '/s/process.json', logPaths: ['none'], exitCommand: '/bin/x', exitCommandArgs: ['--a', 'b'],
    logSizeMax: 1024, timeout: 5, sync: true,
  });
  const has = (...seq: string[]) => a.join('\u0000').includes(seq.join('\u0000'));
  assert.ok(has('-i'));
  assert.ok(!a.includes('-t'));
  assert.ok(has('-e', '--exec-attach', '--exec-process-spec', '/s/process.json'));
  assert.ok(has('--exit-command', '/bin/x', '--exit-command-arg=--a', '--exit-command-arg=b'));
  assert.ok(has('-l', 'none'));
  assert.ok(has('--log-size-max', '1024'));
  assert.ok(has('-T', '5'));
  assert.ok(has('--sync'));
  assert.ok(!a.includes('--full-attach'));
});

test('parseSyncLine: pid, runc error, garbage', () => {
  assert.deepEqual(parseSyncLine('{"data": 5960}'), { pid: 5960 });
  assert.deepEqual(parseSyncLine('{"data": 5960}\n'), { pid: 5960 });
  const msg = 'runc create failed: unable to start container process: exec: "/nonexistent": stat /nonexistent: no such file or directory';
  assert.deepEqual(parseSyncLine(JSON.stringify({ data: -1, message: `${msg}\n` })), { error: msg });
  assert.match(parseSyncLine('{"data": -1}').error!, /failure/);
  assert.match(parseSyncLine('').error!, /without a result/);
  assert.match(parseSyncLine('{"data": "x"}').error!, /invalid/);
  assert.match(parseSyncLine('not json').error!, /invalid/);
});

test('runc args and error parsing', () => {
  assert.deepEqual(globalArgs({ root: '/r', log: '/l', logFormat: 'json' }), ['--root', '/r', '--log', '/l', '--log-format', 'json']);
  assert.deepEqual(killArgs('x', 'SIGTERM', { all: true }), ['kill', '--all', 'x', '15']);
  assert.deepEqual(killArgs('x', 'kill'), ['kill', 'x', '9']);
  assert.deepEqual(deleteArgs('x', { force: true }), ['delete', '--force', 'x']);
  assert.equal(signalNumber('15'), 15);
  assert.equal(signalNumber('TERM'), 15);
  assert.equal(signalNumber('sigusr1'), 10);
  assert.equal(signalNumber('RTMIN+2'), 36);
  assert.throws(() => signalNumber('NOPE'));
  assert.throws(() => signalNumber(0));
  assert.equal(parseRuncError('{"level":"error","msg":"container does not exist","time":"x"}\n'), 'container does not exist');
  assert.equal(parseRuncError('{"level":"warning","msg":"w"}\n{"level":"error","msg":"boom"}'), 'boom');
  assert.equal(parseRuncError('plain failure\n'), 'plain failure');
});
