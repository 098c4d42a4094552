// Issue 8's network items with the REAL docker CLI against a private berthd: the bridge driver's
// `com.docker.network.*` options acted on (bridge name, MTU, ICC, masquerade, host binding IP) or refused
// with Docker's wording, network names as moby allows them, and nothing left on the host afterwards.
// The default bridge (berth0) and the BERTH-* chains are host-wide: run under the e2e lock.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import { api, startDaemon, type Daemon } from '../helpers/daemon.js';
import { docker, show, type CliOptions, type CliResult } from '../helpers/cli.js';
import { busyboxTar } from '../helpers/fixtures.js';

const IMG = 'busybox:netopt';
const HTTPD = (port: number, body: string) => ['sh', '-c', `mkdir /www; echo ${body} > /www/index.html; exec httpd -f -p ${port} -h /www`];
/** Not berth-prefixed on purpose: a user-chosen bridge name lies outside the berth+ wildcard. */
const BR = 'br-bopt';
let d: Daemon;
const dk = (args: string[], opts?: CliOptions) => docker(d.env, args, { timeoutMs: 30_000, ...opts });
const sh = (cmd: string, args: string[]) => execFileSync(cmd, args, { encoding: 'utf8' });

async function ok(args: string[], opts?: CliOptions): Promise<CliResult> {
  const r = await dk(args, opts);
  assert.equal(r.code, 0, `docker ${args.join(' ')} failed: ${show(r)}`);
  return r;
}
async function fails(args: string[], re: RegExp): Promise<CliResult> {
  const r = await dk(args);
  assert.notEqual(r.code, 0, `docker ${args.join(' ')} should fail: ${show(r)}`);
  assert.match(r.stderr, re, show(r));
  return r;
}
const inspect = async (name: string, fmt: string) => (await ok(['inspect', '-f', fmt, name])).stdout.trim();

function hostAddress(): string {
  for (const l of sh('ip', ['-4', '-o', 'addr', 'show', 'scope', 'global']).split('\n')) {
    const m = /^\d+:\s+(\S+)\s+inet\s+([\d.]+)\//.exec(l);
    if (m && !m[1]!.startsWith('berth') && !m[1]!.startsWith('br-')) return m[2]!;
  }
  throw new Error('the host has no global IPv4 address');
}

async function httpGet(host: string, port: number, timeoutMs = 8000): Promise<string> {
  const end = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < end) {
    try {
      const r = await fetch(`http://${host}:${port}/`, { signal: AbortSignal.timeout(2000) });
      return await r.text();
    } catch (e) { last = e; await new Promise((r) => setTimeout(r, 200)); }
  }
  throw new Error(`http://${host}:${port}/ did not answer in ${timeoutMs} ms: ${String((last as Error)?.cause ?? last)}`);
}

/** Host state that names one of this file's bridges or subnets (links, enslaved veths, iptables rules). */
function traces(bridges: string[], subnets: string[]): string[] {
  const out: string[] = [];
  for (const l of sh('ip', ['-o', 'link']).split('\n').filter(Boolean)) {
    const name = l.split(':')[1]!.trim().split('@')[0]!;
    if (bridges.includes(name)) out.push(`link ${name}`);
    const master = / master (\S+)/.exec(l)?.[1];
    if (master && bridges.includes(master)) out.push(`link ${name} enslaved to ${master}`);
  }
  for (const l of sh('iptables-save', []).split('\n')) {
    if (bridges.some((b) => l.includes(` ${b} `) || l.endsWith(` ${b}`)) || subnets.some((s) => l.includes(s))) out.push(`rule ${l}`);
  }
  return out;
}

const created: { bridges: string[]; subnets: string[] } = { bridges: [BR], subnets: [] };
const bridgeOf = async (net: string) => `berth-${(await ok(['network', 'inspect', '-f', '{{.Id}}', net])).stdout.trim().slice(0, 9)}`;

before(async () => {
  d = await startDaemon();
  const tar = await busyboxTar();
  await ok(['import', '--change', 'CMD ["sh"]', tar, IMG], { timeoutMs: 60_000 });
});

