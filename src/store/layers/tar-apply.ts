import { createHash } from 'node:crypto';
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import { Transform, type Readable, type TransformCallback } from 'node:stream';
import { lazyCjs } from '../../sys/cjs.js';
import type * as tarTypes from 'tar-stream';
import { TarPaxScanner } from '../../core/pax.js';
import { decompressStream, type LayerCompressionKind } from './decompress.js';
import { InvalidParameterError, SystemError } from '../../errors.js';
import type { Sys } from '../../sys/sys.js';

// CommonJS packages through require(): see src/sys/cjs.ts.
const tar = lazyCjs<typeof tarTypes>('tar-stream');

/**
 * Unpack one layer tar (plain, gzip or zstd: decompress.ts) into an overlay lower dir ("diff").
 *
 * OCI whiteouts become overlay's native form: `.wh.<name>` → a 0:0 character device named
 * <name>, `.wh..wh..opq` → `trusted.overlay.opaque=y` on the directory.
 *
 * Safety invariant (RELIABILITY 1a): no byte is written, chmod'ed, chowned, linked or deleted
 * outside `root`. Entry names and hardlink targets that lexically climb out of the root
 * (`../x`, `a/../../x`) are rejected as breakouts; every path is then resolved component by
 * component against the tree as built so far, following symlinks *inside* the root (absolute
 * link targets are rooted at `root`, `..` stops at `root`), so symlink tricks are confined.
 * The final component is never followed: an existing entry there is replaced, and files are
 * opened with O_EXCL|O_NOFOLLOW. Nothing else writes to a layer dir while it is being built,
 * so the resolution cannot race.
 */
export type LayerApplySys = Sys;

export interface ApplyOptions {
  sys: LayerApplySys;
  /** Receives every chunk of the uncompressed tar, in order, with backpressure (e.g. a content ingest). */
  onRaw?: (chunk: Buffer) => Promise<void> | void;
  /**
   * The input is already known to hash to this (a pulled plain-tar blob whose verified digest is its
   * diffID): the second sha256 pass is skipped. Only for input that is not compressed.
   */
  knownDiffId?: string;
  /** Abort when free space on the target filesystem falls below this (gzip bombs, L18). Default 64 MiB. */
  minFreeBytes?: number;
  /** docker cp (PUT /archive): entries land under this root-relative directory, resolved in `root` like them */
  under?: string;
  /** false (docker cp): `.wh.` names are plain files, not whiteouts */
  whiteouts?: boolean;
  /** refuse to replace an existing directory by a non-directory or the other way round (docker cp's default) */
  noOverwriteDirNonDir?: boolean;
  /** copyUIDGID: every entry gets this owner instead of the tar's */
  owner?: { uid: number; gid: number };
}

export interface ApplyResult {
  /** sha256 of the uncompressed tar stream: the layer's diffID. */
  diffId: string;
  /** Sum of regular file sizes (Docker's layer size). */
  size: number;
  /** Bytes of uncompressed tar read. */
  tarSize: number;
  compression: LayerCompressionKind;
  warnings: string[];
}

const WHITEOUT_PREFIX = '.wh.';
const WHITEOUT_META_PREFIX = '.wh..wh.';
const WHITEOUT_OPAQUE = '.wh..wh..opq';
const MAX_SYMLINK_HOPS = 255;
const SPACE_CHECK_EVERY = 64 * 1024 * 1024;

/** Hashes the uncompressed tar and reads its PAX headers as bytes on the way to tar-stream. */
class Hasher extends Transform {
  readonly hash = createHash('sha256');
  readonly pax = new TarPaxScanner();
  bytes = 0;
  constructor(private readonly onRaw?: (chunk: Buffer) => Promise<void> | void, private readonly hashing = true) { super(); }
  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    if (this.hashing) this.hash.update(chunk);
    this.bytes += chunk.length;
    try { this.pax.feed(chunk); } catch (err) { cb(err as Error); return; }
    if (!this.onRaw) { cb(null, chunk); return; }
    Promise.resolve(this.onRaw(chunk)).then(() => cb(null, chunk), (err: Error) => cb(err));
  }
}

