import type { UpdateOptions } from './runc.js';
import type { FastChild } from '../sys/spawn.js';
import { posixRunner, type ProcessRunner } from '../sys/process-runner.js';
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import { SystemError, errorMessage } from '../errors.js';
import { StartFailedError } from './start-failure.js';
import type { OciSpec } from '../core/oci-spec.js';
import type { Paths } from '../store/paths.js';
import { trace } from '../core/trace.js';
import { conmonArgs, parseSyncLine } from './conmon.js';
import { CtlWriter } from './conmon-ctl.js';
import { LinuxSys } from '../sys/linux-sys.js';
import type { Sys } from '../sys/sys.js';
import { isNotFound, signalNumber, type Runc } from './runc.js';
import { OciRuntimes, type OciRuntimeRef } from './oci-runtimes.js';
import { DEFAULT_PATH, connectAttachSocket, killConmonPid, ociLogError, processAlive, readPidFile, sleep, watchSyncFile } from './conmon-session.js';

/**
 * Runs containers as conmon + runc (CONMON.md). Every container's live state is in files under the
 * exec root, so a restarted daemon can pick it up:
 *   bundles/<id>/config.json, sync (conmon's sync "pipe": a regular file), pidfile, conmon.pid,
 *   attach (socket), ctl (fifo), oci-log, persist/{exit,oom};   exits/<id> (exit code)
 */

export interface CreateRequest {
  id: string;
  name: string;
  spec: OciSpec;
  tty: boolean;
  openStdin: boolean;
  stdinOnce: boolean;
  /** k8s-file log written by conmon */
  logPath: string;
  /** 'none' (no log at all) or the k8s-file default */
  logDriver?: 'k8s-file' | 'none';
  /** conmon truncates the log at this size (log-opts max-size) */
  logSizeMax?: number;
  /** HostConfig.Runtime: a configured runtime's name (the default when absent) */
  runtime?: string;
}

export interface ExitInfo { code: number; finishedAt: Date; oomKilled: boolean }

import type { AttachConnection } from '../core/attach-connection.js';
export type { AttachConnection } from '../core/attach-connection.js';

/** A runtime failure; the message is runc's (or conmon's) own text. */
export class RuntimeError extends SystemError {}

const CREATE_TIMEOUT_MS = 120_000;
const RESCAN_MS = 5_000;

export class ConmonRuntime {
  readonly paths: Paths;
  readonly conmonPath: string;
  /** the configured OCI runtimes and each container's (runc alone unless berthd configures more) */
  readonly runtimes: OciRuntimes;
  private exitCallbacks: ((id: string) => void)[] = [];
  private readonly ctlWriter: CtlWriter;
  private watcher: fs.FSWatcher | undefined;
  private rescanTimer: NodeJS.Timeout | undefined;
  /** exit files already reported, by id → mtimeMs, so each appearance fires once */
  private reported = new Map<string, number>();

  private readonly runner: ProcessRunner;

  constructor(opts: { paths: Paths; runcPath?: string; conmonPath?: string; runner?: ProcessRunner; sys?: Pick<Sys, 'fifoUnread'>; runtimes?: OciRuntimes }) {
    this.paths = opts.paths;
    this.runner = opts.runner ?? posixRunner;
    this.ctlWriter = new CtlWriter(opts.sys ?? new LinuxSys());
    this.conmonPath = opts.conmonPath ?? '/usr/bin/conmon';
    this.runtimes = opts.runtimes ?? OciRuntimes.runcOnly(this.paths, opts.runcPath, this.runner);
  }

  async init(): Promise<void> {
    for (const d of [this.paths.runcRoot, this.paths.exitsDir, this.paths.bundlesDir]) {
      await fsp.mkdir(d, { recursive: true, mode: 0o700 });
    }
  }

  /** What create may name (HostConfig.Runtime) and what it gets without a name. */
  runtimeNames(): { names: string[]; default: string } {
    return { names: this.runtimes.names(), default: this.runtimes.defaultName };
  }

  /** The runtime's command line for a container, e.g. `runc --root <root> kill <id> 9`. */
  private cli(id: string): Runc { return this.runtimes.cli(this.runtimes.of(id)); }

