// Dual-stack user networks (issue 8): the pure planners of IPv6 subnets, static --ip6, host-local's two range
// sets, the ADD result's IPv6 address, and the embedded DNS answering AAAA/ip6.arpa.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { bridgeConfig, parseAddResult } from '../../src/network/cni.js';
import { addRecord, EmbeddedDns, emptyRecords, reverseName } from '../../src/network/dns.js';
import { formatCidr6, parseCidr6, parseReverseName6, parseIPv6, reverseName6 } from '../../src/network/ip6.js';
import { checkPools, checkStaticIp, cniConfigFor, ipamFamilies, ipv6Pools, pickSubnet6, planIpv4Config, planIpv6Config, ulaPool } from '../../src/network/ipam.js';
import { ipArgs } from '../../src/network/ip-tool.js';
import { chains6For, Iptables, jumps6For, planRules6 } from '../../src/network/iptables.js';
import { RecordingRunner } from '../../src/sys/process-runner.js';
import { newRecord } from '../../src/network/networks.js';
import { auxAddresses, v4Config, v6Config, type NetworkRecord } from '../../src/network/network-store.js';
import { ForbiddenError, InvalidParameterError } from '../../src/errors.js';

const dual = (extra: Partial<NetworkRecord> = {}) => newRecord('n6', 'bridge', {
  EnableIPv6: true, bridge: 'berth-abc',
  IPAM: { Driver: 'default', Options: null, Config: [{ Subnet: '10.7.0.0/24', Gateway: '10.7.0.1' }, { Subnet: 'fd00:7::/64', Gateway: 'fd00:7::1' }] },
  ...extra,
});

test('ipamFamilies: one entry per family, IPv6 only with EnableIPv6, never dropped', () => {
  assert.deepEqual(ipamFamilies([], false), { v4: {} });
  assert.deepEqual(ipamFamilies([], true), { v4: {}, v6: {} });
  assert.deepEqual(ipamFamilies([{ Subnet: 'fd00:1::/64' }, { Subnet: '10.1.0.0/24' }], true), { v4: { Subnet: '10.1.0.0/24' }, v6: { Subnet: 'fd00:1::/64' } });
  // a gateway or range alone tells the family (the planner then refuses the missing subnet)
  assert.deepEqual(ipamFamilies([{ Gateway: 'fd00::1' }], true).v6, { Gateway: 'fd00::1' });
  assert.throws(() => ipamFamilies([{ Subnet: 'fd00:1::/64' }], false), (e: Error) => e instanceof InvalidParameterError && /IPv6 subnet fd00:1::\/64 given but IPv6 is not enabled/.test(e.message));
  assert.throws(() => ipamFamilies([{ Subnet: '10.1.0.0/24' }, { Subnet: '10.2.0.0/24' }], true), /one IPv4 subnet per network/);
  assert.throws(() => ipamFamilies([{ Subnet: 'fd00:1::/64' }, { Subnet: 'fd00:2::/64' }], true), /one IPv6 subnet per network/);
});

test('planIpv6Config: subnet, gateway (first address by default) and range, with the v4 planner\'s messages', async () => {
  const auto = async () => parseCidr6('fd00:aa::/64')!;
  assert.deepEqual(await planIpv6Config({}, [], auto), { Subnet: 'fd00:aa::/64', Gateway: 'fd00:aa::1' });
  assert.deepEqual(await planIpv6Config({ Subnet: 'FD00:B::7/64', Gateway: 'fd00:b::fe', IPRange: 'fd00:b::/80' }, [], auto),
    { Subnet: 'fd00:b::/64', Gateway: 'fd00:b::fe', IPRange: 'fd00:b::/80' });
  await assert.rejects(planIpv6Config({ Subnet: 'fd00::zz/64' }, [], auto), (e: Error) => e instanceof InvalidParameterError && /invalid subnet fd00::zz\/64/.test(e.message));
  await assert.rejects(planIpv6Config({ Subnet: 'fd00:b::/64' }, [parseCidr6('fd00:b::/48')!], auto), (e: Error) => e instanceof ForbiddenError && /Pool overlaps/.test(e.message));
  await assert.rejects(planIpv6Config({ Gateway: 'fd00::1' }, [], auto), /requires a subnet/);
  await assert.rejects(planIpv6Config({ Subnet: 'fd00:b::/64', Gateway: 'fd00:c::1' }, [], auto), /no matching subnet for gateway fd00:c::1/);
  await assert.rejects(planIpv6Config({ Subnet: 'fd00:b::/64', Gateway: 'nope' }, [], auto), /invalid gateway address nope/);
  await assert.rejects(planIpv6Config({ Subnet: 'fd00:b::/64', IPRange: 'fd00:b::/48' }, [], auto), /no matching subnet for range/);
  await assert.rejects(planIpv6Config({ Subnet: 'fd00:b::/127' }, [], auto), /too small/);
});

