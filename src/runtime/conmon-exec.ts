import type { AttachConnection } from '../core/attach-connection.js';
import type { FastChild } from '../sys/spawn.js';
import { posixRunner, type ProcessRunner } from '../sys/process-runner.js';
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { SystemError, errorMessage } from '../errors.js';
import { StartFailedError } from './start-failure.js';
import type { OciProcess, OciSpec } from '../core/oci-spec.js';
import type { Paths } from '../store/paths.js';
import { trace } from '../core/trace.js';
import { conmonArgs, parseSyncLine, type ConmonOptions } from './conmon.js';
import { CtlWriter } from './conmon-ctl.js';
import { LinuxSys } from '../sys/linux-sys.js';
import type { Sys } from '../sys/sys.js';
import { DEFAULT_PATH, connectAttachSocket, killConmonPid, ociLogError, processAlive, readPidFile, sleep, watchSyncFile } from './conmon-session.js';

/**
 * Exec sessions run through conmon, podman's way (CONMON.md §6), so an exec outlives the daemon.
 * One session dir per exec, under the exec root:
 *   execs/<exec-id>/process.json   the OCI process runc exec runs
 *                   sync           conmon's sync "pipe" (a regular file: pid line, then exit-code line)
 *                   exit/<cid>     conmon's exit file (named after the container, hence a dir per session)
 *                   attach, ctl    attach socket and resize fifo (conmon makes them in -b)
 *                   exec_pid, conmon.pid, oci-log
 */

/** An exec's attach connection: the same conmon socket protocol as a container's. */
export type ExecConnection = AttachConnection;

export interface ExecStartRequest {
  containerId: string;
  execId: string;
  process: OciProcess;
  /** keep the process's stdin open for the attach client (docker exec -i) */
  stdin: boolean;
  /** false = docker exec -d: no attach socket, one start write */
  attach: boolean;
  /** terminal size applied before the process runs (tty only) */
  size?: { height: number; width: number };
}

export interface ExecStarted {
  pid: number;
  /** connected before the process runs, so no output is lost; absent for detached execs */
  conn?: ExecConnection;
  /** resolves with the exit code once the process has ended */
  exited: Promise<number>;
}

/** runc exec failed (the command could not be started); message is runc's own text. */
export class ExecStartError extends StartFailedError {}

export interface ExecProcessOptions {
  args: string[];
  env: string[];
  cwd: string;
  user: { uid: number; gid: number; additionalGids: number[] };
  terminal: boolean;
  /** all capabilities the container could have (its bounding set) */
  privileged?: boolean;
}

/** Pure: the exec's OCI process, derived from the container's own (rlimits, caps, apparmor, nnp kept). */
export function execProcessSpec(base: OciProcess, o: ExecProcessOptions): OciProcess {
  const p: OciProcess = structuredClone(base);
  delete p.consoleSize;
  p.args = [...o.args];
  p.env = [...o.env];
  p.cwd = o.cwd || '/';
  p.terminal = o.terminal;
  p.user = { uid: o.user.uid, gid: o.user.gid, ...(o.user.additionalGids.length ? { additionalGids: [...o.user.additionalGids] } : {}) };
  if (base.user.umask !== undefined) p.user.umask = base.user.umask;
  if (o.privileged) {
    // runc cannot grant more than the container's bounding set, so that set is "all".
    const all = [...base.capabilities.bounding];
    p.capabilities = { bounding: all, effective: [...all], permitted: [...all] };
    if (base.capabilities.inheritable) p.capabilities.inheritable = [...all];
  }
  return p;
}

