/**
 * A log's bytes gathered into runs: consecutive bytes of one stream, however many records (lines) they
 * came in, leave as one piece. Docker's multiplexed framing allows that (a frame is some of one stream's
 * bytes, not a line), and one frame per run instead of per line is what lets a client like the docker
 * CLI, which writes each frame's payload out with its own write(2), read a log at memory speed.
 *
 * Bytes are copied in as they are added, so the caller may reuse its buffer at once; each run handed
 * to `onRun` is memory nobody writes again (the receiver may keep it). Order across streams is kept: a
 * run ends where the other stream's bytes begin.
 */
import type { LogStreamId } from './k8s-log.js';

/** The largest run (and frame payload): what one slab holds. */
export const RUN_MAX = 256 * 1024;
/** The first slab is small: most logs read are short. Later ones double up to RUN_MAX. */
const FIRST_SLAB = 16 * 1024;

export class StreamRuns {
  private slab: Buffer | undefined;
  private used = 0;
  private runStart = 0;
  private stream: LogStreamId | 0 = 0;
  private nextSlab: number;

  constructor(private readonly onRun: (stream: LogStreamId, data: Buffer) => void, private readonly max = RUN_MAX) {
    this.nextSlab = Math.min(FIRST_SLAB, max);
  }

  /** Appends src[from, to) to `stream`'s run. */
  add(stream: LogStreamId, src: Buffer, from: number, to: number): void {
    if (stream !== this.stream) {
      this.flush();
      this.stream = stream;
    }
    while (from < to) {
      let slab = this.slab;
      if (!slab || this.used === slab.length) {
        this.flush();
        slab = this.slab = Buffer.allocUnsafeSlow(this.nextSlab);
        this.nextSlab = Math.min(this.max, this.nextSlab * 2);
        this.used = this.runStart = 0;
      }
      const n = Math.min(to - from, slab.length - this.used);
      if (n <= 32) {
        // Buffer#copy costs a typed-array view per call: short pieces (a timestamp, a short line) go by hand.
        let u = this.used;
        for (let i = from; i < from + n; i++) slab[u++] = src[i]!;
      } else src.copy(slab, this.used, from, from + n);
      this.used += n;
      from += n;
    }
  }

  /** Hands out the run gathered so far, if any (end of a batch, or before waiting). */
  flush(): void {
    if (this.used > this.runStart && this.stream !== 0) {
      const data = this.slab!.subarray(this.runStart, this.used);
      this.runStart = this.used;
      this.onRun(this.stream, data);
    }
  }
}
