// Issue 3's lifecycle acceptance tests with the REAL docker CLI (and the key ones again with bin/berth) against a
// private berthd: exec -d/-i/exit codes, stats vs the cgroup, top, pause/unpause, restart, restart policies
// (also across a berthd restart), health checks, update.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { api, memoryCgroupOf, sleep, startDaemon, waitFor, type Daemon } from '../helpers/daemon.js';
import { berth, docker, show, type CliOptions, type CliResult } from '../helpers/cli.js';
import { busyboxTar } from '../helpers/fixtures.js';

const IMG = 'busybox:life';
const HC_IMG = 'busybox:hc';
let d: Daemon;
type Cli = 'docker' | 'berth';
const run = (cli: Cli, args: string[], opts?: CliOptions) =>
  (cli === 'docker' ? docker : berth)(d.env, args, { timeoutMs: 30_000, ...opts });
const dk = (args: string[], opts?: CliOptions) => run('docker', args, opts);

async function ok(args: string[], opts?: CliOptions, cli: Cli = 'docker'): Promise<CliResult> {
  const r = await run(cli, args, opts);
  assert.equal(r.code, 0, `${cli} ${args.join(' ')} failed: ${show(r)}`);
  return r;
}
const inspect = async (name: string, fmt: string) => (await ok(['inspect', '-f', fmt, name])).stdout.trim();
const pidOf = async (name: string) => Number(await inspect(name, '{{.State.Pid}}'));
const idOf = (name: string) => inspect(name, '{{.Id}}');

/** The container's cgroup dir in a v1 controller hierarchy, found from its init pid (not from berth's layout). */
async function cgroupDir(name: string, controller: string): Promise<string> {
  const pid = await pidOf(name);
  if (controller === 'memory') {
    const m = memoryCgroupOf(pid);
    assert.ok(m, `no memory cgroup for pid ${pid}`);
    return m;
  }
  const line = fs.readFileSync(`/proc/${pid}/cgroup`, 'utf8').split('\n')
    .find((l) => l.split(':')[1]?.split(',').includes(controller));
  assert.ok(line, `pid ${pid} has no ${controller} cgroup`);
  return path.join('/sys/fs/cgroup', controller, line.split(':').slice(2).join(':'));
}

const UNIT: Record<string, number> = { B: 1, kB: 1000, KiB: 1024, MB: 1e6, MiB: 1024 ** 2, GB: 1e9, GiB: 1024 ** 3 };
function bytes(s: string): number {
  const m = /^([\d.]+)\s*([A-Za-z]+)$/.exec(s.trim());
  assert.ok(m && UNIT[m[2]!], `not a size: ${s}`);
  return Number(m[1]) * UNIT[m[2]!]!;
}

before(async () => {
  d = await startDaemon();
  const tar = await busyboxTar();
  await ok(['import', '--change', 'CMD ["sh"]', tar, IMG], { timeoutMs: 60_000 });
  await ok(['import', '--change', 'HEALTHCHECK --interval=1s CMD test -f /tmp/ok', '--change', 'CMD ["sleep", "1000"]', tar, HC_IMG],
    { timeoutMs: 60_000 });
});

after(async () => {
  if (!d) return;
  const leftovers = await d.cleanup();
  if (leftovers.length) console.error(`lifecycle-extras: swept leftovers: ${leftovers.join(', ')}`);
});

