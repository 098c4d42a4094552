// RELIABILITY.md rows (1e API robustness, 1f crash/restart, 1g security defaults, 1h networking) that no other
// test covers, checked against a real berthd with the real docker CLI or raw HTTP. Each test is named by its row.
// The main daemon runs with `-b none`; the networking rows (N1, N2) get their own daemon on bridge berthrl.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { api, conmonProcesses, sleep, startDaemon, waitFor, type Daemon } from '../helpers/daemon.js';
import { docker, show, type CliOptions, type CliResult } from '../helpers/cli.js';
import { busyboxTar } from '../helpers/fixtures.js';
import { Paths } from '../../src/store/paths.js';
import { LinuxSys } from '../../src/sys/linux-sys.js';
import { ExecCniRunner } from '../../src/network/cni.js';
import { chainPrefixFor, Iptables } from '../../src/network/iptables.js';
import { NetworkService } from '../../src/network/network-service.js';

const IMG = 'busybox:rl';
let d: Daemon;

const dk = (args: string[], opts?: CliOptions) => docker(d.env, args, { timeoutMs: 30_000, ...opts });
async function ok(args: string[], opts?: CliOptions): Promise<CliResult> {
  const r = await dk(args, opts);
  assert.equal(r.code, 0, `docker ${args.join(' ')} failed: ${show(r)}\nberthd log:\n${d.logTail(1500)}`);
  return r;
}
const inspect = async (name: string, fmt: string) => (await ok(['inspect', '-f', fmt, name])).stdout.trim();
interface Inspect { State: { FinishedAt: string; Health?: { Log: Array<{ Start: string }> } } }
async function inspectJson(name: string): Promise<Inspect> {
  const r = await api(d.socket, 'GET', `/containers/${name}/json`);
  assert.equal(r.status, 200, r.body);
  return JSON.parse(r.body) as Inspect;
}
const alive = (pid: number) => { try { return !fs.readFileSync(`/proc/${pid}/stat`, 'utf8').includes(') Z '); } catch { return false; } };

interface Raw { status: number; headers: http.IncomingHttpHeaders; body: string }
/** One request with exactly the body and headers given (the api() helper always sends JSON). */
function raw(method: string, urlPath: string, body?: string | Buffer, headers: Record<string, string> = {}): Promise<Raw> {
  return new Promise((resolve, reject) => {
    const req = http.request({ socketPath: d.socket, method, path: urlPath, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }));
    });
    req.on('error', reject);
    req.end(body);
  });
}
const message = (r: { body: string }) => (JSON.parse(r.body) as { message: string }).message;
const JSON_CT = { 'Content-Type': 'application/json' };

async function expect400(body: unknown, re: RegExp, query = ''): Promise<void> {
  const r = await api(d.socket, 'POST', `/v1.45/containers/create${query}`, body);
  assert.equal(r.status, 400, `${JSON.stringify(body)} → ${r.status} ${r.body}`);
  assert.match(message(r), re, JSON.stringify(body));
}
async function expect201(body: unknown): Promise<string> {
  const r = await api(d.socket, 'POST', '/v1.45/containers/create', body);
  assert.equal(r.status, 201, `${JSON.stringify(body)} → ${r.status} ${r.body}`);
  return (JSON.parse(r.body) as { Id: string }).Id;
}
const containerCount = async () => (JSON.parse((await api(d.socket, 'GET', '/containers/json?all=1')).body) as unknown[]).length;

before(async () => {
  d = await startDaemon({ args: ['-b', 'none'] });
  await ok(['import', '--change', 'CMD ["sh"]', await busyboxTar(), IMG], { timeoutMs: 60_000 });
});

after(async () => {
  if (!d) return;
  const left = await d.cleanup();
  assert.deepEqual(left, [], `leftovers swept: ${left.join(', ')}`);
});

// ---------------------------------------------------------------- 1e API robustness

test('A1: empty body and {} on create', async () => {
  let r = await raw('POST', '/containers/create', undefined, JSON_CT);
  assert.equal(r.status, 400);
  assert.match(message(r), /invalid JSON: EOF/);
  r = await raw('POST', '/containers/create', '{}', JSON_CT);
  assert.equal(r.status, 400);
  assert.equal(message(r), 'config cannot be empty in order to create a container');
  assert.equal(r.headers['content-type'], 'application/json');
});

test('A2: malformed JSON, trailing data, wrong or missing Content-Type', async () => {
  const n0 = await containerCount();
  let r = await raw('POST', '/containers/create', '{invalid json', JSON_CT);
  assert.equal(r.status, 400);
  assert.equal(message(r), "invalid JSON: invalid character 'i' looking for beginning of object key string");
  r = await raw('POST', '/containers/create', `{"Image":"${IMG}"} {"Image":"x"}`, JSON_CT);
  assert.equal(r.status, 400);
  assert.equal(message(r), 'unexpected content after JSON');
  r = await raw('POST', '/containers/create', `{"Image":"${IMG}"}`, { 'Content-Type': 'dockerapplication/json' });
  assert.equal(r.status, 400);
  assert.equal(message(r), "unsupported Content-Type header (dockerapplication/json): must be 'application/json'");
  // a body without a Content-Type is refused (moby CheckForJSON) ...
  r = await raw('POST', '/containers/create', `{"Image":"${IMG}"}`);
  assert.equal(r.status, 400, r.body);
  assert.equal(message(r), "unsupported Content-Type header (): must be 'application/json'");
  assert.equal(await containerCount(), n0, 'no refused request created a container');
  // ... while no body and no Content-Type is fine
  r = await raw('GET', '/containers/json?all=1');
  assert.equal(r.status, 200);
});

