import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mergeImageConfig, parseSignal, processArgs, validateCreate, validateName, normalizePortKeys } from '../../src/core/container-config.js';
import { completeEnvFromImage as mergeEnv } from '../../src/core/env.js';
import { InvalidParameterError } from '../../src/errors.js';
import { startFailureExitCode, statusText, ZERO_TIME } from '../../src/services/container-service.js';

test('container names follow moby pattern (2+ chars)', () => {
  assert.equal(validateName('/web'), 'web');
  assert.equal(validateName('a_b.c-d'), 'a_b.c-d');
  for (const bad of ['a', '-foo', 'foo/bar', '', 'x y']) {
    assert.throws(() => validateName(bad), (e: Error) => e instanceof InvalidParameterError && /Invalid container name/.test(e.message));
  }
});

test('validateCreate rejects what moby rejects', () => {
  const cases: [object, RegExp][] = [
    [{ Image: 'x', HostConfig: { Memory: 524287 } }, /Minimum memory limit allowed is 6MB/],
    [{ Image: 'x', HostConfig: { Memory: -1 } }, /invalid memory limit/],
    [{ Image: 'x', HostConfig: { Memory: 64 << 20, MemorySwap: 32 << 20 } }, /Minimum memoryswap limit should be larger than memory limit/],
    [{ Image: 'x', HostConfig: { CpuShares: -1 } }, /invalid CPU shares \(-1\)/],
    [{ Image: 'x', HostConfig: { NanoCpus: 99e9 } }, /Range of CPUs is from 0.01 to 2.00/],
    [{ Image: 'x', HostConfig: { ShmSize: -1 } }, /SHM size can not be less than 0/],
    [{ Image: 'x', HostConfig: { RestartPolicy: { Name: 'something' } } }, /invalid restart policy: unknown policy 'something'/],
    [{ Image: 'x', HostConfig: { RestartPolicy: { Name: 'always', MaximumRetryCount: 2 } } }, /maximum retry count can only be used with 'on-failure'/],
    [{ Image: 'x', HostConfig: { RestartPolicy: { Name: 'on-failure', MaximumRetryCount: -2 } } }, /cannot be negative/],
    [{ Image: 'x', Env: ['=foo'] }, /invalid environment variable: =foo/],
    [{ Image: 'x', HostConfig: { NetworkMode: 'container:' } }, /invalid network mode: container/],
  ];
  for (const [body, re] of cases) {
    assert.throws(() => validateCreate(body as never, 2), (e: Error) => e instanceof InvalidParameterError && re.test(e.message), JSON.stringify(body));
  }
  validateCreate({ Image: 'x', HostConfig: { RestartPolicy: { Name: 'on-failure', MaximumRetryCount: 0 }, Memory: 64 << 20 } }, 2);
});

test('image config merge: user wins, env merged by key, entrypoint drops image cmd', () => {
  const img = { Cmd: ['sh'], Env: ['PATH=/bin', 'A=1'], WorkingDir: '/srv', User: 'app', Labels: { a: '1' } };
  const m = mergeImageConfig({ Image: 'x', Env: ['A=2', 'B=3'], Labels: { b: '2' } }, img);
  assert.deepEqual(m.Env, ['PATH=/bin', 'A=2', 'B=3']);
  assert.deepEqual(m.Cmd, ['sh']);
  assert.equal(m.WorkingDir, '/srv');
  assert.equal(m.User, 'app');
  assert.deepEqual(m.Labels, { a: '1', b: '2' });
  const e = mergeImageConfig({ Image: 'x', Entrypoint: ['/bin/echo'] }, img);
  assert.deepEqual(e.Entrypoint, ['/bin/echo']);
  assert.equal(e.Cmd, null);
  assert.deepEqual(processArgs(e), ['/bin/echo']);
  const c = mergeImageConfig({ Image: 'x', Cmd: ['echo', 'hi'] }, { Entrypoint: ['/init'], Cmd: ['x'] });
  assert.deepEqual(processArgs(c), ['/init', 'echo', 'hi']);
  assert.throws(() => processArgs(mergeImageConfig({ Image: 'x' }, {})), /no command specified/);
  assert.deepEqual(mergeEnv(['X'], ['X=1']), ['X=1']);
});

test('signals parse as docker accepts them', () => {
  assert.equal(parseSignal('TERM'), 15);
  assert.equal(parseSignal('SIGKILL'), 9);
  assert.equal(parseSignal('sigusr1'), 10);
  assert.equal(parseSignal('9'), 9);
  assert.equal(parseSignal('SIGRTMIN+3'), 37);
  assert.throws(() => parseSignal('NOPE'), /Invalid signal: NOPE/);
  assert.throws(() => parseSignal('0'), /Invalid signal/);
});

test('start failure exit codes follow docker (127 not found, 126 permission)', () => {
  assert.equal(startFailureExitCode('exec: "foo": executable file not found in $PATH'), 127);
  assert.equal(startFailureExitCode('exec: "/x": stat /x: no such file or directory'), 127);
  assert.equal(startFailureExitCode('exec: "/etc": permission denied'), 126);
  assert.equal(startFailureExitCode('something else'), 128);
});

test('status column text', () => {
  const now = Date.parse('2026-01-01T00:10:00Z');
  const base = { Running: false, Paused: false, Restarting: false, OOMKilled: false, Dead: false, Pid: 0, Error: '' };
  assert.equal(statusText({ ...base, Status: 'running', Running: true, ExitCode: 0, StartedAt: '2026-01-01T00:09:57Z', FinishedAt: ZERO_TIME }, now), 'Up 3 seconds');
  assert.equal(statusText({ ...base, Status: 'exited', ExitCode: 3, StartedAt: '2026-01-01T00:00:00Z', FinishedAt: '2026-01-01T00:08:00Z' }, now), 'Exited (3) 2 minutes ago');
  assert.equal(statusText({ ...base, Status: 'created', ExitCode: 0, StartedAt: ZERO_TIME, FinishedAt: ZERO_TIME }, now), 'Created');
});

test('detach keys: parse docker specs and scan a stream, releasing partial matches', async () => {
  const { parseDetachKeys, DetachScanner } = await import('../../src/core/detach-keys.js');
  assert.deepEqual([...parseDetachKeys(undefined)], [16, 17]);
  assert.deepEqual([...parseDetachKeys('a,ctrl-@,ctrl-x')], [97, 0, 24]);
  assert.throws(() => parseDetachKeys('ctrl-1'), /Invalid detach keys/);
  const s = new DetachScanner(parseDetachKeys('ctrl-p,ctrl-q'));
  let r = s.push(Buffer.from('ab\x10'));
  assert.equal(r.forward.toString(), 'ab');
  assert.equal(r.detached, false);
  r = s.push(Buffer.from('x'));
  assert.equal(r.forward.toString(), '\x10x');
  r = s.push(Buffer.from('\x10\x10\x11tail'));
  assert.equal(r.forward.toString(), '\x10');
  assert.equal(r.detached, true);
});

test('port keys are normalised as moby does: no protocol means tcp, protocols lower case', () => {
  assert.deepEqual(normalizePortKeys({ '80': {}, '443/TCP': {}, '53/udp': {} }), { '80/tcp': {}, '443/tcp': {}, '53/udp': {} });
  assert.deepEqual(Object.keys(mergeImageConfig({ ExposedPorts: { '8080/TCP': {} } }, { ExposedPorts: { '80': {} } }).ExposedPorts ?? {}).sort(), ['80/tcp', '8080/tcp']);
});
