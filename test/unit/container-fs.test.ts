// store/container-fs.ts (cp's reads: in-scope symlink resolution over fds, tar packing, Go file modes) and
// the applier's cp options (under, whiteouts off, noOverwriteDirNonDir, owner), on temp trees.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { PassThrough, Readable } from 'node:stream';
import tar from 'tar-stream';
import { ContainerTree, GO_MODE, goFileMode, packPath, statPath } from '../../src/store/container-fs.js';
import { applyLayerTar } from '../../src/store/layers/tar-apply.js';
import { checkWritablePath, containerAbsPath } from '../../src/services/archive-service.js';
import { RecordingSys } from '../../src/sys/sys.js';

function sandbox(): { base: string; root: string; host: string; cleanup(): void } {
  const base = fs.mkdtempSync(path.join(os.tmpdir(), 'cfs-'));
  const root = path.join(base, 'root');
  const host = path.join(base, 'host');
  fs.mkdirSync(path.join(root, 'etc'), { recursive: true });
  fs.writeFileSync(path.join(root, 'etc', 'passwd'), 'container passwd\n');
  fs.mkdirSync(host);
  fs.writeFileSync(path.join(host, 'secret'), 'host secret\n');
  return { base, root, host, cleanup: () => fs.rmSync(base, { recursive: true, force: true }) };
}

async function tarEntries(tree: ContainerTree, p: string, rebase: string, contentsOnly = false): Promise<Map<string, { type: string; body: string; linkname: string | null }>> {
  const out = new PassThrough();
  const extract = tar.extract();
  const seen = new Map<string, { type: string; body: string; linkname: string | null }>();
  const reading = (async () => {
    for await (const e of extract) {
      const chunks: Buffer[] = [];
      for await (const c of e) chunks.push(c as Buffer);
      seen.set(e.header.name, { type: e.header.type ?? '', body: Buffer.concat(chunks).toString(), linkname: e.header.linkname ?? null });
    }
  })();
  out.pipe(extract as unknown as NodeJS.WritableStream);
  const r = tree.resolve(p);
  try { await packPath(tree, r, out, { rebase, contentsOnly }); } finally { r.close(); }
  out.end();
  await reading;
  return seen;
}

test('resolve: symlinks to /etc, ../../.. and absolute targets stay inside the root', () => {
  const s = sandbox();
  try {
    fs.symlinkSync('/etc', path.join(s.root, 'abs'));
    fs.symlinkSync('../../../../host', path.join(s.root, 'up'));
    fs.symlinkSync(s.host, path.join(s.root, 'hostpath'));
    const tree = ContainerTree.open(s.root);
    try {
      const a = tree.resolve('/abs/passwd');
      assert.equal(a.path, '/etc/passwd');
      assert.equal(fs.readFileSync(`/proc/self/fd/${a.dirFd}/${a.name}`, 'utf8'), 'container passwd\n');
      a.close();
      assert.throws(() => tree.resolve('/up/secret'), (e: NodeJS.ErrnoException) => e.code === 'ENOENT', '../.. stops at the root: /host does not exist in it');
      assert.throws(() => tree.resolve('/hostpath/secret'), (e: NodeJS.ErrnoException) => e.code === 'ENOENT', 'an absolute host path is a container path');
      const st = statPath(tree, '/up');
      assert.equal(st.linkTarget, '/host', 'linkTarget resolved in scope, as far as it exists');
      assert.equal(st.mode & GO_MODE.symlink, GO_MODE.symlink);
      const root = tree.resolve('/../..');
      assert.equal(root.path, '/');
      root.close();
    } finally { tree.close(); }
  } finally { s.cleanup(); }
});

test('packPath: a directory is rebased on the requested name; a symlink is packed as a link, never followed', async () => {
  const s = sandbox();
  try {
    fs.mkdirSync(path.join(s.root, 'd', 'sub'), { recursive: true });
    fs.writeFileSync(path.join(s.root, 'd', 'sub', 'f'), 'file\n');
    fs.linkSync(path.join(s.root, 'd', 'sub', 'f'), path.join(s.root, 'd', 'hard'));
    fs.symlinkSync(s.host, path.join(s.root, 'd', 'escape'));
    const tree = ContainerTree.open(s.root);
    try {
      const e = await tarEntries(tree, '/d', 'renamed');
      assert.deepEqual([...e.keys()].sort(), ['renamed/', 'renamed/escape', 'renamed/hard', 'renamed/sub/', 'renamed/sub/f']);
      assert.equal(e.get('renamed/escape')!.type, 'symlink');
      assert.equal(e.get('renamed/escape')!.linkname, s.host);
      assert.equal(e.get('renamed/hard')!.body, 'file\n');
      assert.equal(e.get('renamed/sub/f')!.type, 'link', 'the second name of an inode is a hardlink entry');
      const link = await tarEntries(tree, '/d/escape', 'escape');
      assert.deepEqual([...link.keys()], ['escape']);
      assert.equal(link.get('escape')!.type, 'symlink');
      assert.ok(![...link.values()].some((v) => v.body.includes('host secret')));
    } finally { tree.close(); }
  } finally { s.cleanup(); }
});

