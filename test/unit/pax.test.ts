import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import tar from 'tar-stream';
import { encodePaxRecords, parsePaxRecords, paxXattrs, TarPaxScanner } from '../../src/core/pax.js';
import { InvalidParameterError } from '../../src/errors.js';
import { retypePaxMarkers } from '../helpers/tar.js';

/** vfs_cap_data v2 for cap_net_raw+ep (Debian's ping): magic 0x02000000|EFFECTIVE, permitted bit 13, rest 0. */
const CAP_NET_RAW_EP = Buffer.from('0100000200200000000000000000000000000000', 'hex');
/** cap_setuid+ep (Debian's newuidmap): permitted bit 7 is a lone 0x80 byte, invalid UTF-8. */
const CAP_SETUID_EP = Buffer.from('0100000280000000000000000000000000000000', 'hex');

test('parsePaxRecords: a hand-written body, lengths of 1, 2 and 3 digits', () => {
  const body = Buffer.from('30 mtime=1350244992.023960108\n' + '8 a=bcd\n' + `110 path=${'p'.repeat(100)}\n` + '5 k=\n');
  const m = parsePaxRecords(body);
  assert.deepEqual([...m.keys()], ['mtime', 'a', 'path', 'k']);
  assert.equal(m.get('mtime')!.toString(), '1350244992.023960108');
  assert.equal(m.get('a')!.toString(), 'bcd');
  assert.equal(m.get('path')!.toString(), 'p'.repeat(100));
  assert.equal(m.get('k')!.length, 0);
});

test('parsePaxRecords: binary values with newline, NUL and invalid UTF-8 come back byte for byte', () => {
  const nasty = Buffer.from([0x0a, 0x00, 0xff, 0xfe, 0xc3, 0x3d, 0x20, 0x0a, 0x80]);
  // Built by hand: " SCHILY.xattr.user.b=" is 21 bytes, value 9, newline 1 → 31 + "33" = 33.
  const rec = Buffer.concat([Buffer.from('33 SCHILY.xattr.user.b='), nasty, Buffer.from('\n')]);
  assert.equal(rec.length, 33);
  const capRec = Buffer.concat([Buffer.from('57 SCHILY.xattr.security.capability='), CAP_NET_RAW_EP, Buffer.from('\n')]);
  assert.equal(capRec.length, 57);
  const m = parsePaxRecords(Buffer.concat([rec, capRec]));
  assert.deepEqual(m.get('SCHILY.xattr.user.b'), nasty);
  assert.deepEqual(m.get('SCHILY.xattr.security.capability'), CAP_NET_RAW_EP);
  const setuid = parsePaxRecords(encodePaxRecords([['v', CAP_SETUID_EP]])).get('v');
  assert.deepEqual(setuid, CAP_SETUID_EP);
  // What a UTF-8 decode (tar-stream's header.pax) does to it instead:
  assert.notDeepEqual(Buffer.from(CAP_SETUID_EP.toString('utf8'), 'utf8'), CAP_SETUID_EP);
});

test('encodePaxRecords round-trips and gets the self-counting length right at digit boundaries', () => {
  for (let n = 0; n < 1100; n += 1) {
    const value = Buffer.alloc(n, 0x0a);
    const enc = encodePaxRecords([['k', value]]);
    const len = Number(enc.subarray(0, enc.indexOf(0x20)).toString());
    assert.equal(len, enc.length, `value of ${n} bytes`);
    assert.deepEqual(parsePaxRecords(enc).get('k'), value);
  }
  const recs = new Map<string, Buffer>([['SCHILY.xattr.security.capability', CAP_NET_RAW_EP], ['path', Buffer.from('ä/ö')]]);
  assert.deepEqual(parsePaxRecords(encodePaxRecords(recs)), recs);
  assert.throws(() => encodePaxRecords([['a=b', 'x']]), InvalidParameterError);
});

test('parsePaxRecords: a repeated key keeps the last value', () => {
  assert.equal(parsePaxRecords(Buffer.from('6 a=1\n6 a=2\n')).get('a')!.toString(), '2');
});