for (const cli of ['docker', 'berth'] as const) {
  const c = (args: string[], opts?: CliOptions) => run(cli, args, opts);
  const cok = (args: string[], opts?: CliOptions) => ok(args, opts, cli);
  const n = (s: string) => `${cli}-${s}`;

  test(`${cli}: exec -d, exec -i, exec exit codes`, async () => {
    const name = n('ex');
    await cok(['run', '-d', '--name', name, IMG, 'sleep', '1000']);
    const t0 = Date.now();
    const det = await cok(['exec', '-d', name, 'sh', '-c', 'sleep 2; touch /etc/new_config_file']);
    assert.ok(Date.now() - t0 < 1800, `exec -d must return without waiting for the command (took ${Date.now() - t0} ms)`);
    assert.equal(det.stdout, '', show(det));
    assert.notEqual((await dk(['exec', name, 'test', '-f', '/etc/new_config_file'])).code, 0, 'the detached command is still sleeping');
    assert.ok(await waitFor(async () => (await dk(['exec', name, 'test', '-f', '/etc/new_config_file'])).code === 0, 8000),
      'exec -d touch never happened');

    const cat = await cok(['exec', '-i', name, 'cat'], { input: 'x\n' });
    assert.equal(cat.stdout, 'x\n', show(cat));
    const wc = await cok(['exec', '-i', name, 'wc', '-l'], { input: 'a\nb\nc\n' });
    assert.equal(wc.stdout.trim(), '3', show(wc));

    const seven = await c(['exec', name, 'sh', '-c', 'echo o; echo e >&2; exit 7']);
    assert.equal(seven.code, 7, show(seven));
    assert.equal(seven.stdout, 'o\n');
    assert.equal(seven.stderr, 'e\n');
    const missing = await c(['exec', name, 'no-such-cmd']);
    assert.equal(missing.code, 127, show(missing));
    const dir = await c(['exec', name, '/etc']);
    assert.equal(dir.code, 126, show(dir));
    const env = await cok(['exec', '-e', 'FOO=bar', '-w', '/tmp', '-u', 'nobody', name, 'sh', '-c', 'echo $FOO $(pwd) $(id -u)']);
    assert.equal(env.stdout.trim(), `bar /tmp ${(await dk(['exec', name, 'id', '-u', 'nobody'])).stdout.trim()}`);
  });

  test(`${cli}: top lists the container's processes; stats --no-stream agrees with the cgroup`, async () => {
    const name = n('ex');
    await cok(['exec', '-d', name, 'sleep', '1002']);
    const procsFile = path.join(await cgroupDir(name, 'memory'), 'cgroup.procs');
    const inCgroup = new Set(fs.readFileSync(procsFile, 'utf8').split('\n').filter(Boolean));
    const top = await cok(['top', name]);
    const lines = top.stdout.trim().split('\n');
    const header = lines[0]!.trim().split(/\s+/);
    const pidCol = header.indexOf('PID');
    assert.ok(pidCol >= 0, show(top));
    const rows = lines.slice(1).map((l) => l.trim().split(/\s+/));
    assert.ok(rows.some((r) => r.join(' ').endsWith('sleep 1000')), show(top));
    assert.ok(rows.some((r) => r.join(' ').endsWith('sleep 1002')), show(top));
    assert.deepEqual(new Set(rows.map((r) => r[pidCol]!)), inCgroup, `top's PIDs must be the cgroup's processes: ${show(top)}`);

    const id = await idOf(name);
    const cg = await cgroupDir(name, 'memory');
    assert.equal(cg, `/sys/fs/cgroup/memory/berth/${id}`);
    const r = await cok(['stats', '--no-stream', '--format', '{{.Name}}|{{.MemUsage}}|{{.PIDs}}', name]);
    const usage = Number(fs.readFileSync(path.join(cg, 'memory.usage_in_bytes'), 'utf8'));
    const inactive = Number(/^total_inactive_file (\d+)$/m.exec(fs.readFileSync(path.join(cg, 'memory.stat'), 'utf8'))?.[1] ?? 0);
    const [nm, mem, pids] = r.stdout.trim().split('|');
    assert.equal(nm, name, show(r));
    const [used, limit] = mem!.split(' / ');
    // Docker's CLI shows usage minus inactive file cache.
    assert.ok(Math.abs(bytes(used!) - (usage - inactive)) < 512 * 1024, `stats ${used} vs cgroup ${usage - inactive}`);
    const cgLimit = Number(fs.readFileSync(path.join(cg, 'memory.limit_in_bytes'), 'utf8'));
    const hostMem = Number(/^MemTotal:\s+(\d+) kB/m.exec(fs.readFileSync('/proc/meminfo', 'utf8'))![1]) * 1024;
    assert.ok(Math.abs(bytes(limit!) - Math.min(cgLimit, hostMem)) / Math.min(cgLimit, hostMem) < 0.01, `limit ${limit}`);
    const pidsCurrent = fs.readFileSync(path.join(await cgroupDir(name, 'pids'), 'pids.current'), 'utf8').trim();
    assert.equal(pids, pidsCurrent, show(r));
    // Without a name: every running container, with docker's table header.
    const all = await cok(['stats', '--no-stream']);
    assert.match(all.stdout, /^CONTAINER ID\s+NAME\s+CPU %\s+MEM USAGE \/ LIMIT\s+MEM %\s+NET I\/O\s+BLOCK I\/O\s+PIDS$/m, show(all));
    assert.match(all.stdout, new RegExp(`\\s${name}\\s`), show(all));
  });

  test(`${cli}: pause and unpause change State.Status; exec in a paused container is refused`, async () => {
    const name = n('ex');
    const freezer = path.join(await cgroupDir(name, 'freezer'), 'freezer.state');
    const p = await cok(['pause', name]);
    assert.equal(p.stdout.trim(), name);
    assert.equal(await inspect(name, '{{.State.Status}} {{.State.Paused}} {{.State.Running}}'), 'paused true true');
    assert.equal(fs.readFileSync(freezer, 'utf8').trim(), 'FROZEN');
    assert.match((await cok(['ps', '--filter', `name=${name}`, '--format', '{{.Status}}'])).stdout, /^Up .* \(Paused\)$/m);
    const e = await c(['exec', name, 'true']);
    assert.notEqual(e.code, 0, show(e));
    assert.match(e.stderr, /paused/, show(e));
    const a = await api(d.socket, 'POST', `/containers/${name}/exec`, { Cmd: ['true'] });
    assert.equal(a.status, 409, a.body);
    const again = await c(['pause', name]);
    assert.notEqual(again.code, 0, show(again));
    assert.match(again.stderr, /is already paused/, show(again));
    const start = await api(d.socket, 'POST', `/containers/${name}/start`);
    assert.equal(start.status, 409, start.body);
    assert.match(start.body, /cannot start a paused container, try unpause instead/);

    assert.equal((await cok(['unpause', name])).stdout.trim(), name);
    assert.equal(await inspect(name, '{{.State.Status}} {{.State.Paused}}'), 'running false');
    assert.equal(fs.readFileSync(freezer, 'utf8').trim(), 'THAWED');
    await cok(['exec', name, 'true']);
    const un = await c(['unpause', name]);
    assert.notEqual(un.code, 0, show(un));
    assert.match(un.stderr, /is not paused/, show(un));
  });

  test(`${cli}: restart gives a new StartedAt and a new process`, async () => {
    const name = n('ex');
    await ok(['exec', name, 'touch', '/tmp/marker']);
    const before = await inspect(name, '{{.State.StartedAt}} {{.State.Pid}}');
    await sleep(20);
    const r = await cok(['restart', '-t', '1', name]);
    assert.equal(r.stdout.trim(), name);
    const afterRestart = await inspect(name, '{{.State.StartedAt}} {{.State.Pid}} {{.State.Status}}');
    const [s0, p0] = before.split(' ');
    const [s1, p1, st] = afterRestart.split(' ');
    assert.equal(st, 'running');
    assert.ok(Date.parse(s1!) > Date.parse(s0!), `StartedAt ${s0} → ${s1}`);
    assert.notEqual(p1, p0);
    assert.equal((await dk(['exec', name, 'test', '-f', '/tmp/marker'])).code, 0, 'restart keeps the container\'s filesystem');
    await cok(['rm', '-f', name]);
  });
}

