/**
 * config.json as the docker CLI reads and writes it: the config dir's precedence, the settings berth
 * acts on, and credentials in the file or in a docker-credential-* helper (a recording fake runner).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {
  CliConfigFile, ConfigFileError, INDEX_SERVER, authKey, configDir, decodeAuth, encodeAuth, encodeAuthHeader, type HelperRunner,
} from '../../src/cli/config-file.js';

function tmp(): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), 'berth-cfg-'));
}

test('config dir: --config beats DOCKER_CONFIG beats $HOME/.docker', () => {
  assert.equal(configDir('/a', { DOCKER_CONFIG: '/b', HOME: '/h' }), '/a');
  assert.equal(configDir(undefined, { DOCKER_CONFIG: '/b', HOME: '/h' }), '/b');
  assert.equal(configDir(undefined, { HOME: '/h' }), '/h/.docker');
});

test('reads psFormat, imagesFormat, detachKeys, currentContext; a missing file is empty', () => {
  const dir = tmp();
  try {
    const empty = CliConfigFile.load(dir);
    assert.equal(empty.psFormat, undefined);
    assert.equal(empty.getAuth('example.com'), undefined);
    fs.writeFileSync(path.join(dir, 'config.json'), JSON.stringify({
      psFormat: 'table {{.Names}}', imagesFormat: '{{.Repository}}', detachKeys: 'ctrl-x,x', currentContext: 'remote',
    }));
    const c = CliConfigFile.load(dir);
    assert.equal(c.psFormat, 'table {{.Names}}');
    assert.equal(c.imagesFormat, '{{.Repository}}');
    assert.equal(c.detachKeys, 'ctrl-x,x');
    assert.equal(c.currentContext, 'remote');
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('a malformed config.json is an error for load, a warning for loadOrWarn', () => {
  const dir = tmp();
  try {
    fs.writeFileSync(path.join(dir, 'config.json'), '{"psFormat": ');
    assert.throws(() => CliConfigFile.load(dir), ConfigFileError);
    const warnings: string[] = [];
    const c = CliConfigFile.loadOrWarn(dir, (m) => warnings.push(m));
    assert.equal(c.psFormat, undefined);
    assert.equal(warnings.length, 1);
    assert.match(warnings[0]!, /^WARNING: Error loading config file: .*config\.json/);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('auths in the file: base64 user:password, Docker Hub aliases, hostname lookups', () => {
  assert.equal(authKey('docker.io'), INDEX_SERVER);
  assert.equal(authKey('registry-1.docker.io'), INDEX_SERVER);
  assert.equal(authKey('localhost:5000'), 'localhost:5000');
  assert.deepEqual(decodeAuth(encodeAuth('me', 'p:w')), { username: 'me', password: 'p:w' });
  assert.throws(() => decodeAuth(Buffer.from('nocolon').toString('base64')), /invalid auth configuration file/);

  const dir = tmp();
  try {
    fs.writeFileSync(path.join(dir, 'config.json'), JSON.stringify({
      auths: { 'https://reg.example.com/v1/': { auth: encodeAuth('u', 'p') } }, experimental: 'keep-me',
    }), { mode: 0o644 });
    fs.chmodSync(path.join(dir, 'config.json'), 0o644);
    const c = CliConfigFile.load(dir);
    assert.deepEqual(c.getAuth('reg.example.com'), { serveraddress: 'https://reg.example.com/v1/', username: 'u', password: 'p' });

    c.storeAuth('docker.io', { username: 'hub', password: 'secret' });
    const onDisk = JSON.parse(fs.readFileSync(path.join(dir, 'config.json'), 'utf8'));
    assert.equal(onDisk.auths[INDEX_SERVER].auth, Buffer.from('hub:secret').toString('base64'));
    assert.equal(onDisk.experimental, 'keep-me', 'unknown keys survive a save');
    assert.equal(fs.statSync(path.join(dir, 'config.json')).mode & 0o777, 0o644, 'an existing file keeps its mode');
    assert.deepEqual(CliConfigFile.load(dir).getAuth('index.docker.io'), { serveraddress: INDEX_SERVER, username: 'hub', password: 'secret' });

    assert.equal(c.eraseAuth('docker.io'), true);
    assert.equal(c.eraseAuth('docker.io'), false);
    assert.equal(CliConfigFile.load(dir).getAuth('docker.io'), undefined);
    assert.deepEqual(CliConfigFile.load(dir).authServers(), ['https://reg.example.com/v1/']);

    const fresh = path.join(dir, 'fresh');
    CliConfigFile.load(fresh).storeAuth('localhost:5000', { username: 'a', password: 'b' });
    assert.equal(fs.statSync(path.join(fresh, 'config.json')).mode & 0o777, 0o600, 'a new file may hold passwords: 0600');
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('credsStore and credHelpers: secrets go through docker-credential-* and the file keeps an empty entry', () => {
  const dir = tmp();
  const calls: Array<[string, string, string]> = [];
  const vault = new Map<string, { Username: string; Secret: string }>();
  const runner: HelperRunner = (helper, action, input) => {
    calls.push([helper, action, input]);
    if (action === 'store') {
      const j = JSON.parse(input) as { ServerURL: string; Username: string; Secret: string };
      vault.set(`${helper}/${j.ServerURL}`, { Username: j.Username, Secret: j.Secret });
      return { code: 0, stdout: '', stderr: '' };
    }
    const v = vault.get(`${helper}/${input}`);
    if (!v) return { code: 1, stdout: 'credentials not found in native keychain\n', stderr: '' };
    if (action === 'erase') { vault.delete(`${helper}/${input}`); return { code: 0, stdout: '', stderr: '' }; }
    return { code: 0, stdout: JSON.stringify({ ServerURL: input, ...v }), stderr: '' };
  };
  try {
    fs.writeFileSync(path.join(dir, 'config.json'), JSON.stringify({ credsStore: 'pass', credHelpers: { 'gcr.example': 'gcloud' } }));
    const c = CliConfigFile.load(dir, runner);
    assert.equal(c.getAuth('docker.io'), undefined);
    c.storeAuth('docker.io', { username: 'hub', password: 's3' });
    c.storeAuth('gcr.example', { identitytoken: 'tok' });
    assert.deepEqual(calls.filter((x) => x[1] === 'store').map((x) => [x[0], JSON.parse(x[2])]), [
      ['pass', { ServerURL: INDEX_SERVER, Username: 'hub', Secret: 's3' }],
      ['gcloud', { ServerURL: 'gcr.example', Username: '<token>', Secret: 'tok' }],
    ]);
    const onDisk = JSON.parse(fs.readFileSync(path.join(dir, 'config.json'), 'utf8'));
    assert.deepEqual(onDisk.auths, { [INDEX_SERVER]: {}, 'gcr.example': {} }, 'no secret in the file');
    const again = CliConfigFile.load(dir, runner);
    assert.deepEqual(again.getAuth('docker.io'), { serveraddress: INDEX_SERVER, username: 'hub', password: 's3' });
    assert.deepEqual(again.getAuth('gcr.example'), { serveraddress: 'gcr.example', identitytoken: 'tok' });
    assert.equal(again.eraseAuth('docker.io'), true);
    assert.equal(again.getAuth('docker.io'), undefined);

    const broken: HelperRunner = () => ({ code: -1, stdout: '', stderr: 'exec: "docker-credential-pass": executable file not found in $PATH' });
    assert.throws(() => CliConfigFile.load(dir, broken).getAuth('docker.io'), /error getting credentials - err: exec: "docker-credential-pass"/);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('the X-Registry-Auth header is base64url JSON', () => {
  const h = encodeAuthHeader({ username: 'u', password: 'p?>', serveraddress: 'r' });
  assert.doesNotMatch(h, /[+/=]/);
  assert.deepEqual(JSON.parse(Buffer.from(h, 'base64url').toString()), { username: 'u', password: 'p?>', serveraddress: 'r' });
});
