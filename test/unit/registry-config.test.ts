// daemon.json insecure-registries / registry-mirrors as dockerd reads them, which hosts are secure,
// the endpoints each registry gets (mirrors, https then http, certs.d), and the endpoint fallback loop.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { isSecureIndex, needsLookup, registryServiceConfig, splitHostPort, validateMirror } from '../../src/core/registry-config.js';
import { readCertsDir, RegistryHosts, tryEndpoints } from '../../src/distribution/registry-hosts.js';
import { RegistryClient, type RegistryEndpoint } from '../../src/distribution/registry-client.js';
import { NotFoundError } from '../../src/errors.js';
import http from 'node:http';
import net from 'node:net';
import type { AddressInfo } from 'node:net';

test('defaults: loopback (::1/128, 127.0.0.0/8) insecure, docker.io the official secure index', () => {
  const { config } = registryServiceConfig({});
  assert.deepEqual(config, {
    InsecureRegistryCIDRs: ['::1/128', '127.0.0.0/8'],
    IndexConfigs: { 'docker.io': { Name: 'docker.io', Mirrors: [], Secure: true, Official: true } },
    Mirrors: [],
  });
  assert.equal(isSecureIndex(config, '127.0.0.1:5000'), false);
  assert.equal(isSecureIndex(config, '127.9.9.9'), false);
  assert.equal(isSecureIndex(config, '[::1]:5000'), false);
  assert.equal(isSecureIndex(config, '192.0.2.2:5000'), true);
  assert.equal(isSecureIndex(config, 'docker.io'), true);
  // names resolve: localhost is loopback, a name that does not resolve is secure
  assert.equal(needsLookup(config, 'localhost:5000'), 'localhost');
  assert.equal(needsLookup(config, '127.0.0.1:5000'), undefined);
  assert.equal(isSecureIndex(config, 'localhost:5000', ['127.0.0.1', '::1']), false);
  assert.equal(isSecureIndex(config, 'reg.example:5000', []), true);
  assert.equal(isSecureIndex(config, 'reg.example:5000', ['::ffff:127.0.0.1']), false, 'an IPv4-mapped address is unmapped');
});

test('insecure-registries: host[:port] names and CIDRs (masked, deduplicated), schemes as dockerd', () => {
  const { config, warnings } = registryServiceConfig({ insecure: ['reg.example:5000', '10.1.2.3/8', '10.0.0.0/8', 'http://plain.example', '2001:DB8:0:0::/32', '[2001:db8::1]:80'] });
  assert.deepEqual(config.InsecureRegistryCIDRs, ['10.0.0.0/8', '2001:db8::/32', '::1/128', '127.0.0.0/8']);
  assert.deepEqual(Object.keys(config.IndexConfigs).sort(), ['[2001:db8::1]:80', 'docker.io', 'plain.example', 'reg.example:5000']);
  assert.deepEqual(config.IndexConfigs['reg.example:5000'], { Name: 'reg.example:5000', Mirrors: [], Secure: false, Official: false });
  assert.match(warnings.join('\n'), /insecure registry http:\/\/plain.example should not contain 'http'/);
  assert.equal(isSecureIndex(config, 'reg.example:5000'), false);
  assert.equal(isSecureIndex(config, 'reg.example:5001'), true, 'a name with its port is one registry');
  assert.equal(isSecureIndex(config, '10.200.0.1:443'), false);
  assert.equal(isSecureIndex(config, 'box:5000', ['10.9.9.9']), false);
  assert.equal(isSecureIndex(config, '[2001:db8:1::5]:5000'), false);
  assert.equal(isSecureIndex(config, '11.0.0.1'), true);
  for (const [bad, re] of [
    ['ftp://x', /insecure registry ftp:\/\/x should not contain ':\/\/'/],
    ['-reg:5000', /invalid index name \(-reg:5000\). Cannot begin or end with a hyphen/],
    ['my_reg:5000', /insecure registry my_reg:5000 is not valid: invalid host "my_reg"/],
    ['reg:99999', /insecure registry reg:99999 is not valid: invalid port "99999"/],
  ] as const) assert.throws(() => registryServiceConfig({ insecure: [bad] }), re, bad);
  assert.throws(() => registryServiceConfig({ insecure: [5] }), /insecure-registries must be a list of strings/);
});

test('registry-mirrors: dockerd\'s checks and words; normalized with one trailing slash; a path is kept', () => {
  assert.equal(validateMirror('https://mirror.example'), 'https://mirror.example/');
  assert.equal(validateMirror('http://10.0.0.1:5000/prefix//'), 'http://10.0.0.1:5000/prefix/');
  const { config } = registryServiceConfig({ mirrors: ['https://m.example', 'https://m.example/'] });
  assert.deepEqual(config.Mirrors, ['https://m.example/']);
  assert.deepEqual(config.IndexConfigs['docker.io']!.Mirrors, ['https://m.example/']);
  for (const [bad, re] of [
    ['mirror.example:5000', /invalid mirror: no scheme specified for "mirror.example:5000": must use either 'https:\/\/' or 'http:\/\/'$/],
    ['ftp://mirror.example', /invalid mirror: unsupported scheme "ftp" in "ftp:\/\/mirror.example": must use either/],
    ['https://mirror.example/?x=1', /invalid mirror: query or fragment at end of the URI "https:\/\/mirror.example\/\?x=1"$/],
    ['https://mirror.example/#top', /invalid mirror: query or fragment at end of the URI/],
    ['https://u:secret@mirror.example', /invalid mirror: username\/password not allowed in URI "https:\/\/u:xxxxx@mirror.example"$/],
    ['https://[::1', /invalid mirror: "https:\/\/\[::1" is not a valid URI$/],
  ] as const) assert.throws(() => validateMirror(bad), re, bad);
});

