// rm (with force: kill, wait for the exit, then remove) and container prune.
import fsp from 'node:fs/promises';
import path from 'node:path';
import { InvalidParameterError } from '../../errors.js';
import { assertAllowed } from '../../core/container-state.js';
import { parseFilters, parseGoDuration, matchLabels } from '../../core/filters.js';
import type { Trace } from '../../core/trace.js';
import type { ContainerContext } from './context.js';
import type { Live } from './container-store.js';
import type { ExitHandler } from './exits.js';
import type { Stopper } from './stopper.js';
import { dirSize } from './views.js';
import { unlink } from './links.js';

export interface RemoveOptions { force?: boolean; volumes?: boolean; link?: boolean }

export class Remover {
  constructor(private readonly ctx: ContainerContext, private readonly exits: ExitHandler, private readonly stopper: Stopper) {}

  async remove(ref: string, opts: RemoveOptions = {}, tr?: Trace): Promise<void> {
    const { ctx } = this;
    if (opts.link) {
      const { parent } = unlink(ctx.store, ref);
      await ctx.store.save(ctx.store.find(parent.Id));
      return;
    }
    const live = ctx.store.find(ref);
    await ctx.store.locked(live, async () => {
      const rec = live.rec;
      if (!ctx.store.hasId(rec.Id)) return;
      assertAllowed('remove', rec.State, { id: rec.Id, name: rec.Name, force: opts.force });
      if (rec.State.Restarting) await this.exits.cancelRestart(live);
      if (rec.State.Running) await this.killForRemove(live);
      ctx.restarts.reset(rec.Id);
      ctx.health.forget(rec.Id);
      ctx.setState(live, 'removing');
      tr?.mark('rm-lock');
      await ctx.store.save(live).catch(() => undefined);
      tr?.mark('rm-save');
      await ctx.d.runtime.delete(rec.Id, { force: true }).catch(() => undefined);
      tr?.mark('rm-runtime-delete');
      void ctx.d.networks?.forget(rec.Id).catch(() => undefined); // queued after any teardown
      await ctx.unmountQuiet(rec.Id);
      await fsp.rm(ctx.d.paths.containerDir(rec.Id), { recursive: true, force: true });
      tr?.mark('rm-dirs');
      ctx.store.delete(live);
      ctx.publish('destroy', rec);
      for (const w of live.waiters.splice(0)) w.resolve({ StatusCode: rec.State.ExitCode, Error: null });
      await ctx.d.mounts?.atRemove(rec.Id, rec.MountPoints, !!opts.volumes || !!rec.HostConfig.AutoRemove);
    });
  }

  /** rm -f of a running container: SIGKILL and wait for its exit (recorded as lost if it never comes). */
  private async killForRemove(live: Live): Promise<void> {
    const rec = live.rec;
    live.exitOnNext = true;
    await this.ctx.d.runtime.kill(rec.Id, 9).catch(() => undefined);
    if (rec.State.Paused) await this.stopper.thaw(live);
    if (!(await this.ctx.waitExit(live, 10_000))) {
      await this.exits.exitNow(live);
      if (rec.State.Running) await this.exits.finishExit(live, { code: 137, finishedAt: new Date(), oomKilled: false }, 'lost-while-down');
    }
  }

  async prune(filters: string | null): Promise<{ ContainersDeleted: string[]; SpaceReclaimed: number }> {
    const f = parseFilters(filters, ['label', 'label!', 'until']);
    const until = f.get('until')?.[0];
    const untilMs = until ? parseUntil(until) : Infinity;
    const deleted: string[] = [];
    let space = 0;
    for (const live of this.ctx.store.all()) {
      const r = live.rec;
      if (r.State.Running || r.State.Status === 'removing') continue;
      if (!matchLabels(f.get('label'), r.Config.Labels)) continue;
      const neg = f.get('label!');
      if (neg && neg.length && matchLabels(neg, r.Config.Labels)) continue;
      if (Date.parse(r.Created) > untilMs) continue;
      space += dirSize(path.join(this.ctx.d.paths.containerDir(r.Id), 'upper'));
      await this.remove(r.Id, { force: false });
      deleted.push(r.Id);
    }
    this.ctx.d.events.publish('container', 'prune', '', { reclaimed: String(space) });
    return { ContainersDeleted: deleted, SpaceReclaimed: space };
  }
}

function parseUntil(v: string): number {
  if (/^\d+(\.\d+)?$/.test(v)) return Number(v) * 1000;
  const t = Date.parse(v);
  if (!Number.isNaN(t)) return t;
  const d = parseGoDuration(v); // Go durations, as image prune (core/go-duration.ts)
  if (d !== undefined) return Date.now() - d;
  throw new InvalidParameterError(`invalid filter 'until=${v}'`);
}
