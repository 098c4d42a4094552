// The step cache index (<data-root>/builder/cache.json): step key → the image that step produced. Builds
// read it whole at their start and merge what they added (and found stale) back at their end, so a
// `builder prune` that ran meanwhile is not undone by a build that loaded the index before it.
import fsp from 'node:fs/promises';
import path from 'node:path';
import { writeFileAtomic } from '../store/meta/atomic.js';

export type StepIndex = Record<string, string>;

export class StepCache {
  private queue: Promise<unknown> = Promise.resolve();

  constructor(private readonly file: string) {}

  async read(): Promise<StepIndex> {
    try { return JSON.parse(await fsp.readFile(this.file, 'utf8')) as StepIndex; } catch { return {}; }
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

  /** A build's additions and the stale keys it dropped. */
  merge(added: StepIndex, dropped: Iterable<string>): Promise<void> {
    return this.update((index) => {
      for (const k of dropped) delete index[k];
      Object.assign(index, added);
    });
  }
}
