import fs from 'node:fs';
import path from 'node:path';

/**
 * Resolve `unsafe` inside `root` as if root were "/": symlinks are followed but can never lead
 * outside root (absolute targets are re-rooted, `..` stops at root). The result may not exist.
 * Used on untrusted container rootfs trees (cf. filepath-securejoin, CVE-2018-15664 class).
 */
export function secureJoin(root: string, unsafe: string): string {
  const parts = unsafe.split('/').filter((p) => p !== '' && p !== '.');
  const resolved: string[] = [];
  let hops = 0;
  while (parts.length) {
    const part = parts.shift()!;
    if (part === '..') { resolved.pop(); continue; }
    const candidate = path.join(root, ...resolved, part);
    let st: fs.Stats | undefined;
    try { st = fs.lstatSync(candidate); } catch { st = undefined; }
    if (st?.isSymbolicLink()) {
      if (++hops > 255) throw new Error(`too many symlinks resolving ${unsafe}`);
      const target = fs.readlinkSync(candidate);
      if (target.startsWith('/')) resolved.length = 0;
      parts.unshift(...target.split('/').filter((p) => p !== '' && p !== '.'));
      continue;
    }
    resolved.push(part);
  }
  return path.join(root, ...resolved);
}

/** mkdir -p inside an untrusted root, chowning the directories it creates. */
export function secureMkdirAll(root: string, p: string, uid: number, gid: number): void {
  const parts = p.split('/').filter((x) => x !== '' && x !== '.');
  let cur = '/';
  for (const part of parts) {
    cur = path.posix.join(cur, part);
    const real = secureJoin(root, cur);
    let st: fs.Stats | undefined;
    try { st = fs.statSync(real); } catch { st = undefined; }
    if (!st) {
      fs.mkdirSync(real, { mode: 0o755 });
      fs.chownSync(real, uid, gid);
    } else if (!st.isDirectory()) {
      throw new Error(`mkdir ${cur}: not a directory`);
    }
  }
}