test('an invalid restart policy is a 400 with docker\'s message', async () => {
  const r = await api(d.socket, 'POST', '/containers/create', { Image: IMG, HostConfig: { RestartPolicy: { Name: 'bogus' } } });
  assert.equal(r.status, 400, r.body);
  assert.match(JSON.parse(r.body).message, /invalid restart policy/i, r.body);
  const cli = await dk(['run', '-d', '--restart', 'on-failure:x', IMG, 'true']);
  assert.notEqual(cli.code, 0, show(cli));
});

test('--restart=always restarts with a growing RestartCount; stop ends it', async () => {
  await ok(['run', '-d', '--restart=always', '--name', 'api', IMG, 'sh', '-c', 'sleep 1; exit 1']);
  const seen: number[] = [];
  const got = await waitFor(async () => {
    const n = Number(await inspect('api', '{{.RestartCount}}'));
    if (seen.at(-1) !== n) seen.push(n);
    return n >= 2;
  }, 15_000, 200);
  assert.ok(got, `RestartCount only reached ${seen.at(-1)} in 15 s (seen ${seen.join(',')}); log:\n${d.logTail(1500)}`);
  assert.deepEqual(seen, [...seen].sort((a, b) => a - b), `RestartCount must only grow: ${seen.join(',')}`);
  assert.equal(await inspect('api', '{{.HostConfig.RestartPolicy.Name}}'), 'always');
});

