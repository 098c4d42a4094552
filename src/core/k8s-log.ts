/**
 * conmon's k8s-file log format: `<RFC3339Nano> <stdout|stderr> <F|P> <bytes>\n`.
 * `P` marks a partial record (no newline yet in the container's output); readers join
 * consecutive P records of the same stream up to the next F.
 */
import { formatGoTime, utcGoTime } from './go-time.js';

export interface LogEntry {
  /** nanoseconds since the epoch, as a bigint to keep the ordering exact */
  timeNs: bigint;
  /** the timestamp text as written */
  time: string;
  stream: 'stdout' | 'stderr';
  /** the bytes the container wrote, including the trailing newline for full lines */
  data: Buffer;
}

export function parseTimeNs(text: string): bigint {
  // 2026-11-22T20:01:00.580151849+00:00 (conmon always writes a numeric offset)
  const m = /^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})(?:\.(\d{1,9}))?(Z|[+-]\d{2}:\d{2})$/.exec(text);
  if (!m) return -1n;
  const ms = Date.parse(`${m[1]}${m[3] === 'Z' ? 'Z' : m[3]}`);
  const frac = (m[2] ?? '').padEnd(9, '0');
  return BigInt(ms) * 1_000_000n + BigInt(frac);
}

/**
 * Stateful parser: feed raw file bytes, receive complete entries (partials joined).
 * Entries' `data` may be views into the pushed chunks: callers must not reuse a chunk's memory.
 * Hot path (logs at disk speed): fields are found by byte, the timestamp text is parsed once per
 * distinct value.
 */
export class K8sLogParser {
  private rest: Buffer = Buffer.alloc(0);
  private partial: { stream: 'stdout' | 'stderr'; parts: Buffer[]; time: string; timeNs: bigint } | undefined;
  private lastTimeText = '';
  private lastTimeNs = -1n;

  constructor(private readonly onEntry: (e: LogEntry) => void) {}

  push(chunk: Buffer): void {
    let buf = this.rest.length ? Buffer.concat([this.rest, chunk]) : chunk;
    let start = 0;
    let nl: number;
    while ((nl = buf.indexOf(0x0a, start)) >= 0) {
      this.line(buf, start, nl);
      start = nl + 1;
    }
    this.rest = start < buf.length ? Buffer.from(buf.subarray(start)) : Buffer.alloc(0);
  }

  private time(text: string): bigint {
    if (text !== this.lastTimeText) {
      this.lastTimeText = text;
      this.lastTimeNs = parseTimeNs(text);
    }
    return this.lastTimeNs;
  }

  /** One record: buf[from, nl) with buf[nl] the newline. */
  private line(buf: Buffer, from: number, nl: number): void {
    const s1 = buf.indexOf(0x20, from);
    if (s1 < 0 || s1 > nl) return;
    const s2 = buf.indexOf(0x20, s1 + 1);
    if (s2 < 0 || s2 > nl) return;
    const s3 = buf.indexOf(0x20, s2 + 1);
    if (s3 < 0 || s3 > nl) return; // not a record we understand
    const stream = s2 - s1 - 1 === 6 && buf[s1 + 4] === 0x65 /* e: stderr */ ? 'stderr' : 'stdout';
    const partialTag = buf[s2 + 1] === 0x50; /* P */
    const time = buf.toString('latin1', from, s1);
    if (partialTag) {
      const data = buf.subarray(s3 + 1, nl);
      if (this.partial && this.partial.stream === stream) this.partial.parts.push(data);
      else {
        this.flushPartial();
        this.partial = { stream, parts: [data], time, timeNs: this.time(time) };
      }
      return;
    }
    // A full record's data and its newline are contiguous in the file.
    const data = buf.subarray(s3 + 1, nl + 1);
    if (this.partial && this.partial.stream === stream) {
      const p = this.partial;
      this.partial = undefined;
      this.onEntry({ timeNs: p.timeNs, time: p.time, stream, data: Buffer.concat([...p.parts, data]) });
      return;
    }
    this.flushPartial();
    this.onEntry({ timeNs: this.time(time), time, stream, data });
  }

  /** Emit a pending partial record as is (at EOF of a finished container). */
  flushPartial(): void {
    if (!this.partial) return;
    const p = this.partial;
    this.partial = undefined;
    this.onEntry({ timeNs: p.timeNs, time: p.time, stream: p.stream, data: Buffer.concat(p.parts) });
  }
}

/** Docker's --timestamps format: RFC3339Nano in UTC with trailing zeros trimmed ("2026-11-22T20:01:00.58015184Z"). */
export function dockerTimestamp(timeNs: bigint): string {
  return formatGoTime(utcGoTime(timeNs), 'RFC3339Nano');
}
