// Exit handling and the restart policy: an exit recorded (from conmon's exit file, or a lost monitor),
// the runtime's leftovers cleaned, waiters answered, and the policy's restart scheduled and run.
import type { Trace } from '../../core/trace.js';
import { trace } from '../../core/trace.js';
import type { ContainerContext } from './context.js';
import type { Live, Waiter } from './container-store.js';

export type ExitInfo = { code: number; finishedAt: Date; oomKilled: boolean };
/**
 * 'exited' (conmon reported the exit), 'lost-while-down' (the monitor vanished while berthd was
 * down: exit code unknown, no restart, as moby after a hard restart), 'monitor-died' (conmon died under
 * a running berthd, which then killed the container: restart policies apply).
 */
export type ExitHow = 'exited' | 'lost-while-down' | 'monitor-died';

export function exitError(how: ExitHow): string {
  if (how === 'lost-while-down') return 'container monitor exited while the daemon was down; exit code unknown';
  if (how === 'monitor-died') return 'conmon exited prematurely, exit code could not be retrieved: the container was killed';
  return '';
}

export class ExitHandler {
  constructor(private readonly ctx: ContainerContext) {}

  /**
   * The exit watcher's entry. Deliberately lock-free: stop/remove hold the container lock while they
   * wait for this very exit, so finishExit guards itself with `exiting` instead.
   */
  async onExit(id: string): Promise<void> {
    const live = this.ctx.store.byFullId(id);
    if (!live || !live.rec.State.Running) return;
    const exit = this.ctx.d.runtime.readExit(id);
    if (!exit) return;
    const tr = trace(`exit ${id.slice(0, 12)}`);
    await this.finishExit(live, exit, 'exited', tr);
    if (live.rec.HostConfig.AutoRemove && this.ctx.store.hasId(id)) {
      await this.ctx.ops.remove(id, { force: true }, tr).catch(() => undefined);
    }
    tr.end();
  }

  /** Called while we wait for an exit the watcher has not reported yet. */
  async exitNow(live: Live): Promise<void> {
    const exit = this.ctx.d.runtime.readExit(live.rec.Id);
    if (exit && live.rec.State.Running) await this.finishExit(live, exit, 'exited');
  }

  async finishExit(live: Live, exit: ExitInfo, how: ExitHow, tr?: Trace): Promise<void> {
    const { ctx } = this;
    const lost = how === 'lost-while-down';
    if (live.exiting || !live.rec.State.Running || live.rec.State.Restarting) return;
    live.exiting = true;
    try {
      const rec = live.rec;
      ctx.health.stop(rec.Id);
      const decision = ctx.restarts.decide(rec.Id, rec.HostConfig.RestartPolicy, {
        exitCode: exit.code, manuallyStopped: !!rec.HasBeenManuallyStopped, canceled: !!live.exitOnNext,
        restartCount: rec.RestartCount, runDurationMs: exit.finishedAt.getTime() - Date.parse(rec.State.StartedAt),
        daemonShuttingDown: ctx.shuttingDown,
      });
      live.exitOnNext = false;
      await ctx.d.runtime.delete(rec.Id, { force: true }).catch(() => undefined);
      tr?.mark('runtime-delete');
      // Not awaited: the network service runs its operations in order (a restart's setup, a remove's
      // forget queue behind this teardown), and the exit need not wait for veth/netns removal.
      void ctx.d.networks?.teardown(rec.Id).catch(() => undefined);
      await ctx.unmountQuiet(rec.Id);
      live.mounted = false;
      tr?.mark('unmount');
      const restart = decision.restart && !lost && ctx.store.hasId(rec.Id);
      ctx.setState(live, restart ? 'exited-restarting' : 'exited', {
        Pid: 0, ExitCode: exit.code, OOMKilled: exit.oomKilled, FinishedAt: exit.finishedAt.toISOString(), Error: exitError(how),
      });
      if (restart) rec.RestartCount++;
      await ctx.store.save(live).catch(() => undefined);
      tr?.mark('save');
      if (exit.oomKilled) ctx.publish('oom', rec);
      ctx.publish('die', rec, { exitCode: String(exit.code) });
      this.answerWaiters(live, exit.code);
      if (restart) ctx.restarts.schedule(rec.Id, decision.delayMs, () => this.autoRestart(live));
    } finally {
      live.exiting = false;
    }
  }

