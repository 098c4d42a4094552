// HostConfig options turned into the spec's pieces: --tmpfs, --security-opt seccomp, --device and
// --privileged's /dev scan, --init's binary. The /dev reads are the only I/O here (start-plan stays pure).
import fs from 'node:fs';
import path from 'node:path';
import { InvalidParameterError } from '../../errors.js';
import type { HostConfig } from '../../core/container-config.js';
import type { SpecBuilderInput } from './types.js';

/** docker-init: Debian's static tini, bind-mounted as Docker mounts its docker-init. */
export const INIT_BINARY = '/usr/bin/tini-static';

export type SpecDevices = NonNullable<SpecBuilderInput['devices']>;
export type SpecDeviceRules = NonNullable<SpecBuilderInput['deviceRules']>;
export type SpecMount = NonNullable<SpecBuilderInput['mounts']>[number];

/** --security-opt seccomp=...: unconfined, or a profile's JSON (the docker CLI sends the file's content). */
export function seccompProfile(opt: string | undefined): 'default' | 'unconfined' | object {
  if (!opt) return 'default';
  const v = opt.slice('seccomp='.length);
  if (v === 'unconfined') return 'unconfined';
  if (v === '' || v === 'builtin') return 'default';
  try {
    return JSON.parse(v) as object;
  } catch {
    throw new InvalidParameterError(`invalid seccomp profile: ${v.length > 60 ? `${v.slice(0, 60)}...` : v}`);
  }
}

/** --privileged: every device node under the host's /dev, as moby's HostDevices (pts, shm, mqueue... skipped). */
export function allHostDevices(): SpecDevices {
  const out: SpecDevices = [];
  const skip = new Set(['pts', 'shm', 'fd', 'mqueue', '.lxc', '.lxd-mounts', '.udev']);
  const walk = (dir: string) => {
    let entries: fs.Dirent[];
    try { entries = fs.readdirSync(dir, { withFileTypes: true }); } catch { return; }
    for (const e of entries) {
      const p = path.join(dir, e.name);
      if (e.isDirectory()) { if (!skip.has(e.name)) walk(p); continue; }
      if (!e.isCharacterDevice() && !e.isBlockDevice()) continue;
      if (p === '/dev/console') continue;
      let st: fs.Stats;
      try { st = fs.statSync(p); } catch { continue; }
      const major = Number((BigInt(st.rdev) >> 8n) & 0xfffn), minor = Number((BigInt(st.rdev) & 0xffn) | ((BigInt(st.rdev) >> 12n) & 0xfff00n));
      out.push({ path: p, type: e.isCharacterDevice() ? 'c' : 'b', major, minor, fileMode: st.mode & 0o777, uid: st.uid, gid: st.gid });
    }
  };
  walk('/dev');
  return out;
}

/** --device: the host node's type and numbers, mounted at PathInContainer with its cgroup permissions. */
export function hostDevices(hc: HostConfig): { devices: SpecDevices; rules: SpecDeviceRules } {
  const devices: SpecDevices = [];
  const rules: SpecDeviceRules = [];
  for (const d of (hc.Devices as { PathOnHost: string; PathInContainer?: string; CgroupPermissions?: string }[] | undefined) ?? []) {
    let st: fs.Stats;
    try { st = fs.statSync(d.PathOnHost); } catch (err) {
      throw new InvalidParameterError(`error gathering device information while adding custom device "${d.PathOnHost}": no such file or directory`, { cause: err });
    }
    const type = st.isCharacterDevice() ? 'c' : st.isBlockDevice() ? 'b' : undefined;
    if (!type) throw new InvalidParameterError(`error gathering device information while adding custom device "${d.PathOnHost}": not a device node`);
    const major = Number((BigInt(st.rdev) >> 8n) & 0xfffn), minor = Number((BigInt(st.rdev) & 0xffn) | ((BigInt(st.rdev) >> 12n) & 0xfff00n));
    const access = d.CgroupPermissions || 'rwm';
    if (!/^[rwm]+$/.test(access)) throw new InvalidParameterError(`invalid device mode: ${access}`);
    devices.push({ path: d.PathInContainer || d.PathOnHost, type, major, minor, fileMode: st.mode & 0o777, uid: 0, gid: 0 });
    rules.push({ allow: true, type, major, minor, access });
  }
  return { devices, rules };
}

/** --tmpfs mounts (HostConfig.Tmpfs) as OCI mounts, with Docker's default flags. */
export function tmpfsMounts(hc: HostConfig): SpecMount[] {
  const out: SpecMount[] = [];
  for (const [dest, opts] of Object.entries((hc.Tmpfs as Record<string, string> | undefined) ?? {})) {
    if (!dest.startsWith('/')) throw new InvalidParameterError(`invalid mount config for type "tmpfs": mount path must be absolute`);
    if (dest.replace(/\/+$/, '') === '') throw new InvalidParameterError(`invalid mount config for type "tmpfs": destination can't be '/'`);
    const user = opts ? opts.split(',').filter(Boolean) : [];
    const base = ['nosuid', 'nodev', 'noexec'].filter((f) => !user.includes(f.replace('no', '')) && !user.includes(f));
    out.push({ destination: dest, type: 'tmpfs', source: 'tmpfs', options: [...base, ...user] });
  }
  return out;
}
