import { test } from 'node:test';
import assert from 'node:assert/strict';
import { initialState } from '../../src/core/container-state.js';
import { InvalidParameterError } from '../../src/errors.js';
import { planHostname, planStart, type StartFacts } from '../../src/services/containers/start-plan.js';
import type { ContainerRecord } from '../../src/services/containers/types.js';

const ID = 'f'.repeat(64);

function record(over: { Config?: Partial<ContainerRecord['Config']>; HostConfig?: Partial<ContainerRecord['HostConfig']> } = {}): ContainerRecord {
  return {
    Id: ID, Created: new Date().toISOString(), Path: 'sh', Args: ['-c', 'true'], State: initialState(), Image: 'sha256:img',
    Name: '/web', RestartCount: 0,
    Config: { Image: 'busybox', Env: ['PATH=/bin'], ...over.Config } as ContainerRecord['Config'],
    HostConfig: { NetworkMode: 'default', LogConfig: { Type: 'json-file', Config: {} }, ...over.HostConfig } as ContainerRecord['HostConfig'],
    LogPath: '/d/ctr.log', HostnamePath: '/d/hostname', HostsPath: '/d/hosts', ResolvConfPath: '/d/resolv.conf',
  };
}

const facts: StartFacts = {
  rootfs: '/d/merged', user: { uid: 1000, gid: 1000, additionalGids: [10], home: '/home/u' }, hostname: 'web1',
  network: { mode: 'path', netnsPath: '/run/netns/x' }, devices: { devices: [], rules: [] },
};

test('the plan: etc files bound first, HOME from the resolved user, cgroup per container', () => {
  const { spec, create } = planStart(record(), facts);
  assert.deepEqual(spec.args, ['sh', '-c', 'true']);
  assert.deepEqual(spec.env, ['PATH=/bin', 'HOME=/home/u']);
  assert.deepEqual(spec.mounts!.map((m) => m.destination), ['/etc/resolv.conf', '/etc/hostname', '/etc/hosts']);
  assert.equal(spec.mounts![2]!.source, '/d/hosts');
  assert.equal(spec.cgroupsPath, `/berth/${ID}`);
  assert.equal(spec.cwd, '/');
  assert.deepEqual(spec.network, facts.network);
  assert.equal(spec.seccomp, 'default');
  assert.deepEqual(create, { tty: false, openStdin: false, stdinOnce: false, logPath: '/d/ctr.log', logDriver: 'k8s-file', logSizeMax: undefined });
});

test('--init, --tmpfs, --group-add, ulimits, seccomp=unconfined, --uts host and log limits', () => {
  const { spec, create } = planStart(record({
    Config: { Env: ['HOME=/root'], WorkingDir: '/app' },
    HostConfig: {
      Init: true, Tmpfs: { '/run': 'exec,size=1m' }, GroupAdd: ['27', '10'], UTSMode: 'host',
      Ulimits: [{ Name: 'nofile', Soft: 10, Hard: 20 }], SecurityOpt: ['seccomp=unconfined', 'no-new-privileges'],
      LogConfig: { Type: 'json-file', Config: { 'max-size': '1k' } }, PidsLimit: -1, Memory: 1 << 20,
    },
  }), facts);
  assert.deepEqual(spec.args, ['/sbin/docker-init', '--', 'sh', '-c', 'true']);
  assert.deepEqual(spec.env, ['HOME=/root']);
  assert.equal(spec.cwd, '/app');
  const tmpfs = spec.mounts!.find((m) => m.destination === '/run')!;
  assert.deepEqual(tmpfs.options, ['nosuid', 'nodev', 'exec', 'size=1m']);
  assert.equal(spec.mounts!.at(-1)!.destination, '/sbin/docker-init');
  assert.deepEqual(spec.user.additionalGids, [10, 27]);
  assert.deepEqual(spec.rlimits, [{ type: 'RLIMIT_NOFILE', soft: 10, hard: 20 }]);
  assert.equal(spec.seccomp, 'unconfined');
  assert.equal(spec.noNewPrivileges, true);
  assert.equal(spec.utsNamespace, 'host');
  assert.equal(spec.resources.pidsLimit, undefined);
  assert.equal(spec.resources.memory, 1 << 20);
  assert.equal(create.logSizeMax, 1024);
  assert.equal(planStart(record({ HostConfig: { LogConfig: { Type: 'none', Config: {} } } }), facts).create.logDriver, 'none');
});

test('bad options are refused before anything runs', () => {
  assert.throws(() => planStart(record({ HostConfig: { GroupAdd: ['wheel'] } }), facts), InvalidParameterError);
  assert.throws(() => planStart(record({ HostConfig: { Tmpfs: { run: '' } } }), facts), /mount path must be absolute/);
  assert.throws(() => planStart(record({ HostConfig: { SecurityOpt: ['seccomp={bad'] } }), facts), /invalid seccomp profile/);
});

test('hostname: the host\'s with --network/--uts host, the joined container\'s, else its own or the short id', () => {
  assert.equal(planHostname(record({ HostConfig: { NetworkMode: 'host' } }), { hostHostname: 'h' }), 'h');
  assert.equal(planHostname(record({ HostConfig: { UTSMode: 'host' } }), { hostHostname: 'h' }), 'h');
  assert.equal(planHostname(record(), { hostHostname: 'h' }), ID.slice(0, 12));
  assert.equal(planHostname(record({ Config: { Hostname: 'mine' } }), { hostHostname: 'h' }), 'mine');
  const other = record({ Config: { Hostname: 'theirs' } });
  assert.equal(planHostname(record(), { hostHostname: 'h', joined: other }), 'theirs');
});
