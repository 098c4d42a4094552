import type { ServerResponse } from 'node:http';

/** Where a producer writes JSON documents; false once the client went away. */
export interface JsonLinesOut {
  write(doc: unknown): boolean;
  closed(): boolean;
}

/**
 * A client this far behind is sent no more documents until it catches up: they are dropped, as moby's
 * event publisher skips a subscriber whose 1024-message queue stays full (a stats sample is skipped
 * the same way). Memory per client stays bounded and the producer never waits on one.
 */
export const JSON_LINES_MAX_BEHIND = 1024 * 1024;

/**
 * A 200 of newline-separated JSON documents (stats, events): headers at once when streaming, end when
 * the producer is done. A producer that resolves 'removed' (its container went away) also drops what a
 * client that does not read still has queued, so the stream does not outlive its container.
 */
export async function sendJsonLines(res: ServerResponse, streaming: boolean, produce: (out: JsonLinesOut) => Promise<'removed' | void>): Promise<void> {
  res.writeHead(200, { 'Content-Type': 'application/json' });
  if (streaming) res.flushHeaders();
  let closed = false;
  res.on('close', () => { closed = true; });
  const how = await produce({
    write: (doc) => {
      if (closed) return false;
      if (res.writableLength <= JSON_LINES_MAX_BEHIND) res.write(`${JSON.stringify(doc)}\n`);
      return true;
    },
    closed: () => closed || res.destroyed,
  });
  if (how === 'removed' && res.writableLength > 0) res.destroy(); else res.end();
}
