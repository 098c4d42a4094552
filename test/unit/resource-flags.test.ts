import { test } from 'node:test';
import assert from 'node:assert/strict';
import { bpsDevice, gpuRequest, iopsDevice, storageOpts, weightDevice } from '../../src/cli/resource-flags.js';

test('block IO device flags: docker CLI validation and wording', () => {
  assert.deepEqual(weightDevice('/dev/sda:200'), { Path: '/dev/sda', Weight: 200 });
  assert.deepEqual(weightDevice('/dev/sda:0'), { Path: '/dev/sda', Weight: 0 });
  assert.throws(() => weightDevice('/dev/sda:5'), /invalid weight for device: \/dev\/sda:5/);
  assert.throws(() => weightDevice('sda:100'), /bad format for device path: sda:100/);
  assert.throws(() => weightDevice('/dev/sda'), /bad format: \/dev\/sda/);
  assert.deepEqual(bpsDevice('/dev/sda:1mb', '--device-read-bps'), { Path: '/dev/sda', Rate: 1048576 });
  assert.throws(() => bpsDevice('/dev/sda:fast', '--device-read-bps'), /invalid argument "\/dev\/sda:fast" for "--device-read-bps" flag: invalid rate for device: \/dev\/sda:fast\. The correct format is <device-path>:<number>\[<unit>\]/);
  assert.deepEqual(iopsDevice('/dev/sda:1000', '--device-write-iops'), { Path: '/dev/sda', Rate: 1000 });
  assert.throws(() => iopsDevice('/dev/sda:1k', '--device-write-iops'), /The correct format is <device-path>:<number>\. Number must be a positive integer/);
});

test('--gpus: all, a count, and key=value fields as docker sends them', () => {
  assert.deepEqual(gpuRequest('all'), { Driver: '', Count: -1, DeviceIDs: null, Capabilities: [['gpu']], Options: null });
  assert.equal(gpuRequest('2').Count, 2);
  assert.deepEqual(gpuRequest('driver=nvidia,count=1'), { Driver: 'nvidia', Count: 1, DeviceIDs: null, Capabilities: [['gpu']], Options: null });
  assert.throws(() => gpuRequest('many'), /invalid count \(many\)/);
  assert.throws(() => gpuRequest('colour=red'), /unexpected key 'colour'/);
});

test('--storage-opt: key=value pairs, "invalid storage option" otherwise', () => {
  assert.equal(storageOpts([]), undefined);
  assert.deepEqual(storageOpts(['size=1G', 'x=']), { size: '1G', x: '' });
  assert.throws(() => storageOpts(['size']), /^FlagError: invalid storage option$|invalid storage option/);
});
