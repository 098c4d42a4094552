#!/usr/bin/env node
// Soak and density (RELIABILITY T1, T2), containerd-stress style, against a private berthd.
// T1: W workers loop create → start → wait → delete of `true` through the Engine API (raw HTTP on the unix
// socket) for S seconds: half with NetworkMode none, half on the default bridge (the bridge half only when no
// other berthd runs: berth0 and the BERTH chains are host-wide). Before and after it compares what a cycle
// could leak (mounts, conmon, runc state, cgroups, veths, netns files, iptables rules, berthd fds) and exits 1
// on any leak or failed cycle. A real dockerd at /var/run/docker.sock runs the same loop side by side.
// T2 (--density N): N `sleep 3600` containers; RSS and PSS of their conmon monitors (smaps_rollup).
// Needs root and a build (npm run build). Usage: node bench/soak.mjs [seconds=60] [workers=5]
//                                               node bench/soak.mjs --density [N=50]
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { daemon, fixtures, root, run } from './lib.mjs';

const { startDaemon, conmonProcesses, mountsUnder } = daemon;
const { busyboxTar } = fixtures;

const argv = process.argv.slice(2);
const densityAt = argv.indexOf('--density');
const DENSITY = densityAt >= 0 ? Number(/^\d+$/.test(argv[densityAt + 1] ?? '') ? argv[densityAt + 1] : 50) : 0;
const pos = argv.filter((a, i) => a !== '--density' && !(densityAt >= 0 && i === densityAt + 1));
const SECONDS = Number(pos[0] ?? 60);
const WORKERS = Number(pos[1] ?? 5);
const WARMUP = 2; // cycles per mode before the baseline: first-use caches and lazily opened files are no leak
const IMG = 'busybox:local';
const DOCKERD_SOCK = '/var/run/docker.sock';
const REQ_TIMEOUT = 120_000;

let stopping = false;
process.on('SIGINT', () => { stopping = true; process.stderr.write('SIGINT: finishing the cycles under way, then cleaning up\n'); });

// ---- small helpers --------------------------------------------------------------------------------------

const sh = (cmd, args) => spawnSync(cmd, args, { encoding: 'utf8' }).stdout ?? '';
const now = () => Number(process.hrtime.bigint()) / 1e6;
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const pct = (xs, p) => { if (!xs.length) return NaN; const s = [...xs].sort((a, b) => a - b); return s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)]; };
const kb = (pid, file, key) => {
  try {
    const m = new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(fs.readFileSync(`/proc/${pid}/${file}`, 'utf8'));
    return m ? Number(m[1]) : NaN;
  } catch { return NaN; }
};
const mb = (k) => (k / 1024).toFixed(1);
const table = (rows) => {
  const w = rows[0].map((_, i) => Math.max(...rows.map((r) => String(r[i]).length)));
  return rows.map((r) => r.map((c, i) => String(c).padEnd(w[i])).join('  ').trimEnd()).join('\n');
};

/**
 * An Engine API client on one unix socket with its own keep-alive pool (as the docker CLI and containerd-stress
 * keep their connections). reset() closes the pool: berthd's fd count must not include our idle connections.
 */
function client(socket) {
  const mk = () => new http.Agent({ keepAlive: true, maxSockets: Math.max(WORKERS, 8) });
  let agent = mk();
  const req = (method, urlPath, body) => new Promise((resolve, reject) => {
    const data = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
    const r = http.request({
      socketPath: socket, agent, method, path: urlPath, timeout: REQ_TIMEOUT,
      headers: data ? { 'content-type': 'application/json', 'content-length': data.length } : {},
    }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', reject);
    });
    r.on('timeout', () => r.destroy(new Error(`timed out after ${REQ_TIMEOUT / 1000} s`)));
    r.on('error', reject);
    r.end(data);
  });
  return { req, reset() { agent.destroy(); agent = mk(); } };
}

