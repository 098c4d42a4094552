#!/usr/bin/env node
// Where a logged byte's time goes, one stage at a time, for the 100 MB-to-stdout container of issue 12:
//   1. the producer alone (the container's shell pipeline writing to /dev/null): the ceiling for any log write
//   2. log write (`run -d` + `wait`: producer → conmon → k8s-file), berthd is not on this path
//   3. berthd serving GET /logs to a Node client that only counts bytes (parse + frame + socket, no CLI)
//   4. `docker logs` into a pipe (the figure issue 12 quotes) and into /dev/null
//   5. attached `docker run` (conmon's attach socket → berthd → the CLI)
// Figures are MB/s of the container's payload (101 MB). Needs root, a build (npm run build), the docker CLI.
// Usage: node bench/logs-stages.mjs [repeats=1] [other-checkout]
// With another (built) checkout, both berthds run side by side, each on its own bridge, and each round
// measures them one after the other (alternating which goes first), so the machine's noise falls on both.
// BERTH_PROF=<dir> runs this checkout's berthd under `node --cpu-prof` and leaves the profile in <dir>.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { daemon, fixtures, runCapture, textPayload } from './lib.mjs';

const REPEATS = Number(process.argv[2] ?? 1);
const OTHER = process.argv[3];
const IMG = 'busybox:local';
const BYTES = 100_000_000;
const LINE = 100;
const EXPECTED = BYTES + BYTES / LINE - 1;
const WRITE_100MB = `head -c ${BYTES} /dev/zero | tr '\\0' 'a' | fold -w ${LINE}`;

const run = (cmd, args, env = {}, keep = true) => runCapture(cmd, args, env, { timeoutMs: 300_000, keep });
const now = () => Number(process.hrtime.bigint()) / 1e6;
const mbs = (bytes, t) => (bytes / 1e6 / (t / 1000));
const say = (m) => process.stderr.write(`  ${m}\n`);

