// The registry client's auth (anonymous, basic, bearer token per scope, one retry), POST /auth's login
// check, X-Registry-Auth decoding, and berth registry's htpasswd auth and config file: against in-process
// HTTP servers on loopback.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import os from 'node:os';
import path from 'node:path';
import type { AddressInfo } from 'node:net';
import bcrypt from 'bcryptjs';
import { RegistryClient, parseChallenge } from '../../src/distribution/registry-client.js';
import { DistributionService, decodeRegistryAuth, loginDomain } from '../../src/distribution/distribution-service.js';
import { RegistryHosts } from '../../src/distribution/registry-hosts.js';
import type { ImageService } from '../../src/services/image-service.js';
import { UnauthorizedError } from '../../src/errors.js';
import { HtpasswdAuth } from '../../src/registry/htpasswd.js';
import { loadRegistryConfig } from '../../src/registry/config.js';
import { registryAuthFor } from '../../src/cli/registry-auth.js';
import { CliConfigFile } from '../../src/cli/config-file.js';

async function serve(handler: (req: IncomingMessage, res: ServerResponse) => void): Promise<{ base: string; host: string; close(): Promise<void> }> {
  const s = http.createServer(handler);
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', () => r()));
  const port = (s.address() as AddressInfo).port;
  return { base: `http://127.0.0.1:${port}`, host: `127.0.0.1:${port}`, close: () => new Promise((r) => { s.close(() => r()); s.closeAllConnections(); }) };
}

const basic = (u: string, p: string) => `Basic ${Buffer.from(`${u}:${p}`).toString('base64')}`;
const MANIFEST = JSON.stringify({ schemaVersion: 2, mediaType: 'application/vnd.oci.image.manifest.v1+json', config: {}, layers: [] });

/** A registry behind a token server: tokens name their scope; the token server wants alice:pw. */
async function tokenRegistry(): Promise<{ base: string; host: string; tokenRequests: string[]; close(): Promise<void> }> {
  const tokenRequests: string[] = [];
  const auth = await serve((req, res) => {
    const u = new URL(req.url!, 'http://x');
    tokenRequests.push(`${u.searchParams.get('service')} ${u.searchParams.get('scope') ?? ''}`);
    if (req.headers.authorization !== basic('alice', 'pw')) {
      res.writeHead(401, { 'Content-Type': 'application/json' });
      res.end(JSON.stringify({ errors: [{ code: 'UNAUTHORIZED', message: 'incorrect username or password' }] }));
      return;
    }
    res.writeHead(200, { 'Content-Type': 'application/json' });
    res.end(JSON.stringify({ token: `tok:${u.searchParams.get('scope') ?? ''}` }));
  });
  const reg = await serve((req, res) => {
    const u = new URL(req.url!, 'http://x');
    const m = /^\/v2\/(.+)\/manifests\//.exec(u.pathname);
    const scope = m ? `repository:${m[1]}:pull` : '';
    if (req.headers.authorization !== `Bearer tok:${scope}`) {
      res.writeHead(401, { 'WWW-Authenticate': `Bearer realm="${auth.base}/token",service="test-registry"${scope ? `,scope="${scope}"` : ''}` });
      res.end();
      return;
    }
    res.writeHead(200, { 'Content-Type': 'application/vnd.oci.image.manifest.v1+json' });
    res.end(m ? MANIFEST : '{}');
  });
  return { ...reg, tokenRequests, close: async () => { await reg.close(); await auth.close(); } };
}

test('bearer flow: the challenge leads to the realm with service and scope, one token per scope, cached', async () => {
  const r = await tokenRegistry();
  try {
    const c = new RegistryClient({ domain: r.host, base: r.base }, { username: 'alice', password: 'pw' });
    const m = await c.getManifest('lib/a', 'v1');
    assert.equal(m.body.toString(), MANIFEST);
    await c.getManifest('lib/a', 'v2');
    assert.deepEqual(r.tokenRequests, ['test-registry repository:lib/a:pull'], 'the second request used the cached token');
    await c.getManifest('lib/b', 'v1');
    assert.deepEqual(r.tokenRequests, ['test-registry repository:lib/a:pull', 'test-registry repository:lib/b:pull']);

    const bad = new RegistryClient({ domain: r.host, base: r.base }, { username: 'alice', password: 'nope' });
    await assert.rejects(bad.getManifest('lib/a', 'v1'), (e: unknown) => e instanceof UnauthorizedError && /incorrect username or password/.test((e as Error).message));
  } finally { await r.close(); }
});

