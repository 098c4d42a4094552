// The container services' seams (consumer-defined, moby style) and the persisted record.
import type { MountPoint } from '../../core/mounts.js';
import type { Mount } from '../../sys/sys.js';
import type { ContainerConfig, HostConfig, ImageRuntimeConfig } from '../../core/container-config.js';
import type { ContainerState } from '../../core/container-state.js';

/** What the container service needs from the image store (consumer-defined, moby style). */
export interface ImageProvider {
  get(ref: string): { id: string; config: { config?: ImageRuntimeConfig | null; os?: string; architecture?: string; variant?: string } };
  rootfsMount(imageId: string, upper: string, work: string, target: string): Mount;
  /** the size of an image's layers by id, 0 when gone (SizeRootFs) */
  imageSize?(imageId: string): number;
}

import type { AttachConnection } from '../../core/attach-connection.js';
export type { AttachConnection } from '../../core/attach-connection.js';

/** What the container service needs from the OCI runtime driver (conmon + runc). */
export interface Runtime {
  create(req: { id: string; name: string; spec: unknown; tty: boolean; openStdin: boolean; stdinOnce: boolean; logPath: string; logDriver?: 'k8s-file' | 'none'; logSizeMax?: number; runtime?: string }): Promise<{ pid: number }>;
  /** the OCI runtimes HostConfig.Runtime may name, and the daemon's default */
  runtimeNames(): { names: string[]; default: string };
  start(id: string): Promise<void>;
  kill(id: string, signal: string | number): Promise<void>;
  delete(id: string, opts?: { force?: boolean }): Promise<void>;
  state(id: string): Promise<{ status: string; pid: number } | undefined>;
  readExit(id: string): { code: number; finishedAt: Date; oomKilled: boolean } | undefined;
  onExit(cb: (id: string) => void): void;
  conmonAlive(id: string): boolean;
  attach(id: string): Promise<AttachConnection>;
  list(): Promise<string[]>;
  pause(id: string): Promise<void>;
  resume(id: string): Promise<void>;
  resize(id: string, rows: number, cols: number): void;
  reopenLog(id: string): void;
  update(id: string, o: { memory?: number; memorySwap?: number; cpuShares?: number; cpuPeriod?: number; cpuQuota?: number; cpusetCpus?: string; cpusetMems?: string; pidsLimit?: number }): Promise<void>;
}

/** What the container service needs from networking (src/network/network-service.ts). */
export interface NetworkProvider {
  validateCreate(c: NetInfo): void;
  /** Resolves once the netns exists (for the spec); `done` once interfaces, rules and DNS are in place. */
  begin(o: NetInfo & {
    hostname: string; domainname?: string; portBindings?: unknown; publishAllPorts?: boolean;
    exposedPorts?: Record<string, unknown>; dns?: string[]; dnsSearch?: string[]; dnsOptions?: string[];
    extraHosts?: string[]; hostsPath?: string; resolvConfPath?: string; links?: Array<{ containerId: string; names: string }>;
  }): Promise<{
    network: { mode: 'path'; netnsPath: string } | { mode: 'host' } | { mode: 'none' };
    done: Promise<{ hosts: string; resolvConf: string }>;
  }>;
  teardown(id: string): Promise<void>;
  forget(id: string): Promise<void>;
  netnsPathOf(id: string): string | undefined;
  /** a running container's address on the default bridge (legacy links) */
  bridgeAddress(id: string): string | undefined;
  settings(c: NetInfo): Record<string, unknown>;
  portSummary(id: string): unknown[];
}
export interface NetInfo {
  id: string; name: string; running: boolean; networkMode: string;
  endpointsConfig?: Record<string, { Aliases?: string[] | null; IPAMConfig?: { IPv4Address?: string; IPv6Address?: string; LinkLocalIPs?: string[] | null } | null; MacAddress?: string; Links?: string[] | null } | null>;
  /** Config.MacAddress (deprecated since API 1.44): the primary network's endpoint MAC. */
  macAddress?: string;
}

export type SpecBuilder = (input: SpecBuilderInput) => unknown;
export interface SpecBuilderInput {
  id: string; args: string[]; env: string[]; cwd: string;
  user: { uid: number; gid: number; additionalGids: number[] };
  hostname: string; domainname?: string; tty: boolean; openStdin: boolean; rootfs: string; readonlyRootfs?: boolean;
  network: { mode: 'none' | 'host' | 'path'; netnsPath?: string };
  cgroupsPath: string;
  resources: { memory?: number; memorySwap?: number; nanoCpus?: number; cpuShares?: number; cpusetCpus?: string; cpusetMems?: string; pidsLimit?: number; oomKillDisable?: boolean };
  privileged?: boolean; capAdd?: string[]; capDrop?: string[]; noNewPrivileges?: boolean;
  seccomp?: 'default' | 'unconfined' | object; shmSize?: number;
  mounts?: { destination: string; type: string; source: string; options: string[] }[];
  annotations?: Record<string, string>;
  rlimits?: { type: string; hard: number; soft: number }[];
  devices?: { path: string; type: string; major: number; minor: number; fileMode?: number; uid?: number; gid?: number }[];
  deviceRules?: { allow: boolean; type?: string; major?: number; minor?: number; access?: string }[];
  pidNamespace?: 'host' | { path: string };
  ipcNamespace?: 'host' | { path: string };
}
export type UserResolver = (rootfs: string, user: string | undefined) => Promise<{ uid: number; gid: number; additionalGids: number[]; home: string }>;

/** The persisted container record; its shape follows inspect's so inspect is a projection. */
export interface ContainerRecord {
  Id: string;
  Created: string;
  Path: string;
  Args: string[];
  State: ContainerState;
  Image: string;
  Name: string;
  RestartCount: number;
  /** moby HasBeenManuallyStopped: the user stopped/killed it (unless-stopped and daemon boot read it) */
  HasBeenManuallyStopped?: boolean;
  Config: ContainerConfig;
  HostConfig: HostConfig;
  NetworkingConfig?: { EndpointsConfig?: NetInfo['endpointsConfig'] };
  LogPath: string;
  HostnamePath: string;
  HostsPath: string;
  ResolvConfPath: string;
  /** legacy links registered at create (default bridge): the child, its name then, and the alias */
  Links?: LegacyLink[];
  /** binds, volumes and --mount tmpfs (core/mounts.ts); inspect shows them as Mounts */
  MountPoints?: MountPoint[];
}


/** One legacy link of a container: inspect shows it as "/<child name>:/<parent name>/<Alias>". */
export interface LegacyLink { Id: string; Name: string; Alias: string }
