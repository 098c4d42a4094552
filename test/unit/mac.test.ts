import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseMac } from '../../src/network/mac.js';

test('parseMac: Go ParseMAC\'s 48-bit spellings, normalised to lower-case colons', () => {
  assert.equal(parseMac('02:42:AC:11:00:02'), '02:42:ac:11:00:02');
  assert.equal(parseMac('02-42-ac-11-00-02'), '02:42:ac:11:00:02');
  assert.equal(parseMac('0242.ac11.0002'), '02:42:ac:11:00:02');
});

test('parseMac: malformed and multicast addresses are 400s', () => {
  for (const bad of ['', '02:42:ac:11:00', '02:42:ac:11:00:02:03', '02:42-ac:11:00:02', 'g2:42:ac:11:00:02', '0242ac110002', '01:00:5e:00:00:01']) {
    assert.throws(() => parseMac(bad), { name: 'InvalidParameterError', message: /^invalid MAC address/ }, bad);
  }
});
