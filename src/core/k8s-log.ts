/**
 * conmon's k8s-file log format: `<RFC3339Nano> <stdout|stderr> <F|P> <bytes>\n`.
 * `P` marks a partial record (no newline yet in the container's output); readers join
 * consecutive P records of the same stream up to the next F.
 */
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

/** Stateful parser: feed raw file bytes, receive complete entries (partials joined). */
export class K8sLogParser {
  private rest: Buffer = Buffer.alloc(0);
  private partial: { stream: 'stdout' | 'stderr'; parts: Buffer[]; time: string; timeNs: bigint } | undefined;

  constructor(private readonly onEntry: (e: LogEntry) => void) {}

  push(chunk: Buffer): void {
    let buf = this.rest.length ? Buffer.concat([this.rest, chunk]) : chunk;
    let nl: number;
    while ((nl = buf.indexOf(0x0a)) >= 0) {
      this.line(buf.subarray(0, nl));
      buf = buf.subarray(nl + 1);
    }
    this.rest = Buffer.from(buf);
  }

  private line(line: Buffer): void {
    const s1 = line.indexOf(0x20);
    const s2 = s1 < 0 ? -1 : line.indexOf(0x20, s1 + 1);
    const s3 = s2 < 0 ? -1 : line.indexOf(0x20, s2 + 1);
    if (s3 < 0) return; // not a record we understand
    const time = line.subarray(0, s1).toString();
    const stream = line.subarray(s1 + 1, s2).toString() === 'stderr' ? 'stderr' : 'stdout';
    const tag = line.subarray(s2 + 1, s3).toString();
    const data = line.subarray(s3 + 1);
    const timeNs = parseTimeNs(time);
    if (tag.startsWith('P')) {
      if (this.partial && this.partial.stream === stream) this.partial.parts.push(Buffer.from(data));
      else {
        this.flushPartial();
        this.partial = { stream, parts: [Buffer.from(data)], time, timeNs };
      }
      return;
    }
    if (this.partial && this.partial.stream === stream) {
      const p = this.partial;
      this.partial = undefined;
      this.onEntry({ timeNs: p.timeNs, time: p.time, stream, data: Buffer.concat([...p.parts, data, Buffer.from('\n')]) });
      return;
    }
    this.flushPartial();
    this.onEntry({ timeNs, time, stream, data: Buffer.concat([data, Buffer.from('\n')]) });
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
  const ms = Number(timeNs / 1_000_000n);
  const iso = new Date(ms).toISOString().slice(0, 19);
  const frac = (timeNs % 1_000_000_000n).toString().padStart(9, '0').replace(/0+$/, '');
  return `${iso}${frac ? `.${frac}` : ''}Z`;
}
