import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import { Transform, type Readable, type TransformCallback } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type * as tarTypes from 'tar-stream';
import { lazyCjs } from '../../sys/cjs.js';

const tar = lazyCjs<typeof tarTypes>('tar-stream');
type TarHeader = Omit<Partial<tarTypes.Header>, 'type'> & { name: string; type?: tarTypes.Header['type'] | 'pax-header' };

/**
 * A container's overlay upper dir seen as a layer: the changes `docker diff` lists, and the OCI
 * layer tar `docker commit` (and each builder step) stores.
 *
 * In the upper dir overlay records a deletion as a 0:0 character device and a directory that
 * replaced a lower one (rm -rf d; mkdir d) as `trusted.overlay.opaque=y`; in a layer tar these are
 * `.wh.<name>` and `<dir>/.wh..wh..opq` (OCI image-spec layer.md).
 */
export interface UpperLayerSys {
  lgetxattr(path: string, name: string): Buffer | undefined;
}

/** Docker's change kinds (GET /containers/{id}/changes). */
export const enum ChangeKind { Modify = 0, Add = 1, Delete = 2 }
export interface Change { Path: string; Kind: ChangeKind }

/**
 * Mount points runc creates in a rootfs that lacks them (bind-mounted files, kernel filesystems).
 * Docker keeps these in a hidden "init" layer under every container; berth has none, so an empty
 * file or dir at one of these paths in the upper dir is the runtime's doing, not the container's,
 * and is left out of diff and commit (moby daemon/initlayer).
 */
export const RUNTIME_MOUNTPOINTS: ReadonlySet<string> = new Set([
  '/dev', '/dev/pts', '/dev/shm', '/dev/mqueue', '/dev/console', '/proc', '/sys', '/.dockerenv',
  '/etc/resolv.conf', '/etc/hosts', '/etc/hostname', '/etc/mtab',
]);

function isWhiteout(st: fs.Stats): boolean {
  return st.isCharacterDevice() && st.rdev === 0;
}

function isOpaque(sys: UpperLayerSys, abs: string): boolean {
  const v = sys.lgetxattr(abs, 'trusted.overlay.opaque');
  return v !== undefined && v.length === 1 && v[0] === 0x79; // 'y'
}

function lstatOrNull(p: string): fs.Stats | null {
  try { return fs.lstatSync(p); } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return null;
    throw err;
  }
}

/** The entry at `rel` in the image below the upper dir (`lowers` topmost first), or null. */
function lowerStat(lowers: readonly string[], rel: string): fs.Stats | null {
  for (const l of lowers) {
    const st = lstatOrNull(path.join(l, rel));
    if (st) return isWhiteout(st) ? null : st;
  }
  return null;
}

interface UpperEntry { rel: string; abs: string; st: fs.Stats }

/** Depth-first, names sorted as Go's filepath.Walk: parents before children, lexical order. */
function* walk(root: string, rel = ''): Generator<UpperEntry> {
  const dir = rel ? path.join(root, rel) : root;
  const names = fs.readdirSync(dir).sort();
  for (const name of names) {
    const r = `${rel}/${name}`;
    const abs = path.join(root, r);
    const st = fs.lstatSync(abs);
    yield { rel: r, abs, st };
    if (st.isDirectory()) yield* walk(root, r);
  }
}

/** True when `rel` in the upper dir holds only what the runtime made for its mount points. */
function runtimeOnly(upper: string, rel: string, st: fs.Stats, lowers: readonly string[]): boolean {
  if (RUNTIME_MOUNTPOINTS.has(rel)) {
    if (st.isFile() && st.size === 0) return true;
    if (st.isDirectory()) return fs.readdirSync(path.join(upper, rel)).every((n) => runtimeOnly(upper, `${rel}/${n}`, fs.lstatSync(path.join(upper, rel, n)), lowers));
    return false;
  }
  // A directory copied up only so that a mount point could be made in it (/etc for /etc/hosts).
  if (!st.isDirectory()) return false;
  const low = lowerStat(lowers, rel);
  if (!low || !low.isDirectory() || low.mode !== st.mode || low.uid !== st.uid || low.gid !== st.gid) return false;
  const names = fs.readdirSync(path.join(upper, rel));
  if (names.length === 0) return false;
  return names.every((n) => {
    const child = `${rel}/${n}`;
    return [...RUNTIME_MOUNTPOINTS].some((m) => m === child || m.startsWith(`${child}/`))
      && runtimeOnly(upper, child, fs.lstatSync(path.join(upper, child)), lowers);
  });
}

/**
 * The changes in an upper dir against the image below it (`lowers`: layer diff dirs, topmost
 * first), as moby's overlay changes walk reports them: A for a new path, C for one that existed
 * below (a directory only when its size, mode or mtime differ, or something under it was added or
 * deleted), D for a whiteout or an opaque directory that hides a lower one.
 */
