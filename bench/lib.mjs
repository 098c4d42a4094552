// Shared by the bench scripts: the e2e test helpers (from the build), which start private berthd instances
// and make the busybox image.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const helpers = path.join(root, 'dist', 'test', 'helpers');
if (!fs.existsSync(path.join(helpers, 'daemon.js'))) {
  console.error('dist/ is missing: run `npm run build` (or ./scripts/setup.sh) first');
  process.exit(1);
}

/** dist/test/helpers/daemon.js, fixtures.js and cli.js */
export const daemon = await import(path.join(helpers, 'daemon.js'));
export const fixtures = await import(path.join(helpers, 'fixtures.js'));
export const cli = await import(path.join(helpers, 'cli.js'));

/**
 * Runs a command (the docker or berth CLI, mostly) to completion; resolves with what it printed, rejects on a
 * non-zero exit with its stderr. `keep: false` only counts stdout's bytes (logs throughput). A hung CLI is
 * SIGKILLed after `timeoutMs`: docker run forwards SIGTERM to the container.
 */
export function runCapture(cmd, args, env = {}, { timeoutMs = 120_000, keep = true } = {}) {
  return new Promise((resolve, reject) => {
    const c = spawn(cmd, args, { env: { ...process.env, DOCKER_CLI_HINTS: 'false', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let bytes = 0;
    let err = '';
    c.stdout.on('data', (d) => { bytes += d.length; if (keep) out += d; });
    c.stderr.on('data', (d) => { err += d; });
    const timer = setTimeout(() => c.kill('SIGKILL'), timeoutMs);
    c.on('error', reject);
    c.on('close', (code) => {
      clearTimeout(timer);
      if (code === 0) resolve({ out, bytes });
      else reject(new Error(`${cmd} ${args.join(' ')}: exit ${code ?? `killed after ${timeoutMs / 1000} s`}: ${err}`));
    });
  });
}

/** runCapture's stdout. */
export async function run(cmd, args, env = {}, timeoutMs = 120_000) {
  return (await runCapture(cmd, args, env, { timeoutMs })).out;
}

/**
 * The 100 MB-to-stdout payload of issue 12 as a file, for a one-process producer in the container (bind-mounted,
 * read-only): `lines` lines of `width` bytes of 'a', joined by newlines, with none after the last, so byte for
 * byte what `head -c lines*width /dev/zero | tr '\\0' 'a' | fold -w width` writes. Made in `dir`; answers its path.
 */
export function textPayload(dir, lines = 1_000_000, width = 100) {
  const file = path.join(dir, 'payload');
  const per = 10_000;
  const block = `${'a'.repeat(width)}\n`.repeat(per);
  const fd = fs.openSync(file, 'w');
  try {
    for (let i = 0; i < lines / per; i++) fs.writeSync(fd, block);
    fs.ftruncateSync(fd, lines * (width + 1) - 1);
  } finally {
    fs.closeSync(fd);
  }
  return file;
}

export const DOCKERD_SOCK = '/var/run/docker.sock';

/**
 * The side-by-side part of every bench: when a real dockerd answers on DOCKERD_SOCK, imports the busybox
 * tar into it as `img`, runs `measure(env)` against it and removes the image. Answers what happened, for the
 * report line ("measured", or why not).
 */
export async function withDockerd(tar, img, measure) {
  if (!fs.existsSync(DOCKERD_SOCK)) return `no dockerd at ${DOCKERD_SOCK}`;
  const ping = await daemon.api(DOCKERD_SOCK, 'GET', '/_ping', undefined, 2000).catch(() => undefined);
  if (ping?.status !== 200) return `${DOCKERD_SOCK} does not answer`;
  const env = { DOCKER_HOST: `unix://${DOCKERD_SOCK}` };
  await run('docker', ['import', '--change', 'CMD ["sh"]', tar, img], env);
  try {
    await measure(env);
    return 'measured';
  } finally {
    await run('docker', ['rmi', img], env).catch(() => undefined);
  }
}
