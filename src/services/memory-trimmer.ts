/**
 * Gives glibc's free heap pages back to the kernel once a burst of work is over. A 100 MB `docker logs` or an
 * attached run leaves berthd's main malloc arena (the brk heap) ~30-40 MB larger, all of it free but kept
 * by glibc because live allocations sit above it; malloc_trim(0) returns those pages (measured: 118 → 87 MB
 * RSS after a benchmark run, 2-3 ms of blocked loop; docs/performance.md "Memory"). It runs only after RSS
 * grew by `growthBytes` since the last trim and then held still for one tick, so an idle berthd never trims
 * and a busy one does not trim mid-burst.
 */
export interface MemoryTrimmerOptions {
  everyMs: number;
  growthBytes: number;
  /** growth between two ticks below this counts as "held still" */
  quietBytes: number;
}

export class MemoryTrimmer {
  private base: number;
  private previous: number;
  private pending = false;
  private timer: NodeJS.Timeout | undefined;
  private readonly o: MemoryTrimmerOptions;

  constructor(
    private readonly trim: () => void,
    private readonly rss: () => number = () => process.memoryUsage.rss(),
    o: Partial<MemoryTrimmerOptions> = {},
  ) {
    this.o = { everyMs: 5000, growthBytes: 8 << 20, quietBytes: 1 << 20, ...o };
    this.base = this.previous = this.rss();
  }

  start(): void {
    this.timer ??= setInterval(() => this.tick(), this.o.everyMs);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  /** One look at RSS; true when it trimmed. */
  tick(): boolean {
    const now = this.rss();
    const grew = now - this.previous;
    this.previous = now;
    if (now >= this.base + this.o.growthBytes) this.pending = true;
    if (!this.pending || grew > this.o.quietBytes) return false;
    this.trim();
    this.base = this.previous = this.rss();
    this.pending = false;
    return true;
  }
}
