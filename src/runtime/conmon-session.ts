import fs from 'node:fs';
import { lazyCjs } from '../sys/cjs.js';
import type { SeqpacketSocket as SeqpacketSocketType } from 'node-unix-socket';
import type { AttachConnection } from '../core/attach-connection.js';

/**
 * What a container's conmon and an exec's conmon have in common (CONMON.md §3, §5, §6): the attach socket
 * in a session dir, the sync file conmon reports through, its pid file, its oci-log, killing it. Used by
 * conmon-runtime.ts (containers) and conmon-exec.ts (exec sessions), which differ only in what they wait for.
 */

// CommonJS packages through require(), loaded at the first attach: see src/sys/cjs.ts.
const unixSocket = lazyCjs<{ SeqpacketSocket: typeof SeqpacketSocketType }>('node-unix-socket');
type SeqpacketSocket = SeqpacketSocketType;

export const DEFAULT_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';
const O_PATH = 0o10000000;
/** conmon reads each stdin record into a 32 KiB buffer and drops the rest (CONMON.md §3). */
const STDIN_CHUNK = 32 * 1024;

/** Alive = exists, is not a zombie, and its comm matches (pid reuse). Zombie conmons linger ~2 s. */
export function processAlive(pid: number, comm?: string): boolean {
  let stat: string;
  try { stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8'); } catch { return false; }
  const open = stat.indexOf('(');
  const close = stat.lastIndexOf(')');
  if (comm !== undefined && stat.slice(open + 1, close) !== comm) return false;
  const state = stat.slice(close + 2, close + 3);
  return state !== 'Z' && state !== 'X' && state !== '';
}

/** The pid in a conmon.pid file; undefined while it is not written (or not a pid). */
export function readPidFile(file: string): number | undefined {
  try {
    const pid = Number.parseInt(fs.readFileSync(file, 'utf8').trim(), 10);
    return Number.isInteger(pid) && pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
}

/** SIGKILL a conmon and wait (up to 1 s) until it is gone; nothing when it is not running. */
export async function killConmonPid(pid: number | undefined): Promise<void> {
  if (pid === undefined || !processAlive(pid, 'conmon')) return;
  try { process.kill(pid, 'SIGKILL'); } catch { return; }
  const deadline = Date.now() + 1000;
  while (processAlive(pid, 'conmon') && Date.now() < deadline) await sleep(5);
}

/** The last error line runc wrote to its JSON log (--log-format=json), at one of `levels`. */
export function ociLogError(file: string, levels: readonly string[]): string | undefined {
  let text: string;
  try { text = fs.readFileSync(file, 'utf8'); } catch { return undefined; }
  let msg: string | undefined;
  for (const line of text.split('\n')) {
    try {
      const j = JSON.parse(line) as { level?: string; msg?: string };
      if (j.level && levels.includes(j.level) && j.msg) msg = j.msg;
    } catch { /* partial line */ }
  }
  return msg;
}

export interface SyncWatch<T> {
  result: Promise<T>;
  /** Ends the wait with `v` (first call wins). */
  settle(v: T): void;
  /** Looks at the file now; true when that ended the wait. */
  recheck(): boolean;
}

/**
 * Waits on conmon's sync file (a regular file, so a daemon that dies cannot EPIPE conmon, CONMON.md §5):
 * `probe` reads it on every change (fs.watch) and every `pollMs`, and answers once it has what is waited
 * for. `tick` runs every `tickEvery` polls to notice a conmon that died without writing.
 */
export function watchSyncFile<T>(file: string, o: {
  probe: (text: string | undefined) => T | undefined;
  pollMs: number;
  tickEvery?: number;
  tick?: () => T | undefined;
  timeoutMs?: number;
  onTimeout?: () => T;
  /** an unref'd poll does not keep berthd's loop alive (exec waits may outlast everything else) */
  unref?: boolean;
}): SyncWatch<T> {
  let resolve!: (v: T) => void;
  const result = new Promise<T>((r) => { resolve = r; });
  let finished = false;
  let watcher: fs.FSWatcher | undefined;
  let timer: NodeJS.Timeout | undefined;
  const settle = (v: T): void => {
    if (finished) return;
    finished = true;
    watcher?.close();
    clearInterval(poll);
    if (timer) clearTimeout(timer);
    resolve(v);
  };
  const recheck = (): boolean => {
    if (finished) return true;
    let text: string | undefined;
    try { text = fs.readFileSync(file, 'utf8'); } catch { text = undefined; }
    const v = o.probe(text);
    if (v !== undefined) settle(v);
    return finished;
  };
  try { watcher = fs.watch(file, () => { recheck(); }); watcher.on('error', () => undefined); } catch { /* polling still works */ }
  let ticks = 0;
  const poll = setInterval(() => {
    if (recheck()) return;
    if (o.tick && ++ticks % (o.tickEvery ?? 1) === 0) {
      const v = o.tick();
      // One more look first: conmon may have written its line just before it went.
      if (v !== undefined && !recheck()) settle(v);
    }
  }, o.pollMs);
  if (o.unref) poll.unref();
  if (o.timeoutMs !== undefined && o.onTimeout) {
    const onTimeout = o.onTimeout;
    timer = setTimeout(() => { if (!recheck()) settle(onTimeout()); }, o.timeoutMs);
  }
  recheck();
  return { result, settle, recheck };
}

/** Connect to <dir>/attach through an O_PATH fd of dir: the path may not fit sun_path (108 bytes, CONMON.md §3). */
export async function connectAttachSocket(dir: string, opts: { queueUntilRead: boolean }): Promise<AttachSocket> {
  const dirFd = fs.openSync(dir, O_PATH);
  const sock = new unixSocket.SeqpacketSocket();
  try {
    await new Promise<void>((resolve, reject) => {
      sock.once('error', reject);
      try {
        sock.connect(`/proc/self/fd/${dirFd}/attach`, () => { sock.off('error', reject); resolve(); });
      } catch (err) { reject(err); }
    });
  } catch (err) {
    sock.destroy();
    throw err;
  } finally {
    fs.closeSync(dirFd);
  }
  return new AttachSocket(sock, opts.queueUntilRead);
}

/** The most one coalesced 'data' carries. */
const COALESCE_MAX = 256 * 1024;
/** A batch handed on less than this long ago means output is streaming: the next one may wait BATCH_WAIT_MS. */
const STREAMING_MS = 5;
const BATCH_WAIT_MS = 2;

/**
 * conmon's attach socket as an AttachConnection: frames are 1 type byte (2 stdout, 3 stderr) + payload;
 * stdin goes in 32 KiB records. With `queueUntilRead` (exec: the process runs while we still wait for its
 * pid), frames that arrive before the first 'data' listener are kept and replayed to it, and so is a close.
 * conmon sends at most 8 KiB per record: while output streams, records of one stream are gathered for up
 * to 2 ms and handed on as one 'data' (up to 256 KiB), so a fast container costs its client one write and
 * one frame per batch instead of per 8 KiB. Order across streams is kept (a batch ends where the other
 * stream's output begins) and a close comes after the last batch.
 */
export class AttachSocket implements AttachConnection {
  private closed = false;
  private closeCbs: (() => void)[] = [];
  private dataCbs: ((stream: 1 | 2, data: Buffer) => void)[] = [];
  private queued: [1 | 2, Buffer][] = [];
  private batch: Buffer[] = [];
  private batchStream: 1 | 2 = 1;
  private batchBytes = 0;
  /** cancels the pending flush of `batch` */
  private batchTimer: (() => void) | undefined;
  private lastFlush = -Infinity;
  private readonly flushLater = () => { this.batchTimer = undefined; this.flushBatch(); };
  private destroyed = false;
  /** stdin records node-unix-socket still queues (conmon stopped reading: the container's stdin is full) */
  private pendingWrites = 0;
  private drainCbs: (() => void)[] = [];
  /** inside node-unix-socket's 'data' callback: it panics (aborting berthd) if destroyed from there */
  private dispatching = false;

  constructor(private readonly sock: SeqpacketSocket, private readonly queueUntilRead: boolean) {
    sock.on('error', () => this.fireClose());
    sock.on('close', () => this.fireClose());
    sock.on('end', () => this.fireClose());
    sock.on('data', (buf: Buffer) => {
      if (buf.length < 1 || this.destroyed) return;
      const stream = buf[0] === 2 ? 1 : buf[0] === 3 ? 2 : 0;
      if (stream === 0) return;
      if (this.dataCbs.length === 0) {
        if (this.queueUntilRead) this.queued.push([stream, Buffer.from(buf.subarray(1))]);
        return;
      }
      if (stream !== this.batchStream) {
        this.flushBatch();
        if (this.destroyed) return;
      }
      this.batchStream = stream;
      this.batch.push(buf.subarray(1));
      this.batchBytes += buf.length - 1;
      if (this.batchBytes >= COALESCE_MAX) this.flushBatch();
      else if (!this.batchTimer) {
        // node-unix-socket hands over about one record per turn of the loop: while output streams
        // (the last batch left moments ago) wait a little for more; a lone record (a keystroke's echo)
        // goes on the next turn
        const streaming = performance.now() - this.lastFlush < STREAMING_MS;
        if (streaming) {
          const t = setTimeout(this.flushLater, BATCH_WAIT_MS);
          this.batchTimer = () => clearTimeout(t);
        } else {
          const t = setImmediate(this.flushLater);
          this.batchTimer = () => clearImmediate(t);
        }
      }
    });
  }

  private flushBatch(): void {
    this.batchTimer?.();
    this.batchTimer = undefined;
    if (this.batch.length === 0) return;
    this.lastFlush = performance.now();
    const data = this.batch.length === 1 ? this.batch[0]! : Buffer.concat(this.batch, this.batchBytes);
    this.batch = [];
    this.batchBytes = 0;
    // maybe called from node-unix-socket's 'data' or 'end': a callback that destroys us must not
    // destroy the native socket from there (destroy defers it)
    const outer = this.dispatching;
    this.dispatching = true;
    try {
      for (const cb of this.dataCbs) cb(this.batchStream, data);
    } finally {
      this.dispatching = outer;
    }
  }

  private fireClose(): void {
    if (this.closed) return;
    this.closed = true;
    for (const cb of this.drainCbs.splice(0)) cb();
    this.flushBatch(); // output before the close goes first
    if (this.dataCbs.length === 0 && this.queued.length > 0) return; // replayed once a reader comes
    for (const cb of this.closeCbs.splice(0)) cb();
  }

  on(ev: 'data', cb: (stream: 1 | 2, data: Buffer) => void): void;
  on(ev: 'close', cb: () => void): void;
  on(ev: 'data' | 'close', cb: ((stream: 1 | 2, data: Buffer) => void) | (() => void)): void {
    if (ev === 'close') {
      if (this.closed && (this.queued.length === 0 || this.dataCbs.length > 0)) { queueMicrotask(cb as () => void); return; }
      this.closeCbs.push(cb as () => void);
      return;
    }
    this.dataCbs.push(cb as (stream: 1 | 2, data: Buffer) => void);
    if (this.dataCbs.length === 1 && this.queued.length > 0) {
      const q = this.queued.splice(0);
      for (const [s, d] of q) for (const c of this.dataCbs) c(s, d);
      if (this.closed) for (const c of this.closeCbs.splice(0)) c();
    }
  }

  write(data: Buffer): boolean {
    if (this.closed) return true;
    for (let off = 0; off < data.length; off += STDIN_CHUNK) {
      const rec = data.subarray(off, Math.min(off + STDIN_CHUNK, data.length));
      this.pendingWrites++;
      // called at once when the record went out, later when it had to be queued
      this.sock.write(rec, 0, rec.length, () => {
        if (--this.pendingWrites === 0) for (const cb of this.drainCbs.splice(0)) cb();
      });
    }
    return this.pendingWrites === 0;
  }

  drained(): Promise<void> {
    if (this.pendingWrites === 0 || this.closed) return Promise.resolve();
    return new Promise((resolve) => this.drainCbs.push(resolve));
  }

  end(): void { if (!this.closed) this.sock.end(); }

  destroy(): void {
    if (this.destroyed) return;
    this.destroyed = true;
    this.queued = [];
    this.batch = [];
    this.batchBytes = 0;
    // A client dropped for falling behind is dropped from within our own 'data' callback.
    if (this.dispatching) setImmediate(() => this.sock.destroy()); else this.sock.destroy();
    this.fireClose();
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
