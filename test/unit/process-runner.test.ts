import { test } from 'node:test';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import assert from 'node:assert/strict';
import { posixRunner, RecordingRunner } from '../../src/sys/process-runner.js';
import { ExecFailure } from '../../src/sys/spawn.js';
import { Runc, RuncError, classifyRuncError } from '../../src/runtime/runc.js';
import { Iptables } from '../../src/network/iptables.js';
import { psVia } from '../../src/services/stats-service.js';
import { CtlWriter } from '../../src/runtime/conmon-ctl.js';
import { RecordingSys } from '../../src/sys/sys.js';
import { SystemError } from '../../src/errors.js';

test('the recording runner records calls, answers by rule (last match wins) and fails like execFile', async () => {
  const r = new RecordingRunner()
    .on('ps', { stdout: 'PID CMD\n1 sh\n' })
    .on((f, a) => f === 'ps' && a.includes('bogus'), { code: 1, stderr: 'error: unknown user-defined format specifier "bogus"' });
  assert.equal((await r.run('ps', ['-ef'])).stdout, 'PID CMD\n1 sh\n');
  await assert.rejects(r.run('ps', ['-o', 'bogus']), (e: unknown) => e instanceof ExecFailure && e.exitCode === 1 && /exit status 1/.test(e.message) && /bogus/.test(e.stderr));
  const c = await r.capture('/usr/bin/ps', [], { env: { A: '1' }, input: 'in' });
  assert.equal(c.code, 0);
  assert.deepEqual(r.calls.map((x) => [x.kind, x.file, x.args]), [['capture', 'ps', ['-ef']], ['capture', 'ps', ['-o', 'bogus']], ['capture', '/usr/bin/ps', []]]);
  assert.equal(r.calls[2]!.input, 'in');
  assert.deepEqual(r.calls[2]!.env, { A: '1' });
});

test('the recording runner spawns nothing: fake pid, scripted pipes, held exits', async () => {
  const r = new RecordingRunner().on('conmon', { stdout: 'hi' }).on('slow', {}, { hold: true });
  const c = r.spawn('/usr/bin/conmon', ['--cid', 'x'], { env: {}, fds: ['ignore', 'pipe-write'] });
  const chunks: Buffer[] = [];
  for await (const d of c.pipes.get(1)!) chunks.push(d as Buffer);
  assert.equal(Buffer.concat(chunks).toString(), 'hi');
  assert.deepEqual(await c.exited, { code: 0, signal: null });
  const s = r.spawn('slow', [], { env: {} });
  let settled = false;
  void s.exited.then(() => { settled = true; });
  await new Promise((res) => setImmediate(res));
  assert.equal(settled, false);
  r.exit(s.pid, { code: null, signal: 'SIGKILL' });
  assert.deepEqual(await s.exited, { code: null, signal: 'SIGKILL' });
  assert.deepEqual(r.calls.map((x) => x.kind), ['spawn', 'spawn']);
});

test('the posix runner runs real programs with execFile semantics', async () => {
  assert.equal((await posixRunner.run('sh', ['-c', 'printf out; printf err >&2'])).stdout, 'out');
  assert.equal((await posixRunner.run('cat', [], { input: 'fed' })).stdout, 'fed');
  await assert.rejects(posixRunner.run('sh', ['-c', 'echo no >&2; exit 3']), (e: unknown) => e instanceof ExecFailure && e.exitCode === 3 && e.stderr === 'no\n');
  const child = posixRunner.spawn('sh', ['-c', 'exit 7'], { env: {} });
  assert.deepEqual(await child.exited, { code: 7, signal: null });
});

