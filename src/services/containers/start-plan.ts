// The start plan as data: from a container's record and the facts gathered at start (the resolved
// user, the network's netns, the host's device nodes, the namespaces to join), everything runc and
// conmon need. Pure: unit-tested without root; the starter applies it.
import { InvalidParameterError } from '../../errors.js';
import { mergeUlimits, type Ulimit } from '../../core/create-settings.js';
import { logWriterOptions } from '../log-driver/drivers.js';
import { INIT_BINARY, seccompProfile, tmpfsMounts, type SpecDeviceRules, type SpecDevices, type SpecMount } from './run-options.js';
import type { ContainerRecord, SpecBuilderInput } from './types.js';

export interface StartFacts {
  rootfs: string;
  user: { uid: number; gid: number; additionalGids: number[]; home: string };
  hostname: string;
  network: SpecBuilderInput['network'];
  devices: { devices: SpecDevices; rules: SpecDeviceRules };
  pidNamespace?: 'host' | { path: string };
  ipcNamespace?: 'host' | { path: string };
  /** daemon.json default-ulimits: the container's own --ulimit of the same name wins */
  defaultUlimits?: Ulimit[];
  /** legacy links' ALIAS_* variables: the container's own Env wins by name (moby CreateDaemonEnvironment) */
  linkEnv?: string[];
}

export interface StartPlan {
  /** the spec builder's input (utsNamespace rides along for --uts host) */
  spec: SpecBuilderInput & { utsNamespace?: 'host' };
  /** the runtime's create options besides id, name and spec */
  create: { tty: boolean; openStdin: boolean; stdinOnce: boolean; logPath: string; logDriver: 'k8s-file' | 'none'; logSizeMax?: number };
}

/** The hostname a start gives the container: the host's, the joined container's, or its own. */
export function planHostname(rec: ContainerRecord, o: { hostHostname: string; joined?: ContainerRecord }): string {
  if (rec.HostConfig.NetworkMode === 'host' || rec.HostConfig.UTSMode === 'host') return o.hostHostname;
  if (o.joined) return o.joined.Config.Hostname || o.joined.Id.slice(0, 12);
  return rec.Config.Hostname || rec.Id.slice(0, 12);
}

/** --group-add: numeric gids only. */
export function groupAddGids(groups: string[] | undefined): number[] {
  return (groups ?? []).map((g) => {
    if (!/^\d+$/.test(g) || Number(g) > 2147483647) throw new InvalidParameterError(`invalid group for --group-add: ${g} (numeric gids only)`);
    return Number(g);
  });
}

/** The etc files first (runc bind-mounts them by inode), then --tmpfs, then --init's binary. */
export function planMounts(rec: ContainerRecord): { mounts: SpecMount[]; init: boolean } {
  const hc = rec.HostConfig;
  const mounts: SpecMount[] = [
    { destination: '/etc/resolv.conf', type: 'bind', source: rec.ResolvConfPath, options: ['rbind', 'rprivate'] },
    { destination: '/etc/hostname', type: 'bind', source: rec.HostnamePath, options: ['rbind', 'rprivate'] },
    { destination: '/etc/hosts', type: 'bind', source: rec.HostsPath, options: ['rbind', 'rprivate'] },
    ...tmpfsMounts(hc),
  ];
  if (hc.Init) mounts.push({ destination: '/sbin/docker-init', type: 'bind', source: INIT_BINARY, options: ['rbind', 'ro', 'rprivate'] });
  return { mounts, init: !!hc.Init };
}

export function planStart(rec: ContainerRecord, f: StartFacts): StartPlan {
  const hc = rec.HostConfig;
  const secOpts = hc.SecurityOpt ?? [];
  const { mounts, init } = planMounts(rec);
  const args = init ? ['/sbin/docker-init', '--', rec.Path, ...rec.Args] : [rec.Path, ...rec.Args];
  // PATH, HOSTNAME and TERM defaults are buildSpec's (buildEnv); HOME needs the resolved user.
  const own = rec.Config.Env ?? [];
  const ownNames = new Set(own.map((e) => e.split('=')[0]));
  const env = [...(f.linkEnv ?? []).filter((e) => !ownNames.has(e.split('=')[0])), ...own];
  if (!env.some((e) => e.startsWith('HOME='))) env.push(`HOME=${f.user.home || '/'}`);
  const groupAdd = groupAddGids(hc.GroupAdd as string[] | undefined);
  const seccompOpt = secOpts.find((s) => s.startsWith('seccomp=') || s.startsWith('seccomp:'));
  const spec: StartPlan['spec'] = {
    id: rec.Id,
    args,
    env,
    cwd: rec.Config.WorkingDir || '/',
    user: { uid: f.user.uid, gid: f.user.gid, additionalGids: [...new Set([...f.user.additionalGids, ...groupAdd])] },
    hostname: f.hostname,
    domainname: rec.Config.Domainname || undefined,
    rlimits: mergeUlimits(hc.Ulimits as Ulimit[] | undefined, f.defaultUlimits ?? [])
      .map((u) => ({ type: `RLIMIT_${u.Name.toUpperCase()}`, soft: u.Soft, hard: u.Hard })),
    tty: !!rec.Config.Tty,
    openStdin: !!rec.Config.OpenStdin,
    rootfs: f.rootfs,
    readonlyRootfs: !!hc.ReadonlyRootfs,
    network: f.network,
    cgroupsPath: `/berth/${rec.Id}`,
    resources: {
      memory: hc.Memory || undefined,
      memorySwap: hc.MemorySwap || undefined,
      nanoCpus: hc.NanoCpus || undefined,
      cpuShares: hc.CpuShares || undefined,
      cpusetCpus: hc.CpusetCpus || undefined,
      cpusetMems: hc.CpusetMems || undefined,
      pidsLimit: hc.PidsLimit && hc.PidsLimit > 0 ? hc.PidsLimit : undefined,
      oomKillDisable: hc.OomKillDisable ?? undefined,
    },
    privileged: !!hc.Privileged,
    capAdd: hc.CapAdd ?? undefined,
    capDrop: hc.CapDrop ?? undefined,
    noNewPrivileges: secOpts.some((s) => /^no-new-privileges(?:[:=]true)?$/.test(s)),
    seccomp: seccompProfile(seccompOpt),
    devices: f.devices.devices, deviceRules: f.devices.rules, pidNamespace: f.pidNamespace, ipcNamespace: f.ipcNamespace,
    ...(hc.UTSMode === 'host' ? { utsNamespace: 'host' as const } : {}),
    shmSize: hc.ShmSize || undefined,
    mounts,
    annotations: rec.Config.Labels ?? undefined,
  };
  return {
    spec,
    create: {
      tty: !!rec.Config.Tty, openStdin: !!rec.Config.OpenStdin, stdinOnce: !!rec.Config.StdinOnce, logPath: rec.LogPath,
      ...logWriterOptions(hc),
    },
  };
}
