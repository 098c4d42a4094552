import { requireCjs } from './cjs.js';
import net from 'node:net';
import os from 'node:os';
import { SystemError } from '../errors.js';

// CommonJS packages through require(): see src/sys/cjs.ts.
const koffi = requireCjs('koffi') as typeof import('koffi').default;

/**
 * Starting programs without fork(). Node's child_process forks berthd, and fork copies the page tables of
 * the whole daemon: measured here ~0.08 ms per MB of RSS, 4-5 ms of blocked event loop per spawn at
 * berthd's size, several spawns per container (conmon, runc, CNI plugins). glibc's posix_spawn uses
 * clone(CLONE_VM|CLONE_VFORK): a fraction of a millisecond whatever the daemon's size.
 *
 * libuv only reaps the children it started itself, so these are reaped here: waitpid(WNOHANG) on a short,
 * backing-off timer while any is outstanding, and at once when one of its pipes closes.
 */

/** What a child's fd is connected to: /dev/null, a new pipe (direction seen from the child), or an fd of ours. */
export type FdSpec = 'ignore' | 'pipe-read' | 'pipe-write' | number;

export interface SpawnOptions {
  /** The whole environment of the child (nothing is inherited). */
  env: Record<string, string | undefined>;
  cwd?: string;
  /** Child fd i ← fds[i]; fds past the array are closed (everything of berthd's is close-on-exec). Default: 3 × ignore. */
  fds?: FdSpec[];
  /** A new session (setsid), as child_process's `detached`. */
  detached?: boolean;
}

export interface ExitStatus { code: number | null; signal: NodeJS.Signals | null }

export interface FastChild {
  pid: number;
  /** Our ends of the 'pipe-*' fds, by child fd number. */
  pipes: Map<number, net.Socket>;
  exited: Promise<ExitStatus>;
}

interface Libc {
  posix_spawnp: (pid: number[], file: string, fa: Buffer, attr: Buffer, argv: (string | null)[], envp: (string | null)[]) => number;
  fa_init: (fa: Buffer) => number;
  fa_destroy: (fa: Buffer) => number;
  fa_adddup2: (fa: Buffer, fd: number, newfd: number) => number;
  fa_addopen: (fa: Buffer, fd: number, path: string, flags: number, mode: number) => number;
  fa_addchdir: (fa: Buffer, path: string) => number;
  attr_init: (a: Buffer) => number;
  attr_destroy: (a: Buffer) => number;
  attr_setflags: (a: Buffer, flags: number) => number;
  attr_setsigmask: (a: Buffer, set: Buffer) => number;
  attr_setsigdefault: (a: Buffer, set: Buffer) => number;
  sigemptyset: (set: Buffer) => number;
  sigfillset: (set: Buffer) => number;
  pipe2: (fds: Int32Array, flags: number) => number;
  fcntl: (fd: number, cmd: number, arg: number) => number;
  close: (fd: number) => number;
  waitpid: (pid: number, status: Int32Array, options: number) => number;
}

let libc: Libc | undefined;
function lib(): Libc {
  if (libc) return libc;
  const c = koffi.load('libc.so.6');
  libc = {
    posix_spawnp: c.func('int posix_spawnp(_Out_ int *pid, const char *file, void *fa, void *attr, const char **argv, const char **envp)'),
    fa_init: c.func('int posix_spawn_file_actions_init(void *fa)'),
    fa_destroy: c.func('int posix_spawn_file_actions_destroy(void *fa)'),
    fa_adddup2: c.func('int posix_spawn_file_actions_adddup2(void *fa, int fd, int newfd)'),
    fa_addopen: c.func('int posix_spawn_file_actions_addopen(void *fa, int fd, const char *path, int flags, uint32_t mode)'),
    fa_addchdir: c.func('int posix_spawn_file_actions_addchdir_np(void *fa, const char *path)'),
    attr_init: c.func('int posix_spawnattr_init(void *attr)'),
    attr_destroy: c.func('int posix_spawnattr_destroy(void *attr)'),
    attr_setflags: c.func('int posix_spawnattr_setflags(void *attr, short flags)'),
    attr_setsigmask: c.func('int posix_spawnattr_setsigmask(void *attr, void *set)'),
    attr_setsigdefault: c.func('int posix_spawnattr_setsigdefault(void *attr, void *set)'),
    sigemptyset: c.func('int sigemptyset(void *set)'),
    sigfillset: c.func('int sigfillset(void *set)'),
    pipe2: c.func('int pipe2(void *fds, int flags)'),
    fcntl: c.func('int fcntl(int fd, int cmd, int arg)'),
    close: c.func('int close(int fd)'),
    waitpid: c.func('int waitpid(int pid, void *status, int options)'),
  };
  return libc;
}

