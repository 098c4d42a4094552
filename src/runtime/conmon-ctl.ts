import fs from 'node:fs';
import type { Sys } from '../sys/sys.js';

/**
 * Writes to conmon's ctl fifo ("1 rows cols" resize, "2 0 0" reopen the log). conmon 2.1's ctl reader
 * parses the start of its buffer for every line it read at once, so two messages that reach it in one
 * read() act as the first one twice: a resize right after the initial 24x80 was lost. Messages therefore
 * go one at a time per fifo: each is written only once the fifo is empty (conmon has read the previous).
 */
export class CtlWriter {
  private queues = new Map<string, Promise<void>>();

  constructor(private readonly sys: Pick<Sys, 'fifoUnread'>) {}

  send(fifo: string, msg: string): Promise<void> {
    const run = (this.queues.get(fifo) ?? Promise.resolve()).then(() => writeWhenDrained(this.sys, fifo, msg));
    const tail = run.catch(() => undefined);
    this.queues.set(fifo, tail);
    void tail.then(() => { if (this.queues.get(fifo) === tail) this.queues.delete(fifo); });
    return run;
  }
}

async function writeWhenDrained(sys: Pick<Sys, 'fifoUnread'>, fifo: string, msg: string): Promise<void> {
  let fd: number;
  try {
    fd = fs.openSync(fifo, fs.constants.O_WRONLY | fs.constants.O_NONBLOCK);
  } catch {
    return; // no fifo, or no reader (conmon gone): nothing to tell
  }
  try {
    // conmon reads promptly; after half a second it is busy or gone, and the message goes anyway.
    const deadline = Date.now() + 500;
    while (sys.fifoUnread(fd) > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 2));
    fs.writeSync(fd, msg);
  } catch {
    /* conmon going away */
  } finally {
    fs.closeSync(fd);
  }
}