test('bearer flow: a cross-repository mount asks the token server for both repositories, one scope parameter each', async () => {
  const asked: string[][] = [];
  const auth = await serve((req, res) => {
    asked.push(new URL(req.url!, 'http://x').searchParams.getAll('scope'));
    res.writeHead(200, { 'Content-Type': 'application/json' });
    res.end(JSON.stringify({ token: 'T' }));
  });
  const reg = await serve((req, res) => {
    if (req.headers.authorization !== 'Bearer T') {
      res.writeHead(401, { 'WWW-Authenticate': `Bearer realm="${auth.base}/token",service="s"` });
      res.end();
      return;
    }
    res.writeHead(201, { Location: '/v2/lib/b/blobs/sha256:x' });
    res.end();
  });
  try {
    const c = new RegistryClient({ domain: reg.host, base: reg.base });
    assert.deepEqual(await c.startUpload('lib/b', { digest: 'sha256:x', from: 'lib/a' }), { mounted: true });
    assert.deepEqual(asked, [['repository:lib/b:pull,push', 'repository:lib/a:pull']]);
  } finally { await reg.close(); await auth.close(); }
});

test('basic flow: a Basic challenge is answered once with the credentials; no credentials stay a 401', async () => {
  let seen: (string | undefined)[] = [];
  const reg = await serve((req, res) => {
    seen.push(req.headers.authorization);
    if (req.headers.authorization !== basic('bob', 'secret')) {
      res.writeHead(401, { 'WWW-Authenticate': 'Basic realm="test"', 'Content-Type': 'application/json' });
      res.end(JSON.stringify({ errors: [{ code: 'UNAUTHORIZED', message: 'authentication required' }] }));
      return;
    }
    res.writeHead(200, { 'Content-Type': 'application/vnd.oci.image.manifest.v1+json' });
    res.end(MANIFEST);
  });
  try {
    const c = new RegistryClient({ domain: reg.host, base: reg.base }, { username: 'bob', password: 'secret' });
    await c.getManifest('x', 'v1');
    assert.deepEqual(seen, [undefined, basic('bob', 'secret')]);
    seen = [];
    await c.getManifest('x', 'v2');
    assert.deepEqual(seen, [basic('bob', 'secret')], 'the scheme is known now: credentials go with the first request');
    seen = [];
    const anon = new RegistryClient({ domain: reg.host, base: reg.base });
    await assert.rejects(anon.getManifest('x', 'v1'), new RegExp(`Get "${reg.base}/v2/x/manifests/v1": no basic auth credentials$`));
    assert.equal(seen.length, 1, 'nothing to retry with');
  } finally { await reg.close(); }
});

test('POST /auth login: basic and token registries, with docker wording for a refusal', async () => {
  const dist = () => new DistributionService({ images: {} as ImageService, hosts: new RegistryHosts(undefined, []) });
  const r = await tokenRegistry();
  const b = await serve((req, res) => {
    const ok = req.headers.authorization === basic('bob', 'secret');
    res.writeHead(ok ? 200 : 401, ok ? {} : { 'WWW-Authenticate': 'Basic realm="test"' });
    res.end('{}');
  });
  const open = await serve((_req, res) => { res.writeHead(200); res.end('{}'); });
  try {
    assert.deepEqual(await dist().login({ serveraddress: r.host, username: 'alice', password: 'pw' }), { identityToken: '' });
    await assert.rejects(dist().login({ serveraddress: r.host, username: 'alice', password: 'x' }), /unauthorized: incorrect username or password/);
    assert.deepEqual(await dist().login({ serveraddress: `http://${b.host}/v2/`, username: 'bob', password: 'secret' }), { identityToken: '' });
    await assert.rejects(dist().login({ serveraddress: b.host, username: 'bob', password: 'bad' }),
      (e: unknown) => e instanceof UnauthorizedError && (e as Error).message === `login attempt to ${b.base}/v2/ failed with status: 401 Unauthorized`);
    // A registry without auth takes any login, as with docker.
    assert.deepEqual(await dist().login({ serveraddress: open.host, username: 'x', password: 'y' }), { identityToken: '' });
  } finally { await r.close(); await b.close(); await open.close(); }
});

test('login server addresses and X-Registry-Auth as the docker CLI sends them', () => {
  assert.equal(loginDomain(undefined), 'docker.io');
  assert.equal(loginDomain('https://index.docker.io/v1/'), 'docker.io');
  assert.equal(loginDomain('http://Reg.Example:5000/v2/'), 'reg.example:5000');
  const header = Buffer.from(JSON.stringify({ username: 'u', password: 'p?>', serveraddress: 'h', email: '' })).toString('base64url');
  assert.deepEqual(decodeRegistryAuth(header), { username: 'u', password: 'p?>' });
  assert.deepEqual(decodeRegistryAuth(Buffer.from('{}').toString('base64')), {});
  assert.throws(() => decodeRegistryAuth('!!!'), /invalid X-Registry-Auth header/);
  assert.deepEqual(parseChallenge('Bearer realm="https://a/token",service="reg",scope="repository:x:pull,push"'),
    { scheme: 'bearer', params: { realm: 'https://a/token', service: 'reg', scope: 'repository:x:pull,push' } });

  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bauth-'));
  try {
    fs.writeFileSync(path.join(dir, 'config.json'), JSON.stringify({ auths: { '127.0.0.1:5000': { auth: Buffer.from('u:p').toString('base64') } } }));
    const cfg = CliConfigFile.load(dir);
    const h = registryAuthFor(cfg, '127.0.0.1:5000/a/b:v1');
    assert.deepEqual(JSON.parse(Buffer.from(h!, 'base64url').toString()), { serveraddress: '127.0.0.1:5000', username: 'u', password: 'p' });
    assert.equal(registryAuthFor(cfg, 'busybox'), undefined);
  } finally { fs.rmSync(dir, { recursive: true, force: true }); }
});

