import { Readable, Writable } from 'node:stream';
import type net from 'node:net';
import { execCapture, runVia, spawnFast, type CaptureResult, type ExitStatus, type FastChild, type SpawnOptions } from './spawn.js';

/**
 * Every program berthd starts (runc, conmon, CNI plugins, iptables, ip, ps, version probes) goes through a
 * ProcessRunner, so that code starting programs can be tested with the recording fake below. The runner
 * owns the child's exit: its status arrives on `exited` (reaped by spawn.ts's reaper for the real one).
 */
export interface ProcessRunner {
  /** Starts `file` and returns at once; fds as in SpawnOptions. */
  spawn(file: string, args: string[], opts: SpawnOptions): FastChild;
  /** Runs to completion with stdin from `input`, capturing stdout and stderr, whatever the exit. */
  capture(file: string, args: string[], opts: CaptureOptions): Promise<CaptureResult>;
  /** execFile's contract: stdout/stderr as text on exit 0, an ExecFailure otherwise. Env defaults to berthd's. */
  run(file: string, args: string[], opts?: RunOptions): Promise<{ stdout: string; stderr: string }>;
}

export interface CaptureOptions { env: Record<string, string | undefined>; input?: string | Buffer; cwd?: string; maxBuffer?: number }
export type RunOptions = Partial<CaptureOptions>;

/** posix_spawn through src/sys/spawn.ts. */
export class PosixRunner implements ProcessRunner {
  spawn(file: string, args: string[], opts: SpawnOptions): FastChild { return spawnFast(file, args, opts); }
  capture(file: string, args: string[], opts: CaptureOptions): Promise<CaptureResult> { return execCapture(file, args, opts); }
  run(file: string, args: string[], opts?: RunOptions): Promise<{ stdout: string; stderr: string }> {
    return runVia((f, a, o) => this.capture(f, a, o), file, args, opts);
  }
}

export const posixRunner: ProcessRunner = new PosixRunner();

export interface RunnerCall { kind: 'spawn' | 'capture'; file: string; args: string[]; env: Record<string, string | undefined>; input?: string; cwd?: string }

/** What the fake answers for a program: an exit status and output. */
export interface FakeOutcome { code?: number | null; signal?: NodeJS.Signals | null; stdout?: string | Buffer; stderr?: string | Buffer }

/**
 * Records every program it is asked to start and starts none. Answers come from `on(matcher, outcome)`
 * rules, the last matching rule winning; without one a program "exits 0" with no output. Spawned children
 * get a fake pid, in-memory pipes for their 'pipe-*' fds, and an `exited` that settles with the outcome
 * (or, for `hold`, when the test calls `exit(pid, ...)`).
 */
export class RecordingRunner implements ProcessRunner {
  readonly calls: RunnerCall[] = [];
  private rules: { match: (file: string, args: string[]) => boolean; outcome: FakeOutcome | ((file: string, args: string[]) => FakeOutcome); hold?: boolean }[] = [];
  private held = new Map<number, (s: ExitStatus) => void>();
  private nextPid = 90000;

  /** `match`: a program name (basename or path) or a predicate over file and args. */
  on(match: string | ((file: string, args: string[]) => boolean), outcome: FakeOutcome | ((file: string, args: string[]) => FakeOutcome), opts: { hold?: boolean } = {}): this {
    const m = typeof match === 'string' ? (f: string) => f === match || f.endsWith(`/${match}`) : match;
    this.rules.push({ match: m, outcome, hold: opts.hold });
    return this;
  }

  /** Ends a child spawned under a `hold` rule. */
  exit(pid: number, status: ExitStatus): void {
    const r = this.held.get(pid);
    this.held.delete(pid);
    r?.(status);
  }

  private rule(file: string, args: string[]) {
    const r = [...this.rules].reverse().find((x) => x.match(file, args));
    const outcome = r ? (typeof r.outcome === 'function' ? r.outcome(file, args) : r.outcome) : {};
    return { outcome, hold: r?.hold ?? false };
  }

  spawn(file: string, args: string[], opts: SpawnOptions): FastChild {
    this.calls.push({ kind: 'spawn', file, args: [...args], env: { ...opts.env }, cwd: opts.cwd });
    const { outcome, hold } = this.rule(file, args);
    const pid = this.nextPid++;
    const pipes = new Map<number, net.Socket>();
    (opts.fds ?? []).forEach((spec, fd) => {
      if (spec === 'pipe-write') {
        const data = fd === 1 ? outcome.stdout : fd === 2 ? outcome.stderr : undefined;
        pipes.set(fd, Readable.from(data !== undefined ? [Buffer.from(data)] : []) as unknown as net.Socket);
      } else if (spec === 'pipe-read') {
        pipes.set(fd, new Writable({ write: (_c, _e, cb) => cb() }) as unknown as net.Socket);
      }
    });
    const status: ExitStatus = { code: outcome.signal ? null : outcome.code ?? 0, signal: outcome.signal ?? null };
    const exited = hold ? new Promise<ExitStatus>((resolve) => this.held.set(pid, resolve)) : Promise.resolve(status);
    return { pid, pipes, exited };
  }

  async capture(file: string, args: string[], opts: CaptureOptions): Promise<CaptureResult> {
    this.calls.push({ kind: 'capture', file, args: [...args], env: { ...opts.env }, cwd: opts.cwd, input: opts.input === undefined ? undefined : opts.input.toString() });
    const { outcome } = this.rule(file, args);
    return {
      code: outcome.signal ? null : outcome.code ?? 0,
      signal: outcome.signal ?? null,
      stdout: Buffer.from(outcome.stdout ?? ''),
      stderr: Buffer.from(outcome.stderr ?? ''),
    };
  }

  run(file: string, args: string[], opts?: RunOptions): Promise<{ stdout: string; stderr: string }> {
    return runVia((f, a, o) => this.capture(f, a, o), file, args, opts);
  }
}