test('splitHostPort as Go\'s (bare IPv6 is a host)', () => {
  assert.deepEqual(splitHostPort('h:5000'), { host: 'h', port: '5000' });
  assert.deepEqual(splitHostPort('[::1]:5000'), { host: '::1', port: '5000' });
  assert.deepEqual(splitHostPort('::1'), { host: '::1' });
  assert.deepEqual(splitHostPort('h'), { host: 'h' });
});

test('endpoints: mirrors then Docker Hub for pulls only; insecure https (unverified) then http; secure https verified', async () => {
  const { config } = registryServiceConfig({ mirrors: ['http://127.0.0.1:5001/m/', 'https://mirror.example'], insecure: ['reg.example:5000'] });
  const hosts = new RegistryHosts(config, [], async (h) => (h === 'localhost' ? ['127.0.0.1'] : []));
  const pull = await hosts.pullEndpoints('docker.io');
  assert.deepEqual(pull.map((e) => [e.base, e.mirror ?? false, e.tls?.rejectUnauthorized]), [
    ['http://127.0.0.1:5001/m', true, undefined],
    ['https://mirror.example', true, true],
    ['https://registry-1.docker.io', false, undefined],
  ]);
  assert.deepEqual((await hosts.pushEndpoints('docker.io')).map((e) => e.base), ['https://registry-1.docker.io']);
  assert.deepEqual((await hosts.pushEndpoints('reg.example:5000')).map((e) => [e.base, e.tls?.rejectUnauthorized]),
    [['https://reg.example:5000', false], ['http://reg.example:5000', undefined]]);
  assert.deepEqual((await hosts.pullEndpoints('localhost:5000')).map((e) => e.base), ['https://localhost:5000', 'http://localhost:5000']);
  assert.deepEqual((await hosts.pullEndpoints('secure.example')).map((e) => [e.base, e.tls?.rejectUnauthorized]), [['https://secure.example', true]]);
});

test('certs.d: *.crt are CAs (with the system roots), *.cert/*.key pairs client certificates; berth\'s dir before Docker\'s', async () => {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'certsd-'));
  try {
    const mine = path.join(tmp, 'berth'); const docker = path.join(tmp, 'docker');
    fs.mkdirSync(path.join(mine, 'a.example:5000'), { recursive: true });
    fs.mkdirSync(path.join(docker, 'a.example:5000'), { recursive: true });
    fs.mkdirSync(path.join(docker, 'b.example'), { recursive: true });
    fs.writeFileSync(path.join(mine, 'a.example:5000', 'ca.crt'), 'MINE');
    fs.writeFileSync(path.join(mine, 'a.example:5000', 'client.cert'), 'CERT');
    fs.writeFileSync(path.join(mine, 'a.example:5000', 'client.key'), 'KEY');
    fs.writeFileSync(path.join(docker, 'a.example:5000', 'ca.crt'), 'DOCKERS');
    fs.writeFileSync(path.join(docker, 'b.example', 'ca.crt'), 'B');
    const hosts = new RegistryHosts(undefined, [mine, docker], async () => []);
    const a = (await hosts.pullEndpoints('a.example:5000'))[0]!.tls!;
    assert.equal(a.ca?.at(-1), 'MINE');
    assert.ok(a.ca!.length > 1, 'the system roots stay trusted');
    assert.deepEqual([a.cert, a.key], ['CERT', 'KEY']);
    assert.equal((await hosts.pullEndpoints('b.example'))[0]!.tls!.ca?.at(-1), 'B');
    assert.equal(await readCertsDir(path.join(tmp, 'none')), undefined);
    // an insecure host's directory is not read (verification is off anyway), as dockerd
    fs.mkdirSync(path.join(mine, '127.0.0.1:5000'));
    fs.writeFileSync(path.join(mine, '127.0.0.1:5000', 'lonely.key'), 'K');
    assert.deepEqual((await hosts.pullEndpoints('127.0.0.1:5000'))[0]!.tls, { rejectUnauthorized: false });
    fs.mkdirSync(path.join(mine, 'c.example'));
    fs.writeFileSync(path.join(mine, 'c.example', 'lonely.key'), 'K');
    await assert.rejects(hosts.pullEndpoints('c.example'), /^Error: missing client certificate lonely.cert for key lonely.key$|missing client certificate lonely.cert for key lonely.key/);
    fs.writeFileSync(path.join(mine, 'c.example', 'ca.cert'), 'C');
    fs.rmSync(path.join(mine, 'c.example', 'lonely.key'));
    await assert.rejects(hosts.pullEndpoints('c.example'), /missing key ca.key for client certificate ca.cert. CA certificates must use the extension .crt/);
  } finally { fs.rmSync(tmp, { recursive: true, force: true }); }
});

