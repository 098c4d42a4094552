// berth registry with token auth, as the distribution registry's: a token server in this test (loopback, basic
// auth, RS256 JWTs with an x5c chain to a certificate openssl made) beside `berth registry serve`; the real
// docker CLI logs in, pushes, pulls and runs through a private berthd (whose registry client runs the bearer
// flow), bin/berth pulls, a pull-only user is refused a push, and raw HTTP checks the challenge, the scope,
// the 401 body, kid-signed ES256 tokens and every kind of bad token.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import crypto, { X509Certificate } from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { startDaemon, type Daemon } from '../helpers/daemon.js';
import { berth, docker, show, type CliEnv, type CliResult } from '../helpers/cli.js';
import { busyboxTar } from '../helpers/fixtures.js';
import { startRegistry, type TestRegistry } from '../helpers/registry.js';

const run = promisify(execFile);
const SERVICE = 'berth-test-registry';
const ISSUER = 'berth-test-issuer';

interface Signer { key: crypto.KeyObject; cert: X509Certificate; alg: 'RS256' | 'ES256' }
let d: Daemon;
let reg: TestRegistry;
let tmp: string;
let tokenServer: http.Server;
let realm: string;
let rsa: Signer;
let ec: Signer;
let stranger: Signer;
const issued: string[] = [];

async function makeSigner(name: string, alg: Signer['alg']): Promise<Signer> {
  const key = path.join(tmp, `${name}.key`);
  const cert = path.join(tmp, `${name}.crt`);
  const newkey = alg === 'RS256' ? ['-newkey', 'rsa:2048'] : ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1'];
  await run('openssl', ['req', '-x509', ...newkey, '-nodes', '-keyout', key, '-out', cert, '-days', '2', '-subj', `/CN=${name}`]);
  return { key: crypto.createPrivateKey(fs.readFileSync(key)), cert: new X509Certificate(fs.readFileSync(cert)), alg };
}

/** RFC 7638 thumbprint, the `kid` distribution derives from a root certificate's key. */
function thumbprint(key: crypto.KeyObject): string {
  const j = key.export({ format: 'jwk' });
  const text = j.kty === 'RSA' ? `{"e":"${j.e}","kty":"RSA","n":"${j.n}"}` : `{"crv":"${j.crv}","kty":"EC","x":"${j.x}","y":"${j.y}"}`;
  return crypto.createHash('sha256').update(text).digest('base64url');
}

type AccessClaim = { type: string; name: string; actions: string[] };
function mint(access: AccessClaim[], o: { signer?: Signer; kid?: boolean; iss?: string; aud?: string | string[]; exp?: number; tamper?: boolean } = {}): string {
  const s = o.signer ?? rsa;
  const now = Math.floor(Date.now() / 1000);
  const header = o.kid ? { alg: s.alg, typ: 'JWT', kid: thumbprint(s.cert.publicKey) } : { alg: s.alg, typ: 'JWT', x5c: [s.cert.raw.toString('base64')] };
  const claims = { iss: o.iss ?? ISSUER, sub: 'test', aud: o.aud ?? SERVICE, exp: o.exp ?? now + 300, nbf: now - 5, iat: now, jti: crypto.randomUUID(), access };
  const enc = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url');
  const input = `${enc(header)}.${enc(claims)}`;
  const sig = crypto.sign('sha256', Buffer.from(input), s.alg === 'ES256' ? { key: s.key, dsaEncoding: 'ieee-p1363' } : s.key).toString('base64url');
  const body = o.tamper ? enc({ ...claims, access: [{ type: 'repository', name: 'tok/app', actions: ['*'] }] }) : enc(claims);
  return `${enc(header)}.${body}.${sig}`;
}

