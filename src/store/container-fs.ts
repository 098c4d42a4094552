import fs from 'node:fs';
import fsp from 'node:fs/promises';
import type { Writable } from 'node:stream';
import type * as tarTypes from 'tar-stream';
import { InvalidParameterError, NotFoundError, SystemError } from '../errors.js';
import { lazyCjs } from '../sys/cjs.js';
import { PAX_MARKER, PaxRetype, paxRecord } from './layers/upper-layer.js';

// CommonJS packages through require(): see src/sys/cjs.ts.
const tar = lazyCjs<typeof tarTypes>('tar-stream');

/**
 * Reading an untrusted container tree for `docker cp` out of a container (GET/HEAD /containers/{id}/archive)
 * and `docker export`, without ever following a symlink the kernel's way.
 *
 * Every lookup is one component relative to an open directory fd (`/proc/self/fd/<fd>/<name>`, the only
 * link the kernel follows being that magic one), opened O_NOFOLLOW; symlinks met on the way are read and
 * resolved by us with the container's root as "/" (absolute targets restart at the root fd, `..` stops
 * there). So a container process that swaps a directory for a symlink to /etc mid-copy makes the open
 * fail (ELOOP) or land inside the container, never on a host file (RELIABILITY L21, CVE-2018-15664).
 * Mounts inside the tree (volumes, binds, tmpfs) are crossed by the kernel as on any lookup.
 */

const MAX_SYMLINKS = 255;
const O_DIR = fs.constants.O_RDONLY | fs.constants.O_DIRECTORY | fs.constants.O_NOFOLLOW;
const O_FILE = fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW | fs.constants.O_NONBLOCK;
const CHUNK = 1024 * 1024;

/** Go's os.FileMode bits (what X-Docker-Container-Path-Stat carries). */
export const GO_MODE = {
  dir: 2 ** 31, symlink: 2 ** 27, device: 2 ** 26, namedPipe: 2 ** 25, socket: 2 ** 24,
  setuid: 2 ** 23, setgid: 2 ** 22, charDevice: 2 ** 21, sticky: 2 ** 20, irregular: 2 ** 19,
} as const;

/** An lstat mode as Go's os.FileMode. */
export function goFileMode(mode: number): number {
  let m = mode & 0o777;
  const fmt = mode & fs.constants.S_IFMT;
  if (fmt === fs.constants.S_IFDIR) m += GO_MODE.dir;
  else if (fmt === fs.constants.S_IFLNK) m += GO_MODE.symlink;
  else if (fmt === fs.constants.S_IFBLK) m += GO_MODE.device;
  else if (fmt === fs.constants.S_IFCHR) m += GO_MODE.device + GO_MODE.charDevice;
  else if (fmt === fs.constants.S_IFIFO) m += GO_MODE.namedPipe;
  else if (fmt === fs.constants.S_IFSOCK) m += GO_MODE.socket;
  else if (fmt !== fs.constants.S_IFREG) m += GO_MODE.irregular;
  if (mode & 0o4000) m += GO_MODE.setuid;
  if (mode & 0o2000) m += GO_MODE.setgid;
  if (mode & 0o1000) m += GO_MODE.sticky;
  return m;
}

function at(fd: number, name: string): string { return `/proc/self/fd/${fd}/${name}`; }
function code(err: unknown): string | undefined { return (err as NodeJS.ErrnoException)?.code; }

/** Container path components of `p` (absolute or not), '.' dropped. */
export function pathParts(p: string): string[] { return p.split('/').filter((c) => c !== '' && c !== '.'); }

/** The file or directory a container path names, with its parent held open. Close it when done. */
export interface ResolvedPath {
  /** the directory holding it (for the root: the root itself) */
  dirFd: number;
  /** its name in dirFd; '' for the container's root */
  name: string;
  /** container path it resolved to (symlinks in parents followed) */
  path: string;
  /** lstat of it (not followed); undefined when it does not exist (allowMissing) */
  st: fs.BigIntStats | undefined;
  close(): void;
}

/**
 * One container's tree, rooted at an open directory (its root as the host sees it: `/proc/<pid>/root` of a
 * running container, the mounted overlay of a stopped one). Not for concurrent use after close().
 */
