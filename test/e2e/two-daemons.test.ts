// Two berth instances on one host (different bridge, bip, data root, exec root): each owns its bridges and
// its own iptables chains, publishes ports at the same time as the other, and tearing one down leaves the
// other intact. First with two NetworkService instances over the real CNI plugins, netns and iptables (as
// network.test.ts does), then with two real berthd processes when berthd has the --bridge/--bip flags.
// Root only.
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
import { chainPrefixFor, chainsFor, Iptables } from '../../src/network/iptables.js';
import { NetworkService, type NetworkServiceOptions, type SetupOptions } from '../../src/network/network-service.js';
import { ConflictError, InvalidParameterError } from '../../src/errors.js';
import { berthdBin, startDaemon, type Daemon } from '../helpers/daemon.js';
import { docker, show } from '../helpers/cli.js';
import { busyboxTar } from '../helpers/fixtures.js';

const isRoot = process.getuid?.() === 0;
const sh = (cmd: string, args: string[]) => spawnSync(cmd, args, { encoding: 'utf8', timeout: 15_000 });
const inNs = (ns: string, args: string[]) => sh('nsenter', [`--net=${ns}`, ...args]);
const newId = () => randomBytes(32).toString('hex');
const linkExists = (dev: string) => fs.existsSync(`/sys/class/net/${dev}`);
const iptablesSave = () => execFileSync('iptables-save', { encoding: 'utf8' });

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

/** Every rule line and chain declaration of one instance (its chains and the jumps into them). */
function rulesOf(save: string, prefix: string): string[] {
  const names = Object.values(chainsFor(prefix)).flat();
  return save.split('\n').filter((l) => names.some((c) => l.startsWith(`:${c} `) || l.startsWith(`-A ${c} `) || l.endsWith(`-j ${c}`)));
}

