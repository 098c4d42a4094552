// The walk-through with the `berth` CLI (bin/berth) against a private berthd, plus berth's
// listing flags: --format, -q, --no-trunc, images.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { conmonProcesses, memoryCgroupOf, mountsUnder, startDaemon, waitFor, type Daemon } from '../helpers/daemon.js';
import { berth, show, spawnCli, waitForOutput, type CliOptions, type CliResult } from '../helpers/cli.js';
import { busyboxTar } from '../helpers/fixtures.js';

const IMG = 'busybox:local';
const UP = /^Up (Less than a second|\d+ seconds?|About a minute|\d+ minutes)$/;
let d: Daemon;
const b = (args: string[], opts?: CliOptions) => berth(d.env, args, opts);

async function ok(args: string[], opts?: CliOptions): Promise<CliResult> {
  const r = await b(args, opts);
  assert.equal(r.code, 0, `berth ${args.join(' ')} failed: ${show(r)}`);
  return r;
}

async function psStatuses(all: boolean): Promise<Map<string, string>> {
  const r = await ok(['ps', ...(all ? ['-a'] : []), '--format', '{{.Names}}\t{{.Status}}']);
  return new Map(r.stdout.split('\n').filter(Boolean).map((l) => l.split('\t') as [string, string]));
}

function netDevNames(text: string): string[] {
  return text.split('\n').slice(2).map((l) => l.split(':')[0].trim()).filter(Boolean).sort();
}

before(async () => { d = await startDaemon(); });

after(async () => {
  if (!d) return;
  const leftovers = await d.cleanup();
  if (leftovers.length) console.error(`berth-cli: swept leftovers: ${leftovers.join(', ')}`);
});

test('berth version and info reach the server', async () => {
  const v = await ok(['version']);
  assert.match(v.stdout, /^Client:/m, show(v));
  assert.match(v.stdout, /^Server:/m, show(v));
  assert.match(v.stdout, /1\.45/, show(v));
  const i = await ok(['info']);
  assert.match(i.stdout, /Server Version:/, show(i));
});

test('berth honours -H, BERTH_HOST and DOCKER_HOST', async () => {
  const bare = { BERTH_HOST: undefined, DOCKER_HOST: undefined };
  assert.equal((await berth(bare, ['-H', d.host, 'ps', '-q'])).code, 0);
  assert.equal((await berth({ ...bare, DOCKER_HOST: d.host }, ['ps', '-q'])).code, 0);
  assert.equal((await berth({ ...bare, BERTH_HOST: d.host }, ['ps', '-q'])).code, 0);
  const none = await berth({ ...bare, BERTH_HOST: `unix://${d.dir}/nope.sock` }, ['ps']);
  assert.notEqual(none.code, 0, 'a dead socket must fail');
  assert.match(none.stderr, /nope\.sock/, show(none));
});

test('berth import --change CMD; images, images -q, --no-trunc', async () => {
  const tar = await busyboxTar();
  const r = await ok(['import', '--change', 'CMD ["sh"]', tar, IMG], { timeoutMs: 60_000 });
  const id = r.stdout.trim();
  assert.match(id, /^sha256:[0-9a-f]{64}$/, show(r));
  const table = await ok(['images']);
  const [header, ...rows] = table.stdout.split('\n').filter(Boolean);
  assert.match(header, /^REPOSITORY\s+TAG\s+IMAGE ID\s+CREATED\s+SIZE$/, show(table));
  assert.ok(rows.some((l) => new RegExp(`^busybox\\s+local\\s+${id.slice(7, 19)}\\s`).test(l)), show(table));
  assert.equal((await ok(['images', '-q'])).stdout.trim(), id.slice(7, 19));
  assert.equal((await ok(['images', '-q', '--no-trunc'])).stdout.trim(), id);
  assert.equal((await ok(['image', 'inspect', '-f', '{{json .Config.Cmd}}', IMG])).stdout.trim(), '["sh"]');
});

test('berth run --rm echo hello', async () => {
  const r = await ok(['run', '--rm', '--name', 'hello1', IMG, 'echo', 'hello']);
  assert.equal(r.stdout, 'hello\n');
  assert.equal((await psStatuses(true)).has('hello1'), false);
});

test('exit codes: 3 propagates, missing command 127, not executable 126', async () => {
  assert.equal((await b(['run', '--rm', IMG, 'sh', '-c', 'exit 3'])).code, 3);
  const nx = await b(['run', '--rm', IMG, 'nonexistent-cmd']);
  assert.equal(nx.code, 127, show(nx));
  assert.match(nx.stderr, /executable file not found|no such file or directory/, show(nx));
  const dir = await b(['run', '--rm', IMG, '/etc']);
  assert.equal(dir.code, 126, show(dir));
});

