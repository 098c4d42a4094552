import { test } from 'node:test';
import assert from 'node:assert/strict';
import { apiErrorKind, EngineApiError, isNotFound } from '../../src/client/engine-client.js';

test('EngineApiError: the kind comes from the status as moby errdefs classes it', () => {
  const kinds = [[304, 'not-modified'], [400, 'invalid-parameter'], [401, 'unauthorized'], [403, 'forbidden'], [404, 'not-found'],
    [409, 'conflict'], [500, 'system'], [501, 'not-implemented'], [503, 'unavailable'], [418, 'unknown']] as const;
  for (const [status, kind] of kinds) assert.equal(apiErrorKind(status), kind, String(status));
  const e = new EngineApiError(404, 'No such container: x');
  assert.equal(e.kind, 'not-found');
  assert.equal(e.message, 'No such container: x');
  assert.equal(isNotFound(e), true);
  assert.equal(isNotFound(new EngineApiError(409, 'No such thing, but a conflict')), false);
  assert.equal(isNotFound(new Error('No such container: x')), false, 'message text alone is not a kind');
});
