// exec, top and stats through the REAL docker CLI against a private berthd.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { api, conmonProcesses, startDaemon, waitFor, type Daemon } from '../helpers/daemon.js';
import { docker, show, type CliOptions, type CliResult } from '../helpers/cli.js';
import { busyboxTar } from '../helpers/fixtures.js';

const IMG = 'busybox:exec';
const C = 'ex1'; // Docker names need two characters at least
let d: Daemon;
const dk = (args: string[], opts?: CliOptions) => docker(d.env, args, { timeoutMs: 30_000, ...opts });

async function ok(args: string[], opts?: CliOptions): Promise<CliResult> {
  const r = await dk(args, opts);
  assert.equal(r.code, 0, `docker ${args.join(' ')} failed: ${show(r)}`);
  return r;
}

function execSessions(): string[] {
  try { return fs.readdirSync(path.join(d.execRoot, 'execs')); } catch { return []; }
}

before(async () => {
  d = await startDaemon();
  // Until src/main/berthd.ts mounts execRoutes/statsRoutes every test below would fail obscurely.
  const probe = await api(d.socket, 'GET', '/exec/0000/json');
  assert.notEqual(JSON.parse(probe.body).message, 'page not found',
    'exec routes are not wired into berthd (src/main/berthd.ts: ...execRoutes(execs), ...statsRoutes(stats))');
  await ok(['import', '--change', 'CMD ["sh"]', await busyboxTar(), IMG], { timeoutMs: 60_000 });
  await ok(['create', '--name', C, IMG, 'sleep', '1000']);
  await ok(['start', C]);
});

after(async () => {
  if (!d) return;
  const leftovers = await d.cleanup();
  if (leftovers.length) console.error(`exec: swept leftovers: ${leftovers.join(', ')}`);
});

test('exec prints output and returns the exit code', async () => {
  const r = await ok(['exec', C, 'echo', 'hi']);
  assert.equal(r.stdout, 'hi\n');
  const e = await dk(['exec', C, 'sh', '-c', 'echo out; echo err >&2; exit 3']);
  assert.equal(e.code, 3, show(e));
  assert.equal(e.stdout, 'out\n');
  assert.equal(e.stderr, 'err\n');
});

test('exec -i forwards stdin and closes it at EOF', async () => {
  const r = await ok(['exec', '-i', C, 'cat'], { input: 'x\n' });
  assert.equal(r.stdout, 'x\n');
  const big = Buffer.alloc(100_000, 'a');
  const wc = await ok(['exec', '-i', C, 'wc', '-c'], { input: big });
  assert.equal(wc.stdout.trim(), '100000', 'stdin above conmon\'s 32 KiB record arrives whole');
});

test('exec -d runs in the background; -u -w -e apply', async () => {
  await ok(['exec', '-d', C, 'touch', '/tmp/f']);
  const ls = await waitFor(async () => { const r = await dk(['exec', C, 'ls', '/tmp/f']); return r.code === 0 ? r : undefined; }, 5000);
  assert.ok(ls, 'the detached exec created /tmp/f');
  const id = await ok(['exec', '-u', 'app', '-w', '/tmp', '-e', 'FOO=bar', C, 'sh', '-c', 'id -u; pwd; echo $FOO']);
  assert.equal(id.stdout, '1000\n/tmp\nbar\n');
});

test('exec of a missing command exits 127 with the runtime message', async () => {
  const r = await dk(['exec', C, 'nosuchcmd']);
  assert.equal(r.code, 127, show(r));
  assert.match(r.stdout + r.stderr, /executable file not found/);
});

