import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import zlib from 'node:zlib';
import tar from 'tar-stream';
import { applyLayerTar, cleanEntryPath } from '../../src/store/layers/tar-apply.js';
import { compress as zstdCompress } from 'zstd-napi';
import { InvalidParameterError } from '../../src/errors.js';
import { RecordingSys } from '../../src/sys/sys.js';
import { LinuxSys } from '../../src/sys/linux-sys.js';
import { encodePaxRecords } from '../../src/core/pax.js';
import { retypePaxMarkers } from '../helpers/tar.js';

type E = { name: string; type?: tar.Header['type']; body?: string; devmajor?: number; devminor?: number; linkname?: string; mode?: number; uid?: number; gid?: number; mtime?: Date; pax?: Record<string, string> };

async function makeTar(entries: E[]): Promise<Buffer> {
  const pack = tar.pack();
  const chunks: Buffer[] = [];
  const done = new Promise<void>((resolve, reject) => {
    pack.on('data', (c: unknown) => { chunks.push(c as Buffer); });
    pack.on('end', () => resolve());
    pack.on('error', reject);
  });
  for (const e of entries) {
    const { body, ...h } = e;
    await new Promise<void>((resolve, reject) => {
      pack.entry({ type: 'file', mode: 0o644, ...h } as tar.Header, body ?? '', (err) => (err ? reject(err) : resolve()));
    });
  }
  pack.finalize();
  await done;
  return Buffer.concat(chunks);
}

function sandbox(): { base: string; root: string; victim: string; cleanup(): void } {
  const base = fs.mkdtempSync(path.join(os.tmpdir(), 'tarapply-'));
  const root = path.join(base, 'dest');
  const victim = path.join(base, 'victim');
  fs.mkdirSync(root);
  fs.mkdirSync(victim);
  fs.writeFileSync(path.join(victim, 'hello'), 'host file');
  fs.mkdirSync(path.join(base, 'dest-evil'));
  fs.writeFileSync(path.join(base, 'dest-evil', 'secret'), 'secret');
  return { base, root, victim, cleanup: () => fs.rmSync(base, { recursive: true, force: true }) };
}

function snapshot(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string) => {
    for (const n of fs.readdirSync(d).sort()) {
      const p = path.join(d, n);
      const st = fs.lstatSync(p);
      out.push(`${path.relative(dir, p)}:${st.mode.toString(8)}:${st.nlink}:${st.size}`);
      if (st.isDirectory()) walk(p);
    }
  };
  walk(dir);
  return out;
}

async function apply(buf: Buffer, root: string, sys = new RecordingSys()) {
  return applyLayerTar(Readable.from([buf]), root, { sys });
}

test('cleanEntryPath: absolute names are rooted, climbing names are breakouts', () => {
  assert.equal(cleanEntryPath('./bin/sh'), 'bin/sh');
  assert.equal(cleanEntryPath('/etc/passwd'), 'etc/passwd');
  assert.equal(cleanEntryPath('/../victim/x'), 'victim/x');
  assert.equal(cleanEntryPath('./'), '');
  assert.equal(cleanEntryPath('a//b/'), 'a/b');
  for (const bad of ['..', '../x', 'a/../../x', '../../pwned']) {
    assert.throws(() => cleanEntryPath(bad), InvalidParameterError, bad);
  }
});

