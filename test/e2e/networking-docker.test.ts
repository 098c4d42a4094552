// Issue 4's acceptance tests with the REAL docker CLI (and the key ones with bin/berth) against a private berthd:
// -p / -P / docker port, user networks with DNS names and aliases, network connect/disconnect, host / none /
// container: modes, Docker's errors for bad input, and nothing of berth's left on the host afterwards.
// The default bridge (berth0) and the BERTH-* iptables chains are host-wide: run no other berthd meanwhile.
// Traffic goes only to loopback, the host's own address and berth's bridges. busybox's wget (and everything
// else that resolves through static glibc) is unusable here, so names are checked with busybox nslookup
// (its own resolver) and reachability with nc to the resolved address.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { mountsUnder, startDaemon, waitFor, type Daemon } from '../helpers/daemon.js';
import { berth, docker, show, type CliOptions, type CliResult } from '../helpers/cli.js';
import { busyboxTar } from '../helpers/fixtures.js';

const IMG = 'busybox:net';
const WEB_IMG = 'busybox:web'; // EXPOSE 80 and an httpd CMD
const HTTPD = (port: number, body: string) => ['sh', '-c', `mkdir /www; echo ${body} > /www/index.html; exec httpd -f -p ${port} -h /www`];
const SUBNET = '10.231.7.0/24';
let d: Daemon;
let hostAddr: string;
let baseline: string[] = [];
const dk = (args: string[], opts?: CliOptions) => docker(d.env, args, { timeoutMs: 30_000, ...opts });
const bk = (args: string[], opts?: CliOptions) => berth(d.env, args, { timeoutMs: 30_000, ...opts });

async function ok(args: string[], opts?: CliOptions): Promise<CliResult> {
  const r = await dk(args, opts);
  assert.equal(r.code, 0, `docker ${args.join(' ')} failed: ${show(r)}`);
  return r;
}
async function bok(args: string[], opts?: CliOptions): Promise<CliResult> {
  const r = await bk(args, opts);
  assert.equal(r.code, 0, `berth ${args.join(' ')} failed: ${show(r)}`);
  return r;
}
const inspect = async (name: string, fmt: string) => (await ok(['inspect', '-f', fmt, name])).stdout.trim();
const sh = (cmd: string, args: string[]) => execFileSync(cmd, args, { encoding: 'utf8' });

/** The host's first global IPv4 address that is not on a berth bridge (`ip -4 -o addr show scope global`). */
function findHostAddress(): string {
  for (const l of sh('ip', ['-4', '-o', 'addr', 'show', 'scope', 'global']).split('\n')) {
    const m = /^\d+:\s+(\S+)\s+inet\s+([\d.]+)\//.exec(l);
    if (m && !m[1]!.startsWith('berth')) return m[2]!;
  }
  throw new Error('the host has no global IPv4 address');
}

/** GET http://host:port/ with node's fetch, retried until it answers (httpd may still be starting). */
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

/** busybox nslookup NAME inside a container → the addresses of the answer (after the "Name:" line). */
function nslookupAddrs(out: string): string[] {
  const i = out.search(/^Name:/m);
  return i < 0 ? [] : [...out.slice(i).matchAll(/^Address(?: \d+)?:\s+([\d.]+)/gm)].map((m) => m[1]!);
}

const HTTP_GET = (ip: string, port: number) => `printf 'GET / HTTP/1.0\\r\\n\\r\\n' | nc -w 3 ${ip} ${port}`;

/** Interface names in a `cat /proc/net/dev`. */
const netDevNames = (text: string) => text.split('\n').slice(2).map((l) => l.split(':')[0]!.trim()).filter(Boolean).sort();

/**
 * Everything of berth's on the host beyond what may stay once every container and user network is gone. Allowed:
 * the default bridge berth0 itself; the BERTH-* chains (nat BERTH-PREROUTING/OUTPUT/POSTROUTING/DNAT, filter
 * BERTH-FORWARD, raw BERTH-RAW) and the jumps into them from the built-in chains; inside them only rules about
 * berth0, its subnet, the berth+ wildcard or loopback. Not allowed: any other berth* link, any veth enslaved to a
 * berth bridge, any /run/netns entry or netns bind mount of this daemon, any DNAT (published port) or BERTH-RAW
 * rule, any rule naming another interface or subnet.
 */
