#!/usr/bin/env node
// Is the log-write figure the engine's or the producer's? The same 101 MB of 100-byte lines written to stdout by
// five producers: busybox's `head | tr | fold` (the issue's, three processes), `yes | head -c` (two), and one
// process reading a prepared file bind-mounted read-only (`cat`, which uses sendfile; `dd` at 64 KiB and 4 KiB
// per write). For each: the producer alone into /dev/null inside the container (less a `run true`), the log
// write (`run -d` + `wait`), `docker logs` of it and the attached run, in MB/s.
// Against a private berthd, or against the engine DOCKER_HOST names (e.g. a dockerd) when it is set.
// Usage: [MODE=null,write,logs,attach] node bench/producers.mjs [rounds=1] [producer,...]
import fs from 'node:fs';
import { daemon, fixtures, runCapture, textPayload } from './lib.mjs';
const IMG = 'busybox:local';
const BYTES = 100_000_000, LINE = 100, EXPECTED = BYTES + BYTES / LINE - 1;
const run = (cmd, args, env = {}, keep = true) => runCapture(cmd, args, env, { timeoutMs: 300_000, keep });
const now = () => Number(process.hrtime.bigint()) / 1e6;
const payloadDir = fs.mkdtempSync('/tmp/bench-producers-');
process.on('exit', () => fs.rmSync(payloadDir, { recursive: true, force: true }));
const payload = textPayload(payloadDir, BYTES / LINE, LINE);
const P = {
  pipeline: `head -c ${BYTES} /dev/zero | tr '\\0' 'a' | fold -w ${LINE}`,
  yes: `yes ${'a'.repeat(LINE)} | head -c ${EXPECTED}`,
  cat: 'cat /p',
  dd64k: 'dd if=/p bs=64k status=none',
  dd4k: 'dd if=/p bs=4k status=none',
};
const which = (process.argv[3] ?? Object.keys(P).join(',')).split(',');
const rounds = Number(process.argv[2] ?? 1);
const env0 = process.env.DOCKER_HOST ? { DOCKER_HOST: process.env.DOCKER_HOST } : undefined;
let d;
let env;
if (env0) { env = env0; } else {
  d = await daemon.startDaemon({ args: ['-b', 'bpr12', '--bip', '172.31.243.1/24'] });
  env = d.env;
}
const tar = await fixtures.busyboxTar();
await run('docker', ['import', '--change', 'CMD ["sh"]', tar, IMG], env);
const mode = process.env.MODE ?? 'null,write,logs,attach';
try {
  for (let r = 0; r < rounds; r++) for (const k of which) {
    const vol = ['-v', `${payload}:/p:ro`];
    const res = [];
    let t0 = now();
    await run('docker', ['run', '--rm', '--network', 'none', IMG, 'true'], env);
    const su = now() - t0;
    if (mode.includes('null')) {
      t0 = now();
      await run('docker', ['run', '--rm', '--network', 'none', ...vol, IMG, 'sh', '-c', `${P[k]} >/dev/null`], env);
      res.push(`null ${(EXPECTED / 1e3 / (now() - t0 - su)).toFixed(0)}`);
    }
    if (mode.includes('write')) {
      t0 = now();
      await run('docker', ['run', '-d', '--network', 'none', '--name', 'bp', ...vol, IMG, 'sh', '-c', P[k]], env);
      await run('docker', ['wait', 'bp'], env);
      res.push(`write ${(EXPECTED / 1e3 / (now() - t0)).toFixed(0)}`);
      if (mode.includes('logs')) {
        t0 = now();
        const { bytes } = await run('docker', ['logs', 'bp'], env, false);
        res.push(`logs ${(bytes / 1e3 / (now() - t0)).toFixed(0)}${bytes === EXPECTED ? '' : ' BAD ' + bytes}`);
      }
      await run('docker', ['rm', '-f', 'bp'], env);
    }
    if (mode.includes('attach')) {
      t0 = now();
      const a = await run('docker', ['run', '--rm', '--network', 'none', ...vol, IMG, 'sh', '-c', P[k]], env, false);
      res.push(`attach ${(a.bytes / 1e3 / (now() - t0)).toFixed(0)}${a.bytes === EXPECTED ? '' : ' BAD ' + a.bytes}`);
    }
    // "null" is the producer's rate alone; for the file readers it is within a `run true`'s noise
    console.log(`${k.padEnd(9)} ${res.join('  ')}   load ${fs.readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ')}`);
  }
} finally {
  if (d) await d.cleanup();
  else await run('docker', ['rmi', IMG], env).catch(() => undefined);
}
