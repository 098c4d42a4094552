import { test } from 'node:test';
import assert from 'node:assert/strict';
import { buildSpec, computeCapabilities, type HostInfo, type SpecInput } from '../../src/core/oci-spec.js';
import { readHostInfo } from '../../src/sys/host-info.js';
import { loadDefaultSeccompProfile } from '../../src/store/seccomp-default.js';
import { convertSeccompProfile, kernelAtLeast, type DockerSeccompProfile } from '../../src/core/seccomp.js';
import { InvalidParameterError } from '../../src/errors.js';

const host: HostInfo = {
  kernel: '6.1.0-18-amd64',
  arch: 'amd64',
  hardLimits: { RLIMIT_NOFILE: 20000, RLIMIT_NPROC: 1000 },
  capLastCap: 40,
  swapAccounting: true,
  thermalThrottlePaths: [],
};

function input(over: Partial<SpecInput> = {}): SpecInput {
  return {
    id: 'abc',
    args: ['sh', '-c', 'true'],
    env: [],
    cwd: '/',
    user: { uid: 0, gid: 0, additionalGids: [] },
    hostname: 'abc123',
    tty: false,
    openStdin: false,
    rootfs: '/var/lib/berth/containers/abc/merged',
    network: { mode: 'none' },
    cgroupsPath: '/berth/abc',
    resources: {},
    host,
    defaultSeccomp: loadDefaultSeccompProfile(),
    ...over,
  };
}

const DEFAULT_CAPS = [
  'CAP_AUDIT_WRITE', 'CAP_CHOWN', 'CAP_DAC_OVERRIDE', 'CAP_FOWNER', 'CAP_FSETID', 'CAP_KILL', 'CAP_MKNOD',
  'CAP_NET_BIND_SERVICE', 'CAP_NET_RAW', 'CAP_SETFCAP', 'CAP_SETGID', 'CAP_SETPCAP', 'CAP_SETUID', 'CAP_SYS_CHROOT',
];

test('default capabilities: the 14 in bounding/effective/permitted, none inheritable or ambient', () => {
  const s = buildSpec(input());
  const c = s.process.capabilities;
  assert.deepEqual([...c.bounding].sort(), DEFAULT_CAPS);
  assert.deepEqual([...c.effective].sort(), DEFAULT_CAPS);
  assert.deepEqual([...c.permitted].sort(), DEFAULT_CAPS);
  assert.equal(c.inheritable, undefined);
  assert.equal(c.ambient, undefined);
});

test('cap-add/cap-drop follow moby TweakCapabilities', () => {
  const caps = computeCapabilities({ capAdd: ['net_admin', 'CAP_SYS_ADMIN'], capDrop: ['MKNOD', 'cap_chown'] });
  assert.ok(caps.includes('CAP_NET_ADMIN') && caps.includes('CAP_SYS_ADMIN'));
  assert.ok(!caps.includes('CAP_MKNOD') && !caps.includes('CAP_CHOWN'));
  assert.equal(caps.length, 14);
  assert.deepEqual(computeCapabilities({ capDrop: ['ALL'], capAdd: ['KILL'] }), ['CAP_KILL']);
  const all = computeCapabilities({ capAdd: ['ALL'], capDrop: ['SYS_ADMIN'] });
  assert.equal(all.length, 40);
  assert.ok(!all.includes('CAP_SYS_ADMIN'));
  assert.equal(computeCapabilities({ privileged: true, capLastCap: 37 }).length, 38);
  const bnd = computeCapabilities({ privileged: true, boundingCaps: ['CAP_CHOWN', 'CAP_SYS_ADMIN'] });
  assert.deepEqual(bnd, ['CAP_CHOWN', 'CAP_SYS_ADMIN']);
  assert.ok(!computeCapabilities({ capAdd: ['ALL'], boundingCaps: ['CAP_KILL'] }).includes('CAP_SYS_RESOURCE'));
  assert.throws(() => computeCapabilities({ capAdd: ['NOPE'] }), (e: unknown) => e instanceof InvalidParameterError && /unknown capability: "NOPE"/.test(e.message));
});

