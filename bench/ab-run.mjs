#!/usr/bin/env node
// Two builds side by side in one run: `docker run --rm busybox:local true` against this checkout's berthd (A)
// and another build's (B, e.g. a worktree of an older commit, built), alternating A B B A ... so that the
// machine's noise falls on both alike. Each daemon has its own bridge, so neither touches berth0 or the other.
// Needs root, a build of both and the docker CLI. Usage: node bench/ab-run.mjs <other-checkout> [N=40]
import fs from 'node:fs';
import path from 'node:path';
import { daemon, fixtures, run } from './lib.mjs';

const other = process.argv[2];
const N = Number(process.argv[3] ?? 40);
const WARMUP = 3;
const IMG = 'busybox:local';
if (!other || !fs.existsSync(path.join(other, 'dist', 'src', 'main', 'berthd.js'))) {
  console.error('usage: node bench/ab-run.mjs <other-checkout, built> [N=40]');
  process.exit(2);
}

const pct = (xs, p) => { const s = [...xs].sort((a, b) => a - b); return s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)]; };
const once = async (args, env) => {
  const t0 = process.hrtime.bigint();
  await run('docker', args, env);
  return Number(process.hrtime.bigint() - t0) / 1e6;
};

const tar = await fixtures.busyboxTar();
const builds = [
  { name: 'A (this checkout)', opts: { args: ['-b', 'bab7a', '--bip', '172.31.247.1/24'] } },
  { name: `B (${other})`, opts: { args: ['-b', 'bab7b', '--bip', '172.31.248.1/24'], berthd: path.join(other, 'bin', 'berthd') } },
];
const started = [];
try {
  for (const b of builds) {
    b.d = await daemon.startDaemon(b.opts);
    started.push(b.d);
    await run('docker', ['import', '--change', 'CMD ["sh"]', tar, IMG], b.d.env);
  }
  const variants = [['bridge', ['run', '--rm', IMG, 'true']], ['--network none', ['run', '--rm', '--network', 'none', IMG, 'true']]];
  const results = [];
  for (const [label, args] of variants) {
    const ms = builds.map(() => []);
    for (let i = 0; i < WARMUP + N; i++) {
      const order = i % 2 === 0 ? [0, 1] : [1, 0];
      for (const k of order) {
        const dt = await once(args, builds[k].d.env);
        if (i >= WARMUP) ms[k].push(dt);
      }
    }
    process.stderr.write(`  ${label}: done\n`);
    results.push([label, ms]);
  }
  console.log(`\nside by side: docker run --rm ${IMG} true, N=${N} each after ${WARMUP} warm-ups, alternating\n`);
  console.log(['network'.padEnd(16), 'build'.padEnd(40), 'median'.padEnd(10), 'p90'].join(' '));
  for (const [label, ms] of results) {
    builds.forEach((b, k) => {
      console.log([label.padEnd(16), b.name.padEnd(40), `${pct(ms[k], 50).toFixed(1)} ms`.padEnd(10), `${pct(ms[k], 90).toFixed(1)} ms`].join(' '));
    });
  }
} finally {
  for (const d of started) {
    await run('docker', ['rmi', IMG], d.env).catch(() => undefined);
    await d.cleanup();
  }
}
