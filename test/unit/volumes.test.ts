import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ANONYMOUS_LABEL, localVolumeMount, pruneSelection, validateLocalOptions, validateVolumeName, volumeMatches, type VolumeRecord } from '../../src/core/volumes.js';
import { parseFilters } from '../../src/core/filters.js';
import { compareVersions } from '../../src/api/server.js';

const rec = (Name: string, Labels: Record<string, string> = {}): VolumeRecord => ({ Name, Driver: 'local', Labels, Options: {}, CreatedAt: '' });
const atLeast = (a: string, b: string) => compareVersions(a, b) >= 0;

test('validateVolumeName: Docker\'s rule and wording', () => {
  for (const ok of ['ab', 'data', 'a.b-c_d', '0x', 'A9']) validateVolumeName(ok);
  assert.throws(() => validateVolumeName('a'), /create a: volume name is too short, names should be at least two alphanumeric characters/);
  assert.throws(() => validateVolumeName('rel/path'),
    /^InvalidParameterError: create rel\/path: "rel\/path" includes invalid characters for a local volume name, only "\[a-zA-Z0-9\]\[a-zA-Z0-9_.-\]" are allowed. If you intended to pass a host directory, use absolute path$/);
  for (const bad of ['_ab', '.ab', '-ab', 'a b', 'a:b', '~/x']) assert.throws(() => validateVolumeName(bad), /invalid characters/);
});

test('validateLocalOptions: known keys, required companions, no quota', () => {
  validateLocalOptions({});
  validateLocalOptions({ type: 'tmpfs', device: 'tmpfs', o: 'size=64m' });
  validateLocalOptions({ type: 'none', device: '/srv/x', o: 'bind' });
  assert.throws(() => validateLocalOptions({ foo: '1' }), /invalid option key: "foo"/);
  assert.throws(() => validateLocalOptions({ type: 'tmpfs' }), /missing required option: "device"/);
  assert.throws(() => validateLocalOptions({ device: '/x' }), /missing required option: "type"/);
  assert.throws(() => validateLocalOptions({ o: 'bind' }), /missing required option: "device"/);
  assert.throws(() => validateLocalOptions({ size: '10m' }), /quota size requested but no quota support/);
});

test('localVolumeMount: plain dir, tmpfs, bind', () => {
  assert.equal(localVolumeMount({}, '/v/_data'), undefined);
  assert.deepEqual(localVolumeMount({ type: 'tmpfs', device: 'tmpfs', o: 'size=8m,uid=1000' }, '/v/_data'),
    { type: 'tmpfs', source: 'tmpfs', target: '/v/_data', options: ['size=8m', 'uid=1000'] });
  assert.deepEqual(localVolumeMount({ type: 'none', device: '/srv/x', o: 'bind' }, '/v/_data'),
    { type: 'none', source: '/srv/x', target: '/v/_data', options: ['bind'] });
});

test('volumeMatches: dangling, name substring, label, label!, driver', () => {
  const v = rec('app-data', { team: 'a', tier: '' });
  const m = (f: string, refs = 0) => volumeMatches(v, refs, parseFilters(f));
  assert.ok(m('{"dangling":["true"]}'));
  assert.ok(!m('{"dangling":["true"]}', 1));
  assert.ok(m('{"dangling":["false"]}', 2));
  assert.throws(() => m('{"dangling":["maybe"]}'), /invalid filter 'dangling=maybe'/);
  assert.ok(m('{"name":["data"]}'));
  assert.ok(!m('{"name":["db"]}'));
  assert.ok(m('{"label":["team=a","tier"]}'));
  assert.ok(!m('{"label":["team=b"]}'));
  assert.ok(!m('{"label!":["team"]}'));
  assert.ok(m('{"label!":["team=b"]}'));
  assert.ok(m('{"driver":["local"]}'));
  assert.ok(!m('{"driver":["nfs"]}'));
});

test('pruneSelection: anonymous only from API 1.42 unless all; in-use never', () => {
  const anon = rec('f'.repeat(64), { [ANONYMOUS_LABEL]: '' });
  const named = rec('data', { keep: '1' });
  const used = rec('e'.repeat(64), { [ANONYMOUS_LABEL]: '' });
  const vols = [{ rec: anon, refCount: 0 }, { rec: named, refCount: 0 }, { rec: used, refCount: 1 }];
  const names = (f: string, v = '1.45') => pruneSelection(vols, parseFilters(f), v, atLeast).map((r) => r.Name);
  assert.deepEqual(names(''), [anon.Name]);
  assert.deepEqual(names('{"all":["true"]}'), [anon.Name, 'data']);
  assert.deepEqual(names('', '1.41'), [anon.Name, 'data']);
  assert.deepEqual(names('{"all":["1"],"label!":["keep"]}'), [anon.Name]);
  assert.deepEqual(names('{"all":["1"],"label":["keep=1"]}'), ['data']);
});
