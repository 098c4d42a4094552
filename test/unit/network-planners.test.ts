import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as dnsPacket from 'dns-packet';
import { allocatePorts, parsePortKey, parsePortSpec, planPublishRequests, PortAllocatedError } from '../../src/network/ports.js';
import { cidrsOverlap, formatCidr, macFromIPv4, parseCidr, parseIPv4 } from '../../src/network/ip.js';
import { bridgeConfig, cniEnv, parseAddResult } from '../../src/network/cni.js';
import { chainPrefixFor, chainsFor, CHAINS, JUMPS, jumpsFor, MAX_CHAIN_NAME, parseForeignPublished, planRules } from '../../src/network/iptables.js';
import { buildHosts, buildResolvConf, upstreamServers } from '../../src/network/etc-files.js';
import { addRecord, EmbeddedDns, emptyRecords } from '../../src/network/dns.js';
import { ConflictError } from '../../src/errors.js';

test('parsePortSpec: docker -p forms', () => {
  assert.deepEqual(parsePortSpec('80'), [{ port: '80/tcp', binding: { HostIp: '', HostPort: '' } }]);
  assert.deepEqual(parsePortSpec('18080:80'), [{ port: '80/tcp', binding: { HostIp: '', HostPort: '18080' } }]);
  assert.deepEqual(parsePortSpec('127.0.0.1:8081:80/UDP'), [{ port: '80/udp', binding: { HostIp: '127.0.0.1', HostPort: '8081' } }]);
  assert.deepEqual(parsePortSpec('127.0.0.1::80'), [{ port: '80/tcp', binding: { HostIp: '127.0.0.1', HostPort: '' } }]);
  assert.deepEqual(parsePortSpec('8000-8001:80-81').map((m) => [m.port, m.binding.HostPort]), [['80/tcp', '8000'], ['81/tcp', '8001']]);
  assert.deepEqual(parsePortSpec('8000-8010:80'), [{ port: '80/tcp', binding: { HostIp: '', HostPort: '8000-8010' } }]);
  assert.deepEqual(parsePortSpec('[::1]:80:80')[0]!.binding.HostIp, '::1');
});

test('parsePortSpec: Docker\'s error messages', () => {
  const cases: Array<[string, string]> = [
    ['', 'no port specified: <empty>'],
    ['8080:', 'no port specified: 8080:<empty>'],
    ['80/foo', 'invalid proto: foo'],
    ['1.2.3:80:80', 'invalid IP address: 1.2.3'],
    ['abc', 'invalid containerPort: abc'],
    ['65536', 'invalid containerPort: 65536'],
    ['x:80', 'invalid hostPort: x'],
    ['90-80:80', 'invalid hostPort: 90-80'],
    ['8000-8002:80-81', 'invalid ranges specified for container and host Ports: 80-81 and 8000-8002'],
  ];
  for (const [spec, msg] of cases) assert.throws(() => parsePortSpec(spec), { message: msg }, spec);
});

test('parsePortKey: API keys (RELIABILITY A3)', () => {
  assert.deepEqual(parsePortKey('80/TCP'), [80, 'tcp']);
  assert.deepEqual(parsePortKey('53'), [53, 'tcp']);
  for (const bad of ['', '/', '/tcp', '-1', '65536', 'foo', '1234-1240/udp', 'asd1234/tcp', '19039;1230']) {
    assert.throws(() => parsePortKey(bad), /invalid port/, bad);
  }
  assert.throws(() => parsePortKey('1240-1234/tcp'), /invalid port range/);
});

test('planPublishRequests: bindings, ranges, -P over EXPOSE', () => {
  const r = planPublishRequests({ '80/tcp': [{ HostIp: '', HostPort: '18080' }], '81/tcp': [{ HostPort: '9000-9005' }], '82/udp': null },
    true, { '80/tcp': {}, '443/tcp': {} });
  assert.deepEqual(r, [
    { proto: 'tcp', containerPort: 80, hostIp: '', hostPortStart: 18080, hostPortEnd: 18080 },
    { proto: 'tcp', containerPort: 81, hostIp: '', hostPortStart: 9000, hostPortEnd: 9005 },
    { proto: 'udp', containerPort: 82, hostIp: '', hostPortStart: 0, hostPortEnd: 0 },
    { proto: 'tcp', containerPort: 443, hostIp: '', hostPortStart: 0, hostPortEnd: 0 },
  ]);
});

