/**
 * cp: docker cp's semantics (docker/cli cp.go over moby's archive CopyInfo rules): the archive endpoints on
 * the container side; GNU tar (no owner change, as docker's NoLchown) and tar-stream's entry rebasing on the
 * local side. Streams end to end: nothing is held whole in memory.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import type { Readable } from 'node:stream';
import type * as tarTypes from 'tar-stream';
import { isNotFound } from '../../client/engine-client.js';
import { humanSize } from '../../core/human.js';
import { StatusError, bool, type CliContext, type Command } from '../context.js';

interface PathStat { name: string; size: number; mode: number; mtime: string; linkTarget: string }
interface CopyInfo { path: string; exists: boolean; isDir: boolean; rebaseName?: string }

const MODE_DIR = 2 ** 31;
const MODE_SYMLINK = 2 ** 27;
/** Go os.ModeType without dir and symlink: devices, pipes, sockets, irregular */
const MODE_SPECIAL = 2 ** 26 + 2 ** 25 + 2 ** 24 + 2 ** 21 + 2 ** 19;

// require(), not import(): bin/berth runs the CLI bundle as a vm script, which has no dynamic import.
// In the bundle __filename is the bundle's; in the ES modules it is undefined and import.meta.url serves.
async function tarLib(): Promise<typeof tarTypes> {
  return createRequire(typeof __filename === 'string' ? __filename : import.meta.url)('tar-stream') as typeof tarTypes;
}

/** archive.SplitPathDirEntry: "/a/b/." keeps "." as its base. */
export function splitPathDirEntry(p: string): { dir: string; base: string } {
  let clean = path.posix.normalize(p);
  if (clean.length > 1) clean = clean.replace(/\/+$/, '');
  if (specifiesCurrentDir(p) && !clean.endsWith('/.')) clean = clean === '/' ? '/.' : `${clean}/.`;
  return { dir: path.posix.dirname(clean), base: path.posix.basename(clean) || '/' };
}

function specifiesCurrentDir(p: string): boolean { return path.posix.basename(p) === '.' || p === '.' || p.endsWith('/.'); }
function hasTrailingSeparator(p: string): boolean { return p.endsWith('/'); }
function assertsDirectory(p: string): boolean { return hasTrailingSeparator(p) || specifiesCurrentDir(p); }

/** A `CONTAINER:PATH` argument (an absolute or ./ path is always local, as docker reads it). */
export function splitCpArg(arg: string): { container: string; path: string } {
  if (arg.startsWith('/') || arg.startsWith('.')) return { container: '', path: arg };
  const i = arg.indexOf(':');
  if (i < 0) return { container: '', path: arg };
  return { container: arg.slice(0, i), path: arg.slice(i + 1) };
}

/** archive.GetRebaseName */
function rebaseName(p: string, resolved: string): { resolved: string; rebase?: string } {
  let r = resolved;
  if (specifiesCurrentDir(p) && !specifiesCurrentDir(r)) r += '/.';
  if (hasTrailingSeparator(p) && !hasTrailingSeparator(r)) r += '/';
  const a = path.posix.basename(p);
  const b = path.posix.basename(r);
  return a !== b ? { resolved: r, rebase: a } : { resolved: r };
}

/**
 * archive.PrepareArchiveCopy: where the tar is extracted and how its top entry must be renamed so that
 * the copy lands at `dst` (undefined rename: as it is).
 */
export function prepareCopy(src: CopyInfo, dst: CopyInfo): { dir: string; rename?: { from: string; to: string } } {
  const { dir: dstDir, base: dstBase } = splitPathDirEntry(dst.path);
  const srcBase = src.rebaseName || splitPathDirEntry(src.path).base;
  if (dst.exists && dst.isDir) return { dir: dst.path };
  if (dst.exists && src.isDir) throw new StatusError('cannot copy directory', 1);
  if (!dst.exists && !src.isDir && assertsDirectory(dst.path)) throw new StatusError('no such directory', 1);
  return { dir: dstDir, rename: { from: srcBase, to: dstBase } };
}

/** archive.RebaseArchiveEntries: the first occurrence of `from` in each name (and hardlink target) becomes `to`. */
export async function rebaseEntries(input: Readable, from: string, to: string): Promise<Readable> {
  const tar = await tarLib();
  const extract = tar.extract();
  const pack = tar.pack();
  const swap = (s: string) => s.replace(from, () => to);
  input.on('error', (e) => extract.destroy(e));
  input.pipe(extract as unknown as NodeJS.WritableStream);
  void (async () => {
    for await (const e of extract) {
      const h = { ...e.header, name: swap(e.header.name) };
      if (h.type === 'link' && h.linkname) h.linkname = swap(h.linkname);
      await new Promise<void>((resolve, reject) => {
        const sink = pack.entry(h, (err) => (err ? reject(err) : resolve()));
        e.on('error', reject);
        (e as unknown as NodeJS.ReadableStream).pipe(sink as unknown as NodeJS.WritableStream);
      });
    }
    pack.finalize();
  })().catch((err: Error) => pack.destroy(err));
  return pack as unknown as Readable;
}

