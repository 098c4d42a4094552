// Volumes, bind mounts and tmpfs (issue 9) with the REAL docker CLI and bin/berth against a private berthd.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { api, mountsUnder, startDaemon, type Daemon } from '../helpers/daemon.js';
import { berth, docker, show, type CliOptions, type CliResult } from '../helpers/cli.js';
import { busyboxTar } from '../helpers/fixtures.js';

const IMG = 'busybox:local';
const VIMG = 'busybox:vol';

let d: Daemon;

async function ok(cli: 'docker' | 'berth', args: string[], opts?: CliOptions): Promise<CliResult> {
  const r = await (cli === 'docker' ? docker : berth)(d.env, args, opts);
  assert.equal(r.code, 0, `${cli} ${args.join(' ')} failed: ${show(r)}`);
  return r;
}

before(async () => {
  assert.ok(spawnSync('docker', ['--version']).status === 0, 'the docker CLI must be on PATH');
  d = await startDaemon({ args: ['-b', 'none'] });
  const tar = await busyboxTar();
  await ok('docker', ['import', '--change', 'CMD ["sh"]', tar, IMG], { timeoutMs: 60_000 });
  await ok('docker', ['import', '--change', 'CMD ["sh"]', '--change', 'VOLUME /bin', tar, VIMG], { timeoutMs: 60_000 });
});

after(async () => {
  if (!d) return;
  const leftovers = await d.cleanup();
  if (leftovers.length) console.error(`volumes: swept leftovers: ${leftovers.join(', ')}`);
});

for (const cli of ['docker', 'berth'] as const) {
  test(`${cli} volume create / ls / inspect / rm / prune`, async () => {
    const v = `${cli}-data`;
    const c = await ok(cli, ['volume', 'create', '--label', `team=${cli}`, v]);
    assert.equal(c.stdout.trim(), v);
    const anon = (await ok(cli, ['volume', 'create'])).stdout.trim();
    assert.match(anon, /^[0-9a-f]{64}$/);
    const ls = await ok(cli, ['volume', 'ls']);
    assert.match(ls.stdout, /^DRIVER\s+VOLUME NAME$/m, show(ls));
    assert.match(ls.stdout, new RegExp(`^local\\s+${v}$`, 'm'), show(ls));
    const q = await ok(cli, ['volume', 'ls', '-q', '--filter', `label=team=${cli}`]);
    assert.equal(q.stdout.trim(), v);
    const dangling = await ok(cli, ['volume', 'ls', '-q', '-f', 'dangling=true', '-f', `name=${cli}-`]);
    assert.equal(dangling.stdout.trim(), v);
    const ins = JSON.parse((await ok(cli, ['volume', 'inspect', v])).stdout);
    assert.equal(ins[0].Name, v);
    assert.equal(ins[0].Driver, 'local');
    assert.equal(ins[0].Scope, 'local');
    assert.deepEqual(ins[0].Labels, { team: cli });
    assert.equal(ins[0].Mountpoint, path.join(d.dataRoot, 'volumes', v, '_data'));
    assert.match(ins[0].CreatedAt, /^\d{4}-\d\d-\d\dT/);
    assert.ok(fs.statSync(ins[0].Mountpoint).isDirectory());
    const fmt = await ok(cli, ['volume', 'inspect', '-f', '{{.Mountpoint}}', v]);
    assert.equal(fmt.stdout.trim(), ins[0].Mountpoint);

    // a bad name is Docker's 400
    const bad = await (cli === 'docker' ? docker : berth)(d.env, ['volume', 'create', 'a/b']);
    assert.notEqual(bad.code, 0);
    assert.match(bad.stderr, /"a\/b" includes invalid characters for a local volume name, only "\[a-zA-Z0-9\]\[a-zA-Z0-9_.-\]" are allowed/, show(bad));

    // prune without --all takes only anonymous volumes (API >= 1.42); a nameless `volume create` is not one (as Docker's)
    const pr = await ok(cli, ['volume', 'prune', '-f']);
    assert.equal(pr.stdout, 'Total reclaimed space: 0B\n', show(pr));
    assert.ok(fs.existsSync(ins[0].Mountpoint), 'a named volume survives a plain prune');
    await ok(cli, ['volume', 'rm', anon]);

    const rm = await ok(cli, ['volume', 'rm', v]);
    assert.equal(rm.stdout.trim(), v);
    assert.ok(!fs.existsSync(path.join(d.dataRoot, 'volumes', v)));
    const gone = await (cli === 'docker' ? docker : berth)(d.env, ['volume', 'inspect', v]);
    assert.equal(gone.code, 1);
    assert.match(gone.stderr, /no such volume/, show(gone));
    await ok(cli, ['volume', 'rm', '-f', v]);
    const rm2 = await (cli === 'docker' ? docker : berth)(d.env, ['volume', 'rm', v]);
    assert.equal(rm2.code, 1);
    assert.match(rm2.stderr, /no such volume/);
  });
}