/** docker/distribution's token server shape: basic auth, ?service&scope..., grants per user. */
function serveTokens(): Promise<string> {
  const users: Record<string, { pw: string; may: (action: string, type: string) => boolean }> = {
    alice: { pw: 'alicepw', may: () => true },
    bob: { pw: 'bobpw', may: (a, type) => type === 'repository' && a === 'pull' },
  };
  tokenServer = http.createServer((req, res) => {
    const u = new URL(req.url!, 'http://x');
    const m = /^Basic (.+)$/.exec(req.headers.authorization ?? '');
    const [user, pw] = m ? Buffer.from(m[1]!, 'base64').toString().split(':') : [];
    const who = user ? users[user] : undefined;
    if (!who || who.pw !== pw || u.searchParams.get('service') !== SERVICE) {
      res.writeHead(401, { 'Content-Type': 'application/json' });
      res.end(JSON.stringify({ errors: [{ code: 'UNAUTHORIZED', message: 'incorrect username or password' }] }));
      return;
    }
    const access: AccessClaim[] = [];
    for (const scope of u.searchParams.getAll('scope').flatMap((s) => s.split(' ')).filter(Boolean)) {
      const parts = scope.split(':');
      const type = parts[0]!;
      const actions = parts.pop()!.split(',').filter((a) => who.may(a, type));
      access.push({ type, name: parts.slice(1).join(':'), actions });
    }
    issued.push(`${user} ${u.searchParams.getAll('scope').join(' ')}`);
    const token = mint(access);
    res.writeHead(200, { 'Content-Type': 'application/json' });
    res.end(JSON.stringify({ token, access_token: token, expires_in: 300, issued_at: new Date().toISOString() }));
  });
  return new Promise((resolve) => tokenServer.listen(0, '127.0.0.1', () => resolve(`http://127.0.0.1:${(tokenServer.address() as AddressInfo).port}/token`)));
}

async function ok(r: Promise<CliResult>, what: string): Promise<CliResult> {
  const x = await r;
  assert.equal(x.code, 0, `${what} failed: ${show(x)}\n${d.logTail()}`);
  return x;
}

function configDir(name: string): CliEnv {
  const dir = path.join(tmp, name);
  fs.mkdirSync(dir, { recursive: true });
  return { ...d.env, DOCKER_CONFIG: dir };
}

before(async () => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-regtoken-'));
  rsa = await makeSigner('signer-rsa', 'RS256');
  ec = await makeSigner('signer-ec', 'ES256');
  stranger = await makeSigner('stranger', 'RS256');
  fs.writeFileSync(path.join(tmp, 'bundle.pem'), rsa.cert.toString() + ec.cert.toString());
  realm = await serveTokens();
  fs.writeFileSync(path.join(tmp, 'registry.json'), JSON.stringify({ auth: { token: { realm, service: SERVICE, issuer: ISSUER, rootcertbundle: 'bundle.pem' } } }));
  reg = await startRegistry(path.join(tmp, 'reg'), ['--config', path.join(tmp, 'registry.json')]);
  d = await startDaemon({ args: ['-b', 'none'] });
  await ok(docker(configDir('setup'), ['import', '--change', 'CMD ["echo","tokened"]', await busyboxTar(), 'local/bb:token']), 'import');
});

after(async () => {
  reg?.stop();
  tokenServer?.close();
  tokenServer?.closeAllConnections();
  if (d) await d.cleanup();
  fs.rmSync(tmp, { recursive: true, force: true });
});