  async create(req: CreateRequest): Promise<{ pid: number }> {
    const { id } = req;
    const tr = trace(`create ${id.slice(0, 12)}`);
    const bundle = this.paths.bundle(id);
    if (this.conmonAlive(id)) throw new RuntimeError(`container ${id} already has a running monitor`);
    const rt = this.runtimes.resolve(req.runtime);
    // A leftover exit file from a previous run would be taken for this run's exit.
    fs.rmSync(this.paths.exitFile(id), { force: true });
    this.reported.delete(id);
    await fsp.rm(bundle, { recursive: true, force: true });
    await fsp.mkdir(path.join(bundle, 'persist'), { recursive: true, mode: 0o700 });
    await fsp.mkdir(path.dirname(req.logPath), { recursive: true });
    await fsp.writeFile(path.join(bundle, 'config.json'), JSON.stringify(req.spec));
    await fsp.mkdir(rt.root, { recursive: true, mode: 0o700 });
    this.runtimes.record(id, rt);
    tr.mark('bundle');

    const opts = {
      cid: id,
      cuuid: id,
      name: req.name,
      runtime: rt.path,
      bundle,
      containerPidFile: path.join(bundle, 'pidfile'),
      conmonPidFile: path.join(bundle, 'conmon.pid'),
      exitDir: this.paths.exitsDir,
      persistDir: path.join(bundle, 'persist'),
      fullAttach: true,
      logPaths: [req.logDriver === 'none' ? 'none' : `k8s-file:${req.logPath}`],
      ...(req.logSizeMax ? { logSizeMax: req.logSizeMax } : {}),
      logLevel: 'warning' as const,
      runtimeArgs: [...rt.runtimeArgs, '--root', rt.root, '--log-format=json', '--log', path.join(bundle, 'oci-log')],
      terminal: req.tty,
      stdin: !req.tty && req.openStdin,
      // With a TTY, EOF is not a thing and a detach (ctrl-p ctrl-q) must not close the shell's stdin.
      leaveStdinOpen: !req.stdinOnce || req.tty,
    };

    // The sync channel is a regular file, not a pipe: if the daemon dies mid-create conmon can't
    // get EPIPE and the container keeps its monitor (CONMON.md §5).
    const syncPath = path.join(bundle, 'sync');
    const syncFd = fs.openSync(syncPath, 'w+', 0o600);
    let child: FastChild | undefined;
    let spawnError: string | undefined;
    try {
      child = this.runner.spawn(this.conmonPath, conmonArgs(opts), {
        fds: ['ignore', 'ignore', 'ignore', syncFd],
        detached: true,
        cwd: bundle, // conmon drops an `oom` file in its cwd
        env: { PATH: process.env['PATH'] || DEFAULT_PATH, _OCI_SYNCPIPE: '3' },
      });
    } catch (err) {
      spawnError = `cannot run conmon: ${errorMessage(err)}`;
    } finally {
      fs.closeSync(syncFd);
    }
    tr.mark('spawn');

    let result: { pid?: number; error?: string };
    try {
      result = child ? await this.waitForSync(id, syncPath, child) : { error: spawnError };
    } catch (err) {
      result = { error: errorMessage(err) };
    }
    if (result.pid === undefined) {
      await this.cleanupFailedCreate(id);
      throw new StartFailedError(result.error ?? 'container create failed');
    }
    tr.mark('sync');
    tr.end();
    if (req.tty) this.resize(id, 24, 80); // without a size the pty is 0x0 (CONMON.md §4)
    return { pid: result.pid };
  }

