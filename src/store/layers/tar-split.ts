import { createHash } from 'node:crypto';
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import zlib from 'node:zlib';
import { SystemError } from '../../errors.js';
import { packUpper, type PackOptions, type UpperLayerSys } from './upper-layer.js';

/**
 * A layer tar kept as its skeleton (Docker's tar-split): every byte of the tar that is not a regular file's
 * body (headers, PAX records, padding, the end blocks), and for each body the layer file that holds it. With
 * the layer dir it gives the tar back byte for byte, so a committed layer needs no second copy of its files
 * as a tar blob: push and save make the tar from the split when they need it (tarFromSplit), and the sha256
 * of what comes out is checked against the diffID recorded at commit.
 *
 * Stored gzipped as JSON: {"v":1,"diffId","size","segments":[{"raw":base64} | {"file":name,"size":n}]}.
 */
export interface TarSplit {
  v: 1;
  /** sha256 of the whole tar: the layer's diffID. */
  diffId: string;
  /** Bytes of the whole tar. */
  size: number;
  segments: TarSplitSegment[];
}

export type TarSplitSegment = { raw: string } | { file: string; size: number };

const BLOCK = 512;
const CHUNK = 1 << 20;
const OPEN_LAYER_FILE = fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW | fs.constants.O_NONBLOCK;

/** A tar header's size field: octal text, or base-256 when its first byte has the high bit (GNU, > 8 GiB). */
export function headerSize(h: Buffer): number {
  if (h[124]! & 0x80) {
    let n = 0;
    for (let i = 125; i < 136; i++) n = n * 256 + h[i]!;
    return n;
  }
  const text = h.toString('latin1', 124, 136).replace(/\0.*$/s, '').trim();
  return text ? parseInt(text, 8) : 0;
}

/** Regular file ('0', NUL, contiguous '7'): the entries whose bodies are layer files. */
function isRegular(h: Buffer): boolean {
  const t = h[156];
  return t === 0x30 || t === 0 || t === 0x37;
}

/**
 * Takes a tar stream (packUpper's) and keeps its skeleton: hashes every byte, keeps the bytes that are not
 * file bodies, and names each body by the file `files` lists for it, in order (packUpper's onFile).
 */
export class TarSplitRecorder extends Writable {
  private readonly hash = createHash('sha256');
  private readonly segments: TarSplitSegment[] = [];
  private raw: Buffer[] = [];
  private head: Buffer[] = [];
  private headLen = 0;
  private body = 0;
  private inFile = false;
  private pad = 0;
  private size = 0;

  constructor(private readonly files: { name: string; size: number }[]) { super({ highWaterMark: CHUNK }); }

  override _write(chunk: Buffer, _enc: BufferEncoding, cb: (err?: Error | null) => void): void {
    this.hash.update(chunk);
    this.size += chunk.length;
    let off = 0;
    while (off < chunk.length) {
      if (this.body > 0) {
        const n = Math.min(this.body, chunk.length - off);
        if (!this.inFile) this.raw.push(Buffer.from(chunk.subarray(off, off + n)));
        this.body -= n;
        off += n;
        continue;
      }
      if (this.pad > 0) {
        const n = Math.min(this.pad, chunk.length - off);
        this.raw.push(Buffer.from(chunk.subarray(off, off + n)));
        this.pad -= n;
        off += n;
        continue;
      }
      const part = chunk.subarray(off, off + BLOCK - this.headLen);
      this.head.push(Buffer.from(part));
      this.headLen += part.length;
      off += part.length;
      if (this.headLen < BLOCK) break;
      const h = Buffer.concat(this.head);
      this.head = [];
      this.headLen = 0;
      this.raw.push(h);
      const size = headerSize(h);
      this.inFile = size > 0 && isRegular(h);
      if (this.inFile) {
        const f = this.files.shift();
        if (!f || f.size !== size) {
          cb(new SystemError(`tar-split: a ${size}-byte file body in the layer tar was not announced (${f ? `${f.name}: ${f.size}` : 'none'})`));
          return;
        }
        this.flushRaw();
        this.segments.push({ file: f.name, size });
      }
      this.body = size;
      this.pad = (BLOCK - (size % BLOCK)) % BLOCK;
    }
    cb();
  }

  private flushRaw(): void {
    if (this.raw.length) this.segments.push({ raw: Buffer.concat(this.raw).toString('base64') });
    this.raw = [];
  }

  /** The split of everything written; call after the stream finished. */
  result(): TarSplit {
    if (this.body > 0 || this.pad > 0 || this.headLen > 0) throw new SystemError('tar-split: the layer tar ended inside an entry');
    this.flushRaw();
    return { v: 1, diffId: `sha256:${this.hash.digest('hex')}`, size: this.size, segments: this.segments };
  }
}

/**
 * packUpper of an upper dir with `mirror` making the layer dir (UpperMirror), recorded as a tar-split: the
 * tar's digest and size, its bodies left in the layer dir.
 */
export async function splitOfUpper(upper: string, opts: { sys: UpperLayerSys; lowers: readonly string[]; mirror: NonNullable<PackOptions['mirror']> }): Promise<TarSplit> {
  const files: { name: string; size: number }[] = [];
  const rec = new TarSplitRecorder(files);
  await pipeline(packUpper(upper, { ...opts, onFile: (name, size) => files.push({ name, size }) }), rec);
  return rec.result();
}

export function encodeTarSplit(split: TarSplit): Buffer {
  return zlib.gzipSync(JSON.stringify(split), { level: 1 });
}

export async function readTarSplit(file: string): Promise<TarSplit> {
  const doc = JSON.parse(zlib.gunzipSync(await fsp.readFile(file)).toString('utf8')) as TarSplit;
  if (doc?.v !== 1 || typeof doc.diffId !== 'string' || !Array.isArray(doc.segments)) throw new SystemError(`${file}: not a tar-split this berth reads`);
  return doc;
}

/**
 * The layer tar again, from a tar-split file and the layer dir it names files in. The sha256 of what came out
 * is checked at the end: a layer dir that no longer gives the recorded tar fails the stream instead of
 * handing out a tar whose digest is not its diffID.
 */
export function tarFromSplit(splitFile: string, dir: string): Readable {
  async function* bytes(): AsyncGenerator<Buffer> {
    const split = await readTarSplit(splitFile);
    const hash = createHash('sha256');
    for (const seg of split.segments) {
      if ('raw' in seg) {
        const b = Buffer.from(seg.raw, 'base64');
        hash.update(b);
        yield b;
        continue;
      }
      const fh = await fsp.open(path.join(dir, seg.file), OPEN_LAYER_FILE);
      try {
        const st = await fh.stat();
        if (!st.isFile() || st.size !== seg.size) throw new SystemError(`layer ${split.diffId}: ${seg.file} is no longer the file recorded at commit`);
        let pos = 0;
        while (pos < seg.size) {
          const buf = Buffer.allocUnsafe(Math.min(CHUNK, seg.size - pos));
          const { bytesRead } = await fh.read(buf, 0, buf.length, pos);
          if (bytesRead === 0) throw new SystemError(`layer ${split.diffId}: ${seg.file} is shorter than recorded at commit`);
          const b = buf.subarray(0, bytesRead);
          hash.update(b);
          pos += bytesRead;
          yield b;
        }
      } finally {
        await fh.close();
      }
    }
    const got = `sha256:${hash.digest('hex')}`;
    if (got !== split.diffId) throw new SystemError(`layer ${split.diffId}: its files give a tar of digest ${got}, not the one recorded at commit`);
  }
  return Readable.from(bytes(), { objectMode: false });
}
