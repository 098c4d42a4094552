// The walk-through, driven by the REAL docker CLI (28.x) against a private berthd.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { api, conmonProcesses, memoryCgroupOf, mountsUnder, startDaemon, waitFor, type Daemon } from '../helpers/daemon.js';
import { docker, show, spawnCli, waitForOutput, type CliOptions, type CliResult } from '../helpers/cli.js';
import { busyboxTar } from '../helpers/fixtures.js';

const IMG = 'busybox:local';
let d: Daemon;
const dk = (args: string[], opts?: CliOptions) => docker(d.env, args, opts);

async function ok(args: string[], opts?: CliOptions): Promise<CliResult> {
  const r = await dk(args, opts);
  assert.equal(r.code, 0, `docker ${args.join(' ')} failed: ${show(r)}`);
  return r;
}

/** name → Status column of `docker ps [-a]`. */
async function psStatuses(all: boolean): Promise<Map<string, string>> {
  const r = await ok(['ps', ...(all ? ['-a'] : []), '--format', '{{.Names}}\t{{.Status}}']);
  return new Map(r.stdout.split('\n').filter(Boolean).map((l) => l.split('\t') as [string, string]));
}

function netDevNames(text: string): string[] {
  return text.split('\n').slice(2).map((l) => l.split(':')[0].trim()).filter(Boolean).sort();
}

before(async () => {
  assert.ok(spawnSync('docker', ['--version']).status === 0, 'the docker CLI must be on PATH');
  d = await startDaemon();
});

after(async () => {
  if (!d) return;
  const leftovers = await d.cleanup();
  if (leftovers.length) console.error(`docker-cli: swept leftovers: ${leftovers.join(', ')}`);
});

test('docker version and info show the berth server', async () => {
  const v = await ok(['version']);
  assert.match(v.stdout, /^Server:/m, show(v));
  assert.match(v.stdout, /berth/i, `the server section should name berth: ${show(v)}`);
  assert.doesNotMatch(v.stderr, /error/i, show(v));
  const api = await ok(['version', '--format', '{{.Server.APIVersion}}']);
  assert.equal(api.stdout.trim(), '1.45');
  const info = await ok(['info']);
  assert.match(info.stdout, /^Server:/m, show(info));
  assert.match(info.stdout, /Server Version:/, show(info));
  assert.doesNotMatch(info.stdout + info.stderr, /ERROR|errors pretty printing/i, show(info));
});

test('docker import of a busybox rootfs with --change', async () => {
  const tar = await busyboxTar();
  const r = await ok(['import', '--change', 'CMD ["sh"]', tar, IMG], { timeoutMs: 60_000 });
  assert.match(r.stdout.trim(), /^sha256:[0-9a-f]{64}$/, show(r));
  const cmd = await ok(['image', 'inspect', '-f', '{{json .Config.Cmd}}', IMG]);
  assert.equal(cmd.stdout.trim(), '["sh"]');
  const ls = await ok(['images', '--format', '{{.Repository}}:{{.Tag}}']);
  assert.ok(ls.stdout.split('\n').includes(IMG), show(ls));
});

test('run --rm echo hello prints hello and leaves no container', async () => {
  const r = await ok(['run', '--rm', '--name', 'hello1', IMG, 'echo', 'hello']);
  assert.equal(r.stdout, 'hello\n');
  assert.equal((await psStatuses(true)).has('hello1'), false, 'an --rm container must be gone when run returns');
});

test('the image CMD is the default command of a container', async () => {
  await ok(['create', '--name', 'dflt', IMG]);
  assert.equal((await ok(['inspect', '-f', '{{.Path}} {{json .Config.Cmd}}', 'dflt'])).stdout.trim(), 'sh ["sh"]');
  await ok(['rm', 'dflt']);
});

test("run sh -c 'exit 3' exits 3", async () => {
  const r = await dk(['run', '--rm', IMG, 'sh', '-c', 'exit 3']);
  assert.equal(r.code, 3, show(r));
});

test('run of a missing command exits 127 with docker\'s message; a start failure leaves nothing running', async () => {
  const r = await dk(['run', '--rm', '--name', 'nx', IMG, 'nonexistent-cmd']);
  assert.equal(r.code, 127, show(r));
  assert.match(r.stderr, /executable file not found|no such file or directory/, show(r));
  const st = (await psStatuses(true)).get('nx');
  assert.ok(st === undefined || /^(Created|Exited)/.test(st), `nx left as ${st}`);
  const p = await dk(['run', '--rm', IMG, '/etc']);
  assert.equal(p.code, 126, `running a directory should give 126: ${show(p)}`);
});