  /** Wait for conmon's line in the sync file, a failed first conmon, a dead monitor, or a timeout. */
  private waitForSync(id: string, syncPath: string, child: FastChild): Promise<{ pid?: number; error?: string }> {
    const w = watchSyncFile<{ pid?: number; error?: string }>(syncPath, {
      probe: (text) => {
        const nl = text?.indexOf('\n') ?? -1;
        return nl < 0 ? undefined : parseSyncLine(text!.slice(0, nl));
      },
      pollMs: 50,
      // conmon.pid is written once the long-lived conmon exists; if it died, no line will come.
      tickEvery: 4,
      tick: () => (fs.existsSync(path.join(this.paths.bundle(id), 'conmon.pid')) && !this.conmonAlive(id)
        ? { error: this.ociLogError(id) ?? 'conmon exited before reporting the container pid' } : undefined),
      timeoutMs: CREATE_TIMEOUT_MS,
      onTimeout: () => ({ error: 'timed out waiting for conmon to create the container' }),
    });
    void child.exited.then(({ code, signal }) => {
      // The first conmon exits 0 right after its double fork; anything else is a failure.
      if (code === 0) return;
      if (!w.recheck()) w.settle({ error: this.ociLogError(id) ?? `conmon exited with ${code ?? signal}` });
    });
    return w.result;
  }

  private ociLogError(id: string): string | undefined {
    return ociLogError(path.join(this.paths.bundle(id), 'oci-log'), ['error']);
  }

  /** After a failed create nothing may remain: no runc state, no conmon, no bundle, no cgroup. */
  private async cleanupFailedCreate(id: string): Promise<void> {
    await this.killConmon(id);
    try { await this.cli(id).delete(id, true); } catch { /* usually: does not exist */ }
    await this.removeLeftovers(id);
  }

  async start(id: string): Promise<void> {
    // A size asked before start must reach the pty before the process looks at it.
    await this.ctlWriter.flush(path.join(this.paths.bundle(id), 'ctl'));
    const rt = this.runtimes.of(id);
    if (rt.stock && await this.startThroughFifo(id, rt)) return;
    try {
      await this.runtimes.cli(rt).start(id);
    } catch (err) {
      throw new StartFailedError(errorMessage(err), undefined, { cause: err });
    }
  }

  /**
   * What `runc start` does for a created container, without starting runc (~10 ms of every start): runc's
   * init waits to open <runc-root>/<id>/exec.fifo for writing; a reader lets it write one byte and exec the
   * user's process; the fifo then goes, which is how runc tells "running" from "created" afterwards.
   * Answers false (the caller runs `runc start`, which reports the real state) when there is no fifo, or
   * when the init is gone or silent.
   */
  private async startThroughFifo(id: string, rt: OciRuntimeRef): Promise<boolean> {
    const fifo = path.join(rt.root, id, 'exec.fifo');
    let pid: number;
    try { pid = Number.parseInt(fs.readFileSync(path.join(this.paths.bundle(id), 'pidfile'), 'utf8').trim(), 10); } catch { return false; }
    let fd: number;
    try {
      // Non-blocking: an open for reading must not wait for a writer that may never come.
      fd = fs.openSync(fifo, fs.constants.O_RDONLY | fs.constants.O_NONBLOCK);
    } catch {
      return false;
    }
    try {
      const buf = Buffer.alloc(1);
      const readByte = (): boolean | undefined => {
        try { return fs.readSync(fd, buf, 0, 1, null) === 1; } catch (err) {
          return (err as NodeJS.ErrnoException).code === 'EAGAIN' ? false : undefined;
        }
      };
      const deadline = Date.now() + 5000;
      for (let delay = 0; ; delay = Math.min(delay + 1, 10)) {
        const got = readByte();
        if (got) break;
        if (got === undefined) return false;
        // Nothing yet: the init has not opened its end, or opened and not written. A short command may
        // write, exec and exit between that read and this check: the byte then waits in the fifo.
        if (!processAlive(pid) || Date.now() > deadline) {
          if (readByte()) break;
          return false;
        }
        await sleep(delay);
      }
      fs.rmSync(fifo, { force: true });
      return true;
    } finally {
      fs.closeSync(fd);
    }
  }

  async kill(id: string, signal: string | number): Promise<void> {
    let sig: number;
    try { sig = signalNumber(signal); } catch (err) { throw new RuntimeError(errorMessage(err)); }
    try {
      await this.cli(id).kill(id, sig);
    } catch (err) {
      throw new RuntimeError(errorMessage(err), { cause: err });
    }
  }