test('pickSubnet6 and the ULA pool: moby\'s derivation, stable per seed, /64s that avoid used subnets', () => {
  const p = ulaPool('seed-1');
  assert.equal(p.size, 64);
  assert.match(p.base, /^fd[0-9a-f]{2}:[0-9a-f]{1,4}:[0-9a-f]{1,4}::\/48$/);
  assert.deepEqual(ulaPool('seed-1'), p);
  assert.notEqual(ulaPool('seed-2').base, p.base);
  // moby: gid = the first 8 bytes of sha256(hostID) & (2^40-1), placed after fd (bits 80..119)
  // sha256('') starts e3b0c44298fc1c14: its low 40 bits are 42 98 fc 1c 14
  assert.equal(ulaPool('').base, 'fd42:98fc:1c14::/48');
  const pools = [{ base: 'fd00:5::/48', size: 64 }];
  assert.equal(formatCidr6(pickSubnet6([], pools)), 'fd00:5::/64');
  assert.equal(formatCidr6(pickSubnet6([parseCidr6('fd00:5::/63')!], pools)), 'fd00:5:0:2::/64');
  assert.throws(() => pickSubnet6([parseCidr6('fd00::/16')!], pools), (e: Error) => e instanceof ForbiddenError && /IPv6 address pool/.test(e.message));
  assert.deepEqual(ipv6Pools([{ base: '10.0.0.0/8', size: 24 }], 's'), [ulaPool('s')]);
  assert.deepEqual(ipv6Pools([{ base: '10.0.0.0/8', size: 24 }, { base: 'fd00:9::/56', size: 64 }], 's'), [{ base: 'fd00:9::/56', size: 64 }]);
});

test('v4Config/v6Config: IPv4 first, IPv6 only on an EnableIPv6 network', () => {
  const n = dual();
  assert.equal(v4Config(n).Subnet, '10.7.0.0/24');
  assert.equal(v6Config(n)?.Subnet, 'fd00:7::/64');
  assert.equal(v6Config({ ...n, EnableIPv6: false }), undefined);
});

test('checkStaticIp: --ip6 inside the network\'s IPv6 subnet is taken; outside, not v6 or predefined it is refused in moby\'s words', () => {
  const n = dual();
  checkStaticIp(n, '10.7.0.5', 'fd00:7::5');
  checkStaticIp(n, undefined, 'FD00:7::0:5');
  assert.throws(() => checkStaticIp(n, undefined, 'fd00:8::5'), /no configured subnet or ip-range contain the IP address fd00:8::5/);
  assert.throws(() => checkStaticIp(n, '10.8.0.5', 'fd00:7::5'), /no configured subnet or ip-range contain the IP address 10\.8\.0\.5/);
  assert.throws(() => checkStaticIp(n, undefined, '10.7.0.5'), /invalid IPv6 address: 10\.7\.0\.5/);
  const v4only = newRecord('n4', 'bridge', { bridge: 'b', IPAM: { Driver: 'default', Options: null, Config: [{ Subnet: '10.9.0.0/24', Gateway: '10.9.0.1' }] } });
  assert.throws(() => checkStaticIp(v4only, undefined, 'fd00:7::5'), /no configured subnet or ip-range contain the IP address fd00:7::5/);
  assert.throws(() => checkStaticIp({ ...n, predefined: true }, undefined, 'fd00:7::5'), /user specified IP address is supported on user defined networks only/);
});

