// The read-only side of the container service: records, inspect/list and the counts other services
// ask for (volume and image users, networking's reconciliation, /info). Nothing here changes state.
import { volumeNames } from '../../core/mounts.js';
import type { ContainerStore } from './container-store.js';
import type { ContainerRecord } from './types.js';
import type { ContainerViews } from './views.js';

export class ContainerQueries {
  constructor(private readonly store: ContainerStore, private readonly views: ContainerViews) {}

  get(ref: string): ContainerRecord { return this.store.find(ref).rec; }
  inspect(ref: string, size = false): Record<string, unknown> { return this.views.inspect(ref, size); }
  list(opts: { all?: boolean; limit?: number; size?: boolean; filters?: string | null }): Record<string, unknown>[] {
    return this.views.list(opts);
  }

  /** Ids of the containers (any state) whose mounts refer to the volume: it is in use while they exist. */
  containersUsingVolume(name: string): string[] {
    return this.store.all().filter((l) => volumeNames(l.rec.MountPoints).includes(name)).map((l) => l.rec.Id);
  }

  containersUsingImage(imageId: string): { id: string; running: boolean }[] {
    return this.store.all().filter((l) => l.rec.Image === imageId)
      .map((l) => ({ id: l.rec.Id, running: l.rec.State.Running }));
  }

  /** ids of all containers, and of those running (for networking's reconciliation at start) */
  ids(): { all: Set<string>; running: Set<string> } {
    const all = new Set<string>(), running = new Set<string>();
    for (const l of this.store.all()) { all.add(l.rec.Id); if (l.rec.State.Running) running.add(l.rec.Id); }
    return { all, running };
  }

  counts(): { total: number; running: number; paused: number; stopped: number } {
    let running = 0, paused = 0;
    const all = this.store.all();
    for (const l of all) {
      if (l.rec.State.Paused) paused++; else if (l.rec.State.Running) running++;
    }
    return { total: all.length, running, paused, stopped: all.length - running - paused };
  }
}
