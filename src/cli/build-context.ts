// The build context as the docker CLI prepares it (cli/command/image/build/context.go): a local
// directory walked in lexical order with .dockerignore applied and packed as a root-owned tar that is
// streamed (file by file) to POST /build; a Dockerfile from stdin or from outside the context added
// under a generated name; a tar (or a bare Dockerfile) from stdin or from a URL.
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { PassThrough, Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import zlib from 'node:zlib';
import tar from 'tar-stream';
import type * as tarTypes from 'tar-stream';
import { PatternMatcher, keepBuildFiles, parseDockerignore } from '../core/dockerignore.js';
import { humanSize } from '../core/human.js';
import { StatusError } from './context.js';


export const DEFAULT_DOCKERFILE = 'Dockerfile';

export function isGitUrl(s: string): boolean {
  return (isUrl(s) && /\.git(?:#.+)?$/.test(s)) || ['git://', 'github.com/', 'git@'].some((p) => s.startsWith(p));
}
export function isUrl(s: string): boolean {
  return s.startsWith('http://') || s.startsWith('https://');
}

/** The context dir (symlinks resolved) and the Dockerfile's path relative to it ("../x" when outside). */
export function localContext(dir: string, dockerfile: string): { contextDir: string; relDockerfile: string } {
  let abs: string;
  try { abs = fs.realpathSync(path.resolve(dir)); } catch (e) {
    throw new StatusError(`unable to prepare context: unable to evaluate symlinks in context path: ${(e as Error).message}`, 1);
  }
  if (!fs.statSync(abs).isDirectory()) throw new StatusError(`unable to prepare context: context must be a directory: ${abs}`, 1);
  if (dockerfile === '-') return { contextDir: abs, relDockerfile: '-' };
  // -f is relative to the working directory, not to the context (as the docker CLI).
  let df = dockerfile ? path.resolve(dockerfile) : path.join(abs, DEFAULT_DOCKERFILE);
  if (!dockerfile && !fs.existsSync(df) && fs.existsSync(path.join(abs, 'dockerfile'))) df = path.join(abs, 'dockerfile');
  let real: string;
  try { real = fs.realpathSync(df); } catch {
    throw new StatusError(`unable to prepare context: unable to evaluate symlinks in Dockerfile path: lstat ${df}: no such file or directory`, 1);
  }
  return { contextDir: abs, relDockerfile: path.relative(abs, real) };
}

/** The .dockerignore patterns of a context dir (none when the file is missing). */
export function readDockerignore(contextDir: string): string[] {
  try {
    return parseDockerignore(fs.readFileSync(path.join(contextDir, '.dockerignore'), 'utf8'));
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw new StatusError(`error reading .dockerignore: ${(e as Error).message}`, 1);
  }
}

interface Entry { rel: string; abs: string; st: fs.Stats }

/**
 * The paths to send, in lexical order, with the stats taken once (archive.TarWithOptions' walk): an excluded
 * directory is skipped unless an exception names something under it; then the directory itself is left
 * out but what the exception keeps is sent. Unreadable files fail here, before anything is sent.
 */
export function walkContext(contextDir: string, excludes: string[]): Entry[] {
  let pm: PatternMatcher;
  try { pm = new PatternMatcher(excludes); } catch (e) { throw new StatusError((e as Error).message, 1); }
  const out: Entry[] = [];
  const visit = (relDir: string) => {
    const absDir = relDir ? path.join(contextDir, relDir) : contextDir;
    let names: string[];
    try { names = fs.readdirSync(absDir); } catch {
      throw new StatusError(`checking context: no permission to read from '${absDir}'`, 1);
    }
    for (const name of names.sort()) {
      const rel = relDir ? `${relDir}/${name}` : name;
      const abs = path.join(absDir, name);
      let st: fs.Stats;
      try { st = fs.lstatSync(abs); } catch { throw new StatusError(`checking context: can't stat '${abs}'`, 1); }
      if (pm.matches(rel)) {
        if (st.isDirectory() && pm.mayHoldExceptions(rel)) visit(rel);
        continue;
      }
      if (st.isFile()) {
        try { fs.accessSync(abs, fs.constants.R_OK); } catch { throw new StatusError(`checking context: no permission to read from '${abs}'`, 1); }
      }
      if (st.isDirectory() || st.isFile() || st.isSymbolicLink()) out.push({ rel, abs, st });
      if (st.isDirectory()) visit(rel);
    }
  };
  visit('');
  return out;
}

/** A Dockerfile sent with the context under a generated name, and the .dockerignore that hides it. */
export interface ExtraDockerfile { name: string; body: Buffer }

export function extraDockerfile(body: Buffer): ExtraDockerfile {
  return { name: `.dockerfile.${randomBytes(10).toString('hex')}`, body };
}

/** The updated .dockerignore when a generated Dockerfile is added (its name appended, as the docker CLI). */
function ignoreWith(original: Buffer | undefined, extra: ExtraDockerfile): Buffer {
  return Buffer.from(`${original ? original.toString('utf8') : '.dockerignore'}\n${extra.name}\n`);
}

/** Packs the walked entries as a tar stream (root-owned, hard links kept), file contents read as they are sent. */
export function packEntries(entries: Entry[], extra?: ExtraDockerfile): Readable {
  const pk = tar.pack();
  const put = (hd: tarTypes.Header, body?: Buffer) => new Promise<void>((resolve, reject) => {
    const cb = (err?: Error | null) => (err ? reject(err) : resolve());
    if (body) pk.entry(hd, body, cb); else pk.entry(hd, cb);
  });
  const run = async () => {
    const links = new Map<string, string>();
    let sawIgnore = false;
    for (const { rel, abs, st } of entries) {
      const base = { name: rel, uid: 0, gid: 0, mtime: st.mtime, mode: st.mode & 0o7777 } as tarTypes.Header;
      if (st.isDirectory()) { await put({ ...base, name: `${rel}/`, type: 'directory' }); continue; }
      if (st.isSymbolicLink()) { await put({ ...base, type: 'symlink', linkname: fs.readlinkSync(abs) }); continue; }
      if (extra && rel === '.dockerignore') {
        sawIgnore = true;
        const body = ignoreWith(fs.readFileSync(abs), extra);
        await put({ ...base, type: 'file', size: body.length }, body);
        continue;
      }
      const key = `${st.dev}:${st.ino}`;
      if (st.nlink > 1 && links.has(key)) { await put({ ...base, type: 'link', linkname: links.get(key)!, size: 0 }); continue; }
      if (st.nlink > 1) links.set(key, rel);
      await new Promise<void>((resolve, reject) => {
        const sink = pk.entry({ ...base, type: 'file', size: st.size }, (err?: Error | null) => (err ? reject(err) : resolve()));
        pipeline(fs.createReadStream(abs), sink as unknown as NodeJS.WritableStream).catch(reject);
      });
    }
    if (extra) {
      const now = new Date();
      if (!sawIgnore) { const b = ignoreWith(undefined, extra); await put({ name: '.dockerignore', type: 'file', mode: 0o600, mtime: now, size: b.length } as tarTypes.Header, b); }
      await put({ name: extra.name, type: 'file', mode: 0o600, mtime: now, size: extra.body.length } as tarTypes.Header, extra.body);
    }
    pk.finalize();
  };
  const out = new PassThrough({ highWaterMark: 1 << 20 });
  run().catch((err: Error) => out.destroy(err));
  pk.on('error', (err: Error) => out.destroy(err));
  pk.pipe(out);
  return out;
}

/** A local context dir → the tar stream and the Dockerfile's name in it. */
export function localContextTar(dir: string, dockerfile: string, stdinDockerfile: Buffer | undefined): { tar: Readable; dockerfile: string } {
  const { contextDir, relDockerfile } = localContext(dir, dockerfile);
  let extra: ExtraDockerfile | undefined;
  if (stdinDockerfile) extra = extraDockerfile(stdinDockerfile);
  else if (relDockerfile.startsWith(`..${path.sep}`) || relDockerfile === '..') {
    extra = extraDockerfile(fs.readFileSync(dockerfile));
  }
  const excludes = keepBuildFiles(readDockerignore(contextDir), relDockerfile.split(path.sep).join('/'), stdinDockerfile !== undefined);
  const entries = walkContext(contextDir, excludes);
  return { tar: packEntries(entries, extra), dockerfile: extra ? extra.name : relDockerfile };
}

/** Reads up to `n` bytes from the front of a stream and gives them back with a stream of the whole. */
export function peek(src: Readable, n: number): Promise<{ head: Buffer; whole: Readable }> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let len = 0;
    const finish = (ended: boolean) => {
      src.off('data', onData); src.off('end', onEnd); src.off('error', reject);
      src.pause();
      const head = Buffer.concat(chunks);
      const whole = new PassThrough();
      whole.write(head);
      if (ended) whole.end(); else src.pipe(whole);
      resolve({ head, whole });
    };
    const onData = (c: Buffer) => { chunks.push(c); len += c.length; if (len >= n) finish(false); };
    const onEnd = () => finish(true);
    src.on('data', onData); src.on('end', onEnd); src.on('error', reject);
  });
}

