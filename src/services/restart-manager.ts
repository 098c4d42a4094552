/**
 * Restart policies (no / always / unless-stopped / on-failure[:N]) as moby's restartmanager and
 * daemon/monitor.go apply them: a pure decision per exit, Docker's back-off (100 ms doubling to
 * 1 min, back to 100 ms after a run of 10 s), and per-container back-off timers that a user's
 * stop / kill / rm cancels.
 */

export interface RestartPolicyLike { Name?: string; MaximumRetryCount?: number }

/** What is known when a container's main process has exited. */
export interface ExitFacts {
  exitCode: number;
  /**
   * moby HasBeenManuallyStopped: set by a user's stop or kill (not during daemon shutdown),
   * persisted in the record, cleared by a user's start/restart. Only unless-stopped consults it.
   */
  manuallyStopped: boolean;
  /**
   * moby ExitOnNext: the user's stop, or a kill with SIGKILL / the stop signal (see
   * killCancelsRestart), cancelled any restart, whatever the policy. In memory only.
   */
  canceled?: boolean;
  /** RestartCount before this exit (reset to 0 by a user's start/restart) */
  restartCount: number;
  /** how long this run lasted (now - StartedAt) */
  runDurationMs: number;
  /** the delay used for the previous automatic restart, 0 if none since the user's last start */
  prevDelayMs: number;
  /** the daemon is stopping: nothing is restarted now (the next boot decides) */
  daemonShuttingDown?: boolean;
}

export interface RestartDecision {
  restart: boolean;
  /** wait this long before starting again; also the prevDelayMs for the next exit */
  delayMs: number;
}

export const INITIAL_DELAY_MS = 100;
export const MAX_DELAY_MS = 60_000;
/** a run at least this long resets the back-off */
export const RESET_AFTER_MS = 10_000;

function policyName(p: RestartPolicyLike | null | undefined): string {
  return p?.Name || 'no';
}

/** The back-off for the next restart (moby restartmanager: computed on every exit). */
export function nextDelay(prevDelayMs: number, runDurationMs: number): number {
  let d = runDurationMs >= RESET_AFTER_MS ? 0 : prevDelayMs;
  if (d <= 0) d = INITIAL_DELAY_MS;
  else if (d < MAX_DELAY_MS) d *= 2;
  return Math.min(d, MAX_DELAY_MS);
}

/** Whether the policy asks for a restart, ignoring cancellation (moby ShouldRestart's switch). */
function policyWantsRestart(p: RestartPolicyLike | null | undefined, exitCode: number, manuallyStopped: boolean, restartCount: number): boolean {
  switch (policyName(p)) {
    case 'always': return true;
    case 'unless-stopped': return !manuallyStopped;
    case 'on-failure': {
      const max = p?.MaximumRetryCount ?? 0; // 0 = no limit
      return exitCode !== 0 && (max === 0 || restartCount < max);
    }
    default: return false;
  }
}

/** After an exit: restart or not, and after how long. The caller increments RestartCount on restart. */
export function decideRestart(policy: RestartPolicyLike | null | undefined, f: ExitFacts): RestartDecision {
  if (policyName(policy) === 'no') return { restart: false, delayMs: f.prevDelayMs };
  const delayMs = nextDelay(f.prevDelayMs, f.runDurationMs);
  if (f.canceled || f.daemonShuttingDown) return { restart: false, delayMs };
  return { restart: policyWantsRestart(policy, f.exitCode, f.manuallyStopped, f.restartCount), delayMs };
}

/**
 * At daemon start, for a container that is not running (after reconciliation; a container that
 * was running with its monitor gone has just been given exit code 255): start it again?
 * moby daemon.restore: `ShouldRestart() && HasBeenStartedBefore`, with a fresh restart manager. So
 * `always` comes back even after a manual stop, unless-stopped only if not manually stopped, and
 * on-failure if it last failed and retries remain. A never-started container never auto-starts.
 */
export function shouldStartOnDaemonBoot(
  policy: RestartPolicyLike | null | undefined,
  s: { manuallyStopped: boolean; startedBefore: boolean; running?: boolean; exitCode: number; restartCount: number },
): boolean {
  if (s.running || !s.startedBefore) return false;
  return policyWantsRestart(policy, s.exitCode, s.manuallyStopped, s.restartCount);
}

/**
 * Does a user's kill cancel the restart policy? moby killWithSignal: yes for SIGKILL, for any
 * signal when no StopSignal is configured, and for the configured StopSignal. (The kill still
 * marks the container manually stopped in every case.)
 */
export function killCancelsRestart(signal: number, stopSignal: number | undefined): boolean {
  return signal === 9 || stopSignal === undefined || signal === stopSignal;
}

export interface TimerApi {
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(t: unknown): void;
}

const realTimers: TimerApi = {
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (t) => clearTimeout(t as ReturnType<typeof setTimeout>),
};

/**
 * Per-container back-off timers and back-off memory (moby keeps one restartManager per container,
 * in memory; a user start replaces it). At most one pending restart per container.
 */
export class RestartManager {
  private readonly timers = new Map<string, unknown>();
  private readonly delays = new Map<string, number>();

  constructor(
    private readonly onError: (id: string, err: unknown) => void = () => undefined,
    private readonly t: TimerApi = realTimers,
  ) {}

  /** decideRestart with this container's remembered back-off; remembers the new one. */
  decide(id: string, policy: RestartPolicyLike | null | undefined, f: Omit<ExitFacts, 'prevDelayMs'>): RestartDecision {
    const d = decideRestart(policy, { ...f, prevDelayMs: this.delays.get(id) ?? 0 });
    this.delays.set(id, d.delayMs);
    return d;
  }

  /** Run `fn` after `delayMs` (replacing a pending one). A rejection goes to onError. */
  schedule(id: string, delayMs: number, fn: () => unknown): void {
    this.cancel(id);
    const handle = this.t.setTimeout(() => {
      if (this.timers.get(id) !== handle) return;
      this.timers.delete(id);
      try {
        Promise.resolve(fn()).catch((err: unknown) => this.onError(id, err));
      } catch (err) {
        this.onError(id, err);
      }
    }, Math.max(0, delayMs));
    this.timers.set(id, handle);
  }

  /** Cancel a pending restart (user stop/kill/rm during the wait); true if one was pending. */
  cancel(id: string): boolean {
    const h = this.timers.get(id);
    if (h === undefined) return false;
    this.t.clearTimeout(h);
    this.timers.delete(id);
    return true;
  }

  isPending(id: string): boolean { return this.timers.has(id); }

  /** A user's start/restart (moby ResetRestartManager) or removal: no pending restart, back-off from 100 ms. */
  reset(id: string): void {
    this.cancel(id);
    this.delays.delete(id);
  }

  /** Daemon shutdown: nothing pending survives. */
  cancelAll(): void {
    for (const h of this.timers.values()) this.t.clearTimeout(h);
    this.timers.clear();
  }

  pendingCount(): number { return this.timers.size; }
}
