// OCI runtimes: daemon.json runtimes / default-runtime / --add-runtime parsing in moby's words, the automatic
// choice of crun on cgroup v2, HostConfig.Runtime's check, and that a container's runtime (path, runtimeArgs,
// state root) is what every later call and its execs use.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadConfig } from '../../src/config/daemon-config.js';
import { checkRuntimeName, parseAddRuntimeFlags, parseRuntimesFile, selectRuntimes } from '../../src/core/runtimes.js';
import { InvalidParameterError } from '../../src/errors.js';
import { OciRuntimes } from '../../src/runtime/oci-runtimes.js';
import { RecordingRunner } from '../../src/sys/process-runner.js';
import { Paths } from '../../src/store/paths.js';
import { conmonArgs } from '../../src/runtime/conmon.js';
import { execConmonOptions } from '../../src/runtime/conmon-exec.js';

const file = (o: unknown) => (p: string) => (p === '/c.json' ? JSON.stringify(o) : undefined);
const load = (o: unknown, flags: Record<string, unknown> = {}) => loadConfig({ 'config-file': '/c.json', ...flags }, file(o));
const invalid = (re: RegExp) => (e: unknown) => e instanceof InvalidParameterError && re.test((e as Error).message);

test('daemon.json runtimes and default-runtime are taken; what berth cannot run is refused in moby\'s words', () => {
  const c = load({ runtimes: { rec: { path: '/usr/local/bin/rec', runtimeArgs: ['--debug'] }, crun: { path: 'crun' } }, 'default-runtime': 'rec' });
  assert.deepEqual(c.runtimes, { rec: { path: '/usr/local/bin/rec', runtimeArgs: ['--debug'] }, crun: { path: 'crun' } });
  assert.equal(c.defaultRuntime, 'rec');
  assert.deepEqual(load({}).runtimes, {});
  assert.equal(load({}).defaultRuntime, undefined);
  assert.throws(() => load({ runtimes: { runc: { path: '/x' } } }), invalid(/^runtime name 'runc' is reserved$/));
  assert.throws(() => load({ runtimes: { x: {} } }), invalid(/^runtime x: either a runtimeType or a path must be configured$/));
  assert.throws(() => load({ runtimes: { x: { runtimeType: 'io.containerd.kata.v2' } } }), invalid(/runtimeType is not supported/));
  assert.throws(() => load({ runtimes: { x: { path: '/x', options: {} } } }), invalid(/options is not supported/));
  assert.throws(() => load({ runtimes: { x: { path: '/x', runtimeArgs: '--debug' } } }), invalid(/runtimeArgs must be a list of strings/));
  assert.throws(() => load({ runtimes: { '../x': { path: '/x' } } }), invalid(/invalid runtime name: \.\.\/x/));
  assert.throws(() => load({ runtimes: ['x'] }), invalid(/runtimes must be an object/));
  assert.throws(() => load({ 'default-runtime': 3 }), invalid(/default-runtime must be a string/));
});

test('--add-runtime and --default-runtime: dockerd\'s flag rules, and a flag beside the same key in daemon.json is a conflict', () => {
  assert.deepEqual(parseAddRuntimeFlags(['Rec=/usr/local/bin/rec', 'b = /b']), { rec: { path: '/usr/local/bin/rec' }, b: { path: '/b' } });
  assert.throws(() => parseAddRuntimeFlags(['rec']), invalid(/^invalid runtime argument: rec$/));
  assert.throws(() => parseAddRuntimeFlags(['rec=']), invalid(/^invalid runtime argument: rec=$/));
  assert.throws(() => parseAddRuntimeFlags(['runc=/x']), invalid(/^runtime name 'runc' is reserved$/));
  assert.throws(() => parseAddRuntimeFlags(['a=/x', 'A=/y']), invalid(/^runtime 'a' was already defined$/));
  const c = load({}, { 'add-runtime': ['rec=/r'], 'default-runtime': 'rec' });
  assert.deepEqual([c.runtimes, c.defaultRuntime], [{ rec: { path: '/r' } }, 'rec']);
  assert.throws(() => load({ runtimes: { a: { path: '/a' } } }, { 'add-runtime': ['rec=/r'] }), /specified both as a flag and in the configuration file: add-runtime/);
  assert.throws(() => load({ 'default-runtime': 'runc' }, { 'default-runtime': 'runc' }), /specified both as a flag and in the configuration file: default-runtime/);
});

