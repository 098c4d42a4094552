import { test } from 'node:test';
import assert from 'node:assert/strict';
import { filterResults, searchFilter, searchLimit, searchTarget } from '../../src/core/search.js';

test('searchTarget: a term naming a registry goes to it, anything else to Docker Hub', () => {
  assert.deepEqual(searchTarget('nginx'), { index: 'docker.io', remote: 'nginx' });
  assert.deepEqual(searchTarget('library/nginx'), { index: 'docker.io', remote: 'nginx' });
  assert.deepEqual(searchTarget('samalba/hipache'), { index: 'docker.io', remote: 'samalba/hipache' });
  assert.deepEqual(searchTarget('127.0.0.1:5000/tools/x'), { index: '127.0.0.1:5000', remote: 'tools/x' });
  assert.deepEqual(searchTarget('localhost/x'), { index: 'localhost', remote: 'x' });
  assert.throws(() => searchTarget('https://r.example/x'), /should not have a scheme/);
});

test('searchLimit: 25 by default, 1..100, Go-style parse errors', () => {
  assert.equal(searchLimit(null), 25);
  assert.equal(searchLimit('0'), 25);
  assert.equal(searchLimit('100'), 100);
  assert.throws(() => searchLimit('101'), /limit 101 is outside the range of \[1, 100\]/);
  assert.throws(() => searchLimit('-3'), /limit -3 is outside the range/);
  assert.throws(() => searchLimit('ten'), /invalid syntax/);
});

test('filters: is-official, stars (the highest wins), is-automated=true finds nothing', () => {
  const rs = [
    { name: 'a', description: '', star_count: 5, is_official: true, is_automated: true },
    { name: 'b', description: '', star_count: 1, is_official: false, is_automated: false },
  ];
  const f = (m: Record<string, string[]>) => searchFilter(new Map(Object.entries(m)));
  assert.deepEqual(filterResults(rs, f({})).map((r) => [r.name, r.is_automated]), [['a', false], ['b', false]]);
  assert.deepEqual(filterResults(rs, f({ 'is-official': ['true'] })).map((r) => r.name), ['a']);
  assert.deepEqual(filterResults(rs, f({ stars: ['2', '4'] })).map((r) => r.name), ['a']);
  assert.deepEqual(filterResults(rs, f({ 'is-automated': ['true'] })), []);
  assert.throws(() => f({ stars: ['x'] }), /invalid filter 'stars=x'/);
  assert.throws(() => f({ 'is-official': ['maybe'] }), /invalid filter 'is-official=maybe'/);
});
