import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { buildSpec, type SpecInput } from '../../src/core/oci-spec.js';
import { resolveUser } from '../../src/store/rootfs-files.js';
import { readHostInfo } from '../../src/sys/host-info.js';
import { loadDefaultSeccompProfile } from '../../src/store/seccomp-default.js';
import { ConmonRuntime, removeCgroupDirs } from '../../src/runtime/conmon-runtime.js';
import { LinuxSys } from '../../src/sys/linux-sys.js';
import { MNT_DETACH } from '../../src/sys/sys.js';
import { Paths } from '../../src/store/paths.js';

// Real conmon + runc + overlay: root only.
const isRoot = process.getuid?.() === 0;
const skip = isRoot ? false : 'needs root';

const CG_PARENT = '/berth-e2e';
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-rt-'));
const lower = path.join(tmp, 'lower');
const paths = new Paths(path.join(tmp, 'data'), path.join(tmp, 'exec'));
const sys = new LinuxSys();
const rt = new ConmonRuntime({ paths });
const ids: string[] = [];
const mounted: string[] = [];
const exited = new Map<string, () => void>();
const exitSeen = new Set<string>();

function buildBusyboxRootfs(): void {
  const busybox = execFileSync('sh', ['-c', 'command -v busybox']).toString().trim();
  fs.mkdirSync(path.join(lower, 'bin'), { recursive: true });
  for (const d of ['etc', 'proc', 'sys', 'dev', 'tmp', 'root']) fs.mkdirSync(path.join(lower, d), { recursive: true });
  fs.copyFileSync(busybox, path.join(lower, 'bin', 'busybox'));
  fs.chmodSync(path.join(lower, 'bin', 'busybox'), 0o755);
  for (const applet of execFileSync(busybox, ['--list']).toString().split('\n')) {
    if (applet && applet !== 'busybox') fs.symlinkSync('busybox', path.join(lower, 'bin', applet));
  }
  fs.writeFileSync(path.join(lower, 'etc', 'passwd'), 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n');
  fs.writeFileSync(path.join(lower, 'etc', 'group'), 'root:x:0:\nnogroup:x:65534:\n');
}

/** A fresh overlay over the busybox tree, as the container rootfs. */
function mountRootfs(id: string): string {
  const d = paths.containerDir(id);
  for (const s of ['upper', 'work', 'merged']) fs.mkdirSync(path.join(d, s), { recursive: true });
  const merged = path.join(d, 'merged');
  const options = [`lowerdir=${lower}`, `upperdir=${d}/upper`, `workdir=${d}/work`];
  sys.mount({ type: 'overlay', source: 'overlay', target: merged, options });
  mounted.push(merged);
  return merged;
}

async function spec(id: string, args: string[], over: Partial<SpecInput> = {}) {
  const rootfs = mountRootfs(id);
  const user = await resolveUser(rootfs, '');
  return buildSpec({
    id, args, env: [], cwd: '/', user, hostname: id.slice(0, 12), tty: false, openStdin: false, rootfs,
    network: { mode: 'none' }, cgroupsPath: `${CG_PARENT}/${id}`, resources: {},
    host: readHostInfo(), defaultSeccomp: loadDefaultSeccompProfile(), ...over,
  });
}

function newId(): string {
  const id = crypto.randomBytes(32).toString('hex');
  ids.push(id);
  return id;
}

function waitExit(id: string, ms = 10_000): Promise<void> {
  if (exitSeen.has(id)) return Promise.resolve();
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`no exit for ${id}`)), ms);
    exited.set(id, () => { clearTimeout(t); resolve(); });
  });
}

async function runcIds(): Promise<string[]> {
  const out = execFileSync('runc', ['--root', paths.runcRoot, 'list', '-q']).toString();
  return out.split('\n').filter(Boolean);
}

/** conmon processes whose command line names this container id. */
function conmonsFor(id: string): number[] {
  const pids: number[] = [];
  for (const p of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(p)) continue;
    try {
      const cmd = fs.readFileSync(`/proc/${p}/cmdline`, 'utf8').split('\0');
      const stat = fs.readFileSync(`/proc/${p}/stat`, 'utf8');
      if (cmd[0]?.endsWith('conmon') && cmd.includes(id) && !/\) Z /.test(stat)) pids.push(Number(p));
    } catch { /* gone */ }
  }
  return pids;
}

before(async () => {
  if (!isRoot) return;
  buildBusyboxRootfs();
  await rt.init();
  rt.onExit((id) => {
    exitSeen.add(id);
    exited.get(id)?.();
  });
});

after(async () => {
  rt.close();
  for (const id of ids) {
    try { await rt.delete(id, { force: true }); } catch { /* best effort */ }
  }
  for (const m of mounted) {
    try { sys.unmount(m, MNT_DETACH); } catch {
      try { execFileSync('umount', ['-l', m]); } catch { /* best effort */ }
    }
  }
  removeCgroupDirs(CG_PARENT);
  fs.rmSync(tmp, { recursive: true, force: true });
});

