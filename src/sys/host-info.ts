import fs from 'node:fs';
import os from 'node:os';
import { ALL_CAPABILITIES, type HostInfo } from '../core/oci-spec.js';
import { goArch } from '../core/seccomp.js';

/** The host facts buildSpec depends on, read from /proc and /sys here so that core/oci-spec.ts stays pure. */

let cachedHost: HostInfo | undefined;

/** Facts about the running host that the spec depends on; read once. */
export function readHostInfo(): HostInfo {
  if (cachedHost) return cachedHost;
  const hardLimits: Record<string, number> = {};
  try {
    const names: Record<string, string> = {
      'Max cpu time': 'RLIMIT_CPU', 'Max file size': 'RLIMIT_FSIZE', 'Max data size': 'RLIMIT_DATA',
      'Max stack size': 'RLIMIT_STACK', 'Max core file size': 'RLIMIT_CORE', 'Max resident set': 'RLIMIT_RSS',
      'Max processes': 'RLIMIT_NPROC', 'Max open files': 'RLIMIT_NOFILE', 'Max locked memory': 'RLIMIT_MEMLOCK',
      'Max address space': 'RLIMIT_AS', 'Max file locks': 'RLIMIT_LOCKS', 'Max pending signals': 'RLIMIT_SIGPENDING',
      'Max msgqueue size': 'RLIMIT_MSGQUEUE', 'Max nice priority': 'RLIMIT_NICE', 'Max realtime priority': 'RLIMIT_RTPRIO',
      'Max realtime timeout': 'RLIMIT_RTTIME',
    };
    for (const line of fs.readFileSync('/proc/self/limits', 'utf8').split('\n').slice(1)) {
      const label = line.slice(0, 26).trim();
      const type = names[label];
      if (!type) continue;
      const hard = line.slice(26).trim().split(/\s+/)[1];
      hardLimits[type] = hard === 'unlimited' || hard === undefined ? Infinity : Number(hard);
    }
  } catch { /* not linux: no clamping information */ }
  let capLastCap = ALL_CAPABILITIES.length - 1;
  try { capLastCap = Number(fs.readFileSync('/proc/sys/kernel/cap_last_cap', 'utf8').trim()); } catch { /* keep */ }
  let boundingCaps: string[] | undefined;
  try {
    const m = /^CapBnd:\s*([0-9a-f]+)$/m.exec(fs.readFileSync('/proc/self/status', 'utf8'));
    if (m) {
      const mask = BigInt(`0x${m[1]}`);
      boundingCaps = ALL_CAPABILITIES.filter((_, i) => (mask >> BigInt(i)) & 1n);
    }
  } catch { /* keep undefined: all known */ }
  const thermalThrottlePaths: string[] = [];
  for (let i = 0; i < os.cpus().length; i++) {
    const p = `/sys/devices/system/cpu/cpu${i}/thermal_throttle`;
    if (fs.existsSync(p)) thermalThrottlePaths.push(p);
  }
  cachedHost = {
    kernel: os.release(),
    arch: goArch(os.arch()),
    hardLimits,
    capLastCap,
    boundingCaps,
    swapAccounting: fs.existsSync('/sys/fs/cgroup/memory/memory.memsw.limit_in_bytes'),
    thermalThrottlePaths,
  };
  return cachedHost;
}

/** The host runs the unified cgroup hierarchy only (cgroup v2): /sys/fs/cgroup is cgroup2fs itself. */
export function unifiedCgroupHierarchy(): boolean {
  const CGROUP2_SUPER_MAGIC = 0x63677270;
  try { return fs.statfsSync('/sys/fs/cgroup').type === CGROUP2_SUPER_MAGIC; } catch { return false; }
}

/** An executable named `name` on PATH (or the usual system directories), as an absolute path. */
export function findOnPath(name: string, pathVar = process.env['PATH'] || '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'): string | undefined {
  for (const dir of pathVar.split(':')) {
    if (!dir) continue;
    const p = `${dir.replace(/\/$/, '')}/${name}`;
    try {
      fs.accessSync(p, fs.constants.X_OK);
      if (fs.statSync(p).isFile()) return p;
    } catch { /* next */ }
  }
  return undefined;
}