test('masked and readonly paths as Docker; privileged clears them', () => {
  const s = buildSpec(input());
  assert.equal(s.linux.maskedPaths?.length, 12);
  assert.ok(s.linux.maskedPaths?.includes('/proc/kcore'));
  assert.ok(s.linux.maskedPaths?.includes('/proc/interrupts'));
  assert.ok(s.linux.maskedPaths?.includes('/sys/firmware'));
  assert.deepEqual(s.linux.readonlyPaths, ['/proc/bus', '/proc/fs', '/proc/irq', '/proc/sys', '/proc/sysrq-trigger']);
  const withThermal = buildSpec(input({ host: { ...host, thermalThrottlePaths: ['/sys/devices/system/cpu/cpu0/thermal_throttle'] } }));
  assert.equal(withThermal.linux.maskedPaths?.length, 13);
  const p = buildSpec(input({ privileged: true }));
  assert.equal(p.linux.maskedPaths, undefined);
  assert.equal(p.linux.readonlyPaths, undefined);
  assert.equal(p.linux.seccomp, undefined);
  assert.equal(p.process.capabilities.effective.length, 41);
  assert.deepEqual(p.linux.resources.devices, [{ allow: true, access: 'rwm' }]);
  const sys = p.mounts.find((m) => m.destination === '/sys')!;
  assert.ok(!sys.options.includes('ro'));
});

test('namespaces per network mode', () => {
  const types = (s: ReturnType<typeof buildSpec>) => s.linux.namespaces.map((n) => n.type).sort();
  assert.deepEqual(types(buildSpec(input())), ['ipc', 'mount', 'network', 'pid', 'uts']);
  assert.equal(buildSpec(input()).linux.namespaces.find((n) => n.type === 'network')?.path, undefined);
  const h = buildSpec(input({ network: { mode: 'host' } }));
  assert.deepEqual(types(h), ['ipc', 'mount', 'pid', 'uts']);
  assert.equal(h.linux.sysctl, undefined);
  const p = buildSpec(input({ network: { mode: 'path', netnsPath: '/run/netns/x' } }));
  assert.equal(p.linux.namespaces.find((n) => n.type === 'network')?.path, '/run/netns/x');
  assert.equal(buildSpec(input()).linux.sysctl?.['net.ipv4.ip_unprivileged_port_start'], '0');
  assert.throws(() => buildSpec(input({ network: { mode: 'path' } })), InvalidParameterError);
});

test('default mounts, shm size and user mount replacement', () => {
  const s = buildSpec(input({ shmSize: 128 * 1024 * 1024 }));
  const dests = s.mounts.map((m) => m.destination);
  assert.deepEqual(dests, ['/proc', '/dev', '/dev/pts', '/sys', '/sys/fs/cgroup', '/dev/mqueue', '/dev/shm']);
  assert.ok(s.mounts.find((m) => m.destination === '/dev/shm')!.options.includes(`size=${128 * 1024 * 1024}`));
  assert.ok(buildSpec(input()).mounts.find((m) => m.destination === '/dev/shm')!.options.includes(`size=${64 * 1024 * 1024}`));
  assert.ok(s.mounts.find((m) => m.destination === '/sys')!.options.includes('ro'));
  const extra = { destination: '/etc/hosts', type: 'bind', source: '/x/hosts', options: ['rbind', 'rprivate'] };
  const shm = { destination: '/dev/shm', type: 'bind', source: '/x/shm', options: ['rbind'] };
  const u = buildSpec(input({ mounts: [extra, shm] }));
  assert.deepEqual(u.mounts.slice(-2), [extra, shm]);
  assert.equal(u.mounts.filter((m) => m.destination === '/dev/shm').length, 1);
});