export class ContainerTree {
  private constructor(readonly rootFd: number) {}

  static open(root: string): ContainerTree {
    // The root itself is trusted (ours or the kernel's magic link): followed.
    return new ContainerTree(fs.openSync(root, fs.constants.O_RDONLY | fs.constants.O_DIRECTORY));
  }

  close(): void { fs.closeSync(this.rootFd); }

  /**
   * Resolve `p` in the container. Parents' symlinks are followed (in scope); the last one too when
   * `followFinal` (or the path ends in `/` or `/.`, as the kernel does). ENOENT on the way throws
   * (NotFound) unless `allowMissing`, which then returns the lexical rest joined on (Go's
   * FollowSymlinkInScope on a broken link).
   */
  resolve(p: string, o: { followFinal?: boolean; allowMissing?: boolean } = {}, hops = 0): ResolvedPath {
    const trailing = /\/\.?$/.test(p);
    const follow = !!o.followFinal || trailing;
    const fds: number[] = [this.rootFd];
    const names: string[] = [];
    const closed = new Set<number>();
    // Idempotent: an error path may run it after a success path already did.
    const closeAll = (keep?: number) => {
      for (const fd of fds) if (fd !== this.rootFd && fd !== keep && !closed.has(fd)) { closed.add(fd); fs.closeSync(fd); }
    };
    let todo = pathParts(p);
    let links = hops;
    try {
      for (;;) {
        const c = todo.shift();
        if (c === undefined) {
          // The root (or a path that climbs back to it): held as the directory itself.
          if (!names.length) return this.resolved(this.rootFd, '', '/', fs.fstatSync(this.rootFd, { bigint: true }), () => undefined);
          // A trailing `..` left a directory on the stack: hand back it and its parent.
          const dirFd = fds.pop()!;
          const name = names.pop()!;
          closed.add(dirFd);
          fs.closeSync(dirFd);
          return this.finish(fds, names, name, follow, todo, closeAll, o, links);
        }
        if (c === '..') {
          if (fds.length > 1) { const fd = fds.pop()!; closed.add(fd); fs.closeSync(fd); names.pop(); }
          continue;
        }
        const top = fds[fds.length - 1]!;
        if (todo.length === 0) return this.finish(fds, names, c, follow, todo, closeAll, o, links);
        let st: fs.Stats;
        try { st = fs.lstatSync(at(top, c)); } catch (err) {
          if (code(err) === 'ENOENT' && o.allowMissing) {
            return this.missing(fds, [...names, c, ...todo], closeAll);
          }
          throw err;
        }
        if (st.isSymbolicLink()) {
          if (++links > MAX_SYMLINKS) throw new InvalidParameterError(`too many levels of symbolic links: ${p}`);
          const target = fs.readlinkSync(at(top, c));
          if (target.startsWith('/')) { closeAll(); closed.clear(); fds.length = 1; names.length = 0; }
          todo = [...pathParts(target), ...todo];
          continue;
        }
        if (!st.isDirectory()) throw Object.assign(new Error(`${names.concat(c).join('/')}: not a directory`), { code: 'ENOTDIR' });
        // ELOOP/ENOTDIR here: swapped between the lstat and the open; never followed.
        const fd = fs.openSync(at(top, c), O_DIR);
        closed.delete(fd); // a number reused after an earlier close
        fds.push(fd);
        names.push(c);
      }
    } catch (err) {
      closeAll();
      throw err;
    }
  }

  private finish(fds: number[], names: string[], name: string, follow: boolean, todo: string[], closeAll: (keep?: number) => void,
    o: { followFinal?: boolean; allowMissing?: boolean }, links: number): ResolvedPath {
    const top = fds[fds.length - 1]!;
    let st: fs.BigIntStats | undefined;
    try { st = fs.lstatSync(at(top, name), { bigint: true }); } catch (err) {
      if (code(err) !== 'ENOENT' || !o.allowMissing) { closeAll(); throw err; }
    }
    if (st?.isSymbolicLink() && follow) {
      // Resolve the rest again from here: the link's target, in scope.
      if (links + 1 > MAX_SYMLINKS) { closeAll(); throw new InvalidParameterError(`too many levels of symbolic links: ${name}`); }
      const target = fs.readlinkSync(at(top, name));
      const base = target.startsWith('/') ? '' : `/${names.join('/')}`;
      closeAll();
      return this.resolve(`${base}/${target}${todo.length ? `/${todo.join('/')}` : ''}/.`, o, links + 1);
    }
    closeAll(top);
    const path = `/${[...names, name].join('/')}`;
    return this.resolved(top, name, path, st, () => { if (top !== this.rootFd) fs.closeSync(top); });
  }