test('allocatePorts: conflicts, wildcard vs specific IP, ranges and ephemeral ports', async () => {
  const free = async () => true;
  const taken = [{ proto: 'tcp' as const, hostIp: '', hostPort: 18080 }];
  await assert.rejects(allocatePorts([{ proto: 'tcp', containerPort: 80, hostIp: '', hostPortStart: 18080, hostPortEnd: 18080 }], taken, [40000, 40010], free),
    (e: Error) => e instanceof PortAllocatedError && e instanceof ConflictError && e.message === 'Bind for 0.0.0.0:18080 failed: port is already allocated');
  await assert.rejects(allocatePorts([{ proto: 'tcp', containerPort: 80, hostIp: '127.0.0.1', hostPortStart: 18080, hostPortEnd: 18080 }], taken, [40000, 40010], free),
    { message: 'Bind for 127.0.0.1:18080 failed: port is already allocated' });
  const udp = await allocatePorts([{ proto: 'udp', containerPort: 80, hostIp: '', hostPortStart: 18080, hostPortEnd: 18080 }], taken, [40000, 40010], free);
  assert.equal(udp[0]!.hostPort, 18080);
  const ranged = await allocatePorts([{ proto: 'tcp', containerPort: 80, hostIp: '', hostPortStart: 18080, hostPortEnd: 18082 }], taken, [40000, 40010], free);
  assert.equal(ranged[0]!.hostPort, 18081);
  const busy = new Set([40000]);
  const eph = await allocatePorts([
    { proto: 'tcp', containerPort: 80, hostIp: '', hostPortStart: 0, hostPortEnd: 0 },
    { proto: 'tcp', containerPort: 81, hostIp: '', hostPortStart: 0, hostPortEnd: 0 },
  ], [], [40000, 40010], async (_p, _ip, port) => !busy.has(port));
  assert.deepEqual(eph.map((m) => m.hostPort), [40001, 40002]);
  await assert.rejects(allocatePorts([{ proto: 'tcp', containerPort: 80, hostIp: '', hostPortStart: 0, hostPortEnd: 0 }], [], [40000, 40000], async () => false),
    { message: 'all ports are allocated' });
});

test('ip helpers: CIDR parsing, overlap, MAC', () => {
  assert.equal(formatCidr(parseCidr('10.1.2.3/16')!), '10.1.0.0/16');
  assert.equal(parseCidr('10.0.0.0/33'), undefined);
  assert.equal(parseIPv4('256.1.1.1'), undefined);
  assert.ok(cidrsOverlap(parseCidr('10.211.0.0/16')!, parseCidr('10.211.5.0/24')!));
  assert.ok(!cidrsOverlap(parseCidr('172.30.0.0/16')!, parseCidr('172.17.0.0/16')!));
  assert.equal(macFromIPv4(parseIPv4('172.17.0.2')!), '02:42:ac:11:00:02');
});

test('cni: env and bridge config', () => {
  const env = cniEnv({ command: 'ADD', containerId: 'c1', netns: '/run/berth/netns/c1', ifname: 'eth0', args: { IP: '10.1.0.5' } });
  assert.equal(env.CNI_COMMAND, 'ADD');
  assert.equal(env.CNI_NETNS, '/run/berth/netns/c1');
  assert.equal(env.CNI_ARGS, 'IgnoreUnknown=1;IP=10.1.0.5');
  assert.equal(env.CNI_PATH, '/usr/lib/cni');
  assert.equal(cniEnv({ command: 'DEL', containerId: 'c1', netns: '', ifname: 'eth0' }).CNI_ARGS, undefined);
  const conf = bridgeConfig({ name: 'n1', bridge: 'berth-abc', subnet: '10.1.0.0/24', gateway: '10.1.0.1', ipamDataDir: '/d', defaultRoute: false, rangeStart: '10.1.0.128', rangeEnd: '10.1.0.254' });
  assert.equal(conf.ipMasq, false);
  assert.equal(conf.isGateway, true);
  assert.deepEqual((conf.ipam as { ranges: unknown }).ranges, [[{ subnet: '10.1.0.0/24', gateway: '10.1.0.1', rangeStart: '10.1.0.128', rangeEnd: '10.1.0.254' }]]);
  assert.deepEqual((conf.ipam as { routes: unknown }).routes, []);
  const r = parseAddResult({ interfaces: [{ name: 'berth-abc' }, { name: 'veth1' }, { name: 'eth0', mac: 'aa:bb', sandbox: '/ns' }], ips: [{ interface: 2, address: '10.1.0.5/24', gateway: '10.1.0.1' }] }, 'eth0');
  assert.deepEqual(r, { ip: '10.1.0.5', prefixLen: 24, gateway: '10.1.0.1', mac: 'aa:bb', hostVeth: 'veth1' });
});

