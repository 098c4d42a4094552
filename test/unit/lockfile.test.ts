import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

// Plain .mjs helpers shared with scripts/fix-lock.mjs.
const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const { missingOptionalEntries, platformOf } = await import(path.join(root, 'scripts', 'lock-check.mjs')) as {
  missingOptionalEntries(lock: unknown): { key: string; name: string; version: string }[];
  platformOf(name: string): { os: string[]; cpu: string[]; libc?: string[] } | undefined;
};

test('package-lock.json names an entry for every optional dependency, so npm ci accepts it', () => {
  const lock = JSON.parse(fs.readFileSync(path.join(root, 'package-lock.json'), 'utf8'));
  const missing = missingOptionalEntries(lock);
  assert.deepEqual(missing.map((m) => m.key), [], 'run `node scripts/fix-lock.mjs` after `npm install`');
});

test('missingOptionalEntries finds what npm install leaves out', () => {
  const lock = { packages: {
    '': { dependencies: { a: '1' } },
    'node_modules/a': { version: '1.0.0', optionalDependencies: { 'a-linux-x64-gnu': '1.0.0', 'a-darwin-arm64': '1.0.0' } },
    'node_modules/a-linux-x64-gnu': { version: '1.0.0' },
  } };
  assert.deepEqual(missingOptionalEntries(lock), [{ key: 'node_modules/a-darwin-arm64', name: 'a-darwin-arm64', version: '1.0.0' }]);
});

test('platformOf reads napi-rs package names', () => {
  assert.deepEqual(platformOf('x-linux-arm64-musl'), { os: ['linux'], cpu: ['arm64'], libc: ['musl'] });
  assert.deepEqual(platformOf('x-linux-arm-gnueabihf'), { os: ['linux'], cpu: ['arm'], libc: ['glibc'] });
  assert.deepEqual(platformOf('x-darwin-x64'), { os: ['darwin'], cpu: ['x64'] });
  assert.equal(platformOf('left-pad'), undefined);
});