test('extracts files, dirs, symlinks, hardlinks with modes, owners and mtimes; diffID = sha256 of the tar', async () => {
  const sb = sandbox();
  try {
    const mtime = new Date('2020-01-02T03:04:05Z');
    const buf = await makeTar([
      { name: 'bin/', type: 'directory', mode: 0o755, mtime },
      { name: 'bin/tool', body: '#!/bin/sh\necho hi\n', mode: 0o4755, uid: 1000, gid: 1001, mtime },
      { name: 'bin/link', type: 'link', linkname: 'bin/tool' },
      { name: 'bin/sym', type: 'symlink', linkname: 'tool', uid: 5, gid: 6 },
      { name: 'etc/deep/file', body: 'x', mode: 0o600 },
      { name: 'tmp/', type: 'directory', mode: 0o1777, mtime },
    ]);
    const res = await apply(buf, sb.root);
    const file = path.join(sb.root, 'bin/tool');
    const st = fs.statSync(file);
    assert.equal(fs.readFileSync(file, 'utf8'), '#!/bin/sh\necho hi\n');
    assert.equal(st.mode & 0o7777, 0o4755, 'setuid survives chown');
    assert.equal(st.uid, 1000);
    assert.equal(st.gid, 1001);
    assert.equal(st.mtime.getTime(), mtime.getTime());
    assert.equal(fs.statSync(path.join(sb.root, 'bin/link')).ino, st.ino);
    assert.equal(fs.readlinkSync(path.join(sb.root, 'bin/sym')), 'tool');
    assert.equal(fs.lstatSync(path.join(sb.root, 'bin/sym')).uid, 5);
    assert.equal(fs.statSync(path.join(sb.root, 'tmp')).mode & 0o7777, 0o1777);
    assert.equal(fs.statSync(path.join(sb.root, 'bin')).mtime.getTime(), mtime.getTime(), 'dir mtime set after children');
    assert.equal(fs.statSync(path.join(sb.root, 'etc')).mode & 0o777, 0o755, 'implied parent dirs are 0755');
    assert.equal(res.diffId, `sha256:${createHash('sha256').update(buf).digest('hex')}`);
    assert.equal(res.size, 18 + 1);
    assert.equal(res.compression, 'none');

    // Cross-check the diffID against sha256sum of the same bytes on disk.
    const tarFile = path.join(sb.base, 'layer.tar');
    fs.writeFileSync(tarFile, buf);
    const sum = execFileSync('sha256sum', [tarFile], { encoding: 'utf8' }).split(' ')[0];
    assert.equal(res.diffId, `sha256:${sum}`);

    // Gzip input gives the same diffID (of the uncompressed tar) and the same tree.
    const root2 = path.join(sb.base, 'dest2');
    fs.mkdirSync(root2);
    const res2 = await applyLayerTar(Readable.from([zlib.gzipSync(buf)]), root2, { sys: new RecordingSys() });
    assert.equal(res2.compression, 'gzip');
    assert.equal(res2.diffId, res.diffId);
    assert.deepEqual(snapshot(root2), snapshot(sb.root));

    // zstd too: one frame, and two frames back to back (zstd(1) and containers/image may write several).
    for (const [i, z] of [zstdCompress(buf), Buffer.concat([zstdCompress(buf.subarray(0, 1000)), zstdCompress(buf.subarray(1000))])].entries()) {
      const root3 = path.join(sb.base, `dest-zstd${i}`);
      fs.mkdirSync(root3);
      const res3 = await applyLayerTar(Readable.from([z]), root3, { sys: new RecordingSys() });
      assert.equal(res3.compression, 'zstd');
      assert.equal(res3.diffId, res.diffId);
      assert.deepEqual(snapshot(root3), snapshot(sb.root));
    }
  } finally { sb.cleanup(); }
});

test('zstd: a stream fed a byte at a time, and output larger than one decoder block, decode whole', async () => {
  const sb = sandbox();
  try {
    const big = Buffer.alloc(3 * 1024 * 1024, 'abc');
    const buf = await makeTar([{ name: 'big', body: big.toString() }]);
    const z = zstdCompress(buf);
    assert.ok(z.length < 4096, 'compresses well: one input chunk yields many output blocks');
    async function* bytes() { for (let i = 0; i < z.length; i++) yield z.subarray(i, i + 1); }
    const res = await applyLayerTar(Readable.from(bytes()), sb.root, { sys: new RecordingSys() });
    assert.equal(res.diffId, `sha256:${createHash('sha256').update(buf).digest('hex')}`);
    assert.equal(fs.statSync(path.join(sb.root, 'big')).size, big.length);
  } finally { sb.cleanup(); }
});

