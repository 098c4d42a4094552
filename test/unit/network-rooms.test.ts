import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ipArgs, IpTool } from '../../src/network/ip-tool.js';
import { RecordingRunner } from '../../src/sys/process-runner.js';
import { classifyCniError, CniError } from '../../src/network/cni.js';
import { checkStaticIp, cniConfigFor, parseBip, pickSubnet, planIpv4Config } from '../../src/network/ipam.js';
import { formatCidr, parseCidr } from '../../src/network/ip.js';
import { newRecord } from '../../src/network/networks.js';
import { ForbiddenError, InvalidParameterError } from '../../src/errors.js';

test('ipArgs: each operation as iproute2 spells it', () => {
  assert.deepEqual(ipArgs({ op: 'add-bridge', dev: 'br1' }), ['link', 'add', 'name', 'br1', 'type', 'bridge']);
  assert.deepEqual(ipArgs({ op: 'del-link', dev: 'br1' }), ['link', 'del', 'br1']);
  assert.deepEqual(ipArgs({ op: 'show-addr', dev: 'br1', family: 4 }), ['-o', '-4', 'addr', 'show', 'dev', 'br1']);
  assert.deepEqual(ipArgs({ op: 'show-addr', dev: 'br1', family: 6 }), ['-o', '-6', 'addr', 'show', 'dev', 'br1']);
  assert.deepEqual(ipArgs({ op: 'add-addr', dev: 'br1', cidr: '10.0.0.1/24' }), ['addr', 'add', '10.0.0.1/24', 'dev', 'br1']);
  assert.deepEqual(ipArgs({ op: 'set-alias', dev: 'br1', alias: 'berth:X' }), ['link', 'set', 'dev', 'br1', 'alias', 'berth:X']);
  assert.deepEqual(ipArgs({ op: 'set-mac', dev: 'br1', mac: '02:00:00:00:00:01' }), ['link', 'set', 'dev', 'br1', 'address', '02:00:00:00:00:01']);
  assert.deepEqual(ipArgs({ op: 'set-mtu', dev: 'br1', mtu: 1400 }), ['link', 'set', 'dev', 'br1', 'mtu', '1400']);
  assert.deepEqual(ipArgs({ op: 'up', dev: 'br1' }), ['link', 'set', 'br1', 'up']);
});

test('IpTool runs ip with args() through the given runner', async () => {
  const runner = new RecordingRunner().on('ip', { stdout: 'out' });
  const ip = new IpTool(runner);
  assert.equal(await ip.exec({ op: 'up', dev: 'x' }), 'out');
  assert.deepEqual(runner.calls.map((c) => [c.file, c.args]), [['ip', ['link', 'set', 'x', 'up']]]);
});

test('classifyCniError: host-local refusing a requested address, and nothing else', () => {
  assert.equal(classifyCniError(999, 'failed to allocate for range 0: requested IP address 10.99.0.7 is not available in range set 10.99.0.1-10.99.0.254'), 'address-unavailable');
  assert.equal(classifyCniError(999, 'failed to allocate all requested IPs: 10.98.0.7'), 'address-unavailable');
  assert.equal(classifyCniError(999, 'failed to set bridge addr: could not add IP address'), 'other');
  assert.equal(classifyCniError(7, 'requested IP address 1.2.3.4 is not available'), 'other');
  assert.equal(classifyCniError(undefined, 'exit 1'), 'other');
  const e = new CniError('cni bridge ADD eth0: x', 999, 'requested IP address 1.2.3.4 is not available in range set');
  assert.equal(e.failure, 'address-unavailable');
  assert.equal(e.code, 999);
});

test('pickSubnet: first free block of the pools', () => {
  const pools = [{ base: '10.210.0.0/16', size: 24 }];
  assert.equal(formatCidr(pickSubnet([], pools)), '10.210.0.0/24');
  assert.equal(formatCidr(pickSubnet([parseCidr('10.210.0.0/23')!], pools)), '10.210.2.0/24');
  assert.throws(() => pickSubnet([parseCidr('10.0.0.0/8')!], pools), ForbiddenError);
});

