// Networking end to end without a daemon: NetworkService over the real CNI plugins, netns, iptables and the
// embedded DNS server. "Containers" are bare network namespaces made by the service; busybox runs inside them
// via nsenter. Root only. The service is its own instance (bridge berth5, its own chain prefix), so daemons
// other tests run on the default berth0 keep working while this runs, and it checks only what it owns.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Paths } from '../../src/store/paths.js';
import { LinuxSys } from '../../src/sys/linux-sys.js';
import { ExecCniRunner } from '../../src/network/cni.js';
import { chainsFor } from '../../src/network/iptables.js';
import { NetworkService, type SetupOptions } from '../../src/network/network-service.js';
import { ConflictError, ForbiddenError } from '../../src/errors.js';

const isRoot = process.getuid?.() === 0;
const sh = (cmd: string, args: string[]) => spawnSync(cmd, args, { encoding: 'utf8', timeout: 15_000 });
const inNs = (ns: string, args: string[]) => sh('nsenter', [`--net=${ns}`, ...args]);
/** For commands answered by this process (the DNS server): spawnSync would block the event loop. */
function inNsAsync(ns: string, args: string[]): Promise<{ stdout: string; stderr: string; code: number | null }> {
  return new Promise((resolve) => {
    const c = spawn('nsenter', [`--net=${ns}`, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '', stderr = '';
    c.stdout.on('data', (d: Buffer) => { stdout += d; });
    c.stderr.on('data', (d: Buffer) => { stderr += d; });
    c.on('close', (code) => resolve({ stdout, stderr, code }));
  });
}

function hostAddress(): string {
  for (const [name, addrs] of Object.entries(os.networkInterfaces())) {
    if (name === 'lo' || name.startsWith('berth')) continue;
    const a = (addrs ?? []).find((x) => x.family === 'IPv4' && !x.internal);
    if (a) return a.address;
  }
  throw new Error('no host address');
}

async function httpGet(url: string): Promise<string> {
  const r = await fetch(url, { signal: AbortSignal.timeout(5000) });
  return r.text();
}

/** The bridges a service made (tagged with its ownerTag as ifalias). */
function ownedLinks(tag: string): string[] {
  return execFileSync('ip', ['-o', 'link'], { encoding: 'utf8' }).split('\n')
    .map((l) => l.split(':')[1]?.trim().split('@')[0] ?? '').filter((n) => n.startsWith('berth'))
    .filter((n) => { try { return fs.readFileSync(`/sys/class/net/${n}/ifalias`, 'utf8').trim() === tag; } catch { return false; } })
    .sort();
}

/** iptables-save lines of one instance: its chains, their rules, the jumps into them. */
function rulesOf(prefix: string): string[] {
  const names = Object.values(chainsFor(prefix)).flat();
  return execFileSync('iptables-save', { encoding: 'utf8' }).split('\n')
    .filter((l) => names.some((c) => l.startsWith(`:${c} `) || l.startsWith(`-A ${c} `) || l.endsWith(`-j ${c}`)));
}

test('bridge networks, DNS, port publishing, reconcile and teardown', { skip: !isRoot && 'needs root' }, async () => {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-net-'));
  const paths = new Paths(path.join(root, 'data'), path.join(root, 'exec'));
  const www = path.join(root, 'www');
  fs.mkdirSync(www);
  fs.writeFileSync(path.join(www, 'index.html'), 'hello from c1\n');
  const opts = { paths, sys: new LinuxSys(), cni: new ExecCniRunner(), bridgeName: 'berth5', bip: '172.31.5.1/24' };
  let svc = new NetworkService(opts);
  const procs: ChildProcess[] = [];
  const id = () => randomBytes(32).toString('hex');
  const c1 = id(), c2 = id(), c3 = id();
  const base = (cid: string, name: string, extra: Partial<SetupOptions> = {}): SetupOptions =>
    ({ id: cid, name, running: true, hostname: cid.slice(0, 12), networkMode: 'e2enet', ...extra });
  try {
    await svc.init(new Set());
    const { Id: netId } = await svc.create({ Name: 'e2enet', IPAM: { Config: [{ Subnet: '10.211.5.0/24' }] }, Labels: { t: 'e2e' } });
    await assert.rejects(svc.create({ Name: 'other', IPAM: { Config: [{ Subnet: '10.211.0.0/16' }] } }),
      (e: Error) => e instanceof ForbiddenError && /Pool overlaps/.test(e.message));

    const s1 = await svc.setup(base(c1, 'web', {
      endpointsConfig: { e2enet: { Aliases: ['www', 'shared'] } },
      portBindings: { '80/tcp': [{ HostIp: '', HostPort: '18080' }] }, exposedPorts: { '80/tcp': {} },
    }));
    const s2 = await svc.setup(base(c2, 'client', { endpointsConfig: { e2enet: { Aliases: ['shared'] } } }));
    assert.equal(s1.network.mode, 'path');
    const ns1 = (s1.network as { netnsPath: string }).netnsPath, ns2 = (s2.network as { netnsPath: string }).netnsPath;
    assert.match(s1.resolvConf, /^nameserver 10\.211\.5\.1$/m);
    const ip1 = (svc.settings(base(c1, 'web')).Networks as Record<string, { IPAddress: string }>).e2enet!.IPAddress;
    const ip2 = (svc.settings(base(c2, 'client')).Networks as Record<string, { IPAddress: string }>).e2enet!.IPAddress;
    assert.match(ip1, /^10\.211\.5\.\d+$/);
    assert.notEqual(ip1, ip2);
    assert.match(s1.hosts, new RegExp(`^${ip1.replace(/\./g, '\\.')}\\t${c1.slice(0, 12)}$`, 'm'));
    assert.deepEqual(Object.keys(svc.inspect('e2enet').Containers as object).sort(), [c1, c2].sort());

    const httpd = spawn('nsenter', [`--net=${ns1}`, 'busybox', 'httpd', '-f', '-p', '80', '-h', www], { stdio: 'ignore' });
    procs.push(httpd);
    await new Promise((r) => setTimeout(r, 300));

    // container to container by address
    const w = inNs(ns2, ['curl', '-sS', '--max-time', '5', `http://${ip1}/`]);
    assert.equal(w.stdout, 'hello from c1\n', w.stderr);
    // names, aliases and short ids through the embedded DNS server (queried at the network's gateway)
    for (const name of ['web', 'www', c1.slice(0, 12)]) {
      const r = await inNsAsync(ns2, ['busybox', 'nslookup', '-type=a', name, '10.211.5.1']);
      assert.match(r.stdout, new RegExp(ip1.replace(/\./g, '\\.')), `${name}: ${r.stdout}${r.stderr}`);
    }
    const shared = (await inNsAsync(ns2, ['busybox', 'nslookup', '-type=a', 'shared', '10.211.5.1'])).stdout;
    assert.ok(shared.includes(ip1) && shared.includes(ip2), shared);
    const none = await inNsAsync(ns2, ['busybox', 'nslookup', '-type=a', 'nosuchcontainer', '10.211.5.1']);
    assert.doesNotMatch(none.stdout, /Address: 10\.211\./);

    // published port: loopback, the host's address, and hairpin from another container
    assert.equal(await httpGet('http://127.0.0.1:18080/'), 'hello from c1\n');
    const hostIp = hostAddress();
    assert.equal(await httpGet(`http://${hostIp}:18080/`), 'hello from c1\n');
    const hp = inNs(ns2, ['curl', '-sS', '--max-time', '5', `http://${hostIp}:18080/`]);
    assert.equal(hp.stdout, 'hello from c1\n', hp.stderr);
    assert.deepEqual((svc.settings(base(c1, 'web')).Ports as Record<string, unknown>)['80/tcp'], [{ HostIp: '0.0.0.0', HostPort: '18080' }]);

    // a second claim on the port fails before anything is built
    await assert.rejects(svc.setup(base(c3, 'dup', { portBindings: { '80/tcp': [{ HostPort: '18080' }] } })),
      (e: Error) => e instanceof ConflictError && /Bind for 0\.0\.0\.0:18080 failed: port is already allocated/.test(e.message));
    assert.ok(!fs.existsSync(path.join(paths.execRoot, 'netns', c3)));

    // connect a running container to a second network: a new interface appears
    await svc.create({ Name: 'e2enet2', IPAM: { Config: [{ Subnet: '10.211.6.0/24' }] } });
    const cr = await svc.connect('e2enet2', { ...base(c2, 'client') }, { Aliases: ['c2b'] });
    assert.match(cr?.IPAddress ?? '', /^10\.211\.6\./);
    assert.match(inNs(ns2, ['ip', '-o', '-4', 'addr', 'show', 'eth1']).stdout, /10\.211\.6\./);
    await assert.rejects(svc.connect('e2enet2', base(c2, 'client')), /endpoint with name client already exists in network e2enet2/);
    await assert.rejects(svc.remove('e2enet2'), /has active endpoints/);
    await svc.disconnect('e2enet2', base(c2, 'client'));
    assert.equal(inNs(ns2, ['ip', 'link', 'show', 'eth1']).status !== 0, true);

    // crash: a fresh service on the same roots, with only c1 still running. The old one's DNS sockets would
    // have died with its process; here they must be closed or this test file never exits.
    await svc.close();
    svc = new NetworkService(opts);
    await svc.init(new Set([c1]));
    assert.ok(!fs.existsSync(ns2), 'the dead container\'s netns is removed');
    assert.equal(await httpGet('http://127.0.0.1:18080/'), 'hello from c1\n', 'the running container keeps its network');
    const leases = fs.readdirSync(path.join(paths.dataRoot, 'networks', 'ipam', netId)).filter((f) => /^\d/.test(f));
    assert.deepEqual(leases, [ip1]);

    // teardown: nothing of berth is left but the default bridge
    httpd.kill();
    await svc.teardown(c1);
    await svc.forget(c1); await svc.forget(c2); await svc.forget(c3);
    assert.deepEqual((await svc.prune()).NetworksDeleted.sort(), ['e2enet', 'e2enet2']);
    assert.deepEqual(ownedLinks(svc.ownerTag), ['berth5']);
    assert.deepEqual(fs.readdirSync(path.join(paths.execRoot, 'netns')), []);
    const mine = rulesOf(svc.chainPrefix);
    assert.ok(mine.some((l) => l.includes('-j MASQUERADE')), mine.join('\n'));
    assert.ok(!mine.some((l) => /--to-destination|10\.211\./.test(l)), mine.join('\n'));
    assert.doesNotMatch(execFileSync('iptables-save', { encoding: 'utf8' }), /10\.211\./);
    assert.ok(!execFileSync('ip', ['-o', 'link', 'show', 'master', 'berth5'], { encoding: 'utf8' }).includes('veth'));
  } finally {
    for (const p of procs) p.kill();
    await svc.destroyHostState().catch(() => undefined);
    await svc.close();
    fs.rmSync(root, { recursive: true, force: true });
  }
  assert.deepEqual(ownedLinks(svc.ownerTag), []);
  assert.ok(!fs.existsSync('/sys/class/net/berth5'));
  assert.deepEqual(rulesOf(svc.chainPrefix), []);
});