test('parsePaxRecords: malformed records are clear errors', () => {
  const cases: [string, Buffer, RegExp][] = [
    ['non-decimal length', Buffer.from('x9 a=bc\n'), /non-decimal length/],
    ['signed length', Buffer.from('+8 a=bc\n'), /non-decimal length/],
    ['no space', Buffer.from('8a=bcde\n'), /no length|non-decimal/],
    ['length past the end', Buffer.from('20 a=b\n'), /length 20, 7 bytes left/],
    ['length too short', Buffer.from('3 a=b\n'), /length 3/],
    ['zero length', Buffer.from('0 a=b\n'), /length 0/],
    ['no newline at the end', Buffer.from('7 a=bcd'), /does not end with a newline/],
    ['no "="', Buffer.from('7 abcd\n'), /no "="/],
    ['empty key', Buffer.from('7 =bcd\n'), /empty key/],
    ['NUL in key', Buffer.from('8 a\0b=c\n'), /NUL in its key/],
    ['trailing garbage', Buffer.from('6 a=b\nzz'), /record at byte 6/],
    ['trailing NUL padding', Buffer.from('6 a=b\n\0\0\0'), /record at byte 6/],
  ];
  for (const [what, buf, re] of cases) {
    assert.throws(() => parsePaxRecords(buf), (e: unknown) => e instanceof InvalidParameterError && /invalid PAX header/.test(e.message) && re.test(e.message), what);
  }
  assert.equal(parsePaxRecords(Buffer.alloc(0)).size, 0);
});

test('paxXattrs: SCHILY names are stripped; LIBARCHIVE names are url-decoded, values base64, SCHILY wins', () => {
  const x = paxXattrs(new Map([
    ['path', Buffer.from('x')],
    ['SCHILY.xattr.user.a', Buffer.from([0, 1, 2])],
    ['SCHILY.xattr.', Buffer.from('no name')],
    ['LIBARCHIVE.xattr.user.a', Buffer.from(Buffer.from('loser').toString('base64'))],
    ['LIBARCHIVE.xattr.user.with%20space%3D', Buffer.from(CAP_NET_RAW_EP.toString('base64'))],
  ]));
  assert.deepEqual([...x.keys()].sort(), ['user.a', 'user.with space=']);
  assert.deepEqual(x.get('user.a'), Buffer.from([0, 1, 2]));
  assert.deepEqual(x.get('user.with space='), CAP_NET_RAW_EP);
});

type Ent = { header: Partial<tar.Header> & { name: string }; body?: Buffer | string };


async function pack(entries: Ent[]): Promise<Buffer> {
  const p = tar.pack();
  const chunks: Buffer[] = [];
  const done = new Promise<void>((resolve, reject) => {
    p.on('data', (c: unknown) => { chunks.push(c as Buffer); });
    p.on('end', resolve);
    p.on('error', reject);
  });
  for (const e of entries) {
    await new Promise<void>((resolve, reject) => p.entry({ mode: 0o644, ...e.header } as tar.Header, e.body ?? '', (err) => (err ? reject(err) : resolve())));
  }
  p.finalize();
  await done;
  return retypePaxMarkers(Buffer.concat(chunks));
}

/** A raw per-entry PAX header: tar-stream's pack can only write string values. */
function paxHeader(records: [string, Buffer | string][], global = false): Ent {
  return { header: { name: global ? 'GlobalHead/g' : 'PaxHeader/x' }, body: encodePaxRecords(records) };
}

/** Every entry tar-stream reports, with its byteOffset. */
async function tarStreamEntries(buf: Buffer): Promise<{ name: string; byteOffset: number }[]> {
  const ex = tar.extract();
  Readable.from([buf]).pipe(ex);
  const out: { name: string; byteOffset: number }[] = [];
  for await (const e of ex) {
    out.push({ name: e.header.name, byteOffset: (e.header as unknown as { byteOffset: number }).byteOffset });
    e.resume();
  }
  return out;
}

function scan(buf: Buffer, chunk: number): TarPaxScanner {
  const s = new TarPaxScanner();
  for (let i = 0; i < buf.length; i += chunk) s.feed(buf.subarray(i, i + chunk));
  return s;
}