after(async () => {
  if (!d) return;
  const ids = (await dk(['ps', '-aq'])).stdout.split('\n').filter(Boolean);
  if (ids.length) await dk(['rm', '-f', ...ids], { timeoutMs: 60_000 });
  await dk(['network', 'prune', '-f']);
  const leftovers = await d.cleanup();
  if (leftovers.length) console.error(`network-options: swept leftovers: ${leftovers.join(', ')}`);
});

test('-o bridge.name and driver.mtu: the bridge has that name and MTU, so has the container\'s eth0; inspect shows the options', async () => {
  created.subnets.push('10.231.40.0/24');
  await ok(['network', 'create', '-o', `com.docker.network.bridge.name=${BR}`, '-o', 'com.docker.network.driver.mtu=1400',
    '--subnet', '10.231.40.0/24', 'optnet']);
  assert.match(sh('ip', ['-o', 'link', 'show', BR]), / mtu 1400 /, `ip link show ${BR}`);
  const opts = JSON.parse(await inspect('optnet', '{{json .Options}}')) as Record<string, string>;
  assert.deepEqual(opts, { 'com.docker.network.bridge.name': BR, 'com.docker.network.driver.mtu': '1400' });
  const r = await ok(['run', '--rm', '--network', 'optnet', IMG, 'cat', '/sys/class/net/eth0/mtu']);
  assert.equal(r.stdout.trim(), '1400');
  assert.match(sh('ip', ['-o', 'link', 'show', BR]), / mtu 1400 /, 'the bridge keeps its MTU once a port joined and left');
  await ok(['network', 'rm', 'optnet']);
  assert.ok(!fs.existsSync(`/sys/class/net/${BR}`), 'the named bridge goes with its network');
});

test('bridge.name of a bridge the user made: the network uses it and leaves it on rm (without berth\'s address)', async () => {
  const own = 'br-buser';
  created.bridges.push(own);
  created.subnets.push('10.231.46.0/24');
  sh('ip', ['link', 'add', 'name', own, 'type', 'bridge']);
  try {
    await ok(['network', 'create', '-o', `com.docker.network.bridge.name=${own}`, '--subnet', '10.231.46.0/24', 'usernet']);
    const r = await ok(['run', '--rm', '--network', 'usernet', IMG, 'ping', '-c1', '-W2', '10.231.46.1']);
    assert.match(r.stdout, /1 packets received/, show(r));
    await ok(['network', 'rm', 'usernet']);
    assert.ok(fs.existsSync(`/sys/class/net/${own}`), 'the user\'s bridge stays');
    assert.doesNotMatch(sh('ip', ['-o', 'addr', 'show', 'dev', own]), /10\.231\.46\./);
    assert.equal(fs.readFileSync(`/sys/class/net/${own}/ifalias`, 'utf8').trim(), '', 'not tagged as berth\'s');
    sh('ip', ['link', 'add', 'name', 'br-bdummy', 'type', 'veth', 'peer', 'name', 'br-bdummy2']);
    try {
      await fails(['network', 'create', '-o', 'com.docker.network.bridge.name=br-bdummy', 'dummynet'], /exists and is not a bridge/);
    } finally { sh('ip', ['link', 'del', 'br-bdummy']); }
  } finally {
    sh('ip', ['link', 'del', own]);
  }
});

test('enable_icc=false: containers on the network cannot reach each other; with the default they can', async () => {
  created.subnets.push('10.231.41.0/24', '10.231.42.0/24');
  await ok(['network', 'create', '-o', 'com.docker.network.bridge.enable_icc=false', '--subnet', '10.231.41.0/24', 'noicc']);
  await ok(['network', 'create', '--subnet', '10.231.42.0/24', 'icc']);
  created.bridges.push(await bridgeOf('noicc'), await bridgeOf('icc'));
  for (const net of ['noicc', 'icc']) await ok(['run', '-d', '--name', `srv-${net}`, '--network', net, IMG, ...HTTPD(8080, net)]);
  const probe = async (net: string) => {
    const ip = await inspect(`srv-${net}`, `{{.NetworkSettings.Networks.${net}.IPAddress}}`);
    return dk(['run', '--rm', '--network', net, IMG, 'sh', '-c', `printf 'GET / HTTP/1.0\\r\\n\\r\\n' | nc -w 3 ${ip} 8080`]);
  };
  const open = await probe('icc');
  assert.match(open.stdout, /\r\n\r\nicc\n$/, `icc on: ${show(open)}`);
  const closed = await probe('noicc');
  assert.doesNotMatch(closed.stdout, /noicc/, `icc off must block container-to-container traffic: ${show(closed)}`);
  await ok(['rm', '-f', 'srv-noicc', 'srv-icc']);
  await ok(['network', 'rm', 'noicc', 'icc']);
});

