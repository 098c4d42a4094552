#!/usr/bin/env node
// docker cp of a 200 MB directory in each direction, and commit of a container with 100 MB of changes (issue 9's
// figures). Against a private berthd, and against a real dockerd side by side when /var/run/docker.sock answers.
// Each figure is the median of N runs. Needs a build (npm run build).
// Usage: node bench/cp-commit.mjs [N=3]
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { daemon, fixtures, runCapture, withDockerd } from './lib.mjs';

const run = (cmd, args, env = {}) => runCapture(cmd, args, env, { timeoutMs: 600_000 });
const { startDaemon } = daemon;
const { busyboxTar } = fixtures;

const N = Number(process.argv[2] ?? 3);
const IMG = 'busybox:local';
const FILES = 200; // 200 files of 1 MB: a directory, as a user copies one
const FILE_BYTES = 1 << 20;
const TOTAL = FILES * FILE_BYTES;
const now = () => Number(process.hrtime.bigint()) / 1e6;
const median = (xs) => { const s = [...xs].sort((a, b) => a - b); return s[Math.floor(s.length / 2)]; };

/** 200 × 1 MB of incompressible-ish data on the host (random bytes, written once). */
function makeSource(dir) {
  fs.mkdirSync(dir, { recursive: true });
  const block = Buffer.alloc(FILE_BYTES);
  for (let i = 0; i < FILES; i++) {
    for (let o = 0; o < FILE_BYTES; o += 4) block.writeUInt32LE((Math.random() * 2 ** 32) >>> 0, o);
    fs.writeFileSync(path.join(dir, `f${i}`), block);
  }
}

function du(dir) {
  let n = 0;
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    n += e.isDirectory() ? du(p) : fs.lstatSync(p).size;
  }
  return n;
}

async function measure(label, env, src, scratch) {
  const rows = [];
  const name = `bench-cp-${process.pid}`;
  await run('docker', ['run', '-d', '--name', name, IMG, 'sleep', '100000'], env);
  try {
    const into = [];
    const out = [];
    for (let i = 0; i < N; i++) {
      await run('docker', ['exec', name, 'rm', '-rf', '/data'], env);
      let t0 = now();
      await run('docker', ['cp', src, `${name}:/data`], env);
      into.push(now() - t0);
      const back = path.join(scratch, `back-${label}-${i}`);
      t0 = now();
      await run('docker', ['cp', `${name}:/data`, back], env);
      out.push(now() - t0);
      const got = du(back);
      if (got !== TOTAL) console.error(`WARNING: ${label}: cp out brought ${got} bytes back, expected ${TOTAL}`);
      fs.rmSync(back, { recursive: true, force: true });
    }
    const mbs = (ms) => `${(TOTAL / 1e6 / (ms / 1000)).toFixed(0)} MB/s`;
    rows.push([`docker cp 210 MB dir host → container (${label})`, `${(median(into) / 1000).toFixed(2)} s`, mbs(median(into))]);
    rows.push([`docker cp 210 MB dir container → host (${label})`, `${(median(out) / 1000).toFixed(2)} s`, mbs(median(out))]);
  } finally {
    await run('docker', ['rm', '-f', name], env).catch(() => undefined);
  }
  // commit: a container whose upper layer holds 100 MB of new files
  const commits = [];
  for (let i = 0; i < N; i++) {
    const c = `bench-commit-${process.pid}-${i}`;
    await run('docker', ['run', '--name', c, IMG, 'sh', '-c',
      'mkdir /big && for i in $(seq 1 100); do head -c 1048576 /dev/urandom > /big/f$i; done'], env);
    try {
      const t0 = now();
      await run('docker', ['commit', c, `bench-committed:${i}`], env);
      commits.push(now() - t0);
    } finally {
      await run('docker', ['rm', '-f', c], env).catch(() => undefined);
      await run('docker', ['rmi', `bench-committed:${i}`], env).catch(() => undefined);
    }
  }
  rows.push([`docker commit, 105 MB of changes (${label})`, `${(median(commits) / 1000).toFixed(2)} s`, '']);
  return rows;
}

const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'bench-cp-'));
const src = path.join(scratch, 'src');
makeSource(src);
const tar = await busyboxTar();
const rows = [];
try {
  const d = await startDaemon();
  try {
    await run('docker', ['import', '--change', 'CMD ["sh"]', tar, IMG], d.env);
    rows.push(...await measure('berthd', d.env, src, scratch));
  } finally {
    const left = await d.cleanup();
    if (left.length) console.error(`leftovers swept: ${left.join(', ')}`);
  }
  const dockerd = await withDockerd(tar, IMG, async (env) => {
    rows.push(...await measure('dockerd', env, src, scratch));
  });
  const w = [0, 1, 2].map((i) => Math.max(...rows.map((r) => r[i].length)));
  console.log(rows.map((r) => r.map((c, i) => c.padEnd(w[i])).join('  ')).join('\n'));
  console.log(`aims: cp ≥ 150 MB/s each way; commit ≤ half of Docker's time. dockerd: ${dockerd}`);
} finally {
  fs.rmSync(scratch, { recursive: true, force: true });
}