test('create then start -a prints the output (stdout and stderr)', async () => {
  const c = await ok(['create', '--name', 'c1', IMG, 'sh', '-c', 'echo from-create; echo to-stderr >&2']);
  assert.match(c.stdout.trim(), /^[0-9a-f]{64}$/, show(c));
  assert.equal((await psStatuses(true)).get('c1'), 'Created');
  const s = await ok(['start', '-a', 'c1']);
  assert.equal(s.stdout, 'from-create\n');
  assert.equal(s.stderr, 'to-stderr\n');
  assert.match((await psStatuses(true)).get('c1') ?? '', /^Exited \(0\) /);
});

test('create --platform: the image must be of that platform, else docker\'s 404', async () => {
  const bad = await dk(['create', '--pull', 'never', '--platform', 'linux/arm64', IMG, 'true']);
  assert.notEqual(bad.code, 0, show(bad));
  assert.match(bad.stderr, /image with reference busybox:local was found but its platform \(linux\/amd64\) does not match the specified platform \(linux\/arm64\)/, show(bad));
  assert.ok(!(await psStatuses(true)).has('plat-bad'));
  const good = await ok(['create', '--pull', 'never', '--platform', 'linux/amd64', '--name', 'plat-ok', IMG, 'true']);
  assert.match(good.stdout.trim(), /^[0-9a-f]{64}$/, show(good));
  await ok(['rm', 'plat-ok']);
});

test('run -d, logs --tail 2, logs -f', async () => {
  const r = await ok(['run', '-d', '--name', 'loop', IMG, 'sh', '-c', 'i=0; while true; do i=$((i+1)); echo "line $i"; sleep 0.2; done']);
  assert.match(r.stdout.trim(), /^[0-9a-f]{64}$/, show(r));
  await waitFor(async () => /line 6\n/.test((await dk(['logs', 'loop'])).stdout), 10_000);
  const t = await ok(['logs', '--tail', '2', 'loop']);
  const lines = t.stdout.split('\n').filter(Boolean);
  assert.equal(lines.length, 2, show(t));
  const [a, b] = lines.map((l) => Number(/^line (\d+)$/.exec(l)?.[1]));
  assert.ok(b >= 6 && b === a + 1, `tail lines should be consecutive: ${show(t)}`);

  const f = spawnCli('docker', d.env, ['logs', '-f', 'loop']);
  try {
    // Lines written after `logs -f` started prove it follows; line 1 proves it starts at the beginning.
    const out = await waitForOutput(f, new RegExp(`line ${b + 5}\\n`), 15_000);
    assert.match(out, /^line 1\n/);
  } finally {
    f.kill('SIGKILL');
  }
});

test('ps and ps -a show Created / Up / Exited (N)', async () => {
  await ok(['create', '--name', 'fresh', IMG, 'true']);
  const e = await dk(['run', '--name', 'ex5', IMG, 'sh', '-c', 'exit 5']);
  assert.equal(e.code, 5, show(e));
  const running = await psStatuses(false);
  assert.match(running.get('loop') ?? '', /^Up /, `ps: ${[...running]}`);
  assert.equal(running.has('fresh'), false);
  assert.equal(running.has('ex5'), false);
  const all = await psStatuses(true);
  assert.equal(all.get('fresh'), 'Created');
  assert.match(all.get('ex5') ?? '', /^Exited \(5\) .*ago$/, `ps -a: ${[...all]}`);
  assert.match(all.get('loop') ?? '', /^Up /);
  const q = await ok(['ps', '-q']);
  assert.ok(q.stdout.split('\n').filter(Boolean).every((id) => /^[0-9a-f]{12}$/.test(id)), show(q));
});

test('stop -t 1 of a shell that ignores TERM gives 137', async () => {
  await ok(['run', '-d', '--name', 'stubborn', IMG, 'sh', '-c', 'trap "" TERM; while true; do sleep 1; done']);
  const t0 = Date.now();
  const s = await ok(['stop', '-t', '1', 'stubborn']);
  const took = Date.now() - t0;
  assert.equal(s.stdout.trim(), 'stubborn');
  assert.ok(took >= 900 && took < 10_000, `stop took ${took} ms`);
  const code = await ok(['inspect', '-f', '{{.State.ExitCode}}', 'stubborn']);
  assert.equal(code.stdout.trim(), '137');
  assert.match((await psStatuses(true)).get('stubborn') ?? '', /^Exited \(137\) /);
});

test('kill then wait prints 137', async () => {
  await ok(['run', '-d', '--name', 'killme', IMG, 'sleep', '1000']);
  const k = await ok(['kill', 'killme']);
  assert.equal(k.stdout.trim(), 'killme');
  const w = await ok(['wait', 'killme'], { timeoutMs: 15_000 });
  assert.equal(w.stdout.trim(), '137');
});

