import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { LayerStore } from '../../src/store/layers/layer-store.js';
import { applyLayerTar } from '../../src/store/layers/tar-apply.js';
import { headerSize } from '../../src/store/layers/tar-split.js';
import { packUpper } from '../../src/store/layers/upper-layer.js';
import { Paths } from '../../src/store/paths.js';
import { LinuxSys } from '../../src/sys/linux-sys.js';

// A commit's layer made without a tar (LayerStore.fromUpper: copy + tar-split) against the way it was made
// before (applyLayerTar of packUpper's tar): the same diffID, the same layer dir, and a tar made again from
// the tar-split that is packUpper's, byte for byte, every time.

const isRoot = process.getuid?.() === 0;
const sys = new LinuxSys();
const CAP = Buffer.from('0100000200040000000000000000000000000000', 'hex');

async function bytes(s: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of s) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}
const sha = (b: Buffer) => `sha256:${createHash('sha256').update(b).digest('hex')}`;

/** An upper dir with every kind of entry a container makes, over a small lower dir. */
function fixture(base: string): { lower: string; upper: string } {
  const lower = path.join(base, 'lower');
  const upper = path.join(base, 'upper');
  for (const d of ['bin', 'etc', 'opt/old', 'home']) fs.mkdirSync(path.join(lower, d), { recursive: true });
  fs.writeFileSync(path.join(lower, 'bin/ls'), 'ls');
  fs.mkdirSync(upper);
  for (const d of ['bin', 'etc', 'opt']) fs.mkdirSync(path.join(upper, d));
  sys.mknodChar(path.join(upper, 'bin/ls'), 0, 0, 0);
  fs.lchownSync(path.join(upper, 'bin/ls'), 7, 8);
  sys.mknodChar(path.join(upper, 'home'), 0, 0, 0);
  fs.writeFileSync(path.join(upper, 'etc/hosts'), ''); // runc's mount point: left out
  fs.writeFileSync(path.join(upper, 'etc/passwd'), 'root:x:0:0\n');
  fs.mkdirSync(path.join(upper, 'opt/old'));
  sys.lsetxattr(path.join(upper, 'opt/old'), 'trusted.overlay.opaque', 'y');
  fs.writeFileSync(path.join(upper, 'opt/old/new'), 'new');
  fs.mkdirSync(path.join(upper, 'app/sub'), { recursive: true });
  const big = Buffer.alloc(3 * 1024 * 1024 + 17);
  for (let i = 0; i < big.length; i += 4096) big[i] = i & 0xff;
  fs.writeFileSync(path.join(upper, 'app/big'), big);
  fs.writeFileSync(path.join(upper, 'app/a'), 'aaaa');
  fs.linkSync(path.join(upper, 'app/a'), path.join(upper, 'app/b'));
  fs.writeFileSync(path.join(upper, 'app/empty'), '');
  fs.symlinkSync('../etc/passwd', path.join(upper, 'app/link'));
  fs.lchownSync(path.join(upper, 'app/link'), 3, 4);
  fs.writeFileSync(path.join(upper, 'app/ping'), 'binary');
  sys.lsetxattr(path.join(upper, 'app/ping'), 'security.capability', CAP);
  fs.writeFileSync(path.join(upper, 'app/suid'), '#!/bin/sh\n');
  fs.chownSync(path.join(upper, 'app/suid'), 1000, 1000);
  fs.chmodSync(path.join(upper, 'app/suid'), 0o4755);
  sys.mknod(path.join(upper, 'app/fifo'), 'fifo', 0o640, 0, 0);
  sys.mknodChar(path.join(upper, 'app/null'), 0o666, 1, 3);
  const long = `app/sub/${'n'.repeat(120)}`;
  fs.writeFileSync(path.join(upper, long), 'a long name');
  fs.chmodSync(path.join(upper, 'app/sub'), 0o750);
  fs.utimesSync(path.join(upper, 'app/a'), 1_000_000_000.7, 1_000_000_000.7);
  fs.utimesSync(path.join(upper, 'app/sub'), 1_500_000_000, 1_500_000_000);
  return { lower, upper };
}

interface Meta { type: string; mode: number; uid: number; gid: number; size: number; mtime: number; rdev: number; link?: string; body?: string; xattrs: string[]; ino: string }

