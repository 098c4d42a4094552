import type { Writable } from 'node:stream';

/**
 * Resolves when `w` can take more ('drain') or is gone ('close'); whichever comes first also removes
 * the other listener, so a long stream waiting many times leaves no listeners behind.
 */
export function drained(w: Writable): Promise<void> {
  if (w.destroyed || w.writableEnded || !w.writableNeedDrain) return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => { w.off('drain', done); w.off('close', done); resolve(); };
    w.on('drain', done);
    w.on('close', done);
  });
}
