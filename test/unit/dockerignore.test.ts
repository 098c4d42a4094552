import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PatternMatcher, goClean, keepBuildFiles, parseDockerignore } from '../../src/core/dockerignore.js';

const excluded = (patterns: string[], file: string): boolean => new PatternMatcher(patterns).matches(file);

test('the ignore file: comments only at the start of a line, trimming, Clean, no leading slash, BOM', () => {
  const text = '\uFEFFtest1\n/test2\n/a/file/here\n\nlastfile\n# this is a comment\n! /inverted/abs/path\n!\n! \n  #not-a-comment\n./x/../y/\r\n';
  assert.deepEqual(parseDockerignore(text), ['test1', 'test2', 'a/file/here', 'lastfile', '!inverted/abs/path', '!', '!', '#not-a-comment', 'y']);
  assert.throws(() => new PatternMatcher(['!']), /illegal exclusion pattern: "!"/);
});

test('Go path.Clean', () => {
  for (const [a, b] of [['', '.'], ['a/b/', 'a/b'], ['./a//b/./c/..', 'a/b'], ['/../a', '/a'], ['../a/..', '..'], ['/', '/']] as const) {
    assert.equal(goClean(a), b, a);
  }
});

test("moby's single-pattern table (MatchesOrParentMatches)", () => {
  const rows: [string, string, boolean][] = [
    ['**', 'file', true], ['**', 'file/', true], ['**/', 'file', true], ['**/', 'file/', true], ['**', '/', true],
    ['**/', '/', true], ['**', 'dir/file', true], ['**/', 'dir/file', true], ['**', 'dir/file/', true],
    ['**/', 'dir/file/', true], ['**/**', 'dir/file', true], ['**/**', 'dir/file/', true], ['dir/**', 'dir/file', true],
    ['dir/**', 'dir/file/', true], ['dir/**', 'dir/dir2/file', true], ['dir/**', 'dir/dir2/file/', true],
    ['**/dir', 'dir', true], ['**/dir', 'dir/file', true], ['**/dir2/*', 'dir/dir2/file', true],
    ['**/dir2/*', 'dir/dir2/file/', true], ['**/dir2/**', 'dir/dir2/dir3/file', true], ['**/dir2/**', 'dir/dir2/dir3/file/', true],
    ['**file', 'file', true], ['**file', 'dir/file', true], ['**/file', 'dir/file', true], ['**file', 'dir/dir/file', true],
    ['**/file', 'dir/dir/file', true], ['**/file*', 'dir/dir/file', true], ['**/file*', 'dir/dir/file.txt', true],
    ['**/file*txt', 'dir/dir/file.txt', true], ['**/file*.txt', 'dir/dir/file.txt', true], ['**/file*.txt*', 'dir/dir/file.txt', true],
    ['**/**/*.txt', 'dir/dir/file.txt', true], ['**/**/*.txt2', 'dir/dir/file.txt', false], ['**/*.txt', 'file.txt', true],
    ['**/**/*.txt', 'file.txt', true], ['a**/*.txt', 'a/file.txt', true], ['a**/*.txt', 'a/dir/file.txt', true],
    ['a**/*.txt', 'a/dir/dir/file.txt', true], ['a/*.txt', 'a/dir/file.txt', false], ['a/*.txt', 'a/file.txt', true],
    ['a/*.txt**', 'a/file.txt', true], ['a[b-d]e', 'ae', false], ['a[b-d]e', 'ace', true], ['a[b-d]e', 'aae', false],
    ['a[^b-d]e', 'aze', true], ['.*', '.foo', true], ['.*', 'foo', false], ['abc.def', 'abcdef', false],
    ['abc.def', 'abc.def', true], ['abc.def', 'abcZdef', false], ['abc?def', 'abcZdef', true], ['abc?def', 'abcdef', false],
    ['a\\\\', 'a\\', true], ['**/foo/bar', 'foo/bar', true], ['**/foo/bar', 'dir/foo/bar', true],
    ['**/foo/bar', 'dir/dir2/foo/bar', true], ['abc/**', 'abc', false], ['abc/**', 'abc/def', true], ['abc/**', 'abc/def/ghi', true],
    ['**/.foo', '.foo', true], ['**/.foo', 'bar.foo', false], ['a(b)c/def', 'a(b)c/def', true], ['a(b)c/def', 'a(b)c/xyz', false],
    ['a.|)$(}+{bc', 'a.|)$(}+{bc', true],
    ['dist/proxy.py-2.4.0rc3.dev36+g08acad9-py3-none-any.whl', 'dist/proxy.py-2.4.0rc3.dev36+g08acad9-py3-none-any.whl', true],
    ['dist/*.whl', 'dist/proxy.py-2.4.0rc3.dev36+g08acad9-py3-none-any.whl', true], ['a\\*b', 'a*b', true],
    ['a*', 'ab/c', true], ['a*/b', 'abc/b', true], ['a*/b', 'a/c/b', false], ['a?b', 'a/b', false], ['a*b', 'a/b', false],
    ['[\\]a]', ']', true], ['[\\-]', '-', true], ['ab[^c]', 'abc', false], ['a?b', 'a☺b', true],
  ];
  for (const [p, f, want] of rows) assert.equal(excluded([p], f), want, `${p} vs ${f}`);
});