/** Everything of a layer dir that a layer carries, by path; hard links as a shared inode label. */
function describe(root: string): Record<string, Meta> {
  const out: Record<string, Meta> = {};
  const inodes = new Map<number, string>();
  const walk = (rel: string) => {
    for (const name of fs.readdirSync(path.join(root, rel)).sort()) {
      const r = rel ? `${rel}/${name}` : name;
      const abs = path.join(root, r);
      const st = fs.lstatSync(abs);
      const type = st.isDirectory() ? 'dir' : st.isSymbolicLink() ? 'symlink' : st.isFile() ? 'file' : st.isCharacterDevice() ? 'char' : st.isFIFO() ? 'fifo' : 'other';
      const xattrs = ['security.capability', 'trusted.overlay.opaque'].filter((x) => sys.lgetxattr(abs, x) !== undefined)
        .map((x) => `${x}=${sys.lgetxattr(abs, x)!.toString('hex')}`);
      if (st.isFile() && !inodes.has(st.ino)) inodes.set(st.ino, r);
      out[r] = {
        type, mode: st.mode & 0o7777, uid: st.uid, gid: st.gid, size: st.isFile() ? st.size : 0,
        mtime: Math.floor(st.mtimeMs / 1000), rdev: st.rdev, xattrs, ino: st.isFile() ? inodes.get(st.ino)! : '',
        ...(st.isSymbolicLink() ? { link: fs.readlinkSync(abs) } : {}),
        ...(st.isFile() ? { body: sha(fs.readFileSync(abs)) } : {}),
      };
      // whiteouts: applyLayerTar does not keep a whiteout's mtime (overlay does not read it)
      if (type === 'char' && st.rdev === 0) out[r]!.mtime = 0;
      if (st.isDirectory()) walk(r);
    }
  };
  walk('');
  return out;
}

test('a layer made from an upper dir without a tar is the layer applyLayerTar made of its tar: same diffID, same dir, the tar again byte for byte', { skip: !isRoot }, async () => {
  const base = fs.mkdtempSync(path.join(os.tmpdir(), 'layer-commit-'));
  try {
    const { lower, upper } = fixture(base);
    const tarBefore = await bytes(packUpper(upper, { sys, lowers: [lower] }));
    const viaTar = path.join(base, 'via-tar');
    fs.mkdirSync(viaTar);
    const applied = await applyLayerTar(packUpper(upper, { sys, lowers: [lower] }), viaTar, { sys });
    assert.equal(applied.diffId, sha(tarBefore));

    const paths = new Paths(path.join(base, 'data'), path.join(base, 'exec'));
    const layers = new LayerStore(paths, sys);
    await layers.init();
    const { layer, created } = await layers.fromUpper(upper, undefined, [lower]);
    assert.ok(created);
    assert.equal(layer.diffId, applied.diffId, 'the diffID is the one the tar gave');
    assert.equal(layer.size, applied.size);
    assert.equal(layer.tarSize, tarBefore.length);
    assert.deepEqual(describe(layers.diffDir(layer.chainId)), describe(viaTar), 'the layer dir is the one the tar gave');
    assert.equal(fs.existsSync(path.join(layers.diffDir(layer.chainId), 'etc/hosts')), false);

    const tarOf = layers.tarOf(layer.diffId)!;
    assert.equal(tarOf.size, tarBefore.length);
    const again = await bytes(tarOf.open());
    assert.ok(again.equals(tarBefore), 'the tar made from the tar-split is packUpper\'s, byte for byte');
    assert.ok((await bytes(tarOf.open())).equals(tarBefore), 'and the same the second time');

    // the record survives a restart of the store
    const reopened = new LayerStore(paths, sys);
    await reopened.init();
    assert.equal(reopened.tarOf(layer.diffId)?.size, tarBefore.length);

    // a layer dir that no longer gives the recorded tar fails the stream, it does not hand out other bytes
    const a = path.join(layers.diffDir(layer.chainId), 'app/a');
    fs.writeFileSync(a, 'bbbb');
    await assert.rejects(bytes(layers.tarOf(layer.diffId)!.open()), /no longer give|not the one recorded/);
    fs.writeFileSync(a, 'toolong');
    await assert.rejects(bytes(layers.tarOf(layer.diffId)!.open()), /no longer the file recorded/);
  } finally {
    fs.rmSync(base, { recursive: true, force: true });
  }
});

test('the same upper dir committed twice on the same parent is one layer, and its tar has one digest', { skip: !isRoot }, async () => {
  const base = fs.mkdtempSync(path.join(os.tmpdir(), 'layer-commit-'));
  try {
    const { lower, upper } = fixture(base);
    const layers = new LayerStore(new Paths(path.join(base, 'data'), path.join(base, 'exec')), sys);
    await layers.init();
    const one = await layers.fromUpper(upper, undefined, [lower]);
    const two = await layers.fromUpper(upper, undefined, [lower]);
    assert.equal(two.layer.chainId, one.layer.chainId);
    assert.equal(two.created, false);
    assert.equal(sha(await bytes(layers.tarOf(one.layer.diffId)!.open())), one.layer.diffId);
    assert.deepEqual(fs.readdirSync(path.join(base, 'data')).filter((n) => n.startsWith('tmp-')), []);
  } finally {
    fs.rmSync(base, { recursive: true, force: true });
  }
});

test('tar header sizes: octal text and base-256', () => {
  const h = Buffer.alloc(512);
  h.write('00000001750\0', 124, 'latin1');
  assert.equal(headerSize(h), 1000);
  const b = Buffer.alloc(512);
  b[124] = 0x80;
  b.writeUIntBE(10 * 2 ** 32, 130, 6);
  assert.equal(headerSize(b), 10 * 2 ** 32);
  assert.equal(headerSize(Buffer.alloc(512)), 0);
});
