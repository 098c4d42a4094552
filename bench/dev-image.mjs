#!/usr/bin/env node
// Issue 11's slower test (too slow for CI): a Debian base image made with debootstrap, and on it a development
// image like the seed's (gcc, g++, make, perl, zlib, openssh-server, nodejs from Debian; EXPOSE 22 80; WORKDIR;
// a startup script as CMD), built through a private berthd with the docker CLI's classic builder. The image is
// run and must start sshd: its banner is read on port 22 inside the container (exec) and on the published port
// from the host. Prints timings and PASS/FAIL; exits 1 on failure. Needs root, a build, network to Debian's mirror.
// The debootstrap tarball is cached under /var/cache/berth-bench/, one per day.
// Usage: node bench/dev-image.mjs
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { daemon, runCapture } from './lib.mjs';

const MIRROR = 'http://deb.debian.org/debian';
const CACHE = '/var/cache/berth-bench';
const BASE = 'debian:bookworm-local';
const TAG = 'devbox:bench';
const run = (cmd, args, env = {}, timeoutMs = 1_200_000) => runCapture(cmd, args, env, { timeoutMs }).then((r) => r.out);
const now = () => Number(process.hrtime.bigint()) / 1e6;
const secs = (ms) => `${(ms / 1000).toFixed(1)} s`;
const timings = [];
async function timed(label, fn) {
  const t0 = now();
  process.stderr.write(`${label}...\n`);
  const r = await fn();
  timings.push([label, secs(now() - t0)]);
  return r;
}

const DOCKERFILE = `FROM ${BASE}
LABEL maintainer="berth bench"
RUN apt-get update \\
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \\
      gcc g++ make perl zlib1g zlib1g-dev openssh-server nodejs \\
 && rm -rf /var/lib/apt/lists/* \\
 && sed -i 's/#PermitRootLogin.*/PermitRootLogin yes/' /etc/ssh/sshd_config \\
 && echo "cd /var/www" >> /root/.bashrc
ARG SSH_ROOT_PWD=root
RUN echo "root:\${SSH_ROOT_PWD}" | chpasswd
EXPOSE 22
EXPOSE 80
COPY startup.sh /
RUN chmod +x /startup.sh
WORKDIR /var/www
CMD /startup.sh
`;
const STARTUP = '#!/bin/sh\nmkdir -p /run/sshd\nexec /usr/sbin/sshd -D -e\n';

/** The minbase rootfs as a tar: today's from the cache, else a fresh debootstrap (installed if missing). */
async function baseTar() {
  const day = new Date().toISOString().slice(0, 10).replaceAll('-', '');
  const tar = path.join(CACHE, `debian-bookworm-minbase-${day}.tar`);
  if (fs.existsSync(tar)) return { tar, cached: true };
  if (!fs.existsSync('/usr/sbin/debootstrap')) {
    await run('apt-get', ['install', '-y', 'debootstrap'], { DEBIAN_FRONTEND: 'noninteractive' });
  }
  fs.mkdirSync(CACHE, { recursive: true });
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-debootstrap-'));
  try {
    await run('debootstrap', ['--variant=minbase', 'bookworm', path.join(dir, 'rootfs'), MIRROR]);
    await run('tar', ['-C', path.join(dir, 'rootfs'), '--numeric-owner', '-cf', `${tar}.tmp`, '.']);
    fs.renameSync(`${tar}.tmp`, tar);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
    fs.rmSync(`${tar}.tmp`, { force: true });
  }
  return { tar, cached: false };
}

/** The first line sshd sends on host:port ("SSH-2.0-OpenSSH_..."), or '' after 5 s. */
function banner(host, port) {
  return new Promise((resolve) => {
    const s = net.connect(port, host);
    let got = '';
    const done = () => { s.destroy(); resolve(got.split('\r\n')[0]); };
    s.setTimeout(5000, done);
    s.on('data', (d) => { got += d; if (got.includes('\n')) done(); });
    s.on('error', done);
    s.on('close', done);
  });
}

async function poll(fn, ms = 30_000) {
  const end = Date.now() + ms;
  for (;;) {
    const v = await fn().catch(() => '');
    if (v || Date.now() > end) return v;
    await new Promise((r) => setTimeout(r, 500));
  }
}