/** Pure: conmon's options for one exec session (CONMON.md §6). */
export function execConmonOptions(o: {
  containerId: string; execId: string; sessionDir: string; runcPath: string; runcRoot: string;
  terminal: boolean; stdin: boolean; attach: boolean;
  /** the container's runtime's runtimeArgs (daemon.json), before berth's */
  runtimeArgs?: readonly string[];
}): ConmonOptions {
  const s = o.sessionDir;
  return {
    cid: o.containerId,
    cuuid: o.execId,
    runtime: o.runcPath,
    bundle: s,
    containerPidFile: path.join(s, 'exec_pid'),
    conmonPidFile: path.join(s, 'conmon.pid'),
    exitDir: path.join(s, 'exit'),
    fullAttach: true,
    logPaths: ['none'],
    logLevel: 'warning',
    runtimeArgs: [...(o.runtimeArgs ?? []), '--root', o.runcRoot, '--log-format=json', '--log', path.join(s, 'oci-log')],
    terminal: o.terminal,
    stdin: !o.terminal && o.stdin,
    exec: true,
    execAttach: o.attach,
    execProcessSpec: path.join(s, 'process.json'),
  };
}

/**
 * Lines of conmon's sync file: the first is the pid (or -1 + message), the second the exit code.
 * Returns what is complete so far.
 */
export function parseExecSync(text: string): { pid?: number; exitCode?: number; error?: string } {
  const lines = text.split('\n');
  const complete = lines.slice(0, -1).filter((l) => l.trim() !== '');
  const out: { pid?: number; exitCode?: number; error?: string } = {};
  if (complete.length === 0) return out;
  const first = parseSyncLine(complete[0]!);
  if (first.error !== undefined) { out.error = first.error; return out; }
  out.pid = first.pid;
  if (complete.length > 1) {
    const second = parseSyncLine(complete[1]!);
    if (second.error !== undefined) out.error = second.error; else out.exitCode = second.pid;
  }
  return out;
}


export class ConmonExec {
  readonly paths: Paths;
  private readonly ctlWriter: CtlWriter;
  readonly conmonPath: string;
  /** the runtime a container was created with (ConmonRuntime's record): its execs run through the same one */
  private readonly runtimeOf: (containerId: string) => { path: string; root: string; runtimeArgs: readonly string[] };

  private readonly runner: ProcessRunner;

  constructor(opts: {
    paths: Paths; runcPath?: string; conmonPath?: string; runner?: ProcessRunner; sys?: Pick<Sys, 'fifoUnread'>;
    runtimeOf?: (containerId: string) => { path: string; root: string; runtimeArgs: readonly string[] };
  }) {
    this.paths = opts.paths;
    this.runner = opts.runner ?? posixRunner;
    this.ctlWriter = new CtlWriter(opts.sys ?? new LinuxSys());
    const runc = { path: opts.runcPath ?? '/usr/sbin/runc', root: this.paths.runcRoot, runtimeArgs: [] };
    this.runtimeOf = opts.runtimeOf ?? (() => runc);
    this.conmonPath = opts.conmonPath ?? '/usr/bin/conmon';
  }

  private get execsDir(): string { return path.dirname(this.paths.execDir('x')); }

  /** The container's OCI process (from its bundle's config.json), the base of every exec. */
  async containerProcess(containerId: string): Promise<OciProcess> {
    const text = await fsp.readFile(path.join(this.paths.bundle(containerId), 'config.json'), 'utf8');
    return (JSON.parse(text) as OciSpec).process;
  }