  private missing(fds: number[], parts: string[], closeAll: () => void): ResolvedPath {
    closeAll();
    fds.length = 1;
    return this.resolved(this.rootFd, parts[parts.length - 1]!, `/${parts.join('/')}`, undefined, () => undefined);
  }

  private resolved(dirFd: number, name: string, path: string, st: fs.BigIntStats | undefined, close: () => void): ResolvedPath {
    let closed = false;
    return { dirFd, name, path, st, close: () => { if (!closed) { closed = true; close(); } } };
  }

  /** An open fd on the directory a ResolvedPath names (O_NOFOLLOW: a swapped-in symlink fails). */
  openDir(r: ResolvedPath): number {
    if (!r.name) return fs.openSync(`/proc/self/fd/${r.dirFd}`, O_DIR & ~fs.constants.O_NOFOLLOW);
    return fs.openSync(at(r.dirFd, r.name), O_DIR);
  }
}

export interface PathStat { name: string; size: number; mode: number; mtime: Date; mtimeNs: bigint; linkTarget: string }

/** moby containerFSView.Stat: lstat of the path, a symlink's target resolved in scope (as far as it exists). */
export function statPath(tree: ContainerTree, p: string): PathStat {
  const r = tree.resolve(p);
  try {
    const st = r.st!;
    let linkTarget = '';
    if (st.isSymbolicLink()) {
      const t = tree.resolve(p, { followFinal: true, allowMissing: true });
      linkTarget = t.path;
      t.close();
    }
    const base = p.replace(/\/+$/, '').split('/').pop() || '/';
    return { name: /\/\.$/.test(p) ? '.' : base, size: Number(st.size), mode: goFileMode(Number(st.mode)), mtime: st.mtime, mtimeNs: st.mtimeNs, linkTarget };
  } finally {
    r.close();
  }
}

export interface PackOptions {
  /** name of the top entry in the tar (Docker's rebase to the requested path's base name) */
  rebase: string;
  /** the root of an export: entries are named relative to it ("bin/sh"), the root itself not listed */
  contentsOnly?: boolean;
  /** entry names to leave out, relative to the packed directory (export: the bind-mounted /etc files) */
  skip?: (rel: string) => boolean;
  /** reads `security.capability` of a path without following it (Sys.lgetxattr): packed as a PAX record, as Docker's archive */
  capability?: (p: string) => Buffer | undefined;
}

/** What the walk carries: hard links seen so far, and the xattr reader. */
interface PackCtx { links: Map<string, string>; capability?: ((p: string) => Buffer | undefined) | undefined }

/**
 * Write the tree at `r` as a tar into `out` (a tar-stream pack is piped into it), streaming, with
 * backpressure. Resolves when the whole tar is handed to `out`; `out` is left open, so the caller ends
 * it once its own clean-up (unmounts) is done, as moby does: a client that sees the end of the tar
 * sees the container's filesystem released too.
 */
