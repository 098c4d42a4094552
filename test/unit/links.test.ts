import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as dnsPacket from 'dns-packet';
import { checkLinksNetworkMode, linkEnv, linkHostNames, parseLink, usesLegacyLinks } from '../../src/core/links.js';
import { buildHosts } from '../../src/core/hosts-file.js';
import { addRecord, EmbeddedDns, emptyRecords } from '../../src/network/dns.js';

test('parseLink: moby opts.ParseLink forms and errors', () => {
  assert.deepEqual(parseLink('web'), { name: 'web', alias: 'web' });
  assert.deepEqual(parseLink('web:w'), { name: 'web', alias: 'w' });
  assert.deepEqual(parseLink('/web:/ctr/w'), { name: 'web', alias: 'w' });
  assert.throws(() => parseLink(''), /empty string specified for links/);
  assert.throws(() => parseLink('a:b:c'), /bad format for links: a:b:c/);
});

test('links on host or container network modes are refused with moby wording; user networks use no legacy links', () => {
  assert.throws(() => checkLinksNetworkMode('host', ['web:w']), /host type networking can't be used with links/);
  assert.throws(() => checkLinksNetworkMode('container:x', ['web:w']), /container type network can't be used with links/);
  checkLinksNetworkMode('host', []);
  checkLinksNetworkMode('bridge', ['web:w']);
  assert.equal(usesLegacyLinks('default'), true);
  assert.equal(usesLegacyLinks('bridge'), true);
  assert.equal(usesLegacyLinks('mynet'), false);
});

test('linkEnv: moby links.ToEnv, ports sorted tcp first, ranges of consecutive ports, child env without HOME/PATH', () => {
  const env = linkEnv('/ctr/my-db', '172.30.0.5', ['PATH=/bin', 'HOME=/root', 'PGDATA=/var/lib/pg', 'EMPTY=', 'BARE'],
    { '81/tcp': {}, '53/udp': {}, '80/tcp': {}, '82/tcp': {}, '90': {} });
  assert.deepEqual(env, [
    'MY_DB_PORT=tcp://172.30.0.5:80',
    'MY_DB_PORT_80_TCP=tcp://172.30.0.5:80', 'MY_DB_PORT_80_TCP_ADDR=172.30.0.5', 'MY_DB_PORT_80_TCP_PORT=80', 'MY_DB_PORT_80_TCP_PROTO=tcp',
    'MY_DB_PORT_81_TCP=tcp://172.30.0.5:81', 'MY_DB_PORT_81_TCP_ADDR=172.30.0.5', 'MY_DB_PORT_81_TCP_PORT=81', 'MY_DB_PORT_81_TCP_PROTO=tcp',
    'MY_DB_PORT_82_TCP=tcp://172.30.0.5:82', 'MY_DB_PORT_82_TCP_ADDR=172.30.0.5', 'MY_DB_PORT_82_TCP_PORT=82', 'MY_DB_PORT_82_TCP_PROTO=tcp',
    // as moby: a run's _START/_END come once the next port breaks it
    'MY_DB_PORT_90_TCP=tcp://172.30.0.5:90', 'MY_DB_PORT_90_TCP_ADDR=172.30.0.5', 'MY_DB_PORT_90_TCP_PORT=90', 'MY_DB_PORT_90_TCP_PROTO=tcp',
    'MY_DB_PORT_80_TCP_START=tcp://172.30.0.5:80', 'MY_DB_PORT_80_TCP_PORT_START=80', 'MY_DB_PORT_80_TCP_END=tcp://172.30.0.5:82', 'MY_DB_PORT_80_TCP_PORT_END=82',
    'MY_DB_PORT_53_UDP=udp://172.30.0.5:53', 'MY_DB_PORT_53_UDP_ADDR=172.30.0.5', 'MY_DB_PORT_53_UDP_PORT=53', 'MY_DB_PORT_53_UDP_PROTO=udp',
    'MY_DB_NAME=/ctr/my-db',
    'MY_DB_ENV_PGDATA=/var/lib/pg', 'MY_DB_ENV_EMPTY=',
  ]);
  assert.deepEqual(linkEnv('/p/w', '10.0.0.2', null, null), ['W_NAME=/p/w']);
});

test('a link hosts line: alias, hostname, name (the name only when it differs from the alias), after the own address', () => {
  assert.equal(linkHostNames('w', 'abc123def456', '/web'), 'w abc123def456 web');
  assert.equal(linkHostNames('web', 'abc123def456', '/web'), 'web abc123def456');
  const hosts = buildHosts({ hostname: 'h1', ips: ['172.30.0.3'], extraHosts: ['x:1.2.3.4'], links: [{ ip: '172.30.0.2', names: 'w abc web' }] });
  assert.deepEqual(hosts.trim().split('\n').slice(6), ['1.2.3.4\tx', '172.30.0.3\th1', '172.30.0.2\tw abc web']);
});

test('embedded DNS: a link alias resolves for the linking container only', () => {
  const dns = new EmbeddedDns({ address: '127.0.0.1', isClient: () => true, defaultUpstreams: () => [] });
  const r = emptyRecords();
  addRecord(r, ['web'], '10.1.0.2');
  addRecord(r, ['client'], '10.1.0.3');
  r.clientAliases.set('10.1.0.3', new Map([['w', 'web']]));
  dns.setRecords(r);
  const q = (name: string, client: string) => dns.answer({ id: 1, type: 'query', questions: [{ name, type: 'A' }] }, client);
  assert.deepEqual(q('W', '10.1.0.3')!.answers!.map((a) => (a as { data: unknown }).data), ['10.1.0.2']);
  assert.equal(q('w', '10.1.0.4'), undefined);
  assert.deepEqual(q('web', '10.1.0.4')!.answers!.map((a) => (a as { data: unknown }).data), ['10.1.0.2']);
  void dnsPacket;
});