test('volume prune --all and label filters; API < 1.42 prunes named ones too', async () => {
  await ok('docker', ['volume', 'create', '--label', 'keep=1', 'p-keep']);
  await ok('docker', ['volume', 'create', 'p-drop']);
  const pr = await ok('docker', ['volume', 'prune', '-f', '--all', '--filter', 'label!=keep']);
  assert.match(pr.stdout, /p-drop/);
  assert.doesNotMatch(pr.stdout, /p-keep/);
  const old = await api(d.socket, 'POST', '/v1.41/volumes/prune');
  assert.equal(old.status, 200, old.body);
  assert.deepEqual(JSON.parse(old.body).VolumesDeleted, ['p-keep']);
});

test('local driver options: type=tmpfs is mounted at first use; bad options are 400', async () => {
  const r = await api(d.socket, 'POST', '/volumes/create', { Name: 'opt-bad', DriverOpts: { foo: 'x' } });
  assert.equal(r.status, 400);
  assert.match(JSON.parse(r.body).message, /invalid option key: "foo"/);
  const r2 = await api(d.socket, 'POST', '/volumes/create', { Name: 'opt-bad', DriverOpts: { type: 'tmpfs' } });
  assert.equal(r2.status, 400);
  assert.match(JSON.parse(r2.body).message, /missing required option: "device"/);
  const c = await ok('docker', ['volume', 'create', '-d', 'local', '-o', 'type=tmpfs', '-o', 'device=tmpfs', '-o', 'o=size=8m', 'tmp-vol']);
  assert.equal(c.stdout.trim(), 'tmp-vol');
  const ins = JSON.parse((await ok('docker', ['volume', 'inspect', 'tmp-vol'])).stdout)[0];
  assert.deepEqual(ins.Options, { type: 'tmpfs', device: 'tmpfs', o: 'size=8m' });
  assert.deepEqual(mountsUnder(path.join(d.dataRoot, 'volumes')), [], 'nothing is mounted before a container uses it');
  await ok('docker', ['volume', 'rm', 'tmp-vol']);
});

test('local driver o=bind: the volume is the host directory, both ways; removing the volume keeps its files', async () => {
  const host = fs.mkdtempSync(path.join('/tmp', 'bindvol-'));
  try {
    fs.writeFileSync(path.join(host, 'from-host'), 'h\n');
    await ok('docker', ['volume', 'create', '-o', 'type=none', '-o', 'o=bind', '-o', `device=${host}`, 'bindvol']);
    const r = await ok('docker', ['run', '--rm', '-v', 'bindvol:/d', IMG, 'sh', '-c', 'cat /d/from-host; echo c > /d/from-ctr']);
    assert.equal(r.stdout, 'h\n');
    assert.equal(fs.readFileSync(path.join(host, 'from-ctr'), 'utf8'), 'c\n');
    assert.deepEqual(mountsUnder(path.join(d.dataRoot, 'volumes')), [], 'unmounted once no container uses it');
    await ok('docker', ['volume', 'rm', 'bindvol']);
    assert.deepEqual(fs.readdirSync(host).sort(), ['from-ctr', 'from-host'], 'rm never deletes through the bind');
    // a device that does not exist fails at first use, in moby's words, and leaves the volume usable for rm
    await ok('docker', ['volume', 'create', '-o', 'type=none', '-o', 'o=bind', '-o', `device=${host}/missing`, 'bindvol-bad']);
    const bad = await docker(d.env, ['run', '--rm', '-v', 'bindvol-bad:/d', IMG, 'true']);
    assert.notEqual(bad.code, 0, show(bad));
    assert.match(bad.stderr, /error while mounting volume '[^']+\/bindvol-bad\/_data': failed to mount local volume: mount [^:]+\/missing:[^,]+\/_data, flags: 0x1000: no such file or directory/, show(bad));
    await ok('docker', ['volume', 'rm', 'bindvol-bad']);
  } finally {
    fs.rmSync(host, { recursive: true, force: true });
  }
});