/** Clean a tar entry name to a root-relative path ('' = the root); lexical breakouts throw. */
export function cleanEntryPath(name: string, what = 'entry'): string {
  if (name.includes('\0')) throw new InvalidParameterError(`invalid tar ${what} name ${JSON.stringify(name)}`);
  const abs = name.startsWith('/');
  const c = path.posix.normalize(name);
  if (!abs && (c === '..' || c.startsWith('../'))) {
    throw new InvalidParameterError(`invalid tar ${what} ${JSON.stringify(name)}: path escapes the layer root (breakout)`);
  }
  const rel = c.replace(/^\/+/, '').replace(/\/+$/, '');
  return rel === '.' ? '' : rel;
}

function errno(err: unknown): string | undefined { return (err as NodeJS.ErrnoException)?.code; }

function lstatOrNull(p: string): fs.Stats | null {
  try { return fs.lstatSync(p); } catch (err) {
    if (errno(err) === 'ENOENT') return null;
    throw err;
  }
}

/**
 * Resolves paths inside one root as the tree stands now (FollowSymlinkInScope): symlinks are
 * followed but can never lead outside `root`. Directories proven real are cached.
 */
class RootResolver {
  private readonly realDirs = new Set<string>(['']);
  constructor(readonly root: string) {}

  abs(rel: string): string { return rel ? path.join(this.root, rel) : this.root; }

  invalidate(): void {
    this.realDirs.clear();
    this.realDirs.add('');
  }

  /** Resolve `rel` to a symlink-free root-relative dir path; missing dirs are created (0755) when `create`. */
  resolveDir(rel: string, create: boolean): string | null {
    if (this.realDirs.has(rel)) return rel;
    const parts = rel.split('/').filter((p) => p && p !== '.');
    let cur = '';
    let hops = 0;
    while (parts.length) {
      const p = parts.shift()!;
      if (p === '..') { cur = cur.includes('/') ? cur.slice(0, cur.lastIndexOf('/')) : ''; continue; }
      const next = cur ? `${cur}/${p}` : p;
      if (this.realDirs.has(next)) { cur = next; continue; }
      const abs = this.abs(next);
      const st = lstatOrNull(abs);
      if (!st) {
        if (!create) return null;
        fs.mkdirSync(abs, { mode: 0o755 });
        this.realDirs.add(next);
        cur = next;
        continue;
      }
      if (st.isSymbolicLink()) {
        if (++hops > MAX_SYMLINK_HOPS) throw new InvalidParameterError(`too many levels of symbolic links resolving ${rel}`);
        const target = fs.readlinkSync(abs);
        if (target.startsWith('/')) cur = '';
        parts.unshift(...target.split('/').filter((x) => x && x !== '.'));
        continue;
      }
      if (!st.isDirectory()) throw new InvalidParameterError(`cannot extract under ${rel}: ${next} is not a directory`);
      this.realDirs.add(next);
      cur = next;
    }
    this.realDirs.add(cur);
    return cur;
  }

  /** Root-relative path of `rel` with its parent resolved (final component not followed). */
  resolveEntry(rel: string, create: boolean): { parent: string; rel: string; abs: string } | null {
    const dir = rel.includes('/') ? rel.slice(0, rel.lastIndexOf('/')) : '';
    const base = rel.slice(rel.lastIndexOf('/') + 1);
    const parent = this.resolveDir(dir, create);
    if (parent === null) return null;
    const r = parent ? `${parent}/${base}` : base;
    return { parent, rel: r, abs: this.abs(r) };
  }
}

/**
 * Apply a layer tar from `input` into `root` (an existing, empty directory owned by the caller).
 * Throws InvalidParameterError for bad archives; the caller discards `root` on any error.
 */
