import { execFileSync } from 'node:child_process';
/**
 * The client side of a hijacked attach/exec connection, shaped like docker's hijackedIOStreamer:
 * output is copied raw (tty) or demultiplexed; stdin is forwarded and half-closed on EOF so the
 * process sees EOF; with a tty the local terminal goes raw and the detach sequence is watched for
 * on the client too (docker's escape proxy), so a detach needs no help from the daemon.
 * Also: the terminal-size monitor used by run/start/attach/exec -t.
 */
import type { Readable, Writable } from 'node:stream';
import { STDERR, STDOUT, demux, type Hijacked } from '../client/engine-client.js';

export const DEFAULT_DETACH_KEYS: Buffer = Buffer.from([16, 17]); // ctrl-p, ctrl-q

/** moby/term ToBytes: "ctrl-p,ctrl-q", "a,ctrl-@", "DEL" → key codes. */
export function detachKeyBytes(keys: string): Buffer {
  const codes: number[] = [];
  for (const key of keys.split(',')) {
    if (key.length === 1) { codes.push(key.charCodeAt(0)); continue; }
    if (key === 'DEL') { codes.push(127); continue; }
    const m = /^ctrl-(.)$/.exec(key);
    const c = m ? '@abcdefghijklmnopqrstuvwxyz[\\]^_'.indexOf(m[1]!) : -1;
    if (c < 0) throw new Error(`Unknown character: '${key}'`);
    codes.push(c);
  }
  return Buffer.from(codes);
}

/**
 * moby/term's EscapeProxy as a push filter: bytes that could start the escape sequence are held
 * back until the sequence either completes (→ detached, never sent) or breaks (→ sent late).
 */
export class EscapeFilter {
  private held = 0;
  constructor(private readonly keys: Buffer) {}

  /** Returns the bytes to forward and whether the full sequence was typed. */
  push(chunk: Buffer): { data: Buffer; detached: boolean } {
    const out: number[] = [];
    for (const b of chunk) {
      if (b === this.keys[this.held]) {
        this.held++;
        if (this.held === this.keys.length) return { data: Buffer.from(out), detached: true };
        continue;
      }
      // a broken sequence: flush what was held, then look at this byte afresh
      for (let i = 0; i < this.held; i++) out.push(this.keys[i]!);
      this.held = 0;
      if (b === this.keys[0]) { this.held = 1; if (this.keys.length === 1) return { data: Buffer.from(out), detached: true }; continue; }
      out.push(b);
    }
    return { data: Buffer.from(out), detached: false };
  }
}

type TtyIn = Readable & { isTTY?: boolean; setRawMode?: (on: boolean) => unknown };
type TtyOut = Writable & { isTTY?: boolean; rows?: number; columns?: number };

export function isTerminal(s: Readable | Writable): boolean {
  return Boolean((s as TtyIn).isTTY);
}

export interface StreamOptions {
  tty: boolean;
  /** forwarded to the connection when set (the caller decides, as docker does, from -i/OpenStdin) */
  stdin: Readable | null;
  stdout: Writable | null;
  stderr: Writable | null;
  detachKeys?: string;
  /** where a bad --detach-keys is reported */
  warn: (msg: string) => void;
}

/** 'eof': the daemon ended the output; 'detached': the detach sequence was typed here. */
export type StreamEnd = 'eof' | 'detached';

export interface HijackSession {
  done: Promise<StreamEnd>;
  /** restores the terminal and stops reading stdin; idempotent */
  restore(): void;
  /** restore() and drop the connection */
  close(): void;
}

const RESTORE_SIGNALS: NodeJS.Signals[] = ['SIGTERM', 'SIGHUP'];