test('enable_ip_masquerade=false drops the network\'s MASQUERADE rule; the default network keeps one', async () => {
  created.subnets.push('10.231.43.0/24', '10.231.44.0/24');
  await ok(['network', 'create', '-o', 'com.docker.network.bridge.enable_ip_masquerade=false', '--subnet', '10.231.43.0/24', 'nomasq']);
  await ok(['network', 'create', '--subnet', '10.231.44.0/24', 'masq']);
  const nat = sh('iptables-save', ['-t', 'nat']).split('\n');
  const outbound = (subnet: string) => nat.filter((l) => l.includes(`-s ${subnet} ! -o `) && l.endsWith('-j MASQUERADE'));
  assert.equal(outbound('10.231.43.0/24').length, 0, nat.filter((l) => l.includes('10.231.43.')).join('\n'));
  assert.equal(outbound('10.231.44.0/24').length, 1, nat.filter((l) => l.includes('10.231.44.')).join('\n'));
  await ok(['network', 'rm', 'nomasq', 'masq']);
});

test('host_binding_ipv4: -p without a host address publishes on that address only', async () => {
  created.subnets.push('10.231.45.0/24');
  await ok(['network', 'create', '-o', 'com.docker.network.bridge.host_binding_ipv4=127.0.0.1', '--subnet', '10.231.45.0/24', 'lonet']);
  await ok(['run', '-d', '--name', 'loweb', '--network', 'lonet', '-p', '18095:80', IMG, ...HTTPD(80, 'lo')]);
  assert.equal((await ok(['port', 'loweb', '80'])).stdout.trim(), '127.0.0.1:18095');
  assert.equal(await httpGet('127.0.0.1', 18095), 'lo\n');
  await assert.rejects(fetch(`http://${hostAddress()}:18095/`, { signal: AbortSignal.timeout(2000) }), 'not published on the host\'s other addresses');
  // An explicit host address still wins over the network's default.
  await ok(['run', '-d', '--name', 'allweb', '--network', 'lonet', '-p', '0.0.0.0:18096:80', IMG, ...HTTPD(80, 'all')]);
  assert.equal(await httpGet(hostAddress(), 18096), 'all\n');
  await ok(['rm', '-f', 'loweb', 'allweb']);
  await ok(['network', 'rm', 'lonet']);
});

test('unknown com.docker.network.* options and bad values are refused with Docker\'s wording; nothing is created', async () => {
  const before = (await ok(['network', 'ls', '-q'])).stdout;
  await fails(['network', 'create', '-o', 'com.docker.network.bridge.enable_icc=maybe', 'bad1'],
    /failed to parse com\.docker\.network\.bridge\.enable_icc value: maybe \(strconv\.ParseBool: parsing "maybe": invalid syntax\)/);
  await fails(['network', 'create', '-o', 'com.docker.network.driver.mtu=big', 'bad2'],
    /failed to parse com\.docker\.network\.driver\.mtu value: big \(strconv\.Atoi: parsing "big": invalid syntax\)/);
  await fails(['network', 'create', '-o', 'com.docker.network.driver.mtu=-5', 'bad3'], /invalid MTU number: -5/);
  await fails(['network', 'create', '-o', 'com.docker.network.bridge.host_binding_ipv4=1.2.3', 'bad4'],
    /failed to parse com\.docker\.network\.bridge\.host_binding_ipv4 value: 1\.2\.3 \(nil ip\)/);
  await fails(['network', 'create', '-o', 'com.docker.network.bridge.no_such_thing=1', 'bad5'], /com\.docker\.network\.bridge\.no_such_thing/);
  await fails(['network', 'create', '-o', 'com.docker.network.bridge.name=this-name-is-too-long', 'bad6'], /longer than 15 characters/);
  assert.equal((await ok(['network', 'ls', '-q'])).stdout, before, 'no network was created by a refused request');
  // Options outside Docker's namespace are the user's: kept and shown, as Docker does.
  await ok(['network', 'create', '-o', 'org.example.team=blue', 'custom']);
  assert.equal(await inspect('custom', '{{index .Options "org.example.team"}}'), 'blue');
  await ok(['network', 'rm', 'custom']);
});