test('tryEndpoints: an unreachable endpoint or any mirror failure moves on; a registry\'s own error stops; the last error is reported', async () => {
  const dead: RegistryEndpoint = { domain: 'x', base: 'http://127.0.0.1:1' };
  const seen: string[] = [];
  const viaClient = (e: RegistryEndpoint) => { seen.push(e.base); return new RegistryClient(e).ping(); };
  await assert.rejects(tryEndpoints([dead, { ...dead, base: 'http://127.0.0.1:2' }], viaClient), /^UnavailableError: Get "http:\/\/127.0.0.1:2\/v2\/": dial tcp 127.0.0.1:2: connect: connection refused$/);
  assert.deepEqual(seen, ['http://127.0.0.1:1', 'http://127.0.0.1:2']);
  const calls: string[] = [];
  const own = new NotFoundError('manifest unknown');
  await assert.rejects(tryEndpoints([{ domain: 'x', base: 'https://a' }, { domain: 'x', base: 'http://a' }], async (e) => { calls.push(e.base); throw own; }), (e) => e === own);
  assert.deepEqual(calls, ['https://a'], 'an answer from the registry is not a reason to try plain http');
  calls.length = 0;
  const got = await tryEndpoints([{ domain: 'docker.io', base: 'http://m', mirror: true }, { domain: 'docker.io', base: 'https://hub' }],
    async (e) => { calls.push(e.base); if (e.mirror) throw own; return 'hub'; });
  assert.equal(got, 'hub');
  assert.deepEqual(calls, ['http://m', 'https://hub']);
  const ac = new AbortController(); ac.abort();
  calls.length = 0;
  await assert.rejects(tryEndpoints([{ domain: 'docker.io', base: 'http://m', mirror: true }, { domain: 'docker.io', base: 'https://hub' }],
    async (e) => { calls.push(e.base); throw own; }, ac.signal));
  assert.deepEqual(calls, ['http://m'], 'a cancelled pull does not go on');
});

test('a mirror with a path prefix: requests go under it, and the registry\'s Link pages (with or without the prefix) too', async () => {
  const seen: string[] = [];
  const srv = http.createServer((req, res) => {
    seen.push(req.url!);
    const u = new URL(req.url!, 'http://x');
    if (u.pathname !== '/m/v2/library/r/tags/list') { res.writeHead(404); res.end(); return; }
    const last = u.searchParams.get('last');
    const page = last === null ? { tags: ['a'], link: '</m/v2/library/r/tags/list?last=a&n=1>' } : last === 'a' ? { tags: ['b'], link: '</v2/library/r/tags/list?last=b&n=1>' } : { tags: ['c'] };
    res.writeHead(200, { 'Content-Type': 'application/json', ...(page.link ? { Link: `${page.link}; rel="next"` } : {}) });
    res.end(JSON.stringify({ name: 'library/r', tags: page.tags }));
  });
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', () => r()));
  try {
    const { config } = registryServiceConfig({ mirrors: [`http://127.0.0.1:${(srv.address() as AddressInfo).port}/m/`] });
    const [mirror] = await new RegistryHosts(config, []).pullEndpoints('docker.io');
    assert.deepEqual(await new RegistryClient(mirror!).listTags('library/r'), ['a', 'b', 'c']);
    assert.deepEqual(seen, ['/m/v2/library/r/tags/list', '/m/v2/library/r/tags/list?last=a&n=1', '/m/v2/library/r/tags/list?last=b&n=1']);
  } finally { await new Promise<void>((r) => srv.close(() => r())); }
});

test('an insecure registry whose https port never answers the TLS hello: the handshake times out (Go\'s 10 s) and plain http is tried', async () => {
  // answers plain HTTP only once a full request line arrives, so a ClientHello just sits there
  const srv = net.createServer((sock) => {
    let got = '';
    sock.on('data', (c: Buffer) => {
      got += c.toString('latin1');
      if (/^GET [^\r\n]* HTTP\/1\.1\r\n[\s\S]*\r\n\r\n$/.test(got)) sock.end('HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}');
    });
    sock.on('error', () => {});
  });
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', () => r()));
  try {
    const host = `127.0.0.1:${(srv.address() as AddressInfo).port}`;
    const eps = await new RegistryHosts(undefined, []).pullEndpoints(host);
    const tried: string[] = [];
    const status = await tryEndpoints(eps, (e) => {
      tried.push(e.base);
      return new RegistryClient(e).ping().catch((err: Error) => { tried.push(err.message); throw err; });
    });
    assert.equal(status, 200);
    assert.deepEqual(tried, [`https://${host}`, `Get "https://${host}/v2/": net/http: TLS handshake timeout`, `http://${host}`]);
  } finally { await new Promise<void>((r) => srv.close(() => r())); }
});