test('exec inspect, unknown exec, double start, events', async () => {
  const cr = await api(d.socket, 'POST', `/containers/${C}/exec`, { Cmd: ['sh', '-c', 'exit 5'], AttachStdout: true });
  assert.equal(cr.status, 201, cr.body);
  const id = JSON.parse(cr.body).Id as string;
  const before = JSON.parse((await api(d.socket, 'GET', `/exec/${id}/json`)).body);
  assert.equal(before.Running, false);
  assert.equal(before.ExitCode, null);
  assert.deepEqual(before.ProcessConfig, { tty: false, entrypoint: 'sh', arguments: ['-c', 'exit 5'], privileged: false });
  const st = await api(d.socket, 'POST', `/exec/${id}/start`, { Detach: true });
  assert.equal(st.status, 200, st.body);
  const done = await waitFor(async () => { const j = JSON.parse((await api(d.socket, 'GET', `/exec/${id}/json`)).body); return j.Running ? undefined : j; }, 5000);
  assert.equal(done?.ExitCode, 5);
  assert.ok(done.Pid > 0);
  const again = await api(d.socket, 'POST', `/exec/${id}/start`, { Detach: true });
  assert.equal(again.status, 409, again.body);
  const none = await api(d.socket, 'GET', '/exec/nope/json');
  assert.equal(none.status, 404);
  assert.equal(JSON.parse(none.body).message, 'No such exec instance: nope');
  const rs = await api(d.socket, 'POST', '/exec/nope/resize?h=10&w=10');
  assert.equal(rs.status, 404);
  const ev = await dk(['events', '--since', '0', '--until', `${Math.ceil(Date.now() / 1000) + 1}`, '--filter', `container=${C}`, '--format', '{{.Action}}']);
  assert.match(ev.stdout, /^exec_create: sh -c exit 5$/m, show(ev));
  assert.match(ev.stdout, /^exec_start: sh -c exit 5$/m, show(ev));
  assert.match(ev.stdout, /^exec_die$/m, show(ev));
});

test('docker top lists the container processes', async () => {
  const r = await ok(['top', C]);
  const lines = r.stdout.trim().split('\n');
  assert.match(lines[0]!, /PID/);
  assert.ok(lines.slice(1).some((l) => /sleep 1000$/.test(l)), show(r));
  assert.equal(lines.length, 2, `only the container's processes: ${r.stdout}`);
  const aux = await ok(['top', C, 'aux']);
  assert.match(aux.stdout, /%CPU/);
});

test('docker stats --no-stream agrees with the memory cgroup', async () => {
  const id = (await ok(['inspect', '-f', '{{.Id}}', C])).stdout.trim();
  const dir = `/sys/fs/cgroup/memory/berth/${id}`;
  const r = await ok(['stats', '--no-stream', '--format', '{{.MemUsage}}|{{.PIDs}}', C]);
  const usage = Number(fs.readFileSync(`${dir}/memory.usage_in_bytes`, 'utf8'));
  const inactive = Number(/^total_inactive_file (\d+)$/m.exec(fs.readFileSync(`${dir}/memory.stat`, 'utf8'))?.[1] ?? 0);
  const m = /^([\d.]+)(B|KiB|MiB|GiB) \/ ([\d.]+)(B|KiB|MiB|GiB)\|(\d+)$/.exec(r.stdout.trim());
  assert.ok(m, show(r));
  const unit = { B: 1, KiB: 1024, MiB: 1024 ** 2, GiB: 1024 ** 3 } as Record<string, number>;
  const shown = Number(m[1]) * unit[m[2]!]!;
  const expected = usage - inactive; // the CLI subtracts inactive file cache, as for Docker
  assert.ok(Math.abs(shown - expected) < 512 * 1024, `stats shows ${shown}, cgroup says ${expected}`);
  assert.equal(m[5], '1');
  const raw = JSON.parse((await api(d.socket, 'GET', `/containers/${C}/stats?stream=false&one-shot=true`)).body);
  assert.equal(raw.id, id);
  assert.equal(raw.name, `/${C}`);
  assert.ok(raw.cpu_stats.cpu_usage.total_usage > 0);
  assert.ok(raw.cpu_stats.system_cpu_usage > 0);
});

test('exec in a stopped or paused container is refused as Docker does', async () => {
  await ok(['create', '--name', 'ex-stopped', IMG, 'true']);
  const r = await dk(['exec', 'ex-stopped', 'echo']);
  assert.notEqual(r.code, 0);
  assert.match(r.stderr, /container [0-9a-f]{64} is not running/, show(r));
  const top = await dk(['top', 'ex-stopped']);
  assert.match(top.stderr, /is not running/, show(top));
  const s = JSON.parse((await api(d.socket, 'GET', '/containers/ex-stopped/stats?stream=false')).body);
  assert.equal(s.read, '0001-01-01T00:00:00Z');
  await ok(['rm', 'ex-stopped']);
});

test('after removal no conmon, runc exec or session dir is left', async () => {
  await ok(['rm', '-f', C]);
  const gone = await waitFor(() => conmonProcesses(d.dir).length === 0 && execSessions().length === 0, 5000);
  assert.ok(gone, `left: conmon ${conmonProcesses(d.dir).join(',')}; sessions ${execSessions().join(',')}`);
});
