import fs from 'node:fs';
import path from 'node:path';
import { SeqpacketSocket, type SeqpacketHandlers } from '../sys/seqpacket.js';
import type { AttachConnection } from '../core/attach-connection.js';

/**
 * What a container's conmon and an exec's conmon have in common (CONMON.md §3, §5, §6): the attach socket
 * in a session dir, the sync file conmon reports through, its pid file, its oci-log, killing it. Used by
 * conmon-runtime.ts (containers) and conmon-exec.ts (exec sessions), which differ only in what they wait for.
 */

export const DEFAULT_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';
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

export interface AttachOptions {
  /** exec: output that comes before the first 'data' listener is kept (bounded) and replayed to it */
  queueUntilRead: boolean;
  /**
   * The file holding the pid of the process whose output this is (the container's init, the exec's
   * process). While reading is paused it is watched: once that process has exited, reading resumes for
   * good, so conmon, blocked on us, can go on and report the exit.
   */
  pidFile?: string;
}

/** Connect to <dir>/attach (a path longer than sun_path is reached through an O_PATH fd of dir, CONMON.md §3). */
export async function connectAttachSocket(dir: string, opts: AttachOptions): Promise<AttachSocket> {
  const file = path.join(dir, 'attach');
  return new AttachSocket((handlers) => SeqpacketSocket.connect(file, handlers, READ_BUDGET), opts);
}

/** What AttachSocket uses of a SeqpacketSocket (unit tests give a fake). */
export type AttachTransport = Pick<SeqpacketSocket, 'start' | 'stop' | 'write' | 'shutdown' | 'close'>;

/** The most one readable event hands over (and so the most one 'data' carries). */
const READ_BUDGET = 128 * 1024;
/** exec output kept before its reader comes: past this, reading pauses until it does */
const QUEUE_MAX = 256 * 1024;
/** how often a paused socket looks whether its process has exited */
const EXIT_POLL_MS = 100;

/**
 * conmon's attach socket as an AttachConnection: frames are 1 type byte (2 stdout, 3 stderr) + payload;
 * stdin goes in 32 KiB records.
 *
 * Backpressure: pause() stops reading the socket, so conmon's write to it blocks and with it the
 * container's stdout (conmon accepts attach clients as blocking sockets and writes each record to each
 * client in turn: the slowest client holds the stream back, as Docker's broadcaster does). A paused
 * reader must not outlive its process: conmon, blocked in that write, would never notice the exit
 * (no exit file, so stop, kill, rm -f and auto-remove would wait forever). So while paused, the
 * process's pid is watched; once it has exited the socket reads to the end whatever pause() says
 * (what is left is bounded: the pipe's content and conmon's buffer).
 *
 * Records of one readable event (at most READ_BUDGET bytes) are handed on as one 'data' per run of
 * a stream, so a fast container costs its client one write per batch, not per 8 KiB record; order
 * across streams is kept and a close comes after the last 'data'. With `queueUntilRead`, frames that
 * arrive before the first 'data' listener are kept and replayed to it, and so is a close.
 */
export class AttachSocket implements AttachConnection {
  private readonly sock: AttachTransport;
  private closed = false;
  private destroyed = false;
  private closeCbs: (() => void)[] = [];
  private dataCbs: ((stream: 1 | 2, data: Buffer) => void)[] = [];
  private queued: [1 | 2, Buffer][] = [];
  private queuedBytes = 0;
  /** the consumer asked us to stop reading (its client is full) */
  private paused = false;
  /** the process has exited: read to the end, pause or not */
  private released = false;
  private reading = false;
  private exitPoll: NodeJS.Timeout | undefined;
  private pid: number | undefined;
  /** stdin records the native socket still queues (the container is not reading its stdin) */
  private writesQueued = false;
  private drainCbs: (() => void)[] = [];

  constructor(connect: (handlers: SeqpacketHandlers) => AttachTransport, private readonly opts: AttachOptions) {
    this.sock = connect({
      records: (recs) => this.onRecords(recs),
      end: () => this.fireClose(),
      error: () => this.fireClose(),
      drain: () => { this.writesQueued = false; for (const cb of this.drainCbs.splice(0)) cb(); },
    });
    this.update();
  }

  private onRecords(recs: Buffer[]): void {
    let run: Buffer[] = [];
    let runStream: 1 | 2 = 1;
    const flush = () => {
      if (run.length === 0) return;
      const data = run.length === 1 ? run[0]! : Buffer.concat(run);
      run = [];
      this.deliver(runStream, data);
    };
    for (const rec of recs) {
      const stream = rec[0] === 2 ? 1 : rec[0] === 3 ? 2 : 0;
      if (stream === 0 || rec.length < 2) continue;
      if (stream !== runStream) flush();
      runStream = stream;
      run.push(rec.subarray(1));
    }
    flush();
  }

  private deliver(stream: 1 | 2, data: Buffer): void {
    if (this.destroyed) return;
    if (this.dataCbs.length === 0) {
      if (!this.opts.queueUntilRead) return;
      this.queued.push([stream, data]);
      this.queuedBytes += data.length;
      if (this.queuedBytes >= QUEUE_MAX) this.update();
      return;
    }
    for (const cb of this.dataCbs) cb(stream, data);
  }

  /** Reads or not, as pause(), the exec queue and the process's exit say; watches the pid while not. */
  private update(): void {
    if (this.closed) return;
    const want = this.released || (!this.paused && this.queuedBytes < QUEUE_MAX);
    if (want !== this.reading) {
      this.reading = want;
      if (want) this.sock.start(); else this.sock.stop();
    }
    if (!want && !this.exitPoll && this.opts.pidFile) {
      this.exitPoll = setInterval(() => this.checkExit(), EXIT_POLL_MS);
      this.exitPoll.unref();
    } else if (want && this.exitPoll) {
      clearInterval(this.exitPoll);
      this.exitPoll = undefined;
    }
  }

  private checkExit(): void {
    this.pid ??= readPidFile(this.opts.pidFile!);
    if (this.pid === undefined || processAlive(this.pid)) return;
    this.released = true;
    this.update();
  }

  private fireClose(): void {
    if (this.closed) return;
    this.closed = true;
    if (this.exitPoll) clearInterval(this.exitPoll);
    this.exitPoll = undefined;
    this.sock.close();
    for (const cb of this.drainCbs.splice(0)) cb();
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
      this.queuedBytes = 0;
      for (const [s, d] of q) for (const c of this.dataCbs) c(s, d);
      if (this.closed) for (const c of this.closeCbs.splice(0)) c();
      else this.update();
    }
  }

  pause(): void {
    if (this.paused) return;
    this.paused = true;
    this.update();
  }

  resume(): void {
    if (!this.paused) return;
    this.paused = false;
    this.update();
  }

  write(data: Buffer): boolean {
    if (this.closed) return true;
    for (let off = 0; off < data.length; off += STDIN_CHUNK) {
      const rec = data.subarray(off, Math.min(off + STDIN_CHUNK, data.length));
      try {
        if (!this.sock.write(rec)) this.writesQueued = true;
      } catch {
        this.fireClose();
        return true;
      }
    }
    return !this.writesQueued;
  }

  drained(): Promise<void> {
    if (!this.writesQueued || this.closed) return Promise.resolve();
    return new Promise((resolve) => this.drainCbs.push(resolve));
  }

  end(): void { if (!this.closed) this.sock.shutdown(); }

  destroy(): void {
    if (this.destroyed) return;
    this.destroyed = true;
    this.queued = [];
    this.queuedBytes = 0;
    this.fireClose();
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
