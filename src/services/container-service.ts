// The container service: a thin composition of the rooms in services/containers/ (store, create,
// start, stop/kill/restart/pause, exits and restart policy, remove/prune, attach, rename/update,
// live-restore adoption). Its methods are the daemon's container operations; the read-only side
// (get, inspect, list, counts) is `queries` (containers/queries.ts), logs and attach are `streams`.
import { InvalidParameterError } from '../errors.js';
import type { CreateBody, HostConfig } from '../core/container-config.js';
import type { DnsSettings, Ulimit } from '../core/create-settings.js';
import type { Trace } from '../core/trace.js';
import type { PlatformWanted } from '../core/manifest.js';
import { HealthMonitor, type ProbeRunner } from './health-monitor.js';
import { RestartManager } from './restart-manager.js';
import { Adoption } from './containers/adoption.js';
import { ContainerStore, type Waiter } from './containers/container-store.js';
import { ContainerContext, type ContainerServiceDeps } from './containers/context.js';
import { createContainer } from './containers/create.js';
import { ExitHandler } from './containers/exits.js';
import { ContainerFilesystems } from './containers/filesystem.js';
import { type LogConfigValue } from './log-driver/drivers.js';
import { rotateLog } from './log-driver/rotation.js';
import { Remover, type RemoveOptions } from './containers/remover.js';
import { renameContainer, resizeContainer, updateContainer } from './containers/rename-update.js';
import { Starter } from './containers/starter.js';
import { ContainerStreams } from './containers/streams.js';
import { Stopper, type StopOptions } from './containers/stopper.js';
import { ContainerViews } from './containers/views.js';
import { ContainerQueries } from './containers/queries.js';

export type { ContainerServiceDeps } from './containers/context.js';
export type {
  AttachConnection, ContainerRecord, ImageProvider, NetInfo, NetworkProvider, Runtime, SpecBuilder, SpecBuilderInput, UserResolver,
} from './containers/types.js';
export { ZERO_TIME, statusText, type ContainerState, type Status } from '../core/container-state.js';
export { logDriver, logLimits, mergeLogConfig, validateLogConfig, type LogConfigValue } from './log-driver/drivers.js';
export { startFailureExitCode } from './containers/starter.js';
export { netInfo } from './containers/views.js';
export { ContainerQueries } from './containers/queries.js';

type WaitResult = { StatusCode: number; Error?: { Message: string } | null };

export class ContainerService {
  /** daemon-wide default detach keys (daemon.json `detach-keys`) */
  detachKeys = 'ctrl-p,ctrl-q';
  /** daemon.json log-driver / log-opts (checked with validateLogConfig before it is set) */
  defaultLogConfig: LogConfigValue = { Type: 'json-file', Config: {} };
  /** daemon.json default-ulimits and dns/dns-search/dns-opts */
  get daemonDefaults(): { ulimits: Ulimit[]; dns: DnsSettings } { return this.ctx.daemonDefaults; }
  set daemonDefaults(v: { ulimits: Ulimit[]; dns: DnsSettings }) { this.ctx.daemonDefaults = v; }
  /** logs and attach (the route files' stream backends) */
  readonly streams: ContainerStreams;
  /** the read-only side: get, inspect, list, ids, counts, volume and image users */
  readonly queries: ContainerQueries;
  /** a container's filesystem for cp and export */
  readonly filesystems: ContainerFilesystems;
  private readonly ctx: ContainerContext;
  private readonly starter: Starter;
  private readonly exits: ExitHandler;
  private readonly stopper: Stopper;
  private readonly remover: Remover;
  private readonly adoption: Adoption;
  private probeRunner: ProbeRunner | undefined;
  private timer: NodeJS.Timeout | undefined;