test('cniConfigFor: two range sets, a default route per family, the v6 range narrowed unless --ip6, static addresses in args.cni.ips', () => {
  const n = dual();
  n.IPAM.Config[1]!.IPRange = 'fd00:7::100/120';
  const ipam = (c: Record<string, unknown>) => c.ipam as { ranges: Array<Array<Record<string, string>>>; routes: unknown };
  const c = cniConfigFor(n, '/d');
  assert.deepEqual(ipam(c).ranges, [[{ subnet: '10.7.0.0/24', gateway: '10.7.0.1' }], [{ subnet: 'fd00:7::/64', gateway: 'fd00:7::1', rangeStart: 'fd00:7::100', rangeEnd: 'fd00:7::1ff' }]]);
  assert.deepEqual(ipam(c).routes, [{ dst: '0.0.0.0/0' }, { dst: '::/0' }]);
  assert.equal(c.args, undefined);
  const s = cniConfigFor(n, '/d', { ip6: 'fd00:7::5' });
  assert.deepEqual(ipam(s).ranges[1], [{ subnet: 'fd00:7::/64', gateway: 'fd00:7::1' }]);
  assert.deepEqual(s.args, { cni: { ips: ['fd00:7::5'] } });
  assert.deepEqual(cniConfigFor(n, '/d', { ip4: '10.7.0.9', ip6: 'fd00:7::5' }).args, { cni: { ips: ['10.7.0.9', 'fd00:7::5'] } });
  assert.deepEqual(ipam(cniConfigFor({ ...n, Internal: true }, '/d')).routes, []);
  // a v4-only network keeps one range set
  assert.equal(ipam(cniConfigFor({ ...n, EnableIPv6: false }, '/d')).ranges.length, 1);
  assert.deepEqual(ipam(bridgeConfig({ name: 'x', bridge: 'b', subnet: '10.1.0.0/24', gateway: '10.1.0.1', ipamDataDir: '/d', defaultRoute: true })).routes, [{ dst: '0.0.0.0/0' }]);
});

test('parseAddResult: the IPv6 address, prefix and gateway of a dual-stack ADD', () => {
  const r = parseAddResult({
    interfaces: [{ name: 'berth-abc' }, { name: 'veth1' }, { name: 'eth0', mac: 'aa:bb', sandbox: '/ns' }],
    ips: [{ interface: 2, address: '10.7.0.2/24', gateway: '10.7.0.1' }, { interface: 2, address: 'fd00:7::2/64', gateway: 'fd00:7::1' }],
  }, 'eth0');
  assert.deepEqual(r, { ip: '10.7.0.2', prefixLen: 24, gateway: '10.7.0.1', mac: 'aa:bb', hostVeth: 'veth1', ip6: 'fd00:7::2', prefixLen6: 64, gateway6: 'fd00:7::1' });
  // the IPv4 address is found even when IPv6 comes first
  assert.equal(parseAddResult({ ips: [{ address: 'fd00:7::2/64' }, { address: '10.7.0.2/24' }] }, 'eth0').ip, '10.7.0.2');
});

test('ip addr add ... nodad for the bridge\'s IPv6 gateway', () => {
  assert.deepEqual(ipArgs({ op: 'add-addr', dev: 'br1', cidr: 'fd00:7::1/64', nodad: true }), ['addr', 'add', 'fd00:7::1/64', 'dev', 'br1', 'nodad']);
});

test('ip6.arpa names both ways', () => {
  const v = parseIPv6('fd00:7::2')!;
  assert.equal(reverseName6(v), '2.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.7.0.0.0.0.0.d.f.ip6.arpa');
  assert.equal(parseReverseName6(reverseName6(v)), v);
  assert.equal(parseReverseName6('1.0.ip6.arpa'), undefined);
  assert.equal(reverseName('fd00:7::2'), reverseName6(v));
  assert.equal(reverseName('10.7.0.2'), '2.0.7.10.in-addr.arpa');
});

test('embedded DNS: AAAA answers the IPv6 addresses, A the IPv4 ones, PTR both families', () => {
  const dns = new EmbeddedDns({ address: '127.0.0.1', isClient: () => true, defaultUpstreams: () => [] });
  const rec = emptyRecords();
  addRecord(rec, ['web', 'alias1'], '10.7.0.2');
  addRecord(rec, ['web', 'alias1'], 'fd00:7::2');
  addRecord(rec, ['v4only'], '10.7.0.3');
  dns.setRecords(rec);
  const q = (name: string, type: string) => dns.answer({ id: 7, type: 'query', questions: [{ name, type: type as 'A' }] });
  const data = (p: ReturnType<typeof q>) => (p?.answers ?? []).map((a) => [a.type, (a as { data: unknown }).data]);
  assert.deepEqual(data(q('web', 'AAAA')), [['AAAA', 'fd00:7::2']]);
  assert.deepEqual(data(q('alias1.', 'A')), [['A', '10.7.0.2']]);
  const none = q('v4only', 'AAAA');
  assert.ok(none, 'a known name without IPv6 is NOERROR, not forwarded');
  assert.deepEqual(none.answers, []);
  assert.equal(q('nobody', 'AAAA'), undefined);
  assert.deepEqual(data(q(reverseName6(parseIPv6('fd00:7::2')!), 'PTR')), [['PTR', 'web']]);
  assert.deepEqual(data(q('2.0.7.10.in-addr.arpa', 'PTR')), [['PTR', 'web']]);
});

