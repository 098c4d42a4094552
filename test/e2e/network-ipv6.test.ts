// Issue 8: dual-stack user networks (`network create --ipv6`) with the REAL docker CLI against a private berthd:
// both IPAM configs in inspect, both addresses in the containers (CNI bridge + host-local with two range sets),
// --ip6 honoured or refused in moby's words, the hosts file and the embedded DNS (AAAA) of IPv6, ping6 between
// two containers, an auto-picked ULA /64 for --ipv6 without a subnet, and nothing left on the host afterwards.
// The default bridge (berth0) and the BERTH-* chains are host-wide: run under the e2e lock.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { api, startDaemon, waitFor, type Daemon } from '../helpers/daemon.js';
import { berth, docker, show, type CliOptions, type CliResult } from '../helpers/cli.js';
import { busyboxTar } from '../helpers/fixtures.js';
import { chainPrefixFor, Iptables } from '../../src/network/iptables.js';

const IMG = 'busybox:net6';
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
const netId = async (net: string) => (await ok(['network', 'inspect', '-f', '{{.Id}}', net])).stdout.trim();

/** Host state naming one of the given bridges or IPv6 subnets' prefixes: addresses, routes, ip6tables rules. */
function traces6(bridges: string[], prefixes: string[]): string[] {
  const out: string[] = [];
  const named = (l: string) => bridges.some((b) => l.includes(` ${b} `) || l.includes(` ${b}:`) || l.endsWith(` ${b}`)) || prefixes.some((p) => l.includes(p));
  for (const l of sh('ip', ['-o', 'link']).split('\n').filter(Boolean)) if (named(l)) out.push(`link ${l}`);
  for (const l of sh('ip', ['-6', '-o', 'addr']).split('\n').filter(Boolean)) if (named(l)) out.push(`addr ${l}`);
  for (const l of sh('ip', ['-6', 'route']).split('\n').filter(Boolean)) if (named(l)) out.push(`route ${l}`);
  for (const l of sh('ip6tables-save', []).split('\n')) if (named(l)) out.push(`rule ${l}`);
  return out;
}

const created = { bridges: [] as string[], prefixes: ['fd00:b8:60:', 'fd00:b8:61:', 'fd00:b8:62:'] };

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
  if (leftovers.length) console.error(`network-ipv6: swept leftovers: ${leftovers.join(', ')}`);
});

test('network create --ipv6 with a v4 and a v6 subnet (gateways, v6 ip-range): inspect shows both configs and EnableIPv6', async () => {
  await ok(['network', 'create', '--ipv6', '--subnet', '10.232.60.0/24', '--gateway', '10.232.60.254',
    '--subnet', 'fd00:b8:60::/64', '--gateway', 'fd00:b8:60::fe', '--ip-range', 'fd00:b8:60::100/120', 'n6']);
  created.bridges.push(`berth-${(await netId('n6')).slice(0, 9)}`);
  assert.equal((await ok(['network', 'inspect', '-f', '{{.EnableIPv6}}', 'n6'])).stdout.trim(), 'true');
  assert.deepEqual(JSON.parse((await ok(['network', 'inspect', '-f', '{{json .IPAM.Config}}', 'n6'])).stdout), [
    { Subnet: '10.232.60.0/24', Gateway: '10.232.60.254' },
    { Subnet: 'fd00:b8:60::/64', Gateway: 'fd00:b8:60::fe', IPRange: 'fd00:b8:60::100/120' },
  ]);
  assert.match((await ok(['network', 'ls', '--filter', 'name=n6', '--format', '{{.Name}} {{.IPv6}}'])).stdout, /^n6 true$/m);
  // the bridge carries the v6 gateway, usable at once (not tentative)
  const br = (await ok(['network', 'inspect', '-f', '{{.Id}}', 'n6'])).stdout.trim().slice(0, 9);
  const gw = sh('ip', ['-6', '-o', 'addr', 'show', 'dev', `berth-${br}`]).split('\n').filter((l) => l.includes('fd00:b8:60::fe/64'));
  assert.equal(gw.length, 1, gw.join('\n'));
  assert.doesNotMatch(gw[0]!, /tentative/, gw[0]);
});

