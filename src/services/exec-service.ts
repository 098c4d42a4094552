import { replaceOrAppendEnv } from '../core/env.js';
import { parseDetachKeys } from '../core/detach-keys.js';
import crypto from 'node:crypto';
import { ConflictError, InvalidParameterError, NotFoundError, SystemError, errorMessage } from '../errors.js';
import type { OciProcess } from '../core/oci-spec.js';
import type { AttachConnection } from '../core/attach-connection.js';
import type { ResolvedUser } from '../core/user.js';
import { startFailureOf } from '../runtime/start-failure.js';
import type { EventBus } from './events.js';
import { whenRemoved } from './container-gone.js';

/**
 * docker exec: create / start / inspect / resize. Exec records live in memory (as dockerd's); the
 * processes themselves run under conmon, so they outlive a daemon restart.
 */

/** What exec needs from a container record (consumer-defined; ContainerService.get satisfies it). */
export interface ExecContainer {
  Id: string;
  Name: string;
  State: { Running: boolean; Paused: boolean; Restarting?: boolean };
  Config: { Env?: string[] | null; User?: string; WorkingDir?: string; Image?: string; Labels?: Record<string, string> | null };
}

export interface ExecContainers {
  get(ref: string): ExecContainer;
}

/** An exec's stdio: the same AttachConnection as a container's. */
export type ExecConnection = AttachConnection;

/** What exec needs from the runtime (ConmonExec satisfies it). */
export interface ExecRuntime {
  containerProcess(containerId: string): Promise<OciProcess>;
  start(req: {
    containerId: string; execId: string; process: OciProcess; stdin: boolean; attach: boolean;
    size?: { height: number; width: number };
  }): Promise<{ pid: number; conn?: ExecConnection; exited: Promise<number> }>;
  resize(execId: string, rows: number, cols: number): void;
  cleanup(execId: string): Promise<void>;
}

export type UserResolver = (rootfs: string, user: string | undefined) => Promise<ResolvedUser>;

export interface ExecServiceDeps {
  containers: ExecContainers;
  runtime: ExecRuntime;
  events: EventBus;
  resolveUser: UserResolver;
  /** the container's rootfs on the host (Paths.containerRootfs) */
  rootfs: (containerId: string) => string;
  /** the exec's process spec is built from the container's; pure, injectable for tests */
  buildProcess: (base: OciProcess, o: {
    args: string[]; env: string[]; cwd: string; user: { uid: number; gid: number; additionalGids: number[] };
    terminal: boolean; privileged?: boolean;
  }) => OciProcess;
}

/** Engine API ExecConfig (POST /containers/{id}/exec). */
export interface ExecConfig {
  AttachStdin?: boolean;
  AttachStdout?: boolean;
  AttachStderr?: boolean;
  DetachKeys?: string;
  Tty?: boolean;
  Env?: string[] | null;
  Cmd?: string[] | null;
  WorkingDir?: string;
  User?: string;
  Privileged?: boolean;
  ConsoleSize?: number[] | null;
}

/** Engine API ExecStartConfig (POST /exec/{id}/start). */
export interface ExecStartConfig {
  Detach?: boolean;
  Tty?: boolean;
  ConsoleSize?: number[] | null;
}

interface ExecRecord {
  id: string;
  containerId: string;
  config: ExecConfig;
  running: boolean;
  started: boolean;
  exitCode: number | null;
  pid: number;
  /** a size asked for before the session existed */
  size?: { height: number; width: number };
  finishedAt?: number;
}

/** One exec start, ready to run: the route hijacks the connection first when attached. */
export interface ExecStart {
  /** the stream format (raw with a tty, multiplexed without), from the start request as dockerd */
  tty: boolean;
  attachStdin: boolean;
  attachStdout: boolean;
  attachStderr: boolean;
  /** the exec's detach keys ('' = the daemon default) */
  detachKeys: string;
  /**
   * Runs the process. Resolves once it has started: `conn` (attached) carries its output; `done`
   * resolves with the exit code after the record is updated (so inspect sees it). A start failure
   * rejects with Docker's message and records the exit code (127 not found, 126 cannot run).
   */
  run(late?: { ConsoleSize?: number[] | null }): Promise<{ conn?: ExecConnection; done: Promise<number>; released?: { removed: Promise<void>; cancel(): void } }>;
}

const KEEP_FINISHED = 500;

function shortCmd(cfg: ExecConfig): string { return (cfg.Cmd ?? []).join(' '); }

/** moby translateContainerdStartErr: which exit code a failed exec start records (127 not found, else 126). */
export function execStartExitCode(err: unknown): number {
  return startFailureOf(err) === 'not-found' ? 127 : 126;
}

