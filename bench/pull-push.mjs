#!/usr/bin/env node
// Pull and push of a 5-layer, 200 MB image over loopback (issue 10's figures): berthd against Debian's
// docker-registry (distribution 2.8) and against `berth registry serve`, and a dockerd against the same
// registries side by side when /var/run/docker.sock answers. Each figure is the median of N runs; before
// every pull the image is removed, so every layer comes over the wire. Needs a build (npm run build).
// Usage: node bench/pull-push.mjs [N=3]
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { daemon, fixtures, root, runCapture, withDockerd } from './lib.mjs';

const run = (cmd, args, env = {}) => runCapture(cmd, args, env, { timeoutMs: 600_000 });
const N = Number(process.argv[2] ?? 3);
const IMG = 'busybox:local';
const LAYERS = 5;
const LAYER_MB = 40;
const DISTRIBUTION = '/usr/bin/docker-registry';
const now = () => Number(process.hrtime.bigint()) / 1e6;
const median = (xs) => { const s = [...xs].sort((a, b) => a - b); return s[Math.floor(s.length / 2)]; };

async function freePort() {
  const s = net.createServer();
  await new Promise((r) => s.listen(0, '127.0.0.1', r));
  const { port } = s.address();
  await new Promise((r) => s.close(r));
  return port;
}

async function waitV2(port, proc, what) {
  for (let i = 0; i < 150; i++) {
    if (proc.exitCode !== null) throw new Error(`${what} exited`);
    const r = await fetch(`http://127.0.0.1:${port}/v2/`).catch(() => undefined);
    if (r && (r.status === 200 || r.status === 401)) return;
    await new Promise((res) => setTimeout(res, 100));
  }
  throw new Error(`${what} did not answer`);
}

async function startDistribution(dir) {
  const port = await freePort();
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, 'config.yml'),
    `version: 0.1\nlog:\n  level: error\nstorage:\n  filesystem:\n    rootdirectory: ${path.join(dir, 'data')}\nhttp:\n  addr: 127.0.0.1:${port}\n`);
  const proc = spawn(DISTRIBUTION, ['serve', path.join(dir, 'config.yml')], { stdio: 'ignore' });
  await waitV2(port, proc, 'docker-registry');
  return { host: `127.0.0.1:${port}`, stop: () => proc.kill('SIGTERM') };
}

async function startBerthRegistry(dir) {
  const port = await freePort();
  const proc = spawn(path.join(root, 'bin', 'berth'), ['registry', 'serve', '--addr', `127.0.0.1:${port}`, '--root', dir, '-q'], { stdio: 'ignore' });
  await waitV2(port, proc, 'berth registry');
  return { host: `127.0.0.1:${port}`, stop: () => proc.kill('SIGTERM') };
}

/** A 5-layer image of 40 MB random data each, built with commits (so both engines make it the same way). */
async function makeBigImage(env, tag) {
  let base = IMG;
  for (let i = 0; i < LAYERS; i++) {
    const c = `bench-layer-${process.pid}-${i}`;
    await run('docker', ['run', '--name', c, base, 'sh', '-c', `head -c ${LAYER_MB * 1048576} /dev/urandom > /layer${i}`], env);
    const next = i === LAYERS - 1 ? tag : `bench-layer-tmp:${i}`;
    await run('docker', ['commit', c, next], env);
    await run('docker', ['rm', c], env);
    if (base !== IMG) await run('docker', ['rmi', base], env);
    base = next;
  }
}

async function measure(label, env, registries) {
  const rows = [];
  const local = `bench-big:${process.pid}`;
  await makeBigImage(env, local);
  try {
    for (const reg of registries) {
      const push = [];
      const pull = [];
      for (let i = 0; i < N; i++) {
        // a new repository each round: nothing of it is on the registry yet
        const ref = `${reg.host}/bench/big${i}-${label}:latest`;
        await run('docker', ['tag', local, ref], env);
        let t0 = now();
        await run('docker', ['push', '-q', ref], env);
        push.push(now() - t0);
        await run('docker', ['rmi', ref], env);
        // the tagged layers must go too, or pull finds them locally: drop the source image for the pull
        await run('docker', ['save', '-o', path.join(reg.scratch, 'keep.tar'), local], env);
        await run('docker', ['rmi', local], env);
        t0 = now();
        await run('docker', ['pull', '-q', ref], env);
        pull.push(now() - t0);
        await run('docker', ['rmi', ref], env);
        await run('docker', ['load', '-q', '-i', path.join(reg.scratch, 'keep.tar')], env);
        fs.rmSync(path.join(reg.scratch, 'keep.tar'), { force: true });
      }
      const mb = LAYERS * LAYER_MB * 1.048576;
      const fig = (ms) => `${(median(ms) / 1000).toFixed(2)} s  ${(mb / (median(ms) / 1000)).toFixed(0)} MB/s`;
      rows.push([`push 5 × 42 MB → ${reg.name} (${label})`, fig(push)]);
      rows.push([`pull 5 × 42 MB ← ${reg.name} (${label})`, fig(pull)]);
    }
  } finally {
    await run('docker', ['rmi', '-f', local], env).catch(() => undefined);
  }
  return rows;
}

const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'bench-pp-'));
const regs = [];
try {
  if (fs.existsSync(DISTRIBUTION)) regs.push({ name: 'docker-registry', scratch, ...await startDistribution(path.join(scratch, 'dist')) });
  else console.error(`${DISTRIBUTION} is not installed: only berth registry is measured`);
  regs.push({ name: 'berth registry', scratch, ...await startBerthRegistry(path.join(scratch, 'berth-reg')) });
  const tar = await fixtures.busyboxTar();
  const rows = [];
  const d = await daemon.startDaemon();
  try {
    await run('docker', ['import', '--change', 'CMD ["sh"]', tar, IMG], d.env);
    rows.push(...await measure('berthd', d.env, regs));
  } finally {
    const left = await d.cleanup();
    if (left.length) console.error(`leftovers swept: ${left.join(', ')}`);
  }
  // dockerd treats 127.0.0.0/8 registries as insecure by default, as berthd does
  const dockerd = await withDockerd(tar, IMG, async (env) => { rows.push(...await measure('dockerd', env, regs)); });
  const w = [0, 1].map((i) => Math.max(...rows.map((r) => r[i].length)));
  console.log(rows.map((r) => r.map((c, i) => c.padEnd(w[i])).join('  ')).join('\n'));
  console.log(`aims: ≥ 200 MB/s both ways; berth registry at least as fast as docker-registry. dockerd: ${dockerd}`);
} finally {
  for (const r of regs) r.stop();
  fs.rmSync(scratch, { recursive: true, force: true });
}
