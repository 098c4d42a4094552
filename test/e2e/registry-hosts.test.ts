// daemon.json registry-mirrors and insecure-registries, and certs.d, through the real docker CLI: a
// `berth registry` on loopback stands in for a Docker Hub mirror (Docker Hub itself is unreachable here),
// and a TLS registry on this host's non-loopback address (loopback is always insecure) with a CA made by
// openssl: push/pull fail with Go's x509 words without the CA, work with it in certs.d beside daemon.json,
// and work without it once the host is in insecure-registries. Client certificates from certs.d against
// Debian's docker-registry with `clientcas`.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net, { type AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { startDaemon, waitFor, type Daemon } from '../helpers/daemon.js';
import { berth, docker, show, type CliResult } from '../helpers/cli.js';
import { busyboxTar } from '../helpers/fixtures.js';
import { startRegistry, type TestRegistry } from '../helpers/registry.js';

let d: Daemon;
let tmp: string;
let etc: string;
let mirror: TestRegistry;
let tlsReg: TestRegistry | undefined;
const procs: ChildProcess[] = [];
/** A local address outside 127.0.0.0/8 and ::1, so the registry on it is secure by default. */
const hostIp = Object.values(os.networkInterfaces()).flat().find((a) => a && a.family === 'IPv4' && !a.internal)?.address;
const DEAD_MIRROR = 'http://127.0.0.1:9/';

async function ok(args: string[], what = args.join(' ')): Promise<CliResult> {
  const r = await docker(d.env, args, { timeoutMs: 120_000 });
  assert.equal(r.code, 0, `${what} failed: ${show(r)}\n${d.logTail()}`);
  return r;
}
async function fails(args: string[], re: RegExp): Promise<void> {
  const r = await docker(d.env, args, { timeoutMs: 120_000 });
  assert.notEqual(r.code, 0, `${args.join(' ')} should fail: ${show(r)}`);
  assert.match(r.stderr + r.stdout, re);
}
function writeDaemonJson(o: Record<string, unknown>): void {
  fs.writeFileSync(path.join(etc, 'daemon.json'), JSON.stringify(o));
}
async function registryConfig(): Promise<{ Mirrors: string[]; InsecureRegistryCIDRs: string[]; IndexConfigs: Record<string, { Secure: boolean; Mirrors: string[] }> }> {
  return JSON.parse((await ok(['info', '--format', '{{json .RegistryConfig}}'])).stdout) as never;
}

/** A CA and a server certificate for `ip` (and optionally a client certificate), made with openssl. */
function makeCerts(dir: string, ip: string): void {
  fs.mkdirSync(dir, { recursive: true });
  const o = (...a: string[]) => execFileSync('openssl', a, { cwd: dir, stdio: 'pipe' });
  o('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'ca.key', '-out', 'ca.crt', '-days', '2', '-subj', '/CN=berth e2e CA');
  o('req', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'server.key', '-out', 'server.csr', '-subj', `/CN=${ip}`);
  fs.writeFileSync(path.join(dir, 'san.ext'), `subjectAltName=IP:${ip}\nextendedKeyUsage=serverAuth\n`);
  o('x509', '-req', '-in', 'server.csr', '-CA', 'ca.crt', '-CAkey', 'ca.key', '-CAcreateserial', '-out', 'server.crt', '-days', '2', '-extfile', 'san.ext');
  o('req', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'client.key', '-out', 'client.csr', '-subj', '/CN=berth e2e client');
  fs.writeFileSync(path.join(dir, 'client.ext'), 'extendedKeyUsage=clientAuth\n');
  o('x509', '-req', '-in', 'client.csr', '-CA', 'ca.crt', '-CAkey', 'ca.key', '-CAcreateserial', '-out', 'client.cert', '-days', '2', '-extfile', 'client.ext');
}

before(async () => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-reghosts-'));
  etc = path.join(tmp, 'etc');
  fs.mkdirSync(etc);
  mirror = await startRegistry(path.join(tmp, 'mirror'));
  writeDaemonJson({ 'registry-mirrors': [DEAD_MIRROR, `http://${mirror.host}`] });
  d = await startDaemon({ args: ['-b', 'none', '--config-file', path.join(etc, 'daemon.json')] });
  await ok(['import', '--change', 'CMD ["echo","mirrored"]', await busyboxTar(), 'local/bb:hosts']);
});