test('a restart=always container comes back after berthd restarts', async () => {
  // A long-running one: live restore keeps it running, so kill it while berthd is down; berthd must restart it.
  await ok(['run', '-d', '--restart=always', '--name', 'keeper', IMG, 'sleep', '1000']);
  const pid = await pidOf('keeper');
  const apiCount = Number(await inspect('api', '{{.RestartCount}}'));
  await d.stop();
  process.kill(pid, 'SIGKILL');
  await waitFor(() => !fs.existsSync(`/proc/${pid}`) || fs.readFileSync(`/proc/${pid}/stat`, 'utf8').includes(') Z '), 5000);
  await d.restart();
  const back = await waitFor(async () => {
    const s = (await dk(['inspect', '-f', '{{.State.Status}} {{.State.Pid}}', 'keeper'])).stdout.trim().split(' ');
    return s[0] === 'running' && Number(s[1]) !== pid;
  }, 15_000, 200);
  assert.ok(back, `keeper is ${await inspect('keeper', '{{.State.Status}} {{.State.Pid}}')}; log:\n${d.logTail(1500)}`);
  const grew = await waitFor(async () => Number(await inspect('api', '{{.RestartCount}}')) > apiCount, 15_000, 200);
  assert.ok(grew, `api's RestartCount stayed at ${apiCount} after the berthd restart`);

  await ok(['stop', '-t', '1', 'api']);
  const stopped = await inspect('api', '{{.State.Status}} {{.RestartCount}}');
  await sleep(2500);
  assert.equal(await inspect('api', '{{.State.Status}} {{.RestartCount}}'), stopped, 'a stopped always-container must stay stopped');
  assert.match(stopped, /^exited /);
  await ok(['rm', '-f', 'api', 'keeper']);
});

test('--restart=on-failure:2 stops after 2 restarts; a clean exit is not restarted', async () => {
  await ok(['run', '-d', '--restart=on-failure:2', '--name', 'of2', IMG, 'sh', '-c', 'sleep 0.3; exit 3']);
  await ok(['run', '-d', '--restart=on-failure', '--name', 'of0', IMG, 'true']);
  const done = await waitFor(async () => (await inspect('of2', '{{.State.Status}} {{.RestartCount}}')) === 'exited 2', 15_000, 200);
  assert.ok(done, `of2: ${await inspect('of2', '{{.State.Status}} {{.RestartCount}} {{.State.ExitCode}}')}`);
  await sleep(3000);
  assert.equal(await inspect('of2', '{{.State.Status}} {{.RestartCount}} {{.State.ExitCode}}'), 'exited 2 3');
  assert.equal(await inspect('of0', '{{.State.Status}} {{.RestartCount}} {{.State.ExitCode}}'), 'exited 0 0');
  await ok(['rm', 'of2', 'of0']);
});

