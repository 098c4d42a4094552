// Volumes, bind mounts and tmpfs (issue 9) with the REAL docker CLI and bin/berth against a private berthd.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { api, mountsUnder, startDaemon, type Daemon } from '../helpers/daemon.js';
import { berth, docker, show, type CliOptions, type CliResult } from '../helpers/cli.js';

let d: Daemon;

async function ok(cli: 'docker' | 'berth', args: string[], opts?: CliOptions): Promise<CliResult> {
  const r = await (cli === 'docker' ? docker : berth)(d.env, args, opts);
  assert.equal(r.code, 0, `${cli} ${args.join(' ')} failed: ${show(r)}`);
  return r;
}

before(async () => {
  assert.ok(spawnSync('docker', ['--version']).status === 0, 'the docker CLI must be on PATH');
  d = await startDaemon({ args: ['-b', 'none'] });
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
