// berthd's own rotation of a running container's log (conmon reopens it), for drivers with
// max-file > 1; the limits come from the driver (drivers.ts).
import fs from 'node:fs';
import { pipeline } from 'node:stream/promises';
import zlib from 'node:zlib';
import type { HostConfig } from '../../core/container-config.js';
import { logLimits } from './drivers.js';

/**
 * json-file rotation (max-size with max-file > 1): rename ctr.log → .1 → .2 ..., then ask conmon
 * to reopen. Output written between the rename and the reopen lands in .1: nothing is lost.
 */
export function rotateLog(rec: { Id: string; LogPath: string; State: { Running: boolean }; HostConfig: HostConfig }, reopen: (id: string) => void): void {
  if (!rec.State.Running) return;
  let limits: ReturnType<typeof logLimits>;
  try { limits = logLimits(rec.HostConfig); } catch { return; }
  if (limits.maxSize === undefined || limits.maxFile < 2) return;
  let size: number;
  try { size = fs.statSync(rec.LogPath).size; } catch { return; }
  if (size < limits.maxSize) return;
  const p = rec.LogPath;
  try {
    fs.rmSync(`${p}.${limits.maxFile - 1}`, { force: true });
    fs.rmSync(`${p}.${limits.maxFile - 1}.gz`, { force: true });
    for (let i = limits.maxFile - 2; i >= 1; i--) {
      for (const ext of ['', '.gz']) {
        if (fs.existsSync(`${p}.${i}${ext}`)) fs.renameSync(`${p}.${i}${ext}`, `${p}.${i + 1}${ext}`);
      }
    }
    fs.renameSync(p, `${p}.1`);
    reopen(rec.Id);
    // compress: every rotated file but the newest is gzipped, as Docker's json-file does.
    if (limits.compress && fs.existsSync(`${p}.2`)) void gzipFile(`${p}.2`);
  } catch { /* raced with removal */ }
}

/** file → file.gz (temp + rename), then the original goes. */
async function gzipFile(file: string): Promise<void> {
  const tmp = `${file}.gz.tmp`;
  try {
    await pipeline(fs.createReadStream(file), zlib.createGzip(), fs.createWriteStream(tmp));
    fs.renameSync(tmp, `${file}.gz`);
    fs.rmSync(file, { force: true });
  } catch {
    fs.rmSync(tmp, { force: true });
  }
}
