import {
  MAX_LOG_ENTRIES, healthSuffix, resolveHealthcheck, truncateOutput,
  type HealthConfig, type HealthLogEntry, type HealthSettings, type HealthState, type HealthStatus,
} from '../core/healthcheck.js';
import { errorMessage } from '../errors.js';
import type { TimerApi } from './restart-manager.js';

/**
 * Health checks of running containers (moby daemon/health.go): one probe loop per container,
 * starting → healthy / unhealthy, the last 5 results, health_status events on a change. The probe
 * itself is an exec in the container, supplied by the caller (ExecService behind it).
 */

export interface ProbeResult { exitCode: number; output: string | Buffer }

/**
 * Run `cmd` in the container and resolve with its exit code and combined stdout+stderr. `signal`
 * aborts when the probe has exceeded its timeout: kill the exec then (the monitor waits a little
 * for it to end, so dying probes do not pile up). A rejection counts as a failed probe (exit -1).
 */
export type ProbeRunner = (containerId: string, cmd: string[], timeoutMs: number, signal: AbortSignal) => Promise<ProbeResult>;

export interface HealthMonitorDeps {
  runProbe: ProbeRunner;
  /** a status change after a probe: publish `health_status: <status>` */
  onStatus: (id: string, status: 'healthy' | 'unhealthy') => void;
  /** after each recorded probe and each start/stop: the state to keep in the record (best effort) */
  onChange?: (id: string, health: HealthState) => void;
  timers?: TimerApi;
  /** after a timeout, how long to wait for the aborted probe to end before going on */
  abortGraceMs?: number;
}

interface Entry {
  settings?: HealthSettings;
  startedAt: number;
  state: HealthState;
  /** bumped on every start/stop: a probe from an older generation is discarded */
  gen: number;
  active: boolean;
  timer?: unknown;
  abort?: AbortController;
}

const realTimers: TimerApi = {
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (t) => clearTimeout(t as ReturnType<typeof setTimeout>),
};

function copyState(s: HealthState): HealthState {
  return { Status: s.Status, FailingStreak: s.FailingStreak, Log: s.Log.map((l) => ({ ...l })) };
}

export class HealthMonitor {
  private readonly entries = new Map<string, Entry>();
  private readonly t: TimerApi;
  private readonly grace: number;

  constructor(private readonly d: HealthMonitorDeps) {
    this.t = d.timers ?? realTimers;
    this.grace = d.abortGraceMs ?? 10_000;
  }

  /**
   * The container (re)started, or was re-adopted at daemon start: reset to `starting` with a zero
   * streak (the Log is kept, as moby's initHealthMonitor) and begin probing. Returns false, and
   * changes nothing, when the config has no probe (none, NONE, empty Test).
   * `previous` seeds the state from the record when this monitor has none (after a daemon restart).
   */
  start(id: string, config: HealthConfig | null | undefined, opts: { startedAt: number; shell?: string[] | null; previous?: HealthState | null }): boolean {
    const settings = resolveHealthcheck(config, opts.shell);
    if (!settings) return false;
    let e = this.entries.get(id);
    if (e) this.halt(e);
    else {
      const prev = opts.previous;
      e = {
        startedAt: opts.startedAt, gen: 0, active: false,
        state: { Status: 'starting', FailingStreak: 0, Log: prev?.Log ? prev.Log.slice(-MAX_LOG_ENTRIES).map((l) => ({ ...l })) : [] },
      };
      this.entries.set(id, e);
    }
    e.settings = settings;
    e.startedAt = opts.startedAt;
    e.state.Status = 'starting';
    e.state.FailingStreak = 0;
    e.active = true;
    this.changed(id, e);
    this.arm(id, e);
    return true;
  }

  /**
   * The container stopped (exit, stop, kill; also pause): stop probing, drop an in-flight probe's
   * result. As moby's CloseMonitorChannel the status becomes `unhealthy` (no event); the Log and
   * streak stay for inspect.
   */
  stop(id: string): void {
    const e = this.entries.get(id);
    if (!e || !e.active) return;
    this.halt(e);
    e.state.Status = 'unhealthy';
    this.changed(id, e);
  }

  /** Paused: as moby, the monitor stops (status unhealthy) until unpause. */
  pause(id: string): void { this.stop(id); }

  /** Unpaused: probing resumes without resetting status or streak (moby updateHealthMonitor). */
  unpause(id: string): void {
    const e = this.entries.get(id);
    if (!e || e.active || !e.settings) return;
    e.active = true;
    this.arm(id, e);
  }

  /** Removed: forget everything. */
  forget(id: string): void {
    const e = this.entries.get(id);
    if (!e) return;
    this.halt(e);
    this.entries.delete(id);
  }

  /** Seed the state of a container that is not running (inspect after a daemon restart). */
  load(id: string, health: HealthState): void {
    if (this.entries.has(id)) return;
    this.entries.set(id, { startedAt: 0, gen: 0, active: false, state: copyState(health) });
  }