test('two NetworkService instances share a host without touching each other', { skip: !isRoot && 'needs root' }, async () => {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-2d-'));
  const www = path.join(tmp, 'www');
  fs.mkdirSync(www);
  fs.writeFileSync(path.join(www, 'index.html'), 'from A\n');
  const wwwB = path.join(tmp, 'wwwB');
  fs.mkdirSync(wwwB);
  fs.writeFileSync(path.join(wwwB, 'index.html'), 'from B\n');
  const common = { sys: new LinuxSys(), cni: new ExecCniRunner() };
  const optsA: NetworkServiceOptions = { ...common, paths: new Paths(path.join(tmp, 'a/data'), path.join(tmp, 'a/exec')), bridgeName: 'berth7', bip: '172.31.7.1/24' };
  const optsB: NetworkServiceOptions = { ...common, paths: new Paths(path.join(tmp, 'b/data'), path.join(tmp, 'b/exec')), bridgeName: 'berth9', bip: '172.31.9.1/24' };
  let a = new NetworkService(optsA);
  let b = new NetworkService(optsB);
  const procs: ChildProcess[] = [];
  const c1 = newId(), c2 = newId();
  const base = (cid: string, name: string, extra: Partial<SetupOptions> = {}): SetupOptions =>
    ({ id: cid, name, running: true, hostname: cid.slice(0, 12), networkMode: 'default', ...extra });
  const strayOfB = `berth-${newId().slice(0, 9)}`;
  try {
    assert.notEqual(a.chainPrefix, b.chainPrefix);
    for (const p of [a.chainPrefix, b.chainPrefix]) assert.match(p, /^BERTH-[0-9a-f]{6}$/);
    await a.init(new Set());
    await b.init(new Set());
    assert.ok(linkExists('berth7') && linkExists('berth9'));
    assert.equal(fs.readFileSync('/sys/class/net/berth7/ifalias', 'utf8').trim(), a.ownerTag);
    assert.equal(fs.readFileSync('/sys/class/net/berth9/ifalias', 'utf8').trim(), b.ownerTag);
    // a third instance on A's subnet is refused instead of stealing its routes
    const pathsC = new Paths(path.join(tmp, 'c/data'), path.join(tmp, 'c/exec'));
    await assert.rejects(new NetworkService({ ...common, paths: pathsC, bridgeName: 'berth8', bip: '172.31.7.1/24' }).init(new Set()),
      (e: Error) => e instanceof InvalidParameterError && /overlaps with 172\.31\.7\.0\/24 on berth7/.test(e.message));
    assert.ok(!linkExists('berth8'));

    // user-defined networks: same name in both stores, distinct subnets and bridges
    await a.create({ Name: 'app', Labels: {} });
    await b.create({ Name: 'app', Labels: {} });
    const subnetOf = (svc: NetworkService) => (svc.inspect('app').IPAM as { Config: Array<{ Subnet: string }> }).Config[0]!.Subnet;
    assert.notEqual(subnetOf(a), subnetOf(b));
    const userBridges = execFileSync('ip', ['-o', 'link'], { encoding: 'utf8' }).split('\n')
      .map((l) => l.split(':')[1]?.trim() ?? '').filter((n) => /^berth-[0-9a-f]{9}$/.test(n));
    const aliasOf = (dev: string) => fs.readFileSync(`/sys/class/net/${dev}/ifalias`, 'utf8').trim();
    const aUser = userBridges.find((d) => aliasOf(d) === a.ownerTag);
    const bUser = userBridges.find((d) => aliasOf(d) === b.ownerTag);
    assert.ok(aUser && bUser && aUser !== bUser, `user bridges ${userBridges.join(' ')}`);
    await assert.rejects(b.create({ Name: 'steal', Options: { 'com.docker.network.bridge.name': aUser } }),
      (e: Error) => e instanceof ConflictError && /in use by another berth daemon/.test(e.message));

    // both publish at once, on their default bridges
    const s1 = await a.setup(base(c1, 'web-a', { portBindings: { '80/tcp': [{ HostPort: '18170' }] } }));
    const ns1 = (s1.network as { netnsPath: string }).netnsPath;
    // B cannot take A's port (nothing listens on it: only A's DNAT rule says it is taken) and skips it in a range
    await assert.rejects(b.setup(base(c2, 'web-b', { portBindings: { '80/tcp': [{ HostPort: '18170' }] } })),
      (e: Error) => e instanceof ConflictError && /18170.*address already in use/.test(e.message));
    const s2 = await b.setup(base(c2, 'web-b', { portBindings: { '80/tcp': [{ HostPort: '18190' }], '81/tcp': [{ HostPort: '18170-18171' }] } }));
    const ns2 = (s2.network as { netnsPath: string }).netnsPath;
    assert.deepEqual((b.settings(base(c2, 'web-b')).Ports as Record<string, unknown>)['81/tcp'], [{ HostIp: '0.0.0.0', HostPort: '18171' }]);
    const ipA = (a.settings(base(c1, 'web-a')) as { IPAddress: string }).IPAddress;
    const ipB = (b.settings(base(c2, 'web-b')) as { IPAddress: string }).IPAddress;
    assert.match(ipA, /^172\.31\.7\./);
    assert.match(ipB, /^172\.31\.9\./);
    procs.push(spawn('nsenter', [`--net=${ns1}`, 'busybox', 'httpd', '-f', '-p', '80', '-h', www], { stdio: 'ignore' }));
    procs.push(spawn('nsenter', [`--net=${ns2}`, 'busybox', 'httpd', '-f', '-p', '80', '-h', wwwB], { stdio: 'ignore' }));
    await new Promise((r) => setTimeout(r, 300));
    const hostIp = hostAddress();
    for (const [port, body] of [['18170', 'from A\n'], ['18190', 'from B\n']] as const) {
      assert.equal(await httpGet(`http://127.0.0.1:${port}/`), body);
      assert.equal(await httpGet(`http://${hostIp}:${port}/`), body);
    }
    // across instances: no direct connection into the other's network, but its published port works
    const direct = inNs(ns1, ['curl', '-sS', '--max-time', '2', `http://${ipB}/`]);
    assert.notEqual(direct.status, 0, `A reached B's container directly: ${direct.stdout}`);
    const published = inNs(ns1, ['curl', '-sS', '--max-time', '5', `http://${hostIp}:18190/`]);
    assert.equal(published.stdout, 'from B\n', published.stderr);
    const back = inNs(ns2, ['curl', '-sS', '--max-time', '5', `http://${hostIp}:18170/`]);
    assert.equal(back.stdout, 'from A\n', back.stderr);

    const aRules = rulesOf(iptablesSave(), a.chainPrefix);
    assert.ok(aRules.some((l) => l.includes('--dport 18170')), aRules.join('\n'));

    // B restarts (reconcile): an orphan bridge with B's tag goes, A's user bridge (named alike) stays
    execFileSync('ip', ['link', 'add', 'name', strayOfB, 'type', 'bridge']);
    execFileSync('ip', ['link', 'set', 'dev', strayOfB, 'alias', b.ownerTag]);
    await b.close();
    b = new NetworkService(optsB);
    await b.init(new Set([c2]), new Set([c2]));
    assert.ok(!linkExists(strayOfB), 'B swept its own orphan bridge');
    assert.ok(linkExists(aUser), 'B left A\'s user bridge alone');
    assert.equal(await httpGet('http://127.0.0.1:18190/'), 'from B\n');
    assert.equal(await httpGet('http://127.0.0.1:18170/'), 'from A\n');

    // B goes away entirely: A's bridges, chains, jumps and published port are untouched
    procs.pop()!.kill();
    await b.destroyHostState();
    await b.close();
    const save = iptablesSave();
    assert.deepEqual(rulesOf(save, b.chainPrefix), [], 'B left no chain or jump');
    assert.ok(!linkExists('berth9') && !linkExists(bUser), 'B\'s bridges are gone');
    assert.deepEqual(rulesOf(save, a.chainPrefix), aRules, 'A\'s rules are exactly as before');
    assert.ok(linkExists('berth7') && linkExists(aUser));
    assert.equal(await httpGet('http://127.0.0.1:18170/'), 'from A\n');
    assert.equal(await httpGet(`http://${hostIp}:18170/`), 'from A\n');

    // and A cleans up after itself
    procs.pop()!.kill();
    await a.teardown(c1);
    await a.forget(c1);
    assert.deepEqual((await a.prune()).NetworksDeleted, ['app']);
    assert.ok(!linkExists(aUser));
    await a.destroyHostState();
    await a.close();
    assert.deepEqual(rulesOf(iptablesSave(), a.chainPrefix), []);
    assert.ok(!linkExists('berth7'));
  } finally {
    for (const p of procs) p.kill();
    for (const svc of [a, b]) {
      await svc.destroyHostState().catch(() => undefined);
      await svc.close().catch(() => undefined);
    }
    for (const dev of ['berth7', 'berth8', 'berth9', strayOfB]) if (linkExists(dev)) spawnSync('ip', ['link', 'del', dev]);
    fs.rmSync(tmp, { recursive: true, force: true });
  }
});