test('containers get both addresses: inspect (GlobalIPv6Address, IPv6Gateway, prefix), eth0, hosts, --ip6 honoured', async () => {
  await ok(['run', '-d', '--name', 'c6a', '--network', 'n6', IMG, 'sleep', '300']);
  await ok(['run', '-d', '--name', 'c6b', '--network', 'n6', '--ip6', 'fd00:b8:60::33', '--ip', '10.232.60.33', IMG, 'sleep', '300']);
  const a6 = await inspect('c6a', '{{.NetworkSettings.Networks.n6.GlobalIPv6Address}}');
  assert.match(a6, /^fd00:b8:60::1[0-9a-f]{2}$/, 'from the ip-range'); // fd00:b8:60::100/120
  assert.equal(await inspect('c6a', '{{.NetworkSettings.Networks.n6.IPv6Gateway}} {{.NetworkSettings.Networks.n6.GlobalIPv6PrefixLen}}'), 'fd00:b8:60::fe 64');
  assert.equal(await inspect('c6a', '{{.NetworkSettings.Networks.n6.Gateway}}'), '10.232.60.254');
  assert.equal(await inspect('c6b', '{{.NetworkSettings.Networks.n6.GlobalIPv6Address}} {{.NetworkSettings.Networks.n6.IPAddress}}'), 'fd00:b8:60::33 10.232.60.33');
  assert.equal(await inspect('c6b', '{{json .NetworkSettings.Networks.n6.IPAMConfig}}'), '{"IPv4Address":"10.232.60.33","IPv6Address":"fd00:b8:60::33"}');
  const eth0 = (await ok(['exec', 'c6b', 'ip', '-6', 'addr', 'show', 'eth0'])).stdout;
  assert.match(eth0, /inet6 fd00:b8:60::33\/64 scope global/, eth0);
  const route = (await ok(['exec', 'c6b', 'ip', '-6', 'route'])).stdout;
  assert.match(route, /default via fd00:b8:60::fe dev eth0/, route);
  const hosts = (await ok(['exec', 'c6b', 'cat', '/etc/hosts'])).stdout;
  const host = (await inspect('c6b', '{{.Config.Hostname}}'));
  assert.match(hosts, new RegExp(`^10\\.232\\.60\\.33\\t${host}$`, 'm'), hosts);
  assert.match(hosts, new RegExp(`^fd00:b8:60::33\\t${host}$`, 'm'), hosts);
  // network inspect lists the endpoint's IPv6 address
  const eps = JSON.parse((await ok(['network', 'inspect', '-f', '{{json .Containers}}', 'n6'])).stdout) as Record<string, { Name: string; IPv6Address: string }>;
  assert.equal(Object.values(eps).find((e) => e.Name === 'c6b')?.IPv6Address, 'fd00:b8:60::33/64');
});

test('IPv6 between two containers: ping6 by address, AAAA from the embedded DNS, ping6 by name', async () => {
  const a6 = await inspect('c6a', '{{.NetworkSettings.Networks.n6.GlobalIPv6Address}}');
  await ok(['exec', 'c6b', 'ping6', '-c1', '-W5', a6]);
  const ns = (await ok(['exec', 'c6b', 'nslookup', '-type=aaaa', 'c6a'])).stdout;
  assert.ok(ns.includes(a6), ns);
  const ns4 = (await ok(['exec', 'c6b', 'nslookup', '-type=a', 'c6a'])).stdout;
  assert.ok(ns4.includes(await inspect('c6a', '{{.NetworkSettings.Networks.n6.IPAddress}}')), ns4);
  assert.ok(!ns4.includes(a6), ns4);
  const p = (await ok(['exec', 'c6a', 'ping6', '-c1', '-W5', 'c6b'])).stdout;
  assert.match(p, /fd00:b8:60::33/, p);
});