test('berth create then start -a', async () => {
  const c = await ok(['create', '--name', 'c1', IMG, 'sh', '-c', 'echo from-create; echo to-stderr >&2']);
  assert.match(c.stdout.trim(), /^[0-9a-f]{64}$/, show(c));
  assert.equal((await psStatuses(true)).get('c1'), 'Created');
  const s = await ok(['start', '-a', 'c1']);
  assert.equal(s.stdout, 'from-create\n');
  assert.equal(s.stderr, 'to-stderr\n');
});

test('berth run -d; logs --tail 2; logs --tail 2 -f', async () => {
  await ok(['run', '-d', '--name', 'loop', IMG, 'sh', '-c', 'i=0; while true; do i=$((i+1)); echo "line $i"; sleep 0.2; done']);
  await waitFor(async () => /line 6\n/.test((await b(['logs', 'loop'])).stdout), 10_000);
  const t = await ok(['logs', '--tail', '2', 'loop']);
  const lines = t.stdout.split('\n').filter(Boolean);
  assert.equal(lines.length, 2, show(t));
  const n = Number(/^line (\d+)$/.exec(lines[1])?.[1]);
  // The issue's own command line: `berth logs --tail 2 -f loop`.
  const f = spawnCli('berth', d.env, ['logs', '--tail', '2', '-f', 'loop']);
  try {
    const out = await waitForOutput(f, new RegExp(`line ${n + 5}\\n`), 15_000);
    assert.doesNotMatch(out, /^line 1\n/, '--tail 2 -f must not replay the whole log');
  } finally {
    f.kill('SIGKILL');
  }
});

test('berth ps: --format, -q, --no-trunc, table, states and relative times', async () => {
  await ok(['create', '--name', 'fresh', IMG, 'true']);
  assert.equal((await b(['run', '--name', 'ex5', IMG, 'sh', '-c', 'exit 5'])).code, 5);
  const names = (await ok(['ps', '--format', '{{.Names}}'])).stdout.split('\n').filter(Boolean);
  assert.deepEqual(names, ['loop']);
  const all = await psStatuses(true);
  assert.equal(all.get('fresh'), 'Created');
  assert.match(all.get('ex5') ?? '', /^Exited \(5\) (Less than a second|\d+ seconds?) ago$/);
  assert.match(all.get('loop') ?? '', UP);
  const id = (await ok(['inspect', '-f', '{{.Id}}', 'loop'])).stdout.trim();
  assert.equal((await ok(['ps', '-q'])).stdout.trim(), id.slice(0, 12));
  assert.equal((await ok(['ps', '-q', '--no-trunc'])).stdout.trim(), id);
  const table = await ok(['ps']);
  const [header, row] = table.stdout.split('\n');
  assert.match(header, /^CONTAINER ID\s+IMAGE\s+COMMAND\s+CREATED\s+STATUS\s+PORTS\s+NAMES$/, show(table));
  assert.ok(row.startsWith(id.slice(0, 12)) && row.includes(IMG) && row.trimEnd().endsWith('loop'), show(table));
  const tf = await ok(['ps', '--format', 'table {{.Names}}\t{{.Image}}']);
  assert.match(tf.stdout, /^NAMES\s+IMAGE\nloop\s+busybox:local\n$/, show(tf));
  const js = JSON.parse((await ok(['ps', '--format', '{{json .}}'])).stdout) as { Names: string; Image: string };
  assert.equal(js.Names, 'loop');
  assert.equal(js.Image, IMG);
});

test('berth stop -t 1 of a TERM-ignoring shell gives 137', async () => {
  await ok(['run', '-d', '--name', 'stubborn', IMG, 'sh', '-c', 'trap "" TERM; while true; do sleep 1; done']);
  const t0 = Date.now();
  await ok(['stop', '-t', '1', 'stubborn']);
  assert.ok(Date.now() - t0 >= 900, 'stop must wait for the timeout before SIGKILL');
  assert.equal((await ok(['inspect', '-f', '{{.State.ExitCode}}', 'stubborn'])).stdout.trim(), '137');
});

test('berth kill then wait prints 137', async () => {
  await ok(['run', '-d', '--name', 'killme', IMG, 'sleep', '1000']);
  assert.equal((await ok(['kill', 'killme'])).stdout.trim(), 'killme');
  assert.equal((await ok(['wait', 'killme'], { timeoutMs: 15_000 })).stdout.trim(), '137');
});