test('inspect -f templates', async () => {
  assert.equal((await ok(['inspect', '-f', '{{.State.Status}}', 'loop'])).stdout.trim(), 'running');
  assert.equal((await ok(['inspect', '-f', '{{.Config.Image}}', 'loop'])).stdout.trim(), IMG);
  assert.equal((await ok(['inspect', '-f', '{{.Name}}', 'loop'])).stdout.trim(), '/loop');
  assert.equal((await ok(['inspect', '-f', '{{.State.Status}}', 'fresh'])).stdout.trim(), 'created');
  assert.equal((await ok(['inspect', '-f', '{{.State.Status}} {{.State.ExitCode}}', 'ex5'])).stdout.trim(), 'exited 5');
  const pid = Number((await ok(['inspect', '-f', '{{.State.Pid}}', 'loop'])).stdout.trim());
  assert.ok(pid > 1 && fs.existsSync(`/proc/${pid}`), `State.Pid ${pid} should be a live host pid`);
});

test('rmi of an image in use fails with a 409 conflict', async () => {
  const r = await dk(['rmi', IMG]);
  assert.equal(r.code, 1, show(r));
  assert.match(r.stderr, /conflict/i, show(r));
  const a = await api(d.socket, 'DELETE', `/images/${encodeURIComponent(IMG)}`);
  assert.equal(a.status, 409, a.body);
  await ok(['image', 'inspect', IMG]);
});

test('-m 64m shows in the container\'s memory cgroup', async () => {
  await ok(['run', '-d', '--name', 'mem', '-m', '64m', IMG, 'sleep', '1000']);
  assert.equal((await ok(['inspect', '-f', '{{.HostConfig.Memory}}', 'mem'])).stdout.trim(), '67108864');
  const pid = Number((await ok(['inspect', '-f', '{{.State.Pid}}', 'mem'])).stdout.trim());
  const cg = memoryCgroupOf(pid);
  assert.ok(cg && cg !== '/sys/fs/cgroup/memory', `container pid ${pid} should be in its own memory cgroup (got ${cg})`);
  assert.equal(fs.readFileSync(path.join(cg, 'memory.limit_in_bytes'), 'utf8').trim(), '67108864', cg);
  const inside = await ok(['run', '--rm', '-m', '64m', IMG, 'cat', '/sys/fs/cgroup/memory/memory.limit_in_bytes']);
  assert.equal(inside.stdout.trim(), '67108864');
});

test('a name in use is a 409 conflict with docker\'s wording', async () => {
  const r = await dk(['run', '-d', '--name', 'loop', IMG, 'true']);
  assert.equal(r.code, 125, show(r));
  assert.match(r.stderr, /Conflict\. The container name "\/loop" is already in use by container "[0-9a-f]{64}"/, show(r));
  const a = await api(d.socket, 'POST', '/containers/create?name=loop', { Image: IMG, Cmd: ['true'] });
  assert.equal(a.status, 409, a.body);
});

test('an unknown container is a 404 "No such container"', async () => {
  const r = await dk(['stop', 'nosuch']);
  assert.equal(r.code, 1, show(r));
  assert.match(r.stderr, /No such container: nosuch/, show(r));
  const l = await dk(['logs', 'nosuch']);
  assert.equal(l.code, 1, show(l));
  assert.match(l.stderr, /No such container: nosuch/, show(l));
  const a = await api(d.socket, 'GET', '/containers/nosuch/json');
  assert.equal(a.status, 404);
  assert.equal(JSON.parse(a.body).message, 'No such container: nosuch');
});

test('--network host sees the host\'s interfaces; none sees only lo; the default bridge adds eth0', async () => {
  const hostNames = netDevNames(fs.readFileSync('/proc/net/dev', 'utf8'));
  const h = await ok(['run', '--rm', '--network', 'host', IMG, 'cat', '/proc/net/dev']);
  assert.deepEqual(netDevNames(h.stdout), hostNames);
  const n = await ok(['run', '--rm', '--network', 'none', IMG, 'cat', '/proc/net/dev']);
  assert.deepEqual(netDevNames(n.stdout), ['lo']);
  const def = await ok(['run', '--rm', IMG, 'cat', '/proc/net/dev']);
  assert.deepEqual(netDevNames(def.stdout), ['eth0', 'lo']);
});