function berthLeftovers(bridgeSubnet: string, daemon?: Daemon): string[] {
  const out: string[] = [];
  for (const l of sh('ip', ['-o', 'link']).split('\n').filter(Boolean)) {
    const name = l.split(':')[1]!.trim().split('@')[0]!;
    if (name.startsWith('berth') && name !== 'berth0') out.push(`link ${name}`);
    else if (/ master berth/.test(l)) out.push(`link ${name} (enslaved to ${/ master (\S+)/.exec(l)![1]})`);
  }
  for (const ns of sh('ip', ['netns', 'list']).split('\n').filter(Boolean)) {
    if (/berth|^[0-9a-f]{64}\b/.test(ns)) out.push(`netns ${ns}`);
  }
  if (daemon) {
    for (const m of mountsUnder(daemon.dir).filter((x) => x.includes('netns'))) out.push(`netns mount ${m}`);
    const dir = path.join(daemon.execRoot, 'netns');
    if (fs.existsSync(dir)) for (const f of fs.readdirSync(dir)) out.push(`netns file ${path.join(dir, f)}`);
  }
  const base = new Set(['BERTH-PREROUTING', 'BERTH-OUTPUT', 'BERTH-POSTROUTING', 'BERTH-DNAT', 'BERTH-FORWARD', 'BERTH-RAW']);
  let table = '';
  for (const l of sh('iptables-save', []).split('\n')) {
    if (l.startsWith('*')) { table = l.slice(1); continue; }
    if (!/berth/i.test(l)) continue;
    const decl = /^:(\S+) /.exec(l);
    if (decl) { if (!base.has(decl[1]!)) out.push(`${table}: chain ${decl[1]}`); continue; }
    if (/^-A (PREROUTING|OUTPUT|POSTROUTING|FORWARD) .*-j (BERTH-\S+)$/.test(l) && base.has(/-j (\S+)$/.exec(l)![1]!)) continue;
    const ifaces = [...l.matchAll(/-[io] (\S+)/g)].map((m) => m[1]!);
    const addrs = [...l.matchAll(/(\d+\.\d+\.\d+\.\d+(?:\/\d+)?)/g)].map((m) => m[1]!);
    const bad = /DNAT --to|^-A BERTH-RAW /.test(l) || ifaces.some((i) => i !== 'berth0' && i !== 'berth+')
      || addrs.some((a) => a !== bridgeSubnet && a !== '127.0.0.0/8') || !/^-A BERTH-/.test(l);
    if (bad) out.push(`${table}: ${l}`);
  }
  return out;
}

let bridgeSubnet = '';

before(async () => {
  hostAddr = findHostAddress();
  d = await startDaemon();
  bridgeSubnet = (await ok(['network', 'inspect', '-f', '{{(index .IPAM.Config 0).Subnet}}', 'bridge'])).stdout.trim();
  baseline = berthLeftovers(bridgeSubnet);
  const tar = await busyboxTar();
  await ok(['import', '--change', 'CMD ["sh"]', tar, IMG], { timeoutMs: 60_000 });
  await ok(['import', '--change', 'EXPOSE 80', '--change', `CMD ${JSON.stringify(HTTPD(80, 'exposed'))}`, tar, WEB_IMG], { timeoutMs: 60_000 });
});

after(async () => {
  if (!d) return;
  // Daemon.cleanup() removes containers only; a user network's bridge would outlive the temp data root.
  const ids = (await dk(['ps', '-aq'])).stdout.split('\n').filter(Boolean);
  if (ids.length) await dk(['rm', '-f', ...ids], { timeoutMs: 60_000 });
  await dk(['network', 'prune', '-f']);
  const leftovers = await d.cleanup();
  if (leftovers.length) console.error(`networking-docker: swept leftovers: ${leftovers.join(', ')}`);
});

