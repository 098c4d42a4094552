import { InvalidParameterError } from '../errors.js';

/**
 * PAX extended headers (POSIX.1-2001 `pax` format) read as bytes.
 *
 * A PAX header body is a run of records `"<len> <key>=<value>\n"`, where <len> is the decimal
 * byte length of the whole record including itself and the newline. Keys are UTF-8; values are
 * raw bytes: `SCHILY.xattr.security.capability` carries binary vfs_cap_data, which any UTF-8
 * decoding (tar-stream's `header.pax`) mangles. So the bytes are parsed here, not by tar-stream.
 */

const SCHILY_XATTR = 'SCHILY.xattr.';
const LIBARCHIVE_XATTR = 'LIBARCHIVE.xattr.';
const BLOCK = 512;
/** Same bound tar-stream puts on a long header; a bigger one fails the archive there anyway. */
const MAX_PAX_BODY = 4 * 1024 * 1024;

function bad(msg: string): never {
  throw new InvalidParameterError(`invalid PAX header: ${msg}`);
}

/**
 * Parse a PAX header body into key → raw value bytes. Strict, like Go's archive/tar (what
 * Docker uses): a bad length, a record not ending in "\n", a missing "=", an empty key or a
 * NUL in a key is an error. A repeated key keeps the last value.
 */
export function parsePaxRecords(buf: Buffer): Map<string, Buffer> {
  const out = new Map<string, Buffer>();
  let off = 0;
  while (off < buf.length) {
    const sp = buf.indexOf(0x20, off);
    // 20 digits is more than any length that fits in a 4 MiB header.
    if (sp === -1 || sp === off || sp - off > 20) bad(`record at byte ${off} has no length`);
    const lenText = buf.toString('latin1', off, sp);
    if (!/^[0-9]+$/.test(lenText)) bad(`record at byte ${off} has a non-decimal length ${JSON.stringify(lenText)}`);
    const len = Number(lenText);
    const end = off + len;
    // The shortest legal record is "<len> k=\n": the length must cover more than its own digits and the space.
    if (len <= sp - off + 1 + 2 || end > buf.length) bad(`record at byte ${off} has length ${len}, ${buf.length - off} bytes left`);
    if (buf[end - 1] !== 0x0a) bad(`record at byte ${off} does not end with a newline`);
    const rel = buf.subarray(sp + 1, end - 1).indexOf(0x3d);
    if (rel === -1) bad(`record at byte ${off} has no "="`);
    const eq = sp + 1 + rel;
    if (eq === sp + 1) bad(`record at byte ${off} has an empty key`);
    const keyBytes = buf.subarray(sp + 1, eq);
    if (keyBytes.includes(0)) bad(`record at byte ${off} has a NUL in its key`);
    // A copy: the caller's buffer may be a pooled stream chunk.
    out.set(keyBytes.toString('utf8'), Buffer.from(buf.subarray(eq + 1, end - 1)));
    off = end;
  }
  return out;
}

/** Encode records as a PAX header body (the inverse of parsePaxRecords). */
export function encodePaxRecords(records: Iterable<readonly [string, Buffer | string]>): Buffer {
  const parts: Buffer[] = [];
  for (const [key, value] of records) {
    if (key === '' || key.includes('=') || key.includes('\0')) throw new InvalidParameterError(`invalid PAX key ${JSON.stringify(key)}`);
    const body = Buffer.concat([Buffer.from(` ${key}=`), Buffer.isBuffer(value) ? value : Buffer.from(value), Buffer.from('\n')]);
    // The length counts its own digits: grow it until it is stable.
    let len = body.length + 1;
    while (String(len).length + body.length !== len) len = String(len).length + body.length;
    parts.push(Buffer.from(String(len)), body);
  }
  return Buffer.concat(parts);
}

/**
 * The xattrs in a PAX record set, name → exact value bytes. `SCHILY.xattr.<name>` (raw value,
 * what GNU tar, Go and Docker write and read) wins; libarchive's own `LIBARCHIVE.xattr.<url-
 * encoded name>` (base64 value) fills in names bsdtar wrote only in its own form.
 */
export function paxXattrs(records: Map<string, Buffer>): Map<string, Buffer> {
  const out = new Map<string, Buffer>();
  for (const [k, v] of records) {
    if (k.startsWith(SCHILY_XATTR) && k.length > SCHILY_XATTR.length) out.set(k.slice(SCHILY_XATTR.length), v);
  }
  for (const [k, v] of records) {
    if (!k.startsWith(LIBARCHIVE_XATTR) || k.length === LIBARCHIVE_XATTR.length) continue;
    const name = urlDecode(k.slice(LIBARCHIVE_XATTR.length));
    if (!out.has(name)) out.set(name, Buffer.from(v.toString('latin1'), 'base64'));
  }
  return out;
}

function urlDecode(s: string): string {
  return Buffer.from(s.replace(/%([0-9A-Fa-f]{2})/g, (_m, h: string) => String.fromCharCode(parseInt(h, 16))), 'latin1').toString('utf8');
}

const ZERO_BLOCK = Buffer.alloc(BLOCK);