/** GET /containers/{name}/logs over the unix socket; resolves with the body's byte count. */
function apiLogs(socket, name) {
  return new Promise((resolve, reject) => {
    const req = http.request({ socketPath: socket, path: `/containers/${name}/logs?stdout=1&stderr=1`, method: 'GET' }, (res) => {
      let bytes = 0;
      res.on('data', (d) => { bytes += d.length; });
      res.on('end', () => resolve(bytes));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
}

// --cpu-prof is refused in NODE_OPTIONS: a wrapper puts it on node's command line
let berthd;
if (process.env.BERTH_PROF) {
  berthd = path.join(process.env.BERTH_PROF, 'berthd-prof');
  fs.writeFileSync(berthd, `#!/bin/sh\nexec node --cpu-prof --cpu-prof-dir=${process.env.BERTH_PROF} ${daemon.berthdBin} "$@"\n`, { mode: 0o755 });
}
const tar = await fixtures.busyboxTar();
// the same bytes as WRITE_100MB, prebuilt on the host for the fast producer
const payload = textPayload(fs.mkdtempSync('/tmp/logs-stages-'), BYTES / LINE, LINE);

/** One round of every stage against one berthd. */
async function round(d, add) {
  const env = d.env;
  let t0 = now();
  await run('docker', ['run', '--rm', '--network', 'none', IMG, 'true'], env);
  const startup = now() - t0; // a run's own cost, taken off the figures that include one
  t0 = now();
  await run('docker', ['run', '--rm', '--network', 'none', IMG, 'sh', '-c', `${WRITE_100MB} >/dev/null`], env);
  add('1. producer alone (>/dev/null in the container), less a `run true`', mbs(EXPECTED, now() - t0 - startup));

  t0 = now();
  await run('docker', ['run', '-d', '--network', 'none', '--name', 'bench-logs', IMG, 'sh', '-c', WRITE_100MB], env);
  await run('docker', ['wait', 'bench-logs'], env);
  add('2. log write (run -d + wait)', mbs(EXPECTED, now() - t0));

  // conmon's own rate: a producer that costs nothing (cat of a bind-mounted file)
  t0 = now();
  await run('docker', ['run', '-d', '--network', 'none', '--name', 'bench-cat', '-v', `${payload}:/p:ro`, IMG, 'cat', '/p'], env);
  await run('docker', ['wait', 'bench-cat'], env);
  add('2b. log write, `cat` of a 101 MB file (conmon alone), less a `run true`', mbs(EXPECTED, now() - t0 - startup));
  await run('docker', ['rm', '-f', 'bench-cat'], env);

  t0 = now();
  const b1 = await apiLogs(d.socket, 'bench-logs');
  add('3. GET /logs to a Node client (body, frames included)', mbs(b1, now() - t0));
  add('   frame headers per payload byte', (b1 - EXPECTED) / EXPECTED);
  t0 = now();
  const { bytes } = await run('docker', ['logs', 'bench-logs'], env, false);
  if (bytes !== EXPECTED) console.error(`WARNING: docker logs returned ${bytes} bytes, expected ${EXPECTED}`);
  add('4. docker logs into a pipe (issue 12\'s figure)', mbs(bytes, now() - t0));
  t0 = now();
  const r2 = spawnSync('sh', ['-c', 'docker logs bench-logs >/dev/null'], { env: { ...process.env, ...env } });
  if (r2.status !== 0) console.error(`docker logs >/dev/null: ${r2.stderr}`);
  add('   docker logs >/dev/null', mbs(EXPECTED, now() - t0));
  await run('docker', ['rm', '-f', 'bench-logs'], env);

  t0 = now();
  const att = await run('docker', ['run', '--rm', '--network', 'none', IMG, 'sh', '-c', WRITE_100MB], env, false);
  if (att.bytes !== EXPECTED) console.error(`WARNING: attached run returned ${att.bytes} bytes`);
  add('5. attached run into a pipe', mbs(att.bytes, now() - t0));
  t0 = now();
  const catAtt = await run('docker', ['run', '--rm', '--network', 'none', '-v', `${payload}:/p:ro`, IMG, 'cat', '/p'], env, false);
  if (catAtt.bytes !== EXPECTED) console.error(`WARNING: attached cat returned ${catAtt.bytes} bytes`);
  add('5b. attached run of that `cat`, less a `run true`', mbs(EXPECTED, now() - t0 - startup));
}

const builds = [{ name: 'this checkout', opts: { berthd, args: ['-b', 'bls12a', '--bip', '172.31.241.1/24'] } }];
if (OTHER) builds.push({ name: OTHER, opts: { berthd: path.join(OTHER, 'bin', 'berthd'), args: ['-b', 'bls12b', '--bip', '172.31.242.1/24'] } });
const rows = new Map();
try {
  for (const b of builds) {
    b.d = await daemon.startDaemon(b.opts);
    await run('docker', ['import', '--change', 'CMD ["sh"]', tar, IMG], b.d.env);
  }
  for (let r = 0; r < REPEATS; r++) {
    for (const b of r % 2 ? [...builds].reverse() : builds) {
      say(`round ${r + 1}: ${b.name}`);
      await round(b.d, (k, v) => {
        const row = rows.get(k) ?? rows.set(k, builds.map(() => [])).get(k);
        row[builds.indexOf(b)].push(v);
      });
    }
  }
} finally {
  fs.rmSync(path.dirname(payload), { recursive: true, force: true });
  for (const b of builds) {
    if (!b.d) continue;
    const left = await b.d.cleanup();
    if (left.length) console.error(`leftovers swept: ${left.join(', ')}`);
  }
}
const load = fs.readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
console.log(`\nlogs stages, ${new Date().toISOString()}, load average ${load}, ${REPEATS} round(s), MB/s of payload (each round's figure, in order)\n`);
console.log(`| stage | ${builds.map((b) => b.name).join(' | ')} |`);
console.log(`|---|${builds.map(() => '---|').join('')}`);
for (const [k, per] of rows) {
  const f = (vs) => vs.map((v) => (k.includes('headers') ? v.toFixed(3) : v.toFixed(0))).join(' / ');
  console.log(`| ${k} | ${per.map(f).join(' | ')} |`);
}