after(async () => {
  mirror?.stop();
  tlsReg?.stop();
  for (const p of procs) p.kill('SIGTERM');
  if (d) await d.cleanup();
  fs.rmSync(tmp, { recursive: true, force: true });
});

test('docker info shows registry-mirrors (normalized) and the loopback insecure CIDRs, as dockerd', async () => {
  const rc = await registryConfig();
  assert.deepEqual(rc.Mirrors, [DEAD_MIRROR, `http://${mirror.host}/`]);
  assert.deepEqual(rc.InsecureRegistryCIDRs, ['::1/128', '127.0.0.0/8']);
  assert.deepEqual(rc.IndexConfigs['docker.io'], { Name: 'docker.io', Mirrors: rc.Mirrors, Secure: true, Official: true });
  const want = new RegExp(`Insecure Registries:\\n  ::1/128\\n  127.0.0.0/8\\n Registry Mirrors:\\n  ${DEAD_MIRROR.replace(/[./]/g, '\\$&')}\\n  http://${mirror.host.replace(/\./g, '\\.')}/\\n`);
  assert.match((await ok(['info'])).stdout, want);
  const b = await berth(d.env, ['info']);
  assert.equal(b.code, 0, show(b));
  assert.match(b.stdout, want, 'berth info draws them as docker info does');
});

test('registry-mirrors: a docker.io pull goes to the mirror (past a dead one), Docker Hub unreachable; a miss falls back to Docker Hub', async () => {
  // The mirror holds docker.io/library/bbmirror as library/bbmirror, as a pull-through cache keeps it.
  await ok(['tag', 'local/bb:hosts', `${mirror.host}/library/bbmirror:latest`]);
  await ok(['push', `${mirror.host}/library/bbmirror:latest`]);
  const id = JSON.parse((await ok(['image', 'inspect', 'local/bb:hosts'])).stdout)[0].Id;
  await ok(['rmi', `${mirror.host}/library/bbmirror:latest`, 'local/bb:hosts']);
  assert.notEqual((await docker(d.env, ['image', 'inspect', id])).code, 0, 'the layers are gone: the pull must download them');

  const pull = await ok(['pull', 'bbmirror']);
  assert.match(pull.stdout, /Pull complete/);
  assert.match(pull.stdout, /Status: Downloaded newer image for bbmirror:latest/);
  const img = JSON.parse((await ok(['image', 'inspect', 'bbmirror'])).stdout)[0];
  assert.equal(img.Id, id);
  assert.deepEqual(img.RepoTags, ['bbmirror:latest']);
  assert.match(img.RepoDigests[0], /^bbmirror@sha256:[a-f0-9]{64}$/);
  assert.equal((await ok(['run', '--rm', '--network', 'none', 'bbmirror'])).stdout, 'mirrored\n');
  await ok(['tag', 'bbmirror', 'local/bb:hosts']);

  // Not on the mirror: the next endpoint is Docker Hub, and its failure is what the user sees.
  await fails(['pull', 'notonthemirror'], /registry-1\.docker\.io/);
  // Push never goes to a mirror.
  await ok(['tag', 'local/bb:hosts', 'bbmirror:pushed']);
  await fails(['push', 'bbmirror:pushed'], /registry-1\.docker\.io/);
  const tags = await (await fetch(`${mirror.base}/v2/library/bbmirror/tags/list`)).json() as { tags: string[] };
  assert.deepEqual(tags.tags, ['latest']);
});