function fakeReq(authorization?: string): IncomingMessage {
  return { headers: authorization ? { authorization } : {} } as IncomingMessage;
}

test('htpasswd: bcrypt entries as htpasswd -B writes them; other hashes refused at load', async () => {
  const line = `alice:${bcrypt.hashSync('pw', 5).replace(/^\$2b\$/, '$2y$')}`;
  const a = HtpasswdAuth.parse(`# users\n${line}\n\n`, 'my realm');
  assert.equal(await a.check(fakeReq(basic('alice', 'pw'))), undefined);
  assert.equal(await a.check(fakeReq(basic('alice', 'pw'))), undefined, 'cached');
  assert.equal((await a.check(fakeReq(basic('alice', 'wrong'))))?.challenge, 'Basic realm="my realm"');
  assert.equal((await a.check(fakeReq(basic('mallory', 'pw'))))?.challenge, 'Basic realm="my realm"');
  assert.equal((await a.check(fakeReq()))?.challenge, 'Basic realm="my realm"');
  assert.equal((await a.check(fakeReq('Bearer abc')))?.challenge, 'Basic realm="my realm"');
  assert.throws(() => HtpasswdAuth.parse('bob:{SHA}W6ph5Mm5Pz8GgiULbPgzG37mj9g=\n', 'r', 'pw.txt'), /pw.txt line 1: only bcrypt entries are supported/);
  assert.throws(() => HtpasswdAuth.parse('justaname\n', 'r'), /line 1: want user:hash/);
});

test('registry config file: htpasswd and TLS paths relative to it; unknown keys refused', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bregcfg-'));
  const write = (doc: unknown) => { fs.writeFileSync(path.join(dir, 'c.json'), JSON.stringify(doc)); return path.join(dir, 'c.json'); };
  try {
    fs.writeFileSync(path.join(dir, 'htpasswd'), `alice:${bcrypt.hashSync('pw', 4)}\n`);
    fs.writeFileSync(path.join(dir, 'cert.pem'), 'CERT');
    fs.writeFileSync(path.join(dir, 'key.pem'), 'KEY');
    const cfg = loadRegistryConfig(write({ readOnly: true, auth: { htpasswd: { path: 'htpasswd' } }, tls: { certificate: 'cert.pem', key: 'key.pem' } }));
    assert.equal(cfg.readOnly, true);
    assert.ok(cfg.auth instanceof HtpasswdAuth);
    assert.equal((cfg.auth as HtpasswdAuth).realm, 'berth-registry');
    assert.equal(cfg.tls!.cert.toString(), 'CERT');
    assert.throws(() => loadRegistryConfig(write({ auth: { htpasswd: { path: 'htpasswd', bogus: 1 } } })), /unknown key "auth.htpasswd.bogus"/);
    assert.throws(() => loadRegistryConfig(write({ auth: { token: {} } })), /token auth requires a valid option string: "realm"/);
    assert.throws(() => loadRegistryConfig(write({ auth: { token: { realm: 'r', service: 's', issuer: 'i', rootcertbundle: 'cert.pem', jwks: 'x' } } })), /unknown key "auth.token.jwks"/);
    assert.throws(() => loadRegistryConfig(write({ auth: { token: { realm: 'r', service: 's', issuer: 'i', rootcertbundle: 'cert.pem' } } })), /auth.token.rootcertbundle: token auth requires at least one token signing key/);
    assert.throws(() => loadRegistryConfig(write({ auth: { htpasswd: { path: 'htpasswd' }, token: {} } })), /exactly one of htpasswd and token/);
    assert.equal(loadRegistryConfig(write({ root: 'store' })).root, path.join(dir, 'store'));
    assert.throws(() => loadRegistryConfig(write({ root: 3 })), /root must be a directory path/);
    assert.throws(() => loadRegistryConfig(write({ tls: { certificate: 'missing.pem', key: 'key.pem' } })), /tls.certificate: ENOENT/);
    assert.throws(() => loadRegistryConfig(write({ http: {} })), /unknown key "http"/);
  } finally { fs.rmSync(dir, { recursive: true, force: true }); }
});
