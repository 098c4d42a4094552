// docker cp and the archive API (HEAD/GET/PUT /containers/{id}/archive) against a private berthd, with the
// real docker CLI and bin/berth: files and directories both ways, `dir/.`, `-` (tar on stdin/stdout), -a,
// -L, running and stopped containers, into a volume and a bind mount, and Docker's errors.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { api, startDaemon, type Daemon } from '../helpers/daemon.js';
import { berth, docker, show, type CliOptions, type CliResult } from '../helpers/cli.js';
import { busyboxTar } from '../helpers/fixtures.js';

const IMG = 'busybox:cp';
let d: Daemon;
let tmp: string;

type Cli = 'docker' | 'berth';
const run = (cli: Cli, args: string[], opts?: CliOptions) => (cli === 'docker' ? docker : berth)(d.env, args, opts);
async function ok(cli: Cli, args: string[], opts?: CliOptions): Promise<CliResult> {
  const r = await run(cli, args, opts);
  assert.equal(r.code, 0, `${cli} ${args.join(' ')} failed: ${show(r)}`);
  return r;
}

before(async () => {
  assert.ok(spawnSync('docker', ['--version']).status === 0, 'the docker CLI must be on PATH');
  d = await startDaemon();
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'bt-cp-'));
  await ok('docker', ['import', '--change', 'CMD ["sh"]', await busyboxTar(), IMG], { timeoutMs: 60_000 });
});

after(async () => {
  if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
  if (!d) return;
  const leftovers = await d.cleanup();
  if (leftovers.length) console.error(`cp: swept leftovers: ${leftovers.join(', ')}`);
});

function stat(header: string | string[] | undefined): { name: string; size: number; mode: number; mtime: string; linkTarget: string } {
  assert.equal(typeof header, 'string', 'X-Docker-Container-Path-Stat is set');
  return JSON.parse(Buffer.from(header as string, 'base64').toString('utf8'));
}

function hostTree(dir: string): string[] {
  const out: string[] = [];
  const walk = (rel: string) => {
    for (const e of fs.readdirSync(path.join(dir, rel)).sort()) {
      const r = rel ? `${rel}/${e}` : e;
      const st = fs.lstatSync(path.join(dir, r));
      out.push(st.isDirectory() ? `${r}/` : st.isSymbolicLink() ? `${r} -> ${fs.readlinkSync(path.join(dir, r))}` : `${r}:${fs.readFileSync(path.join(dir, r), 'utf8')}`);
      if (st.isDirectory()) walk(r);
    }
  };
  walk('');
  return out;
}

function makeSourceDir(root: string): string {
  const src = path.join(root, 'src');
  fs.mkdirSync(path.join(src, 'sub', 'deeper'), { recursive: true });
  fs.writeFileSync(path.join(src, 'a.txt'), 'alpha\n');
  fs.writeFileSync(path.join(src, 'sub', 'b.txt'), 'beta\n');
  fs.writeFileSync(path.join(src, 'sub', 'deeper', 'c.txt'), 'gamma\n');
  fs.symlinkSync('a.txt', path.join(src, 'link'));
  return src;
}