export function upperChanges(upper: string, lowers: readonly string[], sys: UpperLayerSys): Change[] {
  const changes: Change[] = [];
  const changedDirs = new Set<string>();
  const skipped: string[] = [];
  for (const { rel, abs, st } of walk(upper)) {
    if (skipped.some((s) => rel.startsWith(`${s}/`))) continue;
    if (runtimeOnly(upper, rel, st, lowers)) { skipped.push(rel); continue; }
    let kind: ChangeKind;
    if (isWhiteout(st)) kind = ChangeKind.Delete;
    else if (st.isDirectory() && isOpaque(sys, abs) && lowerStat(lowers, rel)) kind = ChangeKind.Delete;
    else {
      const low = lowerStat(lowers, rel);
      if (!low) kind = ChangeKind.Add;
      else {
        // A parent of a changed path is copied up too: unchanged itself unless its own metadata differs.
        if (low.isDirectory() && st.isDirectory() && low.size === st.size && low.mode === st.mode
          && Math.floor(low.mtimeMs / 1000) === Math.floor(st.mtimeMs / 1000)) {
          continue;
        }
        kind = ChangeKind.Modify;
      }
    }
    if (st.isDirectory()) changedDirs.add(rel);
    if (kind === ChangeKind.Add || kind === ChangeKind.Delete) {
      const parent = path.posix.dirname(rel);
      if (parent !== '/' && !changedDirs.has(parent)) {
        changes.push({ Path: parent, Kind: ChangeKind.Modify });
        changedDirs.add(parent);
      }
    }
    changes.push({ Path: rel, Kind: kind });
  }
  return changes;
}

/** Whether packing the upper dir would give a non-empty layer (anything beyond runtime mount points). */
export function upperHasContent(upper: string, lowers: readonly string[]): boolean {
  return !layerEntries(upper, lowers).next().done;
}

export interface PackOptions {
  sys: UpperLayerSys;
  /** Image layer dirs below the upper dir, topmost first: to tell runtime mount points from the container's files. */
  lowers: readonly string[];
  /** Told each regular file whose bytes go into the tar, in tar order, before its header is written (tar-split). */
  onFile?: (name: string, size: number) => void;
  /**
   * Makes a copy of each entry (commit's layer dir, UpperMirror), run ahead of the packing in walk order; a
   * regular file's bytes and size are then taken from where the mirror says its copy is.
   */
  mirror?: { add(e: UpperEntry): Promise<{ path: string; size: number } | undefined> };
}

/**
 * The entries of an upper dir that make its layer, in tar order: everything but what the runtime made for its
 * mount points (and what is under those). packUpper and copyUpper walk the same list.
 */
export function* layerEntries(upper: string, lowers: readonly string[]): Generator<UpperEntry> {
  const skipped: string[] = [];
  for (const e of walk(upper)) {
    if (skipped.some((s) => e.rel.startsWith(`${s}/`))) continue;
    if (runtimeOnly(upper, e.rel, e.st, lowers)) { skipped.push(e.rel); continue; }
    yield e;
  }
}

/** An overlay whiteout: a 0:0 character device. */
export { isWhiteout, isOpaque };
export type { UpperEntry };

/** One PAX extended-header record, "<len> <key>=<value>\n" with len counting itself, in bytes. */
export function paxRecord(key: string, value: Buffer): Buffer {
  const body = Buffer.concat([Buffer.from(` ${key}=`), value, Buffer.from('\n')]);
  const digits = String(body.length).length;
  let len = body.length + digits;
  if (String(len).length > digits) len++;
  return Buffer.concat([Buffer.from(String(len)), body]);
}

/**
 * The upper dir as an uncompressed OCI layer tar, streamed (moby's overlay whiteout format on
 * write): whiteout devices become `.wh.` entries, opaque directories get a `.wh..wh..opq` entry,
 * hard links inside the layer stay links, and `security.capability` (the one xattr Docker keeps)
 * travels as a PAX record. An empty upper dir gives the empty layer (1024 zero bytes).
 */
