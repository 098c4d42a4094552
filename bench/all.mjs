#!/usr/bin/env node
// Every figure of issue 12's table in one run, against a private berthd, beside the runc floor (runc alone,
// with and without Docker's seccomp profile as berthd writes it into its OCI specs) and beside a real dockerd
// when one answers on /var/run/docker.sock (never installed or started here). The docker CLI drives both
// engines; containers run with --network none. Needs root, a build (npm run build) and the docker CLI.
// Usage: node bench/all.mjs [N=20]
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { DOCKERD_SOCK, cli, daemon, fixtures, runCapture, textPayload, withDockerd } from './lib.mjs';

const N = Number(process.argv[2] ?? 20);
const WARMUP = 3;
const IMG = 'busybox:local';
const PARALLEL = 8;
const MANY = 50;
const PINGS = 2000;
const BYTES = 100_000_000;
const LINE = 100; // fold -w 100; fold puts no newline after the last line
const EXPECTED = BYTES + BYTES / LINE - 1;
// Two producers of the same 101 MB of 100-byte lines. The issue's: busybox's three-process pipeline, which on
// 2 vCPUs costs as much CPU as the engine it measures. And one process that costs next to nothing: dd of a
// prepared file, bind-mounted read-only, 64 KiB per write(2). Both are printed.
const WRITE_100MB = `head -c ${BYTES} /dev/zero | tr '\\0' 'a' | fold -w ${LINE}`;
const PAYLOAD_MOUNT = '/p';
const ONE_PROCESS = ['dd', `if=${PAYLOAD_MOUNT}`, 'bs=64k', 'status=none'];

const run = (cmd, args, env = {}, keep = true) => runCapture(cmd, args, env, { timeoutMs: 300_000, keep });
const now = () => Number(process.hrtime.bigint()) / 1e6;
const pct = (xs, p) => { const s = [...xs].sort((a, b) => a - b); return s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)]; };
const ms = (xs) => `${pct(xs, 50).toFixed(1)} ms (p90 ${pct(xs, 90).toFixed(1)})`;
const mbs = (bytes, t) => `${(bytes / 1e6 / (t / 1000)).toFixed(0)} MB/s`;
const rssMb = (pid) => {
  const m = /^VmRSS:\s+(\d+) kB/m.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? `${(Number(m[1]) / 1024).toFixed(0)} MB` : '?';
};
const say = (m) => process.stderr.write(`  ${m}\n`);

/** WARMUP + N calls of `fn(i)`; the last N durations. */
async function times(fn, n = N) {
  const out = [];
  for (let i = 0; i < WARMUP + n; i++) {
    const t0 = now();
    await fn(i);
    if (i >= WARMUP) out.push(now() - t0);
  }
  return out;
}

/** A raw Engine API call on a unix socket (for the API start figure: no CLI in the way). */
function api(socket, method, p, body) {
  return daemon.api(socket, method, p, body, 60_000).then((r) => {
    if (r.status >= 400) throw new Error(`${method} ${p}: ${r.status} ${r.body}`);
    return r;
  });
}

/** Sequential GET /_ping on one kept-alive connection, raw HTTP: per-request round trips in ms. */
function pingRoundTrips(socket, n) {
  return new Promise((resolve, reject) => {
    const s = net.connect(socket);
    const out = [];
    let buf = '';
    let t0 = 0;
    const send = () => { t0 = now(); s.write('GET /_ping HTTP/1.1\r\nHost: bench\r\n\r\n'); };
    s.on('connect', send);
    s.on('error', reject);
    s.on('data', (d) => {
      buf += d;
      // one response is complete once its body ("OK") follows the header block
      const end = buf.indexOf('\r\n\r\n');
      if (end < 0 || !buf.slice(end + 4).startsWith('OK')) return;
      out.push(now() - t0);
      buf = buf.slice(end + 6);
      if (out.length === n) { s.end(); resolve(out); } else send();
    });
  });
}