test('packPath: empty files end their entries; an export (contentsOnly) names entries from the root, without it', async () => {
  const s = sandbox();
  try {
    fs.writeFileSync(path.join(s.root, 'etc', 'hostname'), '');
    fs.writeFileSync(path.join(s.root, 'empty'), '');
    const tree = ContainerTree.open(s.root);
    try {
      const e = await tarEntries(tree, '/', '.', true);
      assert.deepEqual([...e.keys()].sort(), ['empty', 'etc/', 'etc/hostname', 'etc/passwd']);
      assert.equal(e.get('empty')!.type, 'file');
      assert.equal(e.get('empty')!.body, '');
    } finally { tree.close(); }
  } finally { s.cleanup(); }
});

test('packPath: security.capability travels as a binary PAX record on its entry (cp and export keep file capabilities)', async () => {
  const s = sandbox();
  try {
    fs.mkdirSync(path.join(s.root, 'bin'));
    fs.writeFileSync(path.join(s.root, 'bin', 'ping'), 'elf');
    fs.writeFileSync(path.join(s.root, 'bin', 'plain'), 'elf');
    const cap = Buffer.from([1, 0, 0, 2, 0, 0x20, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
    const tree = ContainerTree.open(s.root);
    try {
      const chunks: Buffer[] = [];
      const out = new PassThrough();
      out.on('data', (c: Buffer) => chunks.push(c));
      const r = tree.resolve('/');
      try {
        await packPath(tree, r, out, { rebase: '.', contentsOnly: true, capability: (p) => (p.endsWith('/ping') ? cap : undefined) });
      } finally { r.close(); }
      out.end();
      const tarBuf = Buffer.concat(chunks);
      // the header before bin/ping is a PAX 'x' header whose records hold the raw capability bytes
      const names: string[] = [];
      let pax: Buffer | undefined;
      for (let off = 0; off + 512 <= tarBuf.length;) {
        const h = tarBuf.subarray(off, off + 512);
        if (h.every((b) => b === 0)) break;
        const size = parseInt(h.toString('latin1', 124, 136).replace(/\0.*$/s, '').trim() || '0', 8);
        const type = String.fromCharCode(h[156]!);
        if (type === 'x') pax = tarBuf.subarray(off + 512, off + 512 + size);
        else names.push(`${h.toString('latin1', 0, 100).replace(/\0.*$/s, '')}${pax ? ' +pax' : ''}`), pax = undefined;
        off += 512 + Math.ceil(size / 512) * 512;
      }
      assert.deepEqual(names, ['bin/', 'bin/ping +pax', 'bin/plain', 'etc/', 'etc/passwd']);
      const seen: string[] = [];
      const ex = tar.extract();
      const reading = (async () => { for await (const en of ex) { seen.push(en.header.name); en.resume(); } })();
      Readable.from([tarBuf]).pipe(ex as unknown as NodeJS.WritableStream);
      await reading;
      assert.deepEqual(seen, ['bin/', 'bin/ping', 'bin/plain', 'etc/', 'etc/passwd'], 'no marker entry is left in the tar');
      // The record value is the capability's bytes, unchanged.
      const all = tarBuf.toString('latin1');
      assert.ok(all.includes(`SCHILY.xattr.security.capability=${cap.toString('latin1')}\n`));
    } finally { tree.close(); }
  } finally { s.cleanup(); }
});

test('packPath: a reader that goes away mid-file fails the pack, with no unhandled stream error', async () => {
  const s = sandbox();
  try {
    fs.writeFileSync(path.join(s.root, 'big'), Buffer.alloc(8 << 20, 1));
    const tree = ContainerTree.open(s.root);
    try {
      const out = new PassThrough({ highWaterMark: 1024 });
      out.once('data', () => { out.destroy(); });
      const r = tree.resolve('/');
      try {
        await assert.rejects(packPath(tree, r, out, { rebase: '.', contentsOnly: true }));
      } finally { r.close(); }
    } finally { tree.close(); }
  } finally { s.cleanup(); }
});

test('goFileMode and containerAbsPath follow Go', () => {
  assert.equal(goFileMode(0o40755), GO_MODE.dir + 0o755);
  assert.equal(goFileMode(0o104755), GO_MODE.setuid + 0o755);
  assert.equal(goFileMode(0o20666), GO_MODE.device + GO_MODE.charDevice + 0o666);
  assert.equal(goFileMode(0o10644), GO_MODE.namedPipe + 0o644);
  assert.equal(goFileMode(0o41777), GO_MODE.dir + GO_MODE.sticky + 0o777);
  assert.equal(containerAbsPath('tmp/x'), '/tmp/x');
  assert.equal(containerAbsPath('/tmp/x/'), '/tmp/x/');
  assert.equal(containerAbsPath('/tmp/x/.'), '/tmp/x/.');
  assert.equal(containerAbsPath('/'), '/');
  assert.equal(containerAbsPath('/a/../b'), '/b');
});

test('checkWritablePath: volumes decide by RW, else a read-only rootfs refuses', () => {
  const rec = (ro: boolean) => ({
    rec: {
      HostConfig: { ReadonlyRootfs: ro },
      MountPoints: [{ Type: 'volume', Destination: '/data', RW: true }, { Type: 'bind', Destination: '/data/ro', RW: false }],
    },
  }) as unknown as Parameters<typeof checkWritablePath>[0];
  assert.doesNotThrow(() => checkWritablePath(rec(true), '/data/x'));
  assert.throws(() => checkWritablePath(rec(false), '/data/ro/x'), /mounted volume is marked read-only/);
  assert.throws(() => checkWritablePath(rec(true), '/database'), /container rootfs is marked read-only/);
  assert.doesNotThrow(() => checkWritablePath(rec(false), '/tmp'));
});

async function tarOf(entries: { name: string; type?: tar.Header['type']; body?: string; linkname?: string }[]): Promise<Buffer> {
  const pack = tar.pack();
  const chunks: Buffer[] = [];
  pack.on('data', (c: unknown) => { chunks.push(c as Buffer); });
  const end = new Promise<void>((r) => pack.on('end', () => r()));
  for (const e of entries) pack.entry({ type: 'file', mode: 0o644, ...e } as tar.Header, e.body ?? '');
  pack.finalize();
  await end;
  return Buffer.concat(chunks);
}

test('applier for cp: entries land under the destination, .wh. names are plain files, owner and noOverwriteDirNonDir apply', async () => {
  const s = sandbox();
  try {
    fs.mkdirSync(path.join(s.root, 'dst', 'isdir'), { recursive: true });
    fs.symlinkSync('/etc', path.join(s.root, 'dst', 'etcl'));
    const sys = new RecordingSys();
    const t = await tarOf([{ name: 'a/.wh.b', body: 'not a whiteout' }, { name: 'etcl/x', body: 'in the container etc' }, { name: 'h', type: 'link', linkname: 'a/.wh.b' }]);
    await applyLayerTar(Readable.from([t]), s.root, { sys, under: 'dst', whiteouts: false, owner: { uid: process.getuid!(), gid: 4321 } });
    assert.equal(fs.readFileSync(path.join(s.root, 'dst', 'a', '.wh.b'), 'utf8'), 'not a whiteout');
    assert.equal(fs.readFileSync(path.join(s.root, 'etc', 'x'), 'utf8'), 'in the container etc', 'an absolute link resolves at the container root');
    assert.equal(fs.statSync(path.join(s.root, 'dst', 'h')).ino, fs.statSync(path.join(s.root, 'dst', 'a', '.wh.b')).ino, 'hardlink target is under the destination');
    assert.equal(fs.statSync(path.join(s.root, 'dst', 'a', '.wh.b')).gid, 4321);
    assert.ok(!sys.calls.some((c) => c.op === 'mknodChar'), 'no whiteout devices');
    await assert.rejects(applyLayerTar(Readable.from([await tarOf([{ name: 'isdir', body: 'x' }])]), s.root, { sys, under: 'dst', whiteouts: false, noOverwriteDirNonDir: true }),
      /cannot overwrite directory "\/dst\/isdir" with non-directory "isdir"/);
    await assert.rejects(applyLayerTar(Readable.from([await tarOf([{ name: 'h', type: 'directory' }])]), s.root, { sys, under: 'dst', whiteouts: false, noOverwriteDirNonDir: true }),
      /cannot overwrite non-directory "\/dst\/h" with directory "h"/);
    await assert.rejects(applyLayerTar(Readable.from([await tarOf([{ name: '../../escape', body: 'x' }])]), s.root, { sys, under: 'dst', whiteouts: false }), /breakout/);
    assert.equal(fs.readdirSync(s.host).join(','), 'secret');
  } finally { s.cleanup(); }
});