const O_CLOEXEC = 0o2000000;
const O_RDWR = 2;
const F_DUPFD_CLOEXEC = 1030;
const WNOHANG = 1;
const POSIX_SPAWN_SETSIGDEF = 0x04;
const POSIX_SPAWN_SETSIGMASK = 0x08;
const POSIX_SPAWN_SETSID = 0x80;
/** Generous sizes for glibc's opaque structs (file actions 80 bytes, attr 336, sigset 128 on x86_64/arm64). */
const FA_SIZE = 256, ATTR_SIZE = 512, SIGSET_SIZE = 256;

function errnoError(what: string, errno: number): SystemError {
  const code = Object.entries(os.constants.errno).find(([, v]) => v === errno)?.[0] ?? `E${errno}`;
  return Object.assign(new SystemError(`${what}: ${code}`), { code, errno });
}

/** An fd of ours at 10 or above, so that no dup2 in the child has source == target (which would keep CLOEXEC). */
function highFd(c: Libc, fd: number): number {
  if (fd >= 10) return fd;
  const nfd = c.fcntl(fd, F_DUPFD_CLOEXEC, 10);
  c.close(fd);
  if (nfd < 0) throw errnoError('fcntl(F_DUPFD_CLOEXEC)', koffi.errno());
  return nfd;
}

export function spawnFast(file: string, args: string[], opts: SpawnOptions): FastChild {
  const c = lib();
  const fds = opts.fds ?? ['ignore', 'ignore', 'ignore'];
  if (fds.length > 10) throw new SystemError('spawnFast: child fds must be below 10');
  const fa = Buffer.alloc(FA_SIZE);
  const attr = Buffer.alloc(ATTR_SIZE);
  const childEnds: number[] = [];
  const ourEnds = new Map<number, number>();
  const tmpDups: number[] = [];
  c.fa_init(fa);
  c.attr_init(attr);
  try {
    fds.forEach((spec, target) => {
      if (spec === 'ignore') {
        if (c.fa_addopen(fa, target, '/dev/null', O_RDWR, 0) !== 0) throw new SystemError('posix_spawn_file_actions_addopen failed');
      } else if (spec === 'pipe-read' || spec === 'pipe-write') {
        const p = new Int32Array(2);
        if (c.pipe2(p, O_CLOEXEC) !== 0) throw errnoError('pipe2', koffi.errno());
        const r = highFd(c, p[0]!), w = highFd(c, p[1]!);
        const [child, ours] = spec === 'pipe-read' ? [r, w] : [w, r];
        childEnds.push(child);
        ourEnds.set(target, ours);
        c.fa_adddup2(fa, child, target);
      } else {
        // Sources go high first: a source equal to its target would keep CLOEXEC, and a low source could be
        // overwritten by an earlier dup2 onto the same number.
        const fd = c.fcntl(spec, F_DUPFD_CLOEXEC, 10);
        if (fd < 0) throw errnoError('fcntl(F_DUPFD_CLOEXEC)', koffi.errno());
        tmpDups.push(fd);
        c.fa_adddup2(fa, fd, target);
      }
    });
    if (opts.cwd && c.fa_addchdir(fa, opts.cwd) !== 0) throw new SystemError('posix_spawn_file_actions_addchdir_np failed');
    // As libuv does for its children: every signal to its default action, none blocked (Node ignores SIGPIPE).
    const all = Buffer.alloc(SIGSET_SIZE), none = Buffer.alloc(SIGSET_SIZE);
    c.sigfillset(all);
    c.sigemptyset(none);
    c.attr_setsigdefault(attr, all);
    c.attr_setsigmask(attr, none);
    c.attr_setflags(attr, POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK | (opts.detached ? POSIX_SPAWN_SETSID : 0));
    const env = Object.entries(opts.env).filter(([, v]) => v !== undefined).map(([k, v]) => `${k}=${v}`);
    const pidOut = [0];
    const rc = c.posix_spawnp(pidOut, file, fa, attr, [file, ...args, null], [...env, null]);
    if (rc !== 0) throw errnoError(`spawn ${file}`, rc);
    const pid = pidOut[0]!;
    const pipes = new Map<number, net.Socket>();
    for (const [target, fd] of ourEnds) {
      const childReads = fds[target] === 'pipe-read';
      pipes.set(target, new net.Socket({ fd, readable: !childReads, writable: childReads }));
    }
    ourEnds.clear();
    const exited = reaper.watch(pid);
    // A closed pipe usually means the child is gone: look at once rather than at the next tick.
    for (const s of pipes.values()) s.once('close', () => reaper.poke());
    return { pid, pipes, exited };
  } finally {
    for (const fd of childEnds) c.close(fd);
    for (const fd of ourEnds.values()) c.close(fd); // only left when spawning failed
    for (const fd of tmpDups) c.close(fd);
    c.fa_destroy(fa);
    c.attr_destroy(attr);
  }
}

const SIGNAL_NAMES = new Map(Object.entries(os.constants.signals).map(([k, v]) => [v, k as NodeJS.Signals]));

