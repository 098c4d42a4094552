/**
 * Phase timings for performance work: with BERTH_TRACE=1 in berthd's environment, a traced operation
 * prints one line to stderr, e.g. `trace start 1a2b3c: mount 1.2 net 18.0 spec 0.9 create 31.2 = 60.1 ms`.
 * Off by default, and then costs one property read per mark.
 */
const enabled = process.env.BERTH_TRACE === '1';

export interface Trace {
  mark(phase: string): void;
  end(): void;
}

const noop: Trace = { mark() {}, end() {} };

export function trace(what: string): Trace {
  if (!enabled) return noop;
  const t0 = performance.now();
  let last = t0;
  const parts: string[] = [];
  return {
    mark(phase) { const now = performance.now(); parts.push(`${phase} ${(now - last).toFixed(1)}`); last = now; },
    end() { process.stderr.write(`trace ${what}: ${parts.join(' ')} = ${(performance.now() - t0).toFixed(1)} ms\n`); },
  };
}