export function packUpper(upper: string, opts: PackOptions): Readable {
  const pack = tar.pack();
  const run = async () => {
    const inodes = new Map<string, string>();
    const entry = (h: TarHeader, body?: Buffer) => new Promise<void>((resolve, reject) => {
      const done = (err?: Error | null) => (err ? reject(err) : resolve());
      if (body) pack.entry(h as tarTypes.Header, body, done);
      else pack.entry(h as tarTypes.Header, done);
    });
    const list = [...layerEntries(upper, opts.lowers)];
    const mirrored = opts.mirror ? mirrorAhead(list, opts.mirror) : undefined;
    for (let i = 0; i < list.length; i++) {
      const { rel, abs, st } = list[i]!;
      const copy = mirrored ? await mirrored[i] : undefined;
      const name = rel.slice(1);
      const base: TarHeader = {
        name, mode: st.mode & 0o7777, uid: st.uid, gid: st.gid, mtime: new Date(Math.floor(st.mtimeMs / 1000) * 1000),
      };
      if (isWhiteout(st)) {
        const dir = path.posix.dirname(name);
        await entry({ ...base, name: `${dir === '.' ? '' : `${dir}/`}.wh.${path.posix.basename(name)}`, type: 'file', size: 0, mode: 0o644 }, Buffer.alloc(0));
        continue;
      }
      const cap = st.isSymbolicLink() ? undefined : opts.sys.lgetxattr(abs, 'security.capability');
      if (cap) {
        // A binary xattr value cannot go through tar-stream's string PAX records: the record goes in as a
        // marked file entry, retyped to a PAX header ('x') on the way out.
        const pax = Buffer.concat([paxRecord('path', Buffer.from(name)), paxRecord('SCHILY.xattr.security.capability', cap)]);
        await entry({ name: PAX_MARKER, type: 'file', size: pax.length, mode: 0o644, mtime: base.mtime }, pax);
        base.name = name.length > 100 ? name.slice(0, 100) : name;
      }
      if (st.isDirectory()) {
        await entry({ ...base, name: `${base.name}/`, type: 'directory' });
        if (isOpaque(opts.sys, abs)) {
          await entry({ ...base, name: `${name}/.wh..wh..opq`, type: 'file', size: 0, mode: 0o644 }, Buffer.alloc(0));
        }
      } else if (st.isSymbolicLink()) {
        await entry({ ...base, type: 'symlink', linkname: await fsp.readlink(abs) });
      } else if (st.isFile()) {
        const key = `${st.dev}:${st.ino}`;
        const first = st.nlink > 1 ? inodes.get(key) : undefined;
        if (first !== undefined) {
          await entry({ ...base, type: 'link', linkname: first, size: 0 });
          continue;
        }
        if (st.nlink > 1) inodes.set(key, name);
        const size = copy ? copy.size : st.size;
        if (size > 0) opts.onFile?.(name, size);
        await new Promise<void>((resolve, reject) => {
          const sink = pack.entry({ ...base, type: 'file', size } as tarTypes.Header, (err?: Error | null) => (err ? reject(err) : resolve()));
          pipeline(fs.createReadStream(copy ? copy.path : abs, { highWaterMark: READ_CHUNK }), sink as unknown as NodeJS.WritableStream).catch(reject);
        });
      } else if (st.isCharacterDevice() || st.isBlockDevice()) {
        await entry({
          ...base, type: st.isCharacterDevice() ? 'character-device' : 'block-device',
          devmajor: Math.floor(st.rdev / 256) & 0xfff, devminor: (st.rdev & 0xff) | (Math.floor(st.rdev / 4096) & 0xfff00),
        });
      } else if (st.isFIFO()) {
        await entry({ ...base, type: 'fifo' });
      }
      // Sockets are not part of a layer (Docker skips them too).
    }
    pack.finalize();
  };
  const out = new PaxRetype();
  run().catch((err: Error) => { pack.destroy(err); out.destroy(err); });
  pack.on('error', (err: Error) => out.destroy(err));
  pack.pipe(out);
  out.on('close', () => { if (!pack.destroyed) pack.destroy(); });
  return out;
}

/**
 * Runs mirror.add over the entries one after another, as fast as it goes, ahead of the packing (the kernel
 * copies the next files while the packer hashes this one). Each result is a promise marked handled, so the
 * ones a failed pack never awaits do not become unhandled rejections.
 */
function mirrorAhead(list: readonly UpperEntry[], mirror: NonNullable<PackOptions['mirror']>): Promise<{ path: string; size: number } | undefined>[] {
  let prev: Promise<unknown> = Promise.resolve();
  return list.map((e) => {
    const p = prev.then(() => mirror.add(e));
    p.catch(() => {});
    prev = p;
    return p;
  });
}

/** Reads of file bodies: fewer, larger chunks through the tar stream (the bytes are the same). */
const READ_CHUNK = 1 << 20;

/** A name no walked entry can have (those never start with "./"). */
export const PAX_MARKER = '././@berth-pax';

/** Passes a tar stream through, turning entries named PAX_MARKER into PAX extended headers. */
export class PaxRetype extends Transform {
  private header = Buffer.alloc(0);
  private skip = 0;

  constructor() { super({ highWaterMark: 1 << 20 }); }

  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    let off = 0;
    while (off < chunk.length) {
      if (this.skip > 0) {
        const n = Math.min(this.skip, chunk.length - off);
        this.push(chunk.subarray(off, off + n));
        this.skip -= n;
        off += n;
        continue;
      }
      const need = 512 - this.header.length;
      const part = chunk.subarray(off, off + need);
      this.header = Buffer.concat([this.header, part]);
      off += part.length;
      if (this.header.length < 512) break;
      const h = this.header;
      this.header = Buffer.alloc(0);
      if (h.toString('latin1', 0, PAX_MARKER.length + 1) === `${PAX_MARKER}\0`) {
        h.write('x', 156, 'latin1');
        h.fill(0x20, 148, 156);
        let sum = 0;
        for (const b of h) sum += b;
        h.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148, 'latin1');
      }
      const size = parseInt(h.toString('latin1', 124, 136).replace(/\0.*$/s, '').trim() || '0', 8);
      this.skip = Math.ceil(size / 512) * 512;
      this.push(h);
    }
    cb();
  }
}