/** One timer for all outstanding children, fast at first (most are short-lived), slower as they age. */
class Reaper {
  private waiting = new Map<number, { since: number; resolve: (s: ExitStatus) => void }>();
  private timer: NodeJS.Timeout | undefined;
  private readonly status = new Int32Array(1);

  watch(pid: number): Promise<ExitStatus> {
    return new Promise((resolve) => {
      this.waiting.set(pid, { since: Date.now(), resolve });
      this.schedule(1);
    });
  }

  poke(): void {
    if (this.waiting.size) setImmediate(() => this.check());
  }

  private schedule(ms: number): void {
    if (this.timer) return;
    // Ref'd: whoever awaits `exited` needs the loop alive until it settles (berthd exits with process.exit).
    this.timer = setTimeout(() => { this.timer = undefined; this.check(); }, ms);
  }

  private check(): void {
    const c = lib();
    let youngest = Infinity;
    const now = Date.now();
    for (const [pid, w] of this.waiting) {
      const r = c.waitpid(pid, this.status, WNOHANG);
      if (r === pid || (r < 0 && koffi.errno() === os.constants.errno.ECHILD)) {
        this.waiting.delete(pid);
        const st = this.status[0]!;
        const sig = st & 0x7f;
        w.resolve(r < 0 ? { code: null, signal: null } : sig === 0 ? { code: (st >> 8) & 0xff, signal: null } : { code: null, signal: SIGNAL_NAMES.get(sig) ?? null });
      } else {
        youngest = Math.min(youngest, now - w.since);
      }
    }
    if (this.waiting.size) this.schedule(youngest < 50 ? 2 : youngest < 1000 ? 10 : 100);
  }
}

const reaper = new Reaper();

export interface CaptureResult { code: number | null; signal: NodeJS.Signals | null; stdout: Buffer; stderr: Buffer }

/** Runs a program to completion with stdin from `input`, capturing stdout and stderr (execFile's job). */
export async function execCapture(file: string, args: string[], opts: { env: Record<string, string | undefined>; input?: string | Buffer; cwd?: string; maxBuffer?: number }): Promise<CaptureResult> {
  const child = spawnFast(file, args, { env: opts.env, cwd: opts.cwd, fds: [opts.input !== undefined ? 'pipe-read' : 'ignore', 'pipe-write', 'pipe-write'] });
  const max = opts.maxBuffer ?? 16 * 1024 * 1024;
  const collect = (s: net.Socket | undefined): Promise<Buffer> => new Promise((resolve) => {
    if (!s) { resolve(Buffer.alloc(0)); return; }
    const parts: Buffer[] = [];
    let size = 0;
    s.on('data', (d: Buffer) => { size += d.length; if (size <= max) parts.push(d); });
    s.on('error', () => undefined);
    s.on('close', () => resolve(Buffer.concat(parts)));
  });
  const stdin = child.pipes.get(0);
  if (stdin) { stdin.on('error', () => undefined); stdin.end(opts.input ?? ''); }
  const [stdout, stderr, status] = await Promise.all([collect(child.pipes.get(1)), collect(child.pipes.get(2)), child.exited]);
  return { ...status, stdout, stderr };
}

/** Thrown by execFileFast for a non-zero exit or a signal; carries what the program printed. */
export class ExecFailure extends SystemError {
  constructor(message: string, readonly exitCode: number | null, readonly signal: NodeJS.Signals | null, readonly stdout: string, readonly stderr: string) {
    super(message);
  }
}

/**
 * child_process.execFile's contract over a capture: stdout/stderr as text on exit 0, an ExecFailure
 * otherwise. The one implementation, shared by ProcessRunner.run (process-runner.ts) and its fake.
 */
export async function runVia(
  capture: (file: string, args: string[], opts: { env: Record<string, string | undefined>; input?: string | Buffer; cwd?: string; maxBuffer?: number }) => Promise<CaptureResult>,
  file: string, args: string[], opts: { env?: Record<string, string | undefined>; input?: string | Buffer; cwd?: string; maxBuffer?: number } = {},
): Promise<{ stdout: string; stderr: string }> {
  const r = await capture(file, args, { env: opts.env ?? process.env, input: opts.input, cwd: opts.cwd, maxBuffer: opts.maxBuffer });
  const stdout = r.stdout.toString('utf8'), stderr = r.stderr.toString('utf8');
  if (r.code === 0) return { stdout, stderr };
  const how = r.signal ? `killed by ${r.signal}` : `exit status ${r.code}`;
  throw new ExecFailure(`Command failed (${how}): ${file} ${args.join(' ')}\n${stderr.trim()}`, r.code, r.signal, stdout, stderr);
}

/** runVia on the real spawn; prefer a ProcessRunner (process-runner.ts) in new code. */
export function execFileFast(file: string, args: string[], opts: { env?: Record<string, string | undefined>; input?: string | Buffer; cwd?: string; maxBuffer?: number } = {}): Promise<{ stdout: string; stderr: string }> {
  return runVia(execCapture, file, args, opts);
}
