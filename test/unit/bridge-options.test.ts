import { test } from 'node:test';
import assert from 'node:assert/strict';
import { bridgeSettings, checkBridgeOptions, parseGoBool } from '../../src/network/bridge-options.js';
import { planPublishRequests } from '../../src/network/ports.js';

test('parseGoBool: Go strconv.ParseBool\'s spellings only', () => {
  for (const t of ['1', 't', 'T', 'TRUE', 'true', 'True']) assert.equal(parseGoBool(t), true, t);
  for (const f of ['0', 'f', 'F', 'FALSE', 'false', 'False']) assert.equal(parseGoBool(f), false, f);
  for (const x of ['', 'yes', 'tRUE', ' true', 'on']) assert.equal(parseGoBool(x), undefined, x);
});

test('checkBridgeOptions: moby\'s parse errors, unknown driver options refused, other keys free', () => {
  const cases: Array<[Record<string, string>, RegExp]> = [
    [{ 'com.docker.network.bridge.enable_icc': 'maybe' }, /^failed to parse com\.docker\.network\.bridge\.enable_icc value: maybe \(strconv\.ParseBool: parsing "maybe": invalid syntax\)$/],
    [{ 'com.docker.network.bridge.enable_ip_masquerade': '' }, /failed to parse .*enable_ip_masquerade value:  \(strconv\.ParseBool: parsing "": invalid syntax\)/],
    [{ 'com.docker.network.driver.mtu': '1e3' }, /^failed to parse com\.docker\.network\.driver\.mtu value: 1e3 \(strconv\.Atoi: parsing "1e3": invalid syntax\)$/],
    [{ 'com.docker.network.driver.mtu': '-1' }, /^invalid MTU number: -1$/],
    [{ 'com.docker.network.driver.mtu': '70000' }, /^invalid MTU number: 70000$/],
    [{ 'com.docker.network.bridge.host_binding_ipv4': 'localhost' }, /^failed to parse .*host_binding_ipv4 value: localhost \(nil ip\)$/],
    [{ 'com.docker.network.bridge.inhibit_ipv4': 'true' }, /com\.docker\.network\.bridge\.inhibit_ipv4 is not supported by berth/],
  ];
  for (const [opts, re] of cases) assert.throws(() => checkBridgeOptions(opts), { message: re }, JSON.stringify(opts));
  checkBridgeOptions({
    'com.docker.network.bridge.name': 'br0', 'com.docker.network.driver.mtu': '0', 'com.docker.network.bridge.enable_icc': 'F',
    'com.docker.network.bridge.enable_ip_masquerade': '1', 'com.docker.network.bridge.host_binding_ipv4': '127.0.0.1',
    'org.example.anything': 'x',
  });
});

test('bridgeSettings: Docker\'s defaults when unset; 0.0.0.0 binding means every address', () => {
  assert.deepEqual(bridgeSettings({}), { icc: true, masquerade: true, hostBindingIp: '', mtu: 0 });
  assert.deepEqual(bridgeSettings({
    'com.docker.network.bridge.enable_icc': 'false', 'com.docker.network.bridge.enable_ip_masquerade': '0',
    'com.docker.network.bridge.host_binding_ipv4': '127.0.0.1', 'com.docker.network.driver.mtu': '1400',
  }), { icc: false, masquerade: false, hostBindingIp: '127.0.0.1', mtu: 1400 });
  assert.equal(bridgeSettings({ 'com.docker.network.bridge.host_binding_ipv4': '0.0.0.0' }).hostBindingIp, '');
});

test('planPublishRequests: the network\'s default host address fills only what the user left out', () => {
  const r = planPublishRequests({ '80/tcp': [{ HostPort: '8080' }], '81/tcp': [{ HostIp: '0.0.0.0', HostPort: '8081' }], '82/tcp': [{ HostIp: '10.0.0.1' }] },
    true, { '90/tcp': {} }, '127.0.0.1');
  assert.deepEqual(r.map((x) => [x.containerPort, x.hostIp]), [[80, '127.0.0.1'], [81, ''], [82, '10.0.0.1'], [90, '127.0.0.1']]);
});
