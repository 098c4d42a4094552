import { test } from 'node:test';
import assert from 'node:assert/strict';
import { inspectMounts, ociMounts, parseApiMount, parseBindSpec, parseVolumesFrom, planMountPoints } from '../../src/core/mounts.js';

const yes = () => true;
const no = () => false;

test('parseBindSpec: bind, named, anonymous, modes', () => {
  assert.deepEqual(parseBindSpec('/tmp/:/mnt'), { Type: 'bind', Source: '/tmp', Destination: '/mnt', Mode: '', RW: true, Propagation: 'rprivate', CreateSource: true });
  const ro = parseBindSpec('/a:/b:ro,rshared,Z');
  assert.equal(ro.RW, false);
  assert.equal(ro.Propagation, 'rshared');
  assert.equal(ro.Mode, 'ro,rshared,Z');
  const v = parseBindSpec('data:/var/lib/app:nocopy');
  assert.equal(v.Type, 'volume');
  assert.equal(v.Name, 'data');
  assert.equal(v.NoCopy, true);
  assert.equal(parseBindSpec('/anon').Anonymous, true);
  for (const m of ['rw,ro', 'xyz', 'z,Z', 'shared,slave']) assert.throws(() => parseBindSpec(`/a:/b:${m}`), new RegExp(`invalid mode: ${m}`));
  assert.throws(() => parseBindSpec('/a:/b:nocopy'), /invalid mode: nocopy/);
  assert.throws(() => parseBindSpec('/a:/b:ro:x'), /invalid volume specification: '\/a:\/b:ro:x'/);
  assert.throws(() => parseBindSpec('/a:rel'), /mount path must be absolute/);
  assert.throws(() => parseBindSpec('/a:/'), /destination can't be '\/'/);
  assert.throws(() => parseBindSpec('relative/path:/dst'),
    /create relative\/path: "relative\/path" includes invalid characters for a local volume name, only "\[a-zA-Z0-9\]\[a-zA-Z0-9_.-\]" are allowed. If you intended to pass a host directory, use absolute path/);
});

test('parseApiMount: --mount types and their options', () => {
  const b = parseApiMount({ Type: 'bind', Source: '/srv', Target: '/x', ReadOnly: true, BindOptions: { Propagation: 'rslave', NonRecursive: true } }, yes);
  assert.deepEqual(b, { Type: 'bind', Source: '/srv', Destination: '/x', Mode: '', RW: false, Propagation: 'rslave', NonRecursive: true });
  assert.throws(() => parseApiMount({ Type: 'bind', Source: '/nope', Target: '/x' }, no), /invalid mount config for type "bind": bind source path does not exist: \/nope/);
  assert.throws(() => parseApiMount({ Type: 'bind', Target: '/x' }, yes), /field Source must not be empty/);
  assert.throws(() => parseApiMount({ Type: 'bind', Source: '/a', Target: '/x', VolumeOptions: {} }, yes), /field VolumeOptions must not be specified/);
  const v = parseApiMount({ Type: 'volume', Source: 'data', Target: '/d', VolumeOptions: { NoCopy: true, Subpath: 'sub/dir' } }, yes);
  assert.equal(v.NoCopy, true);
  assert.equal(v.Subpath, 'sub/dir');
  assert.throws(() => parseApiMount({ Type: 'volume', Source: 'data', Target: '/d', VolumeOptions: { Subpath: '../x' } }, yes), /subpath/);
  assert.equal(parseApiMount({ Type: 'volume', Target: '/d' }, yes).Anonymous, true);
  const t = parseApiMount({ Type: 'tmpfs', Target: '/cache', TmpfsOptions: { SizeBytes: 4194304, Mode: 0o1777 } }, yes);
  assert.deepEqual(t.Tmpfs, { SizeBytes: 4194304, Mode: 0o1777 });
  assert.throws(() => parseApiMount({ Type: 'tmpfs', Source: 'x', Target: '/c' }, yes), /field Source must not be specified/);
  assert.throws(() => parseApiMount({ Type: 'weird', Target: '/c' }, yes), /mount type unknown/);
  assert.throws(() => parseApiMount({ Type: 'volume', Target: '' }, yes), /field Target must not be empty/);
});

test('planMountPoints: precedence, duplicates, image volumes, volumes-from modes', () => {
  const from = [{ points: [parseBindSpec('/h:/shared'), parseBindSpec('v1:/v1')], rw: false }];
  const pts = planMountPoints({
    binds: ['/tmp:/mnt', 'data:/v1'], volumes: { '/anon': {} }, imageVolumes: { '/mnt': {}, '/var/lib/db': {}, '/cache': {} }, volumesFrom: from, tmpfs: ['/cache'],
  }, yes);
  const by = new Map(pts.map((p) => [p.Destination, p]));
  assert.equal(by.get('/shared')!.RW, false, 'volumes-from :ro');
  assert.equal(by.get('/v1')!.Name, 'data', '-v wins over volumes-from');
  assert.equal(by.get('/mnt')!.Type, 'bind', 'a bind wins over the image VOLUME');
  assert.equal(by.get('/var/lib/db')!.Anonymous, true);
  assert.equal(by.get('/anon')!.Anonymous, true);
  assert.ok(!by.has('/cache'), '--tmpfs takes the image VOLUME\'s place');
  assert.throws(() => planMountPoints({ binds: ['/a:/x'], mounts: [{ Type: 'tmpfs', Target: '/x' }] }, yes), /Duplicate mount point: \/x/);
  assert.deepEqual(parseVolumesFrom('ctr:ro'), { ref: 'ctr', rw: false });
  assert.deepEqual(parseVolumesFrom('ctr'), { ref: 'ctr' });
  assert.throws(() => parseVolumesFrom('ctr:xx'), /invalid mode: xx/);
});

test('ociMounts and inspectMounts: options, order, Docker\'s fields', () => {
  const pts = [parseBindSpec('data:/a/b:ro'), parseBindSpec('/h:/a'), parseApiMount({ Type: 'tmpfs', Target: '/t', TmpfsOptions: { SizeBytes: 1024 } }, yes)];
  pts[0]!.Source = '/vol/data/_data';
  const oci = ociMounts(pts, (p) => p.Source);
  assert.deepEqual(oci.map((m) => m.destination), ['/a', '/t', '/a/b'], 'a mount inside another goes on top of it');
  assert.deepEqual(oci[0], { destination: '/a', type: 'bind', source: '/h', options: ['rbind', 'rprivate'] });
  assert.deepEqual(oci[2]!.options, ['rbind', 'ro', 'rprivate']);
  assert.deepEqual(oci[1], { destination: '/t', type: 'tmpfs', source: 'tmpfs', options: ['nosuid', 'nodev', 'noexec', 'size=1024'] });
  assert.deepEqual(inspectMounts([pts[0]!]), [{ Type: 'volume', Name: 'data', Source: '/vol/data/_data', Destination: '/a/b', Driver: 'local', Mode: 'ro', RW: false, Propagation: '' }]);
});
