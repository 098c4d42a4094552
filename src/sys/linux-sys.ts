import koffi from 'koffi';
import os from 'node:os';
import { SystemError } from '../errors.js';
import type { Mount, Sys } from './sys.js';

const MS = {
  ro: 0x1, nosuid: 0x2, nodev: 0x4, noexec: 0x8, remount: 0x20, bind: 0x1000, rec: 0x4000,
  private: 0x40000, slave: 0x80000, shared: 0x100000, relatime: 0x200000, strictatime: 0x1000000,
};

/** Split mount(8)-style options into MS_* flags and the fs-specific data string. */
export function mountFlags(options: string[]): { flags: number; data: string } {
  let flags = 0;
  const data: string[] = [];
  for (const o of options) {
    switch (o) {
      case 'ro': flags |= MS.ro; break;
      case 'rw': break;
      case 'nosuid': flags |= MS.nosuid; break;
      case 'nodev': flags |= MS.nodev; break;
      case 'noexec': flags |= MS.noexec; break;
      case 'bind': flags |= MS.bind; break;
      case 'rbind': flags |= MS.bind | MS.rec; break;
      case 'private': flags |= MS.private; break;
      case 'rprivate': flags |= MS.private | MS.rec; break;
      case 'remount': flags |= MS.remount; break;
      case 'relatime': flags |= MS.relatime; break;
      default: data.push(o);
    }
  }
  return { flags, data: data.join(',') };
}

let lib: {
  mount: (s: string, t: string, f: string | null, fl: number, d: string | null) => number;
  umount2: (t: string, fl: number) => number;
  mknod: (p: string, mode: number, dev: bigint) => number;
  lsetxattr: (p: string, n: string, v: Buffer, size: number, fl: number) => number;
  lgetxattr: (p: string, n: string, v: Buffer | null, size: number) => number;
} | undefined;

function libc() {
  if (lib) return lib;
  const c = koffi.load('libc.so.6');
  lib = {
    mount: c.func('int mount(const char*, const char*, const char*, unsigned long, const char*)'),
    umount2: c.func('int umount2(const char*, int)'),
    mknod: c.func('int mknod(const char*, uint32_t, uint64_t)'),
    lsetxattr: c.func('int lsetxattr(const char*, const char*, const void*, size_t, int)'),
    lgetxattr: c.func('long lgetxattr(const char*, const char*, _Out_ void*, size_t)'),
  };
  return lib;
}

function errnoName(): { code: string; errno: number } {
  const errno = koffi.errno();
  const entry = Object.entries(os.constants.errno).find(([, v]) => v === errno);
  return { code: entry?.[0] ?? `E${errno}`, errno };
}

function fail(what: string): never {
  const { code, errno } = errnoName();
  const err = new SystemError(`${what}: ${code}`);
  (err as unknown as { code: string; errno: number }).code = code;
  (err as unknown as { errno: number }).errno = errno;
  throw err;
}

function makedev(major: number, minor: number): bigint {
  const ma = BigInt(major), mi = BigInt(minor);
  return ((ma & 0xfffff000n) << 32n) | ((ma & 0xfffn) << 8n) | ((mi & 0xffffff00n) << 12n) | (mi & 0xffn);
}

export class LinuxSys implements Sys {
  mount(m: Mount): void {
    const { flags, data } = mountFlags(m.options);
    if (Buffer.byteLength(data) >= 4096) throw new SystemError(`mount data for ${m.target} exceeds a page`);
    if (libc().mount(m.source, m.target, m.type || null, flags, data || null) !== 0) {
      fail(`mount ${m.type} ${m.source} on ${m.target}`);
    }
  }
  unmount(target: string, flags = 0): void {
    if (libc().umount2(target, flags) !== 0) {
      const { code } = errnoName();
      if (code === 'EINVAL' || code === 'ENOENT') return;
      fail(`umount ${target}`);
    }
  }
  mknodChar(path: string, mode: number, major: number, minor: number): void {
    const S_IFCHR = 0o020000;
    if (libc().mknod(path, S_IFCHR | (mode & 0o7777), makedev(major, minor)) !== 0) fail(`mknod ${path}`);
  }
  mknod(path: string, kind: 'block' | 'fifo', mode: number, major: number, minor: number): void {
    const S_IFBLK = 0o060000, S_IFIFO = 0o010000;
    const type = kind === 'block' ? S_IFBLK : S_IFIFO;
    const dev = kind === 'block' ? makedev(major, minor) : 0n;
    if (libc().mknod(path, type | (mode & 0o7777), dev) !== 0) fail(`mknod ${path}`);
  }
  lsetxattr(path: string, name: string, value: Buffer | string): void {
    const b = Buffer.isBuffer(value) ? value : Buffer.from(value);
    if (libc().lsetxattr(path, name, b, b.length, 0) !== 0) fail(`lsetxattr ${name} on ${path}`);
  }
  lgetxattr(path: string, name: string): Buffer | undefined {
    const buf = Buffer.alloc(4096);
    const n = libc().lgetxattr(path, name, buf, buf.length);
    if (n < 0) return undefined;
    return buf.subarray(0, n);
  }
}