  constructor(deps: ContainerServiceDeps) {
    const store = new ContainerStore(deps.paths);
    const health = new HealthMonitor({
      runProbe: (id, cmd, timeoutMs, signal) => {
        if (!this.probeRunner) return Promise.reject(new Error('no probe runner'));
        return this.probeRunner(id, cmd, timeoutMs, signal);
      },
      onStatus: (id, status) => {
        const live = store.byFullId(id);
        if (live) this.ctx.publish(`health_status: ${status}`, live.rec);
      },
      onChange: (id, h) => {
        const live = store.byFullId(id);
        if (live) live.rec.State.Health = h;
      },
    });
    const ctx = this.ctx = new ContainerContext(deps, store, health, new RestartManager());
    this.starter = new Starter(ctx);
    this.exits = new ExitHandler(ctx);
    this.stopper = new Stopper(ctx, this.exits, this.starter);
    this.remover = new Remover(ctx, this.exits, this.stopper);
    this.queries = new ContainerQueries(store, new ContainerViews({ store, paths: deps.paths, images: deps.images, health, networks: deps.networks }));
    this.filesystems = new ContainerFilesystems(ctx);
    this.streams = new ContainerStreams(ctx, this.exits, () => this.detachKeys);
    this.adoption = new Adoption(ctx, this.exits, (id) => this.starter.start(id));
    ctx.ops = {
      startLocked: (live) => this.starter.startLocked(live),
      remove: (ref, opts, tr) => this.remover.remove(ref, opts, tr),
      onExit: (id) => { void this.exits.onExit(id); },
    };
  }

  /** Health probes run through exec, which itself needs this service: wired after construction. */
  setProbeRunner(run: ProbeRunner): void { this.probeRunner = run; }

  /** Load records and reconcile them with what conmon/runc left (live restore). */
  async init(): Promise<void> {
    this.ctx.d.runtime.onExit((id) => this.ctx.ops.onExit(id));
    await this.adoption.adoptAll();
    this.timer = setInterval(() => {
      for (const live of this.ctx.store.all()) rotateLog(live.rec, (id) => this.ctx.d.runtime.reopenLog(id));
      this.exits.checkMonitors();
    }, 1000);
    this.timer.unref();
  }

  /** After networking is up too: start what the restart policies want running (moby daemon.restore). */
  bootRestarts(): Promise<void> { return this.adoption.bootRestarts(); }

  /** Daemon shutdown: no restarts are scheduled from now on, probes stop; containers keep running. */
  shutdown(): void {
    this.ctx.shuttingDown = true;
    if (this.timer) clearInterval(this.timer);
    this.ctx.restarts.cancelAll();
    this.ctx.health.stopAll();
  }

  create(name: string | undefined, body: CreateBody | undefined, platform?: PlatformWanted): Promise<{ Id: string; Warnings: string[] }> {
    return createContainer(this.ctx, name, body, this.defaultLogConfig, platform);
  }

  start(ref: string): Promise<void> { return this.starter.start(ref); }
  stop(ref: string, opts: StopOptions = {}): Promise<void> { return this.stopper.stop(ref, opts); }
  kill(ref: string, signal?: string): Promise<void> { return this.stopper.kill(ref, signal); }
  restart(ref: string, opts: StopOptions = {}): Promise<void> { return this.stopper.restart(ref, opts); }
  pause(ref: string): Promise<void> { return this.stopper.pause(ref); }
  unpause(ref: string): Promise<void> { return this.stopper.unpause(ref); }
  resize(ref: string, rows: number, cols: number): void { resizeContainer(this.ctx, ref, rows, cols); }
  update(ref: string, body: HostConfig | undefined): Promise<{ Warnings: string[] }> { return updateContainer(this.ctx, ref, body); }
  rename(ref: string, newName: string): Promise<void> { return renameContainer(this.ctx, ref, newName); }
  remove(ref: string, opts: RemoveOptions = {}, tr?: Trace): Promise<void> { return this.remover.remove(ref, opts, tr); }
  prune(filters: string | null): Promise<{ ContainersDeleted: string[]; SpaceReclaimed: number }> { return this.remover.prune(filters); }

  /** Registers a waiter now; `result` settles on the condition (an object so `await` does not flatten it). */
  wait(ref: string, condition: string): { result: Promise<WaitResult> } {
    const live = this.ctx.store.find(ref);
    const cond = (condition || 'not-running') as Waiter['condition'];
    if (!['not-running', 'next-exit', 'removed'].includes(cond)) {
      throw new InvalidParameterError(`invalid condition: "${condition}"`);
    }
    if (cond === 'not-running' && !live.rec.State.Running) {
      return { result: Promise.resolve({ StatusCode: live.rec.State.ExitCode, Error: null }) };
    }
    return { result: new Promise((resolve) => live.waiters.push({ condition: cond, resolve })) };
  }
}
