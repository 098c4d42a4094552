import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { resolveInRoot, secureJoin, secureMkdirAll } from '../../src/store/rootfs-files.js';
import { InvalidParameterError } from '../../src/errors.js';

// secureJoin (sync) and resolveInRoot (async) drive one walk: both must give the same answer on
// every case, and none of them may leave the root.
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-walk-'));
after(() => fs.rmSync(tmp, { recursive: true, force: true }));
const r = path.join(tmp, 'root');
fs.mkdirSync(path.join(r, 'a', 'b'), { recursive: true });
fs.mkdirSync(path.join(r, 'etc'));
fs.symlinkSync('../../../../etc', path.join(r, 'a', 'up'));   // relative, climbing past root
fs.symlinkSync('/a', path.join(r, 'abs'));                     // absolute: re-rooted
fs.symlinkSync('b', path.join(r, 'a', 'rel'));                 // relative, same dir
fs.symlinkSync('/abs/rel', path.join(r, 'chain'));             // a link to a link to a link
fs.symlinkSync('/', path.join(r, 'slash'));
fs.symlinkSync('/nowhere/x', path.join(r, 'dangling'));
fs.symlinkSync('loop2', path.join(r, 'loop1'));
fs.symlinkSync('loop1', path.join(r, 'loop2'));

const cases: [string, string][] = [
  ['/', ''],
  ['', ''],
  ['/a/b', 'a/b'],
  ['a//./b/', 'a/b'],
  ['/../../x', 'x'],
  ['/a/../../etc', 'etc'],
  ['/a/up/passwd', 'etc/passwd'],
  ['/abs/b', 'a/b'],
  ['/a/rel/f', 'a/b/f'],
  ['/chain/f', 'a/b/f'],
  ['/chain/../x', 'a/x'],
  ['/slash/../../etc', 'etc'],
  ['/dangling/y', 'nowhere/x/y'],
  ['/missing/dir/../z', 'missing/z'],
];

test('secureJoin and resolveInRoot resolve each path alike, inside the root', async () => {
  for (const [p, want] of cases) {
    const expected = path.join(r, want);
    assert.equal(secureJoin(r, p), expected, `secureJoin ${p}`);
    assert.equal(await resolveInRoot(r, p), expected, `resolveInRoot ${p}`);
  }
});

test('a symlink loop is an InvalidParameter error from both', async () => {
  assert.throws(() => secureJoin(r, '/loop1/x'), InvalidParameterError);
  await assert.rejects(resolveInRoot(r, '/loop1/x'), InvalidParameterError);
});

test('secureMkdirAll makes directories through a symlink inside the root, never outside it', () => {
  secureMkdirAll(r, '/a/up/made/deep', process.getuid!(), process.getgid!());
  assert.ok(fs.statSync(path.join(r, 'etc', 'made', 'deep')).isDirectory());
  fs.writeFileSync(path.join(r, 'a', 'file'), '');
  assert.throws(() => secureMkdirAll(r, '/a/file/x', 0, 0), /not a directory/);
});