test('TarPaxScanner: finds each entry\'s xattrs at tar-stream\'s byteOffset, in any chunking', async () => {
  const userX = Buffer.from([0x0a, 0x00, 0xff]);
  const buf = await pack([
    { header: { name: 'dir', type: 'directory' } },
    { header: { name: 'a', type: 'file' }, body: 'x'.repeat(700) },
    paxHeader([['SCHILY.xattr.security.capability', CAP_NET_RAW_EP], ['SCHILY.xattr.user.x', userX]]),
    { header: { name: 'bin/ping', type: 'file' }, body: Buffer.alloc(1500, 7) },
    { header: { name: `long/${'n'.repeat(150)}/file`, type: 'file' }, body: 'long name via tar-stream pax path' },
    paxHeader([['SCHILY.xattr.user.global', 'ignored, as Docker does']], true),
    paxHeader([['SCHILY.xattr.user.d', 'dir-value']]),
    { header: { name: 'dir2', type: 'directory' } },
    paxHeader([['SCHILY.xattr.user.l', 'on a symlink']]),
    { header: { name: 'sym', type: 'symlink', linkname: 'bin/ping' } },
    { header: { name: 'last', type: 'file' }, body: 'z' },
  ]);
  const entries = await tarStreamEntries(buf);
  const at = (n: string) => entries.find((e) => e.name === n)!.byteOffset;
  for (const chunk of [1, 7, 512, 513, buf.length]) {
    const s = scan(buf, chunk);
    assert.equal(s.take(at('dir')), undefined);
    assert.equal(s.take(at('a')), undefined);
    const ping = s.take(at('bin/ping'))!;
    assert.deepEqual(ping.get('security.capability'), CAP_NET_RAW_EP, `chunk ${chunk}`);
    assert.deepEqual(ping.get('user.x'), userX);
    assert.equal(s.take(at('bin/ping')), undefined, 'taken once');
    assert.equal(s.take(at(`long/${'n'.repeat(150)}/file`)), undefined);
    assert.deepEqual(s.take(at('dir2'))?.get('user.d'), Buffer.from('dir-value'));
    assert.deepEqual(s.take(at('sym'))?.get('user.l'), Buffer.from('on a symlink'));
    assert.equal(s.take(at('last')), undefined);
  }
});

test('TarPaxScanner: a pax size record overrides the header size, as tar-stream frames it', async () => {
  const buf = await pack([
    paxHeader([['size', '600'], ['SCHILY.xattr.user.a', 'A']]),
    { header: { name: 'big', type: 'file' }, body: 'b'.repeat(600) },
    paxHeader([['SCHILY.xattr.user.b', 'B']]),
    { header: { name: 'next', type: 'file' }, body: 'n' },
  ]);
  // Zero the ustar size of "big" (header block 3: pax header + body, then this) and fix its checksum.
  const h = buf.subarray(1024, 1536);
  assert.equal(h.toString('latin1', 0, 3), 'big');
  h.write('00000000000\0', 124, 'latin1');
  h.fill(0x20, 148, 156);
  let sum = 0;
  for (const b of h) sum += b;
  h.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148, 'latin1');
  const entries = await tarStreamEntries(buf);
  assert.deepEqual(entries.map((e) => e.name), ['big', 'next']);
  const s = scan(buf, 100);
  assert.deepEqual(s.take(entries[0]!.byteOffset)?.get('user.a'), Buffer.from('A'));
  assert.deepEqual(s.take(entries[1]!.byteOffset)?.get('user.b'), Buffer.from('B'));
});

test('TarPaxScanner: a malformed PAX body throws InvalidParameterError from feed', async () => {
  const body = Buffer.from('99 SCHILY.xattr.user.a=b\n');
  const buf = await pack([{ header: { name: 'PaxHeader/x' }, body }, { header: { name: 'f' }, body: 'x' }]);
  assert.throws(() => scan(buf, 64), (e: unknown) => e instanceof InvalidParameterError && /invalid PAX header/.test(e.message));
});