test('TLS registry on a non-loopback address: x509 error without its CA, works with ca.crt in certs.d, and as an insecure registry', { skip: !hostIp && 'no non-loopback IPv4 address' }, async () => {
  const certs = path.join(tmp, 'certs');
  makeCerts(certs, hostIp!);
  fs.writeFileSync(path.join(certs, 'registry.json'), JSON.stringify({ tls: { certificate: 'server.crt', key: 'server.key' } }));
  tlsReg = await startRegistry(path.join(tmp, 'tlsreg'), ['--config', path.join(certs, 'registry.json')], hostIp);
  const host = tlsReg.host;
  const name = `${host}/e2e/tls:v1`;
  await ok(['tag', 'local/bb:hosts', name]);
  const x509 = new RegExp(`Get "https://${host.replace(/\./g, '\\.')}/v2/[^"]*": tls: failed to verify certificate: x509: certificate signed by unknown authority`);
  await fails(['push', name], x509);
  await fails(['pull', `${host}/e2e/none:v1`], x509);

  const hostDir = path.join(etc, 'certs.d', host);
  fs.mkdirSync(hostDir, { recursive: true });
  fs.copyFileSync(path.join(certs, 'ca.crt'), path.join(hostDir, 'ca.crt'));
  assert.match((await ok(['push', name])).stdout, /v1: digest: sha256:[a-f0-9]{64}/);
  await ok(['rmi', name]);
  assert.match((await ok(['pull', name])).stdout, new RegExp(`Status: (Downloaded newer image|Image is up to date) for ${name.replace(/\./g, '\\.')}`));
  await ok(['rmi', name]);

  // Without the CA again, but the host listed as insecure: verification is skipped, as dockerd.
  fs.rmSync(path.join(etc, 'certs.d'), { recursive: true });
  writeDaemonJson({ 'insecure-registries': [host] });
  await d.restart();
  const rc = await registryConfig();
  assert.deepEqual(rc.IndexConfigs[host], { Name: host, Mirrors: [], Secure: false, Official: false });
  assert.match((await ok(['info'])).stdout, new RegExp(`Insecure Registries:\\n  ${host.replace(/\./g, '\\.')}\\n  ::1/128\\n  127.0.0.0/8\\n`));
  assert.match((await ok(['pull', name])).stdout, /Digest: sha256:/);
  await ok(['tag', 'local/bb:hosts', `${host}/e2e/tls:v2`]);
  await ok(['push', `${host}/e2e/tls:v2`]);
  // The same as a CIDR
  writeDaemonJson({ 'insecure-registries': [`${hostIp}/32`] });
  await d.restart();
  await ok(['rmi', name]);
  await ok(['pull', name]);
  writeDaemonJson({});
  await d.restart();
  await ok(['rmi', name]);
  await fails(['pull', name], x509);
});

async function freePort(ip: string): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((r) => s.listen(0, ip, () => r()));
  const port = (s.address() as AddressInfo).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

test('certs.d client certificate (client.cert + client.key) against docker-registry that requires one', { skip: (!hostIp && 'no non-loopback IPv4 address') || (!fs.existsSync('/usr/bin/docker-registry') && 'docker-registry is not installed') }, async () => {
  const certs = path.join(tmp, 'certs');
  if (!fs.existsSync(path.join(certs, 'ca.crt'))) makeCerts(certs, hostIp!);
  const port = await freePort(hostIp!);
  const dir = path.join(tmp, 'dist-mtls');
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, 'config.yml'), `version: 0.1
log:
  level: warn
storage:
  filesystem:
    rootdirectory: ${path.join(dir, 'data')}
http:
  addr: ${hostIp}:${port}
  tls:
    certificate: ${path.join(certs, 'server.crt')}
    key: ${path.join(certs, 'server.key')}
    clientcas:
      - ${path.join(certs, 'ca.crt')}
`);
  const p = spawn('/usr/bin/docker-registry', ['serve', path.join(dir, 'config.yml')], { stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  p.stderr!.on('data', (c: Buffer) => { err += c.toString(); });
  procs.push(p);
  await waitFor(async () => {
    if (p.exitCode !== null) throw new Error(`docker-registry exited: ${err}`);
    return await new Promise<boolean | undefined>((r) => {
      const s = net.connect(port, hostIp!, () => { s.destroy(); r(true); });
      s.on('error', () => r(undefined));
    });
  }, 15_000);
  const host = `${hostIp}:${port}`;
  const hostDir = path.join(etc, 'certs.d', host);
  fs.mkdirSync(hostDir, { recursive: true });
  fs.copyFileSync(path.join(certs, 'ca.crt'), path.join(hostDir, 'ca.crt'));
  const name = `${host}/e2e/mtls:v1`;
  await ok(['tag', 'local/bb:hosts', name]);
  const r = await docker(d.env, ['push', name], { timeoutMs: 120_000 });
  assert.notEqual(r.code, 0, `push without a client certificate should fail: ${show(r)}`);
  fs.copyFileSync(path.join(certs, 'client.cert'), path.join(hostDir, 'client.cert'));
  await fails(['push', name], /missing key client\.key for client certificate client\.cert\. CA certificates must use the extension \.crt/);
  fs.copyFileSync(path.join(certs, 'client.key'), path.join(hostDir, 'client.key'));
  await ok(['push', name]);
  await ok(['rmi', name]);
  await ok(['pull', name]);
  assert.equal((await ok(['run', '--rm', '--network', 'none', name])).stdout, 'mirrored\n');
});