test('whiteouts become 0:0 char devices and opaque xattrs (recorded)', async () => {
  const sb = sandbox();
  try {
    const sys = new RecordingSys();
    const buf = await makeTar([
      { name: 'etc/', type: 'directory', mode: 0o755 },
      { name: 'etc/.wh.passwd', body: '' },
      { name: 'a/b/c/foo', body: 'kept' },
      { name: 'a/.wh..wh..opq', body: '' },
      { name: 'same/x', body: 'mine' },
      { name: 'same/.wh.x', body: '' },
      { name: 'new/.wh.gone', body: '' },
    ]);
    await apply(buf, sb.root, sys);
    assert.deepEqual(sys.calls.filter((c) => c.op === 'mknodChar'), [
      { op: 'mknodChar', path: path.join(sb.root, 'etc/passwd'), mode: 0, major: 0, minor: 0 },
      { op: 'mknodChar', path: path.join(sb.root, 'new/gone'), mode: 0, major: 0, minor: 0 },
    ]);
    assert.deepEqual(sys.calls.filter((c) => c.op === 'lsetxattr'), [
      { op: 'lsetxattr', path: path.join(sb.root, 'a'), name: 'trusted.overlay.opaque', value: 'y' },
    ]);
    assert.equal(fs.readFileSync(path.join(sb.root, 'a/b/c/foo'), 'utf8'), 'kept', 'opaque marker never hides same-layer entries');
    assert.equal(fs.readFileSync(path.join(sb.root, 'same/x'), 'utf8'), 'mine');
    assert.ok(!fs.existsSync(path.join(sb.root, 'etc/.wh.passwd')), 'marker files are not written');
    assert.ok(!fs.existsSync(path.join(sb.root, 'a/.wh..wh..opq')));
  } finally { sb.cleanup(); }
});

test('malformed whiteouts are rejected (L13)', async () => {
  for (const name of ['.wh.', '.wh..', '.wh...', 'etc/.wh..', 'etc/.wh...']) {
    const sb = sandbox();
    try {
      const before = snapshot(sb.base);
      await assert.rejects(apply(await makeTar([{ name, body: '' }]), sb.root),
        (e: unknown) => e instanceof InvalidParameterError && /invalid whiteout entry/.test(e.message), name);
      assert.deepEqual(snapshot(sb.base), before, name);
    } finally { sb.cleanup(); }
  }
});

test('traversal names and hardlinks out of the root are rejected; victim untouched (L1-L4)', async () => {
  const attacks: E[][] = [
    [{ name: '../victim/dotdot', body: 'x' }],
    [{ name: '..', type: 'directory' }],
    [{ name: '../../pwned', body: 'x' }],
    [{ name: 'a/../../victim/x', body: 'x' }],
    [{ name: 'grab', type: 'link', linkname: '../dest-evil/secret' }],
    [{ name: 'hl', type: 'link', linkname: '../victim/hello' }],
    [{ name: 'hl', type: 'link', linkname: '/../victim/hello' }],
    [{ name: 'loophole-victim', type: 'link', linkname: '../victim' }, { name: 'loophole-victim/file', body: 'x' }],
  ];
  for (const entries of attacks) {
    const sb = sandbox();
    try {
      const outside = snapshot(sb.base).filter((l) => !l.startsWith('dest'));
      await assert.rejects(apply(await makeTar(entries), sb.root), InvalidParameterError, entries[0]!.name);
      assert.deepEqual(snapshot(sb.base).filter((l) => !l.startsWith('dest')), outside, JSON.stringify(entries));
      assert.equal(fs.readFileSync(path.join(sb.victim, 'hello'), 'utf8'), 'host file');
    } finally { sb.cleanup(); }
  }
});