test('planRules: only BERTH chains, DNAT per port, loopback bindings guarded, internal networks closed', () => {
  const text = planRules(
    [{ bridge: 'berth0', subnet: '172.30.0.0/16', internal: false, masquerade: true, icc: true },
      { bridge: 'berth-int', subnet: '10.9.0.0/24', internal: true, masquerade: true, icc: true }],
    [{ bridge: 'berth0', containerIp: '172.30.0.2', ports: [
      { proto: 'tcp', containerPort: 80, hostIp: '', hostPort: 18080 },
      { proto: 'udp', containerPort: 53, hostIp: '127.0.0.1', hostPort: 5353 }] }],
  );
  const rules = text.split('\n').filter((l) => l.startsWith('-A '));
  for (const l of rules) assert.match(l, /^-A BERTH-/);
  assert.ok(rules.includes('-A BERTH-DNAT -p tcp -m tcp --dport 18080 -j DNAT --to-destination 172.30.0.2:80'));
  assert.ok(rules.includes('-A BERTH-DNAT -d 127.0.0.1/32 -p udp -m udp --dport 5353 -j DNAT --to-destination 172.30.0.2:53'));
  assert.ok(rules.includes('-A BERTH-PREROUTING ! -d 127.0.0.0/8 -j BERTH-DNAT'));
  assert.ok(rules.includes('-A BERTH-RAW -d 172.30.0.2/32 ! -i berth0 -p udp -m udp --dport 53 -j DROP'));
  assert.ok(rules.includes('-A BERTH-POSTROUTING -s 172.30.0.0/16 ! -o berth0 -j MASQUERADE'));
  assert.ok(!rules.some((l) => l.includes('10.9.0.0/24 ! -o')), 'no NAT out of an internal network');
  const internal = rules.filter((l) => l.includes('berth-int'));
  assert.ok(internal.every((l) => l.startsWith('-A BERTH-FORWARD')), 'an internal network gets no NAT at all');
  assert.deepEqual(internal.slice(0, 3), ['-A BERTH-FORWARD -i berth-int -o berth-int -j ACCEPT', '-A BERTH-FORWARD -i berth-int -j DROP', '-A BERTH-FORWARD -o berth-int -j DROP']);
  // replies and published traffic are accepted before the final drop into the bridge
  const fw = rules.filter((l) => l.startsWith('-A BERTH-FORWARD') && l.includes('berth0'));
  assert.ok(fw.indexOf('-A BERTH-FORWARD -o berth0 -m conntrack --ctstate DNAT -j ACCEPT') < fw.indexOf('-A BERTH-FORWARD -o berth0 -j DROP'));
  for (const t of ['*nat', '*filter', '*raw']) assert.ok(text.includes(t));
  // regenerating with no endpoints plans no DNAT: that is how stale rules disappear
  assert.doesNotMatch(planRules([], []), /DNAT --to/);
});

