// Registry auth end to end: `berth registry serve` with htpasswd basic auth (bcrypt, as `htpasswd -B`
// writes it), a private berthd, the real docker CLI and bin/berth logging in (POST /auth), storing
// credentials in config.json (plain, and through a docker-credential-* helper), and pushing/pulling with
// X-Registry-Auth.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import bcrypt from 'bcryptjs';
import { startDaemon, type Daemon } from '../helpers/daemon.js';
import { berth, docker, show, type CliEnv, type CliResult } from '../helpers/cli.js';
import { busyboxTar } from '../helpers/fixtures.js';
import { startRegistry, type TestRegistry } from '../helpers/registry.js';

let d: Daemon;
let reg: TestRegistry;
let tmp: string;

async function ok(run: Promise<CliResult>, what: string): Promise<CliResult> {
  const r = await run;
  assert.equal(r.code, 0, `${what} failed: ${show(r)}\n${d.logTail()}`);
  return r;
}

function freshConfig(name: string, doc?: unknown): { dir: string; env: CliEnv } {
  const dir = path.join(tmp, name);
  fs.mkdirSync(dir, { recursive: true });
  if (doc) fs.writeFileSync(path.join(dir, 'config.json'), JSON.stringify(doc));
  return { dir, env: { ...d.env, DOCKER_CONFIG: dir } };
}

const readConfig = (dir: string) => JSON.parse(fs.readFileSync(path.join(dir, 'config.json'), 'utf8'));

before(async () => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-regauth-'));
  fs.writeFileSync(path.join(tmp, 'htpasswd'), `alice:${bcrypt.hashSync('s3cret', 6).replace(/^\$2b\$/, '$2y$')}\n`);
  fs.writeFileSync(path.join(tmp, 'registry.json'), JSON.stringify({ auth: { htpasswd: { realm: 'e2e', path: 'htpasswd' } } }));
  reg = await startRegistry(path.join(tmp, 'reg'), ['--config', path.join(tmp, 'registry.json')]);
  d = await startDaemon({ args: ['-b', 'none'] });
  const cfg = freshConfig('setup');
  await ok(docker(cfg.env, ['import', '--change', 'CMD ["echo","authed"]', await busyboxTar(), 'local/bb:auth']), 'import');
});

after(async () => {
  reg?.stop();
  if (d) await d.cleanup();
  fs.rmSync(tmp, { recursive: true, force: true });
});

test('docker login (wrong, then right), tag, push, rmi, pull, run, logout against berth registry with htpasswd', async () => {
  const { dir, env } = freshConfig('docker');
  const name = `${reg.host}/e2e/auth:v1`;
  await ok(docker(env, ['tag', 'local/bb:auth', name]), 'tag');

  const anon = await docker(env, ['push', name]);
  assert.notEqual(anon.code, 0, show(anon));
  assert.match(anon.stdout + anon.stderr, new RegExp(`Head "http://${reg.host}/v2/e2e/auth/blobs/sha256:[0-9a-f]{64}": no basic auth credentials`));

  const wrong = await docker(env, ['login', reg.host, '-u', 'alice', '-p', 'nope']);
  assert.equal(wrong.code, 1, show(wrong));
  assert.match(wrong.stderr, new RegExp(`login attempt to http://${reg.host}/v2/ failed with status: 401 Unauthorized`));
  assert.equal(fs.existsSync(path.join(dir, 'config.json')), false, 'nothing stored for a failed login');

  const login = await ok(docker(env, ['login', reg.host, '-u', 'alice', '--password-stdin'], { input: 's3cret\n' }), 'login');
  assert.match(login.stdout, /Login Succeeded/);
  assert.equal(readConfig(dir).auths[reg.host].auth, Buffer.from('alice:s3cret').toString('base64'));

  const push = await ok(docker(env, ['push', name]), 'push');
  assert.match(push.stdout, /v1: digest: sha256:[a-f0-9]{64} size: \d+/);
  const id = JSON.parse((await ok(docker(env, ['image', 'inspect', name]), 'inspect')).stdout)[0].Id;
  await ok(docker(env, ['rmi', name]), 'rmi');
  await ok(docker(env, ['pull', name]), 'pull');
  assert.equal(JSON.parse((await ok(docker(env, ['image', 'inspect', name]), 'inspect')).stdout)[0].Id, id);
  assert.equal((await ok(docker(env, ['run', '--rm', '--network', 'none', name]), 'run')).stdout, 'authed\n');
  await ok(docker(env, ['rmi', name]), 'rmi');

  const out = await ok(docker(env, ['logout', reg.host]), 'logout');
  assert.match(out.stdout, new RegExp(`Removing login credentials for ${reg.host}`));
  const denied = await docker(env, ['pull', name]);
  assert.notEqual(denied.code, 0, show(denied));
  assert.match(denied.stderr, new RegExp(`Error response from daemon: Get "http://${reg.host}/v2/e2e/auth/manifests/v1": no basic auth credentials`));
});

