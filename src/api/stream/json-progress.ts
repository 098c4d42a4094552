import type { Writable } from 'node:stream';
import { humanSize } from '../../core/human.js';
import { errorMessage } from '../../errors.js';
import { drained } from './drained.js';

/**
 * The JSON-message stream of pull, push, import and load (moby's streamformatter): one JSON object per
 * line, "\r\n" separated, which the docker CLI's jsonmessage draws as per-id lines with progress bars on a
 * terminal (from `progressDetail`) and as plain status lines otherwise (it skips progress lines there).
 *
 * Vocabulary: a *status* line (`{"status","id"?}`) is never dropped; a *progress* line
 * (`{"status","id","progressDetail":{current,total},"progress"}`) is lossy: while the client is not
 * reading, only the newest progress per id is kept and written once the socket drains, so a slow client
 * neither grows our memory nor slows the download. `aux` carries results (push: tag, digest, size);
 * `errorDetail` ends a stream whose status line was already sent.
 */
export interface JsonMessage {
  status?: string;
  id?: string;
  progress?: string;
  progressDetail?: { current?: number; total?: number; units?: string; hidecounts?: boolean };
  aux?: unknown;
  stream?: string;
  errorDetail?: { code?: number; message: string };
  error?: string;
}

export interface JsonProgressOptions {
  /** Called once, before the first byte is written (the route writes its 200 and headers there). */
  begin?: () => void;
  /** Minimum interval between two progress lines of one id (ms); 0 writes every update. Default 100. */
  throttleMs?: number;
  now?: () => number;
}

const BAR_WIDTH = 50;

/**
 * moby's JSONProgress.String at the daemon's width (200, so with the bar): `[=====>      ]    1.2MB/3.4MB`
 * (the bar always ends in `>`, the current size padded to 8 as Go's %8v); without a total the byte count alone.
 */
export function formatProgress(current: number, total?: number): string {
  if (current <= 0 && (total === undefined || total <= 0)) return '';
  if (total === undefined || total <= 0) return humanSize(current).padStart(8);
  const pct = Math.min(BAR_WIDTH, Math.trunc(Math.trunc((current / total) * 100) / 2));
  const bar = `[${'='.repeat(pct)}>${' '.repeat(Math.max(0, BAR_WIDTH - pct))}] `;
  const numbers = current > total ? humanSize(current).padStart(8) : `${humanSize(current).padStart(8)}/${humanSize(total)}`;
  return bar + numbers;
}

export class JsonProgressWriter {
  private begun = false;
  private ended = false;
  /** Progress lines waiting for the socket to drain, newest per id. */
  private readonly pending = new Map<string, JsonMessage>();
  private readonly lastProgress = new Map<string, number>();
  private flushing = false;
  private readonly throttleMs: number;
  private readonly now: () => number;

  constructor(private readonly out: Writable, private readonly opts: JsonProgressOptions = {}) {
    this.throttleMs = opts.throttleMs ?? 100;
    this.now = opts.now ?? Date.now;
  }

  /** Whether anything was written: after that an error can only be reported in-band. */
  get started(): boolean { return this.begun; }

  /** The client went away (or the stream was ended). */
  get closed(): boolean { return this.ended || this.out.destroyed || this.out.writableEnded; }

  private writeLine(msg: JsonMessage): boolean {
    if (!this.begun) { this.begun = true; this.opts.begin?.(); }
    if (this.closed) return true;
    return this.out.write(`${JSON.stringify(msg)}\r\n`);
  }

  /** A status line (never dropped); resolves once the client can take more. */
  async status(status: string, id?: string): Promise<void> {
    if (id !== undefined) { this.pending.delete(id); this.lastProgress.delete(id); }
    await this.send(id === undefined ? { status } : { status, id });
  }

  /** Any message, in order, waiting for drain (errors, aux, stream lines). */
  async send(msg: JsonMessage): Promise<void> {
    if (!this.writeLine(msg)) await drained(this.out);
  }

  /** Results for the client (push writes `{Tag, Digest, Size}`); docker hands them to its aux callback. */
  async aux(value: unknown, status?: string): Promise<void> {
    await this.send(status === undefined ? { aux: value } : { status, aux: value });
  }

  /**
   * A progress update for `id` (lossy, never blocks; '' for a transfer without one, as import's and ADD's).
   * `total` undefined draws a byte counter without a bar. `last` (or current reaching total) is never
   * throttled. The final update of a pull's transfer is followed by a `status` line (`Download complete`).
   */
  progress(id: string, status: string, current: number, total?: number, last = false): void {
    if (this.closed) return;
    const t = this.now();
    const prev = this.lastProgress.get(id);
    const final = last || (total !== undefined && current >= total);
    if (!final && prev !== undefined && t - prev < this.throttleMs) return;
    this.lastProgress.set(id, t);
    // Go's omitempty: zero counts and an empty id or bar are left out.
    const detail: JsonMessage['progressDetail'] = { ...(current ? { current } : {}), ...(total ? { total } : {}) };
    const bar = formatProgress(current, total);
    const msg: JsonMessage = { status, progressDetail: detail, ...(bar ? { progress: bar } : {}), ...(id ? { id } : {}) };
    if (this.out.writableNeedDrain || this.flushing) {
      this.pending.set(id, msg);
      this.flushSoon();
      return;
    }
    this.writeLine(msg);
  }

  private flushSoon(): void {
    if (this.flushing) return;
    this.flushing = true;
    void drained(this.out).then(() => {
      this.flushing = false;
      const msgs = [...this.pending.values()];
      this.pending.clear();
      for (const m of msgs) {
        if (!this.writeLine(m) && this.pending.size === 0) break;
      }
    });
  }

  /** An in-band error (the docker CLI prints it and exits 1). */
  async error(err: unknown): Promise<void> {
    const message = errorMessage(err);
    this.pending.clear();
    await this.send({ errorDetail: { message }, error: message });
  }

  /** Flush what is pending and end the response. */
  async end(): Promise<void> {
    if (this.ended) return;
    for (const m of this.pending.values()) this.writeLine(m);
    this.pending.clear();
    if (!this.begun) { this.begun = true; this.opts.begin?.(); }
    this.ended = true;
    if (!this.out.destroyed && !this.out.writableEnded) this.out.end();
  }
}

/** A writer on an HTTP response: the 200 and its Content-Type go out with the first line. */
export function jsonProgressResponse(res: import('node:http').ServerResponse, opts: Omit<JsonProgressOptions, 'begin'> = {}): JsonProgressWriter {
  return new JsonProgressWriter(res, { ...opts, begin: () => { if (!res.headersSent) res.writeHead(200, { 'Content-Type': 'application/json' }); } });
}
