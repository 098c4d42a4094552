// A container's filesystem as cp and export see it (moby daemon.openContainerFS): for a running container
// its own root, /proc/<pid>/root, through which the kernel shows its mounts (volumes, binds, tmpfs) too;
// for a stopped one its overlay mounted for the call, with its volumes and binds mounted on top, under the
// container's lock so a start waits.
import path from 'node:path';
import { MNT_DETACH } from '../../sys/sys.js';
import type { ContainerContext } from './context.js';
import type { Live } from './container-store.js';
import type { ContainerRecord } from './types.js';

export interface ContainerFs {
  rec: ContainerRecord;
  /** host path of the container's "/" */
  root: string;
  running: boolean;
  /**
   * Freeze the container's processes while a tar is applied (they cannot swap a path for a symlink
   * between a lookup and a write: RELIABILITY L21, as podman's cp); the returned function thaws.
   * A stopped or already paused container is left as it is.
   */
  freeze(): Promise<() => Promise<void>>;
  publish(action: string): void;
}

export class ContainerFilesystems {
  constructor(private readonly ctx: ContainerContext) {}

  async with<T>(ref: string, fn: (cfs: ContainerFs) => Promise<T>): Promise<T> {
    const live = this.ctx.store.find(ref);
    if (this.isRunning(live)) return fn(this.running(live));
    return this.ctx.store.locked(live, async () => {
      if (this.isRunning(live)) return fn(this.running(live));
      return this.stopped(live, fn);
    });
  }

  /**
   * The container's own layers (the image's and its upper dir) without its mounts, as moby's export mounts
   * its read-write layer: for a running container the overlay berth mounted at start, for another one an
   * overlay mounted for the call under the container's lock.
   */
  async withLayers<T>(ref: string, fn: (root: string, cfs: Pick<ContainerFs, 'rec' | 'publish'>) => Promise<T>): Promise<T> {
    const live = this.ctx.store.find(ref);
    const root = this.ctx.d.paths.containerRootfs(live.rec.Id);
    const view = { rec: live.rec, publish: (a: string) => this.ctx.publish(a, live.rec) };
    if (live.mounted) return fn(root, view);
    return this.ctx.store.locked(live, async () => {
      if (live.mounted) return fn(root, view);
      const dir = this.ctx.d.paths.containerDir(live.rec.Id);
      await this.ctx.d.sys.mountAsync(this.ctx.d.images.rootfsMount(live.rec.Image, path.join(dir, 'upper'), path.join(dir, 'work'), root));
      try {
        return await fn(root, view);
      } finally {
        await this.unmountRoot(root);
      }
    });
  }

  /** A root mounted for one call; still busy (a straggling reader), it is detached rather than left mounted. */
  private async unmountRoot(root: string): Promise<void> {
    await this.ctx.d.sys.unmountAsync(root).catch(() => this.ctx.d.sys.unmountAsync(root, MNT_DETACH).catch(() => undefined));
  }

  private isRunning(live: Live): boolean { return live.rec.State.Running && !!live.rec.State.Pid && !live.rec.State.Restarting; }

  private running(live: Live): ContainerFs {
    const { ctx } = this;
    const rec = live.rec;
    return {
      rec, root: `/proc/${rec.State.Pid}/root`, running: true,
      freeze: async () => {
        if (rec.State.Paused || !rec.State.Running) return async () => undefined;
        await ctx.d.runtime.pause(rec.Id);
        return async () => { await ctx.d.runtime.resume(rec.Id).catch(() => undefined); };
      },
      publish: (action) => ctx.publish(action, rec),
    };
  }

  private async stopped<T>(live: Live, fn: (cfs: ContainerFs) => Promise<T>): Promise<T> {
    const { ctx } = this;
    const { d } = ctx;
    const rec = live.rec;
    const root = d.paths.containerRootfs(rec.Id);
    const dir = d.paths.containerDir(rec.Id);
    const mountedHere = !live.mounted;
    if (mountedHere) await d.sys.mountAsync(d.images.rootfsMount(rec.Image, path.join(dir, 'upper'), path.join(dir, 'work'), root));
    try {
      const release = await d.mounts?.forCopy(rec.Id, rec.MountPoints, root);
      try {
        return await fn({ rec, root, running: false, freeze: async () => async () => undefined, publish: (a) => ctx.publish(a, rec) });
      } finally {
        await release?.();
      }
    } finally {
      if (mountedHere) await this.unmountRoot(root);
    }
  }
}
