import { effectiveDns, imageVolumeWarnings, mergeUlimits, refuseUnsupportedFields, type DnsSettings, type Ulimit } from '../core/create-settings.js';
import crypto from 'node:crypto';
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import zlib from 'node:zlib';
import {
  ConflictError, InvalidParameterError, NotFoundError, NotModifiedError, SystemError, errorMessage,
} from '../errors.js';
import {
  mergeImageConfig, normalizePortKeys, parseSignal, processArgs, randomName, validateCreate, validateName,
  DEFAULT_RUNTIME, type ContainerConfig, type CreateBody, type HostConfig, type ImageRuntimeConfig,
} from '../core/container-config.js';
import { parseFilters, matchLabels, type Filters } from '../core/filters.js';
import { humanDuration } from '../core/human.js';
import { secureMkdirAll } from '../core/secure-path.js';
import type { Paths } from '../store/paths.js';
import { readJson, writeFileAtomic } from '../store/meta/atomic.js';
import type { Mount, Sys } from '../sys/sys.js';
import type { EventBus } from './events.js';
import { whenRemoved } from './container-gone.js';
import { HealthMonitor, type ProbeRunner } from './health-monitor.js';
import { RestartManager, killCancelsRestart, shouldStartOnDaemonBoot } from './restart-manager.js';
import type { HealthConfig, HealthState } from '../core/healthcheck.js';
import { trace, type Trace } from '../core/trace.js';
import { inspectMounts, volumeNames, type MountPoint } from '../core/mounts.js';
import type { ContainerMounts } from './volumes/container-mounts.js';

/** What the container service needs from the image store (consumer-defined, moby style). */
export interface ImageProvider {
  get(ref: string): { id: string; config: { config?: ImageRuntimeConfig | null } };
  rootfsMount(imageId: string, upper: string, work: string, target: string): Mount;
}

export interface AttachConnection {
  on(ev: 'data', cb: (stream: 1 | 2, data: Buffer) => void): void;
  on(ev: 'close', cb: () => void): void;
  write(data: Buffer): void;
  end(): void;
  destroy(): void;
}

/** What the container service needs from the OCI runtime driver (conmon + runc). */
export interface Runtime {
  create(req: { id: string; name: string; spec: unknown; tty: boolean; openStdin: boolean; stdinOnce: boolean; logPath: string; logDriver?: 'k8s-file' | 'none'; logSizeMax?: number }): Promise<{ pid: number }>;
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
    extraHosts?: string[]; hostsPath?: string; resolvConfPath?: string;
  }): Promise<{
    network: { mode: 'path'; netnsPath: string } | { mode: 'host' } | { mode: 'none' };
    done: Promise<{ hosts: string; resolvConf: string }>;
  }>;
  teardown(id: string): Promise<void>;
  forget(id: string): Promise<void>;
  netnsPathOf(id: string): string | undefined;
  settings(c: NetInfo): Record<string, unknown>;
  portSummary(id: string): unknown[];
}
export interface NetInfo {
  id: string; name: string; running: boolean; networkMode: string;
  endpointsConfig?: Record<string, { Aliases?: string[] | null; IPAMConfig?: { IPv4Address?: string } | null } | null>;
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

export type Status = 'created' | 'running' | 'paused' | 'restarting' | 'removing' | 'exited' | 'dead';

export interface ContainerState {
  Status: Status; Running: boolean; Paused: boolean; Restarting: boolean; OOMKilled: boolean; Dead: boolean;
  Pid: number; ExitCode: number; Error: string; StartedAt: string; FinishedAt: string;
  Health?: HealthState;
}

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
  /** binds, volumes and --mount tmpfs (core/mounts.ts); inspect shows them as Mounts */
  MountPoints?: MountPoint[];
}

export const ZERO_TIME = '0001-01-01T00:00:00Z';

const DEFAULT_STOP_TIMEOUT = 10;

interface Waiter { condition: 'next-exit' | 'not-running' | 'removed'; resolve: (r: { StatusCode: number; Error?: { Message: string } | null }) => void }

interface Live {
  rec: ContainerRecord;
  lock: Promise<unknown>;
  waiters: Waiter[];
  /** attach connections registered before start; connected between runc create and runc start */
  pendingAttach: ((conn: AttachConnection | undefined) => void)[];
  exitWaiters: (() => void)[];
  mounted: boolean;
  stopping?: boolean;
  /** finishExit is in progress (it runs outside the lock) */
  exiting?: boolean;
  /** checkMonitors found its conmon dead and is ending it */
  monitorLost?: boolean;
  /** moby ExitOnNext: the user's stop/kill cancels any restart of the coming exit */
  exitOnNext?: boolean;
}

export interface ContainerServiceDeps {
  paths: Paths;
  sys: Sys;
  images: ImageProvider;
  runtime: Runtime;
  events: EventBus;
  buildSpec: SpecBuilder;
  resolveUser: UserResolver;
  networks?: NetworkProvider;
  mounts?: ContainerMounts;
}

function nowIso(): string { return new Date().toISOString(); }
function shortId(id: string): string { return id.slice(0, 12); }

/** Docker's "exit code from a start failure" (moby daemon/start.go translateContainerdStartErr). */
export function startFailureExitCode(message: string): number {
  if (/executable file not found|no such file or directory|system cannot find the file specified/i.test(message)) return 127;
  if (/permission denied|is a directory/i.test(message)) return 126;
  return 128;
}

export class ContainerService {
  /** daemon-wide default detach keys (daemon.json `detach-keys`) */
  detachKeys = 'ctrl-p,ctrl-q';
  /** daemon.json log-driver / log-opts (checked with validateLogConfig before it is set) */
  defaultLogConfig: LogConfigValue = { Type: 'json-file', Config: {} };
  /** daemon.json default-ulimits and dns/dns-search/dns-opts */
  daemonDefaults: { ulimits: Ulimit[]; dns: DnsSettings } = { ulimits: [], dns: {} };
  private readonly byId = new Map<string, Live>();
  private readonly byName = new Map<string, string>();
  private readonly d: ContainerServiceDeps;
  private readonly restarts = new RestartManager();
  private readonly health: HealthMonitor;
  private probeRunner: ProbeRunner | undefined;
  private shuttingDown = false;

  constructor(deps: ContainerServiceDeps) {
    this.d = deps;
    this.health = new HealthMonitor({
      runProbe: (id, cmd, timeoutMs, signal) => {
        if (!this.probeRunner) return Promise.reject(new Error('no probe runner'));
        return this.probeRunner(id, cmd, timeoutMs, signal);
      },
      onStatus: (id, status) => {
        const live = this.byId.get(id);
        if (live) this.d.events.publish('container', `health_status: ${status}`, id, this.eventAttrs(live.rec));
      },
      onChange: (id, h) => {
        const live = this.byId.get(id);
        if (live) live.rec.State.Health = h;
      },
    });
  }

  /** Health probes run through exec, which itself needs this service: wired after construction. */
  setProbeRunner(run: ProbeRunner): void { this.probeRunner = run; }

  /** Daemon shutdown: no restarts are scheduled from now on, probes stop; containers keep running. */
  shutdown(): void {
    this.shuttingDown = true;
    if (this.rotateTimer) clearInterval(this.rotateTimer);
    this.restarts.cancelAll();
    this.health.stopAll();
  }

  private startHealth(live: Live): void {
    const rec = live.rec;
    this.health.start(rec.Id, rec.Config.Healthcheck as HealthConfig | undefined, {
      startedAt: Date.parse(rec.State.StartedAt), shell: rec.Config.Shell, previous: rec.State.Health,
    });
  }

  // ----- lookup

  /** Find by full id, name (with or without "/"), or unique id prefix (Docker's order). */
  private find(ref: string): Live {
    const byFull = this.byId.get(ref);
    if (byFull) return byFull;
    const name = ref.startsWith('/') ? ref.slice(1) : ref;
    const idByName = this.byName.get(name);
    if (idByName) return this.byId.get(idByName)!;
    if (/^[0-9a-f]+$/.test(ref)) {
      const matches = [...this.byId.keys()].filter((id) => id.startsWith(ref));
      if (matches.length === 1) return this.byId.get(matches[0]!)!;
      if (matches.length > 1) throw new InvalidParameterError(`multiple IDs found with provided prefix: ${ref}`);
    }
    throw new NotFoundError(`No such container: ${ref}`);
  }

  has(ref: string): boolean {
    try { this.find(ref); return true; } catch { return false; }
  }