test('A3: invalid container ports and host ports are 400 at create; valid forms pass', async () => {
  await expect400({ Image: IMG, HostConfig: { PortBindings: { '19039;1230': [{}] } } }, /invalid port '19039;1230'/);
  for (const p of ['', '/', '/tcp', '-1', '0', '65536', 'foo', '1234-1240/udp', 'asd1234/tcp']) {
    await expect400({ Image: IMG, ExposedPorts: { [p]: {} } }, /^invalid port /);
    await expect400({ Image: IMG, HostConfig: { PortBindings: { [p]: [{ HostPort: '8080' }] } } }, /^invalid port /);
  }
  await expect400({ Image: IMG, ExposedPorts: { '1240-1234': {} } }, /^invalid port range/);
  await expect400({ Image: IMG, HostConfig: { PortBindings: { '80/tcp': [{ HostPort: '9000-8000' }] } } }, /invalid port specification: "9000-8000"/);
  await expect400({ Image: IMG, HostConfig: { PortBindings: { '80/tcp': [{ HostPort: 'http' }] } } }, /invalid port specification: "http"/);
  await expect201({ Image: IMG, ExposedPorts: { '80/TCP': {}, 53: {} }, HostConfig: { PortBindings: {
    '80': [{ HostPort: '' }], '81/udp': [{ HostPort: '18081' }], '82/tcp': [{ HostIp: '127.0.0.1', HostPort: '18000-18010' }] } } });
});

test('A4: resource limits out of range', async () => {
  const hc = (h: object) => ({ Image: IMG, HostConfig: h });
  await expect400(hc({ Memory: 524287 }), /^Minimum memory limit allowed is 6MB$/);
  await expect400(hc({ Memory: 64 << 20, MemorySwap: 32 << 20 }), /^Minimum memoryswap limit should be larger than memory limit/);
  await expect400(hc({ MemoryReservation: 524287 }), /^Minimum memory reservation allowed is 6MB$/);
  await expect400(hc({ MemorySwappiness: 101 }), /valid memory swappiness range is 0-100/);
  await expect400(hc({ NanoCpus: 1000e9 }), /^Range of CPUs is from 0.01 to \d+\.00/);
  await expect400(hc({ CpuShares: -1 }), /^invalid CPU shares \(-1\): value must be a positive integer$/);
  await expect400(hc({ ShmSize: -1 }), /^SHM size can not be less than 0$/);
});

test('A5: restart policies', async () => {
  const rp = (p: object) => ({ Image: IMG, HostConfig: { RestartPolicy: p } });
  await expect400(rp({ Name: 'something' }), /^invalid restart policy: unknown policy 'something'/);
  await expect400(rp({ Name: 'always', MaximumRetryCount: 2 }), /maximum retry count can only be used with 'on-failure'/);
  await expect400(rp({ Name: 'on-failure', MaximumRetryCount: -2 }), /maximum retry count cannot be negative/);
  await expect201(rp({ Name: 'on-failure', MaximumRetryCount: 0 }));
});

test('--uts host: the container sees the host\'s hostname; a private UTS namespace otherwise', async () => {
  const host = (await ok(['run', '--rm', '--network', 'none', '--uts', 'host', IMG, 'hostname'])).stdout.trim();
  assert.equal(host, os.hostname());
  const own = (await ok(['run', '--rm', '--network', 'none', IMG, 'hostname'])).stdout.trim();
  assert.notEqual(own, os.hostname());
  assert.match(own, /^[0-9a-f]{12}$/);
});