test('--bridge=none: no default bridge network; default-mode containers get loopback only', { skip: !isRoot && 'needs root' }, async () => {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-nob-'));
  const svc = new NetworkService({ sys: new LinuxSys(), cni: new ExecCniRunner(), paths: new Paths(path.join(tmp, 'data'), path.join(tmp, 'exec')), bridgeName: 'none' });
  try {
    await svc.init(new Set());
    assert.deepEqual(svc.list().map((n) => n.Name), ['host', 'none']);
    assert.match(svc.chainPrefix, /^BERTH-[0-9a-f]{6}$/);
    const cid = newId();
    const r = await svc.setup({ id: cid, name: 'c', running: true, hostname: 'c', networkMode: 'default' });
    assert.equal(r.network.mode, 'none');
    assert.ok(!fs.existsSync(path.join(tmp, 'exec', 'netns', cid)));
    // user-defined networks still work, with this instance's chains
    await svc.create({ Name: 'n1' });
    assert.ok(rulesOf(iptablesSave(), svc.chainPrefix).some((l) => l.includes('MASQUERADE')));
    assert.deepEqual((await svc.prune()).NetworksDeleted, ['n1']);
  } finally {
    await svc.destroyHostState().catch(() => undefined);
    await svc.close();
    fs.rmSync(tmp, { recursive: true, force: true });
  }
  assert.deepEqual(rulesOf(iptablesSave(), svc.chainPrefix), []);
});

const hasBridgeFlag = isRoot && spawnSync(berthdBin, ['--help'], { encoding: 'utf8' }).stdout?.includes('--bridge');

