// The step cache index (<data-root>/builder/cache.json): step key → the image that step produced, with
// when the entry was last used and how often (system df's LastUsedAt and UsageCount). Builds read it whole
// at their start and merge what they added, used and found stale back at their end, so a `builder prune`
// that ran meanwhile is not undone by a build that loaded the index before it.
import fsp from 'node:fs/promises';
import path from 'node:path';
import { writeFileAtomic } from '../store/meta/atomic.js';

export interface StepEntry {
  id: string;
  /** RFC 3339; absent in an index written before usage was kept. */
  lastUsed?: string;
  uses?: number;
}

export type StepIndex = Record<string, StepEntry>;

export class StepCache {
  private queue: Promise<unknown> = Promise.resolve();

  constructor(private readonly file: string) {}

  async read(): Promise<StepIndex> {
    let raw: Record<string, unknown>;
    try { raw = JSON.parse(await fsp.readFile(this.file, 'utf8')) as Record<string, unknown>; } catch { return {}; }
    const out: StepIndex = {};
    // An index of the first format maps a key to the image id alone.
    for (const [k, v] of Object.entries(raw)) {
      if (typeof v === 'string') out[k] = { id: v };
      else if (v && typeof v === 'object' && typeof (v as StepEntry).id === 'string') out[k] = v as StepEntry;
    }
    return out;
  }

  /** Read, change and write the index, one change at a time. */
  update<T>(fn: (index: StepIndex) => T): Promise<T> {
    const run = this.queue.then(async () => {
      const index = await this.read();
      const result = fn(index);
      await fsp.mkdir(path.dirname(this.file), { recursive: true });
      await writeFileAtomic(this.file, JSON.stringify(index), 0o600);
      return result;
    });
    this.queue = run.catch(() => {});
    return run;
  }

  /**
   * A build's additions, the entries it used (key → when; an entry a prune removed meanwhile stays removed)
   * and the stale keys it dropped.
   */
  merge(added: StepIndex, used: ReadonlyMap<string, string>, dropped: Iterable<string>): Promise<void> {
    return this.update((index) => {
      for (const k of dropped) delete index[k];
      Object.assign(index, added);
      for (const [k, when] of used) {
        const e = index[k];
        if (e) { e.lastUsed = when; e.uses = (e.uses ?? 1) + 1; }
      }
    });
  }
}
