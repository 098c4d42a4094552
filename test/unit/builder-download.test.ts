// ADD <URL>: the file name and --checksum rules (moby's getFilenameForDownload, go-digest's Parse).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { filenameForDownload, isHttpSource, parseChecksum, progressGate } from '../../src/builder/download.js';

test('the file name comes from the URL path, else from Content-Disposition', () => {
  assert.equal(filenameForDownload('/a/b/file.tar.gz', 'attachment; filename="other.txt"'), 'file.tar.gz');
  assert.equal(filenameForDownload('/dir/', 'attachment; filename="other.txt"'), 'other.txt');
  assert.equal(filenameForDownload('/', 'attachment; filename=plain.bin'), 'plain.bin');
  assert.equal(filenameForDownload('/x/%20sp%C3%A9.txt', null), ' spé.txt');
  assert.equal(filenameForDownload('/', 'attachment; filename="../../etc/x"'), 'x', 'a path in the header is reduced to its base');
  assert.equal(filenameForDownload('/', null), '');
  assert.equal(filenameForDownload('', 'inline'), '');
});

test('--checksum takes alg:hex with go-digest\'s checks', () => {
  const hex = 'a'.repeat(64);
  assert.deepEqual(parseChecksum(`sha256:${hex}`), { alg: 'sha256', hex });
  assert.throws(() => parseChecksum(hex), { message: 'invalid checksum digest format' });
  assert.throws(() => parseChecksum('md5:abc'), { message: 'unsupported digest algorithm' });
  assert.throws(() => parseChecksum('sha256:abc'), { message: 'invalid checksum digest length' });
  assert.throws(() => parseChecksum(`sha256:${'A'.repeat(64)}`), { message: 'invalid checksum digest length' });
});

test('only http and https URLs are downloaded', () => {
  assert.ok(isHttpSource('http://x/y') && isHttpSource('HTTPS://x/y'));
  assert.ok(!isHttpSource('git://x/y') && !isHttpSource('./http://x') && !isHttpSource('file.txt'));
});

test('progress lines follow moby\'s progress.Reader: every 1% (at most 512 kB), at most every 100 ms, always the last', () => {
  let t = 0;
  const gate = progressGate(1_000_000, () => t);
  assert.equal(gate(5_000, false), false, 'under 1% of the length');
  assert.equal(gate(20_000, false), true);
  assert.equal(gate(40_000, false), false, 'within 100 ms of the last line');
  t = 150;
  assert.equal(gate(60_000, false), true);
  assert.equal(gate(1_000_000, false), true, 'the whole length is never held back');
  assert.equal(gate(1_000_000, true), true, 'nor is the last');
  const unknown = progressGate(undefined, () => t);
  assert.equal(unknown(500_000, false), false, 'no length: every 512 kB');
  assert.equal(unknown(600_000, false), true);
});
