// json-file/local log settings (log-opts checks, limits) and berthd's own rotation of a running
// container's log (conmon reopens it). To be folded into services/log-driver/ by the logs work.
import fs from 'node:fs';
import { pipeline } from 'node:stream/promises';
import zlib from 'node:zlib';
import { InvalidParameterError } from '../../errors.js';
import type { HostConfig } from '../../core/container-config.js';
import type { ContainerRecord } from './types.js';

/**
 * json-file rotation (max-size with max-file > 1): rename ctr.log → .1 → .2 ..., then ask conmon
 * to reopen. Output written between the rename and the reopen lands in .1: nothing is lost.
 */
export function rotateLog(rec: ContainerRecord, reopen: (id: string) => void): void {
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

/** Docker's json-file max-size / max-file (max-file needs max-size; default 1 file). */
export interface LogConfigValue { Type: string; Config: Record<string, string> }

/**
 * moby's mergeAndVerifyLogConfig: no driver → the daemon's; the daemon's log-opts fill in the keys a
 * container did not set, when it uses the daemon's driver.
 */
export function mergeLogConfig(lc: { Type?: string; Config?: Record<string, string> | null } | null | undefined, daemon: LogConfigValue): LogConfigValue {
  const type = lc?.Type || daemon.Type;
  const config: Record<string, string> = { ...(lc?.Config ?? {}) };
  if (type === daemon.Type) for (const [k, v] of Object.entries(daemon.Config)) if (!(k in config)) config[k] = v;
  return { Type: type, Config: config };
}

/** Docker's messages for an unknown driver, an unknown option or a bad rotation value. */
export function validateLogConfig(lc: LogConfigValue): void {
  if (!['json-file', 'local', 'k8s-file', 'none'].includes(lc.Type)) {
    throw new InvalidParameterError(`logger: no log driver named '${lc.Type}' is registered`);
  }
  for (const [k, v] of Object.entries(lc.Config)) {
    if (!['max-size', 'max-file', 'compress', 'labels', 'env', 'tag', 'mode', 'max-buffer-size'].includes(k)) {
      throw new InvalidParameterError(`unknown log opt '${k}' for ${lc.Type} log driver`);
    }
    if (typeof v !== 'string') throw new InvalidParameterError(`log opt '${k}' must be a string`);
  }
  logLimits({ LogConfig: lc } as HostConfig);
}

/**
 * Rotation settings from log-opts. The `local` driver has Docker's defaults (max-size 20m, max-file 5,
 * compress true) and keeps the same on-disk file as every other driver here: what a user sees of it is
 * `docker logs` and a bounded disk use, not its protobuf layout.
 */
export function logLimits(hc: HostConfig): { maxSize?: number; maxFile: number; compress: boolean } {
  const cfg = hc.LogConfig?.Config ?? {};
  const local = hc.LogConfig?.Type === 'local';
  const maxSize = cfg['max-size'] === undefined && local ? 20 * 1024 * 1024 : parseSize(cfg['max-size']);
  const mf = cfg['max-file'];
  const maxFile = mf === undefined || mf === '' ? (local ? 5 : 1) : Number(mf);
  if (!Number.isInteger(maxFile) || maxFile < 1) throw new InvalidParameterError(`invalid value for max-file: ${mf}`);
  if (maxFile > 1 && maxSize === undefined) throw new InvalidParameterError('max-file cannot be set without max-size');
  const c = cfg.compress;
  if (c !== undefined && c !== 'true' && c !== 'false') throw new InvalidParameterError(`invalid value for compress: ${c}`);
  return { maxSize, maxFile, compress: c === undefined ? local : c === 'true' };
}

function parseSize(v: string | undefined): number | undefined {
  if (v === undefined || v === '' || v === '-1') return undefined;
  const m = /^(\d+(?:\.\d+)?)\s*([kmg]?)b?$/i.exec(v.trim());
  if (!m) throw new InvalidParameterError(`invalid value for log-opt max-size: ${v}`);
  const mult: Record<string, number> = { '': 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3 };
  return Math.floor(Number(m[1]) * mult[m[2]!.toLowerCase()]!);
}
