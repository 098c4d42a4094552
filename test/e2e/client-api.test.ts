// What SDKs (docker-py, dockerode, testcontainers) send that the docker CLI does not: null for unset
// fields, wrong JSON types, exec inspect's ProcessConfig, HostConfig.Runtime. Raw HTTP against a private berthd.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { api, startDaemon, type Daemon } from '../helpers/daemon.js';
import { docker, show } from '../helpers/cli.js';
import { busyboxTar } from '../helpers/fixtures.js';

const IMG = 'busybox:capi';
let d: Daemon;

before(async () => {
  d = await startDaemon();
  const r = await docker(d.env, ['import', '--change', 'CMD ["sh"]', await busyboxTar(), IMG], { timeoutMs: 60_000 });
  assert.equal(r.code, 0, show(r));
});

after(async () => {
  if (!d) return;
  const leftovers = await d.cleanup();
  if (leftovers.length) console.error(`client-api: swept leftovers: ${leftovers.join(', ')}`);
});

async function call(method: string, p: string, body?: unknown) {
  const r = await api(d.socket, method, p, body);
  let json: any;
  try { json = r.body ? JSON.parse(r.body) : undefined; } catch { json = r.body; }
  return { status: r.status, json, text: r.body };
}

async function createOk(name: string, body: Record<string, unknown>): Promise<any> {
  const r = await call('POST', `/containers/create?name=${name}`, { Image: IMG, ...body });
  assert.equal(r.status, 201, r.text);
  return (await call('GET', `/containers/${name}/json`)).json;
}

test('null is unset in container create (docker-py sends null for every field left out)', async () => {
  const ins = await createOk('nul1', {
    Cmd: null, Entrypoint: null, Env: null, Labels: null, User: null, WorkingDir: null, StopTimeout: null,
    Healthcheck: { Test: ['CMD', 'true'], Interval: null, Timeout: null, StartPeriod: null, StartInterval: null, Retries: null },
    HostConfig: { LogConfig: { Type: null, Config: null }, RestartPolicy: null, Memory: null, PortBindings: null, NetworkMode: null },
    NetworkingConfig: null,
  });
  assert.deepEqual(ins.Config.Cmd, ['sh'], 'image default kept');
  assert.equal(ins.HostConfig.LogConfig.Type, 'json-file');
  assert.equal(ins.HostConfig.RestartPolicy.Name, 'no');
  assert.equal(ins.HostConfig.NetworkMode, 'default');
  // Docker refuses only durations strictly between 0 and 1ms.
  const short = await call('POST', '/containers/create', { Image: IMG, Healthcheck: { Test: ['CMD', 'true'], StartPeriod: 500 } });
  assert.equal(short.status, 400);
  assert.match(short.json.message, /StartPeriod in Healthcheck cannot be less than 1ms/);
});

test('null is unset in update, exec create/start, network create/connect/disconnect', async () => {
  await createOk('nul2', { Cmd: ['sleep', '1000'] });
  assert.equal((await call('POST', '/containers/nul2/start')).status, 204);
  const up = await call('POST', '/containers/nul2/update', { Memory: null, CpuShares: null, RestartPolicy: null, PidsLimit: null });
  assert.equal(up.status, 200, up.text);

  const ex = await call('POST', '/containers/nul2/exec', { Cmd: ['true'], User: null, Env: null, WorkingDir: null, DetachKeys: null, ConsoleSize: null });
  assert.equal(ex.status, 201, ex.text);
  const st = await call('POST', `/exec/${ex.json.Id}/start`, { Detach: true, Tty: null, ConsoleSize: null });
  assert.equal(st.status, 200, st.text);

  const net = await call('POST', '/networks/create', { Name: 'capinet', Driver: null, IPAM: null, Options: null, Labels: null, Internal: null });
  assert.equal(net.status, 201, net.text);
  const conn = await call('POST', '/networks/capinet/connect', { Container: 'nul2', EndpointConfig: null });
  assert.equal(conn.status, 200, conn.text);
  const disc = await call('POST', '/networks/capinet/disconnect', { Container: 'nul2', Force: null });
  assert.equal(disc.status, 200, disc.text);
  assert.equal((await call('DELETE', '/networks/capinet')).status, 204);
});

test('wrong JSON types are refused with Go json wording on every typed endpoint', async () => {
  const cases: [string, string, unknown, string][] = [
    ['POST', '/containers/create', { Image: IMG, Cmd: 42 }, 'json: cannot unmarshal number into Go struct field ContainerConfigWrapper.Cmd of type string'],
    ['POST', '/containers/create', { Image: IMG, HostConfig: { Memory: '1g' } }, 'json: cannot unmarshal string into Go struct field HostConfig.HostConfig.Memory of type int64'],
    ['POST', '/containers/create', { Image: IMG, Env: 'A=1' }, 'json: cannot unmarshal string into Go struct field ContainerConfigWrapper.Env of type []string'],
    ['POST', '/containers/nul2/update', { CpuShares: true }, 'json: cannot unmarshal bool into Go struct field UpdateConfig.CpuShares of type int'],
    ['POST', '/containers/nul2/exec', { Cmd: 'ls' }, 'json: cannot unmarshal string into Go struct field ExecOptions.Cmd of type []string'],
    ['POST', '/networks/create', { Name: 'x1', Internal: 'yes' }, 'json: cannot unmarshal string into Go struct field CreateRequest.Internal of type bool'],
  ];
  for (const [m, p, body, msg] of cases) {
    const r = await call(m, p, body);
    assert.equal(r.status, 400, `${p} ${JSON.stringify(body)}: ${r.text}`);
    assert.equal(r.json.message, `invalid JSON: ${msg}`);
  }
  // strslice: a string is a one-element command.
  const ins = await createOk('strs', { Cmd: 'true', Entrypoint: '' });
  assert.deepEqual(ins.Config.Cmd, ['true']);
});

test('exec inspect reports ProcessConfig (tty) as moby does', async () => {
  const ex = await call('POST', '/containers/nul2/exec', { Cmd: ['sh', '-c', 'echo hi'], Tty: true, AttachStdout: true, User: 'root' });
  assert.equal(ex.status, 201, ex.text);
  const ins = (await call('GET', `/exec/${ex.json.Id}/json`)).json;
  assert.deepEqual(ins.ProcessConfig, { tty: true, entrypoint: 'sh', arguments: ['-c', 'echo hi'], privileged: false, user: 'root' });
});

test('HostConfig.Runtime is runc in inspect; an unknown runtime is refused', async () => {
  const ins = await createOk('rt1', {});
  assert.equal(ins.HostConfig.Runtime, 'runc');
  assert.equal((await createOk('rt2', { HostConfig: { Runtime: 'runc' } })).HostConfig.Runtime, 'runc');
  const r = await call('POST', '/containers/create?name=rt3', { Image: IMG, HostConfig: { Runtime: 'kata' } });
  assert.equal(r.status, 400, r.text);
  assert.equal(r.json.message, 'unknown or invalid runtime name: kata');
  assert.equal((await call('GET', '/containers/rt3/json')).status, 404, 'nothing left behind');
});

test('LogConfig max-file without max-size is accepted, with Type json-file and with no Type (the daemon\'s json-file), as Docker 20.10', async () => {
  for (const [name, lc] of [['lc1', { Type: 'json-file', Config: { 'max-file': '100' } }], ['lc2', { Config: { 'max-file': '100' } }]] as const) {
    const ins = await createOk(name, { HostConfig: { LogConfig: lc } });
    assert.deepEqual(ins.HostConfig.LogConfig, { Type: 'json-file', Config: { 'max-file': '100' } });
  }
});