const message = (r) => { try { return JSON.parse(r.body).message ?? r.body; } catch { return r.body; } };

/** One containerd-stress cycle. Returns per-step ms; throws Error(`<step>: <why>`) and force-removes on failure. */
async function cycle(c, netMode, ids) {
  const t = { create: 0, start: 0, wait: 0, delete: 0, total: 0 };
  const t0 = now();
  let id;
  let step = 'create';
  const expect = async (name, p, status) => {
    step = name;
    const s = now();
    let r;
    try { r = await p(); } catch (e) { throw new Error(`${name}: ${e.message}`); }
    t[name] = now() - s;
    if (r.status !== status) throw new Error(`${name}: HTTP ${r.status}: ${message(r)}`.trim());
    return r;
  };
  try {
    const cr = await expect('create', () => c.req('POST', '/containers/create', { Image: IMG, Cmd: ['true'], HostConfig: { NetworkMode: netMode } }), 201);
    id = JSON.parse(cr.body).Id;
    ids?.add(id);
    await expect('start', () => c.req('POST', `/containers/${id}/start`), 204);
    const wr = await expect('wait', () => c.req('POST', `/containers/${id}/wait`), 200);
    const w = JSON.parse(wr.body);
    if (w.StatusCode !== 0 || w.Error) throw new Error(`wait: StatusCode ${w.StatusCode}${w.Error ? ` Error ${JSON.stringify(w.Error)}` : ''}`);
    step = 'delete';
    await expect('delete', () => c.req('DELETE', `/containers/${id}?v=1`), 204);
    id = undefined;
  } catch (e) {
    if (id) await c.req('DELETE', `/containers/${id}?force=1&v=1`).catch(() => undefined);
    throw e.message.startsWith(`${step}:`) ? e : new Error(`${step}: ${e.message}`);
  }
  t.total = now() - t0;
  return t;
}

/** W workers looping cycle() for `ms`. */
async function loop(c, netMode, ms, ids) {
  const res = { ok: [], failures: [], elapsed: 0 };
  const end = now() + ms;
  const t0 = now();
  let lastReport = t0;
  await Promise.all(Array.from({ length: WORKERS }, async () => {
    while (!stopping && now() < end) {
      try { res.ok.push(await cycle(c, netMode, ids)); } catch (e) { res.failures.push(e.message); }
      if (now() - lastReport > 15_000) {
        lastReport = now();
        process.stderr.write(`  ${netMode}: ${res.ok.length} done, ${res.failures.length} failed, ${((now() - t0) / 1000).toFixed(0)} s\n`);
      }
    }
  }));
  res.elapsed = now() - t0;
  return res;
}

// ---- leak snapshots ---------------------------------------------------------------------------------------

function cgroupDirs() {
  const out = [];
  for (const h of fs.readdirSync('/sys/fs/cgroup')) {
    const dir = path.join('/sys/fs/cgroup', h, 'berth');
    try {
      for (const e of fs.readdirSync(dir, { withFileTypes: true })) if (e.isDirectory()) out.push(`${h}/${e.name}`);
    } catch { /* no berth parent in this hierarchy */ }
  }
  return out;
}
/** utime + stime of a process, in seconds (USER_HZ is 100 on Linux). */
function cpuSeconds(pid) {
  try {
    const st = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = st.slice(st.lastIndexOf(')') + 2).split(' ');
    return (Number(f[11]) + Number(f[12])) / 100;
  } catch { return NaN; }
}
const countLines = (s, re) => s.split('\n').filter((l) => re.test(l)).length;
// A process with our own roots on its command line is ours: berthd itself, or a child it is starting
// (posix_spawn's child carries berthd's command line for a moment before it execs).
const otherBerthds = (own, ownDir) => sh('pgrep', ['-af', 'bin/berthd']).split('\n').filter(Boolean)
  .filter((l) => Number(l.split(' ')[0]) !== own && !(ownDir && l.includes(`${ownDir}/`)));