test('symlink tricks are confined to the root (L5-L9, L12)', async () => {
  const cases: { entries: E[]; expect: string[] }[] = [
    { entries: [{ name: '/../victim/slash-dotdot', body: 'x' }], expect: ['victim/slash-dotdot'] },
    { entries: [{ name: 'loophole', type: 'symlink', linkname: '../victim' }, { name: 'loophole/newfile', body: 'x' }], expect: ['victim/newfile'] },
    { entries: [{ name: 'dir/', type: 'directory' }, { name: 'dir/loophole', type: 'symlink', linkname: '../../victim' }, { name: 'dir/loophole/newdir/newfile', body: 'x' }], expect: ['victim/newdir/newfile'] },
    { entries: [{ name: 'inner/go_up', type: 'symlink', linkname: '..' }, { name: 'inner/go_up/escape', type: 'symlink', linkname: '../victim' }, { name: 'inner/go_up/escape/newfile', body: 'x' }], expect: ['victim/newfile'] },
    { entries: [{ name: 'localetc', type: 'symlink', linkname: '/etc' }, { name: '/localetc/unbroken', body: 'x' }], expect: ['etc/unbroken'] },
    { entries: [{ name: 'foo', type: 'symlink', linkname: '/' }, { name: 'foo/tmp/breakout-X', body: 'x' }, { name: 'foo/', type: 'directory' }], expect: ['tmp/breakout-X'] },
    { entries: [{ name: 'etc/passwd', body: 'root' }, { name: 'breakouts/d1', type: 'symlink', linkname: '../../etc' }, { name: 'breakouts/d1/passwd2', type: 'link', linkname: 'breakouts/d1/passwd' }], expect: ['etc/passwd2'] },
    { entries: [{ name: 'var/run', type: 'symlink', linkname: '/run' }, { name: 'var/run/x', body: 'x' }], expect: ['run/x'] },
    { entries: [{ name: 'usr/bin/perlbug', body: 'p' }, { name: 'usr/bin/perlthanks', type: 'link', linkname: '/usr/bin/perlbug' }], expect: ['usr/bin/perlthanks'] },
  ];
  for (const { entries, expect } of cases) {
    const sb = sandbox();
    try {
      const outside = snapshot(sb.base).filter((l) => !l.startsWith('dest'));
      await apply(await makeTar(entries), sb.root);
      for (const rel of expect) assert.ok(fs.existsSync(path.join(sb.root, rel)), `${rel} inside root for ${JSON.stringify(entries)}`);
      assert.deepEqual(snapshot(sb.base).filter((l) => !l.startsWith('dest')), outside, JSON.stringify(entries));
      assert.ok(!fs.existsSync('/tmp/breakout-X'));
    } finally { sb.cleanup(); }
  }
});

test('hardlink to a symlink pointing at a host file never chmods the host file (L10)', async () => {
  const sb = sandbox();
  try {
    const host = path.join(sb.victim, 'ro');
    fs.writeFileSync(host, 'x');
    fs.chmodSync(host, 0o400);
    await apply(await makeTar([
      { name: 'sketch', type: 'symlink', linkname: host },
      { name: 'sketchylink', type: 'link', linkname: 'sketch', mode: 0o777 },
    ]), sb.root);
    assert.equal(fs.statSync(host).mode & 0o777, 0o400);
    assert.ok(fs.lstatSync(path.join(sb.root, 'sketchylink')).isSymbolicLink());
  } finally { sb.cleanup(); }
});