test('berth inspect -f templates', async () => {
  assert.equal((await ok(['inspect', '-f', '{{.State.Status}}', 'loop'])).stdout.trim(), 'running');
  assert.equal((await ok(['inspect', '-f', '{{.Config.Image}}', 'loop'])).stdout.trim(), IMG);
  assert.equal((await ok(['inspect', '-f', '{{.Name}}', 'loop'])).stdout.trim(), '/loop');
  const st = JSON.parse((await ok(['inspect', '-f', '{{json .State}}', 'ex5'])).stdout) as { Status: string; ExitCode: number };
  assert.equal(st.Status, 'exited');
  assert.equal(st.ExitCode, 5);
  const arr = JSON.parse((await ok(['inspect', 'loop'])).stdout) as Array<{ Id: string }>;
  assert.equal(arr.length, 1);
  assert.match(arr[0].Id, /^[0-9a-f]{64}$/);
});

test('berth rmi of an image in use fails with a conflict', async () => {
  const r = await b(['rmi', IMG]);
  assert.equal(r.code, 1, show(r));
  assert.match(r.stderr, /conflict/i, show(r));
  await ok(['image', 'inspect', IMG]);
});

test('berth run -m 64m sets the memory cgroup', async () => {
  await ok(['run', '-d', '--name', 'mem', '-m', '64m', IMG, 'sleep', '1000']);
  const pid = Number((await ok(['inspect', '-f', '{{.State.Pid}}', 'mem'])).stdout.trim());
  const cg = memoryCgroupOf(pid);
  assert.ok(cg && cg !== '/sys/fs/cgroup/memory', `pid ${pid} cgroup ${cg}`);
  assert.equal(fs.readFileSync(path.join(cg, 'memory.limit_in_bytes'), 'utf8').trim(), '67108864');
});

test('berth errors: name conflict, no such container', async () => {
  const c = await b(['run', '-d', '--name', 'loop', IMG, 'true']);
  assert.equal(c.code, 125, show(c));
  assert.match(c.stderr, /Conflict\. The container name "\/loop" is already in use by container/, show(c));
  const n = await b(['stop', 'nosuch']);
  assert.equal(n.code, 1, show(n));
  assert.match(n.stderr, /No such container: nosuch/, show(n));
});

test('berth run pulls only when the image is what is missing (asked of the daemon, not read from the message)', async () => {
  const n = await b(['run', '--rm', '--network', 'container:nosuch', IMG, 'true']);
  assert.equal(n.code, 125, show(n));
  assert.match(n.stderr, /No such container: nosuch/, show(n));
  assert.doesNotMatch(n.stderr, /Unable to find image/, show(n));
  // A full id names one image; docker's create never pulls it.
  const id = 'f'.repeat(64);
  const i = await b(['run', '--rm', id, 'true']);
  assert.equal(i.code, 125, show(i));
  assert.match(i.stderr, /No such image/, show(i));
  assert.doesNotMatch(i.stderr, /Unable to find image/, show(i));
  // A missing named image is pulled (from a registry that refuses the connection: fails fast, offline).
  const m = await b(['run', '--rm', 'localhost:1/nosuch:v1', 'true'], { timeoutMs: 60_000 });
  assert.notEqual(m.code, 0, show(m));
  assert.match(m.stderr, /Unable to find image 'localhost:1\/nosuch:v1' locally/, show(m));
});

test('berth --network host and none', async () => {
  const hostNames = netDevNames(fs.readFileSync('/proc/net/dev', 'utf8'));
  assert.deepEqual(netDevNames((await ok(['run', '--rm', '--network', 'host', IMG, 'cat', '/proc/net/dev'])).stdout), hostNames);
  assert.deepEqual(netDevNames((await ok(['run', '--rm', '--network', 'none', IMG, 'cat', '/proc/net/dev'])).stdout), ['lo']);
});

test('berth stop, rm, rm -f of everything; nothing leaks', async () => {
  assert.equal((await ok(['stop', 'loop'], { timeoutMs: 20_000 })).stdout.trim(), 'loop');
  assert.equal((await ok(['rm', 'loop'])).stdout.trim(), 'loop');
  const ids = (await ok(['ps', '-aq'])).stdout.split('\n').filter(Boolean);
  await ok(['rm', '-f', ...ids], { timeoutMs: 60_000 });
  assert.equal((await ok(['ps', '-aq'])).stdout, '');
  await ok(['rmi', IMG]);
  assert.equal((await ok(['images', '-q'])).stdout, '');
  await waitFor(() => conmonProcesses(d.dir).length === 0, 5000);
  assert.deepEqual(conmonProcesses(d.dir), []);
  assert.deepEqual(mountsUnder(d.dataRoot), []);
  const runcRoot = path.join(d.execRoot, 'runc');
  if (fs.existsSync(runcRoot)) {
    assert.equal(spawnSync('runc', ['--root', runcRoot, 'list', '-q'], { encoding: 'utf8' }).stdout, '');
  }
});