/** GET /_ping on a new connection each time (connect, request, response, close): durations in ms. */
async function pingFresh(socket, n) {
  const out = [];
  for (let i = 0; i < n; i++) {
    out.push(await new Promise((resolve, reject) => {
      const t0 = now();
      const s = net.connect(socket, () => s.write('GET /_ping HTTP/1.1\r\nHost: bench\r\nConnection: close\r\n\r\n'));
      let buf = '';
      s.on('error', reject);
      s.on('data', (d) => { buf += d; });
      s.on('close', () => (buf.endsWith('OK') ? resolve(now() - t0) : reject(new Error(`bad _ping answer: ${buf}`))));
    }));
  }
  return out;
}

/** The table's figures for one engine behind `env` (DOCKER_HOST) and its API socket. */
async function engine(label, env, socket, pid) {
  const f = {};
  if (pid) f.rssIdle = rssMb(pid);
  say(`${label}: run --rm`);
  f.runRm = ms(await times(() => run('docker', ['run', '--rm', '--network', 'none', IMG, 'true'], env)));

  say(`${label}: API start`);
  const starts = [];
  for (let i = 0; i < WARMUP + N; i++) {
    const { body } = await api(socket, 'POST', '/containers/create', { Image: IMG, Cmd: ['true'], HostConfig: { NetworkMode: 'none' } });
    const id = JSON.parse(body).Id;
    const t0 = now();
    await api(socket, 'POST', `/containers/${id}/start`);
    if (i >= WARMUP) starts.push(now() - t0);
    await api(socket, 'POST', `/containers/${id}/wait`);
    await api(socket, 'DELETE', `/containers/${id}?force=1`);
  }
  f.apiStart = ms(starts);

  say(`${label}: ${MANY} x run -d, ${PARALLEL} at a time`);
  const ids = [];
  let next = 0;
  const t0 = now();
  await Promise.all(Array.from({ length: PARALLEL }, async () => {
    while (next < MANY) {
      next++;
      ids.push((await run('docker', ['run', '-d', '--network', 'none', IMG, 'sleep', '1000'], env)).out.trim());
    }
  }));
  f.many = `${((now() - t0) / 1000).toFixed(2)} s`;
  await run('docker', ['rm', '-f', ...ids], env);

  say(`${label}: exec`);
  await run('docker', ['run', '-d', '--network', 'none', '--name', 'bench-exec', IMG, 'sleep', '1000'], env);
  try {
    f.exec = ms(await times(() => run('docker', ['exec', 'bench-exec', 'true'], env)));
  } finally {
    await run('docker', ['rm', '-f', 'bench-exec'], env).catch(() => undefined);
  }

  say(`${label}: 100 MB log write, logs read, attached run`);
  const vol = ['-v', `${payload}:${PAYLOAD_MOUNT}:ro`];
  // `run -d` + `wait`: the container's whole life, producer → conmon (or dockerd's logger) → the log
  const logWrite = async (name, cmd) => {
    const t0 = now();
    await run('docker', ['run', '-d', '--network', 'none', '--name', name, ...vol, IMG, ...cmd], env);
    await run('docker', ['wait', name], env);
    return mbs(EXPECTED, now() - t0);
  };
  const attached = async (cmd) => {
    const t0 = now();
    const a = await run('docker', ['run', '--rm', '--network', 'none', ...vol, IMG, ...cmd], env, false);
    return mbs(a.bytes, now() - t0) + (a.bytes === EXPECTED ? '' : ` (INCOMPLETE: ${a.bytes} bytes)`);
  };
  try {
    f.logWrite = await logWrite('bench-logs', ['sh', '-c', WRITE_100MB]);
    const r0 = now();
    const { bytes } = await run('docker', ['logs', 'bench-logs'], env, false);
    f.logRead = mbs(bytes, now() - r0) + (bytes === EXPECTED ? '' : ` (INCOMPLETE: ${bytes} of ${EXPECTED} bytes)`);
    f.logWrite1 = await logWrite('bench-logs-dd', ONE_PROCESS);
  } finally {
    await run('docker', ['rm', '-f', 'bench-logs', 'bench-logs-dd'], env).catch(() => undefined);
  }
  f.attached = await attached(['sh', '-c', WRITE_100MB]);
  f.attached1 = await attached(ONE_PROCESS);

  say(`${label}: _ping round trips`);
  await pingRoundTrips(socket, 500); // warm-up
  const pings = await pingRoundTrips(socket, PINGS);
  f.ping = `${pct(pings, 50).toFixed(3)} ms (p90 ${pct(pings, 90).toFixed(3)})`;
  await pingFresh(socket, 50); // warm-up
  const fresh = await pingFresh(socket, PINGS / 4);
  f.pingFresh = `${pct(fresh, 50).toFixed(3)} ms (p90 ${pct(fresh, 90).toFixed(3)})`;

  say(`${label}: ps`);
  f.dockerPs = ms(await times(() => run('docker', ['ps'], env)));
  if (label === 'berthd') {
    // as the issue measures it: without NODE_EXTRA_CA_CERTS (set on these VMs, +40-90 ms to any Node start)
    const bare = { ...env, NODE_EXTRA_CA_CERTS: '' };
    f.berthPs = ms(await times(() => run(cli.berthBin, ['ps'], bare)));
    f.nodeFloor = ms(await times(() => run(process.execPath, ['-e', '0'], bare)));
  }
  if (pid) f.rssAfter = rssMb(pid);
  return f;
}

