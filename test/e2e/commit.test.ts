// docker diff and docker commit with the real docker CLI and bin/berth against a private berthd.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { api, startDaemon, type Daemon } from '../helpers/daemon.js';
import { berth, docker, show, type CliOptions, type CliResult } from '../helpers/cli.js';
import { busyboxTar } from '../helpers/fixtures.js';
import { startRegistry } from '../helpers/registry.js';

const IMG = 'busybox:commit';
let d: Daemon;

async function ok(cli: 'docker' | 'berth', args: string[], opts?: CliOptions): Promise<CliResult> {
  const r = await (cli === 'docker' ? docker : berth)(d.env, args, opts);
  assert.equal(r.code, 0, `${cli} ${args.join(' ')} failed: ${show(r)}`);
  return r;
}

before(async () => {
  assert.ok(spawnSync('docker', ['--version']).status === 0, 'the docker CLI must be on PATH');
  d = await startDaemon();
  await ok('docker', ['import', '--change', 'CMD ["sh"]', await busyboxTar(), IMG], { timeoutMs: 60_000 });
});

after(async () => {
  if (!d) return;
  const leftovers = await d.cleanup();
  if (leftovers.length) console.error(`commit: swept leftovers: ${leftovers.join(', ')}`);
});

for (const cli of ['docker', 'berth'] as const) {
  test(`${cli} diff shows A, C and D; a container that changed nothing has no changes`, async () => {
    const name = `df-${cli}`;
    await ok(cli, ['run', '--name', name, IMG, 'sh', '-c', 'mkdir /new && echo hi > /new/f && rm /bin/ls && echo x >> /etc/passwd && rm -rf /home']);
    const r = await ok(cli, ['diff', name]);
    const lines = r.stdout.trim().split('\n');
    for (const want of ['A /new', 'A /new/f', 'C /bin', 'D /bin/ls', 'C /etc/passwd', 'D /home']) {
      assert.ok(lines.includes(want), `missing "${want}": ${show(r)}`);
    }
    // runc's mount points for /etc/hosts, /etc/resolv.conf, /etc/hostname are not the container's changes
    assert.ok(!lines.some((l) => /\/etc\/(hosts|hostname|resolv\.conf)$/.test(l)), show(r));
    await ok(cli, ['run', '--name', `${name}-idle`, IMG, 'true']);
    assert.equal((await ok(cli, ['diff', `${name}-idle`])).stdout, '');
    const missing = await (cli === 'docker' ? docker : berth)(d.env, ['diff', 'no-such-ctr']);
    assert.notEqual(missing.code, 0);
    assert.match(missing.stderr, /No such container: no-such-ctr/, show(missing));
    await ok(cli, ['rm', name, `${name}-idle`]);
  });

  test(`${cli} commit: the new image runs with the new file and command; author, message and history are kept`, async () => {
    const name = `cm-${cli}`;
    const tag = `committed-${cli}:v2`;
    await ok(cli, ['run', '--name', name, IMG, 'sh', '-c', 'echo committed > /data.txt && rm /bin/ls']);
    const c = await ok(cli, ['commit', '-a', 'Ann <ann@example.com>', '-m', 'my message', '-c', 'CMD ["cat", "/data.txt"]', '-c', 'ENV FOO=bar', name, tag]);
    const id = c.stdout.trim();
    assert.match(id, /^sha256:[0-9a-f]{64}$/, show(c));
    assert.equal((await ok(cli, ['run', '--rm', tag])).stdout, 'committed\n');
    const ls = await (cli === 'docker' ? docker : berth)(d.env, ['run', '--rm', tag, 'ls']);
    assert.notEqual(ls.code, 0, `the whiteout of /bin/ls must hide it in the committed image: ${show(ls)}`);
    assert.equal((await ok(cli, ['run', '--rm', tag, 'sh', '-c', 'echo $FOO'])).stdout, 'bar\n');
    const insp = JSON.parse((await ok('docker', ['image', 'inspect', tag])).stdout)[0];
    assert.equal(insp.Id, id);
    assert.equal(insp.Author, 'Ann <ann@example.com>');
    assert.equal(insp.Comment, 'my message');
    assert.deepEqual(insp.Config.Cmd, ['cat', '/data.txt']);
    assert.equal(insp.RootFS.Layers.length, 2, 'one new layer on the imported one');
    const base = JSON.parse((await ok('docker', ['image', 'inspect', IMG])).stdout)[0];
    assert.equal(insp.Parent, base.Id);
    const hist = await ok('docker', ['history', '--no-trunc', '--format', '{{.CreatedBy}}|{{.Comment}}', tag]);
    assert.match(hist.stdout.split('\n')[0]!, /^sh -c echo committed .*\|my message$/, show(hist));
    await ok(cli, ['rm', name]);
  });
}

