import type { ServerResponse } from 'node:http';

/** Where a producer writes JSON documents; false once the client went away. */
export interface JsonLinesOut {
  write(doc: unknown): boolean;
  closed(): boolean;
}

/** A 200 of newline-separated JSON documents (stats): headers at once when streaming, end when the producer is done. */
export async function sendJsonLines(res: ServerResponse, streaming: boolean, produce: (out: JsonLinesOut) => Promise<void>): Promise<void> {
  res.writeHead(200, { 'Content-Type': 'application/json' });
  if (streaming) res.flushHeaders();
  let closed = false;
  res.on('close', () => { closed = true; });
  await produce({
    write: (doc) => { if (closed) return false; res.write(`${JSON.stringify(doc)}\n`); return true; },
    closed: () => closed || res.destroyed,
  });
  res.end();
}
