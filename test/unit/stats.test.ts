import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  buildStats, convertV1, convertV2, parseNetDev, parseProcStat, parsePsOutput, zeroStats, ZERO_TIME,
} from '../../src/services/stats-service.js';
import { execProcessSpec, parseExecSync, execConmonOptions } from '../../src/runtime/conmon-exec.js';
import { conmonArgs } from '../../src/runtime/conmon.js';
import { execStartExitCode } from '../../src/services/exec-service.js';
import { replaceOrAppendEnv as mergeEnv } from '../../src/core/env.js';
import type { OciProcess } from '../../src/core/oci-spec.js';

const GiB = 1024 ** 3;

test('cgroup v1 files → Docker memory, cpu, pids and blkio stats', () => {
  const s = convertV1({
    'memory.usage_in_bytes': '2129920\n',
    'memory.max_usage_in_bytes': '4000000\n',
    'memory.limit_in_bytes': '9223372036854771712\n',
    'memory.stat': 'cache 24576\nrss 57344\ntotal_inactive_file 126976\n',
    'cpuacct.usage': '28348745\n',
    'cpuacct.usage_percpu': '10855288 17493457 \n',
    'cpuacct.stat': 'user 3\nsystem 2\n',
    'cpu.stat': 'nr_periods 10\nnr_throttled 4\nthrottled_time 5000\n',
    'pids.current': '3\n',
    'pids.max': 'max\n',
    'blkio.throttle.io_service_bytes': '8:0 Read 4096\n8:0 Write 8192\n8:0 Total 12288\nTotal 12288\n',
  }, 8 * GiB);
  assert.equal(s.memory.usage, 2129920);
  assert.equal(s.memory.max_usage, 4000000);
  assert.equal(s.memory.limit, 8 * GiB, 'an unlimited cgroup shows the machine memory');
  assert.equal(s.memory.stats?.total_inactive_file, 126976);
  assert.equal(s.cpu.cpu_usage.total_usage, 28348745);
  assert.deepEqual(s.cpu.cpu_usage.percpu_usage, [10855288, 17493457]);
  assert.equal(s.cpu.cpu_usage.usage_in_usermode, 30_000_000);
  assert.equal(s.cpu.cpu_usage.usage_in_kernelmode, 20_000_000);
  assert.deepEqual(s.cpu.throttling_data, { periods: 10, throttled_periods: 4, throttled_time: 5000 });
  assert.deepEqual(s.pids, { current: 3 }, 'pids.max "max" is omitted');
  assert.deepEqual(s.blkio.serviceBytes, [
    { major: 8, minor: 0, op: 'Read', value: 4096 }, { major: 8, minor: 0, op: 'Write', value: 8192 },
    { major: 8, minor: 0, op: 'Total', value: 12288 },
  ]);
  assert.equal(s.blkio.serviced, null, 'a missing file is null, as Docker');
  const limited = convertV1({ 'memory.limit_in_bytes': '67108864', 'pids.max': '20' }, 8 * GiB);
  assert.equal(limited.memory.limit, 67108864);
  assert.equal(limited.pids.limit, 20);
});

test('cgroup v2 files → Docker stats', () => {
  const s = convertV2({
    'memory.current': '5242880\n', 'memory.max': 'max\n', 'memory.stat': 'anon 4096\ninactive_file 1024\n',
    'cpu.stat': 'usage_usec 1500\nuser_usec 1000\nsystem_usec 500\nnr_periods 2\nnr_throttled 1\nthrottled_usec 7\n',
    'pids.current': '2\n', 'pids.max': '50\n', 'io.stat': '8:0 rbytes=100 wbytes=200 rios=1 wios=2 dbytes=0 dios=0\n',
  }, 4 * GiB);
  assert.equal(s.memory.usage, 5242880);
  assert.equal(s.memory.limit, 4 * GiB);
  assert.equal(s.memory.stats?.inactive_file, 1024);
  assert.equal(s.cpu.cpu_usage.total_usage, 1_500_000);
  assert.equal(s.cpu.cpu_usage.usage_in_usermode, 1_000_000);
  assert.equal(s.cpu.cpu_usage.usage_in_kernelmode, 500_000);
  assert.equal(s.cpu.cpu_usage.percpu_usage, undefined);
  assert.deepEqual(s.cpu.throttling_data, { periods: 2, throttled_periods: 1, throttled_time: 7000 });
  assert.deepEqual(s.pids, { current: 2, limit: 50 });
  assert.deepEqual(s.blkio.serviceBytes, [{ major: 8, minor: 0, op: 'read', value: 100 }, { major: 8, minor: 0, op: 'write', value: 200 }]);
  assert.deepEqual(s.blkio.serviced, [{ major: 8, minor: 0, op: 'read', value: 1 }, { major: 8, minor: 0, op: 'write', value: 2 }]);
  assert.equal(convertV2({ 'memory.max': '1048576' }, 4 * GiB).memory.limit, 1048576);
});