test('chain prefix per instance: berth0 keeps the historical names, other bridges get short distinct prefixes', () => {
  assert.equal(chainPrefixFor('berth0'), 'BERTH');
  assert.deepEqual(CHAINS, { nat: ['BERTH-PREROUTING', 'BERTH-OUTPUT', 'BERTH-POSTROUTING', 'BERTH-DNAT'], filter: ['BERTH-FORWARD'], raw: ['BERTH-RAW'] });
  assert.deepEqual(JUMPS.map((j) => `${j.table}/${j.chain} ${j.rule.join(' ')}`), [
    'nat/PREROUTING -m addrtype --dst-type LOCAL -j BERTH-PREROUTING', 'nat/OUTPUT -m addrtype --dst-type LOCAL -j BERTH-OUTPUT',
    'nat/POSTROUTING -j BERTH-POSTROUTING', 'filter/FORWARD -j BERTH-FORWARD', 'raw/PREROUTING -j BERTH-RAW']);
  const names = ['berth9', 'berth1', 'docker1', 'none', 'a', 'abcdefghijklmno'];
  const prefixes = names.map(chainPrefixFor);
  assert.equal(new Set(prefixes).size, names.length, 'distinct bridges, distinct prefixes');
  for (const p of prefixes) {
    assert.match(p, /^BERTH-[0-9a-f]{6}$/);
    assert.equal(chainPrefixFor(names[prefixes.indexOf(p)]!), p, 'stable across restarts');
    const all = Object.values(chainsFor(p)).flat().concat(jumpsFor(p).map((j) => j.rule.at(-1)!));
    for (const c of all) {
      assert.ok(c.startsWith(`${p}-`), c);
      assert.ok(c.length <= MAX_CHAIN_NAME, `${c} is ${c.length} characters`);
    }
  }
  assert.throws(() => chainsFor('BERTH-PREFIX-TOO-LONG'), /longer than 28/);
});

test('planRules with another prefix: only that instance\'s chains, and foreign bridges are left to their owner', () => {
  const p = chainPrefixFor('berth9');
  const text = planRules(
    [{ bridge: 'berth9', subnet: '172.31.9.0/24', internal: false, masquerade: true, icc: true },
      { bridge: 'docker1', subnet: '10.77.0.0/24', internal: false, masquerade: true, icc: true }],
    [{ bridge: 'berth9', containerIp: '172.31.9.2', ports: [{ proto: 'tcp', containerPort: 80, hostIp: '127.0.0.1', hostPort: 18099 }] }],
    p,
  );
  const rules = text.split('\n').filter((l) => l.startsWith('-A '));
  for (const l of rules) assert.ok(l.startsWith(`-A ${p}-`), l);
  assert.doesNotMatch(text, /BERTH-(PREROUTING|OUTPUT|POSTROUTING|DNAT|FORWARD|RAW)\b/, 'no default-instance chain is declared or jumped to');
  const declared = text.split('\n').filter((l) => l.startsWith(':')).map((l) => l.slice(1).split(' ')[0]!);
  assert.deepEqual(declared, Object.values(chainsFor(p)).flat());
  assert.ok(rules.includes(`-A ${p}-PREROUTING ! -d 127.0.0.0/8 -j ${p}-DNAT`));
  assert.ok(rules.includes(`-A ${p}-DNAT -d 127.0.0.1/32 -p tcp -m tcp --dport 18099 -j DNAT --to-destination 172.31.9.2:80`));
  assert.ok(rules.includes(`-A ${p}-RAW -d 172.31.9.2/32 ! -i berth9 -p tcp -m tcp --dport 80 -j DROP`));
  const fw = rules.filter((l) => l.startsWith(`-A ${p}-FORWARD`));
  // replies/published traffic into a bridge of another instance are RETURNed after ours are accepted, before isolation
  const ret = fw.indexOf(`-A ${p}-FORWARD -o berth+ -m conntrack --ctstate RELATED,ESTABLISHED,DNAT -j RETURN`);
  assert.ok(ret > fw.indexOf(`-A ${p}-FORWARD -o berth9 -m conntrack --ctstate DNAT -j ACCEPT`));
  assert.ok(ret < fw.indexOf(`-A ${p}-FORWARD -i berth9 -o berth+ -j DROP`));
  // a bridge outside the berth+ wildcard is still isolated from the instance's other networks
  assert.ok(fw.indexOf(`-A ${p}-FORWARD -i berth9 -o docker1 -j DROP`) < fw.indexOf(`-A ${p}-FORWARD -i berth9 -j ACCEPT`));
  assert.ok(fw.includes(`-A ${p}-FORWARD -i docker1 -o berth+ -j DROP`));
  assert.ok(!fw.includes(`-A ${p}-FORWARD -i docker1 -o docker1 -j DROP`));
});