test('planIpv4Config: Docker\'s checks of subnet, gateway and range', async () => {
  const auto = async () => parseCidr('10.1.0.0/24')!;
  assert.deepEqual(await planIpv4Config({}, [], auto), { Subnet: '10.1.0.0/24', Gateway: '10.1.0.1' });
  assert.deepEqual(await planIpv4Config({ Subnet: '10.2.0.7/16', Gateway: '10.2.3.4', IPRange: '10.2.1.0/24' }, [], auto),
    { Subnet: '10.2.0.0/16', Gateway: '10.2.3.4', IPRange: '10.2.1.0/24' });
  await assert.rejects(planIpv4Config({ Subnet: 'x' }, [], auto), InvalidParameterError);
  await assert.rejects(planIpv4Config({ Subnet: '10.2.0.0/24' }, [parseCidr('10.2.0.0/16')!], auto), /Pool overlaps/);
  await assert.rejects(planIpv4Config({ Gateway: '10.1.0.1' }, [], auto), /requires a subnet/);
  await assert.rejects(planIpv4Config({ Subnet: '10.2.0.0/24', Gateway: '10.3.0.1' }, [], auto), /no matching subnet for gateway/);
  await assert.rejects(planIpv4Config({ Subnet: '10.2.0.0/24', IPRange: '10.2.0.0/16' }, [], auto), /no matching subnet for range/);
  await assert.rejects(planIpv4Config({ Subnet: '10.2.0.0/31' }, [], auto), /too small/);
});

test('parseBip and checkStaticIp', () => {
  assert.equal(formatCidr(parseBip('172.30.0.1/16').cidr), '172.30.0.0/16');
  assert.throws(() => parseBip('172.30.0.0/16'), /host address/);
  assert.throws(() => parseBip('nope'), /invalid bip/);
  const n = newRecord('u', 'bridge', { IPAM: { Driver: 'default', Options: null, Config: [{ Subnet: '10.5.0.0/24', Gateway: '10.5.0.1' }] }, bridge: 'b' });
  checkStaticIp(n, '10.5.0.9');
  assert.throws(() => checkStaticIp(n, '10.6.0.9'), /no configured subnet/);
  assert.throws(() => checkStaticIp(n, 'zz'), /invalid IPv4/);
  assert.throws(() => checkStaticIp({ ...n, predefined: true }, '10.5.0.9'), /user defined networks only/);
});

test('cniConfigFor: the ip-range narrows host-local unless an address is asked for', () => {
  const n = newRecord('u', 'bridge', { IPAM: { Driver: 'default', Options: null, Config: [{ Subnet: '10.5.0.0/24', Gateway: '10.5.0.1', IPRange: '10.5.0.128/25' }] }, bridge: 'b', Options: { 'com.docker.network.driver.mtu': '1400' } });
  const range = (c: Record<string, unknown>) => ((c.ipam as { ranges: Array<Array<Record<string, string>>> }).ranges[0]![0]);
  assert.deepEqual(range(cniConfigFor(n, '/d')), { subnet: '10.5.0.0/24', gateway: '10.5.0.1', rangeStart: '10.5.0.128', rangeEnd: '10.5.0.254' });
  assert.deepEqual(range(cniConfigFor(n, '/d', { ip4: '10.5.0.9' })), { subnet: '10.5.0.0/24', gateway: '10.5.0.1' });
  assert.deepEqual(cniConfigFor(n, '/d', { ip4: '10.5.0.9' }).args, { cni: { ips: ['10.5.0.9'] } });
  assert.equal(cniConfigFor(n, '/d').args, undefined);
  assert.equal(cniConfigFor(n, '/d').mtu, 1400);
});
