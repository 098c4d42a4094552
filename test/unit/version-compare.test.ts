import { test } from 'node:test';
import assert from 'node:assert/strict';
import { compareVersions } from '../../src/core/version-compare.js';
import { compareVersions as viaServer } from '../../src/api/server.js';

test('compareVersions: dotted numeric order, missing parts are 0, one implementation', () => {
  assert.ok(compareVersions('1.42', '1.45') < 0);
  assert.ok(compareVersions('1.45', '1.42') > 0);
  assert.ok(compareVersions('1.9', '1.10') < 0); // numeric, not lexical
  assert.equal(compareVersions('1.4', '1.4.0'), 0);
  assert.equal(compareVersions('1.45', '1.45'), 0);
  assert.ok(compareVersions('2', '1.99') > 0);
  assert.equal(viaServer, compareVersions);
});
