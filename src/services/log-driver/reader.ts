import zlib from 'node:zlib';
import fs from 'node:fs';
import { K8sLogParser, dockerTimestamp, type LogEntry } from '../../core/k8s-log.js';

export interface LogOptions {
  stdout: boolean;
  stderr: boolean;
  /** ms since epoch; entries before are skipped */
  sinceMs?: number;
  /** ms since epoch; entries after are skipped (and follow stops there) */
  untilMs?: number;
  /** -1 or undefined: all */
  tail?: number;
  timestamps: boolean;
  follow: boolean;
}

export interface LogSink {
  write(stream: 'stdout' | 'stderr', data: Buffer): boolean | void;
  /** true once the client went away */
  closed(): boolean;
  /** resolves when the sink can take more (backpressure), or when the client went away */
  drain(): Promise<void>;
  /** end of a batch: a buffering sink writes out what it holds */
  flush?(): boolean | void;
}

/** What a follower waits on. Each is one promise, taken once: never re-asked in a loop. */
export interface FollowSignals {
  /** resolves when the container is no longer running: follow reads what is left and ends */
  stopped: Promise<void>;
  /** resolves when the container is removed: the stream ends at once, even while its client does not read */
  removed?: Promise<void>;
}

/** One read's size. */
const CHUNK = 1 << 20;
/**
 * The one buffer every reader's reads land in: read and copy-out are synchronous, so readers never
 * share it across an await. The parser gets an exact-size copy (its entries are views into what it is
 * given), so an empty pass allocates nothing and a small one little.
 */
let scratch: Buffer | undefined;
/** fs.watch can miss events (and the file may not exist yet): poll this often as a backstop. */
const POLL_MS = 250;

function format(e: LogEntry, timestamps: boolean): Buffer {
  return timestamps ? Buffer.concat([Buffer.from(`${dockerTimestamp(e.timeNs)} `), e.data]) : e.data;
}

/** Why a stream ended: 'removed' means its container went away (a sink still holding output drops it). */
export type LogEnd = 'done' | 'client-gone' | 'removed';

/**
 * Stream a container's k8s-file log to `sink` with Docker's logs semantics.
 * Memory stays bounded: reads go through one reused buffer, and nothing more is read while the sink
 * is not draining. The follow loop only wakes on an event (file change, poll timer, stop, removal,
 * client gone), so it cannot spin however the container's state changes under it.
 */
