import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import { InvalidParameterError } from '../errors.js';
import { resolveUserWith, type ResolvedUser } from '../core/user.js';

/**
 * Paths and files inside an untrusted container rootfs: every path is resolved with the rootfs as "/"
 * (a symlink aimed at ../../../etc/shadow stays inside), and reads refuse symlinks and non-regular files.
 * resolveInRoot (async, for reads) and secureJoin (sync, for the start path's mkdirs) drive one walk, rootWalk.
 */

const MAX_SYMLINKS = 255;
const MAX_FILE = 16 * 1024 * 1024;

/**
 * The one walk behind resolveInRoot and secureJoin: resolve `p` inside `root` as if `root` were "/".
 * Symlinks (absolute or relative) are followed but can never climb above root ("securejoin" /
 * FollowSymlinkInScope, cf. filepath-securejoin, CVE-2018-15664 class): absolute targets are re-rooted,
 * `..` stops at root. Missing components are kept as-is. The walk yields each host path it needs to
 * look at and is sent back that path's symlink target (undefined: not a symlink, or missing); the
 * sync and async drivers below only do that lstat/readlink. Returns an absolute host path under root.
 */
function* rootWalk(root: string, p: string): Generator<string, string, string | undefined> {
  const base = path.resolve(root);
  const todo = p.split('/').filter((c) => c !== '' && c !== '.');
  const done: string[] = [];
  let links = 0;
  while (todo.length > 0) {
    const c = todo.shift()!;
    if (c === '..') { done.pop(); continue; }
    const target = yield path.join(base, ...done, c);
    if (target === undefined) { done.push(c); continue; }
    if (++links > MAX_SYMLINKS) throw new InvalidParameterError(`too many symlinks resolving ${p}`);
    if (target.startsWith('/')) done.length = 0;
    todo.unshift(...target.split('/').filter((x) => x !== '' && x !== '.'));
  }
  return path.join(base, ...done);
}

function linkTargetSync(file: string): string | undefined {
  let st: fs.Stats;
  try { st = fs.lstatSync(file); } catch { return undefined; }
  return st.isSymbolicLink() ? fs.readlinkSync(file) : undefined;
}

async function linkTarget(file: string): Promise<string | undefined> {
  let st: fs.Stats;
  try { st = await fsp.lstat(file); } catch { return undefined; }
  return st.isSymbolicLink() ? fsp.readlink(file) : undefined;
}

/** rootWalk with async lstat/readlink (reads on the daemon's paths that may wait). */
export async function resolveInRoot(root: string, p: string): Promise<string> {
  const walk = rootWalk(root, p);
  for (let step = walk.next(); ; step = walk.next(await linkTarget(step.value))) {
    if (step.done) return step.value;
  }
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
 * rootWalk over a view that is not one directory (an image's layers): `readlink` is given each
 * in-image absolute path and returns its symlink target. Returns the resolved in-image path.
 */
export function resolveInView(p: string, readlink: (inImage: string) => string | undefined): string {
  const walk = rootWalk('/', p);
  for (let step = walk.next(); ; step = walk.next(readlink(step.value))) {
    if (step.done) return step.value;
  }
}

/** rootWalk with sync lstat/readlink (the start path's mkdirs and copy-up). The result may not exist. */
export function secureJoin(root: string, unsafe: string): string {
  const walk = rootWalk(root, unsafe);
  for (let step = walk.next(); ; step = walk.next(linkTargetSync(step.value))) {
    if (step.done) return step.value;
  }
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
