import { InvalidParameterError } from '../errors.js';

/**
 * HEALTHCHECK configuration: the Engine API HealthConfig (durations in nanoseconds, 0 = inherit /
 * default), its validation with moby's messages, the image → container merge, and the resolved
 * settings the health monitor runs with. Pure.
 *
 * Test forms: [] or absent = inherit from the image; ["NONE"] = disabled (`--no-healthcheck`);
 * ["CMD", arg...] = exec directly; ["CMD-SHELL", "cmd"] = run with the container's shell.
 */
export interface HealthConfig {
  Test?: string[] | null;
  Interval?: number;
  Timeout?: number;
  StartPeriod?: number;
  StartInterval?: number;
  Retries?: number;
}

/** One probe result as inspect shows it in State.Health.Log. */
export interface HealthLogEntry { Start: string; End: string; ExitCode: number; Output: string }

export type HealthStatus = 'starting' | 'healthy' | 'unhealthy';

/** Inspect's State.Health. */
export interface HealthState { Status: HealthStatus; FailingStreak: number; Log: HealthLogEntry[] }

/** What the monitor runs with, in milliseconds, defaults applied. */
export interface HealthSettings {
  /** the argv to exec in the container */
  cmd: string[];
  intervalMs: number;
  timeoutMs: number;
  startPeriodMs: number;
  startIntervalMs: number;
  retries: number;
  /** the configured timeout as Go prints it ("30s"), for the timeout message */
  timeoutText: string;
}

const NS_PER_MS = 1_000_000;
/** moby containertypes.MinimumDuration */
export const MINIMUM_DURATION_NS = 1 * NS_PER_MS;
// moby daemon/health.go defaults
export const DEFAULT_INTERVAL_NS = 30_000 * NS_PER_MS;
export const DEFAULT_TIMEOUT_NS = 30_000 * NS_PER_MS;
export const DEFAULT_START_PERIOD_NS = 0;
export const DEFAULT_START_INTERVAL_NS = 5_000 * NS_PER_MS;
export const DEFAULT_RETRIES = 3;
/** bytes of probe output kept per result */
export const MAX_OUTPUT_LEN = 4096;
/** results kept in State.Health.Log */
export const MAX_LOG_ENTRIES = 5;

const DURATIONS = ['Interval', 'Timeout', 'StartPeriod', 'StartInterval'] as const;

/**
 * Validate a HealthConfig from a create (or update) request; throws InvalidParameterError with
 * moby's messages (daemon/container.go validateHealthCheck), checked in moby's order.
 */
export function validateHealthcheck(hc: HealthConfig | null | undefined): void {
  if (hc === null || hc === undefined) return;
  if (typeof hc !== 'object' || Array.isArray(hc)) {
    throw new InvalidParameterError('invalid Healthcheck: must be an object');
  }
  if (hc.Test !== undefined && hc.Test !== null
    && (!Array.isArray(hc.Test) || hc.Test.some((t) => typeof t !== 'string'))) {
    throw new InvalidParameterError('invalid Healthcheck: Test must be an array of strings');
  }
  for (const k of [...DURATIONS, 'Retries'] as const) {
    const v = hc[k];
    if (v !== undefined && v !== null && (typeof v !== 'number' || !Number.isInteger(v))) {
      throw new InvalidParameterError(`invalid Healthcheck: ${k} must be an integer`);
    }
  }
  const tooShort = (v: number | undefined) => v !== undefined && v !== 0 && v < MINIMUM_DURATION_NS;
  if (tooShort(hc.Interval)) throw new InvalidParameterError('Interval in Healthcheck cannot be less than 1ms');
  if (tooShort(hc.Timeout)) throw new InvalidParameterError('Timeout in Healthcheck cannot be less than 1ms');
  if (hc.Retries !== undefined && hc.Retries < 0) throw new InvalidParameterError('Retries in Healthcheck cannot be negative');
  if (tooShort(hc.StartPeriod)) throw new InvalidParameterError('StartPeriod in Healthcheck cannot be less than 1ms');
  if (tooShort(hc.StartInterval)) throw new InvalidParameterError('StartInterval in Healthcheck cannot be less than 1ms');
}

/**
 * The container's effective HealthConfig (moby daemon/commit.go merge): no user config takes the
 * image's; otherwise each unset (empty / zero) user field is filled from the image.
 */
