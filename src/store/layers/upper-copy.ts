import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import { SystemError } from '../../errors.js';
import { isOpaque, isWhiteout, type UpperEntry, type UpperLayerSys } from './upper-layer.js';

/** What copying an upper dir into a layer dir does beyond node:fs. */
export interface UpperCopySys extends UpperLayerSys {
  lsetxattr(path: string, name: string, value: Buffer | string): void;
  mknodChar(path: string, mode: number, major: number, minor: number): void;
  mknod(path: string, kind: 'block' | 'fifo', mode: number, major: number, minor: number): void;
}

const OPEN_SOURCE = fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW | fs.constants.O_NONBLOCK;

/**
 * A commit's layer dir made straight from the container's upper dir, entry by entry as packUpper walks it
 * (packUpper's `mirror`), with no tar in between: what applyLayerTar(packUpper(upper)) makes (the same names,
 * modes, owners, mtimes to the second, whiteout devices, opaque dirs, hard links and security.capability;
 * runtime mount points left out), with file bodies copied by the kernel (copy_file_range). packUpper then
 * reads each body from the copy, so the tar it hashes is the one the layer dir gives back (tar-split.ts).
 *
 * `dest` is an existing, empty directory nobody else writes. A file of the upper dir is opened with O_NOFOLLOW
 * and copied through that descriptor: a container that swaps it for a symlink cannot get a host file copied.
 */
export class UpperMirror {
  private readonly firstName = new Map<string, string>();
  private readonly dirTimes: { to: string; mtime: number }[] = [];
  /** Sum of regular file sizes (hard links counted once), as applyLayerTar counts a layer's size. */
  size = 0;
  /** The regular files made, in order. */
  readonly files: string[] = [];

  constructor(private readonly dest: string, private readonly sys: UpperCopySys, private readonly onFile?: (file: string) => void) {}

  /** Make the layer dir's entry for one upper dir entry; for a regular file, where its bytes now are. */
  async add(e: UpperEntry): Promise<{ path: string; size: number } | undefined> {
    const { rel, abs, st } = e;
    const sys = this.sys;
    const to = path.join(this.dest, rel);
    const mtime = Math.floor(st.mtimeMs / 1000);
    if (isWhiteout(st)) {
      sys.mknodChar(to, 0, 0, 0);
      fs.lchownSync(to, st.uid, st.gid);
      fs.lutimesSync(to, mtime, mtime);
      return undefined;
    }
    const cap = st.isSymbolicLink() ? undefined : sys.lgetxattr(abs, 'security.capability');
    if (st.isDirectory()) {
      fs.mkdirSync(to, { mode: 0o700 });
      this.meta(to, st, mtime, cap);
      if (isOpaque(sys, abs)) sys.lsetxattr(to, 'trusted.overlay.opaque', 'y');
      this.dirTimes.push({ to, mtime });
    } else if (st.isSymbolicLink()) {
      fs.symlinkSync(fs.readlinkSync(abs), to);
      this.meta(to, st, mtime, undefined);
    } else if (st.isFile()) {
      const key = `${st.dev}:${st.ino}`;
      const first = st.nlink > 1 ? this.firstName.get(key) : undefined;
      if (first !== undefined) {
        fs.linkSync(first, to);
        return undefined;
      }
      if (st.nlink > 1) this.firstName.set(key, to);
      const fh = await fsp.open(abs, OPEN_SOURCE);
      try {
        if (!(await fh.stat()).isFile()) throw new SystemError(`commit: ${rel} changed while the container's changes were read`);
        await fsp.copyFile(`/proc/self/fd/${fh.fd}`, to, fs.constants.COPYFILE_EXCL);
      } finally {
        await fh.close();
      }
      const size = fs.lstatSync(to).size;
      this.size += size;
      this.files.push(to);
      this.meta(to, st, mtime, cap);
      this.onFile?.(to);
      return { path: to, size };
    } else if (st.isCharacterDevice() || st.isBlockDevice()) {
      const major = Math.floor(st.rdev / 256) & 0xfff;
      const minor = (st.rdev & 0xff) | (Math.floor(st.rdev / 4096) & 0xfff00);
      if (st.isCharacterDevice()) sys.mknodChar(to, st.mode & 0o7777, major, minor);
      else sys.mknod(to, 'block', st.mode & 0o7777, major, minor);
      this.meta(to, st, mtime, cap);
    } else if (st.isFIFO()) {
      sys.mknod(to, 'fifo', st.mode & 0o7777, 0, 0);
      this.meta(to, st, mtime, cap);
    }
    // Sockets are not part of a layer (packUpper skips them too).
    return undefined;
  }

  /** Directory mtimes, deepest first (making their children changed them): after the last add. */
  finish(): void {
    for (let i = this.dirTimes.length - 1; i >= 0; i--) fs.utimesSync(this.dirTimes[i]!.to, this.dirTimes[i]!.mtime, this.dirTimes[i]!.mtime);
  }

  private meta(to: string, st: fs.Stats, mtime: number, cap: Buffer | undefined): void {
    fs.lchownSync(to, st.uid, st.gid);
    // chown clears set-id bits, so the mode goes after it; symlinks have no mode of their own.
    if (!st.isSymbolicLink()) fs.chmodSync(to, st.mode & 0o7777);
    // After chown, which drops security.capability.
    if (cap) this.sys.lsetxattr(to, 'security.capability', cap);
    if (!st.isDirectory()) fs.lutimesSync(to, mtime, mtime);
  }
}