test('ip6tables: no IPv6 between two networks, enable_icc=false closes IPv6 inside one, outbound IPv6 is masqueraded unless disabled', async () => {
  const a6 = await inspect('c6a', '{{.NetworkSettings.Networks.n6.GlobalIPv6Address}}');
  await ok(['network', 'create', '--ipv6', '--subnet', '10.232.62.0/24', '--subnet', 'fd00:b8:62::/64',
    '-o', 'com.docker.network.bridge.enable_icc=false', '-o', 'com.docker.network.bridge.enable_ip_masquerade=false', 'n6closed']);
  const closedBr = `berth-${(await netId('n6closed')).slice(0, 9)}`;
  created.bridges.push(closedBr);
  await ok(['run', '-d', '--name', 'c6c', '--network', 'n6closed', '--ip6', 'fd00:b8:62::10', IMG, 'sleep', '300']);
  await ok(['run', '-d', '--name', 'c6d', '--network', 'n6closed', '--ip6', 'fd00:b8:62::11', IMG, 'sleep', '300']);
  // the host routes IPv6 between bridges (the CNI plugin enabled forwarding): only the rules keep networks apart
  assert.notEqual((await dk(['exec', 'c6c', 'ping6', '-c1', '-W2', a6])).code, 0, 'n6closed reached n6 over IPv6');
  assert.notEqual((await dk(['exec', 'c6a', 'ping6', '-c1', '-W2', 'fd00:b8:62::10'])).code, 0, 'n6 reached n6closed over IPv6');
  assert.notEqual((await dk(['exec', 'c6c', 'ping6', '-c1', '-W2', 'fd00:b8:62::11'])).code, 0, 'icc=false let IPv6 through');
  assert.notEqual((await dk(['exec', 'c6c', 'ping', '-c1', '-W2', await inspect('c6d', '{{.NetworkSettings.Networks.n6closed.IPAddress}}')])).code, 0);
  // on the open network both families flow (checked above for IPv6); the gateway answers on both
  await ok(['exec', 'c6c', 'ping6', '-c1', '-W5', 'fd00:b8:62::1']);
  const nat = sh('ip6tables-save', ['-t', 'nat']);
  assert.match(nat, /-s fd00:b8:60::\/64 ! -o berth-\S+ -j MASQUERADE/, nat);
  assert.doesNotMatch(nat, /-s fd00:b8:62::\/64 ! -o \S+ -j MASQUERADE/, nat);
  await ok(['rm', '-f', 'c6c', 'c6d']);
  await ok(['network', 'rm', 'n6closed']);
  assert.doesNotMatch(sh('ip6tables-save', []), new RegExp(closedBr));
});

function hostAddress6(): string | undefined {
  for (const l of sh('ip', ['-6', '-o', 'addr', 'show', 'scope', 'global']).split('\n')) {
    const m = /^\d+:\s+(\S+)\s+inet6\s+([0-9a-f:]+)\//.exec(l);
    if (m && !m[1]!.startsWith('berth') && !m[1]!.startsWith('br-') && !/tentative|dadfailed/.test(l)) return m[2]!;
  }
  return undefined;
}

test('-p on a dual-stack network publishes on IPv6 too: [host v6]:port reaches the container, inspect and ps show [::]', async () => {
  const h6 = hostAddress6();
  await ok(['run', '-d', '--name', 'c6web', '--network', 'n6', '-p', '18476:80', IMG, 'sh', '-c', 'mkdir /www; echo six > /www/index.html; exec httpd -f -p 80 -h /www']);
  assert.deepEqual(JSON.parse(await inspect('c6web', '{{json .NetworkSettings.Ports}}')), { '80/tcp': [{ HostIp: '0.0.0.0', HostPort: '18476' }, { HostIp: '::', HostPort: '18476' }] });
  assert.match((await ok(['ps', '--filter', 'name=c6web', '--format', '{{.Ports}}'])).stdout, /0\.0\.0\.0:18476->80\/tcp, \[::\]:18476->80\/tcp/);
  const nat = sh('ip6tables-save', ['-t', 'nat']);
  const ip6 = await inspect('c6web', '{{.NetworkSettings.Networks.n6.GlobalIPv6Address}}');
  assert.ok(nat.includes(`--dport 18476 -j DNAT --to-destination [${ip6}]:80`), nat);
  if (h6) {
    let body = '';
    for (let i = 0; i < 40 && !body; i++) {
      body = await fetch(`http://[${h6}]:18476/`, { signal: AbortSignal.timeout(2000) }).then((r) => r.text()).catch(() => '');
      if (!body) await new Promise((r) => setTimeout(r, 250));
    }
    assert.equal(body.trim(), 'six', `http://[${h6}]:18476/ from the host`);
  }
  await ok(['rm', '-f', 'c6web']);
  await waitFor(() => !sh('ip6tables-save', ['-t', 'nat']).includes('--dport 18476 '), 10_000);
  assert.ok(!sh('ip6tables-save', ['-t', 'nat']).includes('--dport 18476 '), 'the DNAT rule goes with the container');
});

