// Test fixtures built from the host's packages (no registry is reachable from CI).
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { repoRoot } from './daemon.js';

const run = promisify(execFile);
let pending: Promise<string> | undefined;

/**
 * Path of a busybox rootfs tar made by scripts/make-busybox-rootfs.sh, cached under os.tmpdir().
 * The cache key covers the script and the busybox binary, so a change in either rebuilds it.
 */
export function busyboxTar(): Promise<string> {
  pending ??= build();
  return pending;
}

async function build(): Promise<string> {
  const script = path.join(repoRoot, 'scripts', 'make-busybox-rootfs.sh');
  const bb = fs.statSync('/bin/busybox');
  const key = createHash('sha256')
    .update(fs.readFileSync(script))
    .update(`${bb.size}:${bb.mtimeMs}`)
    .digest('hex')
    .slice(0, 12);
  const out = path.join(os.tmpdir(), `berth-busybox-rootfs-${key}.tar`);
  if (fs.existsSync(out)) return out;
  await run(script, [out]);
  return out;
}