test('-p 18080:80 answers on 127.0.0.1, on the host\'s address and from another container (hairpin)', async () => {
  await ok(['run', '-d', '--name', 'web', '-p', '18080:80', IMG, ...HTTPD(80, 'hi')]);
  assert.equal(await httpGet('127.0.0.1', 18080), 'hi\n');
  assert.equal(await httpGet(hostAddr, 18080), 'hi\n', `via the host's address ${hostAddr}`);
  const hp = await ok(['run', '--rm', IMG, 'sh', '-c', HTTP_GET(hostAddr, 18080)]);
  assert.match(hp.stdout, /^HTTP\/1\.[01] 200/, `hairpin from a container to ${hostAddr}:18080: ${show(hp)}`);
  assert.match(hp.stdout, /\r\n\r\nhi\n$/, show(hp));

  const port = await ok(['port', 'web']);
  assert.match(port.stdout, /^80\/tcp -> 0\.0\.0\.0:18080$/m, show(port));
  assert.equal((await ok(['port', 'web', '80'])).stdout.split('\n')[0], '0.0.0.0:18080');
  const ps = await ok(['ps', '--filter', 'name=web', '--format', '{{.Ports}}']);
  assert.match(ps.stdout, /0\.0\.0\.0:18080->80\/tcp/, show(ps));
  const ports = JSON.parse(await inspect('web', '{{json .NetworkSettings.Ports}}')) as Record<string, Array<{ HostIp: string; HostPort: string }>>;
  assert.deepEqual(ports['80/tcp']?.find((b) => b.HostIp === '0.0.0.0'), { HostIp: '0.0.0.0', HostPort: '18080' });
  const ip = await inspect('web', '{{.NetworkSettings.IPAddress}}');
  assert.match(ip, /^\d+\.\d+\.\d+\.\d+$/, 'a container on the default bridge has an IP in inspect');
  assert.match(await inspect('web', '{{.NetworkSettings.Gateway}} {{.NetworkSettings.MacAddress}}'), /^\d+\.\d+\.\d+\.\d+ ([0-9a-f]{2}:){5}[0-9a-f]{2}$/);
});

test('a port already allocated: run fails with docker\'s message and the container stays Created', async () => {
  const r = await dk(['run', '-d', '--name', 'web2', '-p', '18080:80', IMG, 'sleep', '1000']);
  assert.notEqual(r.code, 0, show(r));
  assert.match(r.stderr, /port is already allocated/, show(r));
  assert.equal(await inspect('web2', '{{.State.Status}}'), 'created');
  assert.equal(await httpGet('127.0.0.1', 18080), 'hi\n', 'the first container keeps its port');
  await ok(['rm', 'web2']);
  const bad = await dk(['run', '-d', '-p', '99999:80', IMG, 'true']);
  assert.notEqual(bad.code, 0, show(bad));
  assert.match(bad.stderr, /invalid/i, show(bad));
});

test('-P publishes the image\'s EXPOSEd port on an ephemeral host port; docker port shows it', async () => {
  await ok(['run', '-d', '--name', 'pweb', '-P', WEB_IMG]);
  const p = await ok(['port', 'pweb', '80/tcp']);
  const m = /^0\.0\.0\.0:(\d+)$/m.exec(p.stdout);
  assert.ok(m, show(p));
  const hostPort = Number(m[1]);
  const [lo, hi] = fs.readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/).map(Number);
  assert.ok(hostPort >= lo! && hostPort <= hi!, `${hostPort} outside the ephemeral range ${lo}-${hi}`);
  assert.equal(await httpGet('127.0.0.1', hostPort), 'exposed\n');
  await ok(['rm', '-f', 'pweb']);
});

test('two containers on a user network reach each other by name and by alias', async () => {
  const c = await ok(['network', 'create', '--subnet', SUBNET, 'appnet']);
  assert.match(c.stdout.trim(), /^[0-9a-f]{64}$/, show(c));
  await ok(['run', '-d', '--name', 'db', '--network', 'appnet', '--network-alias', 'database', IMG, ...HTTPD(8080, 'db')]);
  await ok(['run', '-d', '--name', 'app', '--network', 'appnet', IMG, 'sleep', '1000']);
  const dbIp = await inspect('db', '{{.NetworkSettings.Networks.appnet.IPAddress}}');
  const appIp = await inspect('app', '{{.NetworkSettings.Networks.appnet.IPAddress}}');
  assert.match(dbIp, /^10\.231\.7\.\d+$/);
  assert.match(appIp, /^10\.231\.7\.\d+$/);
  for (const name of ['db', 'database', (await inspect('db', '{{.Id}}')).slice(0, 12)]) {
    const r = await ok(['exec', 'app', 'nslookup', name]);
    assert.deepEqual(nslookupAddrs(r.stdout), [dbIp], `nslookup ${name}: ${show(r)}`);
  }
  const back = await ok(['exec', 'db', 'nslookup', 'app']);
  assert.deepEqual(nslookupAddrs(back.stdout), [appIp], show(back));
  const miss = await dk(['exec', 'app', 'nslookup', 'nosuchcontainer']);
  assert.deepEqual(nslookupAddrs(miss.stdout), [], show(miss));
  const get = await ok(['exec', 'app', 'sh', '-c', HTTP_GET(dbIp, 8080)]);
  assert.match(get.stdout, /\r\n\r\ndb\n$/, show(get));
  const once = await ok(['run', '--rm', '--network', 'appnet', IMG, 'sh', '-c', `ping -c1 -W2 ${dbIp} >/dev/null && nslookup database`]);
  assert.deepEqual(nslookupAddrs(once.stdout), [dbIp], show(once));
  const ins = JSON.parse((await ok(['network', 'inspect', 'appnet'])).stdout) as Array<{ Containers: Record<string, { Name: string }> }>;
  assert.deepEqual(Object.values(ins[0]!.Containers).map((x) => x.Name).sort(), ['app', 'db']);
});