test('--ip6 refused in moby\'s words: outside the subnet, taken, and on connect; connect --ip6 to a running container works', async () => {
  await fails(['create', '--network', 'n6', '--ip6', 'fd00:b8:99::5', IMG], /no configured subnet or ip-range contain the IP address fd00:b8:99::5/);
  await fails(['create', '--network', 'n6', '--ip6', 'bogus', IMG], /invalid IPv6 address|bogus/);
  await fails(['run', '--name', 'c6dup', '--network', 'n6', '--ip6', 'fd00:b8:60::33', IMG, 'true'], /Address already in use/);
  await ok(['rm', '-f', 'c6dup']);
  await ok(['run', '-d', '--name', 'c6x', IMG, 'sleep', '300']);
  await ok(['network', 'connect', '--ip6', 'fd00:b8:60::44', 'n6', 'c6x']);
  const eth1 = (await ok(['exec', 'c6x', 'ip', '-6', 'addr', 'show', 'eth1'])).stdout;
  assert.match(eth1, /inet6 fd00:b8:60::44\/64 scope global/, eth1);
  assert.equal(await inspect('c6x', '{{.NetworkSettings.Networks.n6.GlobalIPv6Address}}'), 'fd00:b8:60::44');
  await ok(['exec', 'c6x', 'ping6', '-c1', '-W5', 'fd00:b8:60::33']);
  await ok(['network', 'disconnect', 'n6', 'c6x']);
  await ok(['rm', '-f', 'c6x']);
});

test('--ipv6 without a v6 subnet: a /64 of the instance\'s ULA /48, as Docker 27; the container gets an address in it', async () => {
  await ok(['network', 'create', '--ipv6', '--subnet', '10.232.61.0/24', 'n6auto']);
  created.bridges.push(`berth-${(await netId('n6auto')).slice(0, 9)}`);
  const cfg = JSON.parse((await ok(['network', 'inspect', '-f', '{{json .IPAM.Config}}', 'n6auto'])).stdout) as Array<{ Subnet: string; Gateway: string }>;
  assert.equal(cfg.length, 2);
  assert.match(cfg[1]!.Subnet, /^fd[0-9a-f]{2}:[0-9a-f]{1,4}:[0-9a-f]{1,4}::\/64$/, JSON.stringify(cfg));
  assert.equal(cfg[1]!.Gateway, `${cfg[1]!.Subnet.split('/')[0]}1`);
  created.prefixes.push(cfg[1]!.Subnet.replace(/::\/64$/, ':'));
  // a second one gets the next /64, not the same
  await ok(['network', 'create', '--ipv6', 'n6auto2']);
  created.bridges.push(`berth-${(await netId('n6auto2')).slice(0, 9)}`);
  const cfg2 = JSON.parse((await ok(['network', 'inspect', '-f', '{{json .IPAM.Config}}', 'n6auto2'])).stdout) as Array<{ Subnet: string }>;
  assert.notEqual(cfg2[1]!.Subnet, cfg[1]!.Subnet);
  created.prefixes.push(cfg2[1]!.Subnet.replace(/::\/64$/, ':'));
  const out = (await ok(['run', '--rm', '--network', 'n6auto', IMG, 'ip', '-6', 'addr', 'show', 'eth0'])).stdout;
  assert.match(out, new RegExp(`inet6 ${cfg[1]!.Subnet.split('/')[0]}2/64`), out);
  await ok(['network', 'rm', 'n6auto', 'n6auto2']);
});

