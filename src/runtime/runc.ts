import { parseSignal } from '../core/container-config.js';
import { ExecFailure } from '../sys/spawn.js';
import { posixRunner, type ProcessRunner } from '../sys/process-runner.js';
import { NotFoundError, SystemError } from '../errors.js';

/**
 * A typed runc wrapper (go-runc style): every verb has an options type and a pure args builder;
 * `Runc` executes them. Errors carry runc's own message, taken from its json log line on stderr.
 */

export interface RuncGlobalOptions {
  root: string;
  /** runc --log; without it runc logs to stderr, which is where we read errors from */
  log?: string;
  logFormat?: 'json' | 'text';
  systemdCgroup?: boolean;
  debug?: boolean;
}

export function globalArgs(o: RuncGlobalOptions): string[] {
  const a = ['--root', o.root];
  if (o.log) a.push('--log', o.log);
  if (o.logFormat) a.push('--log-format', o.logFormat);
  if (o.systemdCgroup) a.push('--systemd-cgroup');
  if (o.debug) a.push('--debug');
  return a;
}

export interface RuncKillOptions { all?: boolean }
export function killArgs(id: string, signal: string | number, o: RuncKillOptions = {}): string[] {
  const a = ['kill'];
  if (o.all) a.push('--all');
  a.push(id, String(signalNumber(signal)));
  return a;
}

export interface RuncDeleteOptions { force?: boolean }
export function deleteArgs(id: string, o: RuncDeleteOptions = {}): string[] {
  return o.force ? ['delete', '--force', id] : ['delete', id];
}

export function stateArgs(id: string): string[] { return ['state', id]; }
export function startArgs(id: string): string[] { return ['start', id]; }
export function pauseArgs(id: string): string[] { return ['pause', id]; }
export function resumeArgs(id: string): string[] { return ['resume', id]; }
export function listArgs(): string[] { return ['list', '--format', 'json']; }

/** Live resource changes (`docker update`); only the given fields are passed. */
export interface UpdateOptions {
  memory?: number; memorySwap?: number; cpuShares?: number; cpuPeriod?: number; cpuQuota?: number;
  cpusetCpus?: string; cpusetMems?: string; pidsLimit?: number;
}
export function updateArgs(id: string, o: UpdateOptions): string[] {
  const a = ['update'];
  if (o.memory !== undefined) a.push('--memory', String(o.memory));
  if (o.memorySwap !== undefined) a.push('--memory-swap', String(o.memorySwap));
  if (o.cpuShares !== undefined) a.push('--cpu-share', String(o.cpuShares));
  if (o.cpuPeriod !== undefined) a.push('--cpu-period', String(o.cpuPeriod));
  if (o.cpuQuota !== undefined) a.push('--cpu-quota', String(o.cpuQuota));
  if (o.cpusetCpus !== undefined) a.push('--cpuset-cpus', o.cpusetCpus);
  if (o.cpusetMems !== undefined) a.push('--cpuset-mems', o.cpusetMems);
  if (o.pidsLimit !== undefined) a.push('--pids-limit', String(o.pidsLimit));
  a.push(id);
  return a;
}

/**
 * Normalise 'TERM' | 'SIGTERM' | 'sigterm' | '15' | 15 | 'RTMIN+3' to a signal number; throws on
 * unknown names. runc accepts numbers, which avoids its own name table.
 */
export function signalNumber(signal: string | number): number {
  return parseSignal(String(signal));
}

export interface RuncState {
  ociVersion: string;
  id: string;
  pid: number;
  status: 'creating' | 'created' | 'running' | 'paused' | 'stopped';
  bundle: string;
  rootfs: string;
  created: string;
  annotations?: Record<string, string>;
}

export interface RuncListEntry { id: string; pid: number; status: string; bundle: string; created: string }

/** What went wrong, classified once from runc's text where it is caught (Runc.exec), never re-read from messages. */
export type RuncErrorKind = 'not-found' | 'other';

/** Thrown when runc exits non-zero; `message` is runc's own error text. */
export class RuncError extends SystemError {
  constructor(message: string, readonly args: string[], readonly stderr: string, readonly reason: RuncErrorKind = 'other') { super(message); }
}

/** runc's wording for "no such container" (runc 1.x: "container does not exist", older "container with id ... not exist"). */
export function classifyRuncError(text: string): RuncErrorKind {
  return /does not exist|not found|container with id .* not exist/i.test(text) ? 'not-found' : 'other';
}

/**
 * runc writes errors as json log lines ({"level":"error","msg":"..."}) with --log-format json, or
 * as plain text. Return the last error message found, or the trimmed text.
 */
export function parseRuncError(output: string): string {
  let msg = '';
  for (const line of output.split('\n')) {
    const t = line.trim();
    if (!t) continue;
    if (t.startsWith('{')) {
      try {
        const j = JSON.parse(t) as { level?: string; msg?: string };
        if (j.level === 'error' || j.level === 'fatal') msg = j.msg ?? msg;
        continue;
      } catch { /* not json: fall through */ }
    }
    msg = t.replace(/^time="[^"]*" level=error msg="(.*)"$/, '$1');
  }
  return msg.trim();
}

/**
 * runc's command line, or any runtime's that takes it (crun does, for every verb used here). `runtimeArgs`
 * (daemon.json's) come first, before berth's global options.
 */
export class Runc {
  constructor(readonly runcPath: string, readonly root: string, private readonly runner: ProcessRunner = posixRunner, readonly runtimeArgs: readonly string[] = []) {}

  private exec(args: string[]): Promise<string> {
    const full = [...this.runtimeArgs, ...globalArgs({ root: this.root, logFormat: 'json' }), ...args];
    return this.runner.run(this.runcPath, full, { maxBuffer: 16 * 1024 * 1024 }).then((r) => r.stdout, (err: unknown) => {
      const stdout = err instanceof ExecFailure ? err.stdout : '', stderr = err instanceof ExecFailure ? err.stderr : '';
      const text = parseRuncError(stderr) || parseRuncError(stdout) || (err as Error).message;
      throw new RuncError(text, full, stderr, classifyRuncError(text));
    });
  }

  /** undefined when runc does not know the container */
  async state(id: string): Promise<RuncState | undefined> {
    try {
      return JSON.parse(await this.exec(stateArgs(id))) as RuncState;
    } catch (err) {
      if (isNotFound(err)) return undefined;
      throw err;
    }
  }
  async start(id: string): Promise<void> { await this.exec(startArgs(id)); }
  async kill(id: string, signal: string | number, all = false): Promise<void> { await this.exec(killArgs(id, signal, { all })); }
  async delete(id: string, force = false): Promise<void> { await this.exec(deleteArgs(id, { force })); }
  async pause(id: string): Promise<void> { await this.exec(pauseArgs(id)); }
  async resume(id: string): Promise<void> { await this.exec(resumeArgs(id)); }
  async update(id: string, o: UpdateOptions): Promise<void> { await this.exec(updateArgs(id, o)); }
  async list(): Promise<RuncListEntry[]> {
    const out = (await this.exec(listArgs())).trim();
    if (!out || out === 'null') return [];
    return JSON.parse(out) as RuncListEntry[];
  }
}

export function isNotFound(err: unknown): boolean {
  return err instanceof NotFoundError || (err instanceof RuncError && err.reason === 'not-found');
}
