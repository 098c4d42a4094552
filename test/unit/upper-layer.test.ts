import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Readable } from 'node:stream';
import tar from 'tar-stream';
import { packUpper, upperChanges, upperHasContent } from '../../src/store/layers/upper-layer.js';
import { applyLayerTar } from '../../src/store/layers/tar-apply.js';
import { LinuxSys } from '../../src/sys/linux-sys.js';
import { childImageConfig, imageConfigOf, mergeCommitConfig } from '../../src/services/commit-service.js';

const isRoot = process.getuid?.() === 0;
const sys = new LinuxSys();
// sha256 of 1024 zero bytes: the diffID of an empty layer (moby layer.EmptyLayer).
const EMPTY_DIFF = 'sha256:5f70bf18a086007016e948b04aed3b82103a36bea41755b6cddfaf10ace3c6ef';
// VFS_CAP_REVISION_2 with cap_net_bind_service permitted: a real security.capability value.
const CAP = Buffer.from('0100000200040000000000000000000000000000', 'hex');

interface Entry { name: string; type: string; linkname?: string | null; body: string; pax?: Record<string, string> | null; mode: number; uid: number }

async function readTar(stream: Readable): Promise<{ entries: Entry[]; raw: Buffer }> {
  const chunks: Buffer[] = [];
  for await (const c of stream) chunks.push(c as Buffer);
  const raw = Buffer.concat(chunks);
  const entries: Entry[] = [];
  const ex = tar.extract();
  const done = (async () => {
    for await (const e of ex) {
      let body = '';
      for await (const c of e) body += (c as Buffer).toString();
      entries.push({ name: e.header.name, type: e.header.type!, linkname: e.header.linkname, body, pax: e.header.pax as Record<string, string> | null, mode: e.header.mode!, uid: e.header.uid! });
    }
  })();
  ex.end(raw);
  await done;
  return { entries, raw };
}

/** lower: a small image; upper: what a container did to it, in overlay's own format. */
function fixture(): { base: string; lower: string; upper: string } {
  const base = fs.mkdtempSync(path.join(os.tmpdir(), 'upper-layer-'));
  const lower = path.join(base, 'lower');
  const upper = path.join(base, 'upper');
  for (const d of ['bin', 'etc', 'home/user', 'opt/old', 'var']) fs.mkdirSync(path.join(lower, d), { recursive: true });
  fs.writeFileSync(path.join(lower, 'bin/ls'), 'ls');
  fs.writeFileSync(path.join(lower, 'etc/passwd'), 'root:x:0:0');
  fs.writeFileSync(path.join(lower, 'opt/old/file'), 'old');
  fs.mkdirSync(upper);
  // copied-up parents keep the lower's metadata, as overlay does
  for (const d of ['bin', 'etc', 'opt']) {
    fs.mkdirSync(path.join(upper, d));
    const st = fs.statSync(path.join(lower, d));
    fs.chmodSync(path.join(upper, d), st.mode & 0o7777);
  }
  sys.mknodChar(path.join(upper, 'bin/ls'), 0, 0, 0); // rm /bin/ls
  fs.writeFileSync(path.join(upper, 'etc/passwd'), 'root:x:0:0\nnew:x:1:1'); // modified
  fs.writeFileSync(path.join(upper, 'etc/hosts'), ''); // runc's bind-mount target: not the container's change
  sys.mknodChar(path.join(upper, 'home'), 0, 0, 0); // rm -rf /home
  fs.mkdirSync(path.join(upper, 'opt/old'));
  sys.lsetxattr(path.join(upper, 'opt/old'), 'trusted.overlay.opaque', 'y'); // rm -rf /opt/old; mkdir /opt/old
  fs.writeFileSync(path.join(upper, 'opt/old/new'), 'new');
  fs.mkdirSync(path.join(upper, 'app'));
  fs.writeFileSync(path.join(upper, 'app/a'), 'aaaa');
  fs.linkSync(path.join(upper, 'app/a'), path.join(upper, 'app/b'));
  fs.symlinkSync('a', path.join(upper, 'app/link'));
  fs.writeFileSync(path.join(upper, 'app/ping'), 'binary');
  sys.lsetxattr(path.join(upper, 'app/ping'), 'security.capability', CAP);
  return { base, lower, upper };
}