export async function packPath(tree: ContainerTree, r: ResolvedPath, out: Writable, o: PackOptions): Promise<void> {
  const pack = tar.pack();
  // A binary xattr cannot go through tar-stream's string PAX values: marked entries are retyped on the way out.
  const retype = new PaxRetype();
  let ended = false;
  const done = new Promise<void>((resolve, reject) => {
    out.once('error', reject);
    retype.once('end', () => { ended = true; resolve(); });
    // The reader went away: the pack's pending writes must fail, not wait for a drain forever.
    out.once('close', () => { if (!ended) { const e = new Error('the archive reader went away'); pack.destroy(e); retype.destroy(e); reject(e); } });
    (pack as unknown as NodeJS.ReadableStream).once('error', reject);
    retype.once('error', reject);
  });
  done.catch(() => undefined);
  (pack as unknown as NodeJS.ReadableStream).pipe(retype).pipe(out, { end: false });
  const pc: PackCtx = { links: new Map<string, string>(), capability: o.capability };
  try {
    const st = r.st;
    if (!st) throw Object.assign(new Error(`lstat ${r.path}: no such file or directory`), { code: 'ENOENT' });
    if (st.isDirectory()) {
      const fd = tree.openDir(r);
      try {
        if (!o.contentsOnly) await addEntry(pack, `${o.rebase}/`, fs.fstatSync(fd), undefined, pc, r.name ? at(r.dirFd, r.name) : undefined);
        await packDir(pack, fd, o.contentsOnly ? '' : `${o.rebase}/`, '', pc, o.skip);
      } finally { fs.closeSync(fd); }
    } else {
      await packOne(pack, r.dirFd, r.name, o.rebase, pc);
    }
    pack.finalize();
  } catch (err) {
    pack.destroy(err as Error);
    throw err;
  }
  await done;
}

async function packDir(pack: tarTypes.Pack, fd: number, prefix: string, rel: string, pc: PackCtx, skip?: (rel: string) => boolean): Promise<void> {
  const names = fs.readdirSync(`/proc/self/fd/${fd}`).sort();
  for (const n of names) {
    const childRel = rel ? `${rel}/${n}` : n;
    if (skip?.(childRel)) continue;
    let st: fs.Stats;
    try { st = fs.lstatSync(at(fd, n)); } catch (err) { if (code(err) === 'ENOENT') continue; throw err; }
    if (st.isDirectory()) {
      let child: number;
      try { child = fs.openSync(at(fd, n), O_DIR); } catch (err) {
        // Replaced after the lstat (by a symlink, or removed): what is there now is packed as it is.
        if (code(err) === 'ELOOP' || code(err) === 'ENOTDIR') { await packOne(pack, fd, n, `${prefix}${n}`, pc); continue; }
        if (code(err) === 'ENOENT') continue;
        throw err;
      }
      try {
        await addEntry(pack, `${prefix}${n}/`, fs.fstatSync(child), undefined, pc, at(fd, n));
        await packDir(pack, child, `${prefix}${n}/`, childRel, pc, skip);
      } finally { fs.closeSync(child); }
    } else {
      await packOne(pack, fd, n, `${prefix}${n}`, pc);
    }
  }
}

/** One non-directory entry (a directory met here is packed as an empty one: it replaced a file mid-walk). */
async function packOne(pack: tarTypes.Pack, dirFd: number, name: string, entryName: string, pc: PackCtx): Promise<void> {
  const p = at(dirFd, name);
  let st: fs.Stats;
  try { st = fs.lstatSync(p); } catch (err) { if (code(err) === 'ENOENT') return; throw err; }
  if (st.isSymbolicLink()) return addEntry(pack, entryName, st, fs.readlinkSync(p), pc);
  if (st.isDirectory()) return addEntry(pack, `${entryName}/`, st, undefined, pc, p);
  if (!st.isFile()) return addEntry(pack, entryName, st, undefined, pc, p);
  let fh: fsp.FileHandle;
  try { fh = await fsp.open(p, O_FILE); } catch (err) {
    if (code(err) === 'ENOENT') return;
    if (code(err) === 'ELOOP') return packOne(pack, dirFd, name, entryName, pc);
    throw err;
  }
  try {
    const fst = await fh.stat();
    if (!fst.isFile()) return; // swapped for something else between the lstat and the open
    await addEntry(pack, entryName, fst, undefined, pc, p, fh);
  } finally {
    await fh.close();
  }
}