test('archive API: HEAD stats with Go file modes, GET streams a tar with the stat header, Docker\'s 404/400 wording', async () => {
  await ok('docker', ['run', '-d', '--name', 'api-cp', IMG, 'sh', '-c', 'mkdir -p /opt/d && echo hi > /opt/d/f && ln -s /opt/d /opt/l && chmod 4755 /opt/d/f && sleep 600']);
  await ok('docker', ['exec', 'api-cp', 'test', '-L', '/opt/l']);
  const dir = await api(d.socket, 'HEAD', '/containers/api-cp/archive?path=/opt/d');
  assert.equal(dir.status, 200);
  const ds = stat(dir.headers['x-docker-container-path-stat']);
  assert.equal(ds.name, 'd');
  assert.equal(ds.mode, 2 ** 31 + 0o755, 'ModeDir | 0755');
  assert.match(ds.mtime, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$/);
  const f = stat((await api(d.socket, 'HEAD', '/containers/api-cp/archive?path=/opt/d/f')).headers['x-docker-container-path-stat']);
  assert.deepEqual([f.name, f.size, f.mode], ['f', 3, 2 ** 23 + 0o755], 'ModeSetuid | 0755');
  const l = stat((await api(d.socket, 'HEAD', '/containers/api-cp/archive?path=/opt/l')).headers['x-docker-container-path-stat']);
  assert.equal(l.mode & 2 ** 27, 2 ** 27, 'ModeSymlink');
  assert.equal(l.linkTarget, '/opt/d');

  const get = await api(d.socket, 'GET', '/containers/api-cp/archive?path=/opt/d');
  assert.equal(get.status, 200);
  assert.equal(get.headers['content-type'], 'application/x-tar');
  assert.equal(stat(get.headers['x-docker-container-path-stat']).name, 'd');
  assert.ok(get.body.includes('d/f'), 'entries are rebased on the requested name');

  const missing = await api(d.socket, 'HEAD', '/containers/api-cp/archive?path=/dne');
  assert.equal(missing.status, 404);
  const gone = await api(d.socket, 'GET', '/containers/api-cp/archive?path=/dne');
  assert.equal(gone.status, 404);
  assert.equal(JSON.parse(gone.body).message, 'Could not find the file /dne in container api-cp');
  const noCtr = await api(d.socket, 'GET', '/containers/nope/archive?path=/');
  assert.equal(noCtr.status, 404);
  assert.equal(JSON.parse(noCtr.body).message, 'No such container: nope');
  const empty = await api(d.socket, 'GET', '/containers/api-cp/archive');
  assert.equal(empty.status, 400);
  assert.equal(JSON.parse(empty.body).message, 'bad parameter: path cannot be empty');
  const put = await api(d.socket, 'PUT', '/containers/api-cp/archive?path=/opt/d/f');
  assert.equal(put.status, 400);
  assert.equal(JSON.parse(put.body).message, 'extraction point is not a directory');
  const putMissing = await api(d.socket, 'PUT', '/containers/api-cp/archive?path=/dne');
  assert.equal(putMissing.status, 404);
  assert.equal(JSON.parse(putMissing.body).message, 'Could not find the file /dne in container api-cp');
  await ok('docker', ['rm', '-f', 'api-cp']);
});