test('A6: namespace modes, annotations, env and tmpfs targets are checked at create', async () => {
  const n0 = await containerCount();
  const hc = (h: object) => ({ Image: IMG, HostConfig: h });
  await expect400(hc({ IpcMode: 'invalid' }), /^invalid IPC mode: invalid$/);
  await expect400(hc({ IpcMode: 'container' }), /^invalid IPC mode: container$/);
  await expect400(hc({ PidMode: 'invalid' }), /^invalid PID mode: invalid$/);
  await expect400(hc({ PidMode: 'container' }), /^invalid PID mode: container$/);
  await expect400(hc({ UTSMode: 'invalid' }), /^invalid UTS mode: invalid$/);
  await expect400(hc({ Annotations: { '': 'a' } }), /^invalid Annotations: the empty string is not permitted as an annotation key$/);
  for (const e of ['', '=', '=foo']) await expect400({ Image: IMG, Env: [e] }, new RegExp(`^invalid environment variable: ${e}$`));
  for (const t of ['.', 'foo']) await expect400(hc({ Tmpfs: { [t]: '' } }), /mount path must be absolute/);
  for (const t of ['/', '//']) await expect400(hc({ Tmpfs: { [t]: '' } }), /destination can't be '\/'/);
  assert.equal(await containerCount(), n0);
  for (const good of [{ IpcMode: 'shareable' }, { IpcMode: 'private' }, { PidMode: 'host' }, { Tmpfs: { '/run': 'size=1m' } }]) await expect201(hc(good));
});

test('A7: unknown image is 404 "No such image"', async () => {
  for (const img of ['test456:v1', 'test456', 'sha256:0cb40641836c461bc97c793971d84d758371ed682042457523e4ae701efeaaaa']) {
    const r = await api(d.socket, 'POST', '/containers/create', { Image: img });
    assert.equal(r.status, 404, r.body);
    assert.match(message(r), new RegExp(`^No such image: ${img}`));
  }
});

test('A9: unknown id, rm of a running container, start of a running one, stop of a stopped one', async () => {
  let r = await api(d.socket, 'GET', '/containers/nosuch/json');
  assert.equal(r.status, 404);
  assert.equal(message(r), 'No such container: nosuch');
  const id = await expect201({ Image: IMG, Cmd: ['sleep', '100'] });
  assert.equal((await api(d.socket, 'POST', `/containers/${id}/start`)).status, 204);
  assert.equal((await api(d.socket, 'POST', `/containers/${id}/start`)).status, 304);
  r = await api(d.socket, 'DELETE', `/containers/${id}`);
  assert.equal(r.status, 409);
  assert.match(message(r), /container is running: stop the container before removing or force remove/);
  assert.equal((await api(d.socket, 'POST', `/containers/${id}/stop?t=0`)).status, 204);
  assert.equal((await api(d.socket, 'POST', `/containers/${id}/stop?t=0`)).status, 304);
  assert.equal((await api(d.socket, 'DELETE', `/containers/${id}`)).status, 204);
});

test('A10: malformed filters are 400 on list and prune endpoints', async () => {
  const eps: [string, string][] = [['GET', '/containers/json'], ['POST', '/containers/prune'], ['GET', '/images/json'],
    ['POST', '/images/prune'], ['GET', '/networks'], ['POST', '/networks/prune']];
  for (const [m, ep] of eps) {
    for (const f of ['garb1age}', '{"label":["testl']) {
      const r = await api(d.socket, m, `${ep}?filters=${encodeURIComponent(f)}`);
      assert.equal(r.status, 400, `${m} ${ep} filters=${f}: ${r.status} ${r.body}`);
      assert.match(message(r), /invalid filter/);
    }
  }
});

test('A11: version bounds, and the Api-Version/Server/Ostype headers on every answer', async () => {
  let r = await api(d.socket, 'GET', '/v1.12/version');
  assert.equal(r.status, 400);
  assert.match(message(r), /^client version 1\.12 is too old\. Minimum supported API version is 1\.\d+/);
  r = await api(d.socket, 'GET', '/v9.99/containers/json');
  assert.equal(r.status, 400);
  assert.match(message(r), /^client version 9\.99 is too new\. Maximum supported API version is 1\.45/);
  for (const [m, p] of [['GET', '/_ping'], ['GET', '/v1.45/nope'], ['POST', '/containers/nosuch/start'], ['GET', '/v1.12/version']]) {
    r = await api(d.socket, m!, p!);
    assert.equal(r.headers['api-version'], '1.45', `${m} ${p}`);
    assert.equal(r.headers['ostype'], 'linux', `${m} ${p}`);
    assert.match(String(r.headers['server']), /\(linux\)$/, `${m} ${p}`);
  }
  r = await api(d.socket, 'DELETE', '/v1.45/info');
  assert.equal(r.status, 404);
  assert.equal(message(r), 'page not found');
});

test('A12: a 40 MB create body is refused with 400 (declared and chunked) and berthd stays healthy', async () => {
  const big = Buffer.from(`{"Image":"${IMG}","Labels":{"a":"${'x'.repeat(40 * 1024 * 1024)}"}}`);
  const n0 = await containerCount();
  let r = await raw('POST', '/containers/create', big, { ...JSON_CT, 'Content-Length': String(big.length) });
  assert.equal(r.status, 400);
  assert.match(message(r), /too large/);
  r = await raw('POST', '/containers/create', big, { ...JSON_CT, 'Transfer-Encoding': 'chunked' });
  assert.equal(r.status, 400);
  assert.match(message(r), /too large/);
  assert.equal((await api(d.socket, 'GET', '/_ping')).body, 'OK');
  assert.equal(await containerCount(), n0);
});

/** Writes raw bytes on one connection and returns everything the daemon answered before closing or 2 s. */
function rawExchange(bytes: string): Promise<string> {
  return new Promise((resolve) => {
    const s = net.createConnection(d.socket);
    let out = '';
    const t = setTimeout(() => s.destroy(), 2000);
    s.on('data', (c: Buffer) => { out += c.toString('utf8'); });
    s.on('close', () => { clearTimeout(t); resolve(out); });
    s.on('error', () => undefined);
    s.write(bytes);
  });
}

test('A13: the handler acts on the declared body only; Content-Length 0 or CL+TE cannot smuggle a create', async () => {
  const name = `smug${randomBytes(3).toString('hex')}`;
  const payload = `{"Image":"${IMG}"}`;
  // the bytes after an empty declared body are a malformed next request: the connection is dropped, and the
  // create itself saw no body
  let out = await rawExchange(`POST /containers/create?name=${name} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n` +
    `Content-Length: 0\r\n\r\n${payload}`);
  assert.doesNotMatch(out, /^HTTP\/1\.1 201 /, out);
  await sleep(300);
  assert.equal((await api(d.socket, 'GET', `/containers/${name}/json`)).status, 404, 'the trailing body created a container');
  out = await rawExchange(`POST /containers/create?name=${name} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n` +
    `Content-Length: ${payload.length}\r\nTransfer-Encoding: chunked\r\n\r\n${payload.length.toString(16)}\r\n${payload}\r\n0\r\n\r\n`);
  assert.doesNotMatch(out, /^HTTP\/1\.1 201 /, out);
  assert.equal((await api(d.socket, 'GET', `/containers/${name}/json`)).status, 404, 'no container was created');
  // a plain chunked body is read whole
  out = await rawExchange(`POST /containers/create?name=${name} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n` +
    `Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n${payload.length.toString(16)}\r\n${payload}\r\n0\r\n\r\n`);
  assert.match(out, /^HTTP\/1\.1 201 /, out);
  assert.equal((await api(d.socket, 'DELETE', `/containers/${name}`)).status, 204);
});

test('A14: out-of-range numeric users are refused at create, never wrapped; the max id works', async () => {
  for (const u of ['2147483648:0', '4294967296', '0:4294967296', '-1', '99999999999999999999']) {
    await expect400({ Image: IMG, User: u }, /^uids and gids must be in range 0-2147483647$/);
  }
  const r = await dk(['run', '--rm', '--user', '2147483648:0', IMG, 'id']);
  assert.notEqual(r.code, 0);
  assert.match(r.stderr, /uids and gids must be in range/, show(r));
  assert.equal((await ok(['run', '--rm', '--user', '2147483647', IMG, 'id', '-u'])).stdout.trim(), '2147483647');
});

// ---------------------------------------------------------------- 1g security defaults (inside a container)

test('S1 S2 S4 S6: capabilities, denied syscalls, masked/read-only /proc and /sys, NOFILE, in a default container', async () => {
  const script = [
    'grep -E "^Cap(Inh|Prm|Eff|Bnd|Amb):" /proc/self/status',
    'mkdir -p /tmp/m; mount -t tmpfs none /tmp/m 2>/dev/null && echo mount=ok || echo mount=denied',
    'unshare -U true 2>/dev/null && echo userns=ok || echo userns=denied',
    'echo keys=$(wc -c < /proc/keys) timer_list=$(wc -c < /proc/timer_list) firmware=$(ls /sys/firmware | wc -l)',
    'echo x 2>/dev/null > /proc/sys/kernel/domainname && echo procsys=rw || echo procsys=ro',
    'touch /sys/x 2>/dev/null && echo sys=rw || echo sys=ro',
    'echo nofile=$(ulimit -Sn):$(ulimit -Hn)',
  ].join('; ');
  const out = (await ok(['run', '--rm', IMG, 'sh', '-c', script])).stdout;
  // S1: the 14 defaults in Bnd/Prm/Eff, nothing inheritable or ambient
  for (const set of ['Prm', 'Eff', 'Bnd']) assert.match(out, new RegExp(`^Cap${set}:\\s+00000000a80425fb$`, 'm'), out);
  assert.match(out, /^CapInh:\s+0000000000000000$/m, out);
  assert.match(out, /^CapAmb:\s+0000000000000000$/m, out);
  // S2
  assert.match(out, /^mount=denied$/m, out);
  assert.match(out, /^userns=denied$/m, out);
  // S4 (the host's own /proc/keys and /sys/firmware are not empty, so these are masks)
  assert.ok(fs.readFileSync('/proc/keys').length > 0 || fs.readdirSync('/sys/firmware').length > 0, 'host has something to mask');
  assert.match(out, /^keys=0 timer_list=0 firmware=0$/m, out);
  assert.match(out, /^procsys=ro$/m, out);
  assert.match(out, /^sys=ro$/m, out);
  // S6: Docker's 1024:524288, the hard limit clamped to what this host allows
  const hostHard = Number(/^Max open files\s+\d+\s+(\d+)/m.exec(fs.readFileSync('/proc/self/limits', 'utf8'))![1]);
  assert.match(out, new RegExp(`^nofile=1024:${Math.min(524288, hostHard)}$`, 'm'), out);
});

test('S3 S4: --privileged and seccomp=unconfined allow the user namespace; --privileged unmasks', async () => {
  const un = await ok(['run', '--rm', '--security-opt', 'seccomp=unconfined', IMG, 'sh', '-c', 'unshare -U true && echo userns=ok']);
  assert.match(un.stdout, /^userns=ok$/m, show(un));
  const pr = await ok(['run', '--rm', '--privileged', IMG, 'sh', '-c',
    'unshare -U true && echo userns=ok; echo firmware=$(ls /sys/firmware | wc -l); touch /sys/kernel/x 2>&1 | grep -q Read-only && echo sys=ro || echo sys=rw']);
  assert.match(pr.stdout, /^userns=ok$/m, show(pr));
  assert.match(pr.stdout, new RegExp(`^firmware=${fs.readdirSync('/sys/firmware').length}$`, 'm'), show(pr));
  assert.match(pr.stdout, /^sys=rw$/m, show(pr));
});

/** Creates a container, plants a cap_dac_override+eip busybox and a root-only /secret in its upper dir, runs it. */
async function runWithFileCap(flags: string[]): Promise<{ out: string; exit: string }> {
  const id = (await ok(['create', '--user', '1000:1000', ...flags, IMG, '/capdir/busybox', 'cat', '/secret'])).stdout.trim();
  const upper = path.join(d.dataRoot, 'containers', id, 'upper');
  fs.mkdirSync(path.join(upper, 'capdir'));
  fs.copyFileSync('/bin/busybox', path.join(upper, 'capdir', 'busybox'));
  execFileSync('setcap', ['cap_dac_override+eip', path.join(upper, 'capdir', 'busybox')]);
  fs.writeFileSync(path.join(upper, 'secret'), 'topsecret\n', { mode: 0o400 });
  const r = await dk(['start', '-a', id]);
  const exit = await inspect(id, '{{.State.ExitCode}}');
  await ok(['rm', '-f', id]);
  return { out: r.stdout + r.stderr, exit };
}

test('S5: no-new-privileges is off by default and on with --security-opt; file capabilities follow moby', { skip: !fs.existsSync('/usr/sbin/setcap') && 'no setcap' }, async () => {
  assert.match((await ok(['run', '--rm', IMG, 'grep', 'NoNewPrivs', '/proc/self/status'])).stdout, /NoNewPrivs:\s+0/);
  assert.match((await ok(['run', '--rm', '--security-opt', 'no-new-privileges=true', IMG, 'grep', 'NoNewPrivs', '/proc/self/status'])).stdout, /NoNewPrivs:\s+1/);
  // moby TestNoNewPrivileges: the capability held → the read works; dropped → exec of the +e binary is refused
  const kept = await runWithFileCap(['--security-opt', 'no-new-privileges=true', '--cap-add', 'DAC_OVERRIDE']);
  assert.match(kept.out, /topsecret/, kept.out);
  const dropped = await runWithFileCap(['--security-opt', 'no-new-privileges=true', '--cap-drop', 'DAC_OVERRIDE']);
  assert.doesNotMatch(dropped.out, /topsecret/);
  assert.match(dropped.out, /operation not permitted/, dropped.out);
  assert.notEqual(dropped.exit, '0');
});

test('S7: the API socket is root-owned 0660', () => {
  const st = fs.statSync(d.socket);
  assert.ok(st.isSocket());
  assert.equal(st.mode & 0o777, 0o660);
  assert.equal(st.uid, 0);
});

test('S7: -G gives the socket a group whose members may use the API; others may not', async () => {
  const gd = await startDaemon({ args: ['-b', 'none', '-G', '4242'] });
  try {
    const st = fs.statSync(gd.socket);
    assert.equal(st.gid, 4242);
    assert.equal(st.mode & 0o777, 0o660);
    // the socket's directory must be reachable for the test users
    fs.chmodSync(path.dirname(gd.socket), 0o711);
    const ping = (groups: string) => spawnSync('setpriv', ['--reuid', '65534', '--regid', '65534', groups === '' ? '--clear-groups' : `--groups=${groups}`,
      'curl', '-sS', '--max-time', '5', '--unix-socket', gd.socket, 'http://x/_ping'], { encoding: 'utf8', timeout: 15_000 });
    const member = ping('4242');
    assert.equal(member.stdout, 'OK', `a member of the socket's group: ${member.stderr}`);
    const stranger = ping('');
    assert.notEqual(stranger.status, 0);
    assert.match(stranger.stderr, /Permission denied|Couldn't connect/);
  } finally {
    assert.deepEqual(await gd.cleanup(), []);
  }
});

test('S9: data root and container dirs are 0710; nobody cannot reach the mounted rootfs', async () => {
  await ok(['run', '-d', '--name', 's9', IMG, 'sleep', '100']);
  const id = await inspect('s9', '{{.Id}}');
  const mode = (p: string) => fs.statSync(p).mode & 0o777;
  assert.equal(mode(d.dataRoot), 0o710);
  assert.equal(mode(path.join(d.dataRoot, 'containers')), 0o710);
  assert.equal(mode(path.join(d.dataRoot, 'containers', id)), 0o710);
  // merged shows the overlay root's own mode (0755) while mounted, as in Docker: the 0710 parent is the barrier
  const merged = path.join(d.dataRoot, 'containers', id, 'merged');
  const r = spawnSync('setpriv', ['--reuid', '65534', '--regid', '65534', '--clear-groups', 'ls', merged], { encoding: 'utf8' });
  assert.notEqual(r.status, 0, `nobody listed ${merged}: ${r.stdout}`);
  assert.match(r.stderr, /Permission denied/);
  await ok(['rm', '-f', 's9']);
});

// ---------------------------------------------------------------- 1f crash consistency and restart

test('C1: a graceful berthd stop and start leaves running containers running (same pid)', async () => {
  await ok(['run', '-d', '--name', 'keep', IMG, 'sleep', '1000']);
  const pid = Number(await inspect('keep', '{{.State.Pid}}'));
  await d.restart(); // SIGTERM, then start
  assert.equal(await inspect('keep', '{{.State.Status}} {{.State.Pid}}'), `running ${pid}`);
  await ok(['rm', '-f', 'keep']);
});

// Facts from before the kill -9, checked after the restart.
const crash: { killedAt?: number; restartedAt?: number; pids: Record<string, number>; ids: Record<string, string> } = { pids: {}, ids: {} };
const CHATTY_LINES = 20_000;

test('C1 C2 C3 C5 C9: kill -9 berthd with a mix of containers; a hard reboot takes two of them', async () => {
  await ok(['create', '--name', 'never', '--restart', 'always', IMG, 'sleep', '1000']);
  await ok(['run', '-d', '--name', 'hc', '--health-cmd', 'true', '--health-interval', '1s', IMG, 'sleep', '1000']);
  await ok(['run', '-d', '--rm', '--name', 'rmA', IMG, 'sleep', '1000']);
  await ok(['run', '-d', '--rm', '--name', 'rmB', IMG, 'sleep', '2']);
  await ok(['run', '-d', '--name', 'plain', IMG, 'sleep', '1000']);
  await ok(['run', '-d', '--name', 'onf', '--restart', 'on-failure', IMG, 'sleep', '1000']);
  // C5: ~2 MB of output, written while berthd is down (well past a 64 KiB pipe buffer)
  await ok(['run', '-d', '--name', 'chatty', IMG, 'sh', '-c',
    `sleep 1; i=0; while [ $i -lt ${CHATTY_LINES} ]; do echo "line $i ${'x'.repeat(90)}"; i=$((i+1)); done; echo done`]);
  for (const n of ['hc', 'rmA', 'rmB', 'plain', 'onf', 'chatty']) {
    crash.pids[n] = Number(await inspect(n, '{{.State.Pid}}'));
    crash.ids[n] = await inspect(n, '{{.Id}}');
  }
  await waitFor(async () => /healthy/.test(await inspect('hc', '{{.State.Health.Status}}')), 10_000);
  await d.kill9();
  crash.killedAt = Date.now();
  // C3: what a hard reboot does to `plain` and `onf`: their monitor and process vanish without an exit record
  for (const n of ['plain', 'onf']) {
    for (const p of conmonProcesses(crash.ids[n]!)) process.kill(p, 'SIGKILL');
    process.kill(crash.pids[n]!, 'SIGKILL');
  }
  // C9: a torn temp file, as a crash in the middle of an atomic write leaves it, next to a record
  fs.writeFileSync(path.join(d.dataRoot, 'containers', crash.ids.plain!, `.record.json.99999.torn.tmp`), '{"Id":"');
  // C5: the writer finishes while nobody reads its output through berthd
  const finished = await waitFor(() => !alive(crash.pids.chatty!) && !alive(crash.pids.rmB!), 15_000, 100);
  assert.ok(finished, 'chatty (or rmB) did not finish while berthd was down: its output blocked it');
  assert.ok(alive(crash.pids.rmA!) && alive(crash.pids.hc!), 'live containers died with berthd');
  await d.restart();
  crash.restartedAt = Date.now();
});

test('C1: after the restart: a never-started always container stays Created; health checks resume', async () => {
  assert.equal(await inspect('never', '{{.State.Status}}'), 'created');
  assert.equal(await inspect('hc', '{{.State.Status}} {{.State.Pid}}'), `running ${crash.pids.hc}`);
  const resumed = await waitFor(async () => {
    const log = (await inspectJson('hc')).State.Health?.Log ?? [];
    return log.some((e) => Date.parse(e.Start) > crash.restartedAt!);
  }, 10_000, 200);
  assert.ok(resumed, 'no health probe ran after the restart');
});

test('C2: --rm containers: one that exited while berthd was down is removed; a live one is removed when it exits', async () => {
  const goneB = await waitFor(async () => (await api(d.socket, 'GET', '/containers/rmB/json')).status === 404, 10_000, 200);
  assert.ok(goneB, 'rmB (exited while berthd was down) was not removed');
  assert.equal(await inspect('rmA', '{{.State.Status}} {{.State.Pid}}'), `running ${crash.pids.rmA}`);
  await ok(['kill', 'rmA']);
  const goneA = await waitFor(async () => (await api(d.socket, 'GET', '/containers/rmA/json')).status === 404, 10_000, 200);
  assert.ok(goneA, 'rmA was not removed after it exited');
});

test('C3: a container whose task vanished shows exited 255 with FinishedAt at the restart; on-failure is started again', async () => {
  assert.equal(await inspect('plain', '{{.State.Status}} {{.State.ExitCode}}'), 'exited 255');
  const finished = Date.parse((await inspectJson('plain')).State.FinishedAt);
  assert.ok(finished >= crash.killedAt! && finished <= Date.now(), `FinishedAt ${finished} not between the kill and now`);
  const back = await waitFor(async () => {
    const [s, p] = (await inspect('onf', '{{.State.Status}} {{.State.Pid}}')).split(' ');
    return s === 'running' && Number(p) !== crash.pids.onf;
  }, 10_000, 200);
  assert.ok(back, `onf: ${await inspect('onf', '{{.State.Status}} {{.State.Pid}}')}`);
});

test('C5: everything written while berthd was down is in the logs, once, in order', async () => {
  assert.equal(await inspect('chatty', '{{.State.Status}} {{.State.ExitCode}}'), 'exited 0');
  const logs = await ok(['logs', 'chatty'], { timeoutMs: 60_000 });
  const lines = logs.stdout.split('\n').filter(Boolean);
  assert.equal(lines.length, CHATTY_LINES + 1, `got ${lines.length} lines`);
  assert.equal(lines.at(-1), 'done');
  for (let i = 0; i < CHATTY_LINES; i += 997) assert.ok(lines[i]!.startsWith(`line ${i} `), `line ${i}: ${lines[i]}`);
});

test('C9: the torn temp file did not break loading; every record on disk is whole JSON', async () => {
  assert.equal(await inspect('plain', '{{.Name}}'), '/plain');
  const dir = path.join(d.dataRoot, 'containers');
  for (const id of fs.readdirSync(dir)) {
    const rec = path.join(dir, id, 'record.json');
    if (fs.existsSync(rec)) assert.doesNotThrow(() => JSON.parse(fs.readFileSync(rec, 'utf8')), rec);
  }
  await ok(['rm', '-f', 'never', 'hc', 'plain', 'onf', 'chatty']);
  for (const n of ['never', 'hc', 'plain', 'onf', 'chatty']) assert.equal((await api(d.socket, 'GET', `/containers/${n}/json`)).status, 404);
});

test('C4: after conmon is kill -9ed, rm -f succeeds, kills the process, and the container is gone', async () => {
  await ok(['run', '-d', '--name', 'c4', IMG, 'sleep', '1000']);
  const id = await inspect('c4', '{{.Id}}');
  const pid = Number(await inspect('c4', '{{.State.Pid}}'));
  const cm = conmonProcesses(id);
  assert.equal(cm.length, 1);
  process.kill(cm[0]!, 'SIGKILL');
  await waitFor(() => conmonProcesses(id).length === 0, 5000);
  await ok(['rm', '-f', 'c4'], { timeoutMs: 60_000 });
  assert.equal((await api(d.socket, 'GET', `/containers/${id}/json`)).status, 404);
  assert.ok(await waitFor(() => !alive(pid), 5000), 'the container process survived rm -f');
});

test('C4: when conmon dies, berthd ends the container and records why; stop then finds it stopped', async () => {
  await ok(['run', '-d', '--name', 'c4b', IMG, 'sleep', '1000']);
  try {
    const id = await inspect('c4b', '{{.Id}}');
    const pid = Number(await inspect('c4b', '{{.State.Pid}}'));
    for (const p of conmonProcesses(id)) process.kill(p, 'SIGKILL');
    const exited = await waitFor(async () => (await inspect('c4b', '{{.State.Status}}')) === 'exited', 10_000, 200);
    assert.ok(exited, `state is ${await inspect('c4b', '{{.State.Status}}')} after its conmon died`);
    assert.match(await inspect('c4b', '{{.State.Error}}'), /conmon exited prematurely/);
    assert.equal(await inspect('c4b', '{{.State.ExitCode}}'), '137');
    assert.ok(await waitFor(() => !alive(pid), 5000), 'the unmonitored container process was ended');
    const stop = await dk(['stop', '-t', '1', 'c4b'], { timeoutMs: 30_000 });
    assert.equal(stop.code, 0, show(stop)); // already stopped: docker stop succeeds (304 from the API)
  } finally {
    await dk(['rm', '-f', 'c4b'], { timeoutMs: 60_000 });
  }
});

// ---------------------------------------------------------------- 1h networking, on a daemon with its own bridge

const BRIDGE = 'berthrl';
const BIP = '172.31.77.1/24';
const linkExists = (dev: string) => fs.existsSync(`/sys/class/net/${dev}`);

test('N1 N2: from a LAN peer: loopback-published and unpublished ports are unreachable, direct routing is dropped', { timeout: 120_000 }, async () => {
  assert.ok(!linkExists(BRIDGE), `${BRIDGE} exists before the test`);
  const tag = randomBytes(3).toString('hex');
  const ns = `rl-lan-${tag}`, hostIf = `rlh${tag}`, peerIf = `rlp${tag}`;
  const sh = (cmd: string, args: string[]) => {
    const r = spawnSync(cmd, args, { encoding: 'utf8', timeout: 15_000 });
    assert.equal(r.status, 0, `${cmd} ${args.join(' ')}: ${r.stderr}`);
  };
  const curl = (url: string) => spawnSync('ip', ['netns', 'exec', ns, 'curl', '-sS', '--max-time', '3', url], { encoding: 'utf8', timeout: 10_000 });
  let nd: Daemon | undefined;
  try {
    nd = await startDaemon({ args: ['-b', BRIDGE, '--bip', BIP] });
    const nk = (args: string[]) => docker(nd!.env, args, { timeoutMs: 60_000 });
    const must = async (args: string[]) => { const r = await nk(args); assert.equal(r.code, 0, `${args.join(' ')}: ${show(r)}`); return r.stdout.trim(); };
    await must(['import', '--change', 'CMD ["sh"]', await busyboxTar(), IMG]);
    // three httpd: 80 published on 127.0.0.1 only, 81 on every address, 82 not published
    await must(['run', '-d', '--name', 'web', '--hostname', 'rl-web', '-p', '127.0.0.1:18381:80', '-p', '18382:81', IMG, 'sh', '-c',
      'httpd -p 80 -h /etc; httpd -p 81 -h /etc; exec httpd -f -p 82 -h /etc']);
    const ip = await must(['inspect', '-f', '{{.NetworkSettings.IPAddress}}', 'web']);
    assert.match(ip, /^172\.31\.77\./);

    // the "LAN": a netns behind a veth, routing the container subnet and 127.0.0.1 through this host
    sh('ip', ['netns', 'add', ns]);
    sh('ip', ['link', 'add', hostIf, 'type', 'veth', 'peer', 'name', peerIf]);
    sh('ip', ['link', 'set', peerIf, 'netns', ns]);
    sh('ip', ['addr', 'add', '10.213.77.1/24', 'dev', hostIf]);
    sh('ip', ['link', 'set', hostIf, 'up']);
    sh('ip', ['netns', 'exec', ns, 'ip', 'addr', 'add', '10.213.77.2/24', 'dev', peerIf]);
    sh('ip', ['netns', 'exec', ns, 'ip', 'link', 'set', peerIf, 'up']);
    sh('ip', ['netns', 'exec', ns, 'ip', 'route', 'add', '172.31.77.0/24', 'via', '10.213.77.1']);
    // lo stays down in the peer, so 127.0.0.1 is routed out to the host like any address (moby#45610's attack)
    sh('ip', ['netns', 'exec', ns, 'sysctl', '-qw', `net.ipv4.conf.${peerIf}.route_localnet=1`]);
    sh('ip', ['netns', 'exec', ns, 'ip', 'route', 'add', '127.0.0.1/32', 'via', '10.213.77.1', 'dev', peerIf]);
    await sleep(300);

    // control: the LAN path works for a port published on every address
    const pub = curl('http://10.213.77.1:18382/hostname');
    assert.equal(pub.stdout, 'rl-web\n', `published port unreachable from the LAN peer: ${pub.stderr}`);
    // the host itself reaches the loopback binding
    assert.equal(await (await fetch('http://127.0.0.1:18381/hostname', { signal: AbortSignal.timeout(5000) })).text(), 'rl-web\n');
    // N1: the loopback-only binding, through 127.0.0.1 and straight to the container
    const lo = curl('http://127.0.0.1:18381/hostname');
    assert.notEqual(lo.status, 0, `LAN peer reached 127.0.0.1:18381: ${lo.stdout}`);
    const direct80 = curl(`http://${ip}:80/hostname`);
    assert.notEqual(direct80.status, 0, `LAN peer reached ${ip}:80 directly: ${direct80.stdout}`);
    // N2: a port never published, with the host's FORWARD policy as it is (ACCEPT on this host)
    const direct82 = curl(`http://${ip}:82/hostname`);
    assert.notEqual(direct82.status, 0, `LAN peer reached unpublished ${ip}:82: ${direct82.stdout}`);
  } finally {
    spawnSync('ip', ['netns', 'del', ns]);
    if (linkExists(hostIf)) spawnSync('ip', ['link', 'del', hostIf]);
    if (nd) {
      const left = await nd.cleanup();
      // the daemon leaves its bridge and chains for live restore: remove them as a teardown would
      const svc = new NetworkService({ paths: new Paths(nd.dataRoot, nd.execRoot), sys: new LinuxSys(), cni: new ExecCniRunner(), bridgeName: BRIDGE, bip: BIP });
      await svc.init(new Set(), new Set());
      await svc.destroyHostState();
      await svc.close();
      fs.rmSync(nd.dir, { recursive: true, force: true });
      assert.deepEqual(left, [], `leftovers swept: ${left.join(', ')}`);
    }
    await new Iptables(chainPrefixFor(BRIDGE)).removeAll();
    if (linkExists(BRIDGE)) spawnSync('ip', ['link', 'del', BRIDGE]);
  }
  assert.ok(!linkExists(BRIDGE));
  assert.ok(!execFileSync('iptables-save', { encoding: 'utf8' }).includes(chainPrefixFor(BRIDGE) + '-'), 'chains of berthrl remain');
});
