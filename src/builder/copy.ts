// COPY and ADD: the sources (from the build context, or from a stage's or image's layers) packed
// straight into a layer tar under the destination, and a content hash (names, metadata and bytes)
// that keys the step's cache entry.
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { PassThrough, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import zlib from 'node:zlib';
import type * as tarTypes from 'tar-stream';
import { InvalidParameterError, NotImplementedError } from '../errors.js';
import { resolveInView } from '../store/rootfs-files.js';
import { lazyCjs } from '../sys/cjs.js';
import type { CopySource } from './instructions.js';

const tar = lazyCjs<typeof tarTypes>('tar-stream');

/** A source as the plan sees it: an ADD URL arrives already downloaded (download.ts). */
export type PlanSource = CopySource | { kind: 'download'; url: string; name: string; abs: string };

export interface CopyPlan {
  /** The context dir, or an image's layer dirs topmost first (`layered`). */
  roots: string[];
  layered: boolean;
  sources: PlanSource[];
  dest: string;
  workdir: string;
  /** --chown resolved to ids (root when absent). */
  owner?: { uid: number; gid: number };
  chmod?: string;
  /** ADD: local tar archives are unpacked into the destination. */
  extract: boolean;
  /** Whether the destination already is a directory in the image. */
  destIsDir?: boolean;
}

interface Item { name: string; abs?: string; st?: fs.Stats; body?: Buffer; archive?: boolean; downloaded?: boolean }

function isWhiteout(st: fs.Stats): boolean { return st.isCharacterDevice() && st.rdev === 0; }

function lstat(p: string): fs.Stats | null {
  try { return fs.lstatSync(p); } catch { return null; }
}

/** One path seen through the layers (topmost first): whiteouts and opaque dirs hide what is below. */
export function mergedStat(roots: string[], rel: string): { abs: string; st: fs.Stats } | null {
  for (const root of roots) {
    const abs = path.join(root, rel);
    const st = lstat(abs);
    if (st) return isWhiteout(st) ? null : { abs, st };
    // an ancestor whited out (or replaced by a file) in this layer hides the path below it
    let dir = path.posix.dirname(rel);
    while (dir !== '/' && dir !== '.') {
      const a = lstat(path.join(root, dir));
      if (a && (isWhiteout(a) || !a.isDirectory())) return null;
      dir = path.posix.dirname(dir);
    }
  }
  return null;
}

function mergedReaddir(roots: string[], rel: string, layered: boolean): string[] {
  if (!layered) return fs.readdirSync(path.join(roots[0]!, rel)).sort();
  const seen = new Map<string, boolean>();
  for (const root of roots) {
    const st = lstat(path.join(root, rel));
    if (!st) continue;
    if (!st.isDirectory()) break;
    for (const n of fs.readdirSync(path.join(root, rel))) {
      if (!seen.has(n)) seen.set(n, !isWhiteout(fs.lstatSync(path.join(root, rel, n))));
    }
  }
  return [...seen].filter(([, live]) => live).map(([n]) => n).sort();
}

function statOf(plan: CopyPlan, rel: string): { abs: string; st: fs.Stats } | null {
  if (plan.layered) return mergedStat(plan.roots, rel);
  const abs = path.join(plan.roots[0]!, rel);
  const st = lstat(abs);
  return st ? { abs, st } : null;
}

function globRe(pattern: string): RegExp {
  let re = '';
  for (let i = 0; i < pattern.length; i++) {
    const ch = pattern[i]!;
    if (ch === '*') re += '[^/]*';
    else if (ch === '?') re += '[^/]';
    else if (ch === '[') { const j = pattern.indexOf(']', i); if (j < 0) re += '\\['; else { re += pattern.slice(i, j + 1).replace(/^\[!/, '[^'); i = j; } }
    else if (ch === '\\' && i + 1 < pattern.length) re += `\\${pattern[++i]}`;
    else re += ch.replace(/[.+^${}()|\\]/g, '\\$&');
  }
  return new RegExp(`^${re}$`);
}

/** Source paths (root-relative, "/x/y") a source pattern names; confined to the context. */
function expandSource(plan: CopyPlan, src: string): string[] {
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(src)) {
    throw new NotImplementedError(`ADD from a ${src.slice(0, src.indexOf(':'))} URL is not supported: ${src}`);
  }
  const norm = path.posix.normalize(`/${src}`);
  if (path.posix.normalize(src).startsWith('../')) throw new InvalidParameterError(`forbidden path outside the build context: ${src} ()`);
  if (!/[*?[]/.test(norm)) return statOf(plan, norm) ? [norm] : [];
  let matches = ['/'];
  for (const seg of norm.split('/').filter(Boolean)) {
    const next: string[] = [];
    for (const dir of matches) {
      if (!/[*?[]/.test(seg)) { next.push(path.posix.join(dir, seg)); continue; }
      const s = statOf(plan, dir);
      if (!s || !s.st.isDirectory()) continue;
      const re = globRe(seg);
      for (const n of mergedReaddir(plan.roots, dir, plan.layered)) if (re.test(n)) next.push(path.posix.join(dir, n));
    }
    matches = next;
  }
  return matches.filter((m) => statOf(plan, m) !== null);
}

function walkInto(plan: CopyPlan, rel: string, destName: string, out: Item[]): void {
  for (const n of mergedReaddir(plan.roots, rel, plan.layered)) {
    const r = path.posix.join(rel, n);
    const s = statOf(plan, r);
    if (!s) continue;
    const name = path.posix.join(destName, n);
    out.push({ name, abs: s.abs, st: s.st });
    if (s.st.isDirectory()) walkInto(plan, r, name, out);
  }
}

function isArchive(abs: string): boolean {
  const fd = fs.openSync(abs, 'r');
  try {
    const b = Buffer.alloc(512);
    const n = fs.readSync(fd, b, 0, 512, 0);
    if (n >= 2 && b[0] === 0x1f && b[1] === 0x8b) return true;
    return n >= 262 && b.toString('latin1', 257, 262) === 'ustar';
  } finally { fs.closeSync(fd); }
}

/** What goes into the layer: names under the destination (no leading slash). */
function plan(p: CopyPlan): Item[] {
  const dest0 = path.posix.resolve(p.workdir, p.dest);
  const items: Item[] = [];
  const named: { rel: string; abs: string; st: fs.Stats }[] = [];
  const heredocs: { name: string; content: string }[] = [];
  const downloads: { url: string; name: string; abs: string }[] = [];
  let wildcard = false;
  for (const s of p.sources) {
    if (s.kind === 'heredoc') { heredocs.push({ name: s.name, content: s.content }); continue; }
    if (s.kind === 'download') { downloads.push(s); continue; }
    if (/[*?[]/.test(s.path)) wildcard = true;
    const found = expandSource(p, s.path);
    if (found.length === 0) {
      throw new InvalidParameterError(`COPY failed: file not found in build context or excluded by .dockerignore: stat ${s.path}: file does not exist`);
    }
    for (const rel of found) named.push({ rel, ...statOf(p, rel)! });
  }
  const intoDir = p.dest.endsWith('/') || p.dest.endsWith('/.') || p.destIsDir || wildcard || named.length + heredocs.length + downloads.length > 1;
  for (const h of heredocs) items.push({ name: intoDir ? path.posix.join(dest0, h.name) : dest0, body: Buffer.from(h.content) });
  for (const dl of downloads) {
    if (intoDir && dl.name === '') throw new InvalidParameterError(`cannot determine a file name for ${dl.url}: give ADD a destination file name`);
    // Downloads are never unpacked, as the classic builder.
    items.push({ name: intoDir ? path.posix.join(dest0, dl.name) : dest0, abs: dl.abs, st: fs.lstatSync(dl.abs), downloaded: true });
  }
  for (const n of named) {
    if (n.st.isDirectory()) { walkInto(p, n.rel, dest0, items); continue; }
    const target = intoDir ? path.posix.join(dest0, path.posix.basename(n.rel)) : dest0;
    if (p.extract && n.st.isFile() && isArchive(n.abs)) { items.push({ name: dest0, abs: n.abs, st: n.st, archive: true }); continue; }
    items.push({ name: target, abs: n.abs, st: n.st });
  }
  return items.map((i) => ({ ...i, name: i.name.replace(/^\/+/, '') })).filter((i) => i.name !== '' || i.archive);
}

/** A small regular file seen through an image's layers (topmost first), symlinks kept inside the image. */
export function readMergedFile(roots: string[], p: string): string | undefined {
  const resolved = resolveInView(p, (v) => {
    const s = mergedStat(roots, v);
    return s?.st.isSymbolicLink() ? fs.readlinkSync(s.abs) : undefined;
  });
  const s = mergedStat(roots, resolved);
  if (!s || !s.st.isFile()) return undefined;
  if (s.st.size > 16 * 1024 * 1024) throw new InvalidParameterError(`${p} in the image is too large`);
  return fs.readFileSync(s.abs, 'utf8');
}

/**
 * The layer of a COPY/ADD and its content hash; `pack()` may be called once per use. Files are
 * owned by root (or --chown) and keep their mode (or --chmod) and mtime, as the classic builder.
 */
export async function packSources(p: CopyPlan): Promise<{ hash: string; pack: () => Readable }> {
  const items = plan(p);
  const own = p.owner ?? { uid: 0, gid: 0 };
  const chmod = p.chmod === undefined ? undefined : parseInt(p.chmod, 8);
  if (p.chmod !== undefined && (!/^[0-7]{3,4}$/.test(p.chmod))) throw new InvalidParameterError(`invalid chmod parameter: ${p.chmod}`);
  const h = createHash('sha256');
  for (const it of items) {
    // No mtime in the key, for context files as for downloads (Last-Modified): the classic builder's tarsum
    // (version 1) leaves it out of the header it hashes, and Docker's docs say the cache ignores it. A `touch`
    // still hits the cache, and the cached image keeps the mtime it was built with.
    h.update(`${it.name}\0${it.st ? `${it.st.mode}:${it.st.size}` : 'heredoc'}\0`);
    if (it.body) h.update(it.body);
    else if (it.st?.isFile()) h.update(createHash('sha256').update(fs.readFileSync(it.abs!)).digest());
    else if (it.st?.isSymbolicLink()) h.update(fs.readlinkSync(it.abs!));
  }
  h.update(JSON.stringify([own, chmod ?? null]));
  const hash = `${items.length === 1 && !items[0]!.st?.isDirectory() ? 'file' : 'dir'}:${h.digest('hex')}`;
  const pack = () => {
    const pk = tar.pack();
    const out = new PassThrough({ highWaterMark: 1 << 20 });
    const put = (hd: tarTypes.Header, body?: Buffer) => new Promise<void>((resolve, reject) => {
      const cb = (err?: Error | null) => (err ? reject(err) : resolve());
      if (body) pk.entry(hd, body, cb); else pk.entry(hd, cb);
    });
    const run = async () => {
      for (const it of items) {
        const base = { name: it.name, uid: own.uid, gid: own.gid, mtime: it.st ? it.st.mtime : new Date() } as tarTypes.Header;
        if (it.body) { await put({ ...base, type: 'file', mode: chmod ?? 0o644, size: it.body.length }, it.body); continue; }
        const st = it.st!;
        const mode = chmod ?? (st.mode & 0o7777);
        if (it.archive) { await repackArchive(it.abs!, it.name, put); continue; }
        if (st.isDirectory()) await put({ ...base, name: `${it.name}/`, type: 'directory', mode });
        else if (st.isSymbolicLink()) await put({ ...base, type: 'symlink', linkname: fs.readlinkSync(it.abs!), mode: 0o777 });
        else if (st.isFile()) {
          await new Promise<void>((resolve, reject) => {
            const sink = pk.entry({ ...base, type: 'file', mode, size: st.size }, (err?: Error | null) => (err ? reject(err) : resolve()));
            pipeline(fs.createReadStream(it.abs!), sink as unknown as NodeJS.WritableStream).catch(reject);
          });
        }
      }
      pk.finalize();
    };
    run().catch((err: Error) => { pk.destroy(err); out.destroy(err); });
    pk.on('error', (err: Error) => out.destroy(err));
    pk.pipe(out);
    return out;
  };
  return { hash, pack };
}

/** ADD of a local archive: its entries re-packed under the destination dir (owners kept, as Docker). */
async function repackArchive(abs: string, destDir: string, put: (h: tarTypes.Header, body?: Buffer) => Promise<void>): Promise<void> {
  const ex = tar.extract();
  const src = fs.createReadStream(abs);
  const head = Buffer.alloc(2);
  const fd = fs.openSync(abs, 'r');
  fs.readSync(fd, head, 0, 2, 0);
  fs.closeSync(fd);
  const input = head[0] === 0x1f && head[1] === 0x8b ? src.pipe(zlib.createGunzip()) : src;
  input.pipe(ex as unknown as NodeJS.WritableStream);
  for await (const e of ex) {
    const rel = path.posix.normalize(`/${e.header.name}`).replace(/^\/+/, '');
    const chunks: Buffer[] = [];
    for await (const c of e) chunks.push(c as Buffer);
    if (rel === '' || e.header.type === 'pax-header' as never) continue;
    const name = path.posix.join(destDir, rel);
    const hd = { ...e.header, name: e.header.type === 'directory' ? `${name}/` : name } as tarTypes.Header;
    if (e.header.type === 'link' && e.header.linkname) hd.linkname = path.posix.join(destDir, path.posix.normalize(`/${e.header.linkname}`).replace(/^\/+/, ''));
    await put(hd, e.header.type === 'file' || e.header.type === 'contiguous-file' ? Buffer.concat(chunks) : undefined);
  }
}