export function streamHijacked(h: Hijacked, o: StreamOptions): HijackSession {
  const sock = h.socket;
  const stdin = o.stdin as TtyIn | null;
  let raw = false;
  let restored = false;
  let filter: EscapeFilter | null = null;

  const onSignal = (sig: NodeJS.Signals) => {
    restore();
    process.exit(128 + (sig === 'SIGHUP' ? 1 : 15));
  };
  const onExit = () => { if (raw) stdin?.setRawMode?.(false); };

  if (stdin && o.tty) {
    if (stdin.isTTY && stdin.setRawMode) {
      stdin.setRawMode(true);
      raw = true;
      // libuv's raw mode keeps output post-processing (ONLCR), which turns the container's \r\n into
      // \r\r\n; docker's raw mode turns it off. setRawMode(false) restores the saved termios.
      if (stdin === (process.stdin as unknown)) {
        try { execFileSync('stty', ['-opost'], { stdio: ['inherit', 'ignore', 'ignore'] }); } catch { /* cosmetic */ }
      }
      // whatever ends the process, the user's terminal must not stay raw
      process.once('exit', onExit);
      for (const s of RESTORE_SIGNALS) if (process.listenerCount(s) === 0) process.on(s, onSignal);
    }
    let keys: Buffer = DEFAULT_DETACH_KEYS;
    if (o.detachKeys) {
      try {
        keys = detachKeyBytes(o.detachKeys);
      } catch (e) {
        o.warn(`invalid detach escape keys, using default: ${(e as Error).message}`);
      }
    }
    filter = new EscapeFilter(keys);
  }

  const onData = (c: Buffer) => {
    let data = c;
    if (filter) {
      const r = filter.push(c);
      data = r.data;
      if (r.detached) {
        if (data.length) writeSock(data);
        restore();
        finish('detached');
        return;
      }
    }
    if (data.length) writeSock(data);
  };
  const onEnd = () => {
    // docker's CloseWrite: the process in the container reads EOF
    const s = sock as { end?: () => void; writable?: boolean };
    if (s.writable !== false) s.end?.();
  };
  const writeSock = (b: Buffer) => {
    const s = sock as { write?: (b: Buffer) => boolean; writable?: boolean };
    if (s.write && s.writable !== false) s.write(b);
  };

  function restore(): void {
    if (restored) return;
    restored = true;
    if (stdin) {
      stdin.off('data', onData);
      stdin.off('end', onEnd);
      stdin.pause();
    }
    if (raw) {
      stdin!.setRawMode!(false);
      process.off('exit', onExit);
      for (const s of RESTORE_SIGNALS) process.off(s, onSignal);
    }
  }

  let finish!: (e: StreamEnd) => void;
  const done = new Promise<StreamEnd>((resolve) => {
    let settled = false;
    finish = (e) => { if (!settled) { settled = true; resolve(e); } };
  });

  if (stdin) {
    stdin.on('data', onData);
    stdin.on('end', onEnd);
    stdin.resume();
  }

  const out = o.stdout;
  const err = o.stderr;
  if (o.tty || h.contentType.includes('raw-stream')) {
    if (h.head.length) out?.write(h.head);
    sock.on('data', (c: Buffer) => { out?.write(c); });
    const ended = () => { restore(); finish('eof'); };
    sock.on('end', ended);
    sock.on('close', ended);
    sock.on('error', ended);
  } else {
    demux(sock, (type, payload) => {
      if (type === STDOUT) out?.write(payload);
      else if (type === STDERR) err?.write(payload);
      else (err ?? out)?.write(payload);
    }, h.head).catch(() => undefined).then(() => { restore(); finish('eof'); });
  }

  return {
    done,
    restore,
    close() {
      restore();
      sock.destroy();
    },
  };
}

/**
 * docker's MonitorTtySize: send the terminal size now (retrying briefly: the process may not have
 * its pty yet) and again whenever the terminal is resized. `bump` first sends h+1/w+1 so a program
 * that is already running redraws (docker does this for attach). Returns a stop function.
 */
export function monitorTtySize(out: Writable, resize: (h: number, w: number) => Promise<void>, warn: (msg: string) => void, bump = false): () => void {
  const t = out as TtyOut & { on: (e: string, f: () => void) => void; off: (e: string, f: () => void) => void };
  const size = (): [number, number] => [t.rows ?? 0, t.columns ?? 0];
  const send = (h: number, w: number) => (h === 0 && w === 0 ? Promise.resolve() : resize(h, w));
  let stopped = false;
  const initial = async () => {
    const [h, w] = size();
    if (bump) await send(h + 1, w + 1).catch(() => undefined);
    for (let attempt = 0; attempt <= 10 && !stopped; attempt++) {
      try {
        await send(...size());
        return;
      } catch {
        if (attempt === 10) break;
        await new Promise((r) => setTimeout(r, (attempt + 1) * 10));
      }
    }
    if (!stopped) warn('failed to resize tty, using default size');
  };
  void initial();
  // node turns SIGWINCH into 'resize' on a tty stdout
  const onResize = () => { void send(...size()).catch(() => undefined); };
  t.on('resize', onResize);
  return () => { stopped = true; t.off('resize', onResize); };
}

/** docker's In.CheckTty. */
export function checkTty(stdin: Readable, attachStdin: boolean, tty: boolean): void {
  if (tty && attachStdin && !isTerminal(stdin)) throw new Error('the input device is not a TTY');
}

export type AttachOutcome = { detached: true } | { detached: false; status: number };

/**
 * After start/attach: what ended first, the stream or the container. A detach typed here is
 * certain; when stdin was attached and the daemon closed the stream (it watches for the detach
 * keys too) while the container still runs, that is a detach as well: docker prints nothing and
 * exits 0. Otherwise the container's exit status once the wait answers.
 */
export async function exitOrDetach(
  end: Promise<StreamEnd>, status: Promise<number>, stdinAttached: boolean, isRunning: () => Promise<boolean>, graceMs = 300,
): Promise<AttachOutcome> {
  const first = await Promise.race([
    end.then((e) => ({ kind: e })),
    status.then((s) => ({ kind: 'exit' as const, s }), () => ({ kind: 'exit' as const, s: undefined })),
  ]);
  if (first.kind === 'detached') return { detached: true };
  if (first.kind === 'eof' && stdinAttached) {
    // the exit and the end of the stream arrive close together: give the wait a moment first
    const timer = new Promise<undefined>((r) => setTimeout(() => r(undefined), graceMs).unref());
    const s = await Promise.race([status.catch(() => undefined), timer]);
    if (s === undefined && await isRunning().catch(() => false)) return { detached: true };
  } else if (first.kind === 'exit') {
    // let the last output drain; the daemon ends the stream when the process is gone
    await Promise.race([end, new Promise((r) => setTimeout(r, 2000).unref())]);
  }
  return { detached: false, status: await status };
}