  /** Serialise state-changing operations per container. */
  private async locked<T>(live: Live, fn: () => Promise<T>): Promise<T> {
    const prev = live.lock;
    let release!: () => void;
    live.lock = new Promise<void>((r) => { release = r; });
    try {
      await prev.catch(() => undefined);
      return await fn();
    } finally {
      release();
    }
  }

  containersUsingImage(imageId: string): { id: string; running: boolean }[] {
    return [...this.byId.values()].filter((l) => l.rec.Image === imageId)
      .map((l) => ({ id: l.rec.Id, running: l.rec.State.Running }));
  }

  /** ids of all containers, and of those running (for networking's reconciliation at start) */
  ids(): { all: Set<string>; running: Set<string> } {
    const all = new Set<string>(), running = new Set<string>();
    for (const [id, l] of this.byId) { all.add(id); if (l.rec.State.Running) running.add(id); }
    return { all, running };
  }

  counts(): { total: number; running: number; paused: number; stopped: number } {
    let running = 0, paused = 0;
    for (const l of this.byId.values()) {
      if (l.rec.State.Paused) paused++; else if (l.rec.State.Running) running++;
    }
    return { total: this.byId.size, running, paused, stopped: this.byId.size - running - paused };
  }

  // ----- persistence

  /** State transitions of an existing container: atomic, not fsynced (see writeFileAtomic); create is durable. */
  private async save(live: Live): Promise<void> {
    await writeFileAtomic(this.d.paths.containerRecord(live.rec.Id), JSON.stringify(live.rec), 0o600, { durable: false });
  }

  /** Load records and reconcile them with what conmon/runc left (live restore). */
  async init(): Promise<void> {
    const p = this.d.paths;
    for (const dir of [p.containersDir, p.exitsDir, p.bundlesDir]) await fsp.mkdir(dir, { recursive: true, mode: 0o710 });
    this.d.runtime.onExit((id) => { void this.onExit(id); });
    const ids = await fsp.readdir(p.containersDir).catch(() => [] as string[]);
    for (const id of ids) {
      const rec = await readJson<ContainerRecord>(p.containerRecord(id)).catch(() => undefined);
      if (!rec) {
        // A create that died before its record was written: nothing refers to it.
        await this.unmountQuiet(id);
        await fsp.rm(p.containerDir(id), { recursive: true, force: true });
        continue;
      }
      const live: Live = { rec, lock: Promise.resolve(), waiters: [], pendingAttach: [], exitWaiters: [], mounted: false };
      this.byId.set(id, live);
      this.byName.set(rec.Name.slice(1), id);
    }
    const known = new Set(this.byId.keys());
    // runc containers that no record claims (a crash mid-create) are removed.
    for (const rid of await this.d.runtime.list().catch(() => [] as string[])) {
      if (!known.has(rid)) await this.d.runtime.delete(rid, { force: true }).catch(() => undefined);
    }
    for (const live of this.byId.values()) await this.reconcile(live);
    for (const live of this.byId.values()) {
      if (live.rec.State.Running) this.startHealth(live);
      else if (live.rec.State.Health) this.health.load(live.rec.Id, live.rec.State.Health);
    }
    this.rotateTimer = setInterval(() => { this.rotateLogs(); this.checkMonitors(); }, 1000);
    this.rotateTimer.unref();
  }

  private rotateTimer: NodeJS.Timeout | undefined;

  /**
   * A running container whose conmon died (killed, OOM-killed) has nobody left to write its exit code,
   * its log or its attach streams, and its exit would never be seen: stop/rm would hang on it. End it
   * (podman's "conmon exited prematurely" case) and record the exit with the reason, once a second.
   */
  private checkMonitors(): void {
    for (const live of this.byId.values()) {
      const st = live.rec.State;
      if (!st.Running || st.Restarting || live.exiting || live.monitorLost) continue;
      if (this.d.runtime.conmonAlive(live.rec.Id)) continue;
      live.monitorLost = true;
      void this.monitorLost(live).finally(() => { live.monitorLost = false; });
    }
  }

  private async monitorLost(live: Live): Promise<void> {
    const id = live.rec.Id;
    // conmon writes the exit file before it exits: a normal end that the watcher has not reported yet.
    const exit = this.d.runtime.readExit(id);
    if (exit) { await this.onExit(id); return; }
    if (!live.rec.State.Running || this.d.runtime.conmonAlive(id)) return;
    await this.d.runtime.kill(id, 9).catch(() => undefined);
    await this.finishExit(live, { code: 137, finishedAt: new Date(), oomKilled: false }, 'monitor-died');
    if (live.rec.HostConfig.AutoRemove && this.byId.has(id)) await this.remove(id, { force: true }).catch(() => undefined);
  }

