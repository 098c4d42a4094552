import { InvalidParameterError } from '../errors.js';

/**
 * Create-time settings berth cannot honour yet, and the daemon-wide defaults a create takes.
 * Pure: the container service calls these with the body, the image's config and the daemon settings.
 */

export interface CreateSettingsBody {
  Volumes?: Record<string, object> | null;
  HostConfig?: object | null;
}

function nonEmpty(v: unknown): boolean {
  if (v === null || v === undefined || v === false || v === 0 || v === '') return false;
  if (Array.isArray(v)) return v.length > 0;
  if (typeof v === 'object') return Object.keys(v as object).length > 0;
  return true;
}

/** How berth treats one field of the create body. */
export type FieldRule =
  | 'implemented'
  /** the docker CLI's own (Docker's daemon stores and ignores it too) */
  | 'client-side'
  | { refused: string; accepts?: (v: unknown) => boolean };

const NOT_YET = (what: string): FieldRule => ({ refused: `${what} is not supported by berth yet` });

/**
 * Every field of the v1.45 create body (ContainerConfig, HostConfig, NetworkingConfig) and what berth
 * does with it. A refused field fails the create with 400 when set (non-zero, non-empty); its zero value
 * is what berth does anyway. test/unit/create-fields.test.ts checks the table against the spec.
 */
export const CREATE_FIELDS: { Config: Record<string, FieldRule>; HostConfig: Record<string, FieldRule>; NetworkingConfig: Record<string, FieldRule> } = {
  Config: {
    ArgsEscaped: 'client-side', AttachStderr: 'implemented', AttachStdin: 'implemented', AttachStdout: 'implemented', Cmd: 'implemented',
    Domainname: 'implemented', Entrypoint: 'implemented', Env: 'implemented', ExposedPorts: 'implemented', Healthcheck: 'implemented',
    HostConfig: 'implemented', Hostname: 'implemented', Image: 'implemented', Labels: 'implemented', MacAddress: 'implemented',
    NetworkDisabled: NOT_YET('NetworkDisabled (use --network none)'), NetworkingConfig: 'implemented', OnBuild: 'client-side',
    OpenStdin: 'implemented', Shell: 'implemented', StdinOnce: 'implemented', StopSignal: 'implemented', StopTimeout: 'implemented',
    Tty: 'implemented', User: 'implemented', Volumes: 'implemented', WorkingDir: 'implemented',
  },
  HostConfig: {
    Annotations: 'implemented', AutoRemove: 'implemented', Binds: 'implemented',
    BlkioDeviceReadBps: NOT_YET('--device-read-bps'), BlkioDeviceReadIOps: NOT_YET('--device-read-iops'),
    BlkioDeviceWriteBps: NOT_YET('--device-write-bps'), BlkioDeviceWriteIOps: NOT_YET('--device-write-iops'),
    BlkioWeight: NOT_YET('--blkio-weight'), BlkioWeightDevice: NOT_YET('--blkio-weight-device'),
    CapAdd: 'implemented', CapDrop: 'implemented', Cgroup: NOT_YET('HostConfig.Cgroup'), CgroupParent: NOT_YET('--cgroup-parent'),
    CgroupnsMode: { refused: '--cgroupns is not supported by berth yet', accepts: (v) => v === '' || v === 'private' },
    ConsoleSize: 'implemented', ContainerIDFile: 'client-side', CpuCount: NOT_YET('CpuCount (Windows)'), CpuPercent: NOT_YET('CpuPercent (Windows)'),
    CpuPeriod: 'implemented', CpuQuota: 'implemented', CpuRealtimePeriod: NOT_YET('--cpu-rt-period'), CpuRealtimeRuntime: NOT_YET('--cpu-rt-runtime'),
    CpuShares: 'implemented', CpusetCpus: 'implemented', CpusetMems: 'implemented', DeviceCgroupRules: NOT_YET('--device-cgroup-rule'),
    DeviceRequests: NOT_YET('--gpus / DeviceRequests'), Devices: 'implemented', Dns: 'implemented', DnsOptions: 'implemented',
    DnsSearch: 'implemented', ExtraHosts: 'implemented', GroupAdd: 'implemented', IOMaximumBandwidth: NOT_YET('IOMaximumBandwidth (Windows)'),
    IOMaximumIOps: NOT_YET('IOMaximumIOps (Windows)'), Init: 'implemented', IpcMode: 'implemented',
    Isolation: { refused: 'isolation: berth supports only the default isolation', accepts: (v) => v === '' || v === 'default' },
    KernelMemoryTCP: NOT_YET('KernelMemoryTCP'), Links: 'implemented', LogConfig: 'implemented',
    MaskedPaths: NOT_YET('MaskedPaths'), Memory: 'implemented', MemoryReservation: 'implemented', MemorySwap: 'implemented',
    MemorySwappiness: 'implemented', Mounts: 'implemented', NanoCpus: 'implemented', NetworkMode: 'implemented',
    OomKillDisable: 'implemented', OomScoreAdj: NOT_YET('--oom-score-adj'), PidMode: 'implemented', PidsLimit: 'implemented',
    PortBindings: 'implemented', Privileged: 'implemented', PublishAllPorts: 'implemented', ReadonlyPaths: NOT_YET('ReadonlyPaths'),
    ReadonlyRootfs: 'implemented', RestartPolicy: 'implemented', Runtime: 'implemented', SecurityOpt: 'implemented', ShmSize: 'implemented',
    // moby's overlay2 wording: berth sets up no project quotas, so a size limit is never honoured
    StorageOpt: { refused: "--storage-opt is supported only for overlay over xfs with 'pquota' mount option" }, Sysctls: NOT_YET('--sysctl'), Tmpfs: 'implemented', UTSMode: 'implemented', Ulimits: 'implemented',
    UsernsMode: { refused: '--userns is not supported by berth yet', accepts: (v) => v === '' || v === 'host' },
    VolumeDriver: { refused: 'only the local volume driver is supported', accepts: (v) => v === '' || v === 'local' },
    VolumesFrom: 'implemented',
  },
  NetworkingConfig: { EndpointsConfig: 'implemented' },
};