test('commit pauses a running container by default and leaves it running; --pause=false too; nothing changed gives an empty layer', async () => {
  await ok('docker', ['run', '-d', '--name', 'live', IMG, 'sh', '-c', 'echo up > /up; sleep 600']);
  const since = Math.floor(Date.now() / 1000) - 1;
  await ok('docker', ['commit', 'live', 'live:1']);
  assert.equal((await ok('docker', ['inspect', '-f', '{{.State.Status}}', 'live'])).stdout.trim(), 'running');
  await ok('docker', ['commit', '--pause=false', 'live', 'live:2']);
  assert.equal((await ok('docker', ['run', '--rm', 'live:2', 'cat', '/up'])).stdout, 'up\n');
  await ok('docker', ['rm', '-f', 'live']);
  const events = await api(d.socket, 'GET', `/events?since=${since}&until=${Math.floor(Date.now() / 1000) + 1}&filters=${encodeURIComponent('{"container":["live"]}')}`);
  const ev = events.body.trim().split('\n').map((l) => JSON.parse(l) as { Action: string; Actor: { Attributes: Record<string, string> } });
  const actions = ev.map((e) => e.Action);
  const firstCommit = actions.indexOf('commit');
  assert.ok(firstCommit > 0 && actions.slice(0, firstCommit).includes('pause') && actions.slice(0, firstCommit).includes('unpause'), `pause, unpause, commit: ${actions.join(',')}`);
  assert.equal(ev[firstCommit]!.Actor.Attributes.imageRef, 'live:1');

  await ok('docker', ['create', '--name', 'idle', IMG]);
  await ok('docker', ['commit', 'idle', 'idle:1']);
  const layers = JSON.parse((await ok('docker', ['image', 'inspect', '-f', '{{json .RootFS.Layers}}', 'idle:1'])).stdout);
  assert.equal(layers.length, 1, 'an unchanged container adds no layer');
  const hist = await ok('docker', ['history', '--format', '{{.Size}}', 'idle:1']);
  assert.equal(hist.stdout.split('\n')[0], '0B');
  await ok('docker', ['rm', 'idle']);
});

test('commit refuses a bad change or reference with Docker\'s wording and stores nothing', async () => {
  await ok('docker', ['create', '--name', 'bad', IMG]);
  const before = (await ok('docker', ['images', '-a', '-q'])).stdout;
  const r1 = await docker(d.env, ['commit', '-c', 'RUN echo', 'bad']);
  assert.notEqual(r1.code, 0);
  assert.match(r1.stderr, /run is not a valid change command/, show(r1));
  const r2 = await api(d.socket, 'POST', '/commit?container=bad&repo=UPPER');
  assert.equal(r2.status, 400, r2.body);
  const r3 = await api(d.socket, 'POST', '/commit?container=nosuch');
  assert.equal(r3.status, 404, r3.body);
  assert.equal((await ok('docker', ['images', '-a', '-q'])).stdout, before);
  await ok('docker', ['rm', 'bad']);
});