test('docker login, push, rmi, pull, run through the token server; berth pulls; a pull-only user cannot push', async () => {
  const env = configDir('alice');
  const name = `${reg.host}/tok/app:v1`;
  await ok(docker(env, ['tag', 'local/bb:token', name]), 'tag');
  const wrong = await docker(env, ['login', reg.host, '-u', 'alice', '-p', 'nope']);
  assert.notEqual(wrong.code, 0, show(wrong));
  await ok(docker(env, ['login', reg.host, '-u', 'alice', '--password-stdin'], { input: 'alicepw\n' }), 'login');
  const push = await ok(docker(env, ['push', name]), 'push');
  assert.match(push.stdout, /v1: digest: sha256:[a-f0-9]{64} size: \d+/);
  assert.ok(issued.some((i) => i === 'alice repository:tok/app:pull,push' || i === 'alice repository:tok/app:push,pull'), `tokens asked: ${issued.join(' | ')}`);
  await ok(docker(env, ['rmi', name]), 'rmi');
  await ok(docker(env, ['pull', name]), 'pull');
  assert.equal((await ok(docker(env, ['run', '--rm', '--network', 'none', name]), 'run')).stdout, 'tokened\n');
  await ok(docker(env, ['rmi', name]), 'rmi');
  await ok(berth(env, ['pull', '-q', name]), 'berth pull');
  await ok(docker(env, ['rmi', name]), 'rmi');

  const bobEnv = configDir('bob');
  await ok(docker(bobEnv, ['login', reg.host, '-u', 'bob', '--password-stdin'], { input: 'bobpw\n' }), 'bob login');
  await ok(docker(bobEnv, ['pull', name]), 'bob pulls');
  const bobName = `${reg.host}/tok/bob:v1`;
  await ok(docker(bobEnv, ['tag', 'local/bb:token', bobName]), 'tag');
  const refused = await docker(bobEnv, ['push', bobName]);
  assert.notEqual(refused.code, 0, show(refused));
  // distribution's answer (401 UNAUTHORIZED, error="insufficient_scope"), read as docker reads it.
  assert.match(refused.stderr, /^unauthorized: authentication required$/m, show(refused));
  assert.equal((await fetch(`${reg.base}/v2/tok/bob/tags/list`, { headers: { Authorization: `Bearer ${mint([{ type: 'repository', name: 'tok/bob', actions: ['pull'] }])}` } })).status, 404, 'nothing of bob\'s push landed');
});