function headerChecksumOk(h: Buffer): { zero: boolean; ok: boolean } {
  // Zero padding can run to gigabytes (L17): a native compare keeps it cheap.
  if (h.equals(ZERO_BLOCK)) return { zero: true, ok: true };
  let sum = 8 * 0x20;
  for (let i = 0; i < BLOCK; i++) if (i < 148 || i >= 156) sum += h[i]!;
  if (sum === 8 * 0x20) return { zero: true, ok: true };
  return { zero: false, ok: sum === decodeNumeric(h, 148, 8) };
}

/** A tar numeric field: octal text, or base-256 when the high bit of the first byte is set. */
function decodeNumeric(h: Buffer, off: number, len: number): number {
  if (h[off]! & 0x80) {
    let v = BigInt(h[off]! & 0x7f);
    for (let i = off + 1; i < off + len; i++) v = (v << 8n) | BigInt(h[i]!);
    return Number(v);
  }
  const t = h.toString('latin1', off, off + len).replace(/[\0 ]+$/, '').replace(/^[\0 ]+/, '');
  if (t === '') return 0;
  return /^[0-7]+$/.test(t) ? parseInt(t, 8) : NaN;
}

/**
 * Follows the block framing of a tar byte stream (fed in order, in any chunking) and keeps the
 * raw PAX records of every entry that carries xattrs, keyed by the stream offset of that
 * entry's data, which is tar-stream's `header.byteOffset`. It frames exactly as tar-stream
 * does (a pax `size` record overrides the header size; directories have no data), so both
 * agree on where each entry starts. Global headers ('g') are ignored, as Docker ignores them.
 * Memory is bounded: one header block, one PAX body of at most 4 MiB, and the records of
 * entries not yet taken. Framing errors are left to tar-stream: the scanner just stops.
 */
export class TarPaxScanner {
  private pos = 0;
  private phase: 'header' | 'pax' | 'skip' | 'stopped' = 'header';
  private need = BLOCK;
  private parts: Buffer[] = [];
  private pending: Map<string, Buffer> | null = null;
  private padAfter = 0;
  private readonly byOffset = new Map<number, Map<string, Buffer>>();

  /** Feed the next bytes of the tar. Throws InvalidParameterError for a malformed PAX header. */
  feed(chunk: Buffer): void {
    let off = 0;
    while (off < chunk.length && this.phase !== 'stopped') {
      const n = Math.min(this.need, chunk.length - off);
      if (this.phase !== 'skip') this.parts.push(chunk.subarray(off, off + n));
      off += n;
      this.pos += n;
      this.need -= n;
      if (this.need > 0) break;
      if (this.phase === 'skip') { this.expectHeader(); continue; }
      const whole = this.parts.length === 1 ? this.parts[0]! : Buffer.concat(this.parts);
      this.parts = [];
      if (this.phase === 'header') this.onHeader(whole);
      else this.onPax(whole);
    }
  }

  /** Xattrs (name → exact bytes) of the entry whose data starts at `byteOffset`, once. */
  take(byteOffset: number): Map<string, Buffer> | undefined {
    const x = this.byOffset.get(byteOffset);
    // Entries are consumed in order: anything before this one was skipped by the reader.
    for (const k of this.byOffset.keys()) if (k <= byteOffset) this.byOffset.delete(k);
    return x;
  }

  private expectHeader(): void {
    this.phase = 'header';
    this.need = BLOCK;
  }

  private skip(n: number): void {
    if (n === 0) { this.expectHeader(); return; }
    this.phase = 'skip';
    this.need = n;
  }

  private onHeader(h: Buffer): void {
    const { zero, ok } = headerChecksumOk(h);
    if (zero) { this.expectHeader(); return; }
    const size = decodeNumeric(h, 124, 12);
    if (!ok || !(size >= 0)) { this.phase = 'stopped'; return; }
    const pad = (BLOCK - (size % BLOCK)) % BLOCK;
    const flag = h[156]!;
    if (flag === 0x78 /* x */) {
      if (size > MAX_PAX_BODY) { this.phase = 'stopped'; return; }
      if (size === 0) { this.pending = new Map(); this.expectHeader(); return; }
      this.phase = 'pax';
      this.need = size;
      this.padAfter = pad;
      return;
    }
    if (flag === 0x67 /* g */ || flag === 0x4c /* L */ || flag === 0x4b /* K */) {
      this.skip(size + pad);
      return;
    }
    // A real entry: its data starts here.
    const records = this.pending;
    this.pending = null;
    let dataSize = size;
    const paxSize = records?.get('size');
    if (paxSize && paxSize.length) dataSize = parseInt(paxSize.toString('latin1'), 10);
    if (!(dataSize >= 0)) { this.phase = 'stopped'; return; }
    const nameEnd = h.indexOf(0, 0);
    const lastNameByte = h[(nameEnd === -1 || nameEnd > 100 ? 100 : nameEnd) - 1];
    if (flag === 0x35 /* 5 */ || ((flag === 0 || flag === 0x30) && lastNameByte === 0x2f)) dataSize = 0;
    if (records) {
      const x = paxXattrs(records);
      if (x.size) this.byOffset.set(this.pos, x);
    }
    this.skip(dataSize + ((BLOCK - (dataSize % BLOCK)) % BLOCK));
  }

  private onPax(body: Buffer): void {
    this.pending = parsePaxRecords(body);
    this.skip(this.padAfter);
  }
}
