// GET /containers/{id}/logs as a stream: the 200 goes out at once, frames (multiplexed, or raw with a
// tty) are gathered and written in large chunks (one write per log line caps throughput), and the
// client's backpressure pauses the reader.
import type { ServerResponse } from 'node:http';
import { drained } from './drained.js';
import { muxHeader, STDERR, STDOUT } from './mux.js';

/** What the reader writes to. */
export interface LogStreamSink {
  write(stream: 'stdout' | 'stderr', data: Buffer): boolean | void;
  closed(): boolean;
  drain(): Promise<void>;
  flush?(): boolean | void;
}

/** A container's log, ready to be read (ContainerStreams.logs). */
export interface LogSource {
  tty: boolean;
  /** resolves 'removed' when the container went away while streaming */
  pipe(sink: LogStreamSink): Promise<string>;
}

const BATCH = 256 * 1024;

export async function sendLogStream(res: ServerResponse, contentType: string, src: LogSource): Promise<void> {
  res.writeHead(200, { 'Content-Type': contentType });
  res.flushHeaders();
  let closed = false;
  res.on('close', () => { closed = true; });
  let held: Buffer[] = [];
  let heldBytes = 0;
  const out = () => {
    if (!heldBytes) return true;
    const chunk = held.length === 1 ? held[0]! : Buffer.concat(held, heldBytes);
    held = [];
    heldBytes = 0;
    return res.write(chunk);
  };
  const how = await src.pipe({
    write: (stream, data) => {
      if (src.tty) held.push(data);
      else held.push(muxHeader(stream === 'stdout' ? STDOUT : STDERR, data.length), data);
      heldBytes += (src.tty ? 0 : 8) + data.length;
      return heldBytes < BATCH || out();
    },
    flush: out,
    closed: () => closed || res.destroyed,
    drain: () => drained(res),
  });
  // A client that does not read keeps output queued: with its container gone, drop it, not wait.
  if (how === 'removed' && res.writableLength > 0) res.destroy(); else res.end();
}