test('refused instead of ignored: a v6 subnet without --ipv6, --ipv4=false, an overlapping v6 subnet, two v6 subnets', async () => {
  await fails(['network', 'create', '--subnet', 'fd00:b8:62::/64', 'n6bad'], /IPv6 subnet fd00:b8:62::\/64 given but IPv6 is not enabled/);
  await fails(['network', 'create', '--ipv6', '--ipv4=false', '--subnet', 'fd00:b8:62::/64', 'n6bad'], /IPv6-only networks .* not supported/);
  await fails(['network', 'create', '--ipv6', '--subnet', 'fd00:b8:60:0:1::/80', 'n6bad'], /Pool overlaps with other one on this address space/);
  await fails(['network', 'create', '--ipv6', '--subnet', 'fd00:b8:62::/64', '--subnet', 'fd00:b8:63::/64', 'n6bad'], /one IPv6 subnet per network/);
  await fails(['network', 'create', '--ipv6', '--subnet', 'fd00:b8:62::/64', '--gateway', 'fd00:b8:63::1', 'n6bad'], /no matching subnet for gateway fd00:b8:63::1/);
  await fails(['network', 'create', '--ipv6', '-o', 'com.docker.network.driver.mtu=1200', 'n6bad'], /invalid MTU number: 1200 \(an IPv6 network needs at least 1280\)/);
  const r = await api(d.socket, 'POST', '/networks/create', { Name: 'n6bad', EnableIPv6: true, IPAM: { Config: [{ Subnet: 'fd00:b8:62::/127' }] } });
  assert.equal(r.status, 400, r.body);
  assert.match(JSON.parse(r.body).message, /too small/);
  assert.equal((await dk(['network', 'inspect', 'n6bad'])).code, 1);
});

test('--aux-address of both families is never handed out and shows in inspect; other drivers\' and swarm fields are refused', async () => {
  await ok(['network', 'create', '--ipv6', '--subnet', '10.232.63.0/29', '--aux-address', 'h4=10.232.63.2',
    '--subnet', 'fd00:b8:63::/64', '--ip-range', 'fd00:b8:63::/126', '--aux-address', 'h6=fd00:b8:63::2', 'n6aux']);
  created.bridges.push(`berth-${(await netId('n6aux')).slice(0, 9)}`);
  created.prefixes.push('fd00:b8:63:');
  const cfg = JSON.parse((await ok(['network', 'inspect', '-f', '{{json .IPAM.Config}}', 'n6aux'])).stdout) as Array<{ AuxiliaryAddresses?: Record<string, string> }>;
  assert.deepEqual(cfg.map((c) => c.AuxiliaryAddresses), [{ h4: '10.232.63.2' }, { h6: 'fd00:b8:63::2' }]);
  await ok(['run', '-d', '--name', 'c6aux', '--network', 'n6aux', IMG, 'sleep', '300']);
  // the range fd00:b8:63::/126 holds ::1 (gateway), ::2 (aux), ::3; the /29 holds .1 (gateway), .2 (aux), .3-.6
  assert.equal(await inspect('c6aux', '{{.NetworkSettings.Networks.n6aux.IPAddress}} {{.NetworkSettings.Networks.n6aux.GlobalIPv6Address}}'), '10.232.63.3 fd00:b8:63::3');
  await fails(['run', '--rm', '--network', 'n6aux', '--ip6', 'fd00:b8:63::2', IMG, 'true'], /Address already in use/);
  // a daemon restart keeps the reservation (reconcile does not take it for an orphan lease)
  await ok(['rm', '-f', 'c6aux']);
  await d.restart();
  await ok(['run', '--rm', '--network', 'n6aux', IMG, 'true']);
  // live restore: the running dual-stack containers keep their IPv6 endpoint, names and rules
  assert.equal(await inspect('c6b', '{{.NetworkSettings.Networks.n6.GlobalIPv6Address}}'), 'fd00:b8:60::33');
  assert.ok((await ok(['exec', 'c6a', 'nslookup', '-type=aaaa', 'c6b'])).stdout.includes('fd00:b8:60::33'));
  await ok(['exec', 'c6a', 'ping6', '-c1', '-W5', 'c6b']);
  assert.match(sh('ip6tables-save', ['-t', 'nat']), /-s fd00:b8:60::\/64 ! -o berth-\S+ -j MASQUERADE/);
  assert.ok(fs.existsSync(path.join(d.dataRoot, 'networks', 'ipam', await netId('n6aux'), 'fd00:b8:63::2')));
  await ok(['network', 'rm', 'n6aux']);
  await fails(['network', 'create', '--ipam-driver', 'foo', 'n6bad'], /plugin "foo" not found/);
  await fails(['network', 'create', '--ipam-opt', 'a=b', 'n6bad'], /IPAM driver options are not supported/);
  await fails(['network', 'create', '--scope', 'swarm', 'n6bad'], /network scope swarm is not supported/);
  await fails(['network', 'create', '--ingress', 'n6bad'], /ingress networks need a swarm/);
  await fails(['network', 'create', '--config-only', 'n6bad'], /config-only networks/);
  assert.equal((await dk(['network', 'inspect', 'n6bad'])).code, 1);
});

