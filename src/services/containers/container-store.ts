// The containers' records, the name index and the per-container locks. Every service module reaches a
// container through here; nothing else holds the maps.
import { InvalidParameterError, NotFoundError } from '../../errors.js';
import { readJson, writeFileAtomic } from '../../store/meta/atomic.js';
import type { Paths } from '../../store/paths.js';
import type { AttachConnection, ContainerRecord } from './types.js';

export interface Waiter { condition: 'next-exit' | 'not-running' | 'removed'; resolve: (r: { StatusCode: number; Error?: { Message: string } | null }) => void }

/** A container known to the daemon: its record plus what only lives in memory. */
export interface Live {
  rec: ContainerRecord;
  lock: Promise<unknown>;
  waiters: Waiter[];
  /** attach connections registered before start; connected between runc create and runc start */
  pendingAttach: ((conn: AttachConnection | undefined) => void)[];
  exitWaiters: (() => void)[];
  mounted: boolean;
  stopping?: boolean;
  /** finishExit is in progress (it runs outside the lock) */
  exiting?: boolean;
  /** checkMonitors found its conmon dead and is ending it */
  monitorLost?: boolean;
  /** moby ExitOnNext: the user's stop/kill cancels any restart of the coming exit */
  exitOnNext?: boolean;
}

export function newLive(rec: ContainerRecord): Live {
  return { rec, lock: Promise.resolve(), waiters: [], pendingAttach: [], exitWaiters: [], mounted: false };
}

export class ContainerStore {
  private readonly byId = new Map<string, Live>();
  private readonly byName = new Map<string, string>();

  constructor(private readonly paths: Paths) {}

  /** Find by full id, name (with or without "/"), or unique id prefix (Docker's order). */
  find(ref: string): Live {
    const byFull = this.byId.get(ref);
    if (byFull) return byFull;
    const name = ref.startsWith('/') ? ref.slice(1) : ref;
    const idByName = this.byName.get(name);
    if (idByName) return this.byId.get(idByName)!;
    if (/^[0-9a-f]+$/.test(ref)) {
      const matches = [...this.byId.keys()].filter((id) => id.startsWith(ref));
      if (matches.length === 1) return this.byId.get(matches[0]!)!;
      if (matches.length > 1) throw new InvalidParameterError(`multiple IDs found with provided prefix: ${ref}`);
    }
    throw new NotFoundError(`No such container: ${ref}`);
  }

  byFullId(id: string): Live | undefined { return this.byId.get(id); }
  hasId(id: string): boolean { return this.byId.has(id); }
  all(): Live[] { return [...this.byId.values()]; }
  ids(): string[] { return [...this.byId.keys()]; }
  get size(): number { return this.byId.size; }

  /** The id holding `name` (without "/"), if any. */
  nameHolder(name: string): string | undefined { return this.byName.get(name); }
  /** Reserve a name before any await, so two concurrent creates cannot both take it. */
  reserveName(name: string, id: string): void { this.byName.set(name, id); }
  releaseName(name: string, id?: string): void {
    if (id === undefined || this.byName.get(name) === id) this.byName.delete(name);
  }

  add(live: Live): void {
    this.byId.set(live.rec.Id, live);
    this.byName.set(live.rec.Name.slice(1), live.rec.Id);
  }

  delete(live: Live): void {
    this.byId.delete(live.rec.Id);
    this.releaseName(live.rec.Name.slice(1), live.rec.Id);
  }

  /** Serialise state-changing operations per container. */
  async locked<T>(live: Live, fn: () => Promise<T>): Promise<T> {
    const prev = live.lock;
    let release!: () => void;
    live.lock = new Promise<void>((r) => { release = r; });
    try {
      await prev.catch(() => undefined);
      return await fn();
    } finally {
      release();
    }
  }

  /** State transitions of an existing container: atomic, not fsynced (see writeFileAtomic); create is durable. */
  async save(live: Live): Promise<void> {
    await writeFileAtomic(this.paths.containerRecord(live.rec.Id), JSON.stringify(live.rec), 0o600, { durable: false });
  }

  /** The first, durable write of a new record. */
  async saveNew(rec: ContainerRecord): Promise<void> {
    await writeFileAtomic(this.paths.containerRecord(rec.Id), JSON.stringify(rec));
  }

  load(id: string): Promise<ContainerRecord | undefined> {
    return readJson<ContainerRecord>(this.paths.containerRecord(id)).catch(() => undefined);
  }
}