test('create → start → exit code 3, k8s-file log, delete leaves nothing', { skip }, async () => {
  const id = newId();
  const logPath = paths.containerLog(id);
  const s = await spec(id, ['sh', '-c', 'echo hi; exit 3']);
  const { pid } = await rt.create({ id, name: 'exit3', spec: s, tty: false, openStdin: false, stdinOnce: false, logPath });
  assert.ok(pid > 0);
  assert.equal((await rt.state(id))?.status, 'created');
  assert.ok(rt.conmonAlive(id));
  await rt.start(id);
  await waitExit(id);
  const exit = rt.readExit(id);
  assert.equal(exit?.code, 3);
  assert.equal(exit?.oomKilled, false);
  assert.ok(exit && Date.now() - exit.finishedAt.getTime() < 10_000);
  assert.match(fs.readFileSync(logPath, 'utf8'), /^\S+ stdout F hi$/m);
  assert.equal((await rt.state(id))?.status, 'stopped');
  await rt.delete(id);
  assert.equal(await rt.state(id), undefined);
  assert.ok(!fs.existsSync(paths.bundle(id)));
  assert.ok(!fs.existsSync(paths.exitFile(id)));
  assert.ok(!fs.existsSync(`/sys/fs/cgroup/memory${CG_PARENT}/${id}`));
  await rt.delete(id); // idempotent
});

test('a bad command fails create with runc\'s message and leaves no state, no conmon', { skip }, async () => {
  const id = newId();
  const s = await spec(id, ['foo']);
  await assert.rejects(
    rt.create({ id, name: 'bad', spec: s, tty: false, openStdin: false, stdinOnce: false, logPath: paths.containerLog(id) }),
    (e: Error) => {
      assert.match(e.message, /^runc create failed: unable to start container process: exec: "foo": executable file not found in \$PATH$/);
      return true;
    });
  assert.deepEqual(await runcIds(), []);
  assert.ok(!fs.existsSync(paths.bundle(id)));
  assert.deepEqual(conmonsFor(id), []);
  assert.ok(!fs.existsSync(`/sys/fs/cgroup/memory${CG_PARENT}/${id}`));
});

test('KILL gives exit 137', { skip }, async () => {
  const id = newId();
  const s = await spec(id, ['sleep', '100']);
  await rt.create({ id, name: 'sleeper', spec: s, tty: false, openStdin: false, stdinOnce: false, logPath: paths.containerLog(id) });
  await rt.start(id);
  assert.equal((await rt.state(id))?.status, 'running');
  await rt.kill(id, 'KILL');
  await waitExit(id);
  assert.equal(rt.readExit(id)?.code, 137);
  await rt.delete(id);
});

test('attach receives stdout and stderr frames; stdin reaches the container', { skip }, async () => {
  const id = newId();
  const s = await spec(id, ['sh', '-c', 'read line; echo "out:$line"; echo err >&2; exit 0']);
  await rt.create({ id, name: 'att', spec: s, tty: false, openStdin: true, stdinOnce: true, logPath: paths.containerLog(id) });
  const conn = await rt.attach(id);
  const frames: [number, string][] = [];
  const closed = new Promise<void>((r) => conn.on('close', r));
  conn.on('data', (stream, data) => frames.push([stream, data.toString()]));
  await rt.start(id);
  conn.write(Buffer.from('ping\n'));
  await waitExit(id);
  await closed;
  const out = frames.filter(([s]) => s === 1).map(([, d]) => d).join('');
  const err = frames.filter(([s]) => s === 2).map(([, d]) => d).join('');
  assert.equal(out, 'out:ping\n');
  assert.equal(err, 'err\n');
  assert.equal(rt.readExit(id)?.code, 0);
  await rt.delete(id);
});