test('/proc/stat and net/dev parsing', () => {
  const p = parseProcStat('cpu  100 2 30 400 5 6 7 8 0 0\ncpu0 50 1 15 200 2 3 3 4 0 0\ncpu1 50 1 15 200 3 3 4 4 0 0\nintr 1\n');
  assert.equal(p.systemCpuUsage, (100 + 2 + 30 + 400 + 5 + 6 + 7) * 10_000_000, 'steal is not counted');
  assert.equal(p.onlineCpus, 2);
  const n = parseNetDev(
    'Inter-|   Receive                                                |  Transmit\n' +
    ' face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed\n' +
    '    lo:     100       1    0    0    0     0          0         0      100       1    0    0    0     0       0          0\n' +
    '  eth0:    1500      10    1    2    0     0          0         0      700       5    3    4    0     0       0          0\n');
  assert.deepEqual(Object.keys(n), ['eth0']);
  assert.deepEqual(n.eth0, { rx_bytes: 1500, rx_packets: 10, rx_errors: 1, rx_dropped: 2, tx_bytes: 700, tx_packets: 5, tx_errors: 3, tx_dropped: 4 });
});

test('buildStats carries the previous cpu sample and read time; zeroStats is Docker\'s empty object', () => {
  const sample = convertV1({ 'cpuacct.usage': '10' }, GiB);
  const first = buildStats({ name: '/c', id: 'abc', read: new Date(1000), sample, proc: { systemCpuUsage: 5, onlineCpus: 2 } });
  assert.equal(first.preread, ZERO_TIME);
  assert.equal(first.precpu_stats.cpu_usage.total_usage, 0);
  const second = buildStats({ name: '/c', id: 'abc', read: new Date(2000), sample: convertV1({ 'cpuacct.usage': '30' }, GiB), proc: { systemCpuUsage: 9, onlineCpus: 2 }, prev: first });
  assert.equal(second.preread, new Date(1000).toISOString());
  assert.equal(second.precpu_stats.cpu_usage.total_usage, 10);
  assert.equal(second.precpu_stats.system_cpu_usage, 5);
  assert.equal(second.cpu_stats.cpu_usage.total_usage, 30);
  const z = zeroStats('/c', 'abc');
  assert.equal(z.read, ZERO_TIME);
  assert.deepEqual(z.memory_stats, {});
  assert.equal(z.blkio_stats.io_service_bytes_recursive, null);
});

test('ps output: rows of the container pids only, CMD keeps its spaces', () => {
  const out = 'UID          PID    PPID  C STIME TTY          TIME CMD\n' +
    'root           1       0  0 10:00 ?        00:00:01 /sbin/init splash\n' +
    'root        4242    4240  0 10:01 ?        00:00:00 sleep 1000\n' +
    'app         4243    4242  0 10:01 pts/0    00:00:00 sh -c echo  hi\n';
  const r = parsePsOutput(out, [4242, 4243]);
  assert.deepEqual(r.Titles, ['UID', 'PID', 'PPID', 'C', 'STIME', 'TTY', 'TIME', 'CMD']);
  assert.deepEqual(r.Processes, [
    ['root', '4242', '4240', '0', '10:01', '?', '00:00:00', 'sleep 1000'],
    ['app', '4243', '4242', '0', '10:01', 'pts/0', '00:00:00', 'sh -c echo hi'],
  ]);
  assert.throws(() => parsePsOutput('USER COMMAND\nroot x\n', [1]), /PID field/);
});

