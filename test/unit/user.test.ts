import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { resolveInRoot, resolveUser } from '../../src/store/rootfs-files.js';
import { InvalidParameterError } from '../../src/errors.js';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-user-'));
after(() => fs.rmSync(tmp, { recursive: true, force: true }));

function rootfs(name: string, files: Record<string, string>): string {
  const r = path.join(tmp, name);
  for (const [p, content] of Object.entries(files)) {
    fs.mkdirSync(path.dirname(path.join(r, p)), { recursive: true });
    fs.writeFileSync(path.join(r, p), content);
  }
  fs.mkdirSync(r, { recursive: true });
  return r;
}

const PASSWD = [
  'root:x:0:0:root:/root:/bin/sh',
  '# comment',
  'daemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin',
  'alice:x:1000:1000:Alice:/home/alice:/bin/sh',
  'bad:x:notanumber:0::/:',
  '',
].join('\n');
const GROUP = [
  'root:x:0:',
  'wheel:x:10:alice,bob',
  'alice:x:1000:',
  'docker:x:999:alice',
  'staff:x:50:bob',
].join('\n');

const std = rootfs('std', { 'etc/passwd': PASSWD, 'etc/group': GROUP });

test('empty user is root with home from passwd', async () => {
  assert.deepEqual(await resolveUser(std, undefined), { uid: 0, gid: 0, additionalGids: [], home: '/root' });
  assert.deepEqual(await resolveUser(std, ''), { uid: 0, gid: 0, additionalGids: [], home: '/root' });
});

test('by name: uid, primary gid, supplementary groups listing the user', async () => {
  assert.deepEqual(await resolveUser(std, 'alice'), { uid: 1000, gid: 1000, additionalGids: [10, 999], home: '/home/alice' });
});

test('numeric uid: from passwd when present, bare otherwise', async () => {
  assert.deepEqual(await resolveUser(std, '1000'), { uid: 1000, gid: 1000, additionalGids: [10, 999], home: '/home/alice' });
  assert.deepEqual(await resolveUser(std, '4242'), { uid: 4242, gid: 0, additionalGids: [], home: '/' });
});

test('user:group forms; explicit group drops supplementary groups', async () => {
  assert.deepEqual(await resolveUser(std, 'alice:staff'), { uid: 1000, gid: 50, additionalGids: [], home: '/home/alice' });
  assert.deepEqual(await resolveUser(std, 'alice:777'), { uid: 1000, gid: 777, additionalGids: [], home: '/home/alice' });
  assert.deepEqual(await resolveUser(std, '1:10'), { uid: 1, gid: 10, additionalGids: [], home: '/usr/sbin' });
  assert.deepEqual(await resolveUser(std, '5000:6000'), { uid: 5000, gid: 6000, additionalGids: [], home: '/' });
});

test('unknown names are InvalidParameter errors with Docker\'s text', async () => {
  await assert.rejects(resolveUser(std, 'mallory'), (e: unknown) =>
    e instanceof InvalidParameterError && e.message === 'unable to find user mallory: no matching entries in passwd file');
  await assert.rejects(resolveUser(std, 'alice:nogroup'), (e: unknown) =>
    e instanceof InvalidParameterError && e.message === 'unable to find group nogroup: no matching entries in group file');
});

test('ids above 2147483647 or negative are rejected, never wrapped or looked up as names (A14)', async () => {
  for (const u of ['2147483648', '4294967296', '99999999999999999999', '-1', '0:2147483648', 'alice:4294967296']) {
    await assert.rejects(resolveUser(std, u), InvalidParameterError, u);
  }
  assert.equal((await resolveUser(std, '2147483647')).uid, 2147483647);
});

test('missing passwd: numeric uid is fine, names fail', async () => {
  const empty = rootfs('empty', {});
  assert.deepEqual(await resolveUser(empty, '123:456'), { uid: 123, gid: 456, additionalGids: [], home: '/' });
  assert.deepEqual(await resolveUser(empty, ''), { uid: 0, gid: 0, additionalGids: [], home: '/' });
  await assert.rejects(resolveUser(empty, 'alice'), InvalidParameterError);
});

test('a symlinked /etc/passwd cannot read host files', async () => {
  // A host "secret" outside the rootfs that parses as a passwd file.
  const secret = path.join(tmp, 'host-secret');
  fs.writeFileSync(secret, 'evil:x:4321:4321::/evil:/bin/sh\n');
  const r = rootfs('evil', { 'etc/group': GROUP });
  const rel = path.relative(path.join(r, 'etc'), secret);
  fs.symlinkSync(rel, path.join(r, 'etc', 'passwd')); // ../../host-secret
  await assert.rejects(resolveUser(r, 'evil'), InvalidParameterError);
  fs.unlinkSync(path.join(r, 'etc', 'passwd'));
  fs.symlinkSync(secret, path.join(r, 'etc', 'passwd')); // absolute host path
  await assert.rejects(resolveUser(r, 'evil'), InvalidParameterError);
  // An absolute in-image link resolves inside the rootfs.
  fs.mkdirSync(path.join(r, 'real'));
  fs.writeFileSync(path.join(r, 'real', 'passwd'), 'bob:x:77:88::/b:/bin/sh\n');
  fs.unlinkSync(path.join(r, 'etc', 'passwd'));
  fs.symlinkSync('/real/passwd', path.join(r, 'etc', 'passwd'));
  assert.deepEqual(await resolveUser(r, 'bob'), { uid: 77, gid: 88, additionalGids: [10, 50], home: '/b' });
});

test('resolveInRoot clamps .. and symlinks to the root', async () => {
  const r = rootfs('scope', { 'a/file': 'x' });
  fs.symlinkSync('../../../../etc', path.join(r, 'a', 'up'));
  fs.symlinkSync('/a', path.join(r, 'abs'));
  assert.equal(await resolveInRoot(r, '/a/up/passwd'), path.join(r, 'etc', 'passwd'));
  assert.equal(await resolveInRoot(r, '/../../x'), path.join(r, 'x'));
  assert.equal(await resolveInRoot(r, '/abs/file'), path.join(r, 'a', 'file'));
  fs.symlinkSync('loop2', path.join(r, 'loop1'));
  fs.symlinkSync('loop1', path.join(r, 'loop2'));
  await assert.rejects(resolveInRoot(r, '/loop1'), InvalidParameterError);
});

test('a non-regular /etc/passwd (fifo) is ignored rather than blocking', async () => {
  const r = rootfs('fifo', {});
  fs.mkdirSync(path.join(r, 'etc'));
  const { execFileSync } = await import('node:child_process');
  execFileSync('mkfifo', [path.join(r, 'etc', 'passwd')]);
  assert.deepEqual(await resolveUser(r, '5'), { uid: 5, gid: 0, additionalGids: [], home: '/' });
  await assert.rejects(resolveUser(r, 'root'), InvalidParameterError);
});
