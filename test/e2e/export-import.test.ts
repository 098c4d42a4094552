// docker export / docker import with the real docker CLI and bin/berth against a private berthd: the
// round trip, -c and -m, stdin, a URL served on loopback by this test, and bad input that must leave no
// half-written image or layer.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { api, mountsUnder, startDaemon, storeListing, waitFor, type Daemon } from '../helpers/daemon.js';
import { berth, berthBin, docker, show, type CliOptions, type CliResult } from '../helpers/cli.js';
import { busyboxTar } from '../helpers/fixtures.js';

const IMG = 'busybox:export';
let d: Daemon;
let tmp: string;
let server: http.Server;
let base: string;
let rootfsTar: string;

async function ok(cli: 'docker' | 'berth', args: string[], opts?: CliOptions): Promise<CliResult> {
  const r = await (cli === 'docker' ? docker : berth)(d.env, args, opts);
  assert.equal(r.code, 0, `${cli} ${args.join(' ')} failed: ${show(r)}`);
  return r;
}

async function fails(cli: 'docker' | 'berth', args: string[], opts?: CliOptions): Promise<CliResult> {
  const r = await (cli === 'docker' ? docker : berth)(d.env, args, opts);
  assert.notEqual(r.code, 0, `${cli} ${args.join(' ')} should fail: ${show(r)}`);
  return r;
}

function tarNames(file: string): string[] {
  return execFileSync('tar', ['-tf', file], { encoding: 'utf8', maxBuffer: 64 << 20 }).split('\n').filter(Boolean);
}