test('memory, swap, cpu, cpuset, pids mapping', () => {
  const s = buildSpec(input({ resources: { memory: 64 << 20, nanoCpus: 1_500_000_000, cpuShares: 512, cpusetCpus: '0-1', cpusetMems: '0', pidsLimit: 20, oomKillDisable: true } }));
  assert.equal(s.linux.resources.memory?.limit, 64 << 20);
  assert.equal(s.linux.resources.memory?.swap, 128 << 20);
  assert.equal(s.linux.resources.memory?.disableOOMKiller, true);
  assert.deepEqual(s.linux.resources.cpu, { shares: 512, period: 100000, quota: 150000, cpus: '0-1', mems: '0' });
  assert.deepEqual(s.linux.resources.pids, { limit: 20 });
  assert.equal(buildSpec(input({ resources: { memory: 1 << 30, memorySwap: -1 } })).linux.resources.memory?.swap, -1);
  assert.equal(buildSpec(input({ resources: { memory: 1 << 30, memorySwap: 3 << 30 } })).linux.resources.memory?.swap, 3 << 30);
  const noSwap = buildSpec(input({ resources: { memory: 1 << 30 }, host: { ...host, swapAccounting: false } }));
  assert.equal(noSwap.linux.resources.memory?.swap, undefined);
  const none = buildSpec(input());
  assert.equal(none.linux.resources.memory, undefined);
  assert.equal(none.linux.resources.cpu, undefined);
  assert.equal(none.linux.resources.pids, undefined);
  assert.equal(none.linux.resources.devices[0]!.allow, false);
  assert.ok(none.linux.resources.devices.some((d) => d.allow === false && d.major === 10 && d.minor === 229));
});

test('rlimit NOFILE 1024:524288 clamped to the host hard limit', () => {
  const s = buildSpec(input());
  assert.deepEqual(s.process.rlimits, [{ type: 'RLIMIT_NOFILE', soft: 1024, hard: 20000 }]);
  const big = buildSpec(input({ host: { ...host, hardLimits: { RLIMIT_NOFILE: 1048576 } } }));
  assert.deepEqual(big.process.rlimits, [{ type: 'RLIMIT_NOFILE', soft: 1024, hard: 524288 }]);
  const user = buildSpec(input({ rlimits: [{ type: 'RLIMIT_NOFILE', soft: 50000, hard: 60000 }, { type: 'RLIMIT_NPROC', soft: 10, hard: 5000 }] }));
  assert.deepEqual(user.process.rlimits, [{ type: 'RLIMIT_NOFILE', soft: 20000, hard: 20000 }, { type: 'RLIMIT_NPROC', soft: 10, hard: 1000 }]);
  assert.throws(() => buildSpec(input({ rlimits: [{ type: 'RLIMIT_NPROC', soft: 10, hard: 5 }] })), InvalidParameterError);
});

test('the real host: NOFILE never above the host hard limit', () => {
  const h = readHostInfo();
  const s = buildSpec(input({ host: h }));
  const nofile = s.process.rlimits.find((r) => r.type === 'RLIMIT_NOFILE')!;
  assert.ok(nofile.hard <= (h.hardLimits['RLIMIT_NOFILE'] ?? Infinity));
});

test('process: env defaults, user, cwd, tty, no-new-privileges', () => {
  const s = buildSpec(input({ env: ['FOO=bar', 'HOSTNAME=override'], tty: true, cwd: '/work', user: { uid: 1000, gid: 100, additionalGids: [10, 20] }, noNewPrivileges: true }));
  assert.deepEqual(s.process.env, [`PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin`, 'HOSTNAME=override', 'TERM=xterm', 'FOO=bar']);
  const p = buildSpec(input({ env: ['PATH=/bin'] }));
  assert.deepEqual(p.process.env, ['PATH=/bin', 'HOSTNAME=abc123']);
  assert.equal(s.process.terminal, true);
  assert.equal(s.process.cwd, '/work');
  assert.deepEqual(s.process.user, { uid: 1000, gid: 100, additionalGids: [10, 20] });
  assert.equal(s.process.noNewPrivileges, true);
  assert.equal(buildSpec(input()).process.noNewPrivileges, false);
  assert.equal(s.process.oomScoreAdj, 0);
  assert.equal(s.process.apparmorProfile, undefined);
  assert.equal(s.root.readonly, false);
  assert.equal(buildSpec(input({ readonlyRootfs: true })).root.readonly, true);
  assert.equal(s.linux.cgroupsPath, '/berth/abc');
});

