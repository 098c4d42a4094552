// Runs a CLI inside a real pseudo-terminal, as a user's terminal would, so `-it`, detach keys and resize can
// be tested. Node has no pty of its own; a small python3 relay (standard library only) owns the pty:
//   child stdin  -> pty master (keystrokes)          pty master -> child stdout (the terminal's screen)
//   fd 3 (lines) -> side channel: "R <rows> <cols>" resizes (TIOCSWINSZ on the master; the kernel sends
//                   SIGWINCH to the foreground group), "M" asks whether the terminal is in raw mode
//   child stderr <- answers to "M": "MODE raw" | "MODE cooked"
// The relay exits with the command's exit code (128+N when killed by signal N).
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const RELAY = String.raw`
import os, pty, sys, select, fcntl, termios, struct, signal, errno
rows, cols = int(sys.argv[1]), int(sys.argv[2])
cmd = sys.argv[3:]
def winsz(fd, r, c):
    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack('HHHH', r, c, 0, 0))
pid, master = pty.fork()
if pid == 0:
    # The child's size is set before exec, so the command's first TIOCGWINSZ already sees it.
    winsz(0, rows, cols)
    try:
        os.execvp(cmd[0], cmd)
    finally:
        os._exit(127)
side = os.fdopen(3, 'rb', buffering=0)
inputs = [master, 0, side]
sidebuf = b''
status = None
def drain():
    while True:
        try:
            r, _, _ = select.select([master], [], [], 0.2)
            if not r: return
            data = os.read(master, 65536)
            if not data: return
            os.write(1, data)
        except OSError:
            return
while True:
    if status is None:
        p, st = os.waitpid(pid, os.WNOHANG)
        if p == pid:
            status = st
            drain()
            break
    r, _, _ = select.select(inputs, [], [], 0.1)
    if master in r:
        try:
            data = os.read(master, 65536)
        except OSError as e:
            data = b''
        if not data:
            inputs.remove(master)
            _, status = os.waitpid(pid, 0)
            break
        os.write(1, data)
    if 0 in r:
        data = os.read(0, 65536)
        if not data:
            inputs.remove(0)  # keep the terminal open: EOF on our stdin is not the user closing the terminal
        else:
            os.write(master, data)
    if side in r:
        data = side.read(4096)
        if not data:
            inputs.remove(side)
        sidebuf += data or b''
        while b'\n' in sidebuf:
            line, sidebuf = sidebuf.split(b'\n', 1)
            parts = line.decode().split()
            if parts and parts[0] == 'R':
                winsz(master, int(parts[1]), int(parts[2]))
                try:
                    os.killpg(os.getpgid(pid), signal.SIGWINCH)
                except OSError:
                    pass
            elif parts and parts[0] == 'M':
                lflag = termios.tcgetattr(master)[3]
                raw = not (lflag & termios.ICANON) and not (lflag & termios.ECHO)
                sys.stderr.write('MODE %s\n' % ('raw' if raw else 'cooked'))
                sys.stderr.flush()
if os.WIFEXITED(status):
    sys.exit(os.WEXITSTATUS(status))
sys.exit(128 + os.WTERMSIG(status))
`;

let workDir: string | undefined;
function work(): string {
  if (workDir) return workDir;
  workDir = fs.mkdtempSync(path.join(os.tmpdir(), 'bt-pty-'));
  fs.writeFileSync(path.join(workDir, 'pty-relay.py'), RELAY);
  fs.mkdirSync(path.join(workDir, 'docker-config'));
  const dir = workDir;
  process.on('exit', () => fs.rmSync(dir, { recursive: true, force: true }));
  return workDir;
}
const relay = () => path.join(work(), 'pty-relay.py');

// As cli.ts: an empty docker config dir, so the user's ~/.docker (contexts, detachKeys, plugins) cannot matter.
function cliEnvFor(env: Record<string, string | undefined>): NodeJS.ProcessEnv {
  const out: NodeJS.ProcessEnv = {
    ...process.env, DOCKER_CONFIG: path.join(work(), 'docker-config'), DOCKER_CLI_HINTS: 'false', TERM: 'xterm', ...env,
  };
  for (const k of Object.keys(out)) if (out[k] === undefined) delete out[k];
  return out;
}

/** True when python3 with the pty module is available (the tests skip with a reason otherwise). */
export function ptyAvailable(): boolean {
  return spawnSync('python3', ['-c', 'import pty, termios, fcntl'], { stdio: 'ignore' }).status === 0;
}

export interface PtyExit { code: number | null; signal: NodeJS.Signals | null }

export interface PtyOptions {
  rows?: number;
  cols?: number;
  /** Extra environment (e.g. DOCKER_HOST); a key set to undefined is removed. */
  env?: Record<string, string | undefined>;
}

