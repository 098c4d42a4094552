// Deferred fsyncs (store/meta/atomic.ts): inside deferringSyncs a durable write collects its file and directory
// instead of syncing them; syncDeferred syncs the collected paths once and skips those gone meanwhile.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { deferredSyncs, deferringSyncs, fsyncDir, syncDeferred, writeFileAtomic } from '../../src/store/meta/atomic.js';

test('durable writes in a deferring context collect their paths; non-durable ones and writes outside do not', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bt-defer-'));
  try {
    const set = new Set<string>();
    await deferringSyncs(set, async () => {
      await writeFileAtomic(path.join(dir, 'a.json'), '{}');
      await writeFileAtomic(path.join(dir, 'b.json'), '{}', 0o600, { durable: false });
      await fsyncDir(path.join(dir));
      // The context follows awaits and promise chains started inside it.
      await Promise.resolve().then(() => assert.equal(deferredSyncs(), set));
    });
    assert.deepEqual([...set].sort(), [dir, path.join(dir, 'a.json')].sort());
    await writeFileAtomic(path.join(dir, 'c.json'), '{}');
    assert.equal(set.size, 2, 'outside the context a write syncs itself');
    assert.equal(deferredSyncs(), undefined);
    fs.rmSync(path.join(dir, 'a.json'));
    await syncDeferred(set);
    assert.equal(set.size, 0, 'flushed, a vanished file skipped');
    assert.equal(fs.readFileSync(path.join(dir, 'c.json'), 'utf8'), '{}');
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
