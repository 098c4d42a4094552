import { test } from 'node:test';
import assert from 'node:assert/strict';
import { bytesSize, containerStatus, fromHumanSize, humanDuration, humanSize, humanSizeWithPrecision, ramInBytes, timeAgo } from '../../src/core/human.js';

const S = 1000, M = 60 * S, H = 60 * M, D = 24 * H;

test('humanDuration follows go-units', () => {
  assert.equal(humanDuration(500), 'Less than a second');
  assert.equal(humanDuration(1 * S), '1 second');
  assert.equal(humanDuration(47 * S), '47 seconds');
  assert.equal(humanDuration(1 * M + 30 * S), 'About a minute');
  assert.equal(humanDuration(59 * M), '59 minutes');
  assert.equal(humanDuration(60 * M), 'About an hour');
  assert.equal(humanDuration(2 * H + 29 * M), '2 hours');
  assert.equal(humanDuration(2 * H + 31 * M), '3 hours');
  assert.equal(humanDuration(47 * H), '47 hours');
  assert.equal(humanDuration(3 * D), '3 days');
  assert.equal(humanDuration(20 * D), '2 weeks');
  assert.equal(humanDuration(90 * D), '3 months');
  assert.equal(humanDuration(800 * D), '2 years');
  assert.equal(timeAgo(1000, 1000 * 1000 + 3 * S), '3 seconds ago');
});

test('sizes: decimal HumanSize with precision, binary BytesSize', () => {
  assert.equal(humanSizeWithPrecision(4261550, 3), '4.26MB');
  assert.equal(humanSizeWithPrecision(0, 3), '0B');
  assert.equal(humanSizeWithPrecision(999, 3), '999B');
  assert.equal(humanSizeWithPrecision(1234, 3), '1.23kB');
  assert.equal(humanSizeWithPrecision(4100000, 3), '4.1MB');
  assert.equal(humanSizeWithPrecision(123456789, 3), '123MB');
  assert.equal(humanSize(1234), '1.234kB');
  assert.equal(bytesSize(67108864), '64MiB');
  assert.equal(bytesSize(2 * 1024 ** 3 + 1024 ** 3 / 2), '2.5GiB');
});

test('RAMInBytes and FromHumanSize parse docker size flags', () => {
  assert.equal(ramInBytes('64m'), 67108864);
  assert.equal(ramInBytes('64M'), 67108864);
  assert.equal(ramInBytes('1g'), 1073741824);
  assert.equal(ramInBytes('1.5k'), 1536);
  assert.equal(ramInBytes('512'), 512);
  assert.equal(ramInBytes('10MiB'), 10485760);
  assert.equal(ramInBytes('10mb'), 10485760);
  assert.equal(fromHumanSize('1k'), 1000);
  assert.throws(() => ramInBytes('lots'), /invalid size: 'lots'/);
  assert.throws(() => ramInBytes('-1m'), /invalid size/);
});

test('container status strings', () => {
  const now = Date.parse('2024-05-01T12:00:00Z');
  assert.equal(containerStatus({ status: 'running', startedAt: '2024-05-01T11:59:57Z' }, now), 'Up 3 seconds');
  assert.equal(containerStatus({ status: 'running', startedAt: '2024-05-01T10:00:00Z', health: 'healthy' }, now), 'Up 2 hours (healthy)');
  assert.equal(containerStatus({ status: 'running', startedAt: '2024-05-01T11:59:00Z', health: 'starting' }, now), 'Up About a minute (health: starting)');
  assert.equal(containerStatus({ status: 'paused', startedAt: '2024-05-01T11:00:00Z' }, now), 'Up About an hour (Paused)');
  assert.equal(containerStatus({ status: 'exited', exitCode: 137, startedAt: '2024-05-01T11:00:00Z', finishedAt: '2024-05-01T11:58:00Z' }, now), 'Exited (137) 2 minutes ago');
  assert.equal(containerStatus({ status: 'created' }, now), 'Created');
  assert.equal(containerStatus({ status: 'restarting', exitCode: 1, finishedAt: '2024-05-01T11:59:59Z' }, now), 'Restarting (1) 1 second ago');
});