  /**
   * json-file rotation (max-size with max-file > 1): rename ctr.log → .1 → .2 ..., then ask conmon
   * to reopen. Output written between the rename and the reopen lands in .1: nothing is lost.
   */
  private rotateLogs(): void {
    for (const live of this.byId.values()) {
      const rec = live.rec;
      if (!rec.State.Running) continue;
      let limits: ReturnType<typeof logLimits>;
      try { limits = logLimits(rec.HostConfig); } catch { continue; }
      if (limits.maxSize === undefined || limits.maxFile < 2) continue;
      let size: number;
      try { size = fs.statSync(rec.LogPath).size; } catch { continue; }
      if (size < limits.maxSize) continue;
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
        this.d.runtime.reopenLog(rec.Id);
        // compress: every rotated file but the newest is gzipped, as Docker's json-file does.
        if (limits.compress && fs.existsSync(`${p}.2`)) void gzipFile(`${p}.2`);
      } catch { /* raced with removal */ }
    }
  }

  /** After networking is up too: start what the restart policies want running (moby daemon.restore). */
  async bootRestarts(): Promise<void> {
    for (const live of [...this.byId.values()]) {
      const r = live.rec;
      if (!shouldStartOnDaemonBoot(r.HostConfig.RestartPolicy, {
        manuallyStopped: !!r.HasBeenManuallyStopped, startedBefore: r.State.StartedAt !== ZERO_TIME,
        running: r.State.Running, exitCode: r.State.ExitCode, restartCount: r.RestartCount,
      })) continue;
      await this.start(r.Id).catch(() => undefined);
    }
  }

  private async reconcile(live: Live): Promise<void> {
    const rec = live.rec;
    const id = rec.Id;
    const wasRemoving = rec.State.Status === 'removing';
    if (rec.State.Status === 'restarting') {
      // The daemon died during a restart back-off: the process is gone; boot restarts decide again.
      rec.State = { ...rec.State, Status: 'exited', Running: false, Restarting: false, Pid: 0 };
      await this.save(live).catch(() => undefined);
    }
    if (rec.State.Running || wasRemoving) {
      const exit = this.d.runtime.readExit(id);
      const st = await this.d.runtime.state(id).catch(() => undefined);
      if (!exit && st && (st.status === 'running' || st.status === 'paused') && this.d.runtime.conmonAlive(id)) {
        live.mounted = true; // re-adopted: the overlay stayed mounted
        await this.d.mounts?.readopt(id, rec.MountPoints);
        rec.State.Pid = st.pid;
        if (wasRemoving) await this.remove(id, { force: true });
        return;
      }
      // Exited while we were down (exit file), or the monitor is gone (exit 255, as moby after a hard restart).
      if (rec.State.Running) await this.finishExit(live, exit ?? { code: 255, finishedAt: new Date(), oomKilled: false }, exit ? 'exited' : 'lost-while-down');
      if (wasRemoving || rec.HostConfig.AutoRemove) await this.remove(id, { force: true }).catch(() => undefined);
      return;
    }
    // Not running: make sure nothing of a run is left behind.
    await this.d.runtime.delete(id, { force: true }).catch(() => undefined);
    await this.unmountQuiet(id);
    if (rec.HostConfig.AutoRemove && rec.State.Status === 'exited') {
      await this.remove(id, { force: true }).catch(() => undefined);
    }
  }

  // ----- create

  async create(name: string | undefined, body: CreateBody | undefined): Promise<{ Id: string; Warnings: string[] }> {
    if (!body) throw new InvalidParameterError('invalid JSON: EOF');
    if (typeof body !== 'object' || Array.isArray(body)) throw new InvalidParameterError('invalid JSON: body must be an object');
    if (Object.keys(body).length === 0) throw new InvalidParameterError('config cannot be empty in order to create a container');
    if (!body.Image) throw new InvalidParameterError('No command specified');
    validateCreate(body, os.cpus().length);
    refuseUnsupportedFields(body);
    let cname: string;
    if (name) {
      cname = validateName(name);
    } else {
      do { cname = randomName(); } while (this.byName.has(cname));
    }
    const img = this.d.images.get(body.Image);
    const config = mergeImageConfig(body, img.config.config ?? {});
    config.Image = body.Image;
    const args = processArgs(config);
    const hc: HostConfig = { ...(body.HostConfig ?? {}) };
    if (hc.PortBindings) hc.PortBindings = normalizePortKeys(hc.PortBindings);
    hc.NetworkMode = hc.NetworkMode || 'default';
    hc.Runtime = hc.Runtime || DEFAULT_RUNTIME;
    hc.RestartPolicy = hc.RestartPolicy ?? { Name: 'no', MaximumRetryCount: 0 };
    if (!hc.RestartPolicy.Name) hc.RestartPolicy.Name = 'no';
    const logConfig = mergeLogConfig(hc.LogConfig, this.defaultLogConfig);
    validateLogConfig(logConfig);
    hc.LogConfig = logConfig;
    if (hc.Memory && !hc.MemorySwap) hc.MemorySwap = hc.Memory * 2;
    const existing = this.byName.get(cname);
    if (existing) {
      throw new ConflictError(`Conflict. The container name "/${cname}" is already in use by container "${existing}". You have to remove (or rename) that container to be able to reuse that name.`);
    }
    const id = crypto.randomBytes(32).toString('hex');
    const p = this.d.paths;
    const dir = p.containerDir(id);
    const rec: ContainerRecord = {
      Id: id,
      Created: nowIso(),
      Path: args[0]!,
      Args: args.slice(1),
      State: { Status: 'created', Running: false, Paused: false, Restarting: false, OOMKilled: false, Dead: false, Pid: 0, ExitCode: 0, Error: '', StartedAt: ZERO_TIME, FinishedAt: ZERO_TIME },
      Image: img.id,
      Name: `/${cname}`,
      RestartCount: 0,
      Config: config,
      HostConfig: hc,
      LogPath: p.containerLog(id),
      HostnamePath: path.join(dir, 'hostname'),
      HostsPath: path.join(dir, 'hosts'),
      ResolvConfPath: path.join(dir, 'resolv.conf'),
    };
    const ec = (body.NetworkingConfig as { EndpointsConfig?: NetInfo['endpointsConfig'] } | undefined)?.EndpointsConfig;
    if (ec) rec.NetworkingConfig = { EndpointsConfig: ec };
    const nm = hc.NetworkMode;
    if (nm.startsWith('container:')) {
      const other = this.find(nm.slice('container:'.length)).rec;
      if (other.Id === id) throw new InvalidParameterError('cannot join own network namespace');
    }
    try {
      this.d.networks?.validateCreate(this.netInfo(rec));
    } catch (err) {
      // As dockerd: an unknown network fails the start, not the create (a 404 from create would make
      // clients think the image is missing and try to pull it).
      if (!(err instanceof NotFoundError)) throw err;
    }
    // Reserve the name before any await so two concurrent creates cannot both take it.
    this.byName.set(cname, id);
    try {
      if (this.d.mounts) {
        rec.MountPoints = await this.d.mounts.atCreate(body, img.config.config?.Volumes, (ref) => this.find(ref).rec.MountPoints ?? []);
      }
    } catch (err) {
      this.byName.delete(cname);
      throw err;
    }
    try {
      await fsp.mkdir(dir, { recursive: true, mode: 0o710 });
      for (const sub of ['upper', 'work']) await fsp.mkdir(path.join(dir, sub), { mode: 0o755 });
      await fsp.mkdir(path.join(dir, 'merged'), { mode: 0o700 });
      await writeFileAtomic(p.containerRecord(id), JSON.stringify(rec));
    } catch (err) {
      this.byName.delete(cname);
      await fsp.rm(dir, { recursive: true, force: true });
      await this.d.mounts?.undoCreate(rec.MountPoints ?? []);
      throw err;
    }
    const live: Live = { rec, lock: Promise.resolve(), waiters: [], pendingAttach: [], exitWaiters: [], mounted: false };
    this.byId.set(id, live);
    this.d.events.publish('container', 'create', id, this.eventAttrs(rec));
    return { Id: id, Warnings: this.d.mounts ? [] : imageVolumeWarnings(img.config.config?.Volumes) };
  }

  netInfo(rec: ContainerRecord): NetInfo {
    return {
      id: rec.Id, name: rec.Name.slice(1), running: rec.State.Running, networkMode: rec.HostConfig.NetworkMode ?? 'default',
      endpointsConfig: rec.NetworkingConfig?.EndpointsConfig ?? undefined,
    };
  }

  /** For `container:<ref>` network mode: the other container, which must be running. */
  private netContainer(rec: ContainerRecord): ContainerRecord | undefined {
    const mode = rec.HostConfig.NetworkMode ?? '';
    if (!mode.startsWith('container:')) return undefined;
    const other = this.find(mode.slice('container:'.length)).rec;
    if (!other.State.Running) throw new ConflictError(`cannot join network of a non running container: ${other.Id}`);
    return other;
  }

  /** --pid / --ipc: host, container:<ref> (join its namespace) or private. */
  private sharedNamespace(mode: string | undefined, kind: 'pid' | 'ipc'): 'host' | { path: string } | undefined {
    if (!mode || mode === 'private' || mode === 'shareable' || mode === 'none') return undefined;
    if (mode === 'host') return 'host';
    if (mode.startsWith('container:')) {
      const other = this.find(mode.slice('container:'.length)).rec;
      if (!other.State.Running || !other.State.Pid) throw new ConflictError(`cannot join ${kind.toUpperCase()} of a non running container: ${other.Id}`);
      return { path: `/proc/${other.State.Pid}/ns/${kind}` };
    }
    throw new InvalidParameterError(`invalid ${kind.toUpperCase()} mode: ${mode}`);
  }

  private eventAttrs(rec: ContainerRecord, extra: Record<string, string> = {}): Record<string, string> {
    return { ...(rec.Config.Labels ?? {}), image: rec.Config.Image ?? '', name: rec.Name.slice(1), ...extra };
  }

  // ----- start

  async start(ref: string): Promise<void> {
    const live = this.find(ref);
    try {
      await this.locked(live, async () => {
        if (live.rec.State.Running) throw new NotModifiedError('container already started');
        // A user's start resets the restart bookkeeping (moby containerStart(resetRestartManager=true)).
        this.restarts.reset(live.rec.Id);
        live.rec.RestartCount = 0;
        live.rec.HasBeenManuallyStopped = false;
        live.exitOnNext = false;
        await this.startLocked(live);
      });
    } catch (err) {
      // As dockerd: an auto-remove container whose start failed is removed (clients wait on "removed").
      if (live.rec.HostConfig.AutoRemove && !(err instanceof NotModifiedError) && !live.rec.State.Running) {
        await this.remove(live.rec.Id, { force: true }).catch(() => undefined);
      }
      throw err;
    }
  }

  private async startLocked(live: Live): Promise<void> {
    const rec = live.rec;
    if (rec.State.Status === 'paused') throw new ConflictError('cannot start a paused container, try unpause instead');
    if (rec.State.Running) throw new NotModifiedError('container already started');
    if (rec.State.Status === 'removing') throw new ConflictError(`container is marked for removal and cannot be started`);
    const id = rec.Id;
    const p = this.d.paths;
    const rootfs = p.containerRootfs(id);
    const tr = trace(`start ${shortId(id)}`);
    try {
      if (!live.mounted) {
        const dir = p.containerDir(id);
        await this.d.sys.mountAsync(this.d.images.rootfsMount(rec.Image, path.join(dir, 'upper'), path.join(dir, 'work'), rootfs));
        live.mounted = true;
      }
      tr.mark('mount');
      const user = await this.d.resolveUser(rootfs, rec.Config.User || undefined);
      const cwd = rec.Config.WorkingDir || '/';
      if (cwd !== '/') secureMkdirAll(rootfs, cwd, user.uid, user.gid);
      const hostMode = rec.HostConfig.NetworkMode === 'host';
      const utsHost = rec.HostConfig.UTSMode === 'host';
      const joined = this.netContainer(rec);
      const hostname = hostMode || utsHost ? os.hostname() : joined ? (joined.Config.Hostname || shortId(joined.Id)) : (rec.Config.Hostname || shortId(id));
      if (!rec.Config.Hostname) rec.Config.Hostname = hostname;
      let network: SpecBuilderInput['network'] = { mode: hostMode ? 'host' : 'none' };
      let netDone: Promise<{ hosts: string; resolvConf: string }> | undefined;
      if (joined) {
        const ns = this.d.networks?.netnsPathOf(joined.Id) ?? (joined.State.Pid ? `/proc/${joined.State.Pid}/ns/net` : undefined);
        network = ns ? { mode: 'path', netnsPath: ns } : { mode: 'none' };
        await fsp.copyFile(joined.HostsPath, rec.HostsPath);
        await fsp.copyFile(joined.ResolvConfPath, rec.ResolvConfPath);
        await fsp.writeFile(rec.HostnamePath, `${hostname}\n`);
      } else if (this.d.networks) {
        const hc0 = rec.HostConfig;
        const net = await this.d.networks.begin({
          ...this.netInfo(rec), hostname, domainname: rec.Config.Domainname || undefined,
          portBindings: hc0.PortBindings ?? undefined, publishAllPorts: !!hc0.PublishAllPorts,
          exposedPorts: rec.Config.ExposedPorts ?? undefined,
          ...effectiveDns({ dns: hc0.Dns as string[], dnsSearch: hc0.DnsSearch as string[], dnsOptions: hc0.DnsOptions as string[] }, this.daemonDefaults.dns),
          extraHosts: (hc0.ExtraHosts as string[] | undefined) ?? undefined, hostsPath: rec.HostsPath,
          resolvConfPath: rec.ResolvConfPath,
        });
        network = net.network;
        // The interfaces are made while runc creates the container; start waits for them (netDone below).
        netDone = net.done;
        net.done.catch(() => undefined);
        await fsp.writeFile(rec.HostnamePath, `${hostname}\n`);
        // runc bind-mounts these by inode at create: they must exist now; their content comes in place later.
        for (const f of [rec.HostsPath, rec.ResolvConfPath]) await (await fsp.open(f, 'a')).close();
      } else {
        await this.writeEtcFiles(rec, hostname, hostMode);
      }
      tr.mark('net');
      // PATH, HOSTNAME and TERM defaults are buildSpec's (buildEnv); HOME needs the resolved user.
      const env = [...(rec.Config.Env ?? [])];
      if (!env.some((e) => e.startsWith('HOME='))) env.push(`HOME=${user.home || '/'}`);
      const hc = rec.HostConfig;
      const secOpts = hc.SecurityOpt ?? [];
      const extraMounts = [...runMounts(hc), ...(await this.d.mounts?.atStart(id, rec.MountPoints, rootfs) ?? [])];
      let args = [rec.Path, ...rec.Args];
      if (hc.Init) {
        // docker-init: Debian's static tini, bind-mounted as Docker mounts its docker-init.
        extraMounts.push({ destination: '/sbin/docker-init', type: 'bind', source: INIT_BINARY, options: ['rbind', 'ro', 'rprivate'] });
        args = ['/sbin/docker-init', '--', ...args];
      }
      const devs = hostDevices(hc);
      if (hc.Privileged) devs.devices.push(...allHostDevices().filter((d) => !devs.devices.some((x) => x.path === d.path)));
      const pidNamespace = this.sharedNamespace(hc.PidMode as string | undefined, 'pid');
      const ipcNamespace = this.sharedNamespace(hc.IpcMode as string | undefined, 'ipc');
      const groupAdd = ((hc.GroupAdd as string[] | undefined) ?? []).map((g) => {
        if (!/^\d+$/.test(g) || Number(g) > 2147483647) throw new InvalidParameterError(`invalid group for --group-add: ${g} (numeric gids only)`);
        return Number(g);
      });
      const seccompOpt = secOpts.find((s) => s.startsWith('seccomp=') || s.startsWith('seccomp:'));
      const spec = this.d.buildSpec({
        id,
        args,
        env,
        cwd,
        user: { uid: user.uid, gid: user.gid, additionalGids: [...new Set([...user.additionalGids, ...groupAdd])] },
        hostname,
        domainname: rec.Config.Domainname || undefined,
        rlimits: mergeUlimits(hc.Ulimits as Ulimit[] | undefined, this.daemonDefaults.ulimits)
          .map((u) => ({ type: `RLIMIT_${u.Name.toUpperCase()}`, soft: u.Soft, hard: u.Hard })),
        tty: !!rec.Config.Tty,
        openStdin: !!rec.Config.OpenStdin,
        rootfs,
        readonlyRootfs: !!hc.ReadonlyRootfs,
        network,
        cgroupsPath: `/berth/${id}`,
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
        devices: devs.devices, deviceRules: devs.rules, pidNamespace, ipcNamespace,
        ...(utsHost ? { utsNamespace: 'host' as const } : {}),
        shmSize: hc.ShmSize || undefined,
        mounts: [
          { destination: '/etc/resolv.conf', type: 'bind', source: rec.ResolvConfPath, options: ['rbind', 'rprivate'] },
          { destination: '/etc/hostname', type: 'bind', source: rec.HostnamePath, options: ['rbind', 'rprivate'] },
          { destination: '/etc/hosts', type: 'bind', source: rec.HostsPath, options: ['rbind', 'rprivate'] },
          ...extraMounts,
        ],
        annotations: rec.Config.Labels ?? undefined,
      });
      tr.mark('spec');
      // A log from an earlier run stays; conmon appends, as Docker's json-file does across restarts.
      const { pid } = await this.d.runtime.create({
        id, name: rec.Name.slice(1), spec, tty: !!rec.Config.Tty, openStdin: !!rec.Config.OpenStdin,
        stdinOnce: !!rec.Config.StdinOnce, logPath: rec.LogPath,
        logDriver: rec.HostConfig.LogConfig?.Type === 'none' ? 'none' : 'k8s-file',
        // max-file 1: conmon's own cut (it empties the file at the limit) is Docker's single-file rotation.
        // max-file > 1: berthd rotates (rotateLogs); conmon's byte count does not restart on a reopen,
        // so its cut would empty a fresh file: not passed (while berthd is down the file may grow).
        logSizeMax: (() => {
          const { maxSize, maxFile } = logLimits(rec.HostConfig);
          return maxFile === 1 ? maxSize : undefined;
        })(),
      });
      tr.mark('create');
      if (netDone) {
        try {
          const net = await netDone;
          // In place (same inodes): the container already has them bind-mounted.
          await fsp.writeFile(rec.HostsPath, net.hosts);
          await fsp.writeFile(rec.ResolvConfPath, net.resolvConf);
        } catch (err) {
          await this.d.runtime.delete(id, { force: true }).catch(() => undefined);
          throw err;
        }
        tr.mark('net-done');
      }
      await this.connectPendingAttaches(live);
      const startedAt = nowIso();
      try {
        await this.d.runtime.start(id);
      } catch (err) {
        await this.d.runtime.delete(id, { force: true }).catch(() => undefined);
        throw err;
      }
      rec.State = {
        ...rec.State, Status: 'running', Running: true, Paused: false, Restarting: false, OOMKilled: false, Dead: false,
        Pid: pid, ExitCode: 0, Error: '', StartedAt: startedAt, FinishedAt: ZERO_TIME,
      };
      tr.mark('start');
      await this.save(live);
      tr.mark('save');
      tr.end();
      this.d.events.publish('container', 'start', id, this.eventAttrs(rec));
      this.startHealth(live);
      // The process may have exited before we recorded "running": its exit event was ignored then.
      if (this.d.runtime.readExit(id)) void this.onExit(id);
    } catch (err) {
      const message = errorMessage(err);
      for (const cb of live.pendingAttach.splice(0)) cb(undefined);
      await this.d.networks?.teardown(id).catch(() => undefined);
      await this.unmountQuiet(id);
      live.mounted = false;
      rec.State = { ...rec.State, ExitCode: startFailureExitCode(message), Error: message };
      await this.save(live).catch(() => undefined);
      this.d.events.publish('container', 'die', id, this.eventAttrs(rec, { exitCode: String(rec.State.ExitCode) }));
      const wrapped = `failed to create task for container: OCI runtime create failed: ${message}: unknown`;
      throw (rec.State.ExitCode === 127 || rec.State.ExitCode === 126)
        ? new InvalidParameterError(wrapped, { cause: err })
        : new SystemError(wrapped, { cause: err });
    }
  }

  private async writeEtcFiles(rec: ContainerRecord, hostname: string, hostMode: boolean): Promise<void> {
    const domain = rec.Config.Domainname ? `${hostname}.${rec.Config.Domainname} ` : '';
    let hosts: string;
    let resolv: string;
    if (hostMode) {
      hosts = await fsp.readFile('/etc/hosts', 'utf8').catch(() => '127.0.0.1\tlocalhost\n');
    } else {
      hosts = '127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\nfe00::0\tip6-localnet\n' +
        'ff00::0\tip6-mcastprefix\nff02::1\tip6-allnodes\nff02::2\tip6-allrouters\n';
      if (domain) hosts += `127.0.0.1\t${domain.trim()} ${hostname}\n`;
    }
    for (const h of (rec.HostConfig.ExtraHosts as string[] | undefined) ?? []) {
      const i = h.indexOf(':');
      if (i > 0) hosts += `${h.slice(i + 1)}\t${h.slice(0, i)}\n`;
    }
    // Without a network of its own, the container can still use the host's resolvers via --network host only;
    // with none it gets the host's file minus loopback nameservers, as Docker does.
    const hostResolv = await fsp.readFile('/etc/resolv.conf', 'utf8').catch(() => '');
    resolv = hostMode ? hostResolv : hostResolv.split('\n').filter((l) => !/^\s*nameserver\s+(127\.|::1)/.test(l)).join('\n');
    await fsp.writeFile(rec.HostnamePath, `${hostname}\n`);
    await fsp.writeFile(rec.HostsPath, hosts);
    await fsp.writeFile(rec.ResolvConfPath, resolv);
  }

  private async connectPendingAttaches(live: Live): Promise<void> {
    const pending = live.pendingAttach.splice(0);
    for (const cb of pending) {
      try {
        cb(await this.d.runtime.attach(live.rec.Id));
      } catch {
        cb(undefined);
      }
    }
  }

  // ----- exit handling

  /**
   * The exit watcher's entry. Deliberately lock-free: stop/remove hold the container lock while they
   * wait for this very exit, so finishExit guards itself with `exiting` instead.
   */
  private async onExit(id: string): Promise<void> {
    const live = this.byId.get(id);
    if (!live || !live.rec.State.Running) return;
    const exit = this.d.runtime.readExit(id);
    if (!exit) return;
    const tr = trace(`exit ${shortId(id)}`);
    await this.finishExit(live, exit, 'exited', tr);
    if (live.rec.HostConfig.AutoRemove && this.byId.has(id)) {
      await this.remove(id, { force: true }, tr).catch(() => undefined);
    }
    tr.end();
  }

  /**
   * `how`: 'exited' (conmon reported the exit), 'lost-while-down' (the monitor vanished while berthd was
   * down: exit code unknown, no restart, as moby after a hard restart), 'monitor-died' (conmon died under
   * a running berthd, which then killed the container: restart policies apply).
   */
  private async finishExit(live: Live, exit: { code: number; finishedAt: Date; oomKilled: boolean }, how: 'exited' | 'lost-while-down' | 'monitor-died', tr?: Trace): Promise<void> {
    const lost = how === 'lost-while-down';
    if (live.exiting || !live.rec.State.Running || live.rec.State.Restarting) return;
    live.exiting = true;
    try {
      const rec = live.rec;
      this.health.stop(rec.Id);
      const decision = this.restarts.decide(rec.Id, rec.HostConfig.RestartPolicy, {
        exitCode: exit.code, manuallyStopped: !!rec.HasBeenManuallyStopped, canceled: !!live.exitOnNext,
        restartCount: rec.RestartCount, runDurationMs: exit.finishedAt.getTime() - Date.parse(rec.State.StartedAt),
        daemonShuttingDown: this.shuttingDown,
      });
      live.exitOnNext = false;
      await this.d.runtime.delete(rec.Id, { force: true }).catch(() => undefined);
      tr?.mark('runtime-delete');
      // Not awaited: the network service runs its operations in order (a restart's setup, a remove's
      // forget queue behind this teardown), and the exit need not wait for veth/netns removal.
      void this.d.networks?.teardown(rec.Id).catch(() => undefined);
      await this.unmountQuiet(rec.Id);
      live.mounted = false;
      tr?.mark('unmount');
      const restart = decision.restart && !lost && this.byId.has(rec.Id);
      rec.State = {
        ...rec.State, Status: restart ? 'restarting' : 'exited', Running: restart, Paused: false, Restarting: restart, Pid: 0,
        ExitCode: exit.code, OOMKilled: exit.oomKilled, FinishedAt: exit.finishedAt.toISOString(),
        Error: lost ? 'container monitor exited while the daemon was down; exit code unknown'
          : how === 'monitor-died' ? 'conmon exited prematurely, exit code could not be retrieved: the container was killed' : '',
      };
      if (restart) rec.RestartCount++;
      await this.save(live).catch(() => undefined);
      tr?.mark('save');
      if (exit.oomKilled) this.d.events.publish('container', 'oom', rec.Id, this.eventAttrs(rec));
      this.d.events.publish('container', 'die', rec.Id, this.eventAttrs(rec, { exitCode: String(exit.code) }));
      for (const w of live.exitWaiters.splice(0)) w();
      const keep: Waiter[] = [];
      for (const w of live.waiters) {
        if (w.condition === 'removed') keep.push(w);
        else w.resolve({ StatusCode: exit.code, Error: null });
      }
      live.waiters = keep;
      if (restart) this.restarts.schedule(rec.Id, decision.delayMs, () => this.autoRestart(live));
    } finally {
      live.exiting = false;
    }
  }

  /** The restart policy's start: no reset of RestartCount or back-off (moby containerStart(false)). */
  private async autoRestart(live: Live): Promise<void> {
    if (!this.byId.has(live.rec.Id) || !live.rec.State.Restarting) return;
    await this.locked(live, async () => {
      if (!live.rec.State.Restarting) return;
      // Status stays "restarting" while the start runs; Running goes false so startLocked proceeds.
      live.rec.State = { ...live.rec.State, Running: false };
      try {
        await this.startLocked(live);
      } catch {
        // startLocked recorded the error; the container stays exited.
        live.rec.State = { ...live.rec.State, Status: 'exited', Running: false, Restarting: false };
        await this.save(live).catch(() => undefined);
        for (const w of live.exitWaiters.splice(0)) w();
      }
    });
  }

  /** A user's stop/kill of a container waiting to restart: cancel the restart, leave it exited. */
  private async cancelRestart(live: Live): Promise<void> {
    this.restarts.cancel(live.rec.Id);
    live.rec.State = { ...live.rec.State, Status: 'exited', Running: false, Restarting: false, Pid: 0 };
    await this.save(live).catch(() => undefined);
    for (const w of live.exitWaiters.splice(0)) w();
  }

  private async unmountQuiet(id: string): Promise<void> {
    await this.d.mounts?.atExit(id);
    await this.d.sys.unmountAsync(this.d.paths.containerRootfs(id)).catch(() => { /* not mounted */ });
  }

  /** Resolves when the running container exits, or after `ms` (false). */
  private waitExit(live: Live, ms: number): Promise<boolean> {
    if (!live.rec.State.Running) return Promise.resolve(true);
    return new Promise((resolve) => {
      let timer: NodeJS.Timeout | undefined;
      const done = () => { if (timer) clearTimeout(timer); resolve(true); };
      live.exitWaiters.push(done);
      if (ms >= 0) {
        timer = setTimeout(() => {
          const i = live.exitWaiters.indexOf(done);
          if (i >= 0) live.exitWaiters.splice(i, 1);
          resolve(false);
        }, ms);
      }
    });
  }

  // ----- stop / kill / restart

  async stop(ref: string, opts: { timeout?: number; signal?: string } = {}): Promise<void> {
    const live = this.find(ref);
    await this.locked(live, () => this.stopLocked(live, opts));
  }

  private async stopLocked(live: Live, opts: { timeout?: number; signal?: string }): Promise<void> {
    const rec = live.rec;
    if (!rec.State.Running) throw new NotModifiedError('container already stopped');
    if (!this.shuttingDown) rec.HasBeenManuallyStopped = true;
    live.exitOnNext = true;
    if (rec.State.Restarting) {
      await this.cancelRestart(live);
      this.d.events.publish('container', 'stop', rec.Id, this.eventAttrs(rec));
      return;
    }
    const sig = parseSignal(opts.signal || rec.Config.StopSignal || 'SIGTERM');
    const timeout = opts.timeout ?? rec.Config.StopTimeout ?? DEFAULT_STOP_TIMEOUT;
    live.stopping = true;
    try {
      await this.d.runtime.kill(rec.Id, sig).catch(() => undefined);
      if (rec.State.Paused) await this.thaw(live);
      this.d.events.publish('container', 'kill', rec.Id, this.eventAttrs(rec, { signal: String(sig) }));
      if (!(await this.waitExit(live, timeout < 0 ? -1 : timeout * 1000))) {
        await this.d.runtime.kill(rec.Id, 9).catch(() => undefined);
        this.d.events.publish('container', 'kill', rec.Id, this.eventAttrs(rec, { signal: '9' }));
        if (!(await this.waitExit(live, 30_000))) throw new SystemError(`container ${rec.Id} did not exit after SIGKILL`);
      }
    } finally {
      live.stopping = false;
    }
    this.d.events.publish('container', 'stop', rec.Id, this.eventAttrs(rec));
  }

  /** Called by the runtime's exit watcher while we wait; also usable directly. */
  private async exitNow(live: Live): Promise<void> {
    const exit = this.d.runtime.readExit(live.rec.Id);
    if (exit && live.rec.State.Running) await this.finishExit(live, exit, 'exited');
  }

  /** A frozen process cannot act on a signal: thaw it (stop/kill/rm of a paused container, as dockerd). */
  private async thaw(live: Live): Promise<void> {
    await this.d.runtime.resume(live.rec.Id).catch(() => undefined);
    live.rec.State = { ...live.rec.State, Status: 'running', Paused: false };
  }

  async kill(ref: string, signal?: string): Promise<void> {
    const live = this.find(ref);
    const rec = live.rec;
    const sig = parseSignal(signal || 'SIGKILL');
    if (!rec.State.Running) {
      throw new ConflictError(`cannot kill container: ${ref}: container ${rec.Id} is not running`);
    }
    rec.HasBeenManuallyStopped = true;
    const cancels = killCancelsRestart(sig, rec.Config.StopSignal ? parseSignal(rec.Config.StopSignal) : undefined);
    if (cancels) live.exitOnNext = true;
    if (rec.State.Restarting) {
      if (cancels) await this.cancelRestart(live);
      return;
    }
    await this.d.runtime.kill(rec.Id, sig);
    if (rec.State.Paused && sig === 9) await this.thaw(live);
    this.d.events.publish('container', 'kill', rec.Id, this.eventAttrs(rec, { signal: String(sig) }));
    if (sig === 9) await this.waitExit(live, 10_000);
  }

  async restart(ref: string, opts: { timeout?: number; signal?: string } = {}): Promise<void> {
    const live = this.find(ref);
    await this.locked(live, async () => {
      if (live.rec.State.Running) await this.stopLocked(live, opts);
      this.restarts.reset(live.rec.Id);
      live.rec.RestartCount = 0;
      live.rec.HasBeenManuallyStopped = false;
      live.exitOnNext = false;
      await this.startLocked(live);
    });
    this.d.events.publish('container', 'restart', live.rec.Id, this.eventAttrs(live.rec));
  }

  // ----- pause / unpause / resize / update

  async pause(ref: string): Promise<void> {
    const live = this.find(ref);
    await this.locked(live, async () => {
      const rec = live.rec;
      if (!rec.State.Running) throw new ConflictError(`Container ${rec.Id} is not running`);
      if (rec.State.Paused) throw new ConflictError(`Container ${rec.Id} is already paused`);
      if (rec.State.Restarting) throw new ConflictError(`Container ${rec.Id} is restarting, wait until the container is running`);
      await this.d.runtime.pause(rec.Id);
      this.health.pause(rec.Id);
      rec.State = { ...rec.State, Status: 'paused', Paused: true };
      await this.save(live);
      this.d.events.publish('container', 'pause', rec.Id, this.eventAttrs(rec));
    });
  }

  async unpause(ref: string): Promise<void> {
    const live = this.find(ref);
    await this.locked(live, async () => {
      const rec = live.rec;
      if (!rec.State.Paused) throw new ConflictError(`Container ${rec.Id} is not paused`);
      await this.d.runtime.resume(rec.Id);
      this.health.unpause(rec.Id);
      rec.State = { ...rec.State, Status: 'running', Paused: false };
      await this.save(live);
      this.d.events.publish('container', 'unpause', rec.Id, this.eventAttrs(rec));
    });
  }

  resize(ref: string, rows: number, cols: number): void {
    const rec = this.find(ref).rec;
    if (!Number.isInteger(rows) || !Number.isInteger(cols) || rows < 0 || cols < 0) {
      throw new InvalidParameterError('invalid resize dimensions');
    }
    if (!rec.State.Running) throw new ConflictError(`Container ${rec.Id} is not running`);
    if (!rec.Config.Tty) return; // Docker accepts and ignores a resize without a TTY
    this.d.runtime.resize(rec.Id, rows, cols);
  }

  /** `docker update`: resources applied live through runc, the restart policy recorded. */
  async update(ref: string, body: HostConfig | undefined): Promise<{ Warnings: string[] }> {
    const live = this.find(ref);
    const b = body ?? {};
    return this.locked(live, async () => {
      const rec = live.rec;
      const hc = rec.HostConfig;
      const next: HostConfig = { ...hc };
      for (const k of ['Memory', 'MemorySwap', 'MemoryReservation', 'NanoCpus', 'CpuShares', 'CpuPeriod', 'CpuQuota', 'CpusetCpus', 'CpusetMems', 'PidsLimit'] as const) {
        const v = b[k];
        if (v !== undefined && v !== null && v !== 0 && v !== '') (next as Record<string, unknown>)[k] = v;
      }
      if (b.RestartPolicy && b.RestartPolicy.Name !== undefined) {
        if (hc.AutoRemove && b.RestartPolicy.Name && b.RestartPolicy.Name !== 'no') {
          throw new InvalidParameterError('Restart policy cannot be updated because AutoRemove is enabled for the container');
        }
        next.RestartPolicy = { Name: b.RestartPolicy.Name || 'no', MaximumRetryCount: b.RestartPolicy.MaximumRetryCount ?? 0 };
      }
      if (b.Memory && !b.MemorySwap && hc.MemorySwap && hc.MemorySwap > 0 && hc.MemorySwap < b.Memory) {
        throw new InvalidParameterError('Memory limit should be smaller than already set memoryswap limit, update the memoryswap at the same time');
      }
      validateCreate({ Image: 'x', HostConfig: next }, os.cpus().length);
      if (rec.State.Running) {
        const o: Parameters<Runtime['update']>[1] = {};
        if (b.Memory) o.memory = b.Memory;
        if (b.MemorySwap) o.memorySwap = b.MemorySwap;
        if (b.CpuShares) o.cpuShares = b.CpuShares;
        if (b.NanoCpus) { o.cpuPeriod = 100000; o.cpuQuota = Math.round(b.NanoCpus / 1e9 * 100000); }
        if (b.CpuPeriod) o.cpuPeriod = b.CpuPeriod;
        if (b.CpuQuota) o.cpuQuota = b.CpuQuota;
        if (b.CpusetCpus) o.cpusetCpus = b.CpusetCpus;
        if (b.CpusetMems) o.cpusetMems = b.CpusetMems;
        if (b.PidsLimit) o.pidsLimit = b.PidsLimit;
        // Raising memory above the current swap limit fails in the kernel unless swap goes first.
        if (o.memory !== undefined && o.memorySwap === undefined && (hc.MemorySwap ?? 0) > 0 && o.memory * 2 > (hc.MemorySwap ?? 0)) {
          o.memorySwap = o.memory * 2;
          next.MemorySwap = o.memorySwap;
        }
        if (Object.keys(o).length) await this.d.runtime.update(rec.Id, o);
      }
      rec.HostConfig = next;
      await this.save(live);
      this.d.events.publish('container', 'update', rec.Id, this.eventAttrs(rec));
      return { Warnings: [] };
    });
  }

  // ----- wait

  /** Registers a waiter now; `result` settles on the condition (an object so `await` does not flatten it). */
  wait(ref: string, condition: string): { result: Promise<{ StatusCode: number; Error?: { Message: string } | null }> } {
    const live = this.find(ref);
    const cond = (condition || 'not-running') as Waiter['condition'];
    if (!['not-running', 'next-exit', 'removed'].includes(cond)) {
      throw new InvalidParameterError(`invalid condition: "${condition}"`);
    }
    if (cond === 'not-running' && !live.rec.State.Running) {
      return { result: Promise.resolve({ StatusCode: live.rec.State.ExitCode, Error: null }) };
    }
    return { result: new Promise((resolve) => live.waiters.push({ condition: cond, resolve })) };
  }

  // ----- remove

  async remove(ref: string, opts: { force?: boolean; volumes?: boolean; link?: boolean } = {}, tr?: Trace): Promise<void> {
    const live = this.find(ref);
    if (opts.link) throw new InvalidParameterError('legacy links are not supported');
    await this.locked(live, async () => {
      const rec = live.rec;
      if (!this.byId.has(rec.Id)) return;
      if (rec.State.Restarting) {
        if (!opts.force) {
          throw new ConflictError(`cannot remove container "${rec.Name}": container is restarting: stop the container before removing or force remove`);
        }
        await this.cancelRestart(live);
      }
      if (rec.State.Running) {
        if (!opts.force) {
          throw new ConflictError(`cannot remove container "${rec.Name}": container is running: stop the container before removing or force remove`);
        }
        live.exitOnNext = true;
        await this.d.runtime.kill(rec.Id, 9).catch(() => undefined);
        if (rec.State.Paused) await this.thaw(live);
        if (!(await this.waitExit(live, 10_000))) {
          await this.exitNow(live);
          if (rec.State.Running) await this.finishExit(live, { code: 137, finishedAt: new Date(), oomKilled: false }, 'lost-while-down');
        }
      }
      this.restarts.reset(rec.Id);
      this.health.forget(rec.Id);
      rec.State.Status = 'removing';
      tr?.mark('rm-lock');
      await this.save(live).catch(() => undefined);
      tr?.mark('rm-save');
      await this.d.runtime.delete(rec.Id, { force: true }).catch(() => undefined);
      tr?.mark('rm-runtime-delete');
      void this.d.networks?.forget(rec.Id).catch(() => undefined); // queued after any teardown
      await this.unmountQuiet(rec.Id);
      await fsp.rm(this.d.paths.containerDir(rec.Id), { recursive: true, force: true });
      tr?.mark('rm-dirs');
      this.byId.delete(rec.Id);
      if (this.byName.get(rec.Name.slice(1)) === rec.Id) this.byName.delete(rec.Name.slice(1));
      this.d.events.publish('container', 'destroy', rec.Id, this.eventAttrs(rec));
      for (const w of live.waiters.splice(0)) w.resolve({ StatusCode: rec.State.ExitCode, Error: null });
      await this.d.mounts?.atRemove(rec.Id, rec.MountPoints, !!opts.volumes || !!rec.HostConfig.AutoRemove);
    });
  }

  /** Ids of the containers (any state) whose mounts refer to the volume: it is in use while they exist. */
  containersUsingVolume(name: string): string[] {
    const out: string[] = [];
    for (const l of this.byId.values()) if (volumeNames(l.rec.MountPoints).includes(name)) out.push(l.rec.Id);
    return out;
  }

  // ----- rename

  async rename(ref: string, newName: string): Promise<void> {
    const live = this.find(ref);
    if (!newName) throw new InvalidParameterError('Neither old nor new names may be empty');
    const n = validateName(newName);
    const old = live.rec.Name.slice(1);
    if (n === old) throw new InvalidParameterError(`Renaming a container with the same name as its current name`);
    const holder = this.byName.get(n);
    if (holder) {
      throw new ConflictError(`Conflict. The container name "/${n}" is already in use by container "${holder}". You have to remove (or rename) that container to be able to reuse that name.`);
    }
    this.byName.set(n, live.rec.Id);
    this.byName.delete(old);
    live.rec.Name = `/${n}`;
    await this.save(live);
    this.d.events.publish('container', 'rename', live.rec.Id, this.eventAttrs(live.rec, { oldName: `/${old}` }));
  }

  // ----- attach (stdout/stderr, stdin)

  /**
   * Connect to the container's stdio. For a created container the connection is made at start,
   * between runc create and runc start, so no output is lost (docker run attaches before start).
   */
  /**
   * The container's streams: at once for a running container; for a created or exited one, when it next
   * starts (between runc create and start, so nothing is lost). `cancel` gives up a waiting attach (the
   * client went away): its promise then resolves undefined.
   */
  async attach(ref: string): Promise<{ live: ContainerRecord; conn: Promise<AttachConnection | undefined>; cancel: () => void }> {
    const live = this.find(ref);
    const st = live.rec.State;
    if (st.Paused) throw new ConflictError(`You cannot attach to a paused container, unpause it first`);
    if (st.Running) return { live: live.rec, conn: this.d.runtime.attach(live.rec.Id), cancel: () => {} };
    if (st.Status === 'created' || st.Status === 'exited') {
      let waiter!: (conn: AttachConnection | undefined) => void;
      const conn = new Promise<AttachConnection | undefined>((resolve) => { waiter = resolve; live.pendingAttach.push(resolve); });
      const cancel = () => {
        const i = live.pendingAttach.indexOf(waiter);
        if (i >= 0) { live.pendingAttach.splice(i, 1); waiter(undefined); }
      };
      return { live: live.rec, conn, cancel };
    }
    throw new ConflictError(`You cannot attach to a stopped container, start it first`);
  }

  // ----- read

  get(ref: string): ContainerRecord { return this.find(ref).rec; }

  isRunning(id: string): boolean { return this.byId.get(id)?.rec.State.Running ?? false; }

  /** Resolves when the container is no longer running (immediately if it is not). */
  async untilStopped(id: string): Promise<void> {
    // A restart policy's restart is not a stop: `logs -f` follows across it.
    for (;;) {
      const live = this.byId.get(id);
      if (!live || !live.rec.State.Running) return;
      await this.waitExit(live, -1);
      if (!this.byId.get(id)?.rec.State.Restarting) return;
    }
  }

  /** Resolves when the container is removed; streams race it (services/container-gone.ts). */
  whenRemoved(id: string): { removed: Promise<void>; cancel(): void } {
    return whenRemoved(this.d.events, (i) => this.byId.has(i), id);
  }

  inspect(ref: string, size = false): Record<string, unknown> {
    const rec = this.find(ref).rec;
    const dir = this.d.paths.containerDir(rec.Id);
    const out: Record<string, unknown> = {
      Id: rec.Id,
      Created: rec.Created,
      Path: rec.Path,
      Args: rec.Args,
      State: this.stateView(rec),
      Image: rec.Image,
      ResolvConfPath: rec.ResolvConfPath,
      HostnamePath: rec.HostnamePath,
      HostsPath: rec.HostsPath,
      LogPath: rec.LogPath,
      Name: rec.Name,
      RestartCount: rec.RestartCount,
      Driver: 'overlay2',
      Platform: 'linux',
      MountLabel: '',
      ProcessLabel: '',
      AppArmorProfile: '',
      ExecIDs: null,
      HostConfig: rec.HostConfig,
      GraphDriver: {
        Name: 'overlay2',
        Data: { MergedDir: path.join(dir, 'merged'), UpperDir: path.join(dir, 'upper'), WorkDir: path.join(dir, 'work') },
      },
      Mounts: inspectMounts(rec.MountPoints),
      Config: rec.Config,
      NetworkSettings: this.d.networks ? this.d.networks.settings(this.netInfo(rec)) : this.networkSettings(rec),
    };
    if (size) {
      out.SizeRw = dirSize(path.join(dir, 'upper'));
      out.SizeRootFs = out.SizeRw;
    }
    return out;
  }

  private stateView(rec: ContainerRecord): ContainerState {
    const h = this.health.health(rec.Id) ?? rec.State.Health;
    const { Health: _omit, ...rest } = rec.State;
    return h ? { ...rest, Health: h } : rest;
  }

  private networkSettings(rec: ContainerRecord): Record<string, unknown> {
    const mode = rec.HostConfig.NetworkMode === 'host' ? 'host' : 'none';
    return {
      Bridge: '', SandboxID: '', SandboxKey: '', HairpinMode: false, LinkLocalIPv6Address: '', LinkLocalIPv6PrefixLen: 0,
      Ports: {}, SecondaryIPAddresses: null, SecondaryIPv6Addresses: null, EndpointID: '', Gateway: '',
      GlobalIPv6Address: '', GlobalIPv6PrefixLen: 0, IPAddress: '', IPPrefixLen: 0, IPv6Gateway: '', MacAddress: '',
      Networks: {
        [mode]: {
          IPAMConfig: null, Links: null, Aliases: null, MacAddress: '', NetworkID: mode, EndpointID: '', Gateway: '',
          IPAddress: '', IPPrefixLen: 0, IPv6Gateway: '', GlobalIPv6Address: '', GlobalIPv6PrefixLen: 0, DriverOpts: null, DNSNames: null,
        },
      },
    };
  }

  list(opts: { all?: boolean; limit?: number; size?: boolean; filters?: string | null }): Record<string, unknown>[] {
    const f = parseFilters(opts.filters, ['id', 'name', 'label', 'status', 'ancestor', 'exited', 'before', 'since', 'health', 'network', 'volume', 'publish', 'expose', 'isolation', 'is-task']);
    for (const s of f.get('status') ?? []) {
      if (!['created', 'restarting', 'running', 'removing', 'paused', 'exited', 'dead'].includes(s)) {
        throw new InvalidParameterError(`invalid filter 'status=${s}'`);
      }
    }
    let recs = [...this.byId.values()].map((l) => l.rec).sort((a, b) => b.Created.localeCompare(a.Created));
    const all = opts.all || (opts.limit !== undefined && opts.limit > 0) || f.has('status') || f.has('exited');
    recs = this.applyBeforeSince(recs, f);
    recs = recs.filter((r) => (all || r.State.Running) && this.matches(r, f));
    if (opts.limit !== undefined && opts.limit > 0) recs = recs.slice(0, opts.limit);
    return recs.map((r) => this.summary(r, !!opts.size));
  }

  private applyBeforeSince(recs: ContainerRecord[], f: Filters): ContainerRecord[] {
    let out = recs;
    const before = f.get('before')?.[0];
    if (before) {
      const b = this.find(before).rec;
      out = out.filter((r) => r.Created < b.Created);
    }
    const since = f.get('since')?.[0];
    if (since) {
      const s = this.find(since).rec;
      out = out.filter((r) => r.Created > s.Created);
    }
    return out;
  }

  private matches(r: ContainerRecord, f: Filters): boolean {
    const any = (k: string, pred: (v: string) => boolean) => { const vs = f.get(k); return !vs || vs.length === 0 || vs.some(pred); };
    return any('id', (v) => r.Id.startsWith(v))
      && any('name', (v) => new RegExp(v).test(r.Name) || r.Name.slice(1) === v)
      && matchLabels(f.get('label'), r.Config.Labels)
      && any('status', (v) => r.State.Status === v)
      && any('exited', (v) => r.State.Status === 'exited' && r.State.ExitCode === Number(v))
      && any('ancestor', (v) => this.isAncestor(r, v))
      && any('health', (v) => this.health.statusOf(r.Id) === v);
  }

  private isAncestor(r: ContainerRecord, ref: string): boolean {
    if (r.Config.Image === ref) return true;
    try { return this.d.images.get(ref).id === r.Image; } catch { return false; }
  }

  private summary(r: ContainerRecord, size: boolean): Record<string, unknown> {
    const out: Record<string, unknown> = {
      Id: r.Id,
      Names: [r.Name],
      Image: r.Config.Image,
      ImageID: r.Image,
      Command: [r.Path, ...r.Args].map((a) => (/\s/.test(a) ? quoteArg(a) : a)).join(' '),
      Created: Math.floor(Date.parse(r.Created) / 1000),
      Ports: this.d.networks?.portSummary(r.Id) ?? [],
      Labels: r.Config.Labels ?? {},
      State: r.State.Status,
      Status: statusText(r.State) + (r.State.Status === 'running' ? this.health.statusSuffix(r.Id) : ''),
      HostConfig: { NetworkMode: r.HostConfig.NetworkMode },
      NetworkSettings: { Networks: ((this.d.networks ? this.d.networks.settings(this.netInfo(r)) : this.networkSettings(r)).Networks as Record<string, unknown>) },
      Mounts: inspectMounts(r.MountPoints),
    };
    if (size) {
      out.SizeRw = dirSize(path.join(this.d.paths.containerDir(r.Id), 'upper'));
      out.SizeRootFs = out.SizeRw;
    }
    return out;
  }

  async prune(filters: string | null): Promise<{ ContainersDeleted: string[]; SpaceReclaimed: number }> {
    const f = parseFilters(filters, ['label', 'label!', 'until']);
    const until = f.get('until')?.[0];
    const untilMs = until ? parseUntil(until) : Infinity;
    const deleted: string[] = [];
    let space = 0;
    for (const live of [...this.byId.values()]) {
      const r = live.rec;
      if (r.State.Running || r.State.Status === 'removing') continue;
      if (!matchLabels(f.get('label'), r.Config.Labels)) continue;
      const neg = f.get('label!');
      if (neg && neg.length && matchLabels(neg, r.Config.Labels)) continue;
      if (Date.parse(r.Created) > untilMs) continue;
      space += dirSize(path.join(this.d.paths.containerDir(r.Id), 'upper'));
      await this.remove(r.Id, { force: false });
      deleted.push(r.Id);
    }
    this.d.events.publish('container', 'prune', '', { reclaimed: String(space) });
    return { ContainersDeleted: deleted, SpaceReclaimed: space };
  }
}