function consoleSize(v: number[] | null | undefined): { height: number; width: number } | undefined {
  if (v == null) return undefined;
  if (!Array.isArray(v) || v.length !== 2 || v.some((n) => !Number.isInteger(n) || n < 0)) {
    throw new InvalidParameterError('invalid console size: must be an array of two non-negative integers [height, width]');
  }
  return v[0] || v[1] ? { height: v[0]!, width: v[1]! } : undefined;
}

export class ExecService {
  private readonly execs = new Map<string, ExecRecord>();

  constructor(private readonly d: ExecServiceDeps) {}

  private find(id: string): ExecRecord {
    const e = this.execs.get(id);
    if (!e) throw new NotFoundError(`No such exec instance: ${id}`);
    return e;
  }

  /** The container, if exec may run in it now (moby getActiveContainer). */
  private activeContainer(ref: string): ExecContainer {
    const c = this.d.containers.get(ref);
    if (c.State.Paused) throw new ConflictError(`Container ${ref} is paused, unpause the container before exec`);
    if (!c.State.Running) throw new ConflictError(`container ${c.Id} is not running`);
    if (c.State.Restarting) throw new ConflictError(`Container ${c.Id} is restarting, wait until the container is running`);
    return c;
  }

  private eventAttrs(c: ExecContainer, extra: Record<string, string>): Record<string, string> {
    return { ...(c.Config.Labels ?? {}), image: c.Config.Image ?? '', name: c.Name.replace(/^\//, ''), ...extra };
  }

  async create(ref: string, cfg: ExecConfig | undefined): Promise<{ Id: string }> {
    if (!cfg || typeof cfg !== 'object') throw new InvalidParameterError('invalid JSON: EOF');
    if (!Array.isArray(cfg.Cmd) || cfg.Cmd.length === 0) throw new InvalidParameterError('No exec command specified');
    if (cfg.Env != null && (!Array.isArray(cfg.Env) || cfg.Env.some((e) => typeof e !== 'string'))) {
      throw new InvalidParameterError('invalid environment: Env must be an array of strings');
    }
    for (const e of cfg.Env ?? []) {
      if (e.startsWith('=')) throw new InvalidParameterError(`invalid environment variable: ${e}`);
    }
    if (cfg.DetachKeys) parseDetachKeys(cfg.DetachKeys); // throws Docker's 'Invalid detach keys'
    consoleSize(cfg.ConsoleSize);
    const c = this.activeContainer(ref);
    const id = crypto.randomBytes(32).toString('hex');
    const config: ExecConfig = {
      AttachStdin: !!cfg.AttachStdin, AttachStdout: !!cfg.AttachStdout, AttachStderr: !!cfg.AttachStderr,
      Tty: !!cfg.Tty, Env: cfg.Env ?? [], Cmd: [...cfg.Cmd], WorkingDir: cfg.WorkingDir ?? '', User: cfg.User ?? '',
      Privileged: !!cfg.Privileged, DetachKeys: cfg.DetachKeys ?? '', ConsoleSize: cfg.ConsoleSize ?? null,
    };
    this.execs.set(id, { id, containerId: c.Id, config, running: false, started: false, exitCode: null, pid: 0 });
    this.gc();
    this.d.events.publish('container', `exec_create: ${shortCmd(config)}`, c.Id, this.eventAttrs(c, { execID: id }));
    return { Id: id };
  }

  /** Drop the oldest finished records beyond a bound (dockerd drops them with the container). */
  private gc(): void {
    const finished = [...this.execs.values()].filter((e) => e.finishedAt !== undefined);
    if (finished.length <= KEEP_FINISHED) return;
    finished.sort((a, b) => a.finishedAt! - b.finishedAt!);
    for (const e of finished.slice(0, finished.length - KEEP_FINISHED)) this.execs.delete(e.id);
  }

  inspect(id: string): Record<string, unknown> {
    const e = this.find(id);
    const cmd = e.config.Cmd ?? [];
    return {
      ID: e.id,
      Running: e.running,
      ExitCode: e.exitCode,
      ProcessConfig: {
        tty: !!e.config.Tty, entrypoint: cmd[0] ?? '', arguments: cmd.slice(1),
        privileged: !!e.config.Privileged, ...(e.config.User ? { user: e.config.User } : {}),
      },
      OpenStdin: !!e.config.AttachStdin,
      OpenStderr: !!e.config.AttachStderr,
      OpenStdout: !!e.config.AttachStdout,
      CanRemove: false,
      ContainerID: e.containerId,
      DetachKeys: e.config.DetachKeys ?? '',
      Pid: e.pid,
    };
  }

  /** Exec ids of one container (for its inspect's ExecIDs). */
  idsOf(containerId: string): string[] {
    return [...this.execs.values()].filter((e) => e.containerId === containerId && e.running).map((e) => e.id);
  }

  /**
   * Check and claim an exec for starting (409 if it already ran, or its container is not running);
   * the returned `run()` does the work.
   */
  start(id: string, opts: ExecStartConfig = {}): ExecStart {
    const e = this.find(id);
    if (e.started) {
      throw new ConflictError(e.running ? `Error: Exec command ${id} is already running` : `Error: Exec command ${id} has already run`);
    }
    const size0 = consoleSize(opts.ConsoleSize) ?? consoleSize(e.config.ConsoleSize);
    const c = this.activeContainer(e.containerId);
    e.started = true;
    const detach = !!opts.Detach;
    const cfg = e.config;
    return {
      // dockerd takes the stream format from the start request; without one, the exec's own tty
      tty: opts.Tty ?? !!cfg.Tty,
      attachStdin: !!cfg.AttachStdin && !detach,
      attachStdout: !!cfg.AttachStdout && !detach,
      attachStderr: !!cfg.AttachStderr && !detach,
      detachKeys: cfg.DetachKeys ?? '',
      // a body read after the hijack (upgraded requests) may still carry the size
      run: (late) => this.run(e, c, detach, consoleSize(late?.ConsoleSize) ?? size0 ?? e.size),
    };
  }

  private async run(e: ExecRecord, c: ExecContainer, detach: boolean, size?: { height: number; width: number }) {
    const cfg = e.config;
    let started: { pid: number; conn?: ExecConnection; exited: Promise<number> };
    try {
      const base = await this.d.runtime.containerProcess(c.Id);
      const user = await this.d.resolveUser(this.d.rootfs(c.Id), cfg.User || c.Config.User || undefined);
      let env = base.env.filter((v) => !v.startsWith('TERM='));
      if (cfg.Tty) env.push('TERM=xterm');
      if (cfg.User) env = replaceOrAppendEnv(env, [`HOME=${user.home || '/'}`]);
      env = replaceOrAppendEnv(env, cfg.Env ?? []);
      const proc = this.d.buildProcess(base, {
        args: cfg.Cmd ?? [], env, cwd: cfg.WorkingDir || c.Config.WorkingDir || base.cwd || '/',
        user: { uid: user.uid, gid: user.gid, additionalGids: user.additionalGids },
        terminal: !!cfg.Tty, privileged: !!cfg.Privileged,
      });
      started = await this.d.runtime.start({
        containerId: c.Id, execId: e.id, process: proc, stdin: !!cfg.AttachStdin && !detach,
        attach: !detach, size: cfg.Tty ? (size ?? { height: 24, width: 80 }) : undefined,
      });
    } catch (err) {
      const msg = `OCI runtime exec failed: ${errorMessage(err)}: unknown`;
      e.exitCode = execStartExitCode(err);
      e.finishedAt = Date.now();
      void this.d.runtime.cleanup(e.id).catch(() => undefined);
      throw e.exitCode === 127 ? new InvalidParameterError(msg, { cause: err }) : new SystemError(msg, { cause: err });
    }
    e.pid = started.pid;
    e.running = true;
    this.d.events.publish('container', `exec_start: ${shortCmd(cfg)}`, c.Id, this.eventAttrs(c, { execID: e.id }));
    const done = started.exited.then((code) => {
      e.running = false;
      e.exitCode = code;
      e.finishedAt = Date.now();
      this.d.events.publish('container', 'exec_die', c.Id, this.eventAttrs(c, { execID: e.id, exitCode: String(code) }));
      void this.d.runtime.cleanup(e.id).catch(() => undefined);
      return code;
    });
    // the container's removal: an attached client still behind then is dropped (api/stream/attach-session.ts)
    const exists = (id: string) => { try { this.d.containers.get(id); return true; } catch { return false; } };
    const released = started.conn ? whenRemoved(this.d.events, exists, c.Id) : undefined;
    return { conn: started.conn, done, released };
  }

  resize(id: string, height: number | undefined, width: number | undefined): void {
    const e = this.find(id);
    if (height === undefined || width === undefined || height < 0 || width < 0) {
      throw new InvalidParameterError('invalid resize: h and w must be non-negative integers');
    }
    if (!e.started) { e.size = { height, width }; return; }
    if (e.running && e.config.Tty) this.d.runtime.resize(id, height, width);
  }
}