test('a health check goes starting → healthy → unhealthy; ps shows it; events are emitted', async () => {
  const since = Math.floor(Date.now() / 1000) - 1;
  await ok(['run', '-d', '--name', 'hc', '--health-cmd', 'test -f /tmp/ok', '--health-interval', '1s', '--health-retries', '2',
    IMG, 'sh', '-c', 'touch /tmp/ok; sleep 6; rm /tmp/ok; sleep 100']);
  const seen: string[] = [];
  let sawHealthyInPs = false;
  const status = () => inspect('hc', '{{if .State.Health}}{{.State.Health.Status}}{{else}}none{{end}}');
  const end = Date.now() + 20_000;
  while (Date.now() < end) {
    const s = await status();
    if (seen.at(-1) !== s) seen.push(s);
    if (s === 'healthy' && !sawHealthyInPs) {
      const ps = await ok(['ps', '--filter', 'name=hc', '--format', '{{.Status}}']);
      sawHealthyInPs = /^Up .* \(healthy\)$/m.test(ps.stdout);
      assert.ok(sawHealthyInPs, `ps while healthy: ${show(ps)}`);
    }
    if (s === 'unhealthy') break;
    await sleep(200);
  }
  assert.deepEqual(seen, ['starting', 'healthy', 'unhealthy']);
  assert.match((await ok(['ps', '--filter', 'name=hc', '--format', '{{.Status}}'])).stdout, /\(unhealthy\)/);
  const h = JSON.parse(await inspect('hc', '{{json .State.Health}}')) as { FailingStreak: number; Log: Array<{ ExitCode: number }> };
  assert.ok(h.FailingStreak >= 2, JSON.stringify(h));
  assert.ok(h.Log.length >= 1 && h.Log.at(-1)!.ExitCode === 1, JSON.stringify(h));
  assert.ok(h.Log.some((l) => l.ExitCode === 0), 'the log keeps the last probes, passing ones included');
  const ev = await ok(['events', '--since', String(since), '--until', String(Math.ceil(Date.now() / 1000) + 1),
    '--filter', 'container=hc', '--format', '{{.Action}}']);
  assert.match(ev.stdout, /^health_status: healthy$/m, show(ev));
  assert.match(ev.stdout, /^health_status: unhealthy$/m, show(ev));
  await ok(['rm', '-f', 'hc']);
});

test('an image HEALTHCHECK applies; --no-healthcheck disables it', async () => {
  await ok(['run', '-d', '--name', 'hci', HC_IMG]);
  assert.equal(await inspect('hci', '{{.State.Health.Status}}'), 'starting');
  assert.ok(await waitFor(async () => (await inspect('hci', '{{.State.Health.Status}}')) === 'unhealthy', 10_000, 200),
    'the image probe (test -f /tmp/ok) fails, so the container must turn unhealthy');
  await ok(['run', '-d', '--name', 'hcn', '--no-healthcheck', HC_IMG]);
  await sleep(1500);
  assert.equal(await inspect('hcn', '{{json .State.Health}}'), 'null');
  await ok(['rm', '-f', 'hci', 'hcn']);
});

test('update --memory 128m --memory-swap 256m changes the live cgroup; --restart updates the policy', async () => {
  await ok(['run', '-d', '--name', 'up', '-m', '64m', IMG, 'sleep', '1000']);
  const cg = await cgroupDir('up', 'memory');
  assert.equal(fs.readFileSync(path.join(cg, 'memory.limit_in_bytes'), 'utf8').trim(), String(64 * 1024 ** 2));
  const r = await ok(['update', '--memory', '128m', '--memory-swap', '256m', 'up']);
  assert.equal(r.stdout.trim(), 'up');
  assert.equal(fs.readFileSync(path.join(cg, 'memory.limit_in_bytes'), 'utf8').trim(), String(128 * 1024 ** 2));
  if (fs.existsSync(path.join(cg, 'memory.memsw.limit_in_bytes'))) {
    assert.equal(fs.readFileSync(path.join(cg, 'memory.memsw.limit_in_bytes'), 'utf8').trim(), String(256 * 1024 ** 2));
  }
  assert.equal(await inspect('up', '{{.HostConfig.Memory}} {{.HostConfig.MemorySwap}}'), `${128 * 1024 ** 2} ${256 * 1024 ** 2}`);
  await ok(['update', '--restart', 'on-failure:3', 'up']);
  assert.equal(await inspect('up', '{{.HostConfig.RestartPolicy.Name}}:{{.HostConfig.RestartPolicy.MaximumRetryCount}}'), 'on-failure:3');
  const b = await berth(d.env, ['update', '--memory', '96m', '--memory-swap', '192m', 'up'], { timeoutMs: 30_000 });
  assert.equal(b.code, 0, show(b));
  assert.equal(fs.readFileSync(path.join(cg, 'memory.limit_in_bytes'), 'utf8').trim(), String(96 * 1024 ** 2));
  await ok(['rm', '-f', 'up']);
});
