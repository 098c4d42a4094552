#!/usr/bin/env node
// berthd's logs read path alone, without a container, a socket or a CLI: streamLogs (the build's
// dist/src/services/log-driver/reader.js) over a prebuilt k8s-file log of 100 MB of 100-byte lines,
// into a sink that frames as GET /logs does (8-byte header per write) and only counts. Pass other
// checkouts to compare builds in the same minute, alternating. MB/s of payload.
// Usage: node bench/logs-parse.mjs [other-checkout...] [--rounds=N] [--stderr-every=K]
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { root } from './lib.mjs';

const args = process.argv.slice(2);
const opt = (name, dflt) => Number(args.find((a) => a.startsWith(`--${name}=`))?.split('=')[1] ?? dflt);
const ROUNDS = opt('rounds', 3);
const STDERR_EVERY = opt('stderr-every', 0); // every K-th line on stderr (0: none)
const checkouts = [root, ...args.filter((a) => !a.startsWith('--'))];
const LINES = 1_000_000;
const LINE = 100;

// conmon's records: one timestamp per read (here per 80 lines), `F` for full lines
const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'logs-parse-')), 'ctr.log');
const fd = fs.openSync(file, 'w');
const payload = `${'a'.repeat(LINE - 1)}\n`;
let chunk = [];
for (let i = 0; i < LINES; i++) {
  const ns = String(100_000_000 + Math.floor(i / 80)).padStart(9, '0');
  const stream = STDERR_EVERY && i % STDERR_EVERY === 0 ? 'stderr' : 'stdout';
  chunk.push(`2026-12-04T19:00:00.${ns}+00:00 ${stream} F ${payload}`);
  if (chunk.length === 10_000) { fs.writeSync(fd, chunk.join('')); chunk = []; }
}
fs.writeSync(fd, chunk.join(''));
fs.closeSync(fd);
const PAYLOAD = LINES * LINE;

const readers = await Promise.all(checkouts.map(async (c) => ({
  c, mod: await import(pathToFileURL(path.join(c, 'dist', 'src', 'services', 'log-driver', 'reader.js')).href),
})));

async function once(mod, opts) {
  let bytes = 0;
  let frames = 0;
  const sink = {
    write: (_s, data) => { bytes += data.length; frames++; return true; },
    closed: () => false,
    drain: () => Promise.resolve(),
    flush: () => true,
  };
  const t0 = process.hrtime.bigint();
  await mod.streamLogs(file, { stdout: true, stderr: true, timestamps: false, follow: false, ...opts }, sink, { stopped: Promise.resolve() });
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  return { ms, bytes, frames };
}

const results = new Map();
for (let r = 0; r < ROUNDS; r++) {
  for (const { c, mod } of r % 2 ? [...readers].reverse() : readers) {
    for (const [label, opts] of [['plain', {}], ['timestamps', { timestamps: true }], ['tail 100', { tail: 100 }]]) {
      const { ms, bytes, frames } = await once(mod, opts);
      const k = `${c} ${label}`;
      (results.get(k) ?? results.set(k, []).get(k)).push({ mbs: PAYLOAD / 1e6 / (ms / 1000), bytes, frames });
    }
  }
}
fs.rmSync(path.dirname(file), { recursive: true, force: true });
console.log(`streamLogs over ${PAYLOAD / 1e6} MB (${LINES} lines${STDERR_EVERY ? `, every ${STDERR_EVERY}th on stderr` : ''}), load ${os.loadavg().map((l) => l.toFixed(1)).join(' ')}`);
for (const [k, v] of results) {
  const med = v.map((x) => x.mbs).sort((a, b) => a - b)[Math.floor(v.length / 2)];
  const ms = PAYLOAD / 1e6 / med * 1000;
  console.log(`${k.padEnd(40)} ${ms.toFixed(1).padStart(8)} ms ${k.endsWith('tail 100') ? '' : `${med.toFixed(0).padStart(5)} MB/s`}  (${v[0].frames} writes to the sink, ${v[0].bytes} bytes)`);
}