test('network connect gives a running container a second interface; disconnect removes it', async () => {
  await ok(['run', '-d', '--name', 'other', IMG, 'sleep', '1000']);
  const links = async () => (await ok(['exec', 'other', 'ip', '-o', 'link'])).stdout.split('\n').filter(Boolean)
    .map((l) => l.split(':')[1]!.trim().split('@')[0]!).sort();
  assert.deepEqual(await links(), ['eth0', 'lo']);
  await ok(['network', 'connect', '--alias', 'oth', 'appnet', 'other']);
  assert.deepEqual(await links(), ['eth0', 'eth1', 'lo']);
  const ip = await inspect('other', '{{.NetworkSettings.Networks.appnet.IPAddress}}');
  assert.match(ip, /^10\.231\.7\.\d+$/);
  const ns = await ok(['exec', 'app', 'nslookup', 'oth']);
  assert.deepEqual(nslookupAddrs(ns.stdout), [ip], show(ns));
  const dbIp = await inspect('db', '{{.NetworkSettings.Networks.appnet.IPAddress}}');
  const get = await ok(['exec', 'other', 'sh', '-c', HTTP_GET(dbIp, 8080)]);
  assert.match(get.stdout, /db\n$/, show(get));
  // As Docker's (libnetwork starts the sandbox's resolver on the first DNS-enabled network), the connected
  // container itself now resolves the network's names.
  const fromOther = await dk(['exec', 'other', 'nslookup', 'database']);
  assert.deepEqual(nslookupAddrs(fromOther.stdout), [dbIp], `nslookup from the connected container: ${show(fromOther)}`);

  const twice = await dk(['network', 'connect', 'appnet', 'other']);
  assert.notEqual(twice.code, 0, show(twice));
  assert.match(twice.stderr, /already exists in network appnet|already attached/, show(twice));

  await ok(['network', 'disconnect', 'appnet', 'other']);
  assert.deepEqual(await links(), ['eth0', 'lo']);
  assert.equal(await inspect('other', '{{if index .NetworkSettings.Networks "appnet"}}yes{{else}}no{{end}}'), 'no');
});

test('--network host sees the host\'s interfaces, none only lo, container:db shares db\'s address', async () => {
  const hostNow = () => netDevNames(fs.readFileSync('/proc/net/dev', 'utf8'));
  const before = hostNow();
  const h = await ok(['run', '--rm', '--network', 'host', IMG, 'cat', '/proc/net/dev']);
  const seen = netDevNames(h.stdout);
  // A veth may come or go meanwhile (this run's own --rm container has none); accept the host's set at either time.
  assert.ok(JSON.stringify(seen) === JSON.stringify(before) || JSON.stringify(seen) === JSON.stringify(hostNow()),
    `host mode saw ${seen.join(',')}, the host has ${before.join(',')}`);
  assert.ok(seen.includes('berth0'));
  const n = await ok(['run', '--rm', '--network', 'none', IMG, 'cat', '/proc/net/dev']);
  assert.deepEqual(netDevNames(n.stdout), ['lo']);
  assert.equal(await inspect('db', '{{.HostConfig.NetworkMode}}'), 'appnet');

  const dbIp = await inspect('db', '{{.NetworkSettings.Networks.appnet.IPAddress}}');
  const shared = await ok(['run', '--rm', '--network', 'container:db', IMG, 'ip', '-4', '-o', 'addr', 'show', 'eth0']);
  assert.match(shared.stdout, new RegExp(`inet ${dbIp.replace(/\./g, '\\.')}/24`), show(shared));
  const local = await ok(['run', '--rm', '--network', 'container:db', IMG, 'sh', '-c', HTTP_GET('127.0.0.1', 8080)]);
  assert.match(local.stdout, /db\n$/, `db's httpd on the shared loopback: ${show(local)}`);
});

