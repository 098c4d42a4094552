// What every container service module shares: the deps, the store, health and restart bookkeeping,
// and the few helpers (state changes through the state machine, events, unmount). The modules call
// each other through `ops`, bound once by the composition (services/container-service.ts).
import { transition, type ContainerState, type StateEvent } from '../../core/container-state.js';
import type { DnsSettings, Ulimit } from '../../core/create-settings.js';
import type { HealthConfig } from '../../core/healthcheck.js';
import type { Trace } from '../../core/trace.js';
import type { Paths } from '../../store/paths.js';
import { MNT_DETACH, type Sys } from '../../sys/sys.js';
import type { EventBus } from '../events.js';
import type { HealthMonitor } from '../health-monitor.js';
import type { RestartManager } from '../restart-manager.js';
import type { ContainerStore, Live } from './container-store.js';
import type { ContainerMounts } from '../volumes/container-mounts.js';
import type { ImageProvider, NetworkProvider, Runtime, SpecBuilder, UserResolver, ContainerRecord } from './types.js';

export interface ContainerServiceDeps {
  paths: Paths;
  sys: Sys;
  images: ImageProvider;
  runtime: Runtime;
  events: EventBus;
  buildSpec: SpecBuilder;
  resolveUser: UserResolver;
  networks?: NetworkProvider;
  /** volumes and binds of containers (services/volumes/container-mounts.ts) */
  mounts?: ContainerMounts;
}

/** Cross-module calls (a start's failure removes an auto-remove container, an exit restarts one...). */
export interface ContainerOps {
  startLocked(live: Live): Promise<void>;
  remove(ref: string, opts: { force?: boolean }, tr?: Trace): Promise<void>;
  /** the exit watcher's entry (not awaited: it takes no lock) */
  onExit(id: string): void;
}

export class ContainerContext {
  /** daemon shutdown: no restarts are scheduled from now on */
  shuttingDown = false;
  ops!: ContainerOps;
  /** daemon.json default-ulimits and dns/dns-search/dns-opts (what a start falls back to) */
  daemonDefaults: { ulimits: Ulimit[]; dns: DnsSettings } = { ulimits: [], dns: {} };

  constructor(
    readonly d: ContainerServiceDeps,
    readonly store: ContainerStore,
    readonly health: HealthMonitor,
    readonly restarts: RestartManager,
  ) {}

  /** Every state change goes through the state machine (core/container-state.ts). */
  setState(live: Live, event: StateEvent, patch: Partial<Omit<ContainerState, 'Status'>> = {}): void {
    live.rec.State = transition(live.rec.State, event, patch);
  }

  eventAttrs(rec: ContainerRecord, extra: Record<string, string> = {}): Record<string, string> {
    return { ...(rec.Config.Labels ?? {}), image: rec.Config.Image ?? '', name: rec.Name.slice(1), ...extra };
  }

  publish(action: string, rec: ContainerRecord, extra?: Record<string, string>): void {
    this.d.events.publish('container', action, rec.Id, this.eventAttrs(rec, extra));
  }

  async unmountQuiet(id: string): Promise<void> {
    await this.d.mounts?.atExit(id);
    const root = this.d.paths.containerRootfs(id);
    // Busy (an export still reading it): detached, so the next start mounts on a clean directory and the
    // reader finishes on the old mount.
    // (Not mounted is no error for unmount.)
    await this.d.sys.unmountAsync(root).catch(() => this.d.sys.unmountAsync(root, MNT_DETACH).catch(() => undefined));
  }

  startHealth(live: Live): void {
    const rec = live.rec;
    this.health.start(rec.Id, rec.Config.Healthcheck as HealthConfig | undefined, {
      startedAt: Date.parse(rec.State.StartedAt), shell: rec.Config.Shell, previous: rec.State.Health,
    });
  }

  /** Resolves when the running container exits, or after `ms` (false). */
  waitExit(live: Live, ms: number): Promise<boolean> {
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
}
