import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MemoryTrimmer } from '../../src/services/memory-trimmer.js';

const MB = 1 << 20;

test('malloc_trim runs once RSS grew and then held still, not while idle nor mid-burst', () => {
  let rss = 60 * MB;
  let trims = 0;
  const t = new MemoryTrimmer(() => { trims++; rss -= 30 * MB; }, () => rss);
  assert.equal(t.tick(), false, 'idle: nothing to give back');
  rss += 4 * MB;
  assert.equal(t.tick(), false, 'a little growth is not worth a trim');
  rss += 40 * MB;
  assert.equal(t.tick(), false, 'still growing: the burst is on');
  rss += 20 * MB;
  assert.equal(t.tick(), false);
  assert.equal(t.tick(), true, 'held still after growing: trimmed');
  assert.equal(trims, 1);
  assert.equal(t.tick(), false, 'nothing new since the trim');
  rss += 6 * MB;
  assert.equal(t.tick(), false);
  assert.equal(t.tick(), false, 'below the growth threshold since the last trim');
  assert.equal(trims, 1);
});

test('memory that stays live after a trim is not trimmed again and again', () => {
  let rss = 60 * MB;
  let trims = 0;
  const t = new MemoryTrimmer(() => { trims++; }, () => rss);
  rss += 20 * MB;
  t.tick();
  assert.equal(t.tick(), true);
  for (let i = 0; i < 5; i++) assert.equal(t.tick(), false);
  assert.equal(trims, 1);
});