test('memory limit lands in the v1 memory cgroup; capabilities are Docker\'s', { skip }, async () => {
  const id = newId();
  const script = [
    'grep -E "^(CapEff|CapInh|Seccomp|NoNewPrivs):" /proc/self/status',
    'ip -o link show lo | grep -q "UP" && echo lo-up',
    'echo timer_list=$(wc -c < /proc/timer_list)',
    'echo x 2>/dev/null > /proc/sys/kernel/domainname || echo procsys-ro',
    'mkdir /tmp/m && mount -t tmpfs none /tmp/m 2>/dev/null || echo mount-denied',
    'ulimit -n', 'ulimit -Hn',
  ].join('; ');
  const s = await spec(id, ['sh', '-c', script], { resources: { memory: 64 * 1024 * 1024 } });
  await rt.create({ id, name: 'mem', spec: s, tty: false, openStdin: false, stdinOnce: false, logPath: paths.containerLog(id) });
  const cg = `/sys/fs/cgroup/memory${CG_PARENT}/${id}`;
  assert.equal(fs.readFileSync(`${cg}/memory.limit_in_bytes`, 'utf8').trim(), String(64 * 1024 * 1024));
  await rt.start(id);
  await waitExit(id);
  const log = fs.readFileSync(paths.containerLog(id), 'utf8');
  assert.match(log, /stdout F CapEff:\s+00000000a80425fb$/m);
  assert.match(log, /stdout F CapInh:\s+0000000000000000$/m);
  assert.match(log, /stdout F Seccomp:\s+2$/m);
  assert.match(log, /stdout F NoNewPrivs:\s+0$/m);
  assert.match(log, /stdout F lo-up$/m);
  assert.match(log, /stdout F timer_list=0$/m);
  assert.match(log, /stdout F procsys-ro$/m);
  assert.match(log, /stdout F mount-denied$/m);
  assert.match(log, /stdout F 1024$/m);
  const hard = Number(/stdout F (\d+)\n?$/.exec(log)?.[1]);
  assert.ok(hard > 0 && hard <= 524288);
  await rt.delete(id);
  assert.ok(!fs.existsSync(cg));
});

test('privileged: all capabilities, no seccomp, /sys writable', { skip }, async () => {
  const id = newId();
  const s = await spec(id, ['sh', '-c', 'grep -E "^(CapEff|Seccomp):" /proc/self/status; grep " /sys " /proc/mounts'], { privileged: true });
  await rt.create({ id, name: 'priv', spec: s, tty: false, openStdin: false, stdinOnce: false, logPath: paths.containerLog(id) });
  await rt.start(id);
  await waitExit(id);
  const log = fs.readFileSync(paths.containerLog(id), 'utf8');
  assert.equal(rt.readExit(id)?.code, 0);
  // All capabilities this daemon holds (this VM lacks CAP_SYS_RESOURCE).
  const bnd = /^CapBnd:\s*(\S+)$/m.exec(fs.readFileSync('/proc/self/status', 'utf8'))![1];
  assert.match(log, new RegExp(`stdout F CapEff:\\s+${bnd}$`, 'm'));
  assert.match(log, /stdout F Seccomp:\s+0$/m);
  assert.match(log, /stdout F sysfs \/sys sysfs rw,/m);
  await rt.delete(id);
});

test('tty container gets a 24x80 size before start', { skip }, async () => {
  const id = newId();
  const s = await spec(id, ['stty', 'size'], { tty: true });
  await rt.create({ id, name: 'tty', spec: s, tty: true, openStdin: false, stdinOnce: false, logPath: paths.containerLog(id) });
  await rt.start(id);
  await waitExit(id);
  assert.equal(rt.readExit(id)?.code, 0);
  assert.match(fs.readFileSync(paths.containerLog(id), 'utf8'), /stdout \w 24 80/);
  await rt.delete(id);

  const id2 = newId();
  // Resize of a running container (a resize before start races conmon's main loop).
  const s2 = await spec(id2, ['sh', '-c', 'sleep 0.3; stty size'], { tty: true });
  await rt.create({ id: id2, name: 'tty2', spec: s2, tty: true, openStdin: false, stdinOnce: false, logPath: paths.containerLog(id2) });
  await rt.start(id2);
  rt.resize(id2, 33, 111);
  await waitExit(id2);
  assert.match(fs.readFileSync(paths.containerLog(id2), 'utf8'), /stdout \w 33 111/);
  await rt.delete(id2);

  // A resize right behind create's 24x80, before start (docker run -it does this): conmon 2.1 applies the
  // first message of one read() to all of them, so the two must reach it one at a time.
  for (let i = 0; i < 3; i++) {
    const id3 = newId();
    const s3 = await spec(id3, ['stty', 'size'], { tty: true });
    await rt.create({ id: id3, name: `tty3-${i}`, spec: s3, tty: true, openStdin: false, stdinOnce: false, logPath: paths.containerLog(id3) });
    rt.resize(id3, 40 + i, 120);
    await new Promise((r) => setTimeout(r, 100)); // the client's resize and start are separate requests
    await rt.start(id3);
    await waitExit(id3);
    assert.match(fs.readFileSync(paths.containerLog(id3), 'utf8'), new RegExp(`stdout \\w ${40 + i} 120`));
    await rt.delete(id3);
  }
});

test('OOM kill: exit 137 and oomKilled', { skip }, async () => {
  const id = newId();
  // busybox tail buffers its whole input when /dev/zero never ends a line.
  const s = await spec(id, ['tail', '/dev/zero'], { resources: { memory: 16 * 1024 * 1024 } });
  await rt.create({ id, name: 'oom', spec: s, tty: false, openStdin: false, stdinOnce: false, logPath: paths.containerLog(id) });
  await rt.start(id);
  await waitExit(id, 30_000);
  const exit = rt.readExit(id);
  assert.equal(exit?.code, 137);
  assert.equal(exit?.oomKilled, true);
  await rt.delete(id);
});
