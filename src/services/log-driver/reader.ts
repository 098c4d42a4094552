import zlib from 'node:zlib';
import fs from 'node:fs';
import { K8sLogParser, dockerTimestamp, parseTimeNs, scanK8sRecords, type LogEntry, type LogStreamId, type RecordFn } from '../../core/k8s-log.js';
import { StreamRuns } from '../../core/log-runs.js';

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
  /**
   * A run of one stream's bytes: consecutive output of that stream, as many lines as came together (a
   * frame's worth, not a line). Memory the sink may keep.
   */
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

/** The largest read. A stream's read buffer starts small and grows to this while reads fill it. */
const CHUNK = 1 << 20;
const FIRST_READ = 64 * 1024;
/** fs.watch can miss events (and the file may not exist yet): poll this often as a backstop. */
const POLL_MS = 250;

/**
 * One stream's read buffer, reused across reads: bytes not consumed (a record cut by the read) move to
 * its front and the next read lands after them. It starts small and doubles while reads fill it, up to
 * CHUNK (beyond that only for a single record bigger than the buffer).
 */
class ReadBuffer {
  private buf = Buffer.allocUnsafeSlow(FIRST_READ);
  private held = 0;

  read(fd: number, pos: number): number {
    if (this.held === this.buf.length) this.grow();
    const room = this.buf.length - this.held;
    const n = fs.readSync(fd, this.buf, this.held, room, pos);
    this.held += n;
    if (n === room && this.buf.length < CHUNK) this.grow();
    return n;
  }

  /** Hands the held bytes to `feed`; keeps what it did not consume. */
  consume(feed: (buf: Buffer, from: number, to: number) => number): void {
    const used = feed(this.buf, 0, this.held);
    if (used > 0) {
      this.buf.copyWithin(0, used, this.held);
      this.held -= used;
    }
  }

  /** Bytes from elsewhere (a decompressed file), through the same buffer. */
  append(data: Buffer, feed: (buf: Buffer, from: number, to: number) => number): void {
    for (let at = 0; at < data.length;) {
      if (this.held === this.buf.length) this.grow();
      const n = Math.min(data.length - at, this.buf.length - this.held);
      data.copy(this.buf, this.held, at, at + n);
      this.held += n;
      at += n;
      this.consume(feed);
    }
  }

  private grow(): void {
    const bigger = Buffer.allocUnsafeSlow(this.buf.length * 2);
    this.buf.copy(bigger, 0, 0, this.held);
    this.buf = bigger;
  }
}

/** How far back tailStart reads at a time. */
const TAIL_CHUNK = 256 * 1024;

/**
 * Where in `file` parsing may start and still find its last `n` entries (of the wanted streams): just
 * after a full (F) record, so no partial is pending there, with at least `n` wanted F records after it
 * (each ends at least one entry). Read backwards in chunks; undefined when the file does not hold that
 * many (the caller then reads everything, rotated files included), or cannot be read.
 */
function tailStart(file: string, n: number, want: (sid: LogStreamId) => boolean): number | undefined {
  let fd: number;
  try { fd = fs.openSync(file, 'r'); } catch { return undefined; }
  try {
    let end = fs.fstatSync(fd).size;
    let carry = Buffer.alloc(0); // the start of a record the previous chunk cut
    let wanted = 0;
    // F records' ends, newest first; `need` is the index of the n-th newest wanted one (0 for n = 0)
    const ends: number[] = [];
    let need = n === 0 ? -1 : undefined as number | undefined;
    while (end > 0) {
      const start = Math.max(0, end - TAIL_CHUNK);
      const chunk = Buffer.allocUnsafe(end - start + carry.length);
      let got = 0;
      while (got < end - start) {
        const r = fs.readSync(fd, chunk, got, end - start - got, start + got);
        if (r <= 0) return undefined;
        got += r;
      }
      carry.copy(chunk, end - start);
      // records that begin in this chunk: after its first newline (from the file's start, all of them)
      const first = start === 0 ? 0 : chunk.indexOf(0x0a) + 1;
      if (start > 0 && first === 0) { carry = chunk; end = start; continue; } // one record spans the chunk
      const found: [number, boolean][] = [];
      scanK8sRecords(chunk, first, chunk.length, (_b, sid, partial, _tf, _tt, _df, dataTo) => {
        if (!partial) found.push([start + dataTo, want(sid)]);
      });
      for (let i = found.length - 1; i >= 0; i--) {
        const [at, w] = found[i]!;
        ends.push(at);
        if (w && ++wanted === n) need = ends.length - 1;
        // the newest F record before the n-th newest wanted one ends where parsing may start
        if (need !== undefined && ends.length - 1 > need) return at;
      }
      carry = chunk.subarray(0, first);
      end = start;
    }
    return undefined;
  } finally {
    fs.closeSync(fd);
  }
}

