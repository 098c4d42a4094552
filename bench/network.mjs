#!/usr/bin/env node
// What networking adds to `run`: median `docker run --rm IMG true` on the default bridge vs `--network none`,
// and the wall time to start 50 containers on one user-defined network (`run -d`, 8 at a time). Against a
// private berthd, and a real dockerd side by side when /var/run/docker.sock answers. Cleans up after itself.
// The aim: bridge setup adds at most 30 ms. Run no other berthd meanwhile (berth0 and the BERTH-*
// chains are host-wide). Needs a build (npm run build). Usage: node bench/network.mjs [N=15] [M=50]
import { daemon, fixtures, run, withDockerd } from './lib.mjs';

const { startDaemon } = daemon;
const { busyboxTar } = fixtures;

const N = Number(process.argv[2] ?? 15);
const M = Number(process.argv[3] ?? 50);
const PARALLEL = 8;
const WARMUP = 3;
const IMG = 'busybox:local';
const NET = 'bench-net';

const now = () => Number(process.hrtime.bigint()) / 1e6;
const pct = (xs, p) => { const s = [...xs].sort((a, b) => a - b); return s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)]; };

async function runLatency(env, extra) {
  const ms = [];
  for (let i = 0; i < WARMUP + N; i++) {
    const t0 = now();
    await run('docker', ['run', '--rm', ...extra, IMG, 'true'], env);
    if (i >= WARMUP) ms.push(now() - t0);
  }
  return ms;
}

async function measure(label, env) {
  const rows = [];
  // Interleave the two modes so drift (page cache, other load) hits both alike.
  const bridge = [];
  const none = [];
  process.stderr.write(`${label}: run --rm true, bridge vs none (${N} each)\n`);
  for (let i = 0; i < 3; i++) {
    bridge.push(...await runLatency(env, []));
    none.push(...await runLatency(env, ['--network', 'none']));
  }
  const b = pct(bridge, 50);
  const n = pct(none, 50);
  rows.push([`run --rm true, default bridge → ${label}`, `${b.toFixed(1)} ms`, `p90 ${pct(bridge, 90).toFixed(1)} ms`]);
  rows.push([`run --rm true, --network none → ${label}`, `${n.toFixed(1)} ms`, `p90 ${pct(none, 90).toFixed(1)} ms`]);
  rows.push([`networking adds (median difference) → ${label}`, `${(b - n).toFixed(1)} ms`, b - n <= 30 ? 'aim ≤ 30 ms: met' : 'aim ≤ 30 ms: NOT met']);

  process.stderr.write(`${label}: ${M} containers on one user network, ${PARALLEL} at a time\n`);
  await run('docker', ['network', 'create', NET], env);
  const ids = [];
  try {
    let next = 0;
    const t0 = now();
    await Promise.all(Array.from({ length: PARALLEL }, async () => {
      while (next < M) {
        next++;
        ids.push((await run('docker', ['run', '-d', '--network', NET, IMG, 'sleep', '1000'], env)).trim());
      }
    }));
    const total = now() - t0;
    const running = (await run('docker', ['ps', '-q', '--filter', `network=${NET}`], env)).split('\n').filter(Boolean).length;
    rows.push([`start ${M} containers on one network → ${label}`, `${(total / 1000).toFixed(2)} s`, `${(total / M).toFixed(1)} ms each; ${running} running`]);
  } finally {
    for (let i = 0; i < ids.length; i += 25) await run('docker', ['rm', '-f', ...ids.slice(i, i + 25)], env).catch(() => undefined);
    await run('docker', ['network', 'rm', NET], env).catch((e) => console.error(String(e)));
  }
  return rows;
}

const tar = await busyboxTar();
const rows = [];
const d = await startDaemon();
try {
  await run('docker', ['import', '--change', 'CMD ["sh"]', tar, IMG], d.env);
  rows.push(...await measure('berthd', d.env));
} finally {
  const left = await d.cleanup();
  if (left.length) console.error(`leftovers swept: ${left.join(', ')}`);
}

const dockerd = await withDockerd(tar, IMG, async (env) => { rows.push(...await measure('dockerd', env)); });

const w = [0, 1, 2].map((i) => Math.max(...rows.map((r) => r[i].length)));
console.log(rows.map((r) => r.map((c, i) => c.padEnd(w[i])).join('  ')).join('\n'));
console.log(`dockerd: ${dockerd}`);
