// No setting taken and ignored, end to end: daemon.json dns / default-ulimits / debug / live-restore act,
// unsupported keys and -H tcp:// without TLS stop berthd, volume requests are refused at create, info
// tells the truth, and the swarm endpoints answer as a Docker outside a swarm (real docker CLI).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { berthdBin, startDaemon, waitFor, type Daemon } from '../helpers/daemon.js';
import { berth, docker, show, type CliOptions, type CliResult } from '../helpers/cli.js';
import { busyboxTar } from '../helpers/fixtures.js';
import { api } from '../helpers/daemon.js';
import { createBody, hostConfigProps, sampleValue } from '../helpers/spec-sample.js';
import { CREATE_FIELDS } from '../../src/core/create-settings.js';

const IMG = 'busybox:local';
let d: Daemon;
const cfgDir = fs.mkdtempSync(path.join(os.tmpdir(), 'bt-settings-'));
const cfgFile = path.join(cfgDir, 'daemon.json');

async function ok(args: string[], opts?: CliOptions): Promise<CliResult> {
  const r = await docker(d.env, args, opts);
  assert.equal(r.code, 0, `docker ${args.join(' ')} failed: ${show(r)}\nberthd log:\n${d.logTail(1500)}`);
  return r;
}
async function refused(args: string[], re: RegExp): Promise<void> {
  const r = await docker(d.env, args);
  assert.notEqual(r.code, 0, `docker ${args.join(' ')} should fail: ${show(r)}`);
  assert.match(r.stderr, re, show(r));
}

before(async () => {
  fs.writeFileSync(cfgFile, JSON.stringify({
    debug: true, 'live-restore': false, dns: ['192.0.2.53'], 'dns-search': ['settings.example'],
    'default-ulimits': { nofile: { Name: 'nofile', Soft: 1234, Hard: 2345 } },
  }));
  d = await startDaemon({ args: ['--config-file', cfgFile] });
  await ok(['import', '--change', 'CMD ["sh"]', await busyboxTar(), IMG], { timeoutMs: 60_000 });
});

after(async () => {
  if (d) await d.cleanup();
  fs.rmSync(cfgDir, { recursive: true, force: true });
});

/** berthd run to its exit (it must refuse to start): its exit code and output. */
function berthdRefuses(args: string[]): { code: number | null; out: string; dir: string } {
  const dir = fs.mkdtempSync('/tmp/bt-');
  const r = spawnSync(berthdBin, ['--data-root', `${dir}/data`, '--exec-root', `${dir}/exec`, '--pidfile', `${dir}/p.pid`, ...args], { encoding: 'utf8', timeout: 20_000 });
  const left = fs.readdirSync(dir);
  fs.rmSync(dir, { recursive: true, force: true });
  return { code: r.status, out: `${r.stdout}${r.stderr}`, dir: left.join(',') };
}