  async delete(id: string, opts: { force?: boolean } = {}): Promise<void> {
    const rt = this.runtimes.of(id);
    const stateDir = path.join(rt.root, id);
    if (!fs.existsSync(stateDir)) {
      // Nothing of the runtime's left (deleted already, or never created): no runtime exec needed.
    } else if (rt.stock && this.reaped(id)) {
      // What `runc delete` does for a stopped container (libcontainer's destroy): remove its cgroups and its
      // state dir. Done here (cgroups in removeLeftovers) to save a runc exec, ~12 ms of every container's end.
      await fsp.rm(stateDir, { recursive: true, force: true });
    } else {
      try {
        await this.runtimes.cli(rt).delete(id, opts.force === true);
      } catch (err) {
        if (!isNotFound(err)) throw new RuntimeError(errorMessage(err), { cause: err });
      }
    }
    // After a forced kill conmon still writes the exit file: let it finish before removing it.
    await this.waitConmonGone(id, 2000);
    await this.killConmon(id);
    await this.removeLeftovers(id);
  }

  /**
   * Whether nothing of the container can still run: conmon wrote its exit file (so it reaped the init) and
   * the container had a pid namespace of its own (the kernel killed the rest with init). With a shared or
   * host pid namespace, processes may outlive init: runc delete must kill them.
   */
  private reaped(id: string): boolean {
    if (!fs.existsSync(this.paths.exitFile(id))) return false;
    try {
      const spec = JSON.parse(fs.readFileSync(path.join(this.paths.bundle(id), 'config.json'), 'utf8')) as OciSpec;
      return !!spec.linux?.namespaces?.some((n) => n.type === 'pid' && !n.path);
    } catch {
      return false;
    }
  }

  async state(id: string): Promise<{ status: 'created' | 'running' | 'paused' | 'stopped'; pid: number } | undefined> {
    const s = await this.cli(id).state(id);
    if (!s) return undefined;
    const status = s.status === 'creating' ? 'created' : s.status;
    return { status, pid: s.pid };
  }

  readExit(id: string): ExitInfo | undefined {
    const file = this.paths.exitFile(id);
    let text: string;
    let st: fs.Stats;
    try {
      text = fs.readFileSync(file, 'utf8');
      st = fs.statSync(file);
    } catch {
      return undefined;
    }
    const code = Number.parseInt(text.trim(), 10);
    if (!Number.isFinite(code)) return undefined;
    const oomKilled = fs.existsSync(path.join(this.paths.bundle(id), 'persist', 'oom'));
    return { code, finishedAt: st.mtime, oomKilled };
  }

  /**
   * Calls cb(id) once per exit file appearance in exits/. Exit files already present when the
   * first callback registers are reported too (containers that exited while the daemon was down).
   */
  onExit(cb: (id: string) => void): void {
    this.exitCallbacks.push(cb);
    if (this.watcher) return;
    try {
      this.watcher = fs.watch(this.paths.exitsDir, (_ev, name) => { if (name) this.checkExit(String(name)); });
      this.watcher.on('error', () => { /* the rescan still reports exits */ });
      this.watcher.unref();
    } catch { /* exits dir missing: init() not called; the rescan recovers once it exists */ }
    this.rescanTimer = setInterval(() => this.rescan(), RESCAN_MS);
    this.rescanTimer.unref();
    setImmediate(() => this.rescan());
  }

  /** Stop watching (tests, daemon shutdown). */
  close(): void {
    this.watcher?.close();
    this.watcher = undefined;
    if (this.rescanTimer) clearInterval(this.rescanTimer);
    this.rescanTimer = undefined;
  }

  private rescan(): void {
    let names: string[];
    try { names = fs.readdirSync(this.paths.exitsDir); } catch { return; }
    const present = new Set(names);
    for (const id of [...this.reported.keys()]) if (!present.has(id)) this.reported.delete(id);
    for (const n of names) this.checkExit(n);
  }

  private checkExit(name: string): void {
    let st: fs.Stats;
    try { st = fs.statSync(path.join(this.paths.exitsDir, name)); } catch { this.reported.delete(name); return; }
    if (!st.isFile()) return;
    // conmon writes <id>.XXXXXX then renames; only names with a bundle are container ids.
    if (!fs.existsSync(this.paths.bundle(name))) return;
    if (this.reported.get(name) === st.mtimeMs) return;
    this.reported.set(name, st.mtimeMs);
    for (const cb of this.exitCallbacks) {
      try { cb(name); } catch { /* a failing listener must not stop the others */ }
    }
  }

