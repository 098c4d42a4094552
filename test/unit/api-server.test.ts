import { test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import fs from 'node:fs';
import { buildApp, listen, parseJsonBody, sendJson } from '../../src/api/server.js';
import { NotFoundError, ConflictError, NotModifiedError } from '../../src/errors.js';
import { loadConfig } from '../../src/config/daemon-config.js';

function request(socketPath: string, method: string, p: string, body?: string, headers: Record<string, string> = {}): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request({ socketPath, method, path: p, headers }, (res) => {
      let data = '';
      res.on('data', (c) => { data += c; });
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body: data }));
    });
    req.on('error', reject);
    if (body !== undefined) req.write(body);
    req.end();
  });
}

test('JSON body rules follow moby', () => {
  assert.equal(parseJsonBody(Buffer.alloc(0), undefined), undefined);
  assert.deepEqual(parseJsonBody(Buffer.from('{"a":1}'), 'application/json; charset=utf-8'), { a: 1 });
  assert.throws(() => parseJsonBody(Buffer.from('{}'), 'dockerapplication/json'), /unsupported Content-Type header/);
  assert.throws(() => parseJsonBody(Buffer.from('{invalid json'), 'application/json'), /^Error: invalid JSON|invalid JSON/);
  assert.throws(() => parseJsonBody(Buffer.from('{"a":1} {"b":2}'), 'application/json'), /unexpected content after JSON/);
});

test('router: versions, error mapping, params spanning slashes', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bapi-'));
  const sock = path.join(dir, 's.sock');
  const app = buildApp([
    { method: 'GET', path: '/things/{name:.*}/json', handler: (ctx) => sendJson(ctx.res, 200, { name: ctx.params.name, v: ctx.apiVersion }) },
    { method: 'GET', path: '/missing/{id}', handler: () => { throw new NotFoundError('No such container: x'); } },
    { method: 'POST', path: '/conflict', handler: () => { throw new ConflictError('in use'); } },
    { method: 'POST', path: '/same', handler: () => { throw new NotModifiedError('already'); } },
    { method: 'POST', path: '/echo', handler: async (ctx) => sendJson(ctx.res, 200, await ctx.json() ?? null) },
  ]);
  const srv = await listen(app, `unix://${sock}`);
  try {
    assert.equal((fs.statSync(sock).mode & 0o777), 0o660);
    let r = await request(sock, 'GET', '/v1.44/things/docker.io/library/busybox:latest/json');
    assert.equal(r.status, 200);
    assert.deepEqual(JSON.parse(r.body), { name: 'docker.io/library/busybox:latest', v: '1.44' });
    assert.equal(r.headers['api-version'], '1.45');
    assert.equal(r.headers['ostype'], 'linux');
    r = await request(sock, 'GET', '/v1.12/things/x/json');
    assert.equal(r.status, 400);
    assert.match(JSON.parse(r.body).message, /client version 1.12 is too old/);
    r = await request(sock, 'GET', '/v9.99/things/x/json');
    assert.match(JSON.parse(r.body).message, /client version 9.99 is too new/);
    r = await request(sock, 'GET', '/missing/abc');
    assert.equal(r.status, 404);
    assert.equal(r.headers['content-type'], 'application/json');
    assert.deepEqual(JSON.parse(r.body), { message: 'No such container: x' });
    r = await request(sock, 'GET', '/nope');
    assert.equal(r.status, 404);
    assert.deepEqual(JSON.parse(r.body), { message: 'page not found' });
    assert.equal((await request(sock, 'POST', '/conflict')).status, 409);
    assert.equal((await request(sock, 'POST', '/same')).status, 304);
    r = await request(sock, 'POST', '/echo', '{bad', { 'Content-Type': 'application/json' });
    assert.equal(r.status, 400);
    assert.match(JSON.parse(r.body).message, /^invalid JSON/);
    r = await request(sock, 'POST', '/echo', 'x'.repeat(10), { 'Content-Type': 'application/json', 'Content-Length': String(64 * 1024 * 1024) });
    assert.equal(r.status, 400);
  } finally {
    await srv.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('daemon config: flags and daemon.json merge; duplicates and unknown keys are rejected', () => {
  const files: Record<string, string> = { '/c.json': '{"data-root":"/d","log-level":"debug"}', '/bad.json': '{"nosuch":1}' };
  const read = (p: string) => files[p];
  const c = loadConfig({ 'config-file': '/c.json', 'exec-root': '/e' }, read);
  assert.equal(c.dataRoot, '/d');
  assert.equal(c.execRoot, '/e');
  assert.equal(c.pidfile, '/e/berthd.pid');
  assert.equal(c.logLevel, 'debug');
  assert.throws(() => loadConfig({ 'config-file': '/c.json', 'data-root': '/x' }, read), /specified both as a flag and in the configuration file/);
  assert.throws(() => loadConfig({ 'config-file': '/bad.json' }, read), /don't match any configuration option: nosuch/);
  assert.throws(() => loadConfig({ host: ['ftp://x'] }, () => undefined), /invalid host/);
  assert.deepEqual(loadConfig({}, () => undefined).hosts, ['unix:///run/berth/berth.sock']);
});