test('bad -v and --storage-opt: Docker\'s wording, exit 125, nothing created', async () => {
  const before = (await ok('docker', ['ps', '-aq'])).stdout;
  const vols = (await ok('docker', ['volume', 'ls', '-q'])).stdout;
  const rel = await docker(d.env, ['run', '--rm', '-v', 'relative/dir:/dst', IMG, 'true']);
  assert.equal(rel.code, 125, show(rel));
  assert.match(rel.stderr, /"relative\/dir" includes invalid characters for a local volume name, only "\[a-zA-Z0-9\]\[a-zA-Z0-9_.-\]" are allowed\. If you intended to pass a host directory, use absolute path/, show(rel));
  for (const cli of ['docker', 'berth'] as const) {
    const so = await (cli === 'docker' ? docker : berth)(d.env, ['run', '--rm', '--storage-opt', 'size=1G', IMG, 'true']);
    assert.equal(so.code, 125, show(so));
    assert.match(so.stderr, /--storage-opt is supported only for overlay over xfs with 'pquota' mount option/, show(so));
  }
  assert.equal((await ok('docker', ['ps', '-aq'])).stdout, before, 'no container left behind');
  assert.equal((await ok('docker', ['volume', 'ls', '-q'])).stdout, vols, 'no volume left behind');
});

for (const cli of ['docker', 'berth'] as const) {
  test(`${cli}: the seed's walk-through -v /tmp/:/mnt -e arg1=arg1, both ways`, async () => {
    const tag = `bt-${cli}-${process.pid}`;
    const name = `app-${cli}`;
    try {
      await ok(cli, ['run', '-d', '-v', '/tmp/:/mnt', '-e', 'arg1=arg1', '--name', name, IMG, 'sh', '-c', `echo $arg1 > /mnt/${tag}-ctr; sleep 60`]);
      const hostFile = `/tmp/${tag}-ctr`;
      for (let i = 0; i < 100 && !fs.existsSync(hostFile); i++) await new Promise((r) => setTimeout(r, 100));
      assert.equal(fs.readFileSync(hostFile, 'utf8'), 'arg1\n');
      fs.writeFileSync(`/tmp/${tag}-host`, 'from host\n');
      const cat = await ok(cli, ['exec', name, 'cat', `/mnt/${tag}-host`]);
      assert.equal(cat.stdout, 'from host\n');
      const mounts = JSON.parse((await ok(cli, ['inspect', '-f', '{{json .Mounts}}', name])).stdout);
      assert.deepEqual(mounts, [{ Type: 'bind', Source: '/tmp', Destination: '/mnt', Mode: '', RW: true, Propagation: 'rprivate' }]);
      await ok(cli, ['rm', '-f', name]);
    } finally {
      fs.rmSync(`/tmp/${tag}-ctr`, { force: true });
      fs.rmSync(`/tmp/${tag}-host`, { force: true });
    }
  });

  test(`${cli}: a named volume keeps its data across containers; in use is 409`, async () => {
    const v = `keep-${cli}`;
    await ok(cli, ['run', '--rm', '-v', `${v}:/data`, IMG, 'sh', '-c', 'echo kept > /data/f']);
    const r = await ok(cli, ['run', '--rm', '-v', `${v}:/data:ro`, IMG, 'cat', '/data/f']);
    assert.equal(r.stdout, 'kept\n');
    const ro = await (cli === 'docker' ? docker : berth)(d.env, ['run', '--rm', '-v', `${v}:/data:ro`, IMG, 'touch', '/data/g']);
    assert.notEqual(ro.code, 0, 'a :ro volume is read-only');
    await ok(cli, ['create', '--name', `user-${cli}`, '-v', `${v}:/data`, IMG]);
    const busy = await (cli === 'docker' ? docker : berth)(d.env, ['volume', 'rm', v]);
    assert.equal(busy.code, 1);
    assert.match(busy.stderr, /volume is in use/, show(busy));
    await ok(cli, ['rm', `user-${cli}`]);
    await ok(cli, ['volume', 'rm', v]);
  });
}

