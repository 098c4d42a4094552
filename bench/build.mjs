#!/usr/bin/env node
// Build times (issue 11): a 10-instruction Dockerfile on the busybox test image, built uncached (--no-cache),
// fully cached (the same build again) and after changing one copied file (that COPY and the steps after it
// re-run). Medians of N rounds with `docker build` (DOCKER_BUILDKIT=0: the classic POST /build) against a
// private berthd, `berth build` against it, and `docker build` against a real dockerd's classic builder when
// /var/run/docker.sock answers. Needs root and a build (npm run build).
// Usage: node bench/build.mjs [N=10]
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { cli, daemon, fixtures, runCapture, withDockerd } from './lib.mjs';

const { startDaemon } = daemon;
const { busyboxTar } = fixtures;
const { berthBin } = cli;

const N = Number(process.argv[2] ?? 10);
const IMG = 'busybox:local';
const TAG = 'bench-build:latest';
const DOCKERFILE = `FROM ${IMG}
ENV APP=/app MODE=bench
ARG VERSION=1
WORKDIR /app
COPY a.txt b.txt c.txt ./
RUN cat a.txt b.txt c.txt > all.txt
RUN echo "$VERSION $MODE" > version && wc -c all.txt > sizes
LABEL org.example.bench=build
EXPOSE 8080
CMD ["sh", "-c", "cat /app/version"]
`;

const now = () => Number(process.hrtime.bigint()) / 1e6;
const median = (xs) => { const s = [...xs].sort((a, b) => a - b); return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2; };
const fmt = (ms) => (ms >= 1000 ? `${(ms / 1000).toFixed(2)} s` : `${ms.toFixed(0)} ms`);

const ctxDir = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-bench-build-'));
fs.writeFileSync(path.join(ctxDir, 'Dockerfile'), DOCKERFILE);
fs.writeFileSync(path.join(ctxDir, 'a.txt'), 'alpha\n'.repeat(100));
fs.writeFileSync(path.join(ctxDir, 'b.txt'), 'beta\n'.repeat(1000));
let edits = 0;
const editC = () => fs.writeFileSync(path.join(ctxDir, 'c.txt'), `gamma ${process.pid} ${++edits}\n`);
editC();

async function build(cmd, env, extra = []) {
  const t0 = now();
  const { out } = await runCapture(cmd, ['build', ...extra, '-t', TAG, ctxDir], { DOCKER_BUILDKIT: '0', ...env });
  return { ms: now() - t0, out };
}

/** One warm-up round, then N rounds of uncached → cached → one file changed. */
async function measure(label, cmd, env) {
  process.stderr.write(`${label}: 1 warm-up + ${N} rounds\n`);
  const t = { uncached: [], cached: [], changed: [] };
  for (let i = 0; i <= N; i++) {
    editC();
    const u = await build(cmd, env, ['--no-cache']);
    const c = await build(cmd, env);
    // A "cached" figure means nothing if a step ran: every step after FROM must say so.
    const used = (c.out.match(/Using cache/g) ?? []).length;
    if (used !== 9) throw new Error(`${label}: the rebuild used the cache for ${used} of 9 steps:\n${c.out}`);
    editC();
    const ch = await build(cmd, env);
    const reused = (ch.out.match(/Using cache/g) ?? []).length;
    if (reused !== 3) throw new Error(`${label}: after changing c.txt ${reused} of 9 steps came from the cache (want 3):\n${ch.out}`);
    if (i === 0) continue;
    t.uncached.push(u.ms); t.cached.push(c.ms); t.changed.push(ch.ms);
  }
  await runCapture('docker', ['rmi', TAG], env).catch(() => undefined);
  return [label, fmt(median(t.uncached)), fmt(median(t.cached)), fmt(median(t.changed))];
}

const tar = await busyboxTar();
const rows = [['', 'uncached', 'fully cached', 'one file changed']];
const d = await startDaemon();
try {
  await runCapture('docker', ['import', '--change', 'CMD ["sh"]', tar, IMG], d.env);
  rows.push(await measure('docker build (classic API) → berthd', 'docker', d.env));
  rows.push(await measure('berth build → berthd', berthBin, d.env));
} finally {
  const left = await d.cleanup();
  if (left.length) console.error(`leftovers swept: ${left.join(', ')}`);
}
const dockerd = await withDockerd(tar, IMG, async (env) => {
  rows.push(await measure('docker build, DOCKER_BUILDKIT=0 → dockerd', 'docker', env));
});
fs.rmSync(ctxDir, { recursive: true, force: true });

const w = [0, 1, 2, 3].map((i) => Math.max(...rows.map((r) => r[i].length)));
console.log(rows.map((r) => r.map((c, i) => c.padEnd(w[i])).join('  ')).join('\n'));
console.log(`medians of ${N}; dockerd: ${dockerd}; aims (BuildKit here): ~1.0 s / 125 ms / 156 ms`);