for (const cli of ['docker', 'berth'] as const) {
  for (const state of ['running', 'stopped'] as const) {
    test(`${cli} cp both ways on a ${state} container: a file, a directory, dir/., into an existing dir and to a new name`, async () => {
      const name = `cp-${cli}-${state}`;
      const work = fs.mkdtempSync(path.join(tmp, `${name}-`));
      const src = makeSourceDir(work);
      const file = path.join(work, 'docker_install.sh');
      fs.writeFileSync(file, '#!/bin/sh\necho installed\n', { mode: 0o755 });
      if (state === 'running') await ok(cli, ['run', '-d', '--name', name, IMG, 'sleep', '600']);
      else await ok(cli, ['create', '--name', name, IMG, 'sleep', '600']);

      await ok(cli, ['cp', file, `${name}:/opt`]);           // /opt does not exist: becomes the file's name
      await ok(cli, ['cp', file, `${name}:/tmp`]);           // an existing dir: the file goes inside
      await ok(cli, ['cp', src, `${name}:/tmp/tree`]);       // a new name for the directory
      await ok(cli, ['cp', src, `${name}:/tmp`]);            // into an existing dir: /tmp/src
      await ok(cli, ['cp', `${src}/.`, `${name}:/tmp/contents`]);

      const back = path.join(work, 'back');
      fs.mkdirSync(back);
      await ok(cli, ['cp', `${name}:/opt`, path.join(back, '1.sh')]);
      assert.equal(fs.readFileSync(path.join(back, '1.sh'), 'utf8'), '#!/bin/sh\necho installed\n');
      assert.equal(fs.statSync(path.join(back, '1.sh')).mode & 0o777, 0o755, 'mode kept');
      await ok(cli, ['cp', `${name}:/tmp/docker_install.sh`, back]);
      assert.ok(fs.existsSync(path.join(back, 'docker_install.sh')));
      const want = hostTree(src);
      for (const p of ['/tmp/tree', '/tmp/src', '/tmp/contents']) {
        const out = path.join(work, `out-${path.basename(p)}`);
        await ok(cli, ['cp', `${name}:${p}`, out]);
        assert.deepEqual(hostTree(out), want, `${p} round-trips`);
      }
      // dir/. out of the container into an existing directory merges the contents
      const merged = path.join(work, 'merged');
      fs.mkdirSync(merged);
      await ok(cli, ['cp', `${name}:/tmp/tree/.`, merged]);
      assert.deepEqual(hostTree(merged), want);

      if (state === 'running') {
        assert.equal((await ok(cli, ['exec', name, 'sh', '/opt'])).stdout, 'installed\n');
        assert.equal((await ok(cli, ['exec', name, 'cat', '/tmp/contents/sub/deeper/c.txt'])).stdout, 'gamma\n');
      } else {
        await ok(cli, ['start', name]);
        assert.equal((await ok(cli, ['exec', name, 'cat', '/tmp/src/sub/b.txt'])).stdout, 'beta\n');
      }
      await ok(cli, ['rm', '-f', name]);
    });
  }

  test(`${cli} cp with - (tar on stdin and stdout), -a and -L`, async () => {
    const name = `cp-${cli}-stream`;
    await ok(cli, ['run', '-d', '--name', name, '--user', '1234:2345', IMG, 'sh', '-c', 'echo t > /tmp/target && ln -s /tmp/target /tmp/lnk && sleep 600']);
    await ok(cli, ['exec', name, 'test', '-L', '/tmp/lnk']);
    const out = await run(cli, ['cp', `${name}:/tmp/target`, '-']);
    assert.equal(out.code, 0, show(out));
    const tarFile = path.join(tmp, `${name}.tar`);
    fs.writeFileSync(tarFile, out.stdout, 'latin1');
    const listed = spawnSync('tar', ['-tvf', tarFile], { encoding: 'utf8' });
    assert.match(listed.stdout, /target$/m, listed.stdout + listed.stderr);

    const inTar = path.join(tmp, `${name}-in.tar`);
    const stage = fs.mkdtempSync(path.join(tmp, 'stage-'));
    fs.writeFileSync(path.join(stage, 'from-stdin'), 'stdin\n');
    assert.equal(spawnSync('tar', ['-cf', inTar, '-C', stage, 'from-stdin']).status, 0);
    await ok(cli, ['cp', '-', `${name}:/tmp`], { input: fs.readFileSync(inTar) });
    assert.equal((await ok(cli, ['exec', name, 'cat', '/tmp/from-stdin'])).stdout, 'stdin\n');

    // -a: the container's user owns what is copied in; without it the host's owner stays
    const own = path.join(stage, 'owned');
    fs.writeFileSync(own, 'o\n');
    await ok(cli, ['cp', '-a', own, `${name}:/tmp/owned-a`]);
    await ok(cli, ['cp', own, `${name}:/tmp/owned-plain`]);
    assert.equal((await ok(cli, ['exec', name, 'stat', '-c', '%u:%g', '/tmp/owned-a'])).stdout.trim(), '1234:2345');
    assert.equal((await ok(cli, ['exec', name, 'stat', '-c', '%u:%g', '/tmp/owned-plain'])).stdout.trim(), `${process.getuid!()}:${process.getgid!()}`);

    // -L follows the link in the container; without it the link itself comes out
    const noL = path.join(tmp, `${name}-nol`);
    await ok(cli, ['cp', `${name}:/tmp/lnk`, noL]);
    assert.ok(fs.lstatSync(noL).isSymbolicLink(), 'without -L the symlink is copied');
    const withL = path.join(tmp, `${name}-l`);
    await ok(cli, ['cp', '-L', `${name}:/tmp/lnk`, withL]);
    assert.equal(fs.readFileSync(withL, 'utf8'), 't\n');
    await ok(cli, ['rm', '-f', name]);
  });

  test(`${cli} cp into a named volume and a bind mount lands in them, running or stopped`, async () => {
    const vol = `cpvol-${cli}`;
    const bind = fs.mkdtempSync(path.join(tmp, 'bind-'));
    const f = path.join(tmp, `payload-${cli}`);
    fs.writeFileSync(f, 'payload\n');
    await ok(cli, ['volume', 'create', vol]);
    const name = `cp-${cli}-vol`;
    await ok(cli, ['run', '-d', '--name', name, '-v', `${vol}:/data`, '-v', `${bind}:/bound`, IMG, 'sleep', '600']);
    await ok(cli, ['cp', f, `${name}:/data/running.txt`]);
    await ok(cli, ['cp', f, `${name}:/bound/running.txt`]);
    await ok(cli, ['stop', '-t', '0', name]);
    await ok(cli, ['cp', f, `${name}:/data/stopped.txt`]);
    await ok(cli, ['cp', f, `${name}:/bound/stopped.txt`]);
    assert.equal(fs.readFileSync(path.join(bind, 'running.txt'), 'utf8'), 'payload\n');
    assert.equal(fs.readFileSync(path.join(bind, 'stopped.txt'), 'utf8'), 'payload\n');
    const r = await ok(cli, ['run', '--rm', '-v', `${vol}:/v`, IMG, 'cat', '/v/running.txt', '/v/stopped.txt']);
    assert.equal(r.stdout, 'payload\npayload\n');
    // out of a stopped container's volume too
    const back = path.join(tmp, `back-${cli}`);
    await ok(cli, ['cp', `${name}:/data/stopped.txt`, back]);
    assert.equal(fs.readFileSync(back, 'utf8'), 'payload\n');
    // the stopped container's rootfs and volumes are not left mounted
    const left = fs.readFileSync('/proc/self/mountinfo', 'utf8').split('\n').filter((l) => l.includes(d.dataRoot) && l.includes('/merged'));
    assert.deepEqual(left, []);
    await ok(cli, ['rm', name]);
    await ok(cli, ['volume', 'rm', vol]);
  });

  test(`${cli} cp errors: missing container, missing path, a read-only rootfs or volume`, async () => {
    const f = path.join(tmp, `err-${cli}`);
    fs.writeFileSync(f, 'x');
    const noCtr = await run(cli, ['cp', f, 'no-such-ctr:/tmp']);
    assert.notEqual(noCtr.code, 0);
    assert.match(noCtr.stderr, /No such container: no-such-ctr/, show(noCtr));
    const name = `cp-${cli}-ro`;
    await ok(cli, ['run', '-d', '--name', name, '--read-only', '-v', `${tmp}:/ro:ro`, '--tmpfs', '/scratch', IMG, 'sleep', '600']);
    const noPath = await run(cli, ['cp', `${name}:/dne`, path.join(tmp, 'x')]);
    assert.notEqual(noPath.code, 0);
    assert.match(noPath.stderr, new RegExp(`Could not find the file /dne in container ${name}`), show(noPath));
    const ro = await run(cli, ['cp', f, `${name}:/tmp`]);
    assert.notEqual(ro.code, 0);
    assert.match(ro.stderr, /container rootfs is marked read-only/, show(ro));
    const roVol = await run(cli, ['cp', f, `${name}:/ro`]);
    assert.notEqual(roVol.code, 0);
    assert.match(roVol.stderr, /mounted volume is marked read-only/, show(roVol));
    await ok(cli, ['rm', '-f', name]);
  });
}