test('daemon.json: bad registry values and unknown keys stop berthd with a clear message', () => {
  for (const [conf, re] of [
    [{ 'insecure-registries': ['my_reg:5000'] }, /insecure registry my_reg:5000 is not valid: invalid host "my_reg"/],
    [{ 'registry-mirrors': ['mirror.example'] }, /invalid mirror: no scheme specified for "mirror.example": must use either 'https:\/\/' or 'http:\/\/'/],
    [{ 'registry-mirrors': ['https://u:pw@mirror.example'] }, /invalid mirror: username\/password not allowed in URI "https:\/\/u:xxxxx@mirror.example"/],
    [{ 'no-such-option': true }, /the following directives don't match any configuration option: no-such-option/],
  ] as const) {
    const f = path.join(cfgDir, 'bad.json');
    fs.writeFileSync(f, JSON.stringify(conf));
    const r = berthdRefuses(['--config-file', f, '-H', `unix://${cfgDir}/bad.sock`]);
    assert.equal(r.code, 1, r.out);
    assert.match(r.out, re);
  }
});

test('-H tcp:// on a non-loopback address without TLS is refused (nothing created); --unsafe-tcp is the way round', () => {
  const r = berthdRefuses(['--config-file', cfgFile, '-H', 'tcp://0.0.0.0:23751']);
  assert.equal(r.code, 1, r.out);
  assert.match(r.out, /Binding to IP address without --tlsverify is insecure/);
  assert.match(r.out, /--unsafe-tcp/);
  assert.equal(r.dir, '', 'a refused start leaves no state behind');
});

test('create refuses bad -v / --mount input in Docker\'s words and leaves no container', async () => {
  await refused(['run', '--rm', '-v', 'rel/path:/x', IMG, 'true'], /"rel\/path" includes invalid characters for a local volume name.*use absolute path/);
  await refused(['run', '--rm', '--mount', 'type=bind,src=/no/such/dir/bt,dst=/x', IMG, 'true'], /bind source path does not exist: \/no\/such\/dir\/bt/);
  await ok(['create', '--name', 'vsrc', IMG]);
  // By image id: a 404 on create makes the docker CLI try a pull of a named image first (as against Docker),
  // which cannot reach Docker Hub here; an id is never pulled, so the daemon's own answer shows.
  const imgId = (await ok(['image', 'inspect', '-f', '{{.Id}}', IMG])).stdout.trim();
  await refused(['run', '--rm', '--volumes-from', 'nosuchctr', imgId, 'true'], /No such container: nosuchctr/);
  const ps = await ok(['ps', '-a', '--format', '{{.Names}}']);
  assert.deepEqual(ps.stdout.trim().split('\n'), ['vsrc'], 'a refused create leaves no container');
});

test('every refused create field (the enforcement table) gets 400 with its message from a real berthd', async () => {
  let n = 0;
  for (const [g, rules] of [['Config', CREATE_FIELDS.Config], ['HostConfig', CREATE_FIELDS.HostConfig]] as const) {
    for (const [k, r] of Object.entries(rules)) {
      if (typeof r === 'string') continue;
      const v = sampleValue(g === 'Config' ? createBody.properties![k]! : hostConfigProps[k]!);
      const body = g === 'Config' ? { Image: IMG, [k]: v } : { Image: IMG, HostConfig: { [k]: v } };
      const res = await api(d.socket, 'POST', '/containers/create', body);
      assert.equal(res.status, 400, `${g}.${k}=${JSON.stringify(v)}: ${res.body}`);
      assert.equal((JSON.parse(res.body) as { message: string }).message, r.refused, `${g}.${k}`);
      n++;
    }
  }
  assert.ok(n >= 25);
  const ps = await ok(['ps', '-aq']);
  assert.equal(ps.stdout.trim().split('\n').filter(Boolean).length, 1, 'only vsrc exists: refused creates leave nothing');
});

test('create answers Docker\'s Warnings (ports with host networking, no OOM killer without a memory limit); docker and berth print them', async () => {
  const HOST_PORTS = 'Published ports are discarded when using host network mode';
  const OOM = 'OOM killer is disabled for the container, but no memory limit is set, this can result in the system running out of resources.';
  const ids: string[] = [];
  const create = async (hc: Record<string, unknown>) => {
    const r = await api(d.socket, 'POST', '/containers/create', { Image: IMG, Cmd: ['true'], HostConfig: hc });
    assert.equal(r.status, 201, r.body);
    const j = JSON.parse(r.body) as { Id: string; Warnings: string[] };
    ids.push(j.Id);
    return j.Warnings;
  };
  try {
    assert.deepEqual(await create({ NetworkMode: 'host', PortBindings: { '80/tcp': [{ HostPort: '18080' }] } }), [HOST_PORTS]);
    assert.deepEqual(await create({ NetworkMode: 'none', OomKillDisable: true }), [OOM]);
    assert.deepEqual(await create({ NetworkMode: 'none', OomKillDisable: true, Memory: 64 * 1024 * 1024 }), [], 'with a memory limit: no warning');
    assert.deepEqual(await create({ PortBindings: { '80/tcp': [{ HostPort: '18080' }] } }), [], 'ports on a bridge: no warning');
    for (const cli of [docker, berth]) {
      const r = await cli(d.env, ['create', '--network', 'host', '-p', '18081:80', IMG, 'true']);
      assert.equal(r.code, 0, show(r));
      ids.push(r.stdout.trim());
      assert.match(r.stderr, new RegExp(`^WARNING: ${HOST_PORTS}$`, 'm'), show(r));
    }
  } finally {
    for (const id of ids) await api(d.socket, 'DELETE', `/containers/${id}?force=1`);
  }
});

test('daemon.json dns and dns-search reach resolv.conf; --dns still wins', async () => {
  const r = await ok(['run', '--rm', IMG, 'cat', '/etc/resolv.conf']);
  assert.match(r.stdout, /^nameserver 192\.0\.2\.53$/m, r.stdout);
  assert.match(r.stdout, /^search settings\.example$/m, r.stdout);
  const own = await ok(['run', '--rm', '--dns', '192.0.2.99', IMG, 'cat', '/etc/resolv.conf']);
  assert.match(own.stdout, /^nameserver 192\.0\.2\.99$/m);
  assert.doesNotMatch(own.stdout, /192\.0\.2\.53/);
});

test('daemon.json default-ulimits reach the container; --ulimit still wins', async () => {
  const r = await ok(['run', '--rm', IMG, 'sh', '-c', 'ulimit -n; ulimit -Hn']);
  assert.deepEqual(r.stdout.trim().split('\n'), ['1234', '2345']);
  const own = await ok(['run', '--rm', '--ulimit', 'nofile=100:200', IMG, 'sh', '-c', 'ulimit -n; ulimit -Hn']);
  assert.deepEqual(own.stdout.trim().split('\n'), ['100', '200']);
});

test('info: Debug from daemon.json, the real backing filesystem, no volume plugin without a volume API', async () => {
  assert.equal((await ok(['info', '--format', '{{.Debug}}'])).stdout.trim(), 'true');
  const fsType = spawnSync('stat', ['-f', '-c', '%T', d.dataRoot], { encoding: 'utf8' }).stdout.trim();
  const expect = fsType === 'ext2/ext3' ? 'extfs' : fsType;
  const status = JSON.parse((await ok(['info', '--format', '{{json .DriverStatus}}'])).stdout) as string[][];
  assert.deepEqual(status.find((s) => s[0] === 'Backing Filesystem'), ['Backing Filesystem', expect]);
  assert.equal((await ok(['info', '--format', '{{json .Plugins.Volume}}'])).stdout.trim(), '[]');
  assert.equal((await ok(['info', '--format', '{{.LiveRestoreEnabled}}'])).stdout.trim(), 'false');
});

test('swarm: docker node ls / service ls / swarm leave print Docker\'s errors', async () => {
  for (const args of [['node', 'ls'], ['service', 'ls'], ['secret', 'ls'], ['config', 'ls']]) {
    await refused(args, /This node is not a swarm manager\. Use "docker swarm init" or "docker swarm join" to connect this node to swarm and try again\./);
  }
  await refused(['swarm', 'leave'], /This node is not part of a swarm/);
});

test('live-restore false: an orderly berthd shutdown stops the running containers', async () => {
  await ok(['run', '-d', '--name', 'lr', IMG, 'sleep', '1000']);
  const pid = Number((await ok(['inspect', '-f', '{{.State.Pid}}', 'lr'])).stdout.trim());
  assert.ok(pid > 0 && fs.existsSync(`/proc/${pid}`));
  await d.stop();
  assert.equal(fs.existsSync(`/proc/${pid}/stat`) && !/^\d+ \(.*\) Z /.test(fs.readFileSync(`/proc/${pid}/stat`, 'utf8')), false, 'the container outlived berthd');
  await d.restart();
  await waitFor(async () => (await ok(['inspect', '-f', '{{.State.Status}}', 'lr'])).stdout.trim() === 'exited', 10_000);
});