test('runc errors are classified once, where runc is run: not-found is a kind, not a message to re-read', async () => {
  assert.equal(classifyRuncError('container does not exist'), 'not-found');
  assert.equal(classifyRuncError('container with id abc does not exist'), 'not-found');
  assert.equal(classifyRuncError('permission denied'), 'other');
  const r = new RecordingRunner()
    .on((_f, a) => a.includes('state'), { code: 1, stderr: '{"level":"error","msg":"container does not exist"}\n' })
    .on((_f, a) => a.includes('kill'), { code: 1, stderr: '{"level":"error","msg":"container not running"}\n' });
  const runc = new Runc('/usr/sbin/runc', '/run/x', r);
  assert.equal(await runc.state('abc'), undefined);
  await assert.rejects(runc.kill('abc', 'TERM'), (e: unknown) => e instanceof RuncError && e.reason === 'other' && e.message === 'container not running');
  assert.deepEqual(r.calls[0]!.args, ['--root', '/run/x', '--log-format', 'json', 'state', 'abc']);
  assert.deepEqual(r.calls[1]!.args.slice(-3), ['kill', 'abc', '15']);
});

test('iptables goes through the runner: restore gets the rules on stdin', async () => {
  const r = new RecordingRunner();
  const ipt = new Iptables(undefined, 'iptables', r);
  await ipt.restore('*nat\nCOMMIT\n');
  assert.deepEqual(r.calls.map((c) => [c.file, c.args, c.input]), [['iptables-restore', ['-w', '--noflush'], '*nat\nCOMMIT\n']]);
});

test('ps for top: through the runner; a failure names ps and carries its stderr', async () => {
  const r = new RecordingRunner().on('ps', { code: 1, stderr: 'error: garbage option\n' });
  await assert.rejects(psVia(r)(['-o', 'x']), (e: unknown) => e instanceof SystemError && /^ps: Command failed .*: error: garbage option$/.test(e.message));
  assert.deepEqual(r.calls[0]!.args, ['-o', 'x']);
});

test('the ctl writer replaces a resize still waiting its turn by the newest one; flush waits for both', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ctl-'));
  const fifo = path.join(dir, 'ctl');
  await posixRunner.run('mkfifo', [fifo]);
  const reader = fs.openSync(fifo, fs.constants.O_RDONLY | fs.constants.O_NONBLOCK);
  try {
    let unread = 0;
    const sys = new (class extends RecordingSys { override fifoUnread(): number { return unread; } })();
    const w = new CtlWriter(sys, 5000);
    const buf = Buffer.alloc(64);
    const first = w.send(fifo, '1 24 80\n');
    await first;
    unread = 8; // conmon has not read the first yet
    void w.send(fifo, '1 40 120\n');
    void w.send(fifo, '1 41 120\n');
    const flushed = w.flush(fifo);
    let done = false;
    void flushed.then(() => { done = true; });
    await new Promise((r) => setTimeout(r, 30));
    assert.equal(done, false, 'flush waits while the fifo holds an unread message');
    assert.equal(buf.toString('utf8', 0, fs.readSync(reader, buf)), '1 24 80\n');
    unread = 0;
    await flushed;
    assert.equal(buf.toString('utf8', 0, fs.readSync(reader, buf)), '1 41 120\n', 'only the newest size is written');
    await w.send(fifo, '2 0 0\n');
    assert.equal(buf.toString('utf8', 0, fs.readSync(reader, buf)), '2 0 0\n');
  } finally {
    fs.closeSync(reader);
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('the ctl writer waits for the fifo to drain through Sys (no ioctl of its own)', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ctl-'));
  const fifo = path.join(dir, 'ctl');
  await posixRunner.run('mkfifo', [fifo]);
  const reader = fs.openSync(fifo, fs.constants.O_RDONLY | fs.constants.O_NONBLOCK);
  try {
    let asked = 0;
    const sys = new (class extends RecordingSys { override fifoUnread(): number { return ++asked < 3 ? 5 : 0; } })();
    await new CtlWriter(sys).send(fifo, '1 24 80\n');
    assert.equal(asked, 3); // polled until the fake said drained
    const buf = Buffer.alloc(64);
    assert.equal(buf.toString('utf8', 0, fs.readSync(reader, buf)), '1 24 80\n');
  } finally {
    fs.closeSync(reader);
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
