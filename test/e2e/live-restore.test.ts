// Live restore: kill -9 of berthd leaves containers running; a restarted berthd re-adopts them, has the
// logs they wrote meanwhile, knows the real exit code of one that exited meanwhile, and leaks nothing.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { conmonProcesses, memoryCgroupOf, mountsUnder, sleep, startDaemon, waitFor, type Daemon } from '../helpers/daemon.js';
import { docker, show, type CliOptions, type CliResult } from '../helpers/cli.js';
import { busyboxTar } from '../helpers/fixtures.js';

const IMG = 'busybox:local';
let d: Daemon;

async function ok(args: string[], opts?: CliOptions): Promise<CliResult> {
  const r = await docker(d.env, args, opts);
  assert.equal(r.code, 0, `docker ${args.join(' ')} failed: ${show(r)}\nberthd log:\n${d.logTail(1500)}`);
  return r;
}
const inspect = async (fmt: string, name: string) => (await ok(['inspect', '-f', fmt, name])).stdout.trim();
const ticks = (log: string) => [...log.matchAll(/^tick (\d+)$/gm)].map((m) => Number(m[1]));

// Facts recorded before the daemon dies, checked after it comes back.
const before_: { loopId?: string; sevenId?: string; loopPid?: number; lastTick?: number; cgroups: string[] } = { cgroups: [] };

before(async () => { d = await startDaemon(); });

after(async () => {
  if (!d) return;
  const leftovers = await d.cleanup();
  if (leftovers.length) console.error(`live-restore: swept leftovers: ${leftovers.join(', ')}`);
});

test('start two containers, then kill -9 berthd', async () => {
  await ok(['import', '--change', 'CMD ["sh"]', await busyboxTar(), IMG], { timeoutMs: 60_000 });
  before_.loopId = (await ok(['run', '-d', '--name', 'loop', '-m', '32m', IMG, 'sh', '-c',
    'i=0; while true; do i=$((i+1)); echo "tick $i"; sleep 0.2; done'])).stdout.trim();
  before_.sevenId = (await ok(['run', '-d', '--name', 'seven', '-m', '32m', IMG, 'sh', '-c', 'sleep 2; exit 7'])).stdout.trim();
  before_.loopPid = Number(await inspect('{{.State.Pid}}', 'loop'));
  const sevenPid = Number(await inspect('{{.State.Pid}}', 'seven'));
  for (const pid of [before_.loopPid, sevenPid]) {
    const cg = memoryCgroupOf(pid);
    assert.ok(cg && cg !== '/sys/fs/cgroup/memory', `pid ${pid} should have its own memory cgroup`);
    before_.cgroups.push(cg);
  }
  assert.equal(fs.readFileSync(path.join(d.dir, 'berthd.pid'), 'utf8').trim(), String(d.pid), '--pidfile');
  await waitFor(async () => ticks((await ok(['logs', 'loop'])).stdout).length >= 3, 5000);
  before_.lastTick = Math.max(...ticks((await ok(['logs', 'loop'])).stdout));

  await d.kill9();
  await sleep(3000);
  // While berthd is down, the container keeps running and `seven` has exited.
  assert.ok(fs.existsSync(`/proc/${before_.loopPid}`), 'the loop container died with berthd');
});

test('a restarted berthd re-adopts the running container (same pid)', async () => {
  await d.restart();
  assert.equal(await inspect('{{.State.Status}}', 'loop'), 'running');
  assert.equal(Number(await inspect('{{.State.Pid}}', 'loop')), before_.loopPid);
  const ps = await ok(['ps', '--format', '{{.Names}}\t{{.Status}}']);
  assert.match(ps.stdout, /^loop\tUp /m, show(ps));
  assert.equal(fs.readFileSync(path.join(d.dir, 'berthd.pid'), 'utf8').trim(), String(d.pid), '--pidfile after restart');
});

test('logs has what the container wrote while berthd was down', async () => {
  const log = (await ok(['logs', 'loop'])).stdout;
  const t = ticks(log);
  const max = Math.max(...t);
  // 3 s down at 5 lines/s: well over 8 lines written meanwhile.
  assert.ok(max >= (before_.lastTick ?? 0) + 8, `last tick before kill ${before_.lastTick}, now ${max}`);
  assert.deepEqual(t, Array.from({ length: max }, (_, i) => i + 1), 'no line lost or duplicated');
});

test('a container that exited while berthd was down shows its real exit code', async () => {
  assert.equal(await inspect('{{.State.Status}} {{.State.ExitCode}}', 'seven'), 'exited 7');
  const ps = await ok(['ps', '-a', '--format', '{{.Names}}\t{{.Status}}']);
  assert.match(ps.stdout, /^seven\tExited \(7\) /m, show(ps));
  const w = await ok(['wait', 'seven'], { timeoutMs: 10_000 });
  assert.equal(w.stdout.trim(), '7');
});

test('the re-adopted container can still be stopped (its exit is seen)', async () => {
  await ok(['stop', '-t', '1', 'loop'], { timeoutMs: 20_000 });
  assert.match(await inspect('{{.State.Status}} {{.State.ExitCode}}', 'loop'), /^exited (137|143)$/);
  assert.equal(fs.existsSync(`/proc/${before_.loopPid}`), false, 'the container process must be gone');
});

test('the restarted berthd runs new containers', async () => {
  assert.equal((await ok(['run', '--rm', IMG, 'echo', 'after-restart'])).stdout, 'after-restart\n');
});

test('rm -f of both leaks nothing: conmon, overlay mounts, cgroups', async () => {
  await ok(['rm', '-f', 'loop', 'seven']);
  assert.equal((await ok(['ps', '-aq'])).stdout, '');
  const ids = [before_.loopId!, before_.sevenId!];
  await waitFor(() => ids.every((id) => conmonProcesses(id).length === 0), 5000);
  for (const id of ids) assert.deepEqual(conmonProcesses(id), [], `conmon for ${id}`);
  assert.deepEqual(conmonProcesses(d.dir), []);
  assert.deepEqual(mountsUnder(d.dataRoot), []);
  for (const cg of before_.cgroups) assert.equal(fs.existsSync(cg), false, `cgroup ${cg} left behind`);
  for (const id of ids) {
    assert.equal(fs.existsSync(`/sys/fs/cgroup/memory/berth/${id}`), false, `memory cgroup berth/${id} left behind`);
  }
  await ok(['rmi', IMG]);
});