test("moby's multi-pattern cases and exceptions", () => {
  assert.equal(excluded(['**', '!util/docker/web'], 'util/docker/web/foo'), false);
  assert.equal(excluded(['**', '!util/docker/web', 'util/docker/web/foo'], 'util/docker/web/foo'), true);
  assert.equal(excluded(['**', '!dist/*.whl'], 'dist/proxy.py-2.4.0rc3.dev36+g08acad9-py3-none-any.whl'), false);
  assert.equal(excluded(['!fileutils.go', '*.go'], 'fileutils.go'), true);
  assert.equal(excluded(['*.go', '!fileutils.go'], 'fileutils.go'), false);
  for (const p of ['docs', 'docs/', 'docs/*']) assert.equal(excluded([p, '!docs/README.md'], 'docs/README.md'), false, p);
  assert.equal(excluded(['*.go'], '.'), false);
  assert.equal(excluded(['docs', '  !docs/README.md  '], 'docs/README.md'), false);
});

test("Docker's documented .dockerignore examples", () => {
  const pm = new PatternMatcher(parseDockerignore('# comment\n*/temp*\n*/*/temp*\ntemp?\n'));
  assert.equal(pm.matches('somedir/temporary.txt'), true);
  assert.equal(pm.matches('somedir/temp'), true);
  assert.equal(pm.matches('somedir/subdir/temporary.txt'), true);
  assert.equal(pm.matches('tempa'), true);
  assert.equal(pm.matches('temporary.txt'), false, '*/temp* needs one directory level');
  assert.equal(pm.matches('a/b/c/temp'), false);
  assert.equal(excluded(['**/*.go'], 'x/y/z.go'), true);
  assert.equal(excluded(['**/*.go'], 'z.go'), true);
  assert.equal(excluded(['*.md', '!README.md'], 'README.md'), false);
  assert.equal(excluded(['*.md', '!README.md'], 'CHANGES.md'), true);
  assert.equal(excluded(['*.md', '!README*.md', 'README-secret.md'], 'README-secret.md'), true);
  assert.equal(excluded(['*.md', '!README*.md', 'README-secret.md'], 'README-x.md'), false);
  assert.equal(excluded(['*.md', 'README-secret.md', '!README*.md'], 'README-secret.md'), false);
  assert.equal(excluded(parseDockerignore('/build\n'), 'build/out.o'), true, 'a leading / is the context root');
});

test('descending into an excluded directory only when an exception names something under it', () => {
  const pm = new PatternMatcher(['vendor', '!vendor/keep.txt', '!**/other']);
  assert.equal(pm.mayHoldExceptions('vendor'), true);
  assert.equal(pm.mayHoldExceptions('build'), false);
  assert.equal(pm.matches('vendor/keep.txt'), false);
  assert.equal(pm.matches('vendor/drop.txt'), true);
  assert.equal(new PatternMatcher(['vendor']).mayHoldExceptions('vendor'), false);
});

test('the Dockerfile and .dockerignore are sent even when excluded, unless the Dockerfile comes from stdin', () => {
  assert.deepEqual(keepBuildFiles(['*'], 'Dockerfile', false), ['*', '!.dockerignore', '!Dockerfile']);
  assert.deepEqual(keepBuildFiles(['*'], 'Dockerfile', true), ['*', '!.dockerignore']);
  assert.deepEqual(keepBuildFiles(['*.o'], 'sub/Dockerfile', false), ['*.o']);
});
