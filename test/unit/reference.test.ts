import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  familiarString, fullString, isFullId, isValidTag, matchReferenceFilter, normalize, parseNormalized,
  repoTagReference, shortId,
} from '../../src/core/reference.js';
import { InvalidParameterError } from '../../src/errors.js';

const HEX = 'a'.repeat(64);

test('normalizes familiar names to full references', () => {
  const cases: [string, string, string][] = [
    ['busybox', 'docker.io/library/busybox:latest', 'busybox:latest'],
    ['busybox:1.36', 'docker.io/library/busybox:1.36', 'busybox:1.36'],
    ['user/app', 'docker.io/user/app:latest', 'user/app:latest'],
    ['docker.io/library/busybox', 'docker.io/library/busybox:latest', 'busybox:latest'],
    ['index.docker.io/library/busybox:x', 'docker.io/library/busybox:x', 'busybox:x'],
    ['localhost:5000/a/b:t', 'localhost:5000/a/b:t', 'localhost:5000/a/b:t'],
    ['localhost/a', 'localhost/a:latest', 'localhost/a:latest'],
    ['registry.example.com/x', 'registry.example.com/x:latest', 'registry.example.com/x:latest'],
    ['[::1]:5000/img:v', '[::1]:5000/img:v', '[::1]:5000/img:v'],
    ['a__b/c-d--e/f.g', 'docker.io/a__b/c-d--e/f.g:latest', 'a__b/c-d--e/f.g:latest'],
    // A bare host:port is a name:tag, as in Docker.
    ['localhost:5000', 'docker.io/library/localhost:5000', 'localhost:5000'],
  ];
  for (const [input, full, fam] of cases) {
    const ref = normalize(input);
    assert.equal(fullString(ref), full, input);
    assert.equal(familiarString(ref), fam, input);
  }
});

test('digest references keep no default tag', () => {
  const ref = normalize(`busybox@sha256:${HEX}`);
  assert.equal(ref.tag, undefined);
  assert.equal(ref.digest, `sha256:${HEX}`);
  assert.equal(fullString(ref), `docker.io/library/busybox@sha256:${HEX}`);
  assert.equal(familiarString(ref), `busybox@sha256:${HEX}`);
});

test('invalid references give Docker messages', () => {
  const bad: [string, RegExp][] = [
    ['Busybox', /^invalid reference format: repository name \(library\/Busybox\) must be lowercase$/],
    ['foo/Bar:tag', /^invalid reference format: repository name \(foo\/Bar\) must be lowercase$/],
    ['busybox:', /^invalid reference format$/],
    ['a:b:c', /^invalid reference format$/],
    ['-x', /^invalid reference format$/],
    ['x/', /^invalid reference format$/],
    ['busybox@sha256:abc', /^invalid reference format$/],
    [HEX, /cannot specify 64-byte hexadecimal strings/],
    ['x'.repeat(256), /must not be more than 255 characters/],
    [`busybox:${'t'.repeat(129)}`, /^invalid reference format$/],
  ];
  for (const [s, re] of bad) {
    assert.throws(() => parseNormalized(s), (e: unknown) => e instanceof InvalidParameterError && re.test(e.message), s);
  }
});

test('tag grammar and ids', () => {
  assert.ok(isValidTag('v1.2_3-rc'));
  assert.ok(isValidTag('_x'));
  assert.ok(!isValidTag('.x'));
  assert.ok(!isValidTag('-x'));
  assert.ok(!isValidTag('a'.repeat(129)));
  assert.ok(isFullId(HEX));
  assert.ok(!isFullId(HEX.toUpperCase()));
  assert.ok(!isFullId(HEX.slice(1)));
  assert.equal(shortId(`sha256:${'0123456789ab'}${'c'.repeat(52)}`), '0123456789ab');
});

test('repo parameter may carry the tag; tag parameter overrides', () => {
  assert.equal(fullString(repoTagReference('busybox:local')), 'docker.io/library/busybox:local');
  assert.equal(fullString(repoTagReference('busybox')), 'docker.io/library/busybox:latest');
  assert.equal(fullString(repoTagReference('busybox:x', 'y')), 'docker.io/library/busybox:y');
  assert.throws(() => repoTagReference(`busybox@sha256:${HEX}`), /cannot import digest reference/);
  assert.throws(() => repoTagReference('busybox', '.bad'), InvalidParameterError);
});

test('reference filter globs match familiar string or name', () => {
  const ref = normalize('busybox:1.36');
  assert.ok(matchReferenceFilter('busy*', ref));
  assert.ok(matchReferenceFilter('busybox', ref));
  assert.ok(matchReferenceFilter('busybox:1.*', ref));
  assert.ok(!matchReferenceFilter('busybox:2*', ref));
  assert.ok(!matchReferenceFilter('alpine*', ref));
  const nested = normalize('localhost:5000/team/app:v1');
  assert.ok(matchReferenceFilter('localhost:5000/team/*', nested));
  assert.ok(!matchReferenceFilter('*', nested), '* does not cross /');
});
