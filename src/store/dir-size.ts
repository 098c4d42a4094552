import fs from 'node:fs';
import path from 'node:path';

/**
 * moby pkg/directory.Size (what SizeRw and a container's part of `system df` are): the lstat sizes of
 * everything under `dir` but directories, symlinks included and never followed, each inode once.
 * Entries that vanish during the walk are skipped.
 */
export function treeSizeSync(dir: string): number {
  let total = 0;
  const seen = new Set<string>();
  const stack = [dir];
  while (stack.length) {
    const d = stack.pop()!;
    let entries: fs.Dirent[];
    try { entries = fs.readdirSync(d, { withFileTypes: true }); } catch { continue; }
    for (const e of entries) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) { stack.push(p); continue; }
      let st: fs.Stats;
      try { st = fs.lstatSync(p); } catch { continue; }
      if (st.size === 0) continue;
      if (st.nlink > 1) {
        const key = `${st.dev}:${st.ino}`;
        if (seen.has(key)) continue;
        seen.add(key);
      }
      total += st.size;
    }
  }
  return total;
}