test('planRules6: the IPv4 filter policy for the IPv6 subnets, masquerade per network, DNAT of wildcard ports, own chains only', () => {
  const text = planRules6([
    { bridge: 'berth-b', subnet: 'fd00:2::/64', internal: false, masquerade: false, icc: false },
    { bridge: 'berth-a', subnet: 'fd00:1::/64', internal: false, masquerade: true, icc: true },
    { bridge: 'berth-i', subnet: 'fd00:3::/64', internal: true, masquerade: true, icc: true },
  ], [
    { bridge: 'berth-a', containerIp: 'fd00:1::2', ports: [{ proto: 'tcp', containerPort: 80, hostIp: '', hostPort: 8080 }, { proto: 'udp', containerPort: 53, hostIp: '127.0.0.1', hostPort: 5353 }] },
    { bridge: 'berth-i', containerIp: 'fd00:3::2', ports: [{ proto: 'tcp', containerPort: 80, hostIp: '', hostPort: 8081 }] },
  ], 'BERTH');
  const lines = text.split('\n');
  assert.deepEqual(lines.filter((l) => l.startsWith('*') || l.startsWith(':')),
    ['*nat', ':BERTH-PREROUTING - [0:0]', ':BERTH-OUTPUT - [0:0]', ':BERTH-POSTROUTING - [0:0]', ':BERTH-DNAT - [0:0]', '*filter', ':BERTH-FORWARD - [0:0]']);
  // only the wildcard port of the open network: an IPv4 host address and an internal network publish nothing here
  assert.deepEqual(lines.filter((l) => l.startsWith('-A BERTH-DNAT')), ['-A BERTH-DNAT -p tcp -m tcp --dport 8080 -j DNAT --to-destination [fd00:1::2]:80']);
  assert.deepEqual(lines.filter((l) => l.startsWith('-A BERTH-PREROUTING') || l.startsWith('-A BERTH-OUTPUT')),
    ['-A BERTH-PREROUTING ! -d ::1/128 -j BERTH-DNAT', '-A BERTH-OUTPUT ! -d ::1/128 -j BERTH-DNAT']);
  assert.deepEqual(lines.filter((l) => l.includes('! -o') && l.includes('MASQUERADE')), ['-A BERTH-POSTROUTING -s fd00:1::/64 ! -o berth-a -j MASQUERADE']);
  const f = lines.filter((l) => l.startsWith('-A BERTH-FORWARD'));
  // internal first (closed), replies and published traffic, hand-off to other instances, per-network policy, nothing else in
  assert.deepEqual(f, [
    '-A BERTH-FORWARD -i berth-i -o berth-i -j ACCEPT', '-A BERTH-FORWARD -i berth-i -j DROP', '-A BERTH-FORWARD -o berth-i -j DROP',
    '-A BERTH-FORWARD -o berth-a -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT', '-A BERTH-FORWARD -o berth-a -m conntrack --ctstate DNAT -j ACCEPT',
    '-A BERTH-FORWARD -o berth-b -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT', '-A BERTH-FORWARD -o berth-b -m conntrack --ctstate DNAT -j ACCEPT',
    '-A BERTH-FORWARD -o berth+ -m conntrack --ctstate RELATED,ESTABLISHED,DNAT -j RETURN',
    '-A BERTH-FORWARD -i berth-a -o berth-a -j ACCEPT', '-A BERTH-FORWARD -i berth-a -o berth+ -j DROP', '-A BERTH-FORWARD -i berth-a -j ACCEPT',
    '-A BERTH-FORWARD -i berth-b -o berth-b -j DROP', '-A BERTH-FORWARD -i berth-b -o berth+ -j DROP', '-A BERTH-FORWARD -i berth-b -j ACCEPT',
    '-A BERTH-FORWARD -o berth-a -j DROP', '-A BERTH-FORWARD -o berth-b -j DROP',
  ]);
  assert.ok(planRules6([], [], 'BERTH-abc123').includes(':BERTH-abc123-DNAT - [0:0]'));
  assert.deepEqual(chains6For('P'), { nat: ['P-PREROUTING', 'P-OUTPUT', 'P-POSTROUTING', 'P-DNAT'], filter: ['P-FORWARD'] });
  assert.deepEqual(jumps6For('P').map((j) => [j.table, j.chain, j.rule.join(' '), !!j.insert]), [
    ['nat', 'PREROUTING', '-m addrtype --dst-type LOCAL -j P-PREROUTING', false], ['nat', 'OUTPUT', '-m addrtype --dst-type LOCAL -j P-OUTPUT', false],
    ['nat', 'POSTROUTING', '-j P-POSTROUTING', false], ['filter', 'FORWARD', '-j P-FORWARD', true]]);
});