const checks = [];
const check = (name, ok, detail) => { checks.push([ok ? 'PASS' : 'FAIL', name, detail]); };
const ctx = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-devimg-'));
fs.writeFileSync(path.join(ctx, 'Dockerfile'), DOCKERFILE);
fs.writeFileSync(path.join(ctx, 'startup.sh'), STARTUP);

const { tar, cached } = await timed('debootstrap --variant=minbase bookworm (or today\'s cache)', baseTar);
const d = await daemon.startDaemon();
const env = { ...d.env, DOCKER_BUILDKIT: '0' };
try {
  await timed(`docker import → ${BASE}`, () => run('docker', ['import', tar, BASE], env));
  let out = '';
  try {
    out = await timed(`docker build -t ${TAG} (classic builder)`, () => run('docker', ['build', '-t', TAG, ctx], env));
    check('the development image builds', /Successfully tagged devbox:bench/.test(out), out.split('\n').slice(-3).join(' | '));
  } catch (e) {
    check('the development image builds', false, String(e.message).slice(-2000));
  }
  if (checks.every((c) => c[0] === 'PASS')) {
    const tools = await run('docker', ['run', '--rm', TAG, 'sh', '-c',
      'gcc --version | head -1; g++ --version | head -1; make --version | head -1; perl -e "print qq(perl $^V\\n)"; node --version; test -e /usr/include/zlib.h && echo zlib.h; pwd'], env);
    check('gcc, g++, make, perl, node, zlib.h and WORKDIR /var/www', /gcc/.test(tools) && /g\+\+/.test(tools) && /GNU Make/.test(tools)
      && /perl v5/.test(tools) && /^v\d+/m.test(tools) && /zlib\.h/.test(tools) && /^\/var\/www$/m.test(tools), tools.trim().replaceAll('\n', '; '));
    const exposed = (await run('docker', ['image', 'inspect', '-f', '{{json .Config.ExposedPorts}}', TAG], env)).trim();
    check('EXPOSE 22 80', exposed.includes('"22/tcp"') && exposed.includes('"80/tcp"'), exposed);
    const id = (await timed('docker run -d -p 127.0.0.1::22 (CMD /startup.sh)', () => run('docker', ['run', '-d', '-p', '127.0.0.1::22', TAG], env))).trim();
    try {
      const inside = await timed('sshd answers on port 22 inside the container', () => poll(async () => (await run('docker', ['exec', id, 'bash', '-c',
        'exec 3<>/dev/tcp/127.0.0.1/22; head -1 <&3'], env)).trim()));
      check('sshd banner on 127.0.0.1:22 inside (docker exec)', /^SSH-2\.0-OpenSSH/.test(inside), inside);
      const hostPort = Number((await run('docker', ['port', id, '22/tcp'], env)).trim().split('\n')[0].split(':').pop());
      const outside = await poll(() => banner('127.0.0.1', hostPort));
      check(`sshd banner on the published port 127.0.0.1:${hostPort}`, /^SSH-2\.0-OpenSSH/.test(outside), outside);
    } finally {
      if (checks.some((c) => c[0] === 'FAIL')) console.error(await run('docker', ['logs', id], env).catch((e) => e.message));
      await run('docker', ['rm', '-f', id], env).catch(() => undefined);
    }
  }
} finally {
  const left = await d.cleanup();
  if (left.length) console.error(`leftovers swept: ${left.join(', ')}`);
  fs.rmSync(ctx, { recursive: true, force: true });
}

console.log(`base rootfs: ${tar}${cached ? ' (cached)' : ''}`);
const w = Math.max(...timings.map((t) => t[0].length));
for (const [l, t] of timings) console.log(`${l.padEnd(w)}  ${t}`);
for (const [r, n, detail] of checks) console.log(`${r}  ${n}${detail ? `: ${detail}` : ''}`);
const pass = checks.length > 0 && checks.every((c) => c[0] === 'PASS');
console.log(pass ? 'PASS' : 'FAIL');
process.exit(pass ? 0 : 1);