export class PtyProcess {
  /** Everything the terminal has shown so far (raw bytes decoded as UTF-8, escapes included). */
  output = '';
  readonly exited: Promise<PtyExit>;
  private readonly child: ChildProcess;
  private done = false;
  private result: PtyExit | undefined;
  private modeWaiters: Array<(mode: string) => void> = [];
  private errText = '';

  constructor(readonly argv: string[], opts: PtyOptions = {}) {
    this.child = spawn('python3', [relay(), String(opts.rows ?? 24), String(opts.cols ?? 80), ...argv], {
      env: cliEnvFor(opts.env ?? {}), stdio: ['pipe', 'pipe', 'pipe', 'pipe'],
    });
    this.child.stdout!.on('data', (d: Buffer) => { this.output += d.toString('utf8'); });
    this.child.stderr!.setEncoding('utf8').on('data', (d: string) => {
      this.errText += d;
      let m: RegExpExecArray | null;
      while ((m = /MODE (raw|cooked)\n/.exec(this.errText))) {
        this.errText = this.errText.slice(m.index + m[0].length);
        this.modeWaiters.shift()?.(m[1]!);
      }
    });
    this.child.stdin!.on('error', () => undefined);
    (this.child.stdio[3] as NodeJS.WritableStream).on('error', () => undefined);
    this.exited = new Promise((resolve) => this.child.on('close', (code, signal) => {
      this.done = true;
      this.result = { code, signal };
      for (const w of this.modeWaiters.splice(0)) w('gone');
      resolve(this.result);
    }));
  }

  get running(): boolean { return !this.done; }

  /** Types bytes into the terminal. */
  write(s: string): void { this.child.stdin!.write(s); }

  /** Resizes the terminal (the command gets SIGWINCH). */
  resize(rows: number, cols: number): void {
    (this.child.stdio[3] as NodeJS.WritableStream).write(`R ${rows} ${cols}\n`);
  }

  /** 'raw' when the command has put the terminal in raw mode (no ICANON, no ECHO), else 'cooked'. */
  mode(): Promise<string> {
    if (this.done) return Promise.resolve('gone');
    return new Promise((resolve) => {
      this.modeWaiters.push(resolve);
      (this.child.stdio[3] as NodeJS.WritableStream).write('M\n');
    });
  }

  /** Waits until the command has switched the terminal to raw mode (docker does after the stream is hijacked). */
  async waitRaw(timeoutMs = 15_000): Promise<void> {
    const end = Date.now() + timeoutMs;
    for (;;) {
      const m = await this.mode();
      if (m === 'raw') return;
      if (m === 'gone') throw new Error(`${this.argv.join(' ')} exited before raw mode: ${this.describe()}`);
      if (Date.now() > end) throw new Error(`${this.argv.join(' ')}: terminal not in raw mode after ${timeoutMs} ms: ${this.describe()}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  /** Resolves with the output from `from` on once it matches `re`; rejects on exit or timeout. */
  expect(re: RegExp, opts: { from?: number; timeoutMs?: number } = {}): Promise<string> {
    const from = opts.from ?? 0;
    const timeoutMs = opts.timeoutMs ?? 15_000;
    return new Promise((resolve, reject) => {
      const check = () => {
        const seen = this.output.slice(from);
        if (re.test(seen)) { cleanup(); resolve(seen); return true; }
        return false;
      };
      const onData = () => { check(); };
      const onClose = () => {
        if (!check()) { cleanup(); reject(new Error(`terminal closed before ${re} appeared: ${this.describe()}`)); }
      };
      const timer = setTimeout(() => { cleanup(); reject(new Error(`timed out after ${timeoutMs} ms waiting for ${re}: ${this.describe()}`)); }, timeoutMs);
      const cleanup = () => { clearTimeout(timer); this.child.stdout!.off('data', onData); this.child.off('close', onClose); };
      this.child.stdout!.on('data', onData);
      this.child.on('close', onClose);
      check();
    });
  }

  /** Waits for exit, killing the relay (and so the terminal) after timeoutMs. */
  async wait(timeoutMs = 15_000): Promise<PtyExit & { timedOut: boolean }> {
    let timedOut = false;
    const t = setTimeout(() => { timedOut = true; this.kill(); }, timeoutMs);
    const r = await this.exited;
    clearTimeout(t);
    return { ...r, timedOut };
  }

  /** Closes the terminal: SIGKILL to the relay; the kernel hangs up the pty, so the command gets SIGHUP. */
  kill(): void { if (!this.done) this.child.kill('SIGKILL'); }

  /** For failure messages: the screen with control bytes made visible. */
  describe(): string {
    return `exit=${this.result ? `${this.result.code}${this.result.signal ? `/${this.result.signal}` : ''}` : 'running'} screen=${JSON.stringify(this.output.slice(-2000))}`;
  }
}

/** Starts argv in a fresh rows x cols terminal. */
export function spawnPty(argv: string[], opts: PtyOptions = {}): PtyProcess {
  return new PtyProcess(argv, opts);
}