test('bad archives: garbage, corrupt gzip, corrupt or truncated zstd, unsupported compression', async () => {
  const sb = sandbox();
  try {
    await assert.rejects(apply(Buffer.from('this is not a tar archive at all'.repeat(40)), sb.root), InvalidParameterError);
    const gz = zlib.gzipSync(await makeTar([{ name: 'a', body: 'x'.repeat(10000) }]));
    await assert.rejects(apply(gz.subarray(0, gz.length - 100), sb.root), InvalidParameterError);
    await assert.rejects(apply(Buffer.from([0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00, 1, 2, 3]), sb.root), /unsupported layer compression: xz/);
    const z = zstdCompress(await makeTar([{ name: 'a', body: 'x'.repeat(10000) }]));
    await assert.rejects(apply(z.subarray(0, z.length - 3), sb.root), /invalid zstd layer stream: .*truncated/);
    const bad = Buffer.from(z);
    bad.fill(0x55, 6, 14);
    await assert.rejects(apply(bad, sb.root), (e: Error) => e instanceof InvalidParameterError && /invalid zstd layer stream/.test(e.message));
    await assert.rejects(apply(Buffer.concat([z, Buffer.from('trailing garbage')]), sb.root), /invalid zstd layer stream/);
  } finally { sb.cleanup(); }
});

test('an empty tar followed by lots of zero padding succeeds with bounded memory (L17, scaled down)', async () => {
  const sb = sandbox();
  try {
    const empty = await makeTar([]);
    const pad = Buffer.alloc(1024 * 1024);
    const chunks = 64;
    async function* gen() { yield empty; for (let i = 0; i < chunks; i++) yield pad; }
    const res = await applyLayerTar(Readable.from(gen()), sb.root, { sys: new RecordingSys() });
    assert.equal(res.tarSize, empty.length + chunks * pad.length);
    assert.deepEqual(fs.readdirSync(sb.root), []);
  } finally { sb.cleanup(); }
});

test('fifos and block devices in a layer are made through Sys.mknod', async () => {
  const sb = sandbox();
  try {
    const buf = await makeTar([
      { name: 'dev/', type: 'directory', mode: 0o755 },
      { name: 'dev/fifo', type: 'fifo', mode: 0o600 },
      { name: 'dev/blk', type: 'block-device', mode: 0o660, devmajor: 7, devminor: 3 } as E,
    ]);
    const sys = new RecordingSys();
    await apply(buf, sb.root, sys).catch(() => undefined); // metadata on the recorded (absent) nodes may fail
    const made = sys.calls.filter((c) => c.op === 'mknod');
    assert.deepEqual(made, [
      { op: 'mknod', path: path.join(sb.root, 'dev/fifo'), kind: 'fifo', mode: 0o600, major: 0, minor: 0 },
      { op: 'mknod', path: path.join(sb.root, 'dev/blk'), kind: 'block', mode: 0o660, major: 7, minor: 3 },
    ]);
  } finally {
    sb.cleanup();
  }
});

/** vfs_cap_data v2, cap_net_raw+ep (Debian's ping): magic 0x02000000|EFFECTIVE, permitted bit 13. */
const CAP_NET_RAW_EP = Buffer.from('0100000200200000000000000000000000000000', 'hex');
/** cap_setuid+ep (Debian's newuidmap): a lone 0x80 byte, which UTF-8 decoding mangles. */
const CAP_SETUID_EP = Buffer.from('0100000280000000000000000000000000000000', 'hex');
/** A user xattr value with a newline, NULs, an "=" and invalid UTF-8. */
const NASTY = Buffer.from([0x0a, 0x00, 0xff, 0xfe, 0xc3, 0x3d, 0x20, 0x0a, 0x80, 0x00]);

/** A raw PAX header for the next entry (a marker file retyped by retypePaxMarkers: tar-stream can only write string values). */
function rawPax(records: [string, Buffer | string][], global = false): E {
  return { name: global ? 'GlobalHead/g' : 'PaxHeader/x', body: encodePaxRecords(records) as unknown as string };
}


