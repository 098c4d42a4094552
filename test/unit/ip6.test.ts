import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cidr6Contains, formatCidr6, formatIPv6, isLinkLocal6, parseCidr6, parseIPv6 } from '../../src/network/ip6.js';
import { checkLinkLocalSyntax, checkStaticIp, linkLocalCidrs } from '../../src/network/ipam.js';
import type { NetworkRecord } from '../../src/network/network-store.js';

test('IPv6 text: parse and format as Go (RFC 5952)', () => {
  for (const [inp, out] of [['2001:db8::1', '2001:db8::1'], ['2001:0DB8:0:0:0:0:0:1', '2001:db8::1'], ['::', '::'], ['::1', '::1'],
    ['fe80::', 'fe80::'], ['2001:db8:0:1:0:0:0:1', '2001:db8:0:1::1'], ['1:0:0:1:0:0:0:1', '1:0:0:1::1'], ['::ffff:1.2.3.4', '::ffff:102:304'],
    ['1:2:3:4:5:6:7:8', '1:2:3:4:5:6:7:8'], ['2001:db8:0:0:1:0:0:0', '2001:db8:0:0:1::'], ['2001:0:0:1:0:0:1:1', '2001::1:0:0:1:1']]) {
    assert.equal(formatIPv6(parseIPv6(inp!)!), out, inp);
  }
  for (const bad of ['1.2.3.4', '1::2::3', '1:2:3:4:5:6:7', '1:2:3:4:5:6:7:8:9', '12345::', 'fe80::1%eth0', 'g::1', '1:2:3:4:5:6:7::8']) {
    assert.equal(parseIPv6(bad), undefined, bad);
  }
  const c = parseCidr6('2001:db8:1::5/64')!;
  assert.equal(formatCidr6(c), '2001:db8:1::/64');
  assert.ok(cidr6Contains(c, parseIPv6('2001:db8:1::ffff')!));
  assert.ok(!cidr6Contains(c, parseIPv6('2001:db8:2::1')!));
  assert.equal(parseCidr6('2001:db8::/129'), undefined);
  assert.ok(isLinkLocal6(parseIPv6('fe80::10')!));
  assert.ok(isLinkLocal6(parseIPv6('febf::1')!));
  assert.ok(!isLinkLocal6(parseIPv6('fec0::1')!));
});

test('LinkLocalIPs: an address at create, a link-local one at start, masks /16 and /64', () => {
  checkLinkLocalSyntax(['169.254.1.1', 'fe80::1', '10.0.0.1']);
  assert.throws(() => checkLinkLocalSyntax(['nope']), /invalid endpoint settings:\ninvalid link-local IP address: nope/);
  assert.throws(() => checkLinkLocalSyntax(['0.0.0.0']), /invalid link-local IP address: 0\.0\.0\.0/);
  assert.deepEqual(linkLocalCidrs(['169.254.1.1', 'FE80::0001']), ['169.254.1.1/16', 'fe80::1/64']);
  assert.throws(() => linkLocalCidrs(['10.0.0.1']), /^InvalidParameterError: invalid link local IP address: 10\.0\.0\.1$|invalid link local IP address: 10\.0\.0\.1/);
});

test('an IPv6 address for an endpoint of a network without IPv6 is refused in moby\'s words', () => {
  const net = (predefined: boolean) => ({ predefined, IPAM: { Config: [{ Subnet: '10.9.0.0/24', Gateway: '10.9.0.1' }] } }) as unknown as NetworkRecord;
  assert.throws(() => checkStaticIp(net(false), undefined, '2001:db8::33'), /no configured subnet or ip-range contain the IP address 2001:db8::33/);
  assert.throws(() => checkStaticIp(net(false), undefined, 'nope'), /invalid IPv6 address: nope/);
  assert.throws(() => checkStaticIp(net(true), undefined, '2001:db8::33'), /supported on user defined networks only/);
  checkStaticIp(net(false), '10.9.0.5');
});