/** Why a stream ended: 'removed' means its container went away (a sink still holding output drops it). */
export type LogEnd = 'done' | 'client-gone' | 'removed';

/**
 * Stream a container's k8s-file log to `sink` with Docker's logs semantics.
 * Memory stays bounded: reads go through one reused buffer, and nothing more is read while the sink
 * is not draining. What the sink gets are runs (consecutive bytes of one stream, many lines each), not
 * lines: each is memory the sink may keep. The follow loop only wakes on an event (file change, poll timer, stop, removal,
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

  const tail = opts.tail !== undefined && opts.tail >= 0 ? opts.tail : -1;
  // Plain `logs` (no since/until, no tail; with or without timestamps) needs no entries: records go from
  // the read buffer straight into per-stream runs, one frame per run instead of one per line.
  const plain = sinceNs === undefined && untilNs === undefined && tail < 0;
  const stamp = opts.timestamps;
  const out: [LogStreamId, Buffer][] = [];
  const runs = new StreamRuns((sid, data) => { out.push([sid, data]); });

  // The entries path: every record parsed (time included) and partials joined, as Docker filters them.
  let pending: LogEntry[] = [];
  const parser = new K8sLogParser((e) => { if (wanted(e)) pending.push(e); });
  // The plain path's partial records (P): held until their line ends or the other stream speaks,
  // exactly when the entries path would hand the joined entry out.
  let held: { sid: LogStreamId; parts: Buffer[]; ts: Buffer | undefined } | undefined;
  const wantSid = (sid: LogStreamId) => (sid === 1 ? opts.stdout : opts.stderr);
  const releaseHeld = () => {
    if (held && wantSid(held.sid)) {
      if (held.ts) runs.add(held.sid, held.ts, 0, held.ts.length);
      for (const p of held.parts) runs.add(held.sid, p, 0, p.length);
    }
    held = undefined;
  };
  // -t: Docker's form of a record's time, made once per distinct time text (conmon stamps a read alike)
  const stampTime = Buffer.alloc(64);
  let stampLen = -1;
  let stampBuf = Buffer.alloc(0);
  const stampOf = (buf: Buffer, from: number, to: number): Buffer => {
    const n = to - from;
    let same = n === stampLen;
    // from the end: the nanoseconds differ first
    for (let i = n - 1; same && i >= 0; i--) same = buf[from + i] === stampTime[i];
    if (!same) {
      const text = buf.toString('latin1', from, to);
      stampBuf = Buffer.from(`${dockerTimestamp(parseTimeNs(text))} `, 'latin1');
      stampLen = n <= stampTime.length ? buf.copy(stampTime, 0, from, to) : -1;
    }
    return stampBuf;
  };
  // The plain path moves each record's data down over the headers in the read buffer itself (bytes only
  // ever move left, to where the scan has passed), so a read's same-stream records end up contiguous
  // and go to the runs in one copy: one memmove per line, no allocation.
  let w = 0;
  let segStart = 0;
  let seg: LogStreamId = 1;
  let segBuf: Buffer | undefined;
  const endSeg = () => {
    if (w > segStart) runs.add(seg, segBuf!, segStart, w);
    segStart = w;
  };
  const plainRecord: RecordFn = (buf, sid, partial, tf, tt, from, to) => {
    if (partial) {
      endSeg();
      if (held && held.sid !== sid) releaseHeld();
      (held ??= { sid, parts: [], ts: stamp ? stampOf(buf, tf, tt) : undefined }).parts.push(Buffer.from(buf.subarray(from, to)));
      return;
    }
    if (held) {
      endSeg();
      const joined = held.sid === sid;
      releaseHeld();
      // the line a partial began: its stamp went out with the first part
      if (joined && stamp) { if (wantSid(sid)) runs.add(sid, buf, from, to); return; }
    }
    if (!wantSid(sid)) return;
    if (sid !== seg) { endSeg(); seg = sid; }
    if (stamp) {
      const ts = stampOf(buf, tf, tt);
      if (w + ts.length > from) {
        // a record whose header is shorter than the stamp: no room to write it in place
        endSeg();
        runs.add(sid, ts, 0, ts.length);
        runs.add(sid, buf, from, to);
        return;
      }
      for (let i = 0; i < ts.length; i++) buf[w++] = ts[i]!;
    }
    buf.copyWithin(w, from, to);
    w += to - from;
  };
  /** What the read buffer's bytes go to; answers how many it consumed (the rest is an unfinished record). */
  const feed = plain
    ? (buf: Buffer, from: number, to: number) => {
      segBuf = buf;
      w = segStart = from;
      const used = scanK8sRecords(buf, from, to, plainRecord);
      endSeg();
      return used;
    }
    : (buf: Buffer, from: number, to: number) => { parser.push(Buffer.from(buf.subarray(from, to))); return to; };
  const flushPartial = () => { if (plain) releaseHeld(); else parser.flushPartial(); };
  const rbuf = new ReadBuffer();

  let fd: number | undefined;
  let pos = 0;
  const files = [...rotated, file];
  // `tail` without since/until: the last entries are found from the end of the newest file, when it
  // holds enough of them, instead of parsing every file from the start.
  if (tail >= 0 && sinceNs === undefined && untilNs === undefined) {
    const from = tailStart(file, tail, wantSid);
    if (from !== undefined) {
      files.splice(0, files.length, file);
      fd = fs.openSync(file, 'r');
      pos = from;
    }
  }
  // Compressed files are the oldest: parse them whole first.
  while (files[0]?.endsWith('.gz')) {
    const gz = files.shift()!;
    let data: Buffer | undefined;
    try { data = zlib.gunzipSync(fs.readFileSync(gz)); } catch { /* rotated away or corrupt: skip */ }
    if (data) rbuf.append(data, feed);
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
  if (fd === undefined) openNext(); else files.shift();
  /** Reads one batch (a read buffer's worth, or 4096 entries); answers the bytes read, 0 at EOF. */
  const readAvailable = (): number => {
    if (fd === undefined) return 0;
    let total = 0;
    for (;;) {
      const n = rbuf.read(fd, pos);
      if (n <= 0) break;
      pos += n;
      total += n;
      rbuf.consume(feed);
      if (plain) return total; // the caller writes the runs out between reads
      if (tail >= 0 && pending.length > tail * 2 + 1024) pending = pending.slice(-tail);
      if (tail < 0 && pending.length >= 4096) return total; // let the caller flush in batches
    }
    return total;
  };
  let tsNs = -1n;
  let ts = Buffer.alloc(0);
  const flush = async () => {
    for (const e of pending) {
      const sid: LogStreamId = e.stream === 'stderr' ? 2 : 1;
      if (opts.timestamps) {
        // conmon stamps a whole read's records alike: format each distinct time once
        if (e.timeNs !== tsNs) { tsNs = e.timeNs; ts = Buffer.from(`${dockerTimestamp(e.timeNs)} `, 'latin1'); }
        runs.add(sid, ts, 0, ts.length);
      }
      runs.add(sid, e.data, 0, e.data.length);
    }
    pending = [];
    runs.flush();
    for (let i = 0; i < out.length; i++) {
      if (gone()) break;
      const [sid, data] = out[i]!;
      if (sink.write(sid === 2 ? 'stderr' : 'stdout', data) === false) await drain();
    }
    out.length = 0;
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
      flushPartial();
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
        while (readAvailable() > 0) { /* the old file to its end */ }
        fs.closeSync(fd);
        try { fd = fs.openSync(file, 'r'); pos = 0; } catch { fd = undefined; }
      }
    };
    try { watcher = fs.watch(file, kick); watcher.on('error', () => undefined); } catch { watcher = undefined; }
    try {
      while (!gone()) {
        openIfNeeded();
        while (readAvailable() > 0 && !gone()) await flush();
        await flush();
        if (gone()) break;
        if (stopped) {
          // Drain what conmon wrote before exiting, then stop.
          while (readAvailable() > 0 && !gone()) await flush();
          flushPartial();
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