async function xattrLayer(): Promise<Buffer> {
  return retypePaxMarkers(await makeTar([
    { name: 'bin/', type: 'directory', mode: 0o755 },
    rawPax([['SCHILY.xattr.security.capability', CAP_NET_RAW_EP], ['SCHILY.xattr.user.x', NASTY]]),
    { name: 'bin/ping', mode: 0o755, body: 'ping' },
    rawPax([['SCHILY.xattr.security.capability', CAP_SETUID_EP]]),
    { name: 'bin/newuidmap', mode: 0o4755, uid: 0, gid: 0, body: 'newuidmap' },
    rawPax([['SCHILY.xattr.user.d', 'on a dir']]),
    { name: 'etc/', type: 'directory', mode: 0o755 },
    rawPax([['SCHILY.xattr.trusted.overlay.redirect', '/elsewhere'], ['SCHILY.xattr.user.ok', 'kept']]),
    { name: 'etc/forged', body: 'f' },
    rawPax([['SCHILY.xattr.user.global', 'ignored, as Docker does']], true),
    { name: 'etc/plain', body: 'p' },
  ]));
}

test('binary xattrs (security.capability, user.*) reach Sys with their exact bytes; overlay xattrs are refused', async () => {
  const sb = sandbox();
  try {
    const sys = new RecordingSys();
    const res = await apply(await xattrLayer(), sb.root, sys);
    const got = (rel: string, name: string) => sys.lgetxattr(path.join(sb.root, rel), name);
    assert.deepEqual(got('bin/ping', 'security.capability'), CAP_NET_RAW_EP);
    assert.deepEqual(got('bin/ping', 'user.x'), NASTY);
    assert.deepEqual(got('bin/newuidmap', 'security.capability'), CAP_SETUID_EP);
    assert.deepEqual(got('etc', 'user.d'), Buffer.from('on a dir'));
    assert.deepEqual(got('etc/forged', 'user.ok'), Buffer.from('kept'));
    assert.equal(got('etc/forged', 'trusted.overlay.redirect'), undefined);
    assert.equal(got('etc/plain', 'user.global'), undefined);
    assert.deepEqual(sys.calls.filter((c) => c.op === 'lsetxattr').map((c) => (c as { name: string }).name).sort(),
      ['security.capability', 'security.capability', 'user.d', 'user.ok', 'user.x']);
    assert.deepEqual(res.warnings, ['ignored xattr trusted.overlay.redirect on etc/forged']);
    assert.equal(fs.readFileSync(path.join(sb.root, 'bin/ping'), 'utf8'), 'ping');
  } finally { sb.cleanup(); }
});

test('real filesystem: capabilities and user xattrs read back byte for byte; a symlink is never followed', { skip: process.getuid?.() !== 0 && 'needs root (security.capability)' }, async () => {
  const sb = sandbox();
  try {
    const sys = new LinuxSys();
    const buf = retypePaxMarkers(Buffer.concat([(await xattrLayer()).subarray(0, -1024), await makeTar([
      rawPax([['SCHILY.xattr.user.l', 'on a symlink']]),
      { name: 'bin/sym', type: 'symlink', linkname: 'ping' },
      rawPax([['SCHILY.xattr.user.h', 'via hardlink']]),
      { name: 'bin/hard', type: 'link', linkname: 'bin/ping' },
    ])]));
    const res = await applyLayerTar(Readable.from([buf]), sb.root, { sys });
    const got = (rel: string, name: string) => sys.lgetxattr(path.join(sb.root, rel), name);
    assert.deepEqual(got('bin/ping', 'security.capability'), CAP_NET_RAW_EP);
    assert.deepEqual(got('bin/ping', 'user.x'), NASTY);
    assert.deepEqual(got('bin/newuidmap', 'security.capability'), CAP_SETUID_EP);
    assert.equal(fs.statSync(path.join(sb.root, 'bin/newuidmap')).mode & 0o7777, 0o4755, 'setuid kept alongside the capability');
    assert.deepEqual(got('etc', 'user.d'), Buffer.from('on a dir'));
    assert.equal(got('etc/forged', 'trusted.overlay.redirect'), undefined);
    // user.* on a symlink is EPERM in the kernel: a warning, and the target is untouched.
    assert.equal(got('bin/ping', 'user.l'), undefined);
    assert.ok(res.warnings.some((w) => /ignored xattr user\.l on bin\/sym: .*EPERM/.test(w)), res.warnings.join('; '));
    // The hardlink entry's xattr lands on the shared inode.
    assert.deepEqual(got('bin/ping', 'user.h'), Buffer.from('via hardlink'));
  } finally { sb.cleanup(); }
});

