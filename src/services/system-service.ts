import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import { API_VERSION, BERTH_VERSION, MIN_API_VERSION } from '../version.js';
import type { Paths } from '../store/paths.js';
import { registryServiceConfig, type RegistryServiceConfig } from '../core/registry-config.js';
import type { RuntimeTable } from '../core/runtimes.js';

export interface SystemDeps {
  paths: Paths;
  containerCounts(): { total: number; running: number; paused: number; stopped: number };
  imageCount(): number;
  runcVersion(): string;
  startedAt: Date;
  /** daemon.json log-driver (what containers get by default) */
  loggingDriver?: string;
  /** shown by `docker info` (known runc vulnerabilities, ...) */
  warnings?: string[];
  /** -D / daemon.json debug */
  debug?: boolean;
  /** daemon.json live-restore */
  liveRestore?: boolean;
  /** daemon.json insecure-registries and registry-mirrors, resolved */
  registry?: RegistryServiceConfig;
  /** the OCI runtimes containers may name, and the default (core/runtimes.ts selectRuntimes) */
  runtimes?: { runtimes: RuntimeTable; defaultRuntime: string };
}

/** statfs f_type → the name dockerd's fsmagic table gives it ("Backing Filesystem" in info). */
const FS_MAGIC: Record<number, string> = {
  0xef53: 'extfs', 0x58465342: 'xfs', 0x9123683e: 'btrfs', 0x01021994: 'tmpfs', 0x794c7630: 'overlayfs',
  0x2fc12fc1: 'zfs', 0x6969: 'nfs', 0x858458f6: 'ramfs', 0x73717368: 'squashfs', 0xf2f52010: 'f2fs',
  0xf15f: 'ecryptfs', 0x52654973: 'reiserfs', 0x61756673: 'aufs', 0x65735546: 'fuse',
};

export function backingFsName(fsType: number): string {
  return FS_MAGIC[fsType >>> 0] ?? '<unknown>';
}

function backingFs(dir: string): string {
  try { return backingFsName(fs.statfsSync(dir).type); } catch { return '<unknown>'; }
}

function osRelease(): string {
  try {
    const m = /^PRETTY_NAME="?([^"\n]*)"?/m.exec(fs.readFileSync('/etc/os-release', 'utf8'));
    return m?.[1] ?? 'Linux';
  } catch { return 'Linux'; }
}

function cgroupVersion(): '1' | '2' {
  return fs.existsSync('/sys/fs/cgroup/cgroup.controllers') ? '2' : '1';
}

/** Serves api/routes/system.ts's SystemBackend (checked where main/ wires them). */
export class SystemService {
  private readonly id = crypto.randomUUID().toUpperCase();
  constructor(private readonly d: SystemDeps) {}

  version(): Record<string, unknown> {
    const arch = process.arch === 'x64' ? 'amd64' : process.arch;
    const details = { ApiVersion: API_VERSION, Arch: arch, BuildTime: '', Experimental: 'false', GitCommit: '', GoVersion: `node${process.versions.node}`, KernelVersion: os.release(), MinAPIVersion: MIN_API_VERSION, Os: 'linux' };
    return {
      Platform: { Name: 'berth' },
      Components: [
        { Name: 'Engine', Version: BERTH_VERSION, Details: details },
        { Name: 'runc', Version: this.d.runcVersion(), Details: { GitCommit: '' } },
      ],
      Version: BERTH_VERSION,
      ApiVersion: API_VERSION,
      MinAPIVersion: MIN_API_VERSION,
      GitCommit: '',
      GoVersion: `node${process.versions.node}`,
      Os: 'linux',
      Arch: arch,
      KernelVersion: os.release(),
      BuildTime: '',
    };
  }

  async info(): Promise<Record<string, unknown>> {
    const c = this.d.containerCounts();
    const cg = cgroupVersion();
    return {
      ID: this.id,
      Containers: c.total, ContainersRunning: c.running, ContainersPaused: c.paused, ContainersStopped: c.stopped,
      Images: this.d.imageCount(),
      Driver: 'overlay2',
      DriverStatus: [['Backing Filesystem', backingFs(this.d.paths.dataRoot)], ['Supports d_type', 'true'], ['Using metacopy', 'false'], ['Native Overlay Diff', 'true']],
      Plugins: { Volume: [], // no volume API yet: advertising `local` would promise volumes
         Network: ['bridge', 'host', 'null'], Authorization: null, Log: ['json-file', 'local', 'none'] },
      MemoryLimit: true, SwapLimit: fs.existsSync('/sys/fs/cgroup/memory/memory.memsw.limit_in_bytes'), KernelMemory: false,
      KernelMemoryTCP: false, CpuCfsPeriod: true, CpuCfsQuota: true, CPUShares: true, CPUSet: true, PidsLimit: true,
      IPv4Forwarding: readSysctl('/proc/sys/net/ipv4/ip_forward') === '1', BridgeNfIptables: false, BridgeNfIp6tables: false,
      Debug: !!this.d.debug, NFd: countFds(), OomKillDisable: cg === '1', NGoroutines: 0, SystemTime: new Date().toISOString(),
      LoggingDriver: this.d.loggingDriver ?? 'json-file', CgroupDriver: 'cgroupfs', CgroupVersion: cg, NEventsListener: 0,
      KernelVersion: os.release(), OperatingSystem: osRelease(), OSVersion: '', OSType: 'linux',
      Architecture: os.machine(), IndexServerAddress: 'https://index.docker.io/v1/',
      RegistryConfig: { AllowNondistributableArtifactsCIDRs: [], AllowNondistributableArtifactsHostnames: [], ...(this.d.registry ?? registryServiceConfig({}).config) },
      NCPU: os.cpus().length, MemTotal: os.totalmem(), GenericResources: null,
      DockerRootDir: this.d.paths.dataRoot, HttpProxy: process.env.HTTP_PROXY ?? '', HttpsProxy: process.env.HTTPS_PROXY ?? '',
      NoProxy: process.env.NO_PROXY ?? '', Name: os.hostname(), Labels: [], ExperimentalBuild: false,
      ServerVersion: BERTH_VERSION, Runtimes: this.d.runtimes?.runtimes ?? { runc: { path: 'runc' } }, DefaultRuntime: this.d.runtimes?.defaultRuntime ?? 'runc',
      Swarm: { NodeID: '', NodeAddr: '', LocalNodeState: 'inactive', ControlAvailable: false, Error: '', RemoteManagers: null },
      LiveRestoreEnabled: this.d.liveRestore ?? true, Isolation: '', InitBinary: 'tini', ContainerdCommit: { ID: '' }, RuncCommit: { ID: this.d.runcVersion() },
      InitCommit: { ID: '' }, SecurityOptions: ['name=seccomp,profile=builtin'], Warnings: [...(this.d.warnings ?? [])],
      CDISpecDirs: [],
    };
  }
}

function readSysctl(p: string): string {
  try { return fs.readFileSync(p, 'utf8').trim(); } catch { return ''; }
}

function countFds(): number {
  try { return fs.readdirSync('/proc/self/fd').length; } catch { return 0; }
}
