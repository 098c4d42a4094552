import fs from 'node:fs';
import type { Sys } from '../sys/sys.js';

/**
 * Writes to conmon's ctl fifo ("1 rows cols" resize, "2 0 0" reopen the log). conmon 2.1's ctl reader
 * parses the start of its buffer for every line it read at once, so two messages that reach it in one
 * read() act as the first one twice: a resize right after the initial 24x80 was lost. Messages therefore
 * go one at a time per fifo: each is written only once the fifo is empty (conmon has read the previous).
 *
 * Only the newest size matters, so a resize still waiting its turn is replaced by a later one rather than
 * queued behind it. `flush` lets the start path wait until the sizes asked before start have reached
 * conmon (`docker run -it` sends create's 24x80 and the client's size back to back, then starts).
 */
export class CtlWriter {
  private fifos = new Map<string, { tail: Promise<void>; waiting?: { msg: string; done: Promise<void> } }>();

  constructor(private readonly sys: Pick<Sys, 'fifoUnread'>, private readonly drainMs = 2000) {}

  send(fifo: string, msg: string): Promise<void> {
    let st = this.fifos.get(fifo);
    if (!st) { st = { tail: Promise.resolve() }; this.fifos.set(fifo, st); }
    const w = st.waiting;
    if (w && isResize(w.msg) && isResize(msg)) {
      w.msg = msg;
      return w.done;
    }
    const entry: { msg: string; done: Promise<void> } = { msg, done: Promise.resolve() };
    const state = st;
    entry.done = st.tail.then(() => {
      if (state.waiting === entry) state.waiting = undefined;
      return writeWhenDrained(this.sys, fifo, entry.msg, this.drainMs);
    });
    st.waiting = entry;
    const tail = entry.done.catch(() => undefined);
    st.tail = tail;
    void tail.then(() => { if (this.fifos.get(fifo)?.tail === tail) this.fifos.delete(fifo); });
    return entry.done;
  }

  /** Resolves once every message sent so far has been written (or given up on). */
  flush(fifo: string): Promise<void> {
    return this.fifos.get(fifo)?.tail ?? Promise.resolve();
  }
}

const isResize = (msg: string): boolean => msg.startsWith('1 ');

async function writeWhenDrained(sys: Pick<Sys, 'fifoUnread'>, fifo: string, msg: string, drainMs: number): Promise<void> {
  let fd: number;
  try {
    fd = fs.openSync(fifo, fs.constants.O_WRONLY | fs.constants.O_NONBLOCK);
  } catch {
    return; // no fifo, or no reader (conmon gone): nothing to tell
  }
  try {
    // conmon reads promptly; on a loaded machine it can take a while, and past the deadline it is taken
    // as busy or gone and the message goes anyway.
    const deadline = Date.now() + drainMs;
    while (sys.fifoUnread(fd) > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 2));
    fs.writeSync(fd, msg);
  } catch {
    /* conmon going away */
  } finally {
    fs.closeSync(fd);
  }
}