// upper-dir fixtures need mknod and trusted.* xattrs
test('upperChanges lists A/C/D as moby does: whiteouts and opaque dirs are deletions, runtime mount points are not changes', { skip: !isRoot }, () => {
  const { base, lower, upper } = fixture();
  try {
    const got = upperChanges(upper, [lower], sys).map((c) => `${'CAD'[c.Kind]} ${c.Path}`);
    assert.deepEqual(got, [
      'A /app', 'A /app/a', 'A /app/b', 'A /app/link', 'A /app/ping',
      'C /bin', 'D /bin/ls',
      'C /etc/passwd', // a modification does not mark its (unchanged) parent, as moby's walk
      'D /home',
      'C /opt', 'D /opt/old', 'A /opt/old/new',
    ]);
  } finally {
    fs.rmSync(base, { recursive: true, force: true });
  }
});

test('packUpper writes OCI whiteouts, opaque markers, hard links and security.capability, and round-trips through the layer applier', { skip: !isRoot }, async () => {
  const { base, lower, upper } = fixture();
  try {
    const { entries, raw } = await readTar(packUpper(upper, { sys, lowers: [lower] }));
    const names = entries.map((e) => `${e.type} ${e.name}${e.linkname ? ` -> ${e.linkname}` : ''}`);
    assert.deepEqual(names, [
      'directory app/', 'file app/a', 'link app/b -> app/a', 'symlink app/link -> a', 'file app/ping',
      'directory bin/', 'file bin/.wh.ls',
      'directory etc/', 'file etc/passwd',
      'file .wh.home',
      'directory opt/', 'directory opt/old/', 'file opt/old/.wh..wh..opq', 'file opt/old/new',
    ]);
    assert.equal(entries.find((e) => e.name === 'app/a')!.body, 'aaaa');
    const ping = entries.find((e) => e.name === 'app/ping')!;
    assert.equal(ping.body, 'binary');
    // the PAX value is binary: compare the bytes in the archive itself
    assert.ok(raw.includes(Buffer.concat([Buffer.from('SCHILY.xattr.security.capability='), CAP, Buffer.from('\n')])), 'security.capability travels as a PAX record');

    const dest = path.join(base, 'dest');
    fs.mkdirSync(dest);
    const res = await applyLayerTar(packUpper(upper, { sys, lowers: [lower] }), dest, { sys });
    const st = fs.lstatSync(path.join(dest, 'bin/ls'));
    assert.ok(st.isCharacterDevice() && st.rdev === 0, 'a whiteout is a 0:0 device again in the layer dir');
    assert.ok(fs.lstatSync(path.join(dest, 'home')).isCharacterDevice());
    assert.equal(sys.lgetxattr(path.join(dest, 'opt/old'), 'trusted.overlay.opaque')?.toString(), 'y');
    assert.equal(fs.statSync(path.join(dest, 'app/a')).ino, fs.statSync(path.join(dest, 'app/b')).ino, 'hard links stay links');
    assert.deepEqual(sys.lgetxattr(path.join(dest, 'app/ping'), 'security.capability'), CAP);
    assert.equal(fs.existsSync(path.join(dest, 'etc/hosts')), false, 'runtime mount points are left out');
    assert.equal(res.diffId, `sha256:${createHash('sha256').update(raw).digest('hex')}`);
  } finally {
    fs.rmSync(base, { recursive: true, force: true });
  }
});