/** Docker's seccomp section exactly as berthd puts it in a container's OCI spec. */
async function dockerSeccomp(d) {
  const id = (await run('docker', ['run', '-d', '--network', 'none', IMG, 'sleep', '1000'], d.env)).out.trim();
  try {
    return JSON.parse(fs.readFileSync(path.join(d.execRoot, 'bundles', id, 'config.json'), 'utf8')).linux.seccomp;
  } finally {
    await run('docker', ['rm', '-f', id], d.env);
  }
}

/** runc alone on a plain busybox bundle: run (with and without the seccomp section) and exec. */
async function floor(tar, seccomp) {
  const dir = fs.mkdtempSync('/tmp/bt-floor-');
  const root = path.join(dir, 'runc');
  const bundle = path.join(dir, 'bundle');
  const f = {};
  try {
    fs.mkdirSync(path.join(bundle, 'rootfs'), { recursive: true });
    spawnSync('tar', ['-xf', tar, '-C', path.join(bundle, 'rootfs')], { stdio: 'inherit' });
    spawnSync('runc', ['spec', '-b', bundle], { stdio: 'inherit' });
    const base = JSON.parse(fs.readFileSync(path.join(bundle, 'config.json'), 'utf8'));
    base.process.terminal = false;
    const spec = (args, withSeccomp) => {
      const s = structuredClone(base);
      s.process.args = args;
      if (withSeccomp) s.linux.seccomp = seccomp; else delete s.linux.seccomp;
      fs.writeFileSync(path.join(bundle, 'config.json'), JSON.stringify(s));
    };
    const runc = (args) => run('runc', ['--root', root, ...args]);
    say('floor: runc run');
    spec(['true'], false);
    f.runNoSeccomp = ms(await times((i) => runc(['run', '-b', bundle, `floor-a-${process.pid}-${i}`])));
    spec(['true'], true);
    f.runSeccomp = ms(await times((i) => runc(['run', '-b', bundle, `floor-b-${process.pid}-${i}`])));
    say('floor: runc exec');
    spec(['sleep', '1000'], true);
    const id = `floor-exec-${process.pid}`;
    // detached: its stdio goes to /dev/null, so nothing here waits on the container's pipes
    const r = spawnSync('runc', ['--root', root, 'run', '-d', '-b', bundle, id], { stdio: 'ignore' });
    if (r.status !== 0) throw new Error('runc run -d failed');
    try {
      fs.writeFileSync(path.join(dir, 'true.json'), JSON.stringify({ ...base.process, args: ['true'] }));
      f.exec = ms(await times(() => runc(['exec', '-p', path.join(dir, 'true.json'), id])));
    } finally {
      spawnSync('runc', ['--root', root, 'delete', '-f', id], { stdio: 'ignore' });
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
  return f;
}

const loadAt = () => fs.readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
const loadStart = loadAt();
const tar = await fixtures.busyboxTar();
const payloadDir = fs.mkdtempSync('/tmp/bt-payload-');
process.on('exit', () => fs.rmSync(payloadDir, { recursive: true, force: true }));
const payload = textPayload(payloadDir, BYTES / LINE, LINE);
const d = await daemon.startDaemon();
let berth, seccomp;
try {
  await run('docker', ['import', '--change', 'CMD ["sh"]', tar, IMG], d.env);
  await new Promise((r) => setTimeout(r, 1000));
  berth = await engine('berthd', d.env, d.socket, d.pid);
  seccomp = await dockerSeccomp(d);
} finally {
  await run('docker', ['rmi', IMG], d.env).catch(() => undefined);
  const left = await d.cleanup();
  if (left.length) console.error(`leftovers swept: ${left.join(', ')}`);
}
const fl = await floor(tar, seccomp);
let docker = {};
const dockerd = await withDockerd(tar, IMG, async (env) => {
  const pid = spawnSync('pidof', ['dockerd'], { encoding: 'utf8' }).stdout.trim().split(/\s+/)[0];
  docker = await engine('dockerd', env, DOCKERD_SOCK, pid ? Number(pid) : undefined);
});

const rows = [
  ['`docker run --rm IMG true`', berth.runRm, docker.runRm, `runc run: ${fl.runSeccomp} with Docker's seccomp, ${fl.runNoSeccomp} without`],
  ['API `POST /containers/{id}/start`', berth.apiStart, docker.apiStart, ''],
  [`${MANY} × \`run -d\`, ${PARALLEL} in parallel`, berth.many, docker.many, ''],
  ['`exec CTR true`', berth.exec, docker.exec, `runc exec: ${fl.exec}`],
  ['container writes 100 MB to stdout (log write), busybox `head \\| tr \\| fold`', berth.logWrite, docker.logWrite, ''],
  [`the same, one process: \`${ONE_PROCESS.join(' ')}\` of a prepared file`, berth.logWrite1, docker.logWrite1, ''],
  ['`logs` of those 100 MB', berth.logRead, docker.logRead, ''],
  ['attached `run` of a 100 MB-stdout container, `head \\| tr \\| fold`', berth.attached, docker.attached, ''],
  ['the same, one process (`dd`)', berth.attached1, docker.attached1, ''],
  [`raw API \`GET /_ping\` round trip (keep-alive, ${PINGS})`, berth.ping, docker.ping, ''],
  [`raw API \`GET /_ping\`, a new connection each (${PINGS / 4})`, berth.pingFresh, docker.pingFresh, ''],
  ['berthd RSS idle / after this run', `${berth.rssIdle} / ${berth.rssAfter}`, docker.rssIdle ? `${docker.rssIdle} / ${docker.rssAfter ?? '?'}` : undefined, ''],
  ['`berth ps` wall (NODE_EXTRA_CA_CERTS unset)', berth.berthPs, undefined, `node -e 0: ${berth.nodeFloor}`],
  ['`docker ps` wall', berth.dockerPs, docker.dockerPs, ''],
];
console.log(`\nberth: every figure of issue 12 (N=${N} after ${WARMUP} warm-ups; medians, p90 in brackets; --network none)\n`);
console.log('| figure | berthd | dockerd | floor |');
console.log('|---|---|---|---|');
for (const [what, b, dk, f] of rows) console.log(`| ${what} | ${b ?? ''} | ${dk ?? '—'} | ${f} |`);
console.log(`\ndockerd: ${dockerd}; ${new Date().toISOString()}; load average at the start ${loadStart}, at the end ${loadAt()}`);