/**
 * What one cycle could leave behind. `judged` rows count as leaks when they grow; host-wide rows (all veths,
 * all berth cgroups, BERTH rules) are only judged when no other berthd ran meanwhile.
 */
async function snapshot(d, c, ids) {
  const list = await c.req('GET', '/containers/json?all=1').catch(() => undefined);
  c.reset();
  await sleep(300); // let berthd see our connections close
  const cg = cgroupDirs();
  const iptables = sh('iptables-save', []);
  const netnsDir = path.join(d.execRoot, 'netns');
  let fds = NaN;
  try { fds = fs.readdirSync(`/proc/${d.pid}/fd`).length; } catch { /* gone */ }
  return {
    'containers (GET /containers/json?all=1)': { v: list?.status === 200 ? JSON.parse(list.body).length : NaN, own: true },
    'mounts under the daemon dir': { v: mountsUnder(d.dir).length, own: true },
    'conmon processes (exec root)': { v: conmonProcesses(d.execRoot).length, own: true },
    'runc containers (runc list)': { v: sh('runc', ['--root', path.join(d.execRoot, 'runc'), 'list', '-q']).split('\n').filter(Boolean).length, own: true },
    'cgroup dirs of this run\'s containers': { v: cg.filter((x) => ids.has(x.split('/')[1])).length, own: true },
    'cgroup dirs */berth/* (host-wide)': { v: cg.length, own: false },
    'netns files (exec root)': { v: fs.existsSync(netnsDir) ? fs.readdirSync(netnsDir).length : 0, own: true },
    'veths on berth0': { v: countLines(sh('ip', ['-o', 'link', 'show', 'master', 'berth0']), /veth/), own: false },
    'veths (host-wide)': { v: countLines(sh('ip', ['-o', 'link', 'show', 'type', 'veth']), /./), own: false },
    'iptables-save lines with BERTH': { v: countLines(iptables, /BERTH/), own: false },
    'berthd open fds': { v: fds, own: true },
    'berthd RSS (MB, not judged)': { v: Number(mb(kb(d.pid, 'status', 'VmRSS'))), own: null },
  };
}

/** Polls until the judged counts are back to the baseline (teardown is partly asynchronous) or 20 s pass. */
async function settle(d, c, ids, before, hostWide) {
  const end = Date.now() + 20_000;
  for (;;) {
    const after = await snapshot(d, c, ids);
    if (leaks(before, after, hostWide).length === 0 || Date.now() > end) return after;
    await sleep(1000);
  }
}
const judged = (row, hostWide) => row.own === true || (row.own === false && hostWide);
const leaks = (before, after, hostWide) => Object.keys(before)
  .filter((k) => judged(before[k], hostWide) && !(after[k].v <= before[k].v));

function leakTable(before, after, hostWide) {
  const rows = [['what', 'before', 'after', 'delta', '']];
  for (const k of Object.keys(before)) {
    const b = before[k].v;
    const a = after[k].v;
    const delta = Number.isFinite(a - b) ? Math.round((a - b) * 10) / 10 : 'n/a';
    const verdict = !judged(before[k], hostWide) ? (before[k].own === false ? '(not judged: another berthd ran)' : '')
      : (a <= b ? 'ok' : 'LEAK');
    rows.push([k, b, a, delta > 0 ? `+${delta}` : delta, verdict]);
  }
  return table(rows);
}

// ---- reports ----------------------------------------------------------------------------------------------

function summarize(label, r) {
  const total = r.ok.length + r.failures.length;
  const tot = r.ok.map((t) => t.total / 1000);
  const step = (s) => `${pct(r.ok.map((t) => t[s]), 50).toFixed(0)}`;
  return [label, total, r.failures.length, (r.ok.length / (r.elapsed / 1000)).toFixed(2),
    `${pct(tot, 50).toFixed(3)} / ${pct(tot, 95).toFixed(3)}`,
    `${step('create')} / ${step('start')} / ${step('wait')} / ${step('delete')}`];
}
const SUMMARY_HEAD = ['phase', 'total', 'failures', 'containers/s', 's/container p50 / p95', 'ms create/start/wait/delete p50'];

