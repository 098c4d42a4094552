// Live restore at daemon start: load the records, adopt what conmon/runc kept running, record the
// exits that happened while berthd was down, clear leftovers, then start what restart policies want.
import fsp from 'node:fs/promises';
import { ZERO_TIME } from '../../core/container-state.js';
import { shouldStartOnDaemonBoot } from '../restart-manager.js';
import type { ContainerContext } from './context.js';
import { newLive, type Live } from './container-store.js';
import type { ExitHandler } from './exits.js';

export class Adoption {
  constructor(
    private readonly ctx: ContainerContext,
    private readonly exits: ExitHandler,
    private readonly start: (id: string) => Promise<void>,
  ) {}

  /** Load records and reconcile them with what conmon/runc left (live restore). */
  async adoptAll(): Promise<void> {
    const { ctx } = this;
    const p = ctx.d.paths;
    for (const dir of [p.containersDir, p.exitsDir, p.bundlesDir]) await fsp.mkdir(dir, { recursive: true, mode: 0o710 });
    const ids = await fsp.readdir(p.containersDir).catch(() => [] as string[]);
    for (const id of ids) {
      const rec = await ctx.store.load(id);
      if (!rec) {
        // A create that died before its record was written: nothing refers to it.
        await ctx.unmountQuiet(id);
        await fsp.rm(p.containerDir(id), { recursive: true, force: true });
        continue;
      }
      ctx.store.add(newLive(rec));
    }
    const known = new Set(ctx.store.ids());
    // runc containers that no record claims (a crash mid-create) are removed.
    for (const rid of await ctx.d.runtime.list().catch(() => [] as string[])) {
      if (!known.has(rid)) await ctx.d.runtime.delete(rid, { force: true }).catch(() => undefined);
    }
    for (const live of ctx.store.all()) await this.reconcile(live);
    for (const live of ctx.store.all()) {
      if (live.rec.State.Running) ctx.startHealth(live);
      else if (live.rec.State.Health) ctx.health.load(live.rec.Id, live.rec.State.Health);
    }
  }

  /** After networking is up too: start what the restart policies want running (moby daemon.restore). */
  async bootRestarts(): Promise<void> {
    for (const live of this.ctx.store.all()) {
      const r = live.rec;
      if (!shouldStartOnDaemonBoot(r.HostConfig.RestartPolicy, {
        manuallyStopped: !!r.HasBeenManuallyStopped, startedBefore: r.State.StartedAt !== ZERO_TIME,
        running: r.State.Running, exitCode: r.State.ExitCode, restartCount: r.RestartCount,
      })) continue;
      await this.start(r.Id).catch(() => undefined);
    }
  }

  async reconcile(live: Live): Promise<void> {
    const { ctx } = this;
    const rec = live.rec;
    const id = rec.Id;
    const wasRemoving = rec.State.Status === 'removing';
    if (rec.State.Status === 'restarting') {
      // The daemon died during a restart back-off: the process is gone; boot restarts decide again.
      ctx.setState(live, 'restart-ended', { Pid: 0 });
      await ctx.store.save(live).catch(() => undefined);
    }
    if (rec.State.Running || wasRemoving) {
      const exit = ctx.d.runtime.readExit(id);
      const st = await ctx.d.runtime.state(id).catch(() => undefined);
      if (!exit && st && (st.status === 'running' || st.status === 'paused') && ctx.d.runtime.conmonAlive(id)) {
        live.mounted = true; // re-adopted: the overlay stayed mounted
        await ctx.d.mounts?.readopt(id, rec.MountPoints);
        rec.State.Pid = st.pid;
        if (wasRemoving) await ctx.ops.remove(id, { force: true });
        return;
      }
      // Exited while we were down (exit file), or the monitor is gone (exit 255, as moby after a hard restart).
      if (rec.State.Running) await this.exits.finishExit(live, exit ?? { code: 255, finishedAt: new Date(), oomKilled: false }, exit ? 'exited' : 'lost-while-down');
      if (wasRemoving || rec.HostConfig.AutoRemove) await ctx.ops.remove(id, { force: true }).catch(() => undefined);
      return;
    }
    // Not running: make sure nothing of a run is left behind.
    await ctx.d.runtime.delete(id, { force: true }).catch(() => undefined);
    await ctx.unmountQuiet(id);
    if (rec.HostConfig.AutoRemove && rec.State.Status === 'exited') {
      await ctx.ops.remove(id, { force: true }).catch(() => undefined);
    }
  }
}