/** Run GNU tar; resolves when it exits 0 (1 is "file changed as we read it": a warning, as docker's copy goes on). */
function gnuTar(args: string[], stdin?: Readable): { stdout: Readable; done: Promise<void> } {
  const child = spawn('tar', args, { stdio: [stdin ? 'pipe' : 'ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr!.on('data', (c: Buffer) => { stderr += c.toString(); });
  if (stdin) {
    stdin.on('error', () => child.kill());
    child.stdin!.on('error', () => undefined);
    stdin.pipe(child.stdin!);
  }
  const done = new Promise<void>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code) => (code === 0 || (code === 1 && !stdin) ? resolve() : reject(new StatusError(stderr.trim().split('\n').pop() || `tar exited with ${code}`, 1))));
  });
  return { stdout: child.stdout!, done };
}

/** archive.CopyInfoDestinationPath on the local side: symlinks followed, a missing path needs its parent. */
function localDestination(p: string): CopyInfo {
  let cur = p;
  for (let n = 0; ; n++) {
    let st: fs.Stats;
    try { st = fs.lstatSync(cur); } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
      const parent = splitPathDirEntry(cur).dir;
      let ps: fs.Stats;
      try { ps = fs.statSync(parent); } catch { throw new StatusError(`stat ${parent}: no such file or directory`, 1); }
      if (!ps.isDirectory()) throw new StatusError('not a directory', 1);
      return { path: cur, exists: false, isDir: false };
    }
    if (!st.isSymbolicLink()) return { path: cur, exists: true, isDir: st.isDirectory() };
    if (n >= 10) throw new StatusError(`too many symlinks in ${p}`, 1);
    const t = fs.readlinkSync(cur);
    cur = t.startsWith('/') ? t : path.join(splitPathDirEntry(cur).dir, t);
  }
}

/** archive.CopyInfoSourcePath / ResolveHostSourcePath */
function localSource(p: string, followLink: boolean): CopyInfo {
  let resolved: string;
  let rebase: string | undefined;
  try {
    if (followLink) {
      const r = rebaseName(p, fs.realpathSync(p));
      resolved = r.resolved;
      rebase = r.rebase;
    } else {
      const { dir, base } = splitPathDirEntry(p);
      // Concatenated, not joined: a "/." base must stay (it asks for the directory's contents).
      resolved = `${fs.realpathSync(dir).replace(/\/$/, '')}/${base}`;
      if (hasTrailingSeparator(p) && path.basename(p) !== path.basename(resolved)) rebase = path.basename(p);
    }
  } catch {
    throw new StatusError(`lstat ${p}: no such file or directory`, 1);
  }
  let st: fs.Stats;
  try { st = fs.lstatSync(resolved); } catch { throw new StatusError(`lstat ${resolved}: no such file or directory`, 1); }
  return { path: resolved, exists: true, isDir: st.isDirectory(), ...(rebase ? { rebaseName: rebase } : {}) };
}

async function statIn(ctx: CliContext, container: string, p: string): Promise<PathStat | undefined> {
  try {
    const res = await ctx.client.request('HEAD', `/containers/${encodeURIComponent(container)}/archive`, { query: { path: p } });
    res.resume();
    const h = res.headers['x-docker-container-path-stat'];
    return typeof h === 'string' ? JSON.parse(Buffer.from(h, 'base64').toString('utf8')) as PathStat : undefined;
  } catch (err) {
    // As docker's CLI: a failed stat means "the path is not there yet"; a missing container is then
    // reported by the GET or PUT that follows, in the daemon's own words.
    if (isNotFound(err)) return undefined;
    throw err;
  }
}

function countBytes(s: Readable): { bytes: () => number } {
  let n = 0;
  s.on('data', (c: Buffer) => { n += c.length; });
  return { bytes: () => n };
}

async function copyFromContainer(ctx: CliContext, container: string, srcPath: string, dstPath: string, o: { followLink: boolean; quiet: boolean }): Promise<void> {
  let src = srcPath;
  let rebase: string | undefined;
  if (o.followLink) {
    const st = await statIn(ctx, container, src);
    if (st && st.mode & MODE_SYMLINK) {
      const target = st.linkTarget.startsWith('/') ? st.linkTarget : path.posix.join(splitPathDirEntry(src).dir, st.linkTarget);
      const r = rebaseName(src, target);
      src = r.resolved;
      rebase = r.rebase;
    }
  }
  const res = await ctx.client.request('GET', `/containers/${encodeURIComponent(container)}/archive`, { query: { path: src } });
  const h = res.headers['x-docker-container-path-stat'];
  const stat = JSON.parse(Buffer.from(String(h ?? ''), 'base64').toString('utf8') || '{}') as PathStat;
  if (dstPath === '-') {
    await new Promise<void>((resolve, reject) => {
      res.on('error', reject);
      res.on('end', () => resolve());
      res.pipe(ctx.io.stdout, { end: false });
    });
    return;
  }
  const srcInfo: CopyInfo = { path: src, exists: true, isDir: (stat.mode & MODE_DIR) !== 0, ...(rebase ? { rebaseName: rebase } : {}) };
  let content: Readable = res;
  if (rebase) content = await rebaseEntries(content, splitPathDirEntry(src).base, rebase);
  const dst = localDestination(dstPath);
  const plan = prepareCopy(srcInfo, dst);
  if (plan.rename && plan.rename.from !== plan.rename.to) content = await rebaseEntries(content, plan.rename.from, plan.rename.to);
  const counted = countBytes(res);
  const t = gnuTar(['-x', '-f', '-', '-C', plan.dir, '--no-same-owner'], content);
  t.stdout.resume();
  await t.done;
  if (!o.quiet) ctx.err(`Successfully copied ${humanSize(counted.bytes())} to ${dstPath}\n`);
}