test('daemon.json: IPv6 default-address-pools feed --ipv6 networks; ipv6/fixed-cidr-v6 for the default bridge are refused at start', async () => {
  const dir = fs.mkdtempSync('/tmp/bt6-');
  const conf = path.join(dir, 'daemon.json');
  fs.writeFileSync(conf, JSON.stringify({ 'default-address-pools': [{ base: '10.233.0.0/16', size: 24 }, { base: 'fd00:b8:70::/56', size: 64 }], ip6tables: true, ipv6: false }));
  const d2 = await startDaemon({ args: ['-b', 'none', '--config-file', conf] });
  try {
    const c = (args: string[]) => docker(d2.env, args, { timeoutMs: 30_000 });
    assert.equal((await c(['network', 'create', '--ipv6', 'p6a'])).code, 0);
    assert.equal((await c(['network', 'create', '--ipv6', 'p6b'])).code, 0);
    const subnets = (await c(['network', 'inspect', '-f', '{{range .IPAM.Config}}{{.Subnet}} {{end}}', 'p6a', 'p6b'])).stdout.trim().split('\n').map((l) => l.trim());
    assert.deepEqual(subnets, ['10.233.0.0/24 fd00:b8:70::/64', '10.233.1.0/24 fd00:b8:70:1::/64']);
    created.prefixes.push('fd00:b8:70:');
    assert.equal((await c(['network', 'rm', 'p6a', 'p6b'])).code, 0);
  } finally {
    await d2.cleanup();
    await Iptables.v6(chainPrefixFor('none')).removeAll(); // its chains: only this test gave a -b none daemon IPv6
  }
  for (const bad of [{ ipv6: true }, { 'fixed-cidr-v6': 'fd00:b8:71::/64' }, { 'default-address-pools': [{ base: 'fd00:b8:70::', size: 64 }] }]) {
    fs.writeFileSync(conf, JSON.stringify(bad));
    await assert.rejects(startDaemon({ args: ['-b', 'none', '--config-file', conf] }), /the default bridge network has no IPv6 in berth|invalid base pool/, JSON.stringify(bad));
  }
  fs.rmSync(dir, { recursive: true, force: true });
});

test('bin/berth: network create --ipv6 with both subnets, ls shows IPv6, run --ip6', async () => {
  const b = async (args: string[]) => { const r = await berth(d.env, args, { timeoutMs: 30_000 }); assert.equal(r.code, 0, `berth ${args.join(' ')}: ${show(r)}`); return r; };
  await b(['network', 'create', '--ipv6', '--subnet', '10.232.64.0/24', '--subnet', 'fd00:b8:64::/64', '--gateway', 'fd00:b8:64::1', 'bn6']);
  created.bridges.push(`berth-${(await netId('bn6')).slice(0, 9)}`);
  created.prefixes.push('fd00:b8:64:');
  assert.match((await b(['network', 'ls', '--filter', 'name=bn6', '--format', '{{.Name}} {{.IPv6}}'])).stdout, /^bn6 true$/m);
  const out = (await b(['run', '--rm', '--network', 'bn6', '--ip6', 'fd00:b8:64::9', IMG, 'ip', '-6', 'addr', 'show', 'eth0'])).stdout;
  assert.match(out, /inet6 fd00:b8:64::9\/64 scope global/, out);
  await b(['network', 'rm', 'bn6']);
});

test('teardown leaves nothing: no v6 address, route, lease or ip6tables rule of these networks', async () => {
  const id = await netId('n6');
  await ok(['rm', '-f', 'c6a', 'c6b']);
  // rm answers before the endpoint is released (the CNI DEL is queued behind it)
  const leases = () => fs.readdirSync(path.join(d.dataRoot, 'networks', 'ipam', id)).filter((f) => f.includes(':') || /^\d/.test(f));
  await waitFor(() => leases().length === 0, 10_000);
  assert.deepEqual(leases(), [], 'host-local leases of both families are released');
  await ok(['network', 'rm', 'n6']);
  assert.ok(!fs.existsSync(path.join(d.dataRoot, 'networks', 'ipam', id)));
  assert.deepEqual(traces6(created.bridges, created.prefixes), []);
});