  async start(req: ExecStartRequest): Promise<ExecStarted> {
    const tr = trace(`exec ${req.execId.slice(0, 12)}`);
    const dir = this.paths.execDir(req.execId);
    await fsp.rm(dir, { recursive: true, force: true });
    await fsp.mkdir(path.join(dir, 'exit'), { recursive: true, mode: 0o700 });
    await fsp.writeFile(path.join(dir, 'process.json'), JSON.stringify(req.process));
    const terminal = req.process.terminal;
    const rt = this.runtimeOf(req.containerId);
    const args = conmonArgs(execConmonOptions({
      containerId: req.containerId, execId: req.execId, sessionDir: dir, runcPath: rt.path,
      runcRoot: rt.root, runtimeArgs: rt.runtimeArgs, terminal, stdin: req.stdin, attach: req.attach,
    }));
    // Sync channel = a regular file: if the daemon dies, conmon can still write the exit code (§5).
    const syncPath = path.join(dir, 'sync');
    const syncFd = fs.openSync(syncPath, 'w+', 0o600);
    const env: NodeJS.ProcessEnv = { PATH: process.env['PATH'] || DEFAULT_PATH, _OCI_SYNCPIPE: '3', _OCI_STARTPIPE: '4' };
    if (req.attach) env['_OCI_ATTACHPIPE'] = '5';
    let child: FastChild;
    try {
      child = this.runner.spawn(this.conmonPath, args, {
        fds: ['ignore', 'ignore', 'ignore', syncFd, 'pipe-read', ...(req.attach ? ['pipe-write' as const] : [])],
        detached: true,
        cwd: dir,
        env,
      });
    } catch (e) {
      throw new SystemError(`cannot run conmon: ${errorMessage(e)}`, { cause: e });
    } finally {
      fs.closeSync(syncFd);
    }
    tr.mark('spawn');
    const startPipe = child.pipes.get(4)!;
    const attachPipe = req.attach ? child.pipes.get(5)! : undefined;
    // spawnFast reports a failed start synchronously; this stays for the races below (never settles).
    const spawnError = new Promise<never>(() => undefined);
    const release = () => {
      startPipe.on('error', () => undefined);
      attachPipe?.on('error', () => undefined);
      startPipe.destroy();
      attachPipe?.destroy();
    };
    let conn: ExecConnection | undefined;
    try {
      startPipe.on('error', () => undefined);
      startPipe.write('{"data":0}\n');
      if (attachPipe) {
        const line = await Promise.race([readLine(attachPipe), spawnError, this.syncFailure(syncPath)]);
        tr.mark('attach-ready');
        const r = parseSyncLine(line);
        if (r.error !== undefined) throw new ExecStartError(this.ociLogError(dir) ?? r.error);
        if (terminal && req.size) this.resize(req.execId, req.size.height, req.size.width);
        conn = await connectAttach(dir);
        startPipe.write('{"data":0}\n');
        tr.mark('attached');
      }
      const first = await Promise.race([this.waitSync(syncPath, (s) => s.pid !== undefined || s.error !== undefined), spawnError]);
      if (first.pid === undefined) throw new ExecStartError(this.ociLogError(dir) ?? first.error ?? 'exec failed');
      tr.mark('pid');
      release();
      const exited = this.waitSync(syncPath, (s) => s.exitCode !== undefined || s.error !== undefined)
        .then((s) => { tr.mark('exit'); tr.end(); return s.exitCode ?? this.readExitFile(req.containerId, req.execId) ?? 126; });
      return { pid: first.pid, conn, exited };
    } catch (err) {
      release();
      conn?.destroy();
      await this.killConmon(req.execId);
      throw err instanceof SystemError ? err : new ExecStartError(errorMessage(err), undefined, { cause: err });
    }
  }

  /** Resolves with a line when conmon failed before the attach pipe answered (sync says -1). */
  private syncFailure(syncPath: string): Promise<string> {
    // Stops watching once the pid line is there (then the attach pipe has answered long before).
    return this.waitSync(syncPath, (s) => s.error !== undefined || s.pid !== undefined)
      .then((s) => (s.error !== undefined ? JSON.stringify({ data: -1, message: s.error }) : new Promise<string>(() => undefined)));
  }

  private waitSync(syncPath: string, done: (s: ReturnType<typeof parseExecSync>) => boolean): Promise<ReturnType<typeof parseExecSync>> {
    const sessionDir = path.dirname(syncPath);
    const started = Date.now();
    return watchSyncFile<ReturnType<typeof parseExecSync>>(syncPath, {
      probe: (text) => {
        if (text === undefined) return { error: 'exec session removed' };
        const s = parseExecSync(text);
        return done(s) ? s : undefined;
      },
      pollMs: 100,
      unref: true,
      // A conmon that died without writing (killed) will never answer: stop waiting.
      tickEvery: 10,
      tick: () => (!this.conmonAliveIn(sessionDir) && Date.now() - started > 500
        ? { ...parseExecSync(fs.existsSync(syncPath) ? fs.readFileSync(syncPath, 'utf8') : ''), error: 'conmon exited without reporting' }
        : undefined),
    }).result;
  }