async function addEntry(pack: tarTypes.Pack, name: string, st: fs.Stats, linkname: string | undefined, pc: PackCtx, xattrPath?: string, fh?: fsp.FileHandle): Promise<void> {
  const links = pc.links;
  const header: Partial<tarTypes.Header> & { name: string; size: number } = {
    name, mode: st.mode & 0o7777, uid: st.uid, gid: st.gid, mtime: st.mtime, size: 0,
  };
  const cap = xattrPath && pc.capability && !st.isSymbolicLink() ? pc.capability(xattrPath) : undefined;
  if (cap) {
    const pax = Buffer.concat([paxRecord('path', Buffer.from(name)), paxRecord('SCHILY.xattr.security.capability', cap)]);
    await new Promise<void>((resolve, reject) => {
      const e = pack.entry({ name: PAX_MARKER, type: 'file', size: pax.length, mode: 0o644, mtime: st.mtime }, pax, (err) => (err ? reject(err) : resolve()));
      (e as unknown as NodeJS.EventEmitter).on('error', reject);
    });
    // The PAX record carries the whole name; the ustar field gets what fits (no second PAX header from tar-stream).
    if (Buffer.byteLength(name) > 100) header.name = Buffer.from(name).subarray(0, 100).toString('latin1');
  }
  if (st.isDirectory()) header.type = 'directory';
  else if (st.isSymbolicLink()) { header.type = 'symlink'; header.linkname = linkname ?? ''; }
  else if (st.isFile()) {
    const key = `${st.dev}:${st.ino}`;
    const first = st.nlink > 1 ? links.get(key) : undefined;
    if (first !== undefined) { header.type = 'link'; header.linkname = first; }
    else {
      if (st.nlink > 1) links.set(key, name);
      header.type = 'file';
      header.size = st.size;
    }
  } else if (st.isCharacterDevice() || st.isBlockDevice()) {
    header.type = st.isCharacterDevice() ? 'character-device' : 'block-device';
    header.devmajor = Math.floor(st.rdev / 256) & 0xfff;
    header.devminor = (st.rdev & 0xff) | ((st.rdev >> 12) & 0xfff00);
  } else if (st.isFIFO()) header.type = 'fifo';
  else return; // sockets are not archived (Go's archive/tar cannot either)
  // Every entry's stream gets an error listener: a reader going away destroys the pack, and with it the
  // entry being written, whose 'error' would otherwise be unhandled (and end the daemon).
  if (header.type !== 'file' || !fh || !header.size) {
    // A regular file's entry waits for its body to end, even an empty one: it gets an empty buffer.
    const body = header.type === 'file' ? Buffer.alloc(0) : undefined;
    await new Promise<void>((resolve, reject) => {
      const done = (err?: Error | null) => (err ? reject(err) : resolve());
      const entry = body ? pack.entry(header as tarTypes.Header, body, done) : pack.entry(header as tarTypes.Header, done);
      (entry as unknown as NodeJS.EventEmitter).on('error', reject);
    });
    return;
  }
  const size = header.size;
  await new Promise<void>((resolve, reject) => {
    const entry = pack.entry(header as tarTypes.Header, (err) => err ? reject(err) : resolve());
    (entry as unknown as NodeJS.EventEmitter).on('error', reject);
    void (async () => {
      const buf = Buffer.allocUnsafe(Math.min(CHUNK, size));
      let left = size;
      while (left > 0) {
        const { bytesRead } = await fh.read(buf, 0, Math.min(buf.length, left), null);
        // A file that shrank while packed is padded with zeros: the header promised `size` bytes.
        const chunk = bytesRead > 0 ? Buffer.from(buf.subarray(0, bytesRead)) : Buffer.alloc(Math.min(CHUNK, left));
        left -= chunk.length;
        if (!entry.write(chunk)) await new Promise<void>((r) => entry.once('drain', () => r()));
      }
      (entry as unknown as NodeJS.WritableStream).end();
    })().catch((err: Error) => { entry.destroy(err); reject(err); });
  });
}

/** Errors of a container path as Docker words them ("Could not find the file ..." is the caller's). */
export function pathError(err: unknown, p: string): Error {
  const c = code(err);
  if (c === 'ENOENT') return new NotFoundError(`lstat ${p}: no such file or directory`, { cause: err });
  if (c === 'ENOTDIR') return new SystemError(`lstat ${p}: not a directory`, { cause: err });
  if (c === 'ELOOP') return new SystemError(`${p}: the path changed while it was resolved (a symlink was swapped in)`, { cause: err });
  return err instanceof Error ? err : new SystemError(String(err));
}
