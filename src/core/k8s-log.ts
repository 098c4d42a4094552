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

/** The streams a record can be on, as Docker's multiplexed framing numbers them. */
export type LogStreamId = 1 | 2;

/**
 * One record, as offsets into the buffer being scanned: valid only during the call. Data of a full
 * record ends after its newline; a partial record's (P) data has none (the newline is conmon's).
 */
export type RecordFn = (buf: Buffer, stream: LogStreamId, partial: boolean, timeFrom: number, timeTo: number, dataFrom: number, dataTo: number) => void;

/**
 * Finds the complete records in buf[from, to) and hands each to `onRecord`, in order, without copying
 * or converting anything. Returns where the first incomplete record starts (to, if none is): the caller
 * keeps those bytes for the next read. Lines that are not records are skipped, as before.
 */
export function scanK8sRecords(buf: Buffer, from: number, to: number, onRecord: RecordFn): number {
  let start = from;
  for (;;) {
    const nl = buf.indexOf(0x0a, start);
    if (nl < 0 || nl >= to) return start;
    // conmon's records have a 35-byte time and a 6-byte stream: check there before searching
    let s1 = start + 35;
    let s2 = s1 + 7;
    let s3 = s2 + 2;
    if (s3 >= nl || buf[s1] !== 0x20 || buf[s2] !== 0x20 || buf[s3] !== 0x20) {
      s1 = buf.indexOf(0x20, start);
      s2 = s1 >= 0 && s1 < nl ? buf.indexOf(0x20, s1 + 1) : -1;
      s3 = s2 >= 0 && s2 < nl ? buf.indexOf(0x20, s2 + 1) : -1;
    }
    if (s3 >= 0 && s3 < nl) {
      const stream: LogStreamId = s2 - s1 - 1 === 6 && buf[s1 + 4] === 0x65 /* e: stderr */ ? 2 : 1;
      const partial = buf[s2 + 1] === 0x50; /* P */
      onRecord(buf, stream, partial, start, s1, s3 + 1, partial ? nl : nl + 1);
    }
    start = nl + 1;
  }
}

/**
 * Stateful parser: feed raw file bytes, receive complete entries (partials joined).
 * Entries' `data` may be views into the pushed chunks: callers must not reuse a chunk's memory.
 * The timestamp text is parsed once per distinct value. (streamLogs' plain path does without entries:
 * scanK8sRecords straight into frames.)
 */
export class K8sLogParser {
  private rest: Buffer = Buffer.alloc(0);
  private partial: { stream: 'stdout' | 'stderr'; parts: Buffer[]; time: string; timeNs: bigint } | undefined;
  private lastTimeText = '';
  private lastTimeNs = -1n;
  private readonly record: RecordFn;

  constructor(private readonly onEntry: (e: LogEntry) => void) {
    this.record = (buf, sid, partialTag, timeFrom, timeTo, dataFrom, dataTo) => {
      const stream = sid === 2 ? 'stderr' : 'stdout';
      const time = buf.toString('latin1', timeFrom, timeTo);
      const data = buf.subarray(dataFrom, dataTo);
      if (partialTag) {
        if (this.partial && this.partial.stream === stream) this.partial.parts.push(data);
        else {
          this.flushPartial();
          this.partial = { stream, parts: [data], time, timeNs: this.time(time) };
        }
        return;
      }
      if (this.partial && this.partial.stream === stream) {
        const p = this.partial;
        this.partial = undefined;
        this.onEntry({ timeNs: p.timeNs, time: p.time, stream, data: Buffer.concat([...p.parts, data]) });
        return;
      }
      this.flushPartial();
      this.onEntry({ timeNs: this.time(time), time, stream, data });
    };
  }

  push(chunk: Buffer): void {
    const buf = this.rest.length ? Buffer.concat([this.rest, chunk]) : chunk;
    const start = scanK8sRecords(buf, 0, buf.length, this.record);
    this.rest = start < buf.length ? Buffer.from(buf.subarray(start)) : Buffer.alloc(0);
  }

  private time(text: string): bigint {
    if (text !== this.lastTimeText) {
      this.lastTimeText = text;
      this.lastTimeNs = parseTimeNs(text);
    }
    return this.lastTimeNs;
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