test('the default runtime: crun where the unified hierarchy runs and crun is installed, else runc; default-runtime decides when set', () => {
  const v2 = { runcPath: 'runc', crunPath: '/usr/bin/crun', unifiedCgroup: true };
  const hybrid = { ...v2, unifiedCgroup: false };
  const noCrun = { runcPath: 'runc', unifiedCgroup: true };
  const a = selectRuntimes({}, undefined, v2);
  assert.deepEqual([a.defaultRuntime, a.runtimes], ['crun', { runc: { path: 'runc' }, crun: { path: '/usr/bin/crun' } }]);
  const b = selectRuntimes({}, undefined, hybrid);
  assert.deepEqual([b.defaultRuntime, Object.keys(b.runtimes)], ['runc', ['runc']], 'crun refuses hybrid cgroups: not offered');
  assert.match(b.reason, /hybrid/);
  assert.deepEqual(selectRuntimes({}, undefined, noCrun).defaultRuntime, 'runc');
  assert.match(selectRuntimes({}, undefined, noCrun).reason, /not installed/);
  assert.equal(selectRuntimes({}, 'runc', v2).defaultRuntime, 'runc', 'Docker users can keep runc');
  const own = selectRuntimes({ crun: { path: '/opt/crun', runtimeArgs: ['--debug'] } }, undefined, v2);
  assert.deepEqual(own.runtimes['crun'], { path: '/opt/crun', runtimeArgs: ['--debug'] }, 'a configured crun replaces the detected one');
  assert.equal(selectRuntimes({ rec: { path: '/r' } }, 'rec', hybrid).defaultRuntime, 'rec');
  assert.throws(() => selectRuntimes({}, 'crun', hybrid), invalid(/^specified default runtime 'crun' does not exist$/));
  assert.throws(() => selectRuntimes({}, 'kata', v2), invalid(/^specified default runtime 'kata' does not exist$/));
});

test('HostConfig.Runtime: a configured name passes, any other is moby\'s 400', () => {
  assert.doesNotThrow(() => checkRuntimeName(undefined, ['runc']));
  assert.doesNotThrow(() => checkRuntimeName('', ['runc']));
  assert.doesNotThrow(() => checkRuntimeName('rec', ['runc', 'rec']));
  assert.throws(() => checkRuntimeName('kata', ['runc', 'rec']), invalid(/^unknown or invalid runtime name: kata$/));
});

test('a container keeps the runtime it was created with: recorded in its bundle, used by its calls and execs', async () => {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-rt-unit-'));
  try {
    const paths = new Paths(path.join(tmp, 'data'), path.join(tmp, 'exec'));
    const bin = path.join(tmp, 'rec');
    fs.writeFileSync(bin, '#!/bin/sh\n', { mode: 0o755 });
    const runner = new RecordingRunner().on((f) => f === bin, { stdout: '{"id":"c1","status":"running","pid":5}' });
    const rts = new OciRuntimes(paths, { runc: { path: 'runc' }, rec: { path: bin, runtimeArgs: ['--debug'] } }, 'runc', runner, '/usr/sbin/runc');
    assert.deepEqual(rts.names(), ['runc', 'rec']);
    assert.throws(() => rts.resolve('kata'), invalid(/unknown or invalid runtime name: kata/));
    const d = rts.resolve(undefined);
    assert.deepEqual([d.name, d.path, d.root, d.stock], ['runc', '/usr/sbin/runc', paths.runcRoot, true]);
    const rec = rts.resolve('rec');
    assert.deepEqual([rec.path, rec.runtimeArgs, rec.root, rec.stock], [bin, ['--debug'], path.join(tmp, 'exec', 'runtime-rec'), false]);
    fs.mkdirSync(paths.bundle('c1'), { recursive: true });
    rts.record('c1', rec);
    // a new berthd (live restore) reads it back from the bundle
    const again = new OciRuntimes(paths, { runc: { path: 'runc' } }, 'runc', runner, '/usr/sbin/runc');
    assert.deepEqual(again.of('c1'), rec, 'still rec after daemon.json dropped it');
    assert.equal(again.of('from-before').name, 'runc', 'a bundle without a record is runc\'s');
    await again.cli(again.of('c1')).kill('c1', 'TERM');
    assert.deepEqual(runner.calls.at(-1)!.file, bin);
    assert.deepEqual(runner.calls.at(-1)!.args, ['--debug', '--root', rec.root, '--log-format', 'json', 'kill', 'c1', '15']);
    const a = conmonArgs(execConmonOptions({
      containerId: 'c1', execId: 'e', sessionDir: '/s', runcPath: rec.path, runcRoot: rec.root, runtimeArgs: rec.runtimeArgs, terminal: false, stdin: false, attach: false,
    }));
    assert.ok(a.join(' ').includes(`-r ${bin}`), a.join(' '));
    assert.ok(a.join(' ').includes(`--runtime-arg=--debug --runtime-arg=--root --runtime-arg=${rec.root}`), a.join(' '));
    assert.throws(() => new OciRuntimes(paths, { gone: { path: '/no/such/runtime' } }, 'gone').resolve('gone'), /runtime gone: \/no\/such\/runtime: no such executable/);
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
});