export async function streamLogs(file: string, opts: LogOptions, sink: LogSink, signals: FollowSignals): Promise<LogEnd> {
  let stopped = false;
  let removed = false;
  let wake: (() => void) | undefined;
  const kick = () => { const w = wake; wake = undefined; w?.(); };
  void signals.stopped.then(() => { stopped = true; kick(); }, () => { stopped = true; kick(); });
  const removal = signals.removed?.then(() => { removed = true; kick(); }, () => undefined);
  // Waiting for the client to read also ends when the container is removed.
  const drain = () => (removal ? Promise.race([sink.drain(), removal]) : sink.drain());
  const gone = () => removed || sink.closed();

  // Rotated files (max-file) come first, oldest first: ctr.log.N ... ctr.log.1, then ctr.log.
  // Files from .2 on may be gzipped (log-opt compress).
  const rotated: string[] = [];
  for (let i = 1; ; i++) {
    if (fs.existsSync(`${file}.${i}`)) rotated.unshift(`${file}.${i}`);
    else if (fs.existsSync(`${file}.${i}.gz`)) rotated.unshift(`${file}.${i}.gz`);
    else break;
  }
  const sinceNs = opts.sinceMs !== undefined ? BigInt(Math.floor(opts.sinceMs)) * 1_000_000n : undefined;
  const untilNs = opts.untilMs !== undefined ? BigInt(Math.floor(opts.untilMs)) * 1_000_000n : undefined;
  const wanted = (e: LogEntry) =>
    (e.stream === 'stdout' ? opts.stdout : opts.stderr) &&
    (sinceNs === undefined || e.timeNs >= sinceNs) &&
    (untilNs === undefined || e.timeNs <= untilNs);

  let pending: LogEntry[] = [];
  const tail = opts.tail !== undefined && opts.tail >= 0 ? opts.tail : -1;
  const parser = new K8sLogParser((e) => { if (wanted(e)) pending.push(e); });

  let fd: number | undefined;
  let pos = 0;
  const files = [...rotated, file];
  // Compressed files are the oldest: parse them whole first.
  while (files[0]?.endsWith('.gz')) {
    const gz = files.shift()!;
    try { parser.push(zlib.gunzipSync(fs.readFileSync(gz))); } catch { /* rotated away or corrupt: skip */ }
    if (tail >= 0 && pending.length > tail) pending = pending.slice(-tail);
  }
  const openNext = (): boolean => {
    if (fd !== undefined) { fs.closeSync(fd); fd = undefined; }
    while (files.length) {
      const f = files.shift()!;
      pos = 0;
      try { fd = fs.openSync(f, 'r'); return true; } catch { /* rotated away meanwhile */ }
    }
    return false;
  };
  openNext();
  const readAvailable = (): number => {
    if (fd === undefined) return 0;
    scratch ??= Buffer.allocUnsafeSlow(CHUNK);
    let total = 0;
    for (;;) {
      const n = fs.readSync(fd, scratch, 0, CHUNK, pos);
      if (n <= 0) break;
      pos += n;
      total += n;
      parser.push(Buffer.from(scratch.subarray(0, n)));
      if (tail >= 0 && pending.length > tail * 2 + 1024) pending = pending.slice(-tail);
      if (tail < 0 && pending.length >= 4096) return total; // let the caller flush in batches
    }
    return total;
  };
  const flush = async () => {
    for (const e of pending) {
      if (gone()) return;
      if (sink.write(e.stream, format(e, opts.timestamps)) === false) await drain();
    }
    pending = [];
    if (!gone() && sink.flush?.() === false) await drain();
  };
  const end = (): LogEnd => (removed ? 'removed' : sink.closed() ? 'client-gone' : 'done');

  try {
    // Initial read: everything (or the last `tail` entries), across the rotated files.
    for (;;) {
      const n = readAvailable();
      if (tail < 0) await flush();
      if (gone()) return end();
      if (n === 0) {
        if (files.length === 0) break;
        openNext();
      }
    }
    if (!opts.follow) {
      // the container's last output without a newline is still output
      parser.flushPartial();
      if (tail < 0) await flush();
    }
    if (tail >= 0) {
      pending = tail === 0 ? [] : pending.slice(-tail);
      await flush();
    }
    if (!opts.follow || gone()) return end();
    if (untilNs !== undefined && BigInt(Date.now()) * 1_000_000n > untilNs) return end();

    let watcher: fs.FSWatcher | undefined;
    const openIfNeeded = () => {
      if (fd === undefined) { try { fd = fs.openSync(file, 'r'); pos = 0; } catch { /* not yet */ } return; }
      // Rotated (renamed away, a new file in its place): finish the old one, then follow the new one.
      let ino: number | undefined;
      try { ino = fs.statSync(file).ino; } catch { ino = undefined; }
      if (ino !== undefined && ino !== fs.fstatSync(fd).ino) {
        readAvailable();
        fs.closeSync(fd);
        try { fd = fs.openSync(file, 'r'); pos = 0; } catch { fd = undefined; }
      }
    };
    try { watcher = fs.watch(file, kick); watcher.on('error', () => undefined); } catch { watcher = undefined; }
    try {
      while (!gone()) {
        openIfNeeded();
        readAvailable();
        await flush();
        if (gone()) break;
        if (stopped) {
          // Drain what conmon wrote before exiting, then stop.
          readAvailable();
          parser.flushPartial();
          await flush();
          break;
        }
        if (untilNs !== undefined && BigInt(Date.now()) * 1_000_000n > untilNs) break;
        let timer: NodeJS.Timeout | undefined;
        await new Promise<void>((resolve) => {
          wake = resolve;
          timer = setTimeout(kick, POLL_MS);
        });
        clearTimeout(timer);
      }
      return end();
    } finally {
      wake = undefined;
      watcher?.close();
    }
  } finally {
    if (fd !== undefined) fs.closeSync(fd);
  }
}