test('parseForeignPublished: other instances\' DNAT ports, never our own', () => {
  const save = [
    '*nat',
    ':BERTH-DNAT - [0:0]',
    ':BERTH-1a2b3c-DNAT - [0:0]',
    '-A BERTH-DNAT -p tcp -m tcp --dport 18080 -j DNAT --to-destination 172.30.0.2:80',
    '-A BERTH-1a2b3c-DNAT -d 127.0.0.1/32 -p udp -m udp --dport 5353 -j DNAT --to-destination 172.31.9.2:53',
    '-A BERTH-1a2b3c-DNAT -p tcp -m tcp --dport 18081 -j DNAT --to-destination 172.31.9.2:80',
    '-A BERTH-1a2b3c-PREROUTING ! -d 127.0.0.0/8 -j BERTH-1a2b3c-DNAT',
    '-A DOCKER -p tcp -m tcp --dport 9999 -j DNAT --to-destination 172.17.0.2:80',
    'COMMIT',
  ].join('\n');
  assert.deepEqual(parseForeignPublished(save, 'BERTH'), [
    { proto: 'udp', hostIp: '127.0.0.1', hostPort: 5353 }, { proto: 'tcp', hostIp: '', hostPort: 18081 }]);
  assert.deepEqual(parseForeignPublished(save, 'BERTH-1a2b3c'), [{ proto: 'tcp', hostIp: '', hostPort: 18080 }]);
  assert.deepEqual(parseForeignPublished('', 'BERTH'), []);
});

test('hosts and resolv.conf as Docker writes them', () => {
  const h = buildHosts({ hostname: 'abc', domainname: 'example.org', ips: ['10.1.0.5'], extraHosts: ['db:10.0.0.9', 'gw:host-gateway'], hostGatewayIp: '172.30.0.1' });
  const lines = h.trimEnd().split('\n');
  assert.equal(lines[0], '127.0.0.1\tlocalhost');
  assert.ok(lines.includes('10.0.0.9\tdb'));
  assert.ok(lines.includes('172.30.0.1\tgw'));
  assert.equal(lines.at(-1), '10.1.0.5\tabc.example.org abc');
  const host = 'nameserver 127.0.0.53\nnameserver 10.0.0.2\nsearch corp\noptions ndots:2\n';
  assert.equal(buildResolvConf({ hostResolvConf: host }), 'nameserver 10.0.0.2\nsearch corp\noptions ndots:2\n');
  assert.equal(buildResolvConf({ hostResolvConf: 'nameserver 127.0.0.53\n' }), 'nameserver 8.8.8.8\nnameserver 8.8.4.4\n');
  assert.match(buildResolvConf({ hostResolvConf: host, embeddedDns: '10.1.0.1', dnsSearch: ['a.b'] }), /^nameserver 10\.1\.0\.1\nsearch a\.b\noptions ndots:2\n$/m);
  assert.deepEqual(upstreamServers(host), ['127.0.0.53', '10.0.0.2']);
  assert.deepEqual(upstreamServers(host, ['1.1.1.1']), ['1.1.1.1']);
});

test('embedded DNS answers names, aliases and round-robins shared aliases', () => {
  const dns = new EmbeddedDns({ address: '127.0.0.1', isClient: () => true, defaultUpstreams: () => [] });
  const r = emptyRecords();
  addRecord(r, ['web', 'shared'], '10.1.0.2');
  addRecord(r, ['api', 'shared'], '10.1.0.3');
  dns.setRecords(r);
  const data = (p: dnsPacket.Packet | undefined) => (p?.answers ?? []).map((a) => (a as { data: unknown }).data);
  const q = (name: string, type: 'A' | 'AAAA' | 'PTR' = 'A') => dns.answer({ id: 7, type: 'query', questions: [{ name, type }] });
  assert.deepEqual(data(q('WEB')), ['10.1.0.2']);
  const first = data(q('shared'));
  const second = data(q('shared'));
  assert.deepEqual([...first].sort(), ['10.1.0.2', '10.1.0.3']);
  assert.notDeepEqual(first, second);
  assert.deepEqual(q('web', 'AAAA')!.answers, []);
  assert.equal(q('example.com'), undefined);
  assert.equal(data(q('3.0.1.10.in-addr.arpa', 'PTR'))[0], 'api');
  // the answer encodes as a valid DNS message
  assert.equal(data(dnsPacket.decode(dnsPacket.encode(q('web')!)))[0], '10.1.0.2');
});