  private conmonAliveIn(dir: string): boolean {
    const file = path.join(dir, 'conmon.pid');
    const pid = readPidFile(file);
    // conmon.pid not written yet: still starting.
    if (pid === undefined) return !fs.existsSync(file);
    return processAlive(pid, 'conmon');
  }

  conmonAlive(execId: string): boolean {
    const dir = this.paths.execDir(execId);
    return fs.existsSync(path.join(dir, 'conmon.pid')) && this.conmonAliveIn(dir);
  }

  private readExitFile(containerId: string, execId: string): number | undefined {
    try {
      const n = Number.parseInt(fs.readFileSync(path.join(this.paths.execDir(execId), 'exit', containerId), 'utf8').trim(), 10);
      return Number.isFinite(n) ? n : undefined;
    } catch { return undefined; }
  }

  private ociLogError(dir: string): string | undefined {
    return ociLogError(path.join(dir, 'oci-log'), ['error', 'fatal']);
  }

  resize(execId: string, rows: number, cols: number): void {
    void this.ctlWriter.send(path.join(this.paths.execDir(execId), 'ctl'), `1 ${Math.max(0, Math.trunc(rows))} ${Math.max(0, Math.trunc(cols))}\n`);
  }

  private async killConmon(execId: string): Promise<void> {
    await killConmonPid(readPidFile(path.join(this.paths.execDir(execId), 'conmon.pid')));
  }

  /** Remove a finished session's dir (waits briefly for conmon to go). */
  async cleanup(execId: string): Promise<void> {
    const deadline = Date.now() + 2000;
    while (this.conmonAlive(execId) && Date.now() < deadline) await sleep(10);
    await fsp.rm(this.paths.execDir(execId), { recursive: true, force: true });
  }

  /**
   * Sessions left by an earlier daemon: remove dead ones now; live ones (an exec that outlived the
   * daemon) are removed when their conmon goes. Returns the ids still running.
   */
  async sweep(): Promise<string[]> {
    const names = await fsp.readdir(this.execsDir).catch(() => [] as string[]);
    const live: string[] = [];
    for (const n of names) {
      if (this.conmonAlive(n)) { live.push(n); continue; }
      await fsp.rm(path.join(this.execsDir, n), { recursive: true, force: true });
    }
    for (const n of live) {
      const t = setInterval(() => {
        if (this.conmonAlive(n)) return;
        clearInterval(t);
        void fsp.rm(path.join(this.execsDir, n), { recursive: true, force: true });
      }, 2000);
      t.unref();
    }
    return live;
  }
}

function readLine(r: Readable): Promise<string> {
  return new Promise((resolve) => {
    let buf = '';
    const onData = (d: Buffer) => {
      buf += d.toString('utf8');
      const nl = buf.indexOf('\n');
      if (nl >= 0) { cleanup(); resolve(buf.slice(0, nl)); }
    };
    const onEnd = () => { cleanup(); resolve(buf); };
    const cleanup = () => { r.off('data', onData); r.off('end', onEnd); r.off('close', onEnd); };
    r.on('data', onData);
    r.on('end', onEnd);
    r.on('close', onEnd);
    r.on('error', () => undefined);
  });
}

/** The exec's attach socket: frames are kept until a reader comes (the process runs while we wait for its pid). */
async function connectAttach(dir: string): Promise<ExecConnection> {
  try {
    return await connectAttachSocket(dir, { queueUntilRead: true, pidFile: path.join(dir, 'exec_pid') });
  } catch (err) {
    throw new SystemError(`cannot attach to exec session: ${errorMessage(err)}`, { cause: err });
  }
}