  /** Daemon shutdown: every loop stops; states are kept as they are. */
  stopAll(): void {
    for (const e of this.entries.values()) this.halt(e);
  }

  /** inspect's State.Health, or undefined when the container never had a health check run. */
  health(id: string): HealthState | undefined {
    const e = this.entries.get(id);
    return e ? copyState(e.state) : undefined;
  }

  /** ps Status suffix for a running (not paused, not restarting) container: " (healthy)" etc.; "" without a health check. */
  statusSuffix(id: string): string {
    const e = this.entries.get(id);
    return e ? healthSuffix(e.state.Status) : '';
  }

  /** the health filter of `docker ps`: starting / healthy / unhealthy / none */
  statusOf(id: string): HealthStatus | 'none' {
    return this.entries.get(id)?.state.Status ?? 'none';
  }

  isMonitoring(id: string): boolean { return this.entries.get(id)?.active ?? false; }

  // ----- the loop

  private halt(e: Entry): void {
    e.gen++;
    e.active = false;
    if (e.timer !== undefined) { this.t.clearTimeout(e.timer); e.timer = undefined; }
    if (e.abort) { e.abort.abort(); e.abort = undefined; }
  }

  /** Time to the next probe: StartInterval while starting within the start period, else Interval. */
  private nextInterval(e: Entry): number {
    const s = e.settings!;
    const elapsed = Date.now() - e.startedAt;
    if (elapsed < s.startPeriodMs && e.state.Status === 'starting') return s.startIntervalMs;
    return s.intervalMs;
  }

  private arm(id: string, e: Entry): void {
    const gen = e.gen;
    e.timer = this.t.setTimeout(() => {
      e.timer = undefined;
      if (e.gen !== gen) return;
      void this.probe(id, e, gen);
    }, this.nextInterval(e));
  }

  private async probe(id: string, e: Entry, gen: number): Promise<void> {
    const s = e.settings!;
    const start = Date.now();
    const ac = new AbortController();
    e.abort = ac;
    type Outcome = { ok: ProbeResult } | { err: unknown };
    let probeP: Promise<Outcome>;
    try {
      probeP = this.d.runProbe(id, s.cmd, s.timeoutMs, ac.signal).then((ok) => ({ ok }), (err: unknown) => ({ err }));
    } catch (err) {
      probeP = Promise.resolve({ err });
    }
    let timer: unknown;
    const timedOut = new Promise<'timeout'>((resolve) => { timer = this.t.setTimeout(() => resolve('timeout'), s.timeoutMs); });
    const first = await Promise.race([probeP, timedOut]);
    this.t.clearTimeout(timer);
    let exitCode: number;
    let output: string;
    if (first === 'timeout') {
      ac.abort();
      // Let the killed probe end (bounded) so that probes never pile up; keep what it printed.
      let graceTimer: unknown;
      const late = await Promise.race([
        probeP,
        new Promise<undefined>((resolve) => { graceTimer = this.t.setTimeout(() => resolve(undefined), this.grace); }),
      ]);
      this.t.clearTimeout(graceTimer);
      const partial = late && 'ok' in late ? truncateOutput(late.ok.output) : '';
      const msg = `Health check exceeded timeout (${s.timeoutText})`;
      exitCode = -1;
      output = partial ? `${msg}: ${partial}` : msg;
    } else if ('ok' in first) {
      exitCode = first.ok.exitCode;
      output = truncateOutput(first.ok.output);
    } else {
      exitCode = -1;
      output = errorMessage(first.err);
    }
    if (e.abort === ac) e.abort = undefined;
    if (e.gen !== gen) return; // stopped or restarted while probing: moby drops the result
    this.record(id, e, { Start: new Date(start).toISOString(), End: new Date().toISOString(), ExitCode: exitCode, Output: output }, start);
    this.arm(id, e);
  }

  /** moby handleProbeResult. */
  private record(id: string, e: Entry, entry: HealthLogEntry, startMs: number): void {
    const s = e.settings!;
    const st = e.state;
    const old = st.Status;
    st.Log.push(entry);
    if (st.Log.length > MAX_LOG_ENTRIES) st.Log.splice(0, st.Log.length - MAX_LOG_ENTRIES);
    if (entry.ExitCode === 0) {
      st.FailingStreak = 0;
      st.Status = 'healthy';
    } else {
      // Failures while still starting inside the start period do not count.
      const grace = st.Status === 'starting' && startMs - e.startedAt < s.startPeriodMs;
      if (!grace) {
        st.FailingStreak++;
        if (st.FailingStreak >= s.retries) st.Status = 'unhealthy';
      }
    }
    this.changed(id, e);
    if (st.Status !== old && st.Status !== 'starting') {
      try { this.d.onStatus(id, st.Status); } catch { /* an event sink's failure must not stop probing */ }
    }
  }

  private changed(id: string, e: Entry): void {
    if (!this.d.onChange) return;
    try { this.d.onChange(id, copyState(e.state)); } catch { /* best effort */ }
  }
}
