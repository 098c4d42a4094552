import zlib from 'node:zlib';
import fs from 'node:fs';
import { K8sLogParser, dockerTimestamp, type LogEntry } from '../core/k8s-log.js';

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
  /** resolves when the sink can take more (backpressure) */
  drain(): Promise<void>;
  /** end of a batch: a buffering sink writes out what it holds */
  flush?(): boolean | void;
}

const CHUNK = 1 << 20;

function format(e: LogEntry, timestamps: boolean): Buffer {
  return timestamps ? Buffer.concat([Buffer.from(`${dockerTimestamp(e.timeNs)} `), e.data]) : e.data;
}

/**
 * Stream a container's k8s-file log to `sink` with Docker's logs semantics.
 * `stopped()` resolves when the container is no longer running; follow ends then.
 */
export async function streamLogs(file: string, opts: LogOptions, sink: LogSink, stopped: () => Promise<void>): Promise<void> {
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
    let total = 0;
    for (;;) {
      // a fresh buffer per read: parsed entries are views into it
      const buf = Buffer.allocUnsafeSlow(CHUNK);
      const n = fs.readSync(fd, buf, 0, CHUNK, pos);
      if (n <= 0) break;
      pos += n;
      total += n;
      parser.push(buf.subarray(0, n));
      if (tail >= 0 && pending.length > tail * 2 + 1024) pending = pending.slice(-tail);
      if (tail < 0 && pending.length >= 4096) return total; // let the caller flush in batches
    }
    return total;
  };
  const flush = async () => {
    for (const e of pending) {
      if (sink.closed()) return;
      if (sink.write(e.stream, format(e, opts.timestamps)) === false) await sink.drain();
    }
    pending = [];
    if (sink.flush?.() === false) await sink.drain();
  };

  try {
    // Initial read: everything (or the last `tail` entries), across the rotated files.
    for (;;) {
      const n = readAvailable();
      if (tail < 0) await flush();
      if (sink.closed()) break;
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
    if (!opts.follow || sink.closed()) return;
    if (untilNs !== undefined && BigInt(Date.now()) * 1_000_000n > untilNs) return;

    let done = false;
    void stopped().then(() => { done = true; });
    let wake: (() => void) | undefined;
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
    try { watcher = fs.watch(file, () => wake?.()); } catch { watcher = undefined; }
    try {
      while (!sink.closed()) {
        openIfNeeded();
        readAvailable();
        await flush();
        if (done) {
          // Drain what conmon wrote before exiting, then stop.
          readAvailable();
          parser.flushPartial();
          await flush();
          return;
        }
        if (untilNs !== undefined && BigInt(Date.now()) * 1_000_000n > untilNs) return;
        await new Promise<void>((resolve) => {
          wake = resolve;
          // fs.watch can miss events (and the file may not exist yet): poll as a backstop.
          setTimeout(resolve, 250);
          void stopped().then(resolve);
        });
        wake = undefined;
      }
    } finally {
      watcher?.close();
    }
  } finally {
    if (fd !== undefined) fs.closeSync(fd);
  }
}