function failureReport(label, failures) {
  if (!failures.length) return '';
  const byMsg = new Map();
  for (const f of failures) byMsg.set(f, (byMsg.get(f) ?? 0) + 1);
  const lines = [...byMsg].sort((a, b) => b[1] - a[1]).slice(0, 5).map(([m, n]) => `  ${n}× ${m.slice(0, 400)}`);
  return `${label}: ${failures.length} failed cycles; most frequent errors:\n${lines.join('\n')}`;
}

// ---- T1 ---------------------------------------------------------------------------------------------------

async function soak(d, tar, others) {
  const c = client(d.socket);
  const ids = new Set();
  const modes = others.length ? ['none'] : ['none', 'default'];
  await run('docker', ['import', '--change', 'CMD ["sh"]', tar, IMG], d.env);
  for (const m of modes) for (let i = 0; i < WARMUP; i++) await cycle(c, m, ids);
  await sleep(1000);
  const before = await snapshot(d, c, ids);
  const results = [];
  // berthd's peak RSS and CPU time over the loops: growth with the cycle count would be a leak too.
  const cpu0 = cpuSeconds(d.pid);
  let peakRss = 0;
  // Other berthds are looked for during the run too: a short-lived one between two checks would skew host-wide rows.
  const seen = new Set();
  const sampler = setInterval(() => {
    peakRss = Math.max(peakRss, kb(d.pid, 'status', 'VmRSS') || 0);
    for (const o of otherBerthds(d.pid, d.dir)) seen.add(o);
  }, 2000);
  for (const m of modes) {
    process.stderr.write(`berthd: ${WORKERS} workers, NetworkMode ${m}, ${(SECONDS / modes.length).toFixed(0)} s\n`);
    results.push([m, await loop(c, m, (SECONDS * 1000) / modes.length, ids)]);
  }
  clearInterval(sampler);
  const cpu = cpuSeconds(d.pid) - cpu0;
  for (const o of otherBerthds(d.pid, d.dir)) seen.add(o);
  const othersAfter = [...seen];
  const hostWide = others.length === 0 && othersAfter.length === 0;
  const after = await settle(d, c, ids, before, hostWide);
  return { results, before, after, hostWide, modes, othersAfter, cpu, peakRss };
}

async function dockerdSoak(tar) {
  if (!fs.existsSync(DOCKERD_SOCK)) return { note: `no dockerd at ${DOCKERD_SOCK}` };
  const c = client(DOCKERD_SOCK);
  const ping = await c.req('GET', '/_ping').catch(() => undefined);
  if (ping?.status !== 200) return { note: `${DOCKERD_SOCK} does not answer` };
  const env = { DOCKER_HOST: `unix://${DOCKERD_SOCK}` };
  await run('docker', ['import', '--change', 'CMD ["sh"]', tar, IMG], env);
  try {
    const results = [];
    for (const m of ['none', 'default']) {
      for (let i = 0; i < WARMUP; i++) await cycle(c, m);
      process.stderr.write(`dockerd: ${WORKERS} workers, NetworkMode ${m}, ${(SECONDS / 2).toFixed(0)} s\n`);
      results.push([m, await loop(c, m, (SECONDS * 1000) / 2)]);
    }
    return { results, note: 'measured' };
  } finally {
    c.reset();
    await run('docker', ['rmi', IMG], env).catch(() => undefined);
  }
}

// ---- T2 ---------------------------------------------------------------------------------------------------

