import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ExecFailure, execCapture, execFileFast, spawnFast } from '../../src/sys/spawn.js';

const env = { PATH: '/usr/sbin:/usr/bin:/sbin:/bin' };

test('execFileFast: stdout, stdin, exit codes and signals as execFile reports them', async () => {
  assert.deepEqual(await execFileFast('sh', ['-c', 'cat; echo err >&2'], { env, input: 'in\n' }), { stdout: 'in\n', stderr: 'err\n' });
  await assert.rejects(execFileFast('sh', ['-c', 'echo out; echo bad >&2; exit 3'], { env }),
    (e: unknown) => e instanceof ExecFailure && e.exitCode === 3 && e.stdout === 'out\n' && e.stderr === 'bad\n');
  await assert.rejects(execFileFast('sh', ['-c', 'kill -KILL $$'], { env }), (e: unknown) => e instanceof ExecFailure && e.signal === 'SIGKILL' && e.exitCode === null);
  await assert.rejects(execFileFast('/nonexistent/prog', [], { env }), (e: Error & { code?: string }) => e.code === 'ENOENT');
});

test('spawnFast: only the given environment, the given cwd, default signal dispositions, no inherited fds', async () => {
  // Taken before the spawn, so that our own pipe ends (open during it) would count as a leak.
  const inherited = new Set(fs.readdirSync('/proc/self/fd').map(Number).filter((fd) => {
    try { return !(Number.parseInt(/flags:\s+(\d+)/.exec(fs.readFileSync(`/proc/self/fdinfo/${fd}`, 'utf8'))![1]!, 8) & 0o2000000); } catch { return false; }
  }));
  const r = await execCapture('sh', ['-c', 'echo "$ONLY|${HOME:-unset}"; pwd; grep -E "^Sig(Ign|Blk)" /proc/self/status; ls /proc/self/fd'], { env: { ...env, ONLY: 'yes' }, cwd: '/tmp' });
  assert.equal(r.code, 0, r.stderr.toString());
  const lines = r.stdout.toString().trim().split('\n');
  assert.equal(lines[0], 'yes|unset');
  assert.equal(lines[1], '/tmp');
  // Node ignores SIGPIPE; a child must not inherit that (nor a blocked mask). glibc keeps its 2 internal RT signals.
  assert.match(lines[2]!, /^SigBlk:\s+0+$/);
  const ign = BigInt(`0x${lines[3]!.split(/\s+/)[1]}`);
  assert.equal(ign & (1n << 12n), 0n, 'SIGPIPE (13) is not ignored in the child');
  // 0, 1, 2 and the fd ls itself opens; nothing of ours, except what we inherited without close-on-exec
  // (a harness's pipe, say: child_process passes those on too).
  const fds = lines.slice(4).map(Number).filter((fd) => fd > 2 && !inherited.has(fd));
  assert.ok(fds.length <= 1, `fds of ours leaked into the child: ${fds.join(' ')}`);
});

test('spawnFast: pipes and files on fds above 2, as conmon needs them', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-spawn-'));
  try {
    const file = path.join(dir, 'sync');
    const fd = fs.openSync(file, 'w+');
    // child fd 3 = our file, 4 = a pipe the child reads, 5 = a pipe the child writes
    const c = spawnFast('sh', ['-c', 'echo to-file >&3; read l <&4; echo "got:$l" >&5'], { env, fds: ['ignore', 'ignore', 'ignore', fd, 'pipe-read', 'pipe-write'], detached: true });
    fs.closeSync(fd);
    const out: Buffer[] = [];
    c.pipes.get(5)!.on('data', (d: Buffer) => out.push(d));
    const closed = new Promise((r) => c.pipes.get(5)!.on('close', r));
    c.pipes.get(4)!.end('hello\n');
    assert.deepEqual(await c.exited, { code: 0, signal: null });
    await closed;
    assert.equal(Buffer.concat(out).toString(), 'got:hello\n');
    assert.equal(fs.readFileSync(file, 'utf8'), 'to-file\n');
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('spawnFast: detached children get a session of their own and are reaped', async () => {
  const r = await execCapture('sh', ['-c', 'ps -o sid= -p $$; echo $$'], { env });
  const [sid, pid] = r.stdout.toString().trim().split('\n').map((x) => Number(x.trim()));
  assert.notEqual(sid, pid, 'not detached: the session is berthd\'s');
  const c = spawnFast('sh', ['-c', 'ps -o sid= -p $$ > /dev/null; exit 7'], { env, detached: true });
  assert.deepEqual(await c.exited, { code: 7, signal: null });
  assert.ok(!fs.existsSync(`/proc/${c.pid}`) || !fs.readFileSync(`/proc/${c.pid}/stat`, 'utf8').includes(') Z '), 'no zombie left');
});
