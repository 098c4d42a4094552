import { test } from 'node:test';
import assert from 'node:assert/strict';
import { logDriver, logLimits, mergeLogConfig, validateLogConfig } from '../../src/services/container-service.js';
import { loadConfig } from '../../src/config/daemon-config.js';
import type { HostConfig } from '../../src/core/container-config.js';

test('daemon log-driver/log-opts fill in what a container leaves unset, as moby merges them', () => {
  const daemon = { Type: 'local', Config: { 'max-size': '1m', 'max-file': '3' } };
  assert.deepEqual(mergeLogConfig(undefined, daemon), { Type: 'local', Config: { 'max-size': '1m', 'max-file': '3' } });
  assert.deepEqual(mergeLogConfig({ Type: '', Config: { 'max-size': '5k' } }, daemon), { Type: 'local', Config: { 'max-size': '5k', 'max-file': '3' } });
  // another driver than the daemon's: the daemon's options are not its own
  assert.deepEqual(mergeLogConfig({ Type: 'json-file', Config: null }, daemon), { Type: 'json-file', Config: {} });
  assert.deepEqual(mergeLogConfig(null, { Type: 'json-file', Config: {} }), { Type: 'json-file', Config: {} });
});

test('validateLogConfig: Docker\'s messages for unknown drivers, options and bad values', () => {
  assert.throws(() => validateLogConfig({ Type: 'syslog', Config: {} }), /logger: no log driver named 'syslog' is registered/);
  assert.throws(() => validateLogConfig({ Type: 'json-file', Config: { 'max-sz': '1m' } }), /unknown log opt 'max-sz' for json-file log driver/);
  assert.throws(() => validateLogConfig({ Type: 'json-file', Config: { 'max-size': 'lots' } }), /invalid value for log-opt max-size/);
  assert.throws(() => validateLogConfig({ Type: 'json-file', Config: { 'max-size': 5 as unknown as string } }), /must be a string/);
  validateLogConfig({ Type: 'local', Config: {} });
  validateLogConfig({ Type: 'none', Config: {} });
});

test('the local driver rotates by default (20m x 5, compressed), as Docker\'s', () => {
  const hc = (lc: { Type: string; Config: Record<string, string> }) => ({ LogConfig: lc }) as HostConfig;
  assert.deepEqual(logLimits(hc({ Type: 'local', Config: {} })), { maxSize: 20 * 1024 * 1024, maxFile: 5, compress: true });
  assert.deepEqual(logLimits(hc({ Type: 'local', Config: { 'max-size': '1k', compress: 'false' } })), { maxSize: 1024, maxFile: 5, compress: false });
  assert.deepEqual(logLimits(hc({ Type: 'json-file', Config: {} })), { maxSize: undefined, maxFile: 1, compress: false });
  assert.deepEqual(logLimits(hc({ Type: 'json-file', Config: { 'max-size': '2m', 'max-file': '2', compress: 'true' } })), { maxSize: 2 * 1024 * 1024, maxFile: 2, compress: true });
});

test('daemon.json log-driver and log-opts are read and type-checked', () => {
  const read = (text: string) => (p: string) => (p === '/c.json' ? text : undefined);
  const c = loadConfig({ 'config-file': '/c.json' }, read('{"log-driver":"local","log-opts":{"max-size":"10m"}}'));
  assert.equal(c.logDriver, 'local');
  assert.deepEqual(c.logOpts, { 'max-size': '10m' });
  assert.throws(() => loadConfig({ 'config-file': '/c.json' }, read('{"log-opts":["x"]}')), /log-opts must be an object/);
  assert.throws(() => loadConfig({ 'config-file': '/c.json' }, read('{"log-driver":3}')), /log-driver must be a string/);
});

test('max-file without max-size is accepted, as Docker\'s json-file: one file, never rotated (issue 8)', () => {
  validateLogConfig({ Type: 'json-file', Config: { 'max-file': '100' } });
  const hc = { LogConfig: { Type: 'json-file', Config: { 'max-file': '100' } } } as HostConfig;
  assert.deepEqual(logLimits(hc), { maxSize: undefined, maxFile: 100, compress: false });
  assert.deepEqual(logDriver('json-file').writer({ 'max-file': '100' }), { logDriver: 'k8s-file', logSizeMax: undefined });
});

test('log-opt combinations Docker\'s drivers refuse, with their words', () => {
  assert.throws(() => validateLogConfig({ Type: 'json-file', Config: { 'max-size': '1m', compress: 'true' } }),
    /compress cannot be true when max-file is less than 2 or max-size is not set/);
  assert.throws(() => validateLogConfig({ Type: 'json-file', Config: { 'max-file': '3', compress: 'true' } }),
    /compress cannot be true when max-file is less than 2 or max-size is not set/);
  assert.throws(() => validateLogConfig({ Type: 'json-file', Config: { 'max-size': '0' } }), /max-size must be a positive number/);
  assert.throws(() => validateLogConfig({ Type: 'json-file', Config: { 'max-file': '0' } }), /invalid value for max-file: 0/);
  assert.throws(() => validateLogConfig({ Type: 'local', Config: { 'max-file': '1' } }), /compression cannot be enabled when max file count is 1/);
  validateLogConfig({ Type: 'local', Config: { 'max-file': '1', compress: 'false' } });
  assert.throws(() => validateLogConfig({ Type: 'local', Config: { tag: 'x' } }), /unknown log opt 'tag' for log driver local/);
  assert.throws(() => validateLogConfig({ Type: 'json-file', Config: { mode: 'fast' } }), /logger: logging mode not supported: fast/);
  assert.throws(() => validateLogConfig({ Type: 'json-file', Config: { 'max-buffer-size': '4m' } }), /only supported with 'mode=non-blocking'/);
  validateLogConfig({ Type: 'json-file', Config: { mode: 'non-blocking', 'max-buffer-size': '4m' } });
  // none checks nothing (moby returns before any validator)
  validateLogConfig({ Type: 'none', Config: { whatever: 'x' } });
});

test('writer options: conmon cuts a single file itself; berthd rotates several; none writes nothing', () => {
  assert.deepEqual(logDriver('json-file').writer({ 'max-size': '1k' }), { logDriver: 'k8s-file', logSizeMax: 1024 });
  assert.deepEqual(logDriver('json-file').writer({ 'max-size': '1k', 'max-file': '2' }), { logDriver: 'k8s-file', logSizeMax: undefined });
  assert.deepEqual(logDriver('none').writer({}), { logDriver: 'none' });
  assert.equal(logDriver('none').readable, false);
  assert.equal(logDriver('local').readable, true);
});