test('two berthd daemons publish ports side by side; removing one leaves the other working',
  { skip: !hasBridgeFlag && 'berthd has no --bridge/--bip flags yet (or not root)', timeout: 180_000 }, async () => {
    const IMG = 'busybox:local';
    const tar = await busyboxTar();
    const daemons: Daemon[] = [];
    const dirs: string[] = [];
    const sys = new LinuxSys();
    try {
      const d1 = await startDaemon();
      daemons.push(d1);
      const d2 = await startDaemon({ args: ['--bridge', 'berth9', '--bip', '172.31.9.1/24'] });
      daemons.push(d2);
      dirs.push(d1.dir, d2.dir);
      const run = async (d: Daemon, args: string[]) => {
        const r = await docker(d.env, args, { timeoutMs: 60_000 });
        assert.equal(r.code, 0, `docker ${args.join(' ')}: ${show(r)}\n${d.logTail()}`);
        return r.stdout.trim();
      };
      for (const d of daemons) await run(d, ['import', '--change', 'CMD ["sh"]', tar, IMG]);
      // busybox httpd serving /etc: GET /hostname answers with the container's hostname
      await run(d1, ['run', '-d', '--name', 'one', '--hostname', 'from-d1', '-p', '18280:80', IMG, 'httpd', '-f', '-p', '80', '-h', '/etc']);
      await run(d2, ['run', '-d', '--name', 'two', '--hostname', 'from-d2', '-p', '18290:80', IMG, 'httpd', '-f', '-p', '80', '-h', '/etc']);
      const ip2 = await run(d2, ['inspect', '-f', '{{.NetworkSettings.IPAddress}}', 'two']);
      assert.match(ip2, /^172\.31\.9\./);
      await new Promise((r) => setTimeout(r, 300));
      const hostIp = hostAddress();
      for (const host of ['127.0.0.1', hostIp]) {
        assert.equal(await httpGet(`http://${host}:18280/hostname`), 'from-d1\n');
        assert.equal(await httpGet(`http://${host}:18290/hostname`), 'from-d2\n');
      }
      const prefix2 = chainPrefixFor('berth9');
      const before1 = rulesOf(iptablesSave(), 'BERTH').filter((l) => l.includes('18280'));
      assert.equal(before1.length, 1, 'd1 publishes in the default chains');
      assert.ok(rulesOf(iptablesSave(), prefix2).some((l) => l.includes('18290')), 'd2 publishes in its own chains');

      // tear d2 down: its containers, its daemon, then its host state (what a --cleanup would do)
      await d2.cleanup();
      daemons.pop();
      const d2State = new NetworkService({ paths: new Paths(d2.dataRoot, d2.execRoot), sys, cni: new ExecCniRunner(), bridgeName: 'berth9', bip: '172.31.9.1/24' });
      await d2State.init(new Set(), new Set());
      await d2State.destroyHostState();
      await d2State.close();
      fs.rmSync(d2.dir, { recursive: true, force: true }); // init wrote d2's records again
      assert.ok(!linkExists('berth9'));
      assert.deepEqual(rulesOf(iptablesSave(), prefix2), []);
      assert.deepEqual(rulesOf(iptablesSave(), 'BERTH').filter((l) => l.includes('18280')), before1, 'd1\'s rule is intact');
      assert.ok(linkExists('berth0'));
      assert.equal(await httpGet('http://127.0.0.1:18280/hostname'), 'from-d1\n');
      assert.equal(await httpGet(`http://${hostIp}:18280/hostname`), 'from-d1\n');
      assert.equal(await run(d1, ['inspect', '-f', '{{.State.Running}}', 'one']), 'true');
    } finally {
      for (const d of daemons.reverse()) {
        const left = await d.cleanup().catch((e: Error) => [e.message]);
        if (left.length) console.error(`two-daemons: swept leftovers: ${left.join(', ')}`);
      }
      // whatever d2 left if the test failed before its teardown (its roots are gone with d2.cleanup)
      await new Iptables(chainPrefixFor('berth9')).removeAll();
      if (linkExists('berth9')) spawnSync('ip', ['link', 'del', 'berth9']);
      for (const dir of dirs) fs.rmSync(dir, { recursive: true, force: true });
    }
  });
