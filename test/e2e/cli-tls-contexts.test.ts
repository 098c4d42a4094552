/**
 * The CLI's connection settings against a real berthd: TLS on a tcp:// listener with client
 * certificates (the docker CLI and berth both, a client without a certificate refused), and contexts
 * stored so that `docker context` and `berth context` see the same ones.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { startDaemon, type Daemon } from '../helpers/daemon.js';
import { berth, docker, show } from '../helpers/cli.js';

let d: Daemon;
let pki: string;
let port: number;

function openssl(args: string[], cwd: string): void {
  const r = spawnSync('openssl', args, { cwd, encoding: 'utf8' });
  assert.equal(r.status, 0, `openssl ${args.join(' ')}: ${r.stderr}`);
}

/** A CA, a server certificate for 127.0.0.1 and a client certificate, as docker's "protect the daemon socket" guide makes them. */
function makePki(dir: string): void {
  openssl(['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'ca-key.pem', '-out', 'ca.pem', '-days', '2', '-subj', '/CN=berth-test-ca'], dir);
  openssl(['req', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'server-key.pem', '-out', 'server.csr', '-subj', '/CN=127.0.0.1'], dir);
  fs.writeFileSync(path.join(dir, 'server.ext'), 'subjectAltName = IP:127.0.0.1\nextendedKeyUsage = serverAuth\n');
  openssl(['x509', '-req', '-in', 'server.csr', '-CA', 'ca.pem', '-CAkey', 'ca-key.pem', '-CAcreateserial', '-out', 'server-cert.pem', '-days', '2', '-extfile', 'server.ext'], dir);
  openssl(['req', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'key.pem', '-out', 'client.csr', '-subj', '/CN=client'], dir);
  fs.writeFileSync(path.join(dir, 'client.ext'), 'extendedKeyUsage = clientAuth\n');
  openssl(['x509', '-req', '-in', 'client.csr', '-CA', 'ca.pem', '-CAkey', 'ca-key.pem', '-CAcreateserial', '-out', 'cert.pem', '-days', '2', '-extfile', 'client.ext'], dir);
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.listen(0, '127.0.0.1', () => { const p = (s.address() as net.AddressInfo).port; s.close(() => resolve(p)); });
    s.on('error', reject);
  });
}

before(async () => {
  pki = fs.mkdtempSync(path.join(os.tmpdir(), 'bt-pki-'));
  makePki(pki);
  port = await freePort();
  d = await startDaemon({
    args: ['-b', 'none', '-H', `tcp://127.0.0.1:${port}`, '--tlsverify', '--tlscacert', path.join(pki, 'ca.pem'),
      '--tlscert', path.join(pki, 'server-cert.pem'), '--tlskey', path.join(pki, 'server-key.pem')],
  });
});

after(async () => {
  await d?.cleanup();
  fs.rmSync(pki, { recursive: true, force: true });
});

test('TLS: docker and berth reach berthd over tcp+TLS with a client certificate; without one they are refused', async () => {
  const host = `tcp://127.0.0.1:${port}`;
  assert.doesNotMatch(d.logTail(), /without --tlsverify is insecure/, 'a verified TLS listener is not the insecure one');
  // flags
  const flags = ['-H', host, '--tlsverify', '--tlscacert', path.join(pki, 'ca.pem'), '--tlscert', path.join(pki, 'cert.pem'), '--tlskey', path.join(pki, 'key.pem')];
  const dv = await docker({ DOCKER_HOST: undefined, BERTH_HOST: undefined }, [...flags, 'version', '--format', '{{.Server.Version}}']);
  assert.equal(dv.code, 0, show(dv));
  const bv = await berth({ DOCKER_HOST: undefined, BERTH_HOST: undefined }, [...flags, 'ps', '-a']);
  assert.equal(bv.code, 0, show(bv));
  assert.match(bv.stdout, /^CONTAINER ID/);
  // environment: DOCKER_HOST + DOCKER_TLS_VERIFY + DOCKER_CERT_PATH
  const env = { DOCKER_HOST: host, BERTH_HOST: undefined, DOCKER_TLS_VERIFY: '1', DOCKER_CERT_PATH: pki };
  const be = await berth(env, ['version']);
  assert.equal(be.code, 0, show(be));
  const de = await docker(env, ['info', '--format', '{{.ServerVersion}}']);
  assert.equal(de.code, 0, show(de));
  // a client with no certificate: plain HTTP gets nothing useful, TLS without a client cert is refused in the handshake
  const plain = await berth({ DOCKER_HOST: host, BERTH_HOST: undefined }, ['ps'], { timeoutMs: 20_000 });
  assert.notEqual(plain.code, 0, show(plain));
  const noCert = await berth({ DOCKER_HOST: host, BERTH_HOST: undefined }, ['--tlsverify', '--tlscacert', path.join(pki, 'ca.pem'), 'ps'], { timeoutMs: 20_000 });
  assert.notEqual(noCert.code, 0, show(noCert));
  assert.doesNotMatch(noCert.stdout, /CONTAINER ID/);
  const dockerNoCert = await docker({ DOCKER_HOST: host, BERTH_HOST: undefined }, ['--tlsverify', '--tlscacert', path.join(pki, 'ca.pem'), 'ps'], { timeoutMs: 20_000 });
  assert.notEqual(dockerNoCert.code, 0, show(dockerNoCert));
  // verify checks the daemon's certificate too: a CA that did not sign it is refused
  const wrongCa = await berth({ DOCKER_HOST: host, BERTH_HOST: undefined }, ['--tlsverify', '--tlscacert', path.join(pki, 'cert.pem'),
    '--tlscert', path.join(pki, 'cert.pem'), '--tlskey', path.join(pki, 'key.pem'), 'ps'], { timeoutMs: 20_000 });
  assert.notEqual(wrongCa.code, 0, show(wrongCa));
});