export function mergeHealthcheck(user: HealthConfig | null | undefined, image: HealthConfig | null | undefined): HealthConfig | undefined {
  if (!user) return image ? { ...image, ...(image.Test ? { Test: [...image.Test] } : {}) } : undefined;
  const out: HealthConfig = { ...user };
  if (!image) return out;
  if ((!out.Test || out.Test.length === 0) && image.Test) out.Test = [...image.Test];
  for (const k of [...DURATIONS, 'Retries'] as const) {
    if (!out[k] && image[k] !== undefined) out[k] = image[k];
  }
  return out;
}

/**
 * The argv a probe runs, or undefined when there is no probe (no config, empty Test, NONE, or an
 * unknown type, which moby ignores with a warning). CMD-SHELL uses the container's Shell if set.
 */
export function probeCommand(hc: HealthConfig | null | undefined, shell?: string[] | null): string[] | undefined {
  const test = hc?.Test;
  if (!test || test.length === 0) return undefined;
  switch (test[0]) {
    case 'CMD':
      return test.length > 1 ? test.slice(1) : undefined;
    case 'CMD-SHELL':
      return test.length > 1 ? [...(shell && shell.length ? shell : ['/bin/sh', '-c']), ...test.slice(1)] : undefined;
    default:
      return undefined;
  }
}

/** Settings with Docker's defaults for zero fields; undefined when the container has no probe. */
export function resolveHealthcheck(hc: HealthConfig | null | undefined, shell?: string[] | null): HealthSettings | undefined {
  const cmd = probeCommand(hc, shell);
  if (!cmd || !hc) return undefined;
  const orDefault = (v: number | undefined, d: number) => (v ? v : d);
  const timeoutNs = orDefault(hc.Timeout, DEFAULT_TIMEOUT_NS);
  return {
    cmd,
    intervalMs: orDefault(hc.Interval, DEFAULT_INTERVAL_NS) / NS_PER_MS,
    timeoutMs: timeoutNs / NS_PER_MS,
    startPeriodMs: orDefault(hc.StartPeriod, DEFAULT_START_PERIOD_NS) / NS_PER_MS,
    startIntervalMs: orDefault(hc.StartInterval, DEFAULT_START_INTERVAL_NS) / NS_PER_MS,
    retries: hc.Retries && hc.Retries > 0 ? hc.Retries : DEFAULT_RETRIES,
    timeoutText: goDuration(timeoutNs),
  };
}

/** A duration in nanoseconds as Go's time.Duration.String() prints it: 30s, 1.5s, 500ms, 1m0s, 2h0m0s. */
export function goDuration(ns: number): string {
  if (ns === 0) return '0s';
  const neg = ns < 0;
  let n = Math.abs(Math.round(ns));
  const sign = neg ? '-' : '';
  if (n < 1_000_000_000) {
    // sub-second: the largest unit that keeps the integer part non-zero
    const [unit, div] = n < 1_000 ? ['ns', 1] : n < 1_000_000 ? ['µs', 1_000] : ['ms', 1_000_000];
    return `${sign}${trimFraction(n / div)}${unit}`;
  }
  const h = Math.floor(n / 3_600_000_000_000);
  n -= h * 3_600_000_000_000;
  const m = Math.floor(n / 60_000_000_000);
  n -= m * 60_000_000_000;
  const s = `${trimFraction(n / 1_000_000_000)}s`;
  if (h > 0) return `${sign}${h}h${m}m${s}`;
  if (m > 0) return `${sign}${m}m${s}`;
  return `${sign}${s}`;
}

function trimFraction(v: number): string {
  // up to 9 fractional digits as Go, without trailing zeros
  return v.toFixed(9).replace(/\.?0+$/, '');
}

/** Probe output as moby keeps it: the first 4096 bytes, "..." appended when more was written. */
export function truncateOutput(out: string | Buffer): string {
  const buf = typeof out === 'string' ? Buffer.from(out, 'utf8') : out;
  if (buf.length <= MAX_OUTPUT_LEN) return buf.toString('utf8');
  return `${buf.subarray(0, MAX_OUTPUT_LEN).toString('utf8')}...`;
}

/** The ps Status suffix (moby container.Health.String); an unset status reads as unhealthy. */
export function healthSuffix(status: HealthStatus | '' | undefined): string {
  if (status === 'starting') return ' (health: starting)';
  return ` (${status || 'unhealthy'})`;
}