test('berth login/logout keep credentials as docker does: docker pulls with what berth stored', async () => {
  const { dir, env } = freshConfig('berth');
  const name = `${reg.host}/e2e/berth:v1`;
  const noTty = await berth(env, ['login', reg.host, '-u', 'alice']);
  assert.equal(noTty.code, 1, show(noTty));
  assert.match(noTty.stderr, /Cannot perform an interactive login from a non TTY device/);
  const both = await berth(env, ['login', reg.host, '-u', 'alice', '-p', 'x', '--password-stdin']);
  assert.match(both.stderr, /--password and --password-stdin are mutually exclusive/);
  const wrong = await berth(env, ['login', reg.host, '-u', 'alice', '--password-stdin'], { input: 'bad\n' });
  assert.equal(wrong.code, 1, show(wrong));
  assert.match(wrong.stderr, /login attempt to http:\/\/.* failed with status: 401 Unauthorized/);

  const login = await ok(berth(env, ['login', `http://${reg.host}/v2/`, '-u', 'alice', '--password-stdin'], { input: 's3cret\n' }), 'berth login');
  assert.match(login.stdout, /^Login Succeeded$/m);
  assert.match(login.stderr, /credentials are stored unencrypted/);
  assert.equal(readConfig(dir).auths[reg.host].auth, Buffer.from('alice:s3cret').toString('base64'));
  // A second login with no flags reuses the stored credentials.
  const again = await ok(berth(env, ['login', reg.host]), 'berth login (stored)');
  assert.match(again.stdout, /Authenticating with existing credentials\.\.\. \[Username: alice\]\nLogin Succeeded/);

  await ok(docker(env, ['tag', 'local/bb:auth', name]), 'tag');
  await ok(docker(env, ['push', name]), 'docker push with berth login');
  await ok(docker(env, ['rmi', name]), 'rmi');

  assert.match((await ok(berth(env, ['logout', reg.host]), 'logout')).stdout, new RegExp(`Removing login credentials for ${reg.host}`));
  assert.equal(readConfig(dir).auths, undefined);
  assert.match((await ok(berth(env, ['logout', reg.host]), 'logout again')).stdout, new RegExp(`Not logged in to ${reg.host}`));
});

test('credsStore: berth login stores through docker-credential-<name>; docker pulls with it; logout erases', async () => {
  const bin = path.join(tmp, 'helper-bin');
  const store = path.join(tmp, 'helper-store.json');
  fs.mkdirSync(bin, { recursive: true });
  // A minimal credential helper speaking docker-credential-helpers' protocol, keeping one record in a file.
  fs.writeFileSync(path.join(bin, 'docker-credential-e2e'), `#!/bin/sh
case "$1" in
  store) cat > ${store} ;;
  get) read -r server; if [ -f ${store} ]; then python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(json.dumps({"ServerURL":d["ServerURL"],"Username":d["Username"],"Secret":d["Secret"]}))' ${store}; else echo "credentials not found in native keychain"; exit 1; fi ;;
  erase) read -r server; if [ -f ${store} ]; then rm ${store}; else echo "credentials not found in native keychain"; exit 1; fi ;;
  list) echo '{}' ;;
esac
`, { mode: 0o755 });
  const { dir, env: base } = freshConfig('helper', { credsStore: 'e2e' });
  const env = { ...base, PATH: `${bin}:${process.env.PATH}` };
  await ok(berth(env, ['login', reg.host, '-u', 'alice', '--password-stdin'], { input: 's3cret' }), 'berth login');
  assert.deepEqual(readConfig(dir).auths, { [reg.host]: {} }, 'only an empty entry in config.json');
  assert.deepEqual(JSON.parse(fs.readFileSync(store, 'utf8')), { ServerURL: reg.host, Username: 'alice', Secret: 's3cret' });

  const name = `${reg.host}/e2e/helper:v1`;
  await ok(docker(env, ['tag', 'local/bb:auth', name]), 'tag');
  await ok(docker(env, ['push', name]), 'push through the helper');
  await ok(docker(env, ['rmi', name]), 'rmi');
  await ok(docker(env, ['pull', name]), 'pull through the helper');
  await ok(docker(env, ['rmi', name]), 'rmi');
  await ok(berth(env, ['logout', reg.host]), 'logout');
  assert.equal(fs.existsSync(store), false, 'the helper erased the record');
});