test('copy-up: a new volume gets the image content; rm -v removes the anonymous volume of an image VOLUME', async () => {
  await ok('docker', ['run', '--rm', '-v', 'cu:/bin', IMG, 'true']);
  assert.ok(fs.existsSync(path.join(d.dataRoot, 'volumes', 'cu', '_data', 'busybox')), 'the image\'s /bin was copied into the new volume');
  await ok('docker', ['volume', 'rm', 'cu']);
  await ok('docker', ['create', '--name', 'anon', VIMG, 'ls', '/bin/sh']);
  const mounts = JSON.parse((await ok('docker', ['inspect', '-f', '{{json .Mounts}}', 'anon'])).stdout);
  assert.equal(mounts.length, 1);
  assert.equal(mounts[0].Type, 'volume');
  assert.equal(mounts[0].Destination, '/bin');
  assert.match(mounts[0].Name, /^[0-9a-f]{64}$/);
  await ok('docker', ['start', '-a', 'anon']);
  const labels = JSON.parse((await ok('docker', ['volume', 'inspect', '-f', '{{json .Labels}}', mounts[0].Name])).stdout);
  assert.deepEqual(labels, { 'com.docker.volume.anonymous': '' });
  await ok('docker', ['rm', '-v', 'anon']);
  assert.ok(!fs.existsSync(path.join(d.dataRoot, 'volumes', mounts[0].Name)), 'rm -v removed the anonymous volume');
  await ok('docker', ['run', '--rm', '-v', '/scratch', IMG, 'true']);
  const left = await ok('docker', ['volume', 'ls', '-q']);
  assert.equal(left.stdout.trim(), '', '--rm took its anonymous volume along');
});

test('--mount tmpfs and volume, --volumes-from with :ro, a tmpfs volume; nothing stays mounted', async () => {
  const t = await ok('docker', ['run', '--rm', '--mount', 'type=tmpfs,target=/cache,tmpfs-size=4m', IMG, 'sh', '-c', 'grep " /cache " /proc/mounts']);
  assert.match(t.stdout, /tmpfs \/cache tmpfs .*size=4096k/, show(t));
  await ok('docker', ['run', '--name', 'src', '--mount', 'type=volume,source=shared,target=/shared', IMG, 'sh', '-c', 'echo s > /shared/x']);
  const vf = await ok('docker', ['run', '--rm', '--volumes-from', 'src:ro', IMG, 'sh', '-c', 'cat /shared/x; touch /shared/y || echo ro']);
  assert.equal(vf.stdout, 's\nro\n', show(vf));
  await ok('docker', ['volume', 'create', '-o', 'type=tmpfs', '-o', 'device=tmpfs', '-o', 'o=size=8m', 'tv']);
  const tv = await ok('docker', ['run', '--rm', '-v', 'tv:/t', IMG, 'sh', '-c', 'echo x > /t/a && cat /t/a']);
  assert.equal(tv.stdout, 'x\n');
  assert.deepEqual(mountsUnder(path.join(d.dataRoot, 'volumes')), [], 'the tmpfs volume is unmounted when its container is gone');
  await ok('docker', ['rm', 'src']);
  await ok('docker', ['volume', 'rm', 'shared', 'tv']);
});
