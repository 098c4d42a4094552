// Run the real docker CLI and bin/berth as a user would: a fresh process per command, env selects the daemon.
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { repoRoot } from './daemon.js';

export interface CliResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  timedOut: boolean;
}

export interface CliOptions {
  input?: string | Buffer;
  timeoutMs?: number;
}

export const berthBin = path.join(repoRoot, 'bin', 'berth');

// An empty docker config dir: the user's ~/.docker (contexts, plugins, credential helpers) must not matter.
const dockerConfig = fs.mkdtempSync(path.join(os.tmpdir(), 'bt-dcfg-'));
process.on('exit', () => fs.rmSync(dockerConfig, { recursive: true, force: true }));

/** Env for a CLI child; a key set to undefined is removed (e.g. to test that -H alone works). */
export type CliEnv = Record<string, string | undefined>;

function cliEnv(env: CliEnv): NodeJS.ProcessEnv {
  const out: NodeJS.ProcessEnv = { ...process.env, DOCKER_CONFIG: dockerConfig, DOCKER_CLI_HINTS: 'false', ...env };
  for (const k of Object.keys(out)) if (out[k] === undefined) delete out[k];
  return out;
}

export function runCli(cmd: string, env: CliEnv, args: string[], opts: CliOptions = {}): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { env: cliEnv(env), stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    let timedOut = false;
    child.stdout.setEncoding('utf8').on('data', (d: string) => { stdout += d; });
    child.stderr.setEncoding('utf8').on('data', (d: string) => { stderr += d; });
    const timer = setTimeout(() => { timedOut = true; child.kill('SIGKILL'); }, opts.timeoutMs ?? 30_000);
    child.on('error', (e) => { clearTimeout(timer); reject(e); });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr, timedOut });
    });
    child.stdin.on('error', () => { /* the command may exit without reading stdin */ });
    child.stdin.end(opts.input ?? '');
  });
}

/** `docker ARGS` against the daemon named by env (DOCKER_HOST). */
export function docker(env: CliEnv, args: string[], opts?: CliOptions): Promise<CliResult> {
  return runCli('docker', env, args, opts);
}

/** `bin/berth ARGS` against the daemon named by env (BERTH_HOST / DOCKER_HOST). */
export function berth(env: CliEnv, args: string[], opts?: CliOptions): Promise<CliResult> {
  return runCli(berthBin, env, args, opts);
}

/** A long-running CLI process (e.g. `logs -f`) whose output the test reads while it runs. */
export function spawnCli(cmd: string, env: CliEnv, args: string[]): ChildProcess {
  return spawn(cmd === 'berth' ? berthBin : cmd, args, { env: cliEnv(env), stdio: ['ignore', 'pipe', 'pipe'] });
}

/** Resolves once `child`'s stdout matches `re` (returns everything read so far), rejects on timeout or exit. */
export function waitForOutput(child: ChildProcess, re: RegExp, timeoutMs = 15_000): Promise<string> {
  return new Promise((resolve, reject) => {
    let out = '';
    let err = '';
    const done = (f: () => void) => { clearTimeout(timer); child.stdout?.off('data', onData); child.off('close', onClose); f(); };
    const onData = (d: Buffer) => { out += d.toString('utf8'); if (re.test(out)) done(() => resolve(out)); };
    const onClose = (code: number | null) =>
      done(() => reject(new Error(`process exited (${code}) before output matched ${re}; stdout=${JSON.stringify(out)} stderr=${JSON.stringify(err)}`)));
    const timer = setTimeout(() =>
      done(() => reject(new Error(`timed out waiting for ${re}; stdout=${JSON.stringify(out)} stderr=${JSON.stringify(err)}`))), timeoutMs);
    child.stdout?.on('data', onData);
    child.stderr?.on('data', (d: Buffer) => { err += d.toString('utf8'); });
    child.on('close', onClose);
  });
}

/** Describes a result for assertion messages. */
export function show(r: CliResult): string {
  return `exit=${r.code}${r.signal ? ` signal=${r.signal}` : ''}${r.timedOut ? ' (timed out)' : ''}\nstdout: ${r.stdout}\nstderr: ${r.stderr}`;
}

/** The docker CLI against one daemon with assertions: `ok` must exit 0, `fails` non-zero with stderr matching, `inspect` a format. */
export function dockerChecks(env: () => CliEnv, timeoutMs = 30_000) {
  const run = (args: string[], opts?: CliOptions) => docker(env(), args, { timeoutMs, ...opts });
  const ok = async (args: string[], opts?: CliOptions): Promise<CliResult> => {
    const r = await run(args, opts);
    if (r.code !== 0) throw new Error(`docker ${args.join(' ')} failed: ${show(r)}`);
    return r;
  };
  const fails = async (args: string[], re: RegExp): Promise<CliResult> => {
    const r = await run(args);
    if (r.code === 0) throw new Error(`docker ${args.join(' ')} should fail: ${show(r)}`);
    if (!re.test(r.stderr)) throw new Error(`docker ${args.join(' ')}: stderr does not match ${re}: ${show(r)}`);
    return r;
  };
  const inspect = async (name: string, fmt: string) => (await ok(['inspect', '-f', fmt, name])).stdout.trim();
  return { run, ok, fails, inspect };
}