export async function applyLayerTar(input: Readable, root: string, opts: ApplyOptions): Promise<ApplyResult> {
  const { stream, compression } = await decompressStream(input);
  if (opts.knownDiffId !== undefined && compression !== 'none') {
    stream.destroy();
    throw new InvalidParameterError(`layer ${opts.knownDiffId}: compressed (${compression}), so its blob digest is not its diffID`);
  }
  const hasher = new Hasher(opts.onRaw, opts.knownDiffId === undefined);
  const extract = tar.extract();
  let upstreamError: Error | undefined;
  const fail = (e: Error) => { upstreamError ??= e; extract.destroy(e); };
  stream.on('error', (e) => fail(wrapStreamError(e, compression)));
  hasher.on('error', fail);
  stream.pipe(hasher).pipe(extract as unknown as NodeJS.WritableStream);
  const hashed = new Promise<void>((resolve) => hasher.once('end', resolve));

  const r = new RootResolver(root);
  const sys = opts.sys;
  const minFree = opts.minFreeBytes ?? 64 * 1024 * 1024;
  const warnings: string[] = [];
  const dirTimes: { abs: string; mtime: Date }[] = [];
  let size = 0;
  let sinceSpaceCheck = 0;
  let written = 0;

  const removeExisting = (abs: string, st: fs.Stats) => {
    if (st.isDirectory()) fs.rmSync(abs, { recursive: true, force: true });
    else fs.unlinkSync(abs);
    r.invalidate();
  };

  try {
    const notOurs = (e: unknown) => e === upstreamError;
    for await (const entry of parsed(extract, notOurs)) {
      const h = entry.header;
      // Taken for every entry, so records of entries that return early never pile up.
      const byteOffset = (h as { byteOffset?: unknown }).byteOffset;
      if (typeof byteOffset !== 'number') throw new SystemError('tar-stream did not report header.byteOffset: cannot match PAX xattrs to entries');
      const xattrs = hasher.pax.take(byteOffset);
      try {
        if (opts.owner) { h.uid = opts.owner.uid; h.gid = opts.owner.gid; }
        const own = cleanEntryPath(h.name);
        const rel = opts.under ? (own ? `${opts.under}/${own}` : opts.under) : own;
        const base = rel.slice(rel.lastIndexOf('/') + 1);

        // Whiteouts
        if (opts.whiteouts !== false && base.startsWith(WHITEOUT_PREFIX)) {
          const dirRel = rel.includes('/') ? rel.slice(0, rel.lastIndexOf('/')) : '';
          if (base === WHITEOUT_OPAQUE) {
            const dir = r.resolveDir(dirRel, true)!;
            sys.lsetxattr(r.abs(dir), 'trusted.overlay.opaque', 'y');
          } else if (!base.startsWith(WHITEOUT_META_PREFIX)) {
            const orig = base.slice(WHITEOUT_PREFIX.length);
            if (orig === '' || orig === '.' || orig === '..') {
              throw new InvalidParameterError(`invalid whiteout entry ${JSON.stringify(h.name)}`);
            }
            const dir = r.resolveDir(dirRel, true)!;
            const abs = r.abs(dir ? `${dir}/${orig}` : orig);
            // Whiteouts hide lower layers only: a same-layer entry of that name already does that.
            if (!lstatOrNull(abs)) {
              sys.mknodChar(abs, 0, 0, 0);
              if (lstatOrNull(abs)) fs.lchownSync(abs, h.uid, h.gid);
            }
          }
          // Other .wh..wh.* entries are aufs bookkeeping: ignored, as Docker does.
          entry.resume();
          continue;
        }

        if (own === '') {
          // The root itself ("./"): take its owner and mode, nothing else.
          if (h.type === 'directory') {
            const dir = opts.under ? r.abs(r.resolveDir(opts.under, false) ?? opts.under) : root;
            fs.lchownSync(dir, h.uid, h.gid);
            fs.chmodSync(dir, h.mode & 0o7777);
          }
          entry.resume();
          continue;
        }

        const target = r.resolveEntry(rel, true)!;
        const abs = target.abs;
        const existing = lstatOrNull(abs);
        if (existing && opts.noOverwriteDirNonDir && existing.isDirectory() !== (h.type === 'directory')) {
          throw new InvalidParameterError(existing.isDirectory()
            ? `cannot overwrite directory "/${target.rel}" with non-directory "${h.name}"`
            : `cannot overwrite non-directory "/${target.rel}" with directory "${h.name}"`);
        }
        if (existing && !(h.type === 'directory' && existing.isDirectory())) removeExisting(abs, existing);

        let setMeta = true;
        switch (h.type) {
          case 'file':
          case 'contiguous-file': {
            const fh = await fsp.open(abs, fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_EXCL | fs.constants.O_NOFOLLOW, 0o600);
            try {
              for await (const chunk of parsed(entry, notOurs)) {
                const b = chunk as Buffer;
                let off = 0;
                while (off < b.length) off += (await fh.write(b, off, b.length - off)).bytesWritten;
                sinceSpaceCheck += b.length;
                written += b.length;
                if (sinceSpaceCheck >= SPACE_CHECK_EVERY) {
                  sinceSpaceCheck = 0;
                  checkSpace(root, minFree, written);
                }
              }
            } finally {
              await fh.close();
            }
            size += h.size;
            break;
          }
          case 'directory':
            if (!existing || !existing.isDirectory()) fs.mkdirSync(abs, { mode: 0o700 });
            dirTimes.push({ abs, mtime: h.mtime });
            break;
          case 'symlink':
            fs.symlinkSync(h.linkname, abs);
            break;
          case 'link': {
            const linkOwn = cleanEntryPath(h.linkname, 'hardlink target');
            const linkRel = opts.under && linkOwn ? `${opts.under}/${linkOwn}` : linkOwn;
            const src = linkRel === '' ? null : r.resolveEntry(linkRel, false);
            const srcSt = src ? lstatOrNull(src.abs) : null;
            if (!src || !srcSt) {
              throw new InvalidParameterError(`invalid hardlink ${JSON.stringify(h.name)} -> ${JSON.stringify(h.linkname)}: target not found in layer`);
            }
            if (srcSt.isDirectory()) throw new InvalidParameterError(`invalid hardlink ${JSON.stringify(h.name)}: target is a directory`);
            // link(2) does not follow a symlink target: the new name shares the symlink's inode (L10).
            fs.linkSync(src.abs, abs);
            setMeta = false;
            break;
          }
          case 'character-device':
            sys.mknodChar(abs, h.mode & 0o7777, h.devmajor, h.devminor);
            break;
          case 'block-device':
          case 'fifo':
            sys.mknod(abs, h.type === 'fifo' ? 'fifo' : 'block', h.mode & 0o7777, h.devmajor, h.devminor);
            break;
          default:
            warnings.push(`skipped ${rel}: unsupported tar entry type ${String(h.type)}`);
            setMeta = false;
        }
        if (h.type !== 'file' && h.type !== 'contiguous-file') entry.resume();
        if (setMeta && lstatOrNull(abs)) applyMetadata(abs, h, xattrs, sys, warnings);
        // A hardlink shares its target's inode; moby sets the link entry's xattrs on it too (never following a symlink).
        else if (h.type === 'link' && xattrs) applyXattrs(abs, h.name, xattrs, sys, warnings);
      } catch (err) {
        entry.resume();
        throw err;
      }
    }
    if (upstreamError) throw upstreamError;
    await hashed;
    // Directory mtimes last, deepest first: creating children would have changed them.
    for (let i = dirTimes.length - 1; i >= 0; i--) {
      const d = dirTimes[i]!;
      try { fs.utimesSync(d.abs, d.mtime, d.mtime); } catch { /* replaced later in the tar */ }
    }
  } catch (err) {
    stream.destroy();
    hasher.destroy();
    extract.destroy();
    if (upstreamError && err !== upstreamError && !(err instanceof InvalidParameterError)) throw upstreamError;
    throw toApplyError(err);
  }
  return { diffId: opts.knownDiffId ?? `sha256:${hasher.hash.digest('hex')}`, size, tarSize: hasher.bytes, compression, warnings };
}

