import { Readable } from 'node:stream';
import zlib from 'node:zlib';
import type * as zstdBinding from 'zstd-napi/binding.js';
import { requireCjs } from '../../sys/cjs.js';
import { InvalidParameterError } from '../../errors.js';

/**
 * Layer streams by their magic bytes (moby's archive.DecompressStream): plain tar, gzip and zstd are
 * unpacked; bzip2 and xz are recognised and refused. Decompression is streamed with backpressure: output
 * is produced only as fast as it is read, so a bomb (a small blob that inflates without bound) never
 * inflates in memory; the disk-space guard in tar-apply.ts is what stops it.
 */
export type Compression = 'none' | 'gzip' | 'bzip2' | 'xz' | 'zstd';
export type LayerCompressionKind = 'none' | 'gzip' | 'zstd';

// Loaded on first use: berthd's other paths never pay for the native module.
let zstd: typeof zstdBinding | undefined;
const zstdModule = () => (zstd ??= requireCjs('zstd-napi/binding') as typeof zstdBinding);

/** zstd's recommended output size per call (ZSTD_DStreamOutSize: one 128 KiB block). */
const ZSTD_OUT = 128 * 1024;

export function detectCompression(head: Buffer): Compression {
  if (head.length >= 2 && head[0] === 0x1f && head[1] === 0x8b) return 'gzip';
  if (head.length >= 3 && head[0] === 0x42 && head[1] === 0x5a && head[2] === 0x68) return 'bzip2';
  if (head.length >= 6 && head.subarray(0, 6).equals(Buffer.from([0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00]))) return 'xz';
  if (head.length >= 4 && head.readUInt32LE(0) === 0xfd2fb528) return 'zstd';
  return 'none';
}

/** Peek the first bytes of a stream without losing them; returns the head and a stream that replays everything. */
async function peek(input: Readable, n: number): Promise<{ head: Buffer; stream: Readable }> {
  const it = input[Symbol.asyncIterator]() as AsyncIterator<Buffer>;
  const chunks: Buffer[] = [];
  let have = 0;
  let ended = false;
  while (have < n) {
    const r = await it.next();
    if (r.done) { ended = true; break; }
    const b = Buffer.isBuffer(r.value) ? r.value : Buffer.from(r.value as Uint8Array);
    chunks.push(b);
    have += b.length;
  }
  const head = Buffer.concat(chunks);
  async function* replay(): AsyncGenerator<Buffer> {
    if (head.length) yield head;
    if (ended) return;
    for (;;) {
      const r = await it.next();
      if (r.done) return;
      yield Buffer.isBuffer(r.value) ? r.value : Buffer.from(r.value as Uint8Array);
    }
  }
  const stream = Readable.from(replay(), { objectMode: false });
  // Destroying the replay must stop the source too (client aborts, failed applies).
  stream.on('close', () => { if (!input.destroyed && !input.readableEnded) input.destroy(); });
  return { head: head.subarray(0, n), stream };
}

/** A zstd stream's error: the layer's fault (corrupt or truncated data), not the host's. */
export class ZstdFormatError extends InvalidParameterError {}

/**
 * zstd frames (one or more, as zstd(1) and containers/image write them) decompressed 128 KiB at a time; the
 * generator is pulled by its reader, so nothing is produced ahead of the consumer.
 */
async function* unzstd(src: AsyncIterable<Buffer>): AsyncGenerator<Buffer> {
  const dctx = new (zstdModule().DCtx)();
  const none = Buffer.alloc(0);
  let inFrame = false;
  const step = (input: Buffer): { out: Buffer; consumed: number; full: boolean } => {
    const out = Buffer.allocUnsafe(ZSTD_OUT);
    let ret: number; let produced: number; let consumed: number;
    try { [ret, produced, consumed] = dctx.decompressStream(out, input); } catch (err) {
      throw new ZstdFormatError(`invalid zstd layer stream: ${(err as Error).message}`, { cause: err });
    }
    inFrame = ret !== 0;
    return { out: out.subarray(0, produced), consumed, full: produced === out.length };
  };
  for await (const chunk of src) {
    let input = chunk;
    let full = false;
    while (input.length > 0) {
      const r = step(input);
      input = input.subarray(r.consumed);
      full = r.full;
      if (r.out.length) yield r.out;
    }
    // A full output buffer may leave decoded bytes inside the decoder: drain them before reading on.
    while (full) {
      const r = step(none);
      full = r.full;
      if (r.out.length) yield r.out;
    }
  }
  if (inFrame) throw new ZstdFormatError('invalid zstd layer stream: unexpected end of data (truncated frame)');
}

/** Decompress by magic: plain tar, gzip and zstd are supported; other formats are refused clearly. */
export async function decompressStream(input: Readable): Promise<{ stream: Readable; compression: LayerCompressionKind }> {
  const { head, stream } = await peek(input, 6);
  const kind = detectCompression(head);
  if (kind === 'none') return { stream, compression: 'none' };
  if (kind === 'gzip') {
    const gunzip = zlib.createGunzip();
    stream.on('error', (e) => gunzip.destroy(e));
    gunzip.on('close', () => stream.destroy());
    return { stream: stream.pipe(gunzip), compression: 'gzip' };
  }
  if (kind === 'zstd') {
    const out = Readable.from(unzstd(stream), { objectMode: false });
    out.on('close', () => stream.destroy());
    return { stream: out, compression: 'zstd' };
  }
  stream.destroy();
  throw new InvalidParameterError(`unsupported layer compression: ${kind} (plain tar, gzip and zstd are supported)`);
}

/** The compression of a blob from its first bytes, for a media type to push it under. */
export function blobCompression(head: Buffer): LayerCompressionKind {
  const k = detectCompression(head);
  return k === 'gzip' || k === 'zstd' ? k : 'none';
}