/** A tar or a compressed stream (gzip, bzip2, xz, zstd), as the docker CLI's isArchive. */
export function isArchive(head: Buffer): boolean {
  if (head.length >= 2 && head[0] === 0x1f && head[1] === 0x8b) return true;
  if (head.subarray(0, 3).toString('latin1') === 'BZh') return true;
  if (head.subarray(0, 6).equals(Buffer.from([0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00]))) return true;
  if (head.subarray(0, 4).equals(Buffer.from([0x28, 0xb5, 0x2f, 0xfd]))) return true;
  if (head.length < 512) return false;
  // a tar header: its checksum field must match the sum of the header bytes (the field counted as spaces)
  const field = head.subarray(148, 156).toString('latin1').replace(/[\0 ]+$/, '').trim();
  if (!/^[0-7]+$/.test(field)) return false;
  let sum = 0;
  for (let i = 0; i < 512; i++) sum += i >= 148 && i < 156 ? 32 : head[i]!;
  return sum === parseInt(field, 8);
}

/** A single-file tar holding a Dockerfile (a bare Dockerfile given as the context). */
function dockerfileTar(body: Buffer): Readable {
  const pk = tar.pack();
  pk.entry({ name: DEFAULT_DOCKERFILE, mode: 0o644, mtime: new Date(), size: body.length, type: 'file' }, body);
  pk.finalize();
  return pk as unknown as Readable;
}