const INIT_BINARY = '/usr/bin/tini-static';

/** log-opts max-size ("10m", "1g", "512k", bytes). */
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

/** --security-opt seccomp=...: unconfined, or a profile's JSON (the docker CLI sends the file's content). */
function seccompProfile(opt: string | undefined): 'default' | 'unconfined' | object {
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
function allHostDevices(): NonNullable<SpecBuilderInput['devices']> {
  const out: NonNullable<SpecBuilderInput['devices']> = [];
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
function hostDevices(hc: HostConfig): { devices: NonNullable<SpecBuilderInput['devices']>; rules: NonNullable<SpecBuilderInput['deviceRules']> } {
  const devices: NonNullable<SpecBuilderInput['devices']> = [];
  const rules: NonNullable<SpecBuilderInput['deviceRules']> = [];
  for (const d of (hc.Devices as { PathOnHost: string; PathInContainer?: string; CgroupPermissions?: string }[] | undefined) ?? []) {
    let st: fs.Stats;
    try { st = fs.statSync(d.PathOnHost); } catch {
      throw new InvalidParameterError(`error gathering device information while adding custom device "${d.PathOnHost}": no such file or directory`);
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
function runMounts(hc: HostConfig): { destination: string; type: string; source: string; options: string[] }[] {
  const out: { destination: string; type: string; source: string; options: string[] }[] = [];
  for (const [dest, opts] of Object.entries((hc.Tmpfs as Record<string, string> | undefined) ?? {})) {
    if (!dest.startsWith('/')) throw new InvalidParameterError(`invalid mount config for type "tmpfs": mount path must be absolute`);
    if (dest.replace(/\/+$/, '') === '') throw new InvalidParameterError(`invalid mount config for type "tmpfs": destination can't be '/'`);
    const user = opts ? opts.split(',').filter(Boolean) : [];
    const base = ['nosuid', 'nodev', 'noexec'].filter((f) => !user.includes(f.replace('no', '')) && !user.includes(f));
    out.push({ destination: dest, type: 'tmpfs', source: 'tmpfs', options: [...base, ...user] });
  }
  return out;
}

function parseUntil(v: string): number {
  if (/^\d+(\.\d+)?$/.test(v)) return Number(v) * 1000;
  const t = Date.parse(v);
  if (!Number.isNaN(t)) return t;
  const m = /^(\d+)(s|m|h)$/.exec(v);
  if (m) return Date.now() - Number(m[1]) * ({ s: 1e3, m: 6e4, h: 3.6e6 } as Record<string, number>)[m[2]!]!;
  throw new InvalidParameterError(`invalid filter 'until=${v}'`);
}

function quoteArg(a: string): string { return JSON.stringify(a); }

/** The Status column text, computed by the daemon as dockerd does (container/state.go String). */
export function statusText(s: ContainerState, now = Date.now()): string {
  switch (s.Status) {
    case 'running': return `Up ${humanDuration(now - Date.parse(s.StartedAt))}`;
    case 'paused': return `Up ${humanDuration(now - Date.parse(s.StartedAt))} (Paused)`;
    case 'restarting': return `Restarting (${s.ExitCode}) ${humanDuration(now - Date.parse(s.FinishedAt))} ago`;
    case 'removing': return 'Removal In Progress';
    case 'dead': return 'Dead';
    case 'created': return 'Created';
    case 'exited':
      if (s.FinishedAt === ZERO_TIME) return '';
      return `Exited (${s.ExitCode}) ${humanDuration(now - Date.parse(s.FinishedAt))} ago`;
    default: return '';
  }
}

function dirSize(dir: string): number {
  let total = 0;
  const stack = [dir];
  while (stack.length) {
    const d = stack.pop()!;
    let entries: fs.Dirent[];
    try { entries = fs.readdirSync(d, { withFileTypes: true }); } catch { continue; }
    for (const e of entries) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) stack.push(p);
      else if (e.isFile()) { try { total += fs.lstatSync(p).size; } catch { /* raced */ } }
    }
  }
  return total;
}