test('raw HTTP: challenges name realm, service and scope; scopes are checked per action; bad tokens are invalid_token', async () => {
  const get = (p: string, token?: string, init: RequestInit = {}) => fetch(`${reg.base}${p}`, { ...init, headers: { ...(token ? { Authorization: `Bearer ${token}` } : {}) } });
  const challenge = (r: Response) => r.headers.get('www-authenticate');
  const base = `Bearer realm="${realm}",service="${SERVICE}"`;

  const v2 = await get('/v2/');
  assert.equal(v2.status, 401);
  assert.equal(challenge(v2), base);
  assert.equal((await v2.json() as any).errors[0].code, 'UNAUTHORIZED');
  assert.equal((await get('/v2/', mint([]))).status, 200, 'any valid token opens /v2/');

  const anonPull = await get('/v2/tok/app/manifests/v1');
  assert.equal(challenge(anonPull), `${base},scope="repository:tok/app:pull"`);
  const anonPush = await get('/v2/tok/app/blobs/uploads/', undefined, { method: 'POST' });
  assert.equal(challenge(anonPush), `${base},scope="repository:tok/app:pull,push"`);
  assert.deepEqual(await anonPush.json(), { errors: [{ code: 'UNAUTHORIZED', message: 'authentication required', detail: [
    { Type: 'repository', Class: '', Name: 'tok/app', Action: 'pull' }, { Type: 'repository', Class: '', Name: 'tok/app', Action: 'push' },
  ] }] });

  const pullOnly = mint([{ type: 'repository', name: 'tok/app', actions: ['pull'] }]);
  assert.equal((await get('/v2/tok/app/manifests/v1', pullOnly)).status, 200);
  const noPush = await get('/v2/tok/app/blobs/uploads/', pullOnly, { method: 'POST' });
  assert.equal(noPush.status, 401);
  assert.equal(challenge(noPush), `${base},scope="repository:tok/app:pull,push",error="insufficient_scope"`);
  assert.equal((await noPush.json() as any).errors[0].code, 'UNAUTHORIZED');
  assert.deepEqual(fs.readdirSync(path.join(tmp, 'reg', 'content', 'ingest')), [], 'a refused push opened no upload');
  assert.equal((await get('/v2/tok/app/manifests/v1', pullOnly, { method: 'DELETE' })).status, 401, 'delete needs the delete action');
  assert.equal((await get('/v2/tok/other/manifests/v1', pullOnly)).status, 401, 'the grant is per repository');

  const pushBoth = mint([{ type: 'repository', name: 'tok/app2', actions: ['pull', 'push'] }]);
  const started = await get('/v2/tok/app2/blobs/uploads/', pushBoth, { method: 'POST' });
  assert.equal(started.status, 202);
  // Cancelling it is a DELETE, which distribution files under the delete action.
  assert.equal((await get(started.headers.get('location')!, pushBoth, { method: 'DELETE' })).status, 401);
  assert.equal((await get(started.headers.get('location')!, mint([{ type: 'repository', name: 'tok/app2', actions: ['delete'] }]), { method: 'DELETE' })).status, 204);
  // A mount needs pull on the source repository too.
  const mount = await get(`/v2/tok/app2/blobs/uploads/?mount=sha256:${'0'.repeat(64)}&from=tok/app`, pushBoth, { method: 'POST' });
  assert.equal(mount.status, 401);
  assert.equal(challenge(mount), `${base},scope="repository:tok/app2:pull,push repository:tok/app:pull",error="insufficient_scope"`);
  const star = mint([{ type: 'repository', name: 'tok/app2', actions: ['*'] }, { type: 'repository', name: 'tok/app', actions: ['pull'] }]);
  assert.equal((await get(`/v2/tok/app2/blobs/uploads/?mount=sha256:${'0'.repeat(64)}&from=tok/app`, star, { method: 'POST' })).status, 202);

  const cat = await get('/v2/_catalog', pullOnly);
  assert.equal(cat.status, 401);
  assert.equal(challenge(cat), `${base},scope="registry:catalog:*",error="insufficient_scope"`);
  const catalog = mint([{ type: 'registry', name: 'catalog', actions: ['*'] }]);
  assert.deepEqual((await (await get('/v2/_catalog', catalog)).json() as any).repositories, ['tok/app']);

  // ES256, named by kid (the JWK thumbprint of a bundle certificate's key), no x5c.
  assert.equal((await get('/v2/tok/app/manifests/v1', mint([{ type: 'repository', name: 'tok/app', actions: ['pull'] }], { signer: ec, kid: true }))).status, 200);
  assert.equal((await get('/v2/tok/app/manifests/v1', mint([{ type: 'repository', name: 'tok/app', actions: ['pull'] }], { kid: true }))).status, 200, 'RS256 by kid');

  const pull = [{ type: 'repository', name: 'tok/app', actions: ['pull'] }];
  const now = Math.floor(Date.now() / 1000);
  const bad: Record<string, string> = {
    'expired': mint(pull, { exp: now - 120 }),
    'another issuer': mint(pull, { iss: 'someone-else' }),
    'another audience': mint(pull, { aud: ['other-registry'] }),
    'a key outside the bundle (x5c)': mint(pull, { signer: stranger }),
    'a key outside the bundle (kid)': mint(pull, { signer: stranger, kid: true }),
    'a tampered payload': mint(pull, { tamper: true }),
    'not a JWT': 'abc.def',
  };
  for (const [what, token] of Object.entries(bad)) {
    const r = await get('/v2/tok/app/manifests/v1', token);
    assert.equal(r.status, 401, what);
    assert.equal(challenge(r), `${base},scope="repository:tok/app:pull",error="invalid_token"`, what);
  }
  assert.equal((await get('/v2/tok/app/manifests/v1', mint(pull, { exp: now - 30 }))).status, 200, 'within the 60 s leeway');
  assert.equal((await get('/v2/tok/app/manifests/v1', mint(pull, { aud: ['x', SERVICE] }))).status, 200, 'an audience list naming the service');
});