test('bad input: overlapping subnet, unknown network, removing a network with active endpoints', async () => {
  const ov = await dk(['network', 'create', '--subnet', '10.231.0.0/16', 'overlap']);
  assert.notEqual(ov.code, 0, show(ov));
  assert.match(ov.stderr, /Pool overlaps with other one on this address space/, show(ov));
  const dup = await dk(['network', 'create', 'appnet']);
  assert.notEqual(dup.code, 0, show(dup));
  assert.match(dup.stderr, /network with name appnet already exists/, show(dup));
  const unk = await dk(['run', '--rm', '--network', 'nonet', IMG, 'true']);
  assert.notEqual(unk.code, 0, show(unk));
  assert.doesNotMatch(unk.stderr, /Unable to find image/, `an unknown network must not look like a missing image (no 404 from create): ${show(unk)}`);
  assert.match(unk.stderr, /network nonet not found/, show(unk));
  const rm = await dk(['network', 'rm', 'appnet']);
  assert.notEqual(rm.code, 0, show(rm));
  assert.match(rm.stderr, /has active endpoints/, show(rm));
  assert.equal((await ok(['network', 'ls', '--filter', 'name=appnet', '--format', '{{.Name}}'])).stdout.trim(), 'appnet');
});

test('berth: -p, port, network create/connect/disconnect/rm', async () => {
  await bok(['network', 'create', '--subnet', '10.231.9.0/24', 'bnet']);
  await bok(['run', '-d', '--name', 'bweb', '--network', 'bnet', '-p', '127.0.0.1:18081:80', IMG, ...HTTPD(80, 'berth')]);
  assert.equal(await httpGet('127.0.0.1', 18081), 'berth\n');
  const p = await bok(['port', 'bweb']);
  assert.match(p.stdout, /^80\/tcp -> 127\.0\.0\.1:18081$/m, show(p));
  await bok(['run', '-d', '--name', 'bcli', IMG, 'sleep', '1000']);
  await bok(['network', 'connect', '--alias', 'bc', 'bnet', 'bcli']);
  const links = await bok(['exec', 'bcli', 'ip', '-o', 'link']);
  assert.match(links.stdout, /^\d+: eth1@/m, show(links));
  const ns = await bok(['exec', 'bweb', 'nslookup', 'bc']);
  assert.deepEqual(nslookupAddrs(ns.stdout), [await inspect('bcli', '{{.NetworkSettings.Networks.bnet.IPAddress}}')], show(ns));
  await bok(['network', 'disconnect', 'bnet', 'bcli']);
  const rm = await bk(['network', 'rm', 'bnet']);
  assert.notEqual(rm.code, 0, show(rm));
  assert.match(rm.stderr, /has active endpoints/, show(rm));
  await bok(['rm', '-f', 'bweb', 'bcli']);
  await bok(['network', 'rm', 'bnet']);
  const ls = await bok(['network', 'ls', '--format', '{{.Name}}']);
  assert.deepEqual(ls.stdout.split('\n').filter(Boolean).sort(), ['appnet', 'bridge', 'host', 'none']);
});