test('contexts: berth context create/use is what docker sees, and both reach berthd through it (TLS material included)', async () => {
  const cfg = fs.mkdtempSync(path.join(os.tmpdir(), 'bt-ctx-'));
  const env = { DOCKER_CONFIG: cfg, DOCKER_HOST: undefined, BERTH_HOST: undefined };
  try {
    const c = await berth(env, ['context', 'create', 'tlsctx', '--description', 'berth over tls', '--docker',
      `host=tcp://127.0.0.1:${port},ca=${path.join(pki, 'ca.pem')},cert=${path.join(pki, 'cert.pem')},key=${path.join(pki, 'key.pem')}`]);
    assert.equal(c.code, 0, show(c));
    const dls = await docker(env, ['context', 'ls', '--format', '{{.Name}} {{.DockerEndpoint}} {{.Description}}']);
    assert.equal(dls.code, 0, show(dls));
    assert.match(dls.stdout, new RegExp(`^tlsctx tcp://127\\.0\\.0\\.1:${port} berth over tls$`, 'm'));
    // docker creates one, berth lists it
    const dc = await docker(env, ['context', 'create', 'sockctx', '--docker', `host=${d.host}`]);
    assert.equal(dc.code, 0, show(dc));
    const bls = await berth(env, ['context', 'ls', '-q']);
    assert.deepEqual(bls.stdout.trim().split('\n'), ['default', 'sockctx', 'tlsctx']);
    // context inspect: the same document as docker's (endpoints, TLS material, storage)
    const bi = await berth(env, ['context', 'inspect', 'tlsctx', 'sockctx']);
    assert.equal(bi.code, 0, show(bi));
    assert.equal(bi.stdout, (await docker(env, ['context', 'inspect', 'tlsctx', 'sockctx'])).stdout);
    // --context, DOCKER_CONTEXT and `context use` all select it, for both CLIs
    const viaFlag = await berth(env, ['--context', 'tlsctx', 'ps']);
    assert.equal(viaFlag.code, 0, show(viaFlag));
    const viaEnv = await docker({ ...env, DOCKER_CONTEXT: 'tlsctx' }, ['ps']);
    assert.equal(viaEnv.code, 0, show(viaEnv));
    const use = await berth(env, ['context', 'use', 'tlsctx']);
    assert.equal(use.code, 0, show(use));
    assert.equal((await docker(env, ['context', 'show'])).stdout.trim(), 'tlsctx');
    const viaCurrent = await berth(env, ['info', '--format', '{{.ServerVersion}}']);
    assert.equal(viaCurrent.code, 0, show(viaCurrent));
    const dockerCurrent = await docker(env, ['ps']);
    assert.equal(dockerCurrent.code, 0, show(dockerCurrent));
    // a missing context, and -H with --context, are errors
    const missing = await berth(env, ['-c', 'nope', 'ps']);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /context "nope" does not exist/);
    const both = await berth(env, ['-H', d.host, '-c', 'tlsctx', 'ps']);
    assert.match(both.stderr, /conflicting options: cannot specify both --host and --context/);
    // rm of the context in use needs -f; docker then sees it gone
    assert.match((await berth(env, ['context', 'rm', 'tlsctx'])).stderr, /is in use, set -f flag/);
    assert.equal((await berth(env, ['context', 'rm', '-f', 'tlsctx'])).code, 0);
    assert.equal((await docker(env, ['context', 'show'])).stdout.trim(), 'default');
    assert.doesNotMatch((await docker(env, ['context', 'ls', '-q'])).stdout, /tlsctx/);
  } finally {
    fs.rmSync(cfg, { recursive: true, force: true });
  }
});