function applyMetadata(abs: string, h: tarTypes.Header, xattrs: Map<string, Buffer> | undefined, sys: Sys, warnings: string[]): void {
  fs.lchownSync(abs, h.uid, h.gid);
  // chown cleared set-id bits, so the mode goes after it; symlinks have no mode of their own.
  if (h.type !== 'symlink') fs.chmodSync(abs, h.mode & 0o7777);
  // After chown, which drops security.capability.
  if (xattrs) applyXattrs(abs, h.name, xattrs, sys, warnings);
  else if (h.pax && Object.keys(h.pax).some((k) => /^(SCHILY|LIBARCHIVE)\.xattr\./.test(k))) {
    // tar-stream saw xattrs the byte scanner did not place (e.g. from a global header, which Docker ignores too).
    warnings.push(`ignored xattrs of ${h.name}: not in the entry's own PAX header`);
  }
  if (h.type !== 'directory') {
    try { fs.lutimesSync(abs, h.mtime, h.mtime); } catch { /* mtimes are best effort */ }
  }
}

/** Refusals that say "this filesystem or context does not take that xattr", not "the disk is broken". */
const XATTR_SOFT_ERRORS = new Set(['ENOTSUP', 'EOPNOTSUPP', 'EPERM', 'EACCES']);
const XATTR_BAD_INPUT_ERRORS = new Set(['EINVAL', 'ERANGE', 'E2BIG']);