const base: OciProcess = {
  terminal: false, user: { uid: 0, gid: 0, umask: 0o22 }, args: ['sleep', '1000'], env: ['PATH=/bin'], cwd: '/',
  capabilities: { bounding: ['CAP_CHOWN', 'CAP_KILL', 'CAP_SYS_ADMIN'], effective: ['CAP_CHOWN'], permitted: ['CAP_CHOWN'] },
  rlimits: [{ type: 'RLIMIT_NOFILE', hard: 1024, soft: 1024 }], noNewPrivileges: true, consoleSize: { height: 1, width: 2 },
};

test('exec process spec: derived from the container process, privileged = its bounding set', () => {
  const p = execProcessSpec(base, { args: ['sh', '-c', 'id'], env: ['A=1'], cwd: '/tmp', user: { uid: 1000, gid: 1000, additionalGids: [10] }, terminal: true });
  assert.deepEqual(p.args, ['sh', '-c', 'id']);
  assert.deepEqual(p.env, ['A=1']);
  assert.equal(p.cwd, '/tmp');
  assert.equal(p.terminal, true);
  assert.deepEqual(p.user, { uid: 1000, gid: 1000, additionalGids: [10], umask: 0o22 });
  assert.equal(p.consoleSize, undefined);
  assert.deepEqual(p.capabilities.effective, ['CAP_CHOWN'], 'not privileged: the container caps');
  assert.deepEqual(p.rlimits, base.rlimits);
  assert.equal(p.noNewPrivileges, true);
  assert.deepEqual(base.args, ['sleep', '1000'], 'the base is not modified');
  const priv = execProcessSpec(base, { args: ['id'], env: [], cwd: '/', user: { uid: 0, gid: 0, additionalGids: [] }, terminal: false, privileged: true });
  assert.deepEqual(priv.capabilities.effective, base.capabilities.bounding);
  assert.deepEqual(priv.capabilities.permitted, base.capabilities.bounding);
});

test('exec conmon args and sync-file parsing', () => {
  const a = conmonArgs(execConmonOptions({
    containerId: 'cid', execId: 'eid', sessionDir: '/r/execs/eid', runcPath: '/usr/sbin/runc', runcRoot: '/r/runc',
    terminal: false, stdin: true, attach: true,
  }));
  const has = (...xs: string[]) => assert.ok(a.join(' ').includes(xs.join(' ')), `${xs.join(' ')} in ${a.join(' ')}`);
  has('-c', 'cid', '-u', 'eid');
  has('-b', '/r/execs/eid', '-p', '/r/execs/eid/exec_pid');
  has('--exit-dir', '/r/execs/eid/exit');
  has('-l', 'none');
  has('-i');
  has('-e', '--exec-attach', '--exec-process-spec', '/r/execs/eid/process.json');
  assert.ok(!a.includes('-t'));
  const d = conmonArgs(execConmonOptions({
    containerId: 'cid', execId: 'eid', sessionDir: '/s', runcPath: 'runc', runcRoot: '/rr', terminal: true, stdin: true, attach: false,
  }));
  assert.ok(d.includes('-t') && !d.includes('-i') && !d.includes('--exec-attach'), d.join(' '));

  assert.deepEqual(parseExecSync(''), {});
  assert.deepEqual(parseExecSync('{"data": 42}'), {}, 'an unterminated line is not complete');
  assert.deepEqual(parseExecSync('{"data": 42}\n'), { pid: 42 });
  assert.deepEqual(parseExecSync('{"data": 42}\n{"data": 3}\n'), { pid: 42, exitCode: 3 });
  assert.match(parseExecSync('{"data": -1, "message": "exec failed: x"}\n').error ?? '', /exec failed: x/);
});

test('exec env merge and start-failure exit codes', () => {
  assert.deepEqual(mergeEnv(['PATH=/bin', 'A=1'], ['A=2', 'B=3', 'C']), ['PATH=/bin', 'A=2', 'B=3']);
  assert.equal(execStartExitCode('exec: "x": executable file not found in $PATH'), 127);
  assert.equal(execStartExitCode('exec: "/etc": permission denied'), 126);
});