class FailingXattrSys extends RecordingSys {
  constructor(private readonly code: string) { super(); }
  override lsetxattr(p: string, name: string, value: Buffer | string): void {
    if (name.startsWith('user.')) throw Object.assign(new Error(`lsetxattr ${name} on ${p}: ${this.code}`), { code: this.code });
    super.lsetxattr(p, name, value);
  }
}

test('xattrs the filesystem refuses (EOPNOTSUPP, EPERM) are warnings; a full disk fails the layer', async () => {
  for (const code of ['EOPNOTSUPP', 'ENOTSUP', 'EPERM']) {
    const sb = sandbox();
    try {
      const sys = new FailingXattrSys(code);
      const res = await apply(await xattrLayer(), sb.root, sys);
      assert.deepEqual(sys.lgetxattr(path.join(sb.root, 'bin/ping'), 'security.capability'), CAP_NET_RAW_EP, code);
      assert.equal(res.warnings.filter((w) => w.startsWith('ignored xattr user.') && w.includes(code)).length, 3, res.warnings.join('; '));
    } finally { sb.cleanup(); }
  }
  for (const [code, cls] of [['ENOSPC', Error], ['EINVAL', InvalidParameterError]] as const) {
    const sb = sandbox();
    try {
      await assert.rejects(apply(await xattrLayer(), sb.root, new FailingXattrSys(code)), (e: unknown) => e instanceof cls && (e as Error).message.includes(code), code);
    } finally { sb.cleanup(); }
  }
});

test('a malformed PAX header fails the layer as a bad archive', async () => {
  const sb = sandbox();
  try {
    const buf = retypePaxMarkers(await makeTar([
      { name: 'PaxHeader/x', body: '99 SCHILY.xattr.user.a=b\n' },
      { name: 'f', body: 'x' },
    ]));
    await assert.rejects(apply(buf, sb.root), (e: unknown) => e instanceof InvalidParameterError && /invalid PAX header/.test((e as Error).message));
  } finally { sb.cleanup(); }
});

test('a truncated or garbled archive is a 400 "invalid tar archive", told apart by where it fails, not by its wording', async () => {
  const tarBuf = await makeTar([{ name: 'a', body: 'x'.repeat(5000) }, { name: 'b' }]);
  for (const bad of [tarBuf.subarray(0, 1000), Buffer.concat([Buffer.alloc(512, 0x41), Buffer.alloc(1024)])]) {
    const s = sandbox();
    try {
      await assert.rejects(apply(bad, s.root), (e: unknown) => e instanceof InvalidParameterError && /^invalid tar archive: /.test((e as Error).message));
    } finally {
      s.cleanup();
    }
  }
});

test('knownDiffId (a pulled plain-tar blob, its digest verified): not hashed again; refused for compressed input', async () => {
  const sb = sandbox();
  try {
    const buf = await makeTar([{ name: 'a', body: 'x' }]);
    const known = `sha256:${createHash('sha256').update(buf).digest('hex')}`;
    const res = await applyLayerTar(Readable.from([buf]), sb.root, { sys: new RecordingSys(), knownDiffId: known });
    assert.equal(res.diffId, known);
    const root2 = path.join(sb.base, 'dest2');
    fs.mkdirSync(root2);
    await assert.rejects(applyLayerTar(Readable.from([zlib.gzipSync(buf)]), root2, { sys: new RecordingSys(), knownDiffId: known }),
      /compressed \(gzip\), so its blob digest is not its diffID/);
  } finally { sb.cleanup(); }
});
