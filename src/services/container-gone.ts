import type { EventBus } from './events.js';

/**
 * A promise that resolves when container `id` is removed (its `destroy` event), or at once if it is
 * already gone. Long streams race it so they end with their container; `cancel()` drops the
 * subscription when the stream ends first, so nothing is left behind per stream.
 */
export function whenRemoved(events: EventBus, exists: (id: string) => boolean, id: string): { removed: Promise<void>; cancel(): void } {
  let off = () => {};
  const removed = new Promise<void>((resolve) => {
    if (!exists(id)) { resolve(); return; }
    off = events.subscribe((ev) => {
      if (ev.Type === 'container' && ev.Action === 'destroy' && ev.Actor.ID === id) { off(); resolve(); }
    });
  });
  return { removed, cancel: () => off() };
}
