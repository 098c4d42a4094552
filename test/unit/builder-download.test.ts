// ADD <URL>: the file name and --checksum rules (moby's getFilenameForDownload, go-digest's Parse).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { filenameForDownload, isHttpSource, parseChecksum } from '../../src/builder/download.js';

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