/**
 * A context read from a stream (stdin or a download): a tar is sent as it comes; anything else is a
 * Dockerfile, packed alone (GetContextFromReader's rules and messages).
 */
export async function readerContext(src: Readable, dockerfile: string): Promise<{ tar: Readable; dockerfile: string }> {
  const { head, whole } = await peek(src, 1024);
  if (isArchive(head)) return { tar: whole, dockerfile };
  if (dockerfile === '-') throw new StatusError('build context is not an archive', 1);
  if (dockerfile) throw new StatusError('ambiguous Dockerfile source: both stdin and flag correspond to Dockerfiles', 1);
  const chunks: Buffer[] = [];
  for await (const c of whole) chunks.push(c as Buffer);
  return { tar: dockerfileTar(Buffer.concat(chunks)), dockerfile: DEFAULT_DOCKERFILE };
}

/**
 * Adds a Dockerfile from stdin to a tar context read from a URL (ReplaceFileTarWrapper): entries pass
 * through, .dockerignore gets the generated name, and the Dockerfile is appended.
 */
export function addDockerfileToTar(src: Readable, head: Buffer, body: Buffer): { tar: Readable; dockerfile: string } {
  const extra = extraDockerfile(body);
  const ex = tar.extract();
  const pk = tar.pack();
  const input = head[0] === 0x1f && head[1] === 0x8b ? src.pipe(zlib.createGunzip()) : src;
  const run = async () => {
    let sawIgnore = false;
    input.pipe(ex as unknown as NodeJS.WritableStream);
    for await (const e of ex) {
      const name = e.header.name.replace(/^\.?\/+/, '');
      if (name === '.dockerignore' && e.header.type === 'file') {
        sawIgnore = true;
        const chunks: Buffer[] = [];
        for await (const c of e) chunks.push(c as Buffer);
        const b = ignoreWith(Buffer.concat(chunks), extra);
        await new Promise<void>((res, rej) => pk.entry({ ...e.header, size: b.length }, b, (err) => (err ? rej(err) : res())));
        continue;
      }
      await new Promise<void>((res, rej) => {
        const sink = pk.entry(e.header, (err) => (err ? rej(err) : res()));
        pipeline(e, sink as unknown as NodeJS.WritableStream).catch(rej);
      });
    }
    const now = new Date();
    if (!sawIgnore) { const b = ignoreWith(undefined, extra); pk.entry({ name: '.dockerignore', mode: 0o600, mtime: now, size: b.length }, b); }
    pk.entry({ name: extra.name, mode: 0o600, mtime: now, size: extra.body.length }, extra.body);
    pk.finalize();
  };
  const out = new PassThrough({ highWaterMark: 1 << 20 });
  run().catch((err: Error) => out.destroy(err));
  pk.pipe(out);
  return { tar: out, dockerfile: extra.name };
}

/** The docker CLI's raw progress text: "  2.048kB" without a total, a bar with one. */
export function progressText(current: number, total: number): string {
  if (current <= 0 && total <= 0) return '';
  if (total <= 0) return humanSize(current).padStart(8);
  const pct = Math.min(Math.floor((current / total) * 100 / 2), 50);
  const bar = `[${'='.repeat(pct)}>${' '.repeat(Math.max(50 - pct, 0))}] `;
  const nums = current > total ? humanSize(current).padStart(8) : `${humanSize(current).padStart(8)}/${humanSize(total)}`;
  return bar + nums;
}

/**
 * Counts the bytes going through and reports as progress.NewProgressReader does: at most every 100 ms
 * and every 512 kB (1% of a known size), and once more at the end. `lastOnly` keeps only the final
 * line (the docker CLI's lastProgressOutput, used when stdout is not a terminal).
 */
export function progressCounter(action: string, total: number, write: (s: string) => void, lastOnly: boolean): Transform {
  let current = 0;
  let lastUpdate = 0;
  let lastAt = 0;
  const every = total > 0 ? Math.min(512 * 1024, Math.floor(total * 0.01)) : 512 * 1024;
  const line = (last: boolean) => {
    const text = progressText(current, total);
    write(`${action} ${text}${text === '' ? '\r\n' : '\r'}${last ? '\r\n' : ''}`);
  };
  return new Transform({
    transform(chunk: Buffer, _enc, cb) {
      current += chunk.length;
      if (current - lastUpdate > every && !lastOnly) {
        const now = Date.now();
        if (current === total || now - lastAt >= 100) { line(false); lastAt = now; }
        lastUpdate = current;
      }
      cb(null, chunk);
    },
    flush(cb) { line(true); cb(); },
  });
}