  conmonAlive(id: string): boolean {
    const pid = this.conmonPid(id);
    return pid !== undefined && processAlive(pid, 'conmon');
  }

  private conmonPid(id: string): number | undefined {
    return readPidFile(path.join(this.paths.bundle(id), 'conmon.pid'));
  }

  private async waitConmonGone(id: string, ms: number): Promise<void> {
    const deadline = Date.now() + ms;
    // conmon exits a moment after writing the exit file: look often at first.
    for (let i = 0; this.conmonAlive(id) && Date.now() < deadline; i++) await sleep(i < 10 ? 2 : 10);
  }

  private async killConmon(id: string): Promise<void> {
    await killConmonPid(this.conmonPid(id));
  }

  private async removeLeftovers(id: string): Promise<void> {
    const bundle = this.paths.bundle(id);
    let cgroupsPath = `/berth/${id}`;
    try {
      const spec = JSON.parse(fs.readFileSync(path.join(bundle, 'config.json'), 'utf8')) as OciSpec;
      if (spec.linux?.cgroupsPath) cgroupsPath = spec.linux.cgroupsPath;
    } catch { /* keep the default */ }
    removeCgroupDirs(cgroupsPath);
    fs.rmSync(this.paths.exitFile(id), { force: true });
    this.reported.delete(id);
    await fsp.rm(bundle, { recursive: true, force: true });
    this.runtimes.forget(id);
  }

  async attach(id: string): Promise<AttachConnection> {
    try {
      const bundle = this.paths.bundle(id);
      return await connectAttachSocket(bundle, { queueUntilRead: false, pidFile: path.join(bundle, 'pidfile') });
    } catch (err) {
      throw new RuntimeError(`cannot attach to container ${id}: ${errorMessage(err)}`, { cause: err });
    }
  }

  resize(id: string, rows: number, cols: number): void {
    this.ctl(id, `1 ${Math.max(0, Math.trunc(rows))} ${Math.max(0, Math.trunc(cols))}\n`);
  }

  /** Ask conmon to reopen its log file (after berthd rotated it away). */
  reopenLog(id: string): void {
    this.ctl(id, '2 0 0\n');
  }

  private ctl(id: string, msg: string): void {
    void this.ctlWriter.send(path.join(this.paths.bundle(id), 'ctl'), msg);
  }

  async pause(id: string): Promise<void> { await this.cli(id).pause(id); }
  async resume(id: string): Promise<void> { await this.cli(id).resume(id); }
  async update(id: string, o: UpdateOptions): Promise<void> { await this.cli(id).update(id, o); }

  /** Containers in every configured runtime's state root (each remembered with the runtime that lists it). */
  async list(): Promise<string[]> {
    const ids: string[] = [];
    for (const rt of this.runtimes.all()) {
      if (!fs.existsSync(rt.root)) continue;
      let found: { id: string }[];
      try { found = await this.runtimes.cli(rt).list(); } catch { continue; /* one runtime's failure hides no other's containers */ }
      for (const c of found) {
        this.runtimes.adopt(c.id, rt);
        ids.push(c.id);
      }
    }
    return ids;
  }
}

let hierarchies: string[] | undefined;

/** rmdir <hierarchy><cgroupsPath> in every mounted cgroup hierarchy (v1 controllers + unified). */
export function removeCgroupDirs(cgroupsPath: string): void {
  if (!cgroupsPath.startsWith('/')) return;
  if (!hierarchies) {
    hierarchies = ['/sys/fs/cgroup'];
    try {
      for (const e of fs.readdirSync('/sys/fs/cgroup', { withFileTypes: true })) {
        if (e.isDirectory()) hierarchies.push(path.join('/sys/fs/cgroup', e.name));
      }
    } catch { /* no cgroupfs */ }
  }
  for (const h of hierarchies) {
    const dir = path.join(h, cgroupsPath);
    if (dir === h) continue;
    try { fs.rmdirSync(dir); } catch { /* absent, or a subtree that is not ours */ }
  }
}
