// "No setting is taken and ignored": daemon.json keys berth refuses or acts on, the create-time
// refusals until volumes exist, daemon defaults for dns/ulimits, the -H tcp:// rule, info's fields.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loadConfig, tcpHostCheck } from '../../src/config/daemon-config.js';
import { createWarnings, effectiveDns, imageVolumeWarnings, mergeUlimits, parseDefaultUlimits, refuseUnsupportedFields } from '../../src/core/create-settings.js';
import { backingFsName } from '../../src/services/system-service.js';
import { swarmRoutes, NOT_IN_SWARM, NOT_MANAGER } from '../../src/api/routes/swarm.js';

const file = (o: unknown) => (p: string) => (p === '/c.json' ? JSON.stringify(o) : undefined);
const load = (o: unknown, flags: Record<string, unknown> = {}) => loadConfig({ 'config-file': '/c.json', ...flags }, file(o));

test('daemon.json: unsupported dockerd keys are refused, not ignored; registry keys are taken and checked', () => {
  const c = load({ 'insecure-registries': ['r:5000', '10.0.0.0/8'], 'registry-mirrors': ['https://m'] });
  assert.equal(c.registry.IndexConfigs['r:5000']?.Secure, false);
  assert.deepEqual(c.registry.Mirrors, ['https://m/']);
  assert.throws(() => load({ 'registry-mirrors': ['m:5000'] }), /invalid mirror: no scheme specified for "m:5000"/);
  assert.throws(() => load({ 'insecure-registries': 'r:5000' }), /insecure-registries must be a list of strings/);
  assert.throws(() => load({ 'storage-driver': 'vfs' }), /overlay2 only/);
  assert.doesNotThrow(() => load({ 'storage-driver': 'overlay2', experimental: false }));
  assert.throws(() => load({ experimental: true }), /experimental/);
  assert.throws(() => load({ 'no-such-key': 1 }), /the following directives don't match any configuration option: no-such-key/);
});

test('daemon.json: dns, dns-search, dns-opts, default-ulimits, live-restore, debug are taken', () => {
  const c = load({
    dns: ['1.1.1.1'], 'dns-search': ['example.org'], 'dns-opts': ['ndots:2'], 'live-restore': false, debug: true,
    'default-ulimits': { nofile: { Name: 'nofile', Soft: 1024, Hard: 2048 } },
  });
  assert.deepEqual([c.dns, c.dnsSearch, c.dnsOptions], [['1.1.1.1'], ['example.org'], ['ndots:2']]);
  assert.deepEqual(c.defaultUlimits, [{ Name: 'nofile', Soft: 1024, Hard: 2048 }]);
  assert.equal(c.liveRestore, false);
  assert.equal(c.debug, true);
  assert.equal(c.logLevel, 'debug');
  assert.equal(load({}).liveRestore, true, "berth's default: live-restore");
  assert.equal(load({}, { debug: true }).debug, true);
  assert.throws(() => load({ dns: ['not-an-ip'] }), /not-an-ip is not an ip address/);
  assert.throws(() => load({ dns: '1.1.1.1' }), /dns must be a list of strings/);
  assert.throws(() => load({ 'live-restore': 'yes' }), /live-restore must be a boolean/);
  assert.throws(() => load({ 'default-ulimits': { nofile: { Soft: 10, Hard: 5 } } }), /soft limit must be less than or equal to hard limit/);
  assert.throws(() => load({ 'default-ulimits': { bogus: { Soft: 1, Hard: 1 } } }), /invalid ulimit type: bogus/);
});

test('-H tcp:// without TLS: refused off loopback unless forced, a warning on loopback', () => {
  assert.match(tcpHostCheck('tcp://0.0.0.0:2375', false).refuse ?? '', /without --tlsverify is insecure/);
  assert.match(tcpHostCheck('tcp://10.1.2.3:2375', false).refuse ?? '', /--unsafe-tcp/);
  assert.equal(tcpHostCheck('tcp://0.0.0.0:2375', true).refuse, undefined);
  assert.match(tcpHostCheck('tcp://0.0.0.0:2375', true).warn ?? '', /insecure/);
  assert.equal(tcpHostCheck('tcp://127.0.0.1:2375', false).refuse, undefined);
  assert.match(tcpHostCheck('tcp://127.0.0.1:2375', false).warn ?? '', /insecure/);
  assert.deepEqual(tcpHostCheck('unix:///run/x.sock', false), {});
});

test('create: binds, mounts, volumes-from and Volumes are taken now; a volume driver other than local is refused', () => {
  assert.doesNotThrow(() => refuseUnsupportedFields({ Volumes: { '/data': {} }, HostConfig: { Binds: ['/tmp:/x'], Mounts: [{ Type: 'bind' }], VolumesFrom: ['other'] } }));
  assert.doesNotThrow(() => refuseUnsupportedFields({ HostConfig: { VolumeDriver: 'local' } }));
  assert.throws(() => refuseUnsupportedFields({ HostConfig: { VolumeDriver: 'nfs-plugin' } }), /only the local volume driver is supported/);
  assert.deepEqual(imageVolumeWarnings(undefined), []);
});

test('create warnings as moby gives them: ports with host networking, no OOM killer without a memory limit', () => {
  assert.deepEqual(createWarnings({ NetworkMode: 'host', PortBindings: { '80/tcp': [{ HostPort: '8080' }] } }), ['Published ports are discarded when using host network mode']);
  assert.deepEqual(createWarnings({ NetworkMode: 'host', PortBindings: {} }), []);
  assert.deepEqual(createWarnings({ NetworkMode: 'bridge', PortBindings: { '80/tcp': [] } }), []);
  assert.deepEqual(createWarnings({ OomKillDisable: true }), ['OOM killer is disabled for the container, but no memory limit is set, this can result in the system running out of resources.']);
  assert.deepEqual(createWarnings({ OomKillDisable: true, Memory: 64 << 20 }), []);
  assert.deepEqual(createWarnings({ OomKillDisable: false }), []);
});

test('daemon defaults: dns per list when the container gives none; ulimits merged by name', () => {
  const d = { dns: ['9.9.9.9'], dnsSearch: ['d.example'], dnsOptions: [] };
  assert.deepEqual(effectiveDns({ dns: ['1.1.1.1'] }, d), { dns: ['1.1.1.1'], dnsSearch: ['d.example'], dnsOptions: undefined });
  assert.deepEqual(effectiveDns({ dns: [] }, d).dns, ['9.9.9.9']);
  const defs = parseDefaultUlimits({ nofile: { Soft: 1, Hard: 2 }, nproc: { Name: 'nproc', Soft: 3, Hard: 4 } });
  assert.deepEqual(mergeUlimits([{ Name: 'nofile', Soft: 10, Hard: 20 }], defs),
    [{ Name: 'nofile', Soft: 10, Hard: 20 }, { Name: 'nproc', Soft: 3, Hard: 4 }]);
});

test('info: Backing Filesystem names statfs magics as dockerd does', () => {
  assert.equal(backingFsName(0xef53), 'extfs');
  assert.equal(backingFsName(0x58465342), 'xfs');
  assert.equal(backingFsName(0x9123683e), 'btrfs');
  assert.equal(backingFsName(0x01021994), 'tmpfs');
  assert.equal(backingFsName(0x794c7630), 'overlayfs');
  assert.equal(backingFsName(-0x6edc97c2), 'btrfs', 'a signed f_type');
  assert.equal(backingFsName(12345), '<unknown>');
});

test('swarm endpoints answer 503 as a Docker outside a swarm', () => {
  const routes = swarmRoutes();
  const find = (m: string, p: string) => routes.find((r) => r.method === m && r.path === p);
  for (const [m, p, msg] of [['POST', '/swarm/leave', NOT_IN_SWARM], ['GET', '/swarm', NOT_MANAGER], ['GET', '/nodes', NOT_MANAGER],
    ['GET', '/services', NOT_MANAGER], ['GET', '/tasks', NOT_MANAGER], ['GET', '/secrets', NOT_MANAGER], ['GET', '/configs/{id}', NOT_MANAGER]] as const) {
    const r = find(m, p);
    assert.ok(r, `${m} ${p}`);
    assert.throws(() => r.handler({} as never), (e: Error & { kind?: string }) => e.kind === 'Unavailable' && e.message === msg);
  }
});