/** The layer tars of a docker save archive, by the order of the image's layers. */
async function savedLayers(file: string): Promise<Buffer[]> {
  const tar = (await import('tar-stream')).default;
  const files = new Map<string, Buffer>();
  const ex = tar.extract();
  const done = (async () => {
    for await (const e of ex) {
      const chunks: Buffer[] = [];
      for await (const c of e) chunks.push(c as Buffer);
      files.set(e.header.name, Buffer.concat(chunks));
    }
  })();
  ex.end(fs.readFileSync(file));
  await done;
  const manifest = JSON.parse(files.get('manifest.json')!.toString()) as { Layers: string[] }[];
  return manifest[0]!.Layers.map((l) => files.get(l)!);
}

const sha256 = (b: Buffer) => `sha256:${createHash('sha256').update(b).digest('hex')}`;

test('a committed layer keeps no tar blob, yet save gives its tar (digest = diffID) the same every time, and commit → push → rmi → pull round-trips; the running container writing on does not change the image', async () => {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-commit-rt-'));
  const reg = await startRegistry(path.join(tmp, 'reg'));
  try {
    await ok('docker', ['run', '-d', '--name', 'rt', IMG, 'sh', '-c',
      'mkdir -p /big && head -c 3000000 /dev/urandom > /big/f && echo one > /big/note && ln /big/note /big/hard && ln -s note /big/sym && rm /bin/ls; sleep 600']);
    for (let i = 0; i < 100 && (await docker(d.env, ['exec', 'rt', 'test', '-e', '/big/sym'])).code !== 0; i++) await new Promise((r) => setTimeout(r, 100));
    await ok('docker', ['commit', 'rt', 'rt:1']);
    const diffIds = JSON.parse((await ok('docker', ['image', 'inspect', '-f', '{{json .RootFS.Layers}}', 'rt:1'])).stdout) as string[];
    const top = diffIds[diffIds.length - 1]!;
    const blob = path.join(d.dataRoot, 'content', 'blobs', 'sha256', top.slice('sha256:'.length));
    assert.equal(fs.existsSync(blob), false, 'no second copy of the layer as a tar blob');
    const sum = (await ok('docker', ['exec', 'rt', 'md5sum', '/big/f'])).stdout.split(' ')[0];

    // the container goes on writing: the committed image must not see it
    await ok('docker', ['exec', 'rt', 'sh', '-c', 'echo two >> /big/note && head -c 1000 /dev/zero >> /big/f']);
    assert.equal((await ok('docker', ['run', '--rm', 'rt:1', 'cat', '/big/note', '/big/hard', '/big/sym'])).stdout, 'one\none\none\n');
    assert.equal((await ok('docker', ['run', '--rm', 'rt:1', 'md5sum', '/big/f'])).stdout.split(' ')[0], sum);

    const tars: Buffer[] = [];
    for (const n of [1, 2]) {
      const file = path.join(tmp, `save${n}.tar`);
      await ok('docker', ['save', '-o', file, 'rt:1']);
      const layers = await savedLayers(file);
      tars.push(layers[layers.length - 1]!);
    }
    assert.equal(sha256(tars[0]!), top, 'the saved tar of the committed layer hashes to its diffID');
    assert.ok(tars[0]!.equals(tars[1]!), 'and it is the same tar the second time');

    const ref = `${reg.host}/e2e/committed:rt`;
    await ok('docker', ['tag', 'rt:1', ref]);
    await ok('docker', ['push', ref], { timeoutMs: 60_000 });
    const id = (await ok('docker', ['image', 'inspect', '-f', '{{.Id}}', 'rt:1'])).stdout.trim();
    await ok('docker', ['rm', '-f', 'rt']);
    await ok('docker', ['rmi', 'rt:1', ref]);
    await ok('docker', ['pull', ref], { timeoutMs: 60_000 });
    assert.equal((await ok('docker', ['image', 'inspect', '-f', '{{.Id}}', ref])).stdout.trim(), id, 'the same image id after the round trip');
    assert.equal((await ok('docker', ['run', '--rm', ref, 'cat', '/big/note'])).stdout, 'one\n');
    await ok('docker', ['rmi', ref]);
  } finally {
    reg.stop();
    fs.rmSync(tmp, { recursive: true, force: true });
  }
});