test('default security profile vs --privileged: capabilities and host devices', async () => {
  const def = await ok(['run', '--rm', '--network', 'none', IMG, 'sh', '-c', 'grep CapEff /proc/self/status; ls /dev']);
  assert.match(def.stdout, /CapEff:\s+00000000a80425fb/, def.stdout);
  assert.doesNotMatch(def.stdout, /^vda$/m, 'a default container sees no host disks');
  const priv = await ok(['run', '--rm', '--network', 'none', '--privileged', IMG, 'sh', '-c', 'grep CapEff /proc/self/status; ls /dev']);
  assert.doesNotMatch(priv.stdout, /CapEff:\s+00000000a80425fb/, priv.stdout);
  const hostDisks = fs.readdirSync('/dev').filter((n) => /^(vd|sd|nvme)[a-z0-9]+$/.test(n));
  for (const disk of hostDisks) assert.match(priv.stdout, new RegExp(`^${disk}$`, 'm'), `--privileged sees /dev/${disk}`);
});

test('log rotation: max-size, max-file and compress keep the newest lines contiguous', async () => {
  const script = 'i=0; while [ $i -lt 3000 ]; do i=$((i+1)); echo "line $i"; [ $((i % 150)) = 0 ] && sleep 0.3; done; sleep 100';
  const id = (await ok(['run', '-d', '--network', 'none', '--log-opt', 'max-size=20k', '--log-opt', 'max-file=3',
    '--log-opt', 'compress=true', IMG, 'sh', '-c', script])).stdout.trim();
  await waitFor(async () => (await ok(['logs', '--tail', '1', id])).stdout.trim() === 'line 3000', 30_000);
  const dir = path.join(d.dataRoot, 'containers', id);
  await waitFor(() => fs.existsSync(path.join(dir, 'ctr.log.2.gz')), 10_000);
  const files = fs.readdirSync(dir).filter((f) => f.startsWith('ctr.log')).sort();
  assert.deepEqual(files, ['ctr.log', 'ctr.log.1', 'ctr.log.2.gz']);
  const nums = (await ok(['logs', id])).stdout.trim().split('\n').map((l) => Number(l.split(' ')[1]));
  assert.ok(nums[0]! > 1, 'the oldest lines were rotated away');
  assert.equal(nums[nums.length - 1], 3000);
  nums.forEach((n, i) => { if (i > 0) assert.equal(n, nums[i - 1]! + 1, `gap after line ${nums[i - 1]}`); });
  await ok(['rm', '-f', id]);
});

test('rm -f $(docker ps -aq) removes everything; nothing leaks', async () => {
  const ids = (await ok(['ps', '-aq'])).stdout.split('\n').filter(Boolean);
  assert.ok(ids.length >= 5, `expected the walk-through's containers, got ${ids.length}`);
  const r = await ok(['rm', '-f', ...ids], { timeoutMs: 60_000 });
  assert.equal(r.stdout.split('\n').filter(Boolean).length, ids.length, show(r));
  assert.equal((await ok(['ps', '-aq'])).stdout, '');
  await ok(['rmi', IMG]);
  assert.equal((await ok(['images', '-q'])).stdout, '');
  // conmon may need a moment to notice its container is gone.
  const conmons = await waitFor(() => conmonProcesses(d.dir).length === 0, 5000).then(() => conmonProcesses(d.dir));
  assert.deepEqual(conmons, [], 'no conmon may outlive its container');
  assert.deepEqual(mountsUnder(d.dataRoot), [], 'no overlay mount may outlive its container');
  const runcRoot = path.join(d.execRoot, 'runc');
  if (fs.existsSync(runcRoot)) {
    const ls = spawnSync('runc', ['--root', runcRoot, 'list', '-q'], { encoding: 'utf8' });
    assert.equal(ls.stdout, '', 'no runc state may outlive its container');
  }
});

test('container prune --filter until takes Go durations as image prune does (1h30m, 1.5h, 300ms)', async () => {
  // Its own image: the walk-through above removed IMG.
  const img = 'busybox:prune-until';
  await ok(['import', await busyboxTar(), img], { timeoutMs: 60_000 });
  const name = 'prune-until-dur';
  await ok(['create', '--name', name, img, 'true']);
  // Younger than 1h30m / 1.5h: kept.
  for (const until of ['1h30m', '1.5h']) {
    const r = await ok(['container', 'prune', '-f', '--filter', `until=${until}`]);
    assert.doesNotMatch(r.stdout, /[0-9a-f]{64}/, show(r));
  }
  await new Promise((r) => setTimeout(r, 1100));
  const r = await ok(['container', 'prune', '-f', '--filter', 'until=300ms']);
  const gone = await dk(['inspect', name]);
  assert.notEqual(gone.code, 0, `created over 300ms ago, so pruned: ${show(r)}`);
  await ok(['rmi', img]);
});