/**
 * Fails the create on the first refused field that is set (volumes need the storage issue's volume
 * API; the others have no implementation yet): accepting them would start a container without what
 * the user asked for.
 */
export function refuseUnsupportedFields(body: CreateSettingsBody): void {
  const check = (obj: Record<string, unknown> | null | undefined, rules: Record<string, FieldRule>) => {
    for (const [k, v] of Object.entries(obj ?? {})) {
      const r = rules[k];
      if (!r || typeof r === 'string' || !nonEmpty(v)) continue;
      if (r.accepts?.(v)) continue;
      throw new InvalidParameterError(r.refused);
    }
  };
  check(body as Record<string, unknown>, CREATE_FIELDS.Config);
  check(body.HostConfig as Record<string, unknown> | null | undefined, CREATE_FIELDS.HostConfig);
}

/**
 * An image's VOLUMEs are not refused: that would block running postgres, redis and most database
 * images. Docker gives each an anonymous volume; berth keeps the path in the container's writable
 * layer (same content at start, lost on `rm` as an anonymous volume is with `rm -v`) and says so in
 * the create answer's Warnings, as Docker reports what it could not honour.
 */
export function imageVolumeWarnings(imageVolumes: Record<string, object> | null | undefined): string[] {
  const paths = Object.keys(imageVolumes ?? {}).sort();
  if (!paths.length) return [];
  return [`The image's VOLUME ${paths.join(', ')} stays in the container's writable layer: berth has no volumes yet (no anonymous volume is created)`];
}

/**
 * What moby's verifyContainerSettings warns about at create (the answer's Warnings; the docker CLI prints
 * each as `WARNING: …`) for settings berth takes as Docker does: host networking has no ports to
 * publish, and an OOM killer turned off without a memory limit.
 */
export function createWarnings(hc: { NetworkMode?: string; PortBindings?: object | null; OomKillDisable?: boolean | null; Memory?: number | null }): string[] {
  const out: string[] = [];
  if (hc.NetworkMode === 'host' && Object.keys(hc.PortBindings ?? {}).length > 0) {
    out.push('Published ports are discarded when using host network mode');
  }
  if (hc.OomKillDisable && !hc.Memory) {
    out.push('OOM killer is disabled for the container, but no memory limit is set, this can result in the system running out of resources.');
  }
  return out;
}

export interface Ulimit { Name: string; Soft: number; Hard: number }

/** daemon.json default-ulimits, validated at berthd start: `{"nofile": {"Name": "nofile", "Soft": 1024, "Hard": 2048}}`. */
export function parseDefaultUlimits(v: unknown): Ulimit[] {
  if (v === undefined || v === null) return [];
  if (typeof v !== 'object' || Array.isArray(v)) throw new InvalidParameterError('default-ulimits must be an object of {"Name", "Soft", "Hard"}');
  const out: Ulimit[] = [];
  for (const [key, raw] of Object.entries(v as Record<string, unknown>)) {
    const u = raw as Partial<Ulimit> | null;
    if (!u || typeof u !== 'object') throw new InvalidParameterError(`default-ulimits: invalid ulimit ${key}`);
    const name = typeof u.Name === 'string' && u.Name ? u.Name : key;
    if (!ULIMIT_NAMES.has(name)) throw new InvalidParameterError(`default-ulimits: invalid ulimit type: ${name}`);
    if (!Number.isInteger(u.Soft) || !Number.isInteger(u.Hard)) throw new InvalidParameterError(`default-ulimits: ${name}: Soft and Hard must be integers`);
    if (u.Soft! > u.Hard!) throw new InvalidParameterError(`ulimit soft limit must be less than or equal to hard limit: ${u.Soft} > ${u.Hard}`);
    out.push({ Name: name, Soft: u.Soft!, Hard: u.Hard! });
  }
  return out;
}

/** The container's own --ulimit wins per name; the daemon's default-ulimits fill the rest (dockerd's mergeUlimits). */
export function mergeUlimits(own: Ulimit[] | null | undefined, defaults: Ulimit[]): Ulimit[] {
  const out = [...(own ?? [])];
  for (const d of defaults) if (!out.some((u) => u.Name === d.Name)) out.push({ ...d });
  return out;
}

export const ULIMIT_NAMES = new Set([
  'as', 'core', 'cpu', 'data', 'fsize', 'locks', 'memlock', 'msgqueue', 'nice', 'nofile', 'nproc', 'rss', 'rtprio', 'rttime', 'sigpending', 'stack',
]);

export interface DnsSettings { dns?: string[]; dnsSearch?: string[]; dnsOptions?: string[] }

/** daemon.json dns/dns-search/dns-opts apply when the container gives none of its own (per list, as dockerd). */
export function effectiveDns(own: DnsSettings, daemon: DnsSettings): DnsSettings {
  const pick = (a?: string[], b?: string[]) => (a && a.length ? a : b && b.length ? b : undefined);
  return { dns: pick(own.dns, daemon.dns), dnsSearch: pick(own.dnsSearch, daemon.dnsSearch), dnsOptions: pick(own.dnsOptions, daemon.dnsOptions) };
}