test('default seccomp: x86_64 arches, EPERM default, cap-conditional rules', () => {
  const s = buildSpec(input()).linux.seccomp!;
  assert.equal(s.defaultAction, 'SCMP_ACT_ERRNO');
  assert.equal(s.defaultErrnoRet, 1);
  assert.deepEqual(s.architectures, ['SCMP_ARCH_X86_64', 'SCMP_ARCH_X86', 'SCMP_ARCH_X32']);
  const has = (sc: typeof s, name: string, pred: (r: NonNullable<typeof s.syscalls>[number]) => boolean = () => true) =>
    (sc.syscalls ?? []).some((r) => r.names.includes(name) && pred(r));
  assert.ok(has(s, 'read', (r) => r.action === 'SCMP_ACT_ALLOW'));
  assert.ok(has(s, 'arch_prctl'));
  assert.ok(!has(s, 'riscv_flush_icache'));
  assert.ok(!has(s, 's390_pci_mmio_read'));
  assert.ok(!has(s, 'mount'));
  assert.ok(!has(s, 'keyctl'));
  assert.ok(has(s, 'chroot'));
  assert.ok(has(s, 'clone3', (r) => r.action === 'SCMP_ACT_ERRNO' && r.errnoRet === 38));
  assert.ok(has(s, 'clone', (r) => r.args?.[0]?.op === 'SCMP_CMP_MASKED_EQ' && r.args[0].index === 0));
  assert.ok(!has(s, 'clone', (r) => r.args?.[0]?.index === 1)); // the s390 variant
  assert.ok(has(s, 'ptrace')); // kernel >= 4.8

  const admin = buildSpec(input({ capAdd: ['SYS_ADMIN'] })).linux.seccomp!;
  assert.ok(has(admin, 'mount'));
  assert.ok(!has(admin, 'clone3', (r) => r.action === 'SCMP_ACT_ERRNO'));
  assert.ok(!has(admin, 'clone', (r) => r.args !== undefined));
  const noChroot = buildSpec(input({ capDrop: ['SYS_CHROOT'] })).linux.seccomp!;
  assert.ok(!has(noChroot, 'chroot'));
  const old = buildSpec(input({ host: { ...host, kernel: '4.4.0' } })).linux.seccomp!;
  assert.ok(!has(old, 'process_vm_readv', (r) => r.action === 'SCMP_ACT_ALLOW' && r.names.includes('ptrace')));
  assert.equal(buildSpec(input({ seccomp: 'unconfined' })).linux.seccomp, undefined);
});

test('custom seccomp profile applies, also with --privileged', () => {
  const profile: DockerSeccompProfile = {
    defaultAction: 'SCMP_ACT_ALLOW',
    architectures: ['SCMP_ARCH_X86_64'],
    syscalls: [
      { name: 'chmod', action: 'SCMP_ACT_ERRNO' },
      { names: ['mkdir'], action: 'SCMP_ACT_ERRNO', errnoRet: 13, excludes: { caps: ['CAP_SYS_ADMIN'] } },
    ],
  };
  const s = buildSpec(input({ seccomp: profile, privileged: true })).linux.seccomp!;
  assert.deepEqual(s.architectures, ['SCMP_ARCH_X86_64']);
  assert.deepEqual(s.syscalls, [{ names: ['chmod'], action: 'SCMP_ACT_ERRNO' }]);
  const t = convertSeccompProfile(profile, { arch: 'amd64', caps: [], kernel: '6.1' });
  assert.deepEqual(t.syscalls?.[1], { names: ['mkdir'], action: 'SCMP_ACT_ERRNO', errnoRet: 13 });
  assert.throws(() => convertSeccompProfile({ ...profile, archMap: [{ architecture: 'SCMP_ARCH_X86_64' }] }, { arch: 'amd64', caps: [], kernel: '6.1' }), InvalidParameterError);
  const arm = convertSeccompProfile({ defaultAction: 'SCMP_ACT_ERRNO', archMap: [{ architecture: 'SCMP_ARCH_X86_64', subArchitectures: ['SCMP_ARCH_X86'] }, { architecture: 'SCMP_ARCH_AARCH64', subArchitectures: ['SCMP_ARCH_ARM'] }] }, { arch: 'arm64', caps: [], kernel: '6.1' });
  assert.deepEqual(arm.architectures, ['SCMP_ARCH_AARCH64', 'SCMP_ARCH_ARM']);
});

test('kernelAtLeast', () => {
  assert.equal(kernelAtLeast('6.18.44-fc-v769', '4.8'), true);
  assert.equal(kernelAtLeast('4.8.0', '4.8'), true);
  assert.equal(kernelAtLeast('4.7.10', '4.8'), false);
  assert.equal(kernelAtLeast('3.10', '4.8'), false);
});
