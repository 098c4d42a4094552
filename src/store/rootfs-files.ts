import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import { InvalidParameterError } from '../errors.js';
import { resolveUserWith, type ResolvedUser } from '../core/user.js';

/**
 * Paths and files inside an untrusted container rootfs: every path is resolved with the rootfs as "/"
 * (a symlink aimed at ../../../etc/shadow stays inside), and reads refuse symlinks and non-regular files.
 * resolveInRoot (async, for reads) and secureJoin (sync, for the start path's mkdirs) are the same walk.
 */

const MAX_SYMLINKS = 255;
const MAX_FILE = 16 * 1024 * 1024;

/**
 * Resolve `p` inside `root` as if `root` were "/": symlinks (absolute or relative) are followed but
 * can never climb above root ("securejoin" / FollowSymlinkInScope). Missing components are kept
 * as-is. Returns an absolute host path under root.
 */
export async function resolveInRoot(root: string, p: string): Promise<string> {
  const base = path.resolve(root);
  let todo = p.split('/').filter((c) => c !== '' && c !== '.');
  const done: string[] = [];
  let links = 0;
  while (todo.length > 0) {
    const c = todo.shift()!;
    if (c === '..') { done.pop(); continue; }
    const cur = path.join(base, ...done, c);
    let st: fs.Stats;
    try {
      st = await fsp.lstat(cur);
    } catch {
      done.push(c);
      continue;
    }
    if (!st.isSymbolicLink()) { done.push(c); continue; }
    if (++links > MAX_SYMLINKS) throw new InvalidParameterError(`too many symlinks resolving ${p}`);
    const target = await fsp.readlink(cur);
    const parts = target.split('/').filter((x) => x !== '' && x !== '.');
    if (target.startsWith('/')) done.length = 0;
    todo = [...parts, ...todo];
  }
  return path.join(base, ...done);
}

/** Read a small regular file inside root; undefined when it does not exist. */
export async function readInRoot(root: string, p: string): Promise<string | undefined> {
  const file = await resolveInRoot(root, p);
  let fh: fsp.FileHandle;
  try {
    // O_NOFOLLOW: a component swapped for a symlink after resolution fails instead of escaping.
    fh = await fsp.open(file, fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW | fs.constants.O_NONBLOCK);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR' || code === 'ELOOP') return undefined;
    throw err;
  }
  try {
    const st = await fh.stat();
    if (!st.isFile()) return undefined;
    if (st.size > MAX_FILE) throw new InvalidParameterError(`${p} in the image is too large`);
    return await fh.readFile('utf8');
  } finally {
    await fh.close();
  }
}

/** `--user` / USER against the rootfs's /etc/passwd and /etc/group (core/user.ts has the rules). */
export function resolveUser(rootfs: string, user: string | undefined): Promise<ResolvedUser> {
  return resolveUserWith((file) => readInRoot(rootfs, file), user);
}

/**
 * Resolve `unsafe` inside `root` as if root were "/": symlinks are followed but can never lead
 * outside root (absolute targets are re-rooted, `..` stops at root). The result may not exist.
 * Used on untrusted container rootfs trees (cf. filepath-securejoin, CVE-2018-15664 class).
 */
export function secureJoin(root: string, unsafe: string): string {
  const parts = unsafe.split('/').filter((p) => p !== '' && p !== '.');
  const resolved: string[] = [];
  let hops = 0;
  while (parts.length) {
    const part = parts.shift()!;
    if (part === '..') { resolved.pop(); continue; }
    const candidate = path.join(root, ...resolved, part);
    let st: fs.Stats | undefined;
    try { st = fs.lstatSync(candidate); } catch { st = undefined; }
    if (st?.isSymbolicLink()) {
      if (++hops > 255) throw new Error(`too many symlinks resolving ${unsafe}`);
      const target = fs.readlinkSync(candidate);
      if (target.startsWith('/')) resolved.length = 0;
      parts.unshift(...target.split('/').filter((p) => p !== '' && p !== '.'));
      continue;
    }
    resolved.push(part);
  }
  return path.join(root, ...resolved);
}

/** mkdir -p inside an untrusted root, chowning the directories it creates. */
export function secureMkdirAll(root: string, p: string, uid: number, gid: number): void {
  const parts = p.split('/').filter((x) => x !== '' && x !== '.');
  let cur = '/';
  for (const part of parts) {
    cur = path.posix.join(cur, part);
    const real = secureJoin(root, cur);
    let st: fs.Stats | undefined;
    try { st = fs.statSync(real); } catch { st = undefined; }
    if (!st) {
      fs.mkdirSync(real, { mode: 0o755 });
      fs.chownSync(real, uid, gid);
    } else if (!st.isDirectory()) {
      throw new Error(`mkdir ${cur}: not a directory`);
    }
  }
}
