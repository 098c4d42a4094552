#!/usr/bin/env node
// Latency and memory benchmark: `docker run --rm busybox:local true` (real docker CLI) against a private
// berthd, `berth run`, bare `runc run` (the floor), and a real dockerd when one answers; berthd idle RSS
// and conmon's per-container RSS/PSS. Needs a build (npm run build): it reuses the e2e test helpers.
// Usage: node bench/run-latency.mjs [N=20]
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { cli, daemon, fixtures, root, run, withDockerd } from './lib.mjs';

const { startDaemon, conmonProcesses } = daemon;
const { busyboxTar } = fixtures;
const { berthBin } = cli;

const N = Number(process.argv[2] ?? 20);
const WARMUP = 3;
const IMG = 'busybox:local';


/** Runs `make(i)` WARMUP + N times; returns the N wall-clock durations in ms. */
async function time(label, make) {
  const ms = [];
  for (let i = 0; i < WARMUP + N; i++) {
    const [cmd, args, env] = make(i);
    const t0 = process.hrtime.bigint();
    await run(cmd, args, env);
    const dt = Number(process.hrtime.bigint() - t0) / 1e6;
    if (i >= WARMUP) ms.push(dt);
  }
  process.stderr.write(`  ${label}: done\n`);
  return ms;
}

const pct = (xs, p) => { const s = [...xs].sort((a, b) => a - b); return s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)]; };
const kb = (pid, file, key) => {
  const m = new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(fs.readFileSync(`/proc/${pid}/${file}`, 'utf8'));
  return m ? Number(m[1]) : NaN;
};
const mb = (k) => (k / 1024).toFixed(1);

const rows = [];
const addLatency = (what, ms) => rows.push([what, `${pct(ms, 50).toFixed(1)} ms`, `${pct(ms, 90).toFixed(1)} ms`]);

const tar = await busyboxTar();
const d = await startDaemon();
try {
  await run('docker', ['import', '--change', 'CMD ["sh"]', tar, IMG], d.env);
  await new Promise((r) => setTimeout(r, 1500));
  const idleRss = kb(d.pid, 'status', 'VmRSS');

  process.stderr.write(`timing ${N} runs each (after ${WARMUP} warm-ups)\n`);
  addLatency('docker run --rm true → berthd', await time('docker→berthd', () => ['docker', ['run', '--rm', IMG, 'true'], d.env]));
  addLatency('berth run --rm true → berthd', await time('berth', () => [berthBin, ['run', '--rm', IMG, 'true'], d.env]));
  // The berth CLI is a Node program: its start-up is part of every berth command. NODE_EXTRA_CA_CERTS, when
  // set (it is on these VMs), adds ~90 ms to every Node start: shown so the figure above can be read.
  addLatency('node -e 0 (berth CLI start floor)', await time('node', () => [process.execPath, ['-e', '0'], {}]));

  // The floor: runc alone on a plain bundle (no overlay, no monitor, no API).
  const bench = fs.mkdtempSync('/tmp/bt-bench-');
  try {
    const bundle = path.join(bench, 'bundle');
    fs.mkdirSync(path.join(bundle, 'rootfs'), { recursive: true });
    spawnSync('tar', ['-xf', tar, '-C', path.join(bundle, 'rootfs')], { stdio: 'inherit' });
    spawnSync('runc', ['spec', '-b', bundle], { stdio: 'inherit' });
    const spec = JSON.parse(fs.readFileSync(path.join(bundle, 'config.json'), 'utf8'));
    spec.process.args = ['true'];
    spec.process.terminal = false;
    fs.writeFileSync(path.join(bundle, 'config.json'), JSON.stringify(spec));
    const runcRoot = path.join(bench, 'runc');
    addLatency('runc run true (floor)', await time('runc', (i) => ['runc', ['--root', runcRoot, 'run', '-b', bundle, `bench-${process.pid}-${i}`]]));
  } finally {
    fs.rmSync(bench, { recursive: true, force: true });
  }

  // Monitor overhead: conmon per running container.
  const ids = [];
  for (let i = 0; i < 5; i++) ids.push((await run('docker', ['run', '-d', IMG, 'sleep', '1000'], d.env)).trim());
  await new Promise((r) => setTimeout(r, 1000));
  const conmons = conmonProcesses(d.dir);
  const rss = conmons.map((p) => kb(p, 'smaps_rollup', 'Rss'));
  const pss = conmons.map((p) => kb(p, 'smaps_rollup', 'Pss'));
  const avg = (xs) => xs.reduce((a, b) => a + b, 0) / Math.max(1, xs.length);
  const busyRss = kb(d.pid, 'status', 'VmRSS');
  await run('docker', ['rm', '-f', ...ids], d.env);

  // A real dockerd, side by side, when one is installed and answering.
  const dockerd = await withDockerd(tar, IMG, async (env) => {
    addLatency('docker run --rm true → dockerd', await time('docker→dockerd', () => ['docker', ['run', '--rm', IMG, 'true'], env]));
  });

  const w = [38, 12, 12];
  const line = (cols) => cols.map((c, i) => String(c).padEnd(w[i])).join(' ');
  console.log(`\nberth latency benchmark (N=${N}, ${WARMUP} warm-ups)\n`);
  console.log(line(['what', 'median', 'p90']));
  for (const r of rows) console.log(line(r));
  console.log('');
  console.log(line(['berthd idle RSS', `${mb(idleRss)} MB`, '']));
  console.log(line(['berthd RSS, 5 containers running', `${mb(busyRss)} MB`, '']));
  console.log(line([`conmon RSS per container (${conmons.length})`, `${mb(avg(rss))} MB`, '']));
  console.log(line([`conmon PSS per container (${conmons.length})`, `${mb(avg(pss))} MB`, '']));
  console.log(`\ndockerd: ${dockerd}`);
  console.log('aims: docker run median <= 100 ms; berthd idle RSS <= 80 MB; <= 2 MB monitor overhead per container');
} finally {
  await run('docker', ['rmi', IMG], d.env).catch(() => undefined);
  await d.cleanup();
}
