import { AsyncLocalStorage } from 'node:async_hooks';
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';

/**
 * Deferred fsyncs: inside `deferringSyncs(set, fn)` a durable write (writeFileAtomic, fsyncDir, a content blob's
 * commit) does everything but its fsyncs and adds the file and its directory to `set`; `syncDeferred(set)` later
 * fsyncs them all at once, which the filesystem journals in one commit instead of one per fsync. The builder
 * runs its step commits so (see architecture.md, "Build durability"): until the set is synced, a power loss
 * can lose those records, and the stores' loaders skip what they cannot read.
 */
const deferred = new AsyncLocalStorage<Set<string>>();

export function deferringSyncs<T>(set: Set<string>, fn: () => Promise<T>): Promise<T> {
  return deferred.run(set, fn);
}

/** The set the current durable writes go to, if they are being deferred. */
export function deferredSyncs(): Set<string> | undefined { return deferred.getStore(); }

/** fsyncs what was deferred into `set` (files and directories, in parallel; a path gone meanwhile is skipped). */
export async function syncDeferred(set: Set<string>): Promise<void> {
  const paths = [...set];
  set.clear();
  await Promise.all(paths.map(async (p) => {
    let fh;
    try { fh = await fsp.open(p, 'r'); } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
      throw err;
    }
    try { await fh.sync(); } finally { await fh.close(); }
  }));
}

/**
 * Crash-safe write: temp file, (fsync,) rename, (fsync the directory). A kill -9 of berthd leaves the old
 * or the new content, never half, with or without the fsyncs: the rename is atomic and the page cache
 * outlives the process. The fsyncs (2-15 ms each on these VMs) only matter for a power loss, so
 * `durable: false` is for state that a power loss makes moot anyway (a container's running/exited state,
 * a sandbox: after a reboot every process is gone and reconcile recomputes them).
 */
export async function writeFileAtomic(file: string, data: string | Buffer, mode = 0o600, opts: { durable?: boolean } = {}): Promise<void> {
  const defer = deferredSyncs();
  const durable = (opts.durable ?? true) && !defer;
  const dir = path.dirname(file);
  const tmp = path.join(dir, `.${path.basename(file)}.${process.pid}.${Math.random().toString(36).slice(2)}.tmp`);
  const fh = await fsp.open(tmp, 'w', mode);
  try {
    await fh.writeFile(data);
    if (durable) await fh.sync();
  } finally {
    await fh.close();
  }
  try {
    await fsp.rename(tmp, file);
  } catch (err) {
    await fsp.rm(tmp, { force: true });
    throw err;
  }
  if (durable) await fsyncDir(dir);
  else if (defer && (opts.durable ?? true)) { defer.add(file); defer.add(dir); }
}

export function writeFileAtomicSync(file: string, data: string | Buffer, mode = 0o600): void {
  const dir = path.dirname(file);
  const tmp = path.join(dir, `.${path.basename(file)}.${process.pid}.${Math.random().toString(36).slice(2)}.tmp`);
  const fd = fs.openSync(tmp, 'w', mode);
  try {
    fs.writeSync(fd, typeof data === 'string' ? Buffer.from(data) : data);
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
  fs.renameSync(tmp, file);
  const dfd = fs.openSync(dir, 'r');
  try { fs.fsyncSync(dfd); } finally { fs.closeSync(dfd); }
}

export async function fsyncDir(dir: string): Promise<void> {
  const defer = deferredSyncs();
  if (defer) { defer.add(dir); return; }
  const dh = await fsp.open(dir, 'r');
  try { await dh.sync(); } finally { await dh.close(); }
}

export async function readJson<T>(file: string): Promise<T | undefined> {
  try {
    return JSON.parse(await fsp.readFile(file, 'utf8')) as T;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}
