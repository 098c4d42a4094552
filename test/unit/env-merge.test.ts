import { test } from 'node:test';
import assert from 'node:assert/strict';
import { completeEnvFromImage, replaceOrAppendEnv } from '../../src/core/env.js';

test('create: the image Env with the user entries laid over it by name', () => {
  assert.deepEqual(completeEnvFromImage(['PATH=/img', 'A=img', 'B=img'], ['A=user', 'C=user']), ['PATH=/img', 'B=img', 'A=user', 'C=user']);
  assert.deepEqual(completeEnvFromImage(['PATH=/img'], []), ['PATH=/img']);
  assert.deepEqual(completeEnvFromImage([], ['A=1']), ['A=1']);
  assert.deepEqual(completeEnvFromImage(['X'], ['X=1']), ['X=1']);
});

test('exec: overrides replace in place, new names append, a bare name unsets (moby ReplaceOrAppendEnvValues)', () => {
  assert.deepEqual(replaceOrAppendEnv(['PATH=/bin', 'A=1', 'B=1'], ['A=2', 'C=3']), ['PATH=/bin', 'A=2', 'B=1', 'C=3']);
  assert.deepEqual(replaceOrAppendEnv(['PATH=/bin', 'A=1', 'B=1'], ['A']), ['PATH=/bin', 'B=1']);
  assert.deepEqual(replaceOrAppendEnv(['PATH=/bin'], ['Z']), ['PATH=/bin']);
  assert.deepEqual(replaceOrAppendEnv(['A=1'], ['A', 'A=3']), ['A=3']);
  assert.deepEqual(replaceOrAppendEnv(['A=1'], ['B=1', 'B=2']), ['A=1', 'B=2']);
});