test('hostile symlinks: links to /etc, ../../.., a host path, and one swapped in a race loop never make cp read or write a host file', async () => {
  const victim = fs.mkdtempSync(path.join(tmp, 'victim-'));
  fs.writeFileSync(path.join(victim, 'secret'), 'host secret\n');
  const before = hostTree(victim);
  const depth = '../'.repeat(12);
  const name = 'cp-hostile';
  await ok('docker', ['run', '-d', '--name', name, IMG, 'sh', '-c',
    `ln -s /etc /etcl && ln -s ${depth}${victim.slice(1)} /upv && ln -s ${victim} /hostv && ` +
    // the race: /race flips between a directory with a file and a symlink to the host's victim dir
    `while true; do rm -rf /race; mkdir /race; echo inside > /race/f; rm -rf /race; ln -s ${victim} /race; done`]);
  await ok('docker', ['exec', name, 'test', '-L', '/hostv']);
  const payload = path.join(tmp, 'hostile-payload');
  fs.writeFileSync(payload, 'payload\n');
  for (const cli of ['docker', 'berth'] as const) {
    // planted links: reads find nothing outside, writes land inside the container
    for (const p of ['/upv/secret', '/hostv/secret']) {
      const r = await run(cli, ['cp', `${name}:${p}`, '-']);
      assert.ok(!r.stdout.includes('host secret'), `${cli} cp ${p} read the host file: ${show(r)}`);
    }
    await ok(cli, ['cp', payload, `${name}:/etcl/`]);
    assert.equal((await ok('docker', ['exec', name, 'cat', '/etc/hostile-payload'])).stdout, 'payload\n');
    for (const p of ['/upv/', '/hostv/', '/upv/x', '/hostv/x']) await run(cli, ['cp', payload, `${name}:${p}`]);
    // the race, both directions
    for (let i = 0; i < 15; i++) {
      const r = await run(cli, ['cp', `${name}:/race/f`, '-']);
      assert.ok(!r.stdout.includes('host secret'), `${cli} cp out of /race read the host file: ${show(r)}`);
      const rd = await run(cli, ['cp', `${name}:/race/.`, '-']);
      assert.ok(!rd.stdout.includes('host secret'), `${cli} cp out of /race/. read the host file: ${show(rd)}`);
      await run(cli, ['cp', payload, `${name}:/race/`]);
      await run(cli, ['cp', payload, `${name}:/race/in-${i}`]);
    }
  }
  assert.deepEqual(hostTree(victim), before, 'the host victim dir is untouched');
  assert.equal(fs.statSync(path.join(victim, 'secret')).mode & 0o777, 0o644);
  await ok('docker', ['rm', '-f', name]);
});