async function density(d, tar) {
  const c = client(d.socket);
  await run('docker', ['import', '--change', 'CMD ["sh"]', tar, IMG], d.env);
  await sleep(1000);
  const idleRss = kb(d.pid, 'status', 'VmRSS');
  const ids = new Set();
  const before = await snapshot(d, c, ids);
  const failures = [];
  let next = 0;
  const t0 = now();
  await Promise.all(Array.from({ length: WORKERS }, async () => {
    while (!stopping && next < DENSITY) {
      next++;
      try {
        const cr = await c.req('POST', '/containers/create', { Image: IMG, Cmd: ['sleep', '3600'], HostConfig: { NetworkMode: 'none' } });
        if (cr.status !== 201) throw new Error(`create: HTTP ${cr.status}: ${message(cr)}`);
        const id = JSON.parse(cr.body).Id;
        ids.add(id);
        const sr = await c.req('POST', `/containers/${id}/start`);
        if (sr.status !== 204) throw new Error(`start: HTTP ${sr.status}: ${message(sr)}`);
      } catch (e) { failures.push(e.message); }
    }
  }));
  const startMs = now() - t0;
  await sleep(2000); // let the monitors settle (first log writes, page faults)
  const conmons = conmonProcesses(d.execRoot);
  const rss = conmons.map((p) => kb(p, 'smaps_rollup', 'Rss'));
  const pss = conmons.map((p) => kb(p, 'smaps_rollup', 'Pss'));
  const sum = (xs) => xs.reduce((a, b) => a + b, 0);
  const busyRss = kb(d.pid, 'status', 'VmRSS');
  const running = await c.req('GET', '/containers/json').then((r) => JSON.parse(r.body).length).catch(() => NaN);
  const t1 = now();
  const rm = [...ids];
  await Promise.all(Array.from({ length: WORKERS }, async () => {
    for (let id = rm.pop(); id; id = rm.pop()) {
      const r = await c.req('DELETE', `/containers/${id}?force=1&v=1`).catch((e) => ({ status: 0, body: e.message }));
      if (r.status !== 204) failures.push(`delete -f: HTTP ${r.status}: ${message(r)}`);
    }
  }));
  const rmMs = now() - t1;
  const n = conmons.length;
  console.log(`\nberth density (T2): ${DENSITY} \`sleep 3600\` containers, NetworkMode none, ${WORKERS} at a time\n`);
  console.log(table([
    ['what', 'value'],
    ['containers running / conmon monitors found', `${running} / ${n}`],
    [`start ${DENSITY} (create + start)`, `${(startMs / 1000).toFixed(2)} s (${(startMs / DENSITY).toFixed(0)} ms each)`],
    [`force-remove ${ids.size}`, `${(rmMs / 1000).toFixed(2)} s (${(rmMs / Math.max(1, ids.size)).toFixed(0)} ms each)`],
    ['conmon RSS, sum / per container', `${mb(sum(rss))} MB / ${mb(sum(rss) / Math.max(1, n))} MB`],
    ['conmon PSS, sum / per container', `${mb(sum(pss))} MB / ${mb(sum(pss) / Math.max(1, n))} MB`],
    ['berthd RSS idle → with containers', `${mb(idleRss)} MB → ${mb(busyRss)} MB (+${mb(busyRss - idleRss)} MB, ${((busyRss - idleRss) / Math.max(1, n)).toFixed(0)} kB per container)`],
  ]));
  const f = failureReport('density', failures);
  if (f) console.log(`\n${f}`);
  console.log('aim (issue 2): <= 2 MB of monitor overhead per running container');
  const after = await settle(d, c, ids, before, false);
  const leaked = leaks(before, after, false);
  console.log(`\nleaks after removing them (host-wide rows not judged here):\n${leakTable(before, after, false).replaceAll('another berthd ran', 'T2')}`);
  console.log(`verdict: ${failures.length} failures; ${leaked.length ? `LEAKED: ${leaked.join('; ')}` : 'no leaks'}`);
  c.reset();
  return failures.length === 0 && leaked.length === 0 && n === DENSITY && running === DENSITY;
}