/**
 * Set each xattr with its exact bytes via lsetxattr (never following a symlink). Like moby's
 * archive code, every name is applied (security.*, user.*, trusted.*, system.posix_acl_*),
 * and a refusal for lack of support or permission is a warning, not a failed layer (user.* on
 * a symlink is always EPERM). Overlay's own metadata is never taken from a layer.
 */
function applyXattrs(abs: string, entryName: string, xattrs: Map<string, Buffer>, sys: Sys, warnings: string[]): void {
  for (const [name, value] of xattrs) {
    // A layer must not forge overlay's own metadata (redirects, origin, opaque outside whiteout rules).
    if (name.startsWith('trusted.overlay.') || name.startsWith('user.overlay.')) {
      warnings.push(`ignored xattr ${name} on ${entryName}`);
      continue;
    }
    try { sys.lsetxattr(abs, name, value); } catch (err) {
      const code = errno(err) ?? '';
      if (XATTR_SOFT_ERRORS.has(code)) { warnings.push(`ignored xattr ${name} on ${entryName}: ${(err as Error).message}`); continue; }
      if (XATTR_BAD_INPUT_ERRORS.has(code)) {
        throw new InvalidParameterError(`invalid xattr ${name} on ${JSON.stringify(entryName)} in layer: ${(err as Error).message}`, { cause: err });
      }
      throw err;
    }
  }
}

/**
 * The decompression-bomb guard (RELIABILITY L18). A layer's uncompressed size is known only once it is
 * unpacked (the diffID check comes at the end, as in Docker, which has no bound and fills the disk), so
 * the rule is on the disk: unpacking stops when free space on the layer's filesystem falls below
 * `minFree` (64 MiB), checked every 64 MiB of file data written. The caller removes the half
 * layer. A full disk from honest layers gets the same refusal, before ENOSPC hits other writers.
 */
function checkSpace(dir: string, minFree: number, written: number): void {
  const st = fs.statfsSync(dir);
  if (st.bavail * st.bsize < minFree) {
    throw new SystemError(`layer refused after ${written} bytes unpacked: less than ${Math.round(minFree / 1048576)} MiB left free on the filesystem of ${dir} (a decompression bomb, or a full disk)`);
  }
}

function wrapStreamError(e: Error, compression: string): Error {
  if (e instanceof InvalidParameterError) return e;
  const code = errno(e);
  if (code && code.startsWith('Z_')) return new InvalidParameterError(`invalid ${compression} layer stream: ${e.message}`, { cause: e });
  return e;
}

/** A failure of tar-stream's parser (bad header, truncated entry): typed where it surfaces, see parsed(). */
class TarFormatError extends Error {}

/**
 * Iterates what tar-stream parses; an error it raises itself (no errno, not one we fed it from upstream,
 * not one of ours) is the archive's fault and becomes a TarFormatError. Errors thrown by the loop body
 * that consumes this never pass through here.
 */
async function* parsed<T>(it: AsyncIterable<T>, upstream: (e: unknown) => boolean): AsyncGenerator<T> {
  try {
    for await (const x of it) yield x;
  } catch (e) {
    // A system errno (EIO, ENOSPC...) is no fault of the archive; streamx's STREAM_DESTROYED (the parser
    // gave up mid-entry: the input ended early) is.
    if (upstream(e) || e instanceof InvalidParameterError || e instanceof SystemError || !(e instanceof Error) || /^E[A-Z0-9]+$/.test(errno(e) ?? '')) throw e;
    throw new TarFormatError(e.message, { cause: e });
  }
}

function toApplyError(err: unknown): Error {
  if (err instanceof InvalidParameterError || err instanceof SystemError) return err;
  const e = err as Error;
  const code = errno(e);
  if (e instanceof TarFormatError) return new InvalidParameterError(`invalid tar archive: ${e.message}`, { cause: e.cause });
  if (code === 'ENOTDIR' || code === 'EEXIST' || code === 'EISDIR' || code === 'ELOOP') {
    return new InvalidParameterError(`invalid layer archive: ${e.message}`, { cause: e });
  }
  return e instanceof Error ? e : new SystemError(String(err));
}