test('concurrent starts and removals on one network: distinct addresses and ports, names resolve, nothing left', { timeout: 180_000 }, async () => {
  const netId = (await ok(['network', 'create', 'conc'])).stdout.trim();
  const bridge = `/sys/class/net/berth-${netId.slice(0, 9)}`;
  assert.ok(fs.existsSync(bridge), 'the network has its bridge');
  const mac = fs.readFileSync(`${bridge}/address`, 'utf8');
  const N = 10;
  const names = Array.from({ length: N }, (_, i) => `conc${i}`);
  // half publish a random host port: port allocation and rules are exercised concurrently too
  const runs = await Promise.all(names.map((n, i) => dk(['run', '-d', '--network', 'conc', '--name', n, ...(i % 2 ? ['-p', '80'] : []), IMG, ...HTTPD(80, n)])));
  for (const r of runs) assert.equal(r.code, 0, show(r));
  // The bridge keeps its MAC as ports join (a bridge left to the kernel takes its lowest port's MAC, and the
  // containers' ARP entries for the gateway go stale: DNS queries then time out for seconds).
  assert.equal(fs.readFileSync(`${bridge}/address`, 'utf8'), mac);
  assert.equal(fs.readFileSync(`${bridge}/addr_assign_type`, 'utf8').trim(), '3');
  const ips = await Promise.all(names.map((n) => inspect(n, '{{.NetworkSettings.Networks.conc.IPAddress}}')));
  const ids = await Promise.all(names.map((n) => inspect(n, '{{.Id}}')));
  assert.equal(new Set(ips).size, N, `distinct addresses: ${ips.join(' ')}`);
  const ports = await Promise.all(names.filter((_, i) => i % 2).map(async (n) => (await ok(['port', n, '80'])).stdout.trim()));
  assert.equal(new Set(ports).size, N / 2, `distinct host ports: ${ports.join(' ')}`);
  for (const [i, n] of names.entries()) {
    if (i % 2) {
      const port = Number(/:(\d+)$/m.exec(ports[(i - 1) / 2]!)![1]);
      assert.equal(await httpGet('127.0.0.1', port), `${n}\n`, `published port of ${n}`);
    }
  }
  const look = await ok(['run', '--rm', '--network', 'conc', IMG, 'sh', '-c', names.map((n) => `nslookup ${n} 2>&1; echo ==`).join('; ')]);
  const answers = look.stdout.split('==\n');
  for (const [i, n] of names.entries()) assert.deepEqual(nslookupAddrs(answers[i] ?? ''), [ips[i]], `nslookup ${n}: ${answers[i]}`);
  // removals of the first half while more containers start on the same network
  const more = Array.from({ length: 4 }, (_, i) => `conc-late${i}`);
  const mixed = await Promise.all([
    ...names.slice(0, N / 2).map((n) => dk(['rm', '-f', n])),
    ...more.map((n) => dk(['run', '-d', '--network', 'conc', '--name', n, IMG, 'sleep', '300'])),
  ]);
  for (const r of mixed) assert.equal(r.code, 0, show(r));
  for (const n of more) ids.push(await inspect(n, '{{.Id}}'));
  for (const n of more) assert.equal(await inspect(n, '{{.State.Running}}'), 'true');
  const rm = await dk(['rm', '-f', ...names.slice(N / 2), ...more], { timeoutMs: 60_000 });
  assert.equal(rm.code, 0, show(rm));
  await ok(['network', 'rm', 'conc']);
  const netnsDir = path.join(d.execRoot, 'netns');
  const left = () => ids.filter((id) => fs.existsSync(path.join(netnsDir, id)) || mountsUnder(netnsDir).some((m) => m.includes(id)));
  assert.ok(await waitFor(() => left().length === 0, 10_000), `netns of removed containers left: ${left().join(' ')}`);
  assert.ok(!fs.existsSync(`/sys/class/net/berth-${netId.slice(0, 9)}`), 'the network\'s bridge went with it');
});

test('after removing everything nothing of berth\'s is left but the default bridge', async () => {
  const ids = (await ok(['ps', '-aq'])).stdout.split('\n').filter(Boolean);
  if (ids.length) await ok(['rm', '-f', ...ids], { timeoutMs: 60_000 });
  await ok(['network', 'rm', 'appnet']);
  await ok(['network', 'prune', '-f']); // whatever an earlier failing test left
  assert.deepEqual((await ok(['network', 'ls', '--format', '{{.Name}}'])).stdout.split('\n').filter(Boolean).sort(), ['bridge', 'host', 'none']);
  // What another daemon on this host left before this file started is not this daemon's leak.
  const mine = () => berthLeftovers(bridgeSubnet, d).filter((x) => !baseline.includes(x));
  await waitFor(() => mine().length === 0, 5000);
  const pre = berthLeftovers(bridgeSubnet, d).filter((x) => baseline.includes(x));
  if (pre.length) console.log(`note: present before this file's berthd started (another daemon's): ${pre.join('; ')}`);
  assert.deepEqual(mine(), []);
  assert.ok(sh('ip', ['-o', 'link']).split('\n').some((l) => / berth0:/.test(l)), 'the default bridge berth0 stays');
  // A free port again: nothing still holds 18080.
  await assert.rejects(fetch('http://127.0.0.1:18080/', { signal: AbortSignal.timeout(2000) }));
});