// ---- main -------------------------------------------------------------------------------------------------

const others = otherBerthds(-1);
const berth0 = sh('ip', ['-o', 'link', 'show', 'berth0']).trim();
if (others.length) {
  process.stderr.write(`another berthd is running, so this run uses NetworkMode none only (and starts berthd with -b none):\n  ${others.join('\n  ')}\n`);
}
const tar = await busyboxTar();
// With another berthd on the host, ours must not touch berth0 or the BERTH chains at all.
const d = await startDaemon(others.length ? { args: ['-b', 'none'] } : {});
let ok = false;
let report = '';
try {
  if (DENSITY) {
    ok = await density(d, tar);
  } else {
    const s = await soak(d, tar, others);
    const dk = await dockerdSoak(tar).catch((e) => ({ note: `dockerd run failed: ${e.message}` }));
    const rows = [SUMMARY_HEAD];
    for (const [m, r] of s.results) rows.push(summarize(`berthd, NetworkMode ${m}`, r));
    for (const [m, r] of dk.results ?? []) rows.push(summarize(`dockerd, NetworkMode ${m}`, r));
    const failures = s.results.flatMap(([, r]) => r.failures);
    const leaked = leaks(s.before, s.after, s.hostWide);
    report += `\nberth soak (T1): ${WORKERS} workers × create → start → wait → delete \`true\`, ${SECONDS} s` +
      ` (${s.modes.map((m) => `NetworkMode ${m}`).join(', then ')}; ${WARMUP} warm-up cycles per mode before the baseline)\n\n`;
    report += `${table(rows)}\n\n`;
    for (const [m, r] of s.results) { const f = failureReport(`berthd ${m}`, r.failures); if (f) report += `${f}\n\n`; }
    for (const [m, r] of dk.results ?? []) { const f = failureReport(`dockerd ${m}`, r.failures); if (f) report += `${f}\n\n`; }
    const done = s.results.reduce((n, [, r]) => n + r.ok.length + r.failures.length, 0);
    report += `berthd over the loops: peak RSS ${mb(s.peakRss)} MB; CPU ${s.cpu.toFixed(1)} s (${((s.cpu / done) * 1000).toFixed(1)} ms per cycle)\n\n`;
    report += `leaks (berthd ${d.pid}, ${d.dir}):\n${leakTable(s.before, s.after, s.hostWide)}\n\n`;
    if (others.length) report += 'default bridge phase skipped: another berthd was running at the start\n';
    if (s.othersAfter.length) report += `another berthd ran during the run (host-wide rows not judged):\n  ${s.othersAfter.join('\n  ')}\n`;
    if (!others.length && !berth0) report += 'berth0 did not exist before the run (created by this berthd)\n';
    report += `dockerd: ${dk.note}\n`;
    report += `verdict: ${failures.length} failed cycles; ${leaked.length ? `LEAKED: ${leaked.join('; ')}` : 'no leaks'}`;
    ok = failures.length === 0 && leaked.length === 0 && !stopping;
    console.log(report);
  }
} catch (e) {
  console.error(`soak aborted: ${e.stack ?? e}\nberthd log tail:\n${d.logTail(3000)}`);
} finally {
  await run('docker', ['rmi', '-f', IMG], d.env).catch(() => undefined);
  // The daemon dir goes at cleanup: keep the log of a failed run for the post-mortem.
  if (!ok) {
    const keep = `/tmp/berth-soak-${process.pid}.log`;
    try { fs.copyFileSync(d.logFile, keep); console.error(`berthd log kept at ${keep}`); } catch { /* no log */ }
  }
  const left = await d.cleanup();
  if (left.length) console.error(`leftovers swept at cleanup: ${left.join(', ')}`);
}
process.exitCode = ok ? 0 : 1;
