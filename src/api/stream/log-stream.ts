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
/** A piece this big is written by itself rather than copied into a joined chunk. */
const LARGE = 16 * 1024;

export async function sendLogStream(res: ServerResponse, contentType: string, src: LogSource): Promise<void> {
  res.writeHead(200, { 'Content-Type': contentType });
  res.flushHeaders();
  let closed = false;
  res.on('close', () => { closed = true; });
  let held: Buffer[] = [];
  let heldBytes = 0;
  const out = () => {
    if (!heldBytes) return true;
    const pieces = held;
    held = [];
    heldBytes = 0;
    if (pieces.length === 1) return res.write(pieces[0]!);
    // One writev: small pieces (headers, short runs) joined, large runs written as they are (a run is
    // already a copy: copying it again only feeds the garbage collector).
    res.cork();
    let ok = true;
    let from = 0;
    let small = 0;
    const joinSmall = (to: number) => {
      if (to - from === 1) ok = res.write(pieces[from]!);
      else if (to > from) ok = res.write(Buffer.concat(pieces.slice(from, to), small));
      small = 0;
    };
    for (let i = 0; i < pieces.length; i++) {
      const p = pieces[i]!;
      if (p.length < LARGE) { small += p.length; continue; }
      joinSmall(i);
      ok = res.write(p);
      from = i + 1;
    }
    joinSmall(pieces.length);
    res.uncork();
    return ok;
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