async function copyToContainer(ctx: CliContext, srcPath: string, container: string, dstPath: string, o: { followLink: boolean; copyUIDGID: boolean; quiet: boolean }): Promise<void> {
  const dst: CopyInfo = { path: dstPath, exists: false, isDir: false };
  let st = await statIn(ctx, container, dstPath);
  if (st && st.mode & MODE_SYMLINK) {
    const target = st.linkTarget.startsWith('/') ? st.linkTarget : path.posix.join(splitPathDirEntry(dstPath).dir, st.linkTarget);
    dst.path = target;
    st = await statIn(ctx, container, target);
  }
  if (st && st.mode & MODE_SPECIAL) throw new StatusError(`destination "${container}:${dstPath}" must be a directory or a regular file`, 1);
  if (st) { dst.exists = true; dst.isDir = (st.mode & MODE_DIR) !== 0; }
  let content: Readable;
  let target: string;
  let tarDone: Promise<void> | undefined;
  let counted: { bytes: () => number } | undefined;
  if (srcPath === '-') {
    if (!dst.isDir) throw new StatusError(`destination "${container}:${dstPath}" must be a directory`, 1);
    content = ctx.io.stdin;
    target = dst.path;
  } else {
    const src = localSource(path.resolve(srcPath) + (hasTrailingSeparator(srcPath) ? '/' : specifiesCurrentDir(srcPath) ? '/.' : ''), o.followLink);
    const { dir, base } = splitPathDirEntry(src.path);
    const t = gnuTar(['-c', '-f', '-', '-C', dir, '--', base]);
    tarDone = t.done;
    counted = countBytes(t.stdout);
    content = t.stdout;
    if (src.rebaseName) content = await rebaseEntries(content, base, src.rebaseName);
    const plan = prepareCopy(src, dst);
    target = plan.dir;
    if (plan.rename && plan.rename.from !== plan.rename.to) content = await rebaseEntries(content, plan.rename.from, plan.rename.to);
  }
  const query: Record<string, string> = { path: target, noOverwriteDirNonDir: 'true' };
  if (o.copyUIDGID) query.copyUIDGID = 'true';
  const res = await ctx.client.request('PUT', `/containers/${encodeURIComponent(container)}/archive`, { query, body: content, contentType: 'application/x-tar' });
  res.resume();
  await tarDone;
  if (!o.quiet && counted) ctx.err(`Successfully copied ${humanSize(counted.bytes())} to ${container}:${dstPath}\n`);
}

const cp: Command = {
  spec: {
    path: 'cp',
    usage: 'cp [OPTIONS] CONTAINER:SRC_PATH DEST_PATH|-\n\tberth cp [OPTIONS] SRC_PATH|- CONTAINER:DEST_PATH',
    desc: 'Copy files/folders between a container and the local filesystem',
    aliases: ['container cp', 'cp'], args: { exact: 2 },
    flags: [
      { name: 'archive', short: 'a', kind: 'bool', desc: 'Archive mode (copy all uid/gid information)' },
      { name: 'follow-link', short: 'L', kind: 'bool', desc: 'Always follow symbol link in SRC_PATH' },
      { name: 'quiet', short: 'q', kind: 'bool', desc: 'Suppress progress output during copy. Progress output is automatically suppressed if no terminal is attached' },
    ],
  },
  async run(ctx, p) {
    const [a, b] = p.args as [string, string];
    const src = splitCpArg(a);
    const dst = splitCpArg(b);
    if (src.container && dst.container) throw new StatusError('copying between containers is not supported', 1);
    if (!src.container && !dst.container) throw new StatusError('must specify at least one container source', 1);
    // As docker: progress only on a terminal.
    const quiet = bool(p, 'quiet') || !(ctx.io.stderr as { isTTY?: boolean }).isTTY;
    if (src.container) {
      if (!src.path) throw new StatusError('source path cannot be empty', 1);
      await copyFromContainer(ctx, src.container, src.path, dst.path, { followLink: bool(p, 'follow-link'), quiet });
    } else {
      if (!dst.path) throw new StatusError('destination path cannot be empty', 1);
      await copyToContainer(ctx, src.path, dst.container, dst.path, { followLink: bool(p, 'follow-link'), copyUIDGID: bool(p, 'archive'), quiet });
    }
    return 0;
  },
};

export const commands: Record<string, Command> = { cp };
