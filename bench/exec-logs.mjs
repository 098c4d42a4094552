#!/usr/bin/env node
// exec latency and logs throughput: median of N `docker exec c true` (and `berth exec`), then a container that
// writes 100 MB to stdout (time until it exits) and `docker logs` reading it back (MB/s). Against a private
// berthd, and against a real dockerd side by side when /var/run/docker.sock answers. Needs a build (npm run build).
// Usage: node bench/exec-logs.mjs [N=20]
import { cli, daemon, fixtures, runCapture, withDockerd } from './lib.mjs';

// Reading 100 MB of logs through the docker CLI takes a while: a long timeout.
const run = (cmd, args, env = {}, keep = true) => runCapture(cmd, args, env, { timeoutMs: 300_000, keep });

const { startDaemon } = daemon;
const { busyboxTar } = fixtures;
const { berthBin } = cli;

const N = Number(process.argv[2] ?? 20);
const WARMUP = 3;
const IMG = 'busybox:local';
const BYTES = 100_000_000;
const LINE = 100; // fold -w 100: every 100 bytes get a newline
// fold puts a newline between lines, not after the last one: one newline fewer than lines
const EXPECTED = BYTES + BYTES / LINE - 1;

/** Runs a command; resolves with { out, bytes } (stdout counted, kept only when keep). */
const now = () => Number(process.hrtime.bigint()) / 1e6;
const pct = (xs, p) => { const s = [...xs].sort((a, b) => a - b); return s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)]; };

async function execLatency(cli, env, name) {
  const ms = [];
  for (let i = 0; i < WARMUP + N; i++) {
    const t0 = now();
    await run(cli, ['exec', name, 'true'], env);
    if (i >= WARMUP) ms.push(now() - t0);
  }
  return ms;
}

async function logsThroughput(env, name) {
  const t0 = now();
  await run('docker', ['run', '-d', '--name', name, IMG, 'sh', '-c',
    `head -c ${BYTES} /dev/zero | tr '\\0' 'a' | fold -w ${LINE}`], env);
  await run('docker', ['wait', name], env);
  const write = now() - t0;
  const t1 = now();
  const { bytes } = await run('docker', ['logs', name], env, false);
  const read = now() - t1;
  // A throughput figure is worthless if data went missing: say so loudly beside it.
  if (bytes !== EXPECTED) console.error(`WARNING: docker logs returned ${bytes} bytes, expected ${EXPECTED} (${EXPECTED - bytes} missing)`);
  await run('docker', ['rm', '-f', name], env);
  return { write, read, bytes };
}

async function measure(label, env, withBerth) {
  const rows = [];
  process.stderr.write(`${label}: exec latency (${N} runs after ${WARMUP} warm-ups)\n`);
  await run('docker', ['run', '-d', '--name', 'bench-exec', IMG, 'sleep', '1000'], env);
  try {
    const ms = await execLatency('docker', env, 'bench-exec');
    rows.push([`docker exec c true → ${label}`, `${pct(ms, 50).toFixed(1)} ms`, `p90 ${pct(ms, 90).toFixed(1)} ms`]);
    if (withBerth) {
      const b = await execLatency(berthBin, env, 'bench-exec');
      rows.push([`berth exec c true → ${label}`, `${pct(b, 50).toFixed(1)} ms`, `p90 ${pct(b, 90).toFixed(1)} ms`]);
    }
  } finally {
    await run('docker', ['rm', '-f', 'bench-exec'], env).catch(() => undefined);
  }
  process.stderr.write(`${label}: logs throughput (${(EXPECTED / 1e6).toFixed(0)} MB)\n`);
  const l = await logsThroughput(env, 'bench-logs').catch(async (e) => {
    await run('docker', ['rm', '-f', 'bench-logs'], env).catch(() => undefined);
    throw e;
  });
  const mbs = (ms) => `${(l.bytes / 1e6 / (ms / 1000)).toFixed(1)} MB/s`;
  rows.push([`container writes 101 MB to stdout → ${label}`, `${(l.write / 1000).toFixed(2)} s`, mbs(l.write)]);
  rows.push([`docker logs reads it back → ${label}`, `${(l.read / 1000).toFixed(2)} s`,
    `${mbs(l.read)}${l.bytes === EXPECTED ? '' : ` (INCOMPLETE: ${l.bytes} of ${EXPECTED} bytes)`}`]);
  return rows;
}

const tar = await busyboxTar();
const rows = [];
const d = await startDaemon();
try {
  await run('docker', ['import', '--change', 'CMD ["sh"]', tar, IMG], d.env);
  rows.push(...await measure('berthd', d.env, true));
} finally {
  const left = await d.cleanup();
  if (left.length) console.error(`leftovers swept: ${left.join(', ')}`);
}

const dockerd = await withDockerd(tar, IMG, async (env) => { rows.push(...await measure('dockerd', env, false)); });

const w = [0, 1, 2].map((i) => Math.max(...rows.map((r) => r[i].length)));
console.log(rows.map((r) => r.map((c, i) => c.padEnd(w[i])).join('  ')).join('\n'));
console.log(`dockerd: ${dockerd}`);