test('network names as moby allows them: spaces work end to end, a blank name is 400', async () => {
  const id = (await ok(['network', 'create', 'test 01'])).stdout.trim();
  assert.match(id, /^[0-9a-f]{64}$/);
  created.bridges.push(`berth-${id.slice(0, 9)}`);
  assert.equal(await inspect('test 01', '{{.Name}}'), 'test 01');
  const r = await ok(['run', '--rm', '--network', 'test 01', IMG, 'ip', '-4', '-o', 'addr', 'show', 'eth0']);
  assert.match(r.stdout, /inet \d+\.\d+\.\d+\.\d+\//, show(r));
  assert.match((await ok(['network', 'ls', '--format', '{{.Name}}'])).stdout, /^test 01$/m);
  await ok(['network', 'rm', 'test 01']);
  for (const name of ['', ' ', '\t']) {
    const res = await api(d.socket, 'POST', '/networks/create', { Name: name });
    assert.equal(res.status, 400, `${JSON.stringify(name)}: ${res.body}`);
    assert.ok(typeof JSON.parse(res.body).message === 'string', res.body);
  }
});

test('MacAddress: --mac-address, per endpoint at create and connect, shown in inspect; a bad MAC is 400', async () => {
  created.subnets.push('10.231.47.0/24');
  await ok(['network', 'create', '--subnet', '10.231.47.0/24', 'macnet']);
  const mac = '02:42:ac:11:00:99';
  const r = await ok(['run', '--rm', '--mac-address', mac, IMG, 'cat', '/sys/class/net/eth0/address']);
  assert.equal(r.stdout.trim(), mac, 'docker run --mac-address on the default bridge');
  await ok(['run', '-d', '--name', 'macc', '--network', 'macnet', '--mac-address', '02-42-AC-11-00-9A', IMG, 'sleep', '300']);
  assert.equal((await ok(['exec', 'macc', 'cat', '/sys/class/net/eth0/address'])).stdout.trim(), '02:42:ac:11:00:9a');
  assert.equal(await inspect('macc', '{{.NetworkSettings.Networks.macnet.MacAddress}}'), '02:42:ac:11:00:9a');
  // The old container-level field (API < 1.44 clients) still lands on the primary network.
  const c = await api(d.socket, 'POST', '/v1.43/containers/create?name=macold', { Image: IMG, Cmd: ['sleep', '300'], MacAddress: '02:42:ac:11:00:9b', HostConfig: { NetworkMode: 'macnet' } });
  assert.equal(c.status, 201, c.body);
  await ok(['start', 'macold']);
  assert.equal((await ok(['exec', 'macold', 'cat', '/sys/class/net/eth0/address'])).stdout.trim(), '02:42:ac:11:00:9b');
  // Per endpoint on connect (Engine API EndpointConfig.MacAddress).
  await ok(['run', '-d', '--name', 'macx', IMG, 'sleep', '300']);
  const cn = await api(d.socket, 'POST', '/networks/macnet/connect', { Container: 'macx', EndpointConfig: { MacAddress: '02:42:ac:11:00:9c' } });
  assert.equal(cn.status, 200, cn.body);
  assert.equal((await ok(['exec', 'macx', 'cat', '/sys/class/net/eth1/address'])).stdout.trim(), '02:42:ac:11:00:9c');
  for (const bad of ['02:42:ac:11:00', 'zz:42:ac:11:00:9d', '01:00:5e:00:00:01']) {
    const res = await api(d.socket, 'POST', '/containers/create', { Image: IMG, NetworkingConfig: { EndpointsConfig: { macnet: { MacAddress: bad } } }, HostConfig: { NetworkMode: 'macnet' } });
    assert.equal(res.status, 400, `${bad}: ${res.body}`);
    assert.match(JSON.parse(res.body).message, /invalid MAC address/);
  }
  const badConnect = await api(d.socket, 'POST', '/networks/macnet/connect', { Container: 'macold', EndpointConfig: { MacAddress: 'nope' } });
  assert.ok(badConnect.status === 400 || badConnect.status === 403, badConnect.body);
  await ok(['rm', '-f', 'macc', 'macold', 'macx']);
  await ok(['network', 'rm', 'macnet']);
});

test('--link-local-ip: the addresses are on eth0 (v4 /16, v6 /64), shown in inspect, also on connect; bad ones refused', async () => {
  created.subnets.push('10.231.45.0/24');
  await ok(['network', 'create', '--subnet', '10.231.45.0/24', 'llnet']);
  await ok(['run', '-d', '--name', 'llc', '--network', 'llnet', '--link-local-ip', '169.254.10.10', '--link-local-ip', 'fe80::10', IMG, 'sleep', '300']);
  const addrs = (await ok(['exec', 'llc', 'ip', 'addr', 'show', 'eth0'])).stdout;
  assert.match(addrs, /inet 169\.254\.10\.10\/16 /, addrs);
  assert.match(addrs, /inet6 fe80::10\/64 /, addrs);
  assert.equal(await inspect('llc', '{{json .NetworkSettings.Networks.llnet.IPAMConfig.LinkLocalIPs}}'), '["169.254.10.10","fe80::10"]');
  // on the default bridge too (no static address rule for link-local ones), and on connect
  const def = await ok(['run', '--rm', '--link-local-ip', '169.254.10.11', IMG, 'ip', '-4', 'addr', 'show', 'eth0']);
  assert.match(def.stdout, /inet 169\.254\.10\.11\/16 /, def.stdout);
  await ok(['run', '-d', '--name', 'llx', IMG, 'sleep', '300']);
  await ok(['network', 'connect', '--link-local-ip', '169.254.10.12', 'llnet', 'llx']);
  assert.match((await ok(['exec', 'llx', 'ip', '-4', 'addr', 'show', 'eth1'])).stdout, /inet 169\.254\.10\.12\/16 /);
  // not an address: the create fails; an address that is not link-local: the start fails, in moby's words
  await fails(['create', '--link-local-ip', 'nope', IMG], /invalid link-local IP address: nope/);
  await fails(['run', '--name', 'llbad', '--link-local-ip', '10.1.2.3', IMG, 'true'], /invalid link local IP address: 10\.1\.2\.3/);
  await fails(['network', 'connect', '--link-local-ip', '10.1.2.3', 'llnet', 'llbad'], /invalid link local IP address: 10\.1\.2\.3/);
  await ok(['rm', '-f', 'llc', 'llx', 'llbad']);
  await ok(['network', 'rm', 'llnet']);
});

test('--ip6 on a network without IPv6 is refused in moby\'s words, at create and connect, instead of dropped', async () => {
  created.subnets.push('10.231.46.0/24');
  await ok(['network', 'create', '--subnet', '10.231.46.0/24', 'v6less']);
  await fails(['create', '--network', 'v6less', '--ip6', '2001:db8::33', IMG], /no configured subnet or ip-range contain the IP address 2001:db8::33/);
  await fails(['create', '--ip6', '2001:db8::33', IMG], /user specified IP address is supported on user defined networks only/);
  await ok(['create', '--name', 'v6c', IMG, 'true']);
  await fails(['network', 'connect', '--ip6', '2001:db8::34', 'v6less', 'v6c'], /no configured subnet or ip-range contain the IP address 2001:db8::34/);
  assert.equal(await inspect('v6c', '{{len .NetworkSettings.Networks}}'), '1');
  await ok(['rm', '-f', 'v6c']);
  await ok(['network', 'rm', 'v6less']);
});

test('nothing of these networks is left on the host', async () => {
  const ids = (await ok(['ps', '-aq'])).stdout.split('\n').filter(Boolean);
  if (ids.length) await ok(['rm', '-f', ...ids], { timeoutMs: 60_000 });
  await ok(['network', 'prune', '-f']);
  assert.deepEqual(traces(created.bridges, created.subnets), []);
});