test('PUT /archive with a malformed tar, ".." entries, absolute names and links out is refused or confined', async () => {
  const victim = fs.mkdtempSync(path.join(tmp, 'victim-put-'));
  const name = 'cp-badtar';
  await ok('docker', ['run', '-d', '--name', name, IMG, 'sleep', '600']);
  const put = (body: Buffer) => new Promise<{ status: number; body: string }>((resolve, reject) => {
    const req = http.request({ socketPath: d.socket, method: 'PUT', path: `/containers/${name}/archive?path=/tmp`, headers: { 'content-type': 'application/x-tar' } }, (res) => {
      let b = '';
      res.on('data', (c) => { b += c; });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: b }));
    });
    req.on('error', reject);
    req.end(body);
  });
  const mk = (entries: string[][]) => {
    const stage = fs.mkdtempSync(path.join(tmp, 'badtar-'));
    const out = path.join(stage, 't.tar');
    // python's tarfile writes exactly the names given (GNU tar would strip them)
    const py = `import tarfile,io,sys\nt=tarfile.open(sys.argv[1],'w')\nfor kind,n,x in ${JSON.stringify(entries)}:\n  i=tarfile.TarInfo(n)\n  if kind=='f':\n    d=x.encode(); i.size=len(d); t.addfile(i,io.BytesIO(d))\n  else:\n    i.type=tarfile.SYMTYPE if kind=='s' else tarfile.LNKTYPE; i.linkname=x; t.addfile(i)\nt.close()\n`;
    assert.equal(spawnSync('python3', ['-c', py, out]).status, 0);
    return fs.readFileSync(out);
  };
  const dotdot = await put(mk([['f', '../../../../' + victim.slice(1) + '/dotdot', 'x']]));
  assert.equal(dotdot.status, 400, dotdot.body);
  const abs = await put(mk([['f', `${victim}/abs`, 'x']]));
  assert.ok(abs.status === 200 || abs.status === 400, abs.body);
  const link = await put(mk([['s', 'out', victim], ['f', 'out/through', 'x']]));
  assert.ok(link.status === 200 || link.status === 400, link.body);
  const hard = await put(mk([['h', 'grab', `../../../../${victim.slice(1)}/x`]]));
  assert.equal(hard.status, 400, hard.body);
  const junk = await put(Buffer.concat([Buffer.from('not a tar at all'), Buffer.alloc(1000, 7)]));
  assert.equal(junk.status, 400, junk.body);
  assert.deepEqual(fs.readdirSync(victim), [], 'nothing was written outside the container');
  await ok('docker', ['rm', '-f', name]);
});
