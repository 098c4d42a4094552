// stop, kill, restart, pause and unpause. Refusals come from the state machine (core/container-state.ts).
import { SystemError } from '../../errors.js';
import { parseSignal } from '../../core/container-config.js';
import { assertAllowed } from '../../core/container-state.js';
import { killCancelsRestart } from '../restart-manager.js';
import type { ContainerContext } from './context.js';
import type { Live } from './container-store.js';
import type { ExitHandler } from './exits.js';
import type { Starter } from './starter.js';

const DEFAULT_STOP_TIMEOUT = 10;

export interface StopOptions { timeout?: number; signal?: string }

export class Stopper {
  constructor(private readonly ctx: ContainerContext, private readonly exits: ExitHandler, private readonly starter: Starter) {}

  async stop(ref: string, opts: StopOptions = {}): Promise<void> {
    const live = this.ctx.store.find(ref);
    await this.ctx.store.locked(live, () => this.stopLocked(live, opts));
  }

  async stopLocked(live: Live, opts: StopOptions): Promise<void> {
    const { ctx } = this;
    const rec = live.rec;
    assertAllowed('stop', rec.State, { id: rec.Id, name: rec.Name });
    if (!ctx.shuttingDown) rec.HasBeenManuallyStopped = true;
    live.exitOnNext = true;
    if (rec.State.Restarting) {
      await this.exits.cancelRestart(live);
      ctx.publish('stop', rec);
      return;
    }
    const sig = parseSignal(opts.signal || rec.Config.StopSignal || 'SIGTERM');
    const timeout = opts.timeout ?? rec.Config.StopTimeout ?? DEFAULT_STOP_TIMEOUT;
    live.stopping = true;
    try {
      await ctx.d.runtime.kill(rec.Id, sig).catch(() => undefined);
      if (rec.State.Paused) await this.thaw(live);
      ctx.publish('kill', rec, { signal: String(sig) });
      if (!(await ctx.waitExit(live, timeout < 0 ? -1 : timeout * 1000))) {
        await ctx.d.runtime.kill(rec.Id, 9).catch(() => undefined);
        ctx.publish('kill', rec, { signal: '9' });
        if (!(await ctx.waitExit(live, 30_000))) throw new SystemError(`container ${rec.Id} did not exit after SIGKILL`);
      }
    } finally {
      live.stopping = false;
    }
    ctx.publish('stop', rec);
  }

  /** A frozen process cannot act on a signal: thaw it (stop/kill/rm of a paused container, as dockerd). */
  async thaw(live: Live): Promise<void> {
    await this.ctx.d.runtime.resume(live.rec.Id).catch(() => undefined);
    // The exit may have been recorded while resume ran: only a still-paused container is thawed.
    if (live.rec.State.Status === 'paused') this.ctx.setState(live, 'unpaused');
  }

  async kill(ref: string, signal?: string): Promise<void> {
    const { ctx } = this;
    const live = ctx.store.find(ref);
    const rec = live.rec;
    const sig = parseSignal(signal || 'SIGKILL');
    assertAllowed('kill', rec.State, { id: rec.Id, name: rec.Name, ref });
    rec.HasBeenManuallyStopped = true;
    const cancels = killCancelsRestart(sig, rec.Config.StopSignal ? parseSignal(rec.Config.StopSignal) : undefined);
    if (cancels) live.exitOnNext = true;
    if (rec.State.Restarting) {
      if (cancels) await this.exits.cancelRestart(live);
      return;
    }
    await ctx.d.runtime.kill(rec.Id, sig);
    if (rec.State.Paused && sig === 9) await this.thaw(live);
    ctx.publish('kill', rec, { signal: String(sig) });
    if (sig === 9) await ctx.waitExit(live, 10_000);
  }

  async restart(ref: string, opts: StopOptions = {}): Promise<void> {
    const live = this.ctx.store.find(ref);
    await this.ctx.store.locked(live, async () => {
      if (live.rec.State.Running) await this.stopLocked(live, opts);
      this.starter.resetRestarts(live);
      await this.starter.startLocked(live);
    });
    this.ctx.publish('restart', live.rec);
  }

  async pause(ref: string): Promise<void> {
    const { ctx } = this;
    const live = ctx.store.find(ref);
    await ctx.store.locked(live, async () => {
      const rec = live.rec;
      assertAllowed('pause', rec.State, { id: rec.Id, name: rec.Name });
      await ctx.d.runtime.pause(rec.Id);
      ctx.health.pause(rec.Id);
      ctx.setState(live, 'paused');
      await ctx.store.save(live);
      ctx.publish('pause', rec);
    });
  }

  async unpause(ref: string): Promise<void> {
    const { ctx } = this;
    const live = ctx.store.find(ref);
    await ctx.store.locked(live, async () => {
      const rec = live.rec;
      assertAllowed('unpause', rec.State, { id: rec.Id, name: rec.Name });
      await ctx.d.runtime.resume(rec.Id);
      ctx.health.unpause(rec.Id);
      ctx.setState(live, 'unpaused');
      await ctx.store.save(live);
      ctx.publish('unpause', rec);
    });
  }
}