before(async () => {
  assert.ok(spawnSync('docker', ['--version']).status === 0, 'the docker CLI must be on PATH');
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-export-'));
  rootfsTar = await busyboxTar();
  d = await startDaemon();
  await ok('docker', ['import', '--change', 'CMD ["sh"]', rootfsTar, IMG], { timeoutMs: 60_000 });
  // Serves the busybox rootfs, a 404 and a redirect on loopback.
  server = http.createServer((req, res) => {
    if (req.url === '/rootfs.tar') {
      res.writeHead(200, { 'Content-Type': 'application/x-tar', 'Content-Length': fs.statSync(rootfsTar).size });
      fs.createReadStream(rootfsTar).pipe(res);
    } else if (req.url === '/moved') {
      res.writeHead(302, { Location: '/rootfs.tar' });
      res.end();
    } else if (req.url === '/garbage') {
      res.writeHead(200);
      res.end('this is not a tar archive, not at all '.repeat(40));
    } else {
      res.writeHead(404);
      res.end('nothing here\n');
    }
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

after(async () => {
  server?.close();
  if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
  if (!d) return;
  const leftovers = await d.cleanup();
  if (leftovers.length) console.error(`export-import: swept leftovers: ${leftovers.join(', ')}`);
});

for (const cli of ['docker', 'berth'] as const) {
  test(`${cli} export | import round-trips; -c and -m are applied; volumes are not exported`, async () => {
    const name = `ex-${cli}`;
    await ok(cli, ['run', '--name', name, '-v', '/vol', IMG, 'sh', '-c', 'echo round-trip > /marker && rm /bin/ls && echo in-volume > /vol/f']);
    const file = path.join(tmp, `${cli}.tar`);
    await ok(cli, ['export', '-o', file, name]);
    const names = tarNames(file);
    assert.ok(names.includes('marker'), `marker missing: ${names.slice(0, 20).join(' ')}`);
    assert.ok(names.includes('bin/') && names.includes('bin/busybox') && names.includes('etc/passwd'), names.slice(0, 20).join(' '));
    assert.ok(!names.includes('bin/ls'), 'a deleted file is not exported');
    assert.ok(names.includes('vol/'), 'the mount point is there');
    assert.ok(!names.includes('vol/f'), 'a volume\'s content is not part of the export');
    assert.ok(!names.some((n) => n.startsWith('/') || n === './' || n === '.'), 'names relative to the root, no root entry');
    // (The CLI can return before the daemon has handled the exit and unmounted the container's root.)
    assert.ok(await waitFor(() => mountsUnder(path.join(d.dataRoot, 'containers')).length === 0), 'the stopped container\'s overlay is unmounted again');

    const tag = `imported-${cli}:rt`;
    const imp = await ok(cli, ['import', '-c', 'CMD ["cat", "/marker"]', '-c', 'ENV A=b', '-m', 'round trip', file, tag]);
    assert.match(imp.stdout.trim(), /^sha256:[0-9a-f]{64}$/, show(imp));
    assert.equal((await ok(cli, ['run', '--rm', tag])).stdout, 'round-trip\n');
    assert.equal((await ok(cli, ['run', '--rm', tag, 'sh', '-c', 'echo $A'])).stdout, 'b\n');
    assert.notEqual((await (cli === 'docker' ? docker : berth)(d.env, ['run', '--rm', tag, 'ls'])).code, 0, 'ls was removed before the export');
    const insp = JSON.parse((await ok('docker', ['image', 'inspect', tag])).stdout)[0];
    assert.deepEqual(insp.Config.Cmd, ['cat', '/marker']);
    assert.ok(insp.Config.Env.includes('A=b'), JSON.stringify(insp.Config.Env));
    assert.equal(insp.Comment, 'round trip');
    assert.equal(insp.RootFS.Layers.length, 1);
    const hist = await ok(cli, ['history', '--no-trunc', '--format', '{{.Comment}}', tag]);
    assert.equal(hist.stdout.trim(), 'round trip');

    // To stdout, then from stdin.
    const piped = path.join(tmp, `${cli}-stdout.tar`);
    const fd = fs.openSync(piped, 'w');
    try {
      const out = spawnSync(cli === 'docker' ? 'docker' : berthBin, ['export', name], { env: { ...process.env, ...d.env }, stdio: ['ignore', fd, 'pipe'] });
      assert.equal(out.status, 0, String(out.stderr));
    } finally { fs.closeSync(fd); }
    assert.deepEqual(tarNames(piped), names, 'the same tar to stdout');
    const fromStdin = await ok(cli, ['import', '-', `stdin-${cli}:1`], { input: fs.readFileSync(file) });
    assert.match(fromStdin.stdout.trim(), /^sha256:/);
    const c2 = JSON.parse((await ok('docker', ['image', 'inspect', `stdin-${cli}:1`])).stdout)[0];
    assert.equal(c2.Comment, 'Imported from -');
    await ok(cli, ['rm', '-v', name]);
    await ok(cli, ['rmi', tag, `stdin-${cli}:1`]);
  });

  test(`${cli} import from a URL on loopback (and through a redirect); its errors in Docker's words`, async () => {
    const before = storeListing(d.dataRoot);
    const tag = `url-${cli}:1`;
    const r = await ok(cli, ['import', `${base}/rootfs.tar`, tag]);
    assert.match(r.stdout.trim().split('\n').pop()!, /^sha256:[0-9a-f]{64}$/, show(r));
    const insp = JSON.parse((await ok('docker', ['image', 'inspect', tag])).stdout)[0];
    assert.equal(insp.Comment, `Imported from ${base}/rootfs.tar`);
    assert.equal((await ok(cli, ['run', '--rm', tag, 'echo', 'from-url'])).stdout, 'from-url\n');
    await ok(cli, ['import', `${base}/moved`, `moved-${cli}:1`]);
    await ok(cli, ['rmi', tag, `moved-${cli}:1`]);

    const missing = await fails(cli, ['import', `${base}/nope.tar`, `x-${cli}:1`]);
    assert.match(missing.stderr, new RegExp(`failed to GET ${base}/nope.tar with status 404 Not Found: nothing here`), show(missing));
    const closed = http.createServer();
    await new Promise<void>((res) => closed.listen(0, '127.0.0.1', () => res()));
    const port = (closed.address() as AddressInfo).port;
    await new Promise<void>((res) => closed.close(() => res()));
    const refused = await fails(cli, ['import', `http://127.0.0.1:${port}/x.tar`, `x-${cli}:1`]);
    assert.match(refused.stderr, new RegExp(`Get "http://127.0.0.1:${port}/x.tar": dial tcp 127.0.0.1:${port}: connect: connection refused`), show(refused));
    const garbage = await fails(cli, ['import', `${base}/garbage`, `x-${cli}:1`]);
    assert.match(garbage.stderr, /tar/i, show(garbage));
    assert.deepEqual(storeListing(d.dataRoot), before, 'no image, layer, blob or ingest left by the imports and the failures');
  });

  test(`${cli} import: bad input leaves nothing behind`, async () => {
    const before = storeListing(d.dataRoot);
    const junk = path.join(tmp, 'junk.tar');
    fs.writeFileSync(junk, Buffer.alloc(4096, 'x'));
    const nonTar = await fails(cli, ['import', junk, `junk-${cli}:1`]);
    assert.match(nonTar.stderr, /tar/i, show(nonTar));
    const truncated = path.join(tmp, 'truncated.tar');
    fs.writeFileSync(truncated, fs.readFileSync(rootfsTar).subarray(0, 300_000));
    await fails(cli, ['import', truncated, `trunc-${cli}:1`]);
    const change = await fails(cli, ['import', '-c', 'FROM scratch', rootfsTar, `chg-${cli}:1`]);
    assert.match(change.stderr, /from is not a valid change command/, show(change));
    const noFile = await fails(cli, ['import', path.join(tmp, 'no-such.tar')]);
    assert.match(noFile.stderr, /no such file or directory/, show(noFile));
    const badRef = await fails(cli, ['import', rootfsTar, 'Upper/Case']);
    assert.match(badRef.stderr, /invalid reference format|repository name must be lowercase/, show(badRef));
    const win = await fails(cli, ['import', '--platform', 'windows', rootfsTar, `win-${cli}:1`]);
    assert.match(win.stderr, /operating system is not supported/, show(win));
    assert.deepEqual(storeListing(d.dataRoot), before);
  });

  test(`${cli} import --platform sets the image's platform`, async () => {
    const tag = `arm-${cli}:1`;
    await ok(cli, ['import', '--platform', 'linux/arm64/v8', rootfsTar, tag]);
    const insp = JSON.parse((await ok('docker', ['image', 'inspect', tag])).stdout)[0];
    assert.deepEqual([insp.Os, insp.Architecture, insp.Variant], ['linux', 'arm64', 'v8']);
    await ok(cli, ['rmi', tag]);
  });

  test(`${cli} export: a running container, a missing one, an output in a missing directory`, async () => {
    const name = `exr-${cli}`;
    await ok(cli, ['run', '-d', '--name', name, IMG, 'sh', '-c', 'echo live > /live; sleep 600']);
    const file = path.join(tmp, `${cli}-live.tar`);
    for (let i = 0; i < 50 && !fs.existsSync(file); i++) {
      await ok(cli, ['export', '-o', file, name]);
      if (!tarNames(file).includes('live')) fs.rmSync(file);
    }
    assert.ok(tarNames(file).includes('live'), 'the running container\'s writes are exported');
    assert.equal((await ok('docker', ['inspect', '-f', '{{.State.Status}}', name])).stdout.trim(), 'running');
    const missing = await fails(cli, ['export', '-o', path.join(tmp, 'x.tar'), 'no-such-ctr']);
    assert.match(missing.stderr, /No such container: no-such-ctr/, show(missing));
    const badDir = await fails(cli, ['export', '-o', path.join(tmp, 'no-dir', 'x.tar'), name]);
    assert.match(badDir.stderr, /failed to export container: invalid output path: stat .*no-dir: no such file or directory/, show(badDir));
    await ok(cli, ['rm', '-f', name]);
    assert.ok(await waitFor(() => mountsUnder(path.join(d.dataRoot, 'containers')).length === 0), mountsUnder(d.dataRoot).join(' '));
  });
}

test('file capabilities survive cp in, export and import (security.capability as Docker\'s archive keeps it)', async () => {
  const f = path.join(tmp, 'capped');
  fs.writeFileSync(f, 'capped\n');
  assert.equal(spawnSync('setcap', ['cap_net_raw+ep', f]).status, 0, 'setcap on the test file');
  await ok('docker', ['create', '--name', 'capx', IMG, 'true']);
  await ok('docker', ['cp', f, 'capx:/capped']);
  for (const cli of ['docker', 'berth'] as const) {
    const file = path.join(tmp, `cap-${cli}.tar`);
    await ok(cli, ['export', '-o', file, 'capx']);
    const py = spawnSync('python3', ['-c', 'import sys,tarfile; m=tarfile.open(sys.argv[1]).getmember("capped"); print(repr(m.pax_headers.get("SCHILY.xattr.security.capability","")))', file], { encoding: 'utf8' });
    assert.equal(py.status, 0, py.stderr);
    assert.notEqual(py.stdout.trim(), "''", `the export carries the capability: ${py.stdout}`);
    const tag = `capped-${cli}:1`;
    await ok(cli, ['import', file, tag]);
    const upper = JSON.parse((await ok('docker', ['image', 'inspect', tag])).stdout)[0].GraphDriver.Data.UpperDir;
    const got = spawnSync('getcap', [path.join(upper, 'capped')], { encoding: 'utf8' });
    assert.match(got.stdout, /cap_net_raw=ep/, `imported layer keeps it: ${got.stdout}${got.stderr}`);
    await ok(cli, ['rmi', tag]);
  }
  await ok('docker', ['rm', 'capx']);
});

test('GET /containers/{id}/export over the API: 200 application/x-tar, 404 in Docker\'s words', async () => {
  const r = await api(d.socket, 'GET', '/v1.45/containers/nope/export');
  assert.equal(r.status, 404);
  assert.equal(JSON.parse(r.body).message, 'No such container: nope');
  const c = await api(d.socket, 'POST', '/v1.45/containers/create?name=api-ex', { Image: IMG, Cmd: ['true'] });
  assert.equal(c.status, 201, c.body);
  const e = await api(d.socket, 'GET', '/v1.45/containers/api-ex/export');
  assert.equal(e.status, 200);
  assert.equal(e.headers['content-type'], 'application/x-tar');
  const ev = await api(d.socket, 'GET', `/v1.45/events?since=0&until=${Math.ceil(Date.now() / 1000) + 1}&filters=${encodeURIComponent('{"event":["export"]}')}`);
  assert.match(ev.body, /"Action":"export"/);
  await api(d.socket, 'DELETE', '/v1.45/containers/api-ex');
});