test('an upper dir holding only runtime mount points is the empty layer', async () => {
  const base = fs.mkdtempSync(path.join(os.tmpdir(), 'upper-empty-'));
  try {
    const lower = path.join(base, 'lower');
    const upper = path.join(base, 'upper');
    fs.mkdirSync(path.join(lower, 'etc'), { recursive: true });
    fs.mkdirSync(path.join(upper, 'etc'), { recursive: true });
    fs.chmodSync(path.join(upper, 'etc'), fs.statSync(path.join(lower, 'etc')).mode & 0o7777);
    for (const f of ['hosts', 'hostname', 'resolv.conf']) fs.writeFileSync(path.join(upper, 'etc', f), '');
    fs.mkdirSync(path.join(upper, 'proc'));
    assert.equal(upperHasContent(upper, [lower]), false);
    assert.deepEqual(upperChanges(upper, [lower], { lgetxattr: () => undefined }), []);
    const { entries, raw } = await readTar(packUpper(upper, { sys: { lgetxattr: () => undefined }, lowers: [lower] }));
    assert.equal(entries.length, 0);
    assert.equal(`sha256:${createHash('sha256').update(raw).digest('hex')}`, EMPTY_DIFF);
    // a real file beside them is content
    fs.writeFileSync(path.join(upper, 'etc', 'motd'), 'hi');
    assert.equal(upperHasContent(upper, [lower]), true);
    // a non-empty hosts file is the container's own
    fs.rmSync(path.join(upper, 'etc', 'motd'));
    fs.writeFileSync(path.join(upper, 'etc', 'hosts'), '1.2.3.4 x');
    assert.equal(upperHasContent(upper, [lower]), true);
  } finally {
    fs.rmSync(base, { recursive: true, force: true });
  }
});

test('commit config: changes win, the container fills what they leave empty (moby merge)', () => {
  const own = imageConfigOf({ Env: ['PATH=/bin', 'A=1'], Cmd: ['sh'], Entrypoint: null, Labels: { a: '1' }, WorkingDir: '/w', ExposedPorts: { '80/tcp': {} } });
  assert.deepEqual(own, { Env: ['PATH=/bin', 'A=1'], Cmd: ['sh'], Labels: { a: '1' }, WorkingDir: '/w', ExposedPorts: { '80/tcp': {} } });
  const user = { Env: ['A=2'], Cmd: ['x'], Labels: { b: '2' } };
  assert.deepEqual(mergeCommitConfig(user, own), {
    Env: ['A=2', 'PATH=/bin'], Cmd: ['x'], Labels: { a: '1', b: '2' }, WorkingDir: '/w', ExposedPorts: { '80/tcp': {} },
  });
  // an entrypoint given by the user drops the container's Cmd, as moby's merge does
  assert.equal(mergeCommitConfig({ Entrypoint: ['/e'] }, own).Cmd, undefined);
});

test('child image config: one more history entry, diffID appended unless the layer is empty', () => {
  const parent = {
    architecture: 'amd64', os: 'linux', rootfs: { type: 'layers' as const, diff_ids: ['sha256:a'] },
    history: [{ created: 't0', created_by: 'import' }],
  };
  const withLayer = childImageConfig(parent, {
    parent: 'sha256:p', config: { Cmd: ['sh'] }, history: { created_by: 'sh -c x' }, author: 'me', comment: 'msg',
    layer: { chainId: 'sha256:c', diffId: 'sha256:b' },
  }, 't1');
  assert.deepEqual(withLayer.rootfs.diff_ids, ['sha256:a', 'sha256:b']);
  assert.deepEqual(withLayer.history, [parent.history[0], { created: 't1', created_by: 'sh -c x', author: 'me', comment: 'msg' }]);
  assert.equal(withLayer.author, 'me');
  assert.equal(withLayer.architecture, 'amd64');
  const empty = childImageConfig(parent, { parent: 'sha256:p', config: {}, history: { created_by: 'true' } }, 't2');
  assert.deepEqual(empty.rootfs.diff_ids, ['sha256:a']);
  assert.equal(empty.history!.at(-1)!.empty_layer, true);
});