test('Iptables.v6 runs ip6tables and touches only the IPv6 chains and jumps', async () => {
  const r = new RecordingRunner();
  const ipt = Iptables.v6('BERTH', r);
  await ipt.ensureJumps();
  await ipt.removeAll();
  const files = new Set(r.calls.map((c) => c.file));
  assert.deepEqual([...files].sort(), ['ip6tables', 'ip6tables-restore']);
  const named = r.calls.flatMap((c) => c.args).filter((a) => a.startsWith('BERTH-'));
  assert.deepEqual([...new Set(named)].sort(), ['BERTH-DNAT', 'BERTH-FORWARD', 'BERTH-OUTPUT', 'BERTH-POSTROUTING', 'BERTH-PREROUTING']);
});

test('--aux-address: checked as moby\'s ValidateIPAM, normalised, the gateway refused; both families', async () => {
  const auto = async () => { throw new Error('no auto'); };
  const v4 = await planIpv4Config({ Subnet: '10.3.0.0/24', AuxiliaryAddresses: { a: '10.3.0.2', b: '10.3.0.250' } }, [], auto);
  assert.deepEqual(v4.AuxiliaryAddresses, { a: '10.3.0.2', b: '10.3.0.250' });
  const v6 = await planIpv6Config({ Subnet: 'fd00:3::/64', AuxiliaryAddresses: { r: 'FD00:3::0002' } }, [], auto as never);
  assert.deepEqual(v6.AuxiliaryAddresses, { r: 'fd00:3::2' });
  assert.equal((await planIpv4Config({ Subnet: '10.3.0.0/24' }, [], auto)).AuxiliaryAddresses, undefined);
  await assert.rejects(planIpv4Config({ Subnet: '10.3.0.0/24', AuxiliaryAddresses: { a: '10.4.0.2' } }, [], auto),
    { message: 'invalid network config:\ninvalid auxiliary address a: parent subnet 10.3.0.0/24 doesn\'t contain this address' });
  await assert.rejects(planIpv4Config({ Subnet: '10.3.0.0/24', AuxiliaryAddresses: { a: 'fd00::2' } }, [], auto), /invalid auxiliary address a: parent subnet is an IPv4 block/);
  await assert.rejects(planIpv6Config({ Subnet: 'fd00:3::/64', AuxiliaryAddresses: { a: '10.3.0.2' } }, [], auto as never), /invalid auxiliary address a: parent subnet is an IPv6 block/);
  await assert.rejects(planIpv4Config({ Subnet: '10.3.0.0/24', AuxiliaryAddresses: { a: 'x' } }, [], auto), /invalid auxiliary address a: invalid address/);
  await assert.rejects(planIpv4Config({ Subnet: '10.3.0.0/24', AuxiliaryAddresses: { gw: '10.3.0.1' } }, [], auto),
    (e: Error) => e instanceof ForbiddenError && /failed to allocate secondary ip address \(gw:10\.3\.0\.1\): Address already in use/.test(e.message));
  const n = dual();
  n.IPAM.Config[0]!.AuxiliaryAddresses = { a: '10.7.0.9' };
  n.IPAM.Config[1]!.AuxiliaryAddresses = { b: 'fd00:7::9' };
  assert.deepEqual(auxAddresses(n), ['10.7.0.9', 'fd00:7::9']);
});

test('checkPools: daemon.json default-address-pools of both families are checked, not skipped', () => {
  checkPools([{ base: '10.210.0.0/16', size: 24 }, { base: 'fd00:9::/48', size: 64 }]);
  assert.throws(() => checkPools([{ base: '10.210.0.0', size: 24 }]), /default-address-pools: invalid base pool "10\.210\.0\.0"/);
  assert.throws(() => checkPools([{ base: '10.210.0.0/16', size: 8 }]), /size 8 of 10\.210\.0\.0\/16 must be between \/16 and \/32/);
  assert.throws(() => checkPools([{ base: 'fd00:9::/48', size: 129 }]), /must be between \/48 and \/128/);
});