  private answerWaiters(live: Live, code: number): void {
    for (const w of live.exitWaiters.splice(0)) w();
    const keep: Waiter[] = [];
    for (const w of live.waiters) {
      if (w.condition === 'removed') keep.push(w);
      else w.resolve({ StatusCode: code, Error: null });
    }
    live.waiters = keep;
  }

  /** The restart policy's start: no reset of RestartCount or back-off (moby containerStart(false)). */
  private async autoRestart(live: Live): Promise<void> {
    const { ctx } = this;
    if (!ctx.store.hasId(live.rec.Id) || !live.rec.State.Restarting) return;
    await ctx.store.locked(live, async () => {
      if (!live.rec.State.Restarting) return;
      // Status stays "restarting" while the start runs; Running goes false so startLocked proceeds.
      ctx.setState(live, 'restart-begin', { Running: false });
      try {
        await ctx.ops.startLocked(live);
      } catch {
        // startLocked recorded the error; the container stays exited.
        ctx.setState(live, 'restart-ended', { Running: false, Restarting: false });
        await ctx.store.save(live).catch(() => undefined);
        for (const w of live.exitWaiters.splice(0)) w();
      }
    });
  }

  /** A user's stop/kill of a container waiting to restart: cancel the restart, leave it exited. */
  async cancelRestart(live: Live): Promise<void> {
    this.ctx.restarts.cancel(live.rec.Id);
    this.ctx.setState(live, 'restart-ended', { Pid: 0 });
    await this.ctx.store.save(live).catch(() => undefined);
    for (const w of live.exitWaiters.splice(0)) w();
  }

  /**
   * A running container whose conmon died (killed, OOM-killed) has nobody left to write its exit code,
   * its log or its attach streams, and its exit would never be seen: stop/rm would hang on it. End it
   * (podman's "conmon exited prematurely" case) and record the exit with the reason, once a second.
   */
  checkMonitors(): void {
    for (const live of this.ctx.store.all()) {
      const st = live.rec.State;
      if (!st.Running || st.Restarting || live.exiting || live.monitorLost) continue;
      if (this.ctx.d.runtime.conmonAlive(live.rec.Id)) continue;
      live.monitorLost = true;
      void this.monitorLost(live).finally(() => { live.monitorLost = false; });
    }
  }

  private async monitorLost(live: Live): Promise<void> {
    const { ctx } = this;
    const id = live.rec.Id;
    // conmon writes the exit file before it exits: a normal end that the watcher has not reported yet.
    const exit = ctx.d.runtime.readExit(id);
    if (exit) { await this.onExit(id); return; }
    if (!live.rec.State.Running || ctx.d.runtime.conmonAlive(id)) return;
    await ctx.d.runtime.kill(id, 9).catch(() => undefined);
    await this.finishExit(live, { code: 137, finishedAt: new Date(), oomKilled: false }, 'monitor-died');
    if (live.rec.HostConfig.AutoRemove && ctx.store.hasId(id)) await ctx.ops.remove(id, { force: true }).catch(() => undefined);
  }

  /** Resolves when the container is no longer running (immediately if it is not). */
  async untilStopped(id: string): Promise<void> {
    // A restart policy's restart is not a stop: `logs -f` follows across it.
    for (;;) {
      const live = this.ctx.store.byFullId(id);
      if (!live || !live.rec.State.Running) return;
      await this.ctx.waitExit(live, -1);
      if (!this.ctx.store.byFullId(id)?.rec.State.Restarting) return;
    }
  }
}
