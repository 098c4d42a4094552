/** exec and attach: hijacked connections with docker's stdin/tty/detach behaviour (see ../hijack-stream.ts). */
import { envValue, readKvFile } from '../container-config.js';
import { StatusError, bool, list, str, type CliContext, type Command } from '../context.js';
import { checkTty, exitOrDetach, isTerminal, monitorTtySize, streamHijacked } from '../hijack-stream.js';

/** docker's --sig-proxy for a container without a tty: SIGINT/SIGTERM go to the container. */
export function proxySignals(ctx: CliContext, id: string): () => void {
  // only when the real terminal drives us (tests run the CLI in-process with fake stdio)
  if (ctx.io.stdin !== process.stdin) return () => undefined;
  const forward = (sig: NodeJS.Signals) => { ctx.client.containers.kill(id, sig).catch(() => undefined); };
  process.on('SIGINT', forward);
  process.on('SIGTERM', forward);
  return () => { process.off('SIGINT', forward); process.off('SIGTERM', forward); };
}

function ttySize(ctx: CliContext): [number, number] {
  const o = ctx.io.stdout as { rows?: number; columns?: number };
  return isTerminal(ctx.io.stdout) ? [o.rows ?? 0, o.columns ?? 0] : [0, 0];
}

const exec: Command = {
  spec: {
    path: 'exec', usage: 'exec [OPTIONS] CONTAINER COMMAND [ARG...]', desc: 'Execute a command in a running container',
    aliases: ['container exec', 'exec'], stopAtFirstPositional: true, args: { min: 2 },
    flags: [
      { name: 'detach', short: 'd', kind: 'bool', desc: 'Detached mode: run command in the background' },
      { name: 'detach-keys', kind: 'string', desc: 'Override the key sequence for detaching a container' },
      { name: 'env', short: 'e', kind: 'list', desc: 'Set environment variables' },
      { name: 'env-file', kind: 'list', desc: 'Read in a file of environment variables' },
      { name: 'interactive', short: 'i', kind: 'bool', desc: 'Keep STDIN open even if not attached' },
      { name: 'privileged', kind: 'bool', desc: 'Give extended privileges to the command' },
      { name: 'tty', short: 't', kind: 'bool', desc: 'Allocate a pseudo-TTY' },
      { name: 'user', short: 'u', kind: 'string', desc: 'Username or UID (format: "<name|uid>[:<group|gid>]")' },
      { name: 'workdir', short: 'w', kind: 'string', desc: 'Working directory inside the container' },
    ],
  },
  async run(ctx, p) {
    const [container, ...cmd] = p.args as [string, ...string[]];
    const env = ctx.io.env;
    const envList = [...list(p, 'env-file').flatMap((f) => readKvFile(f, env, true)), ...list(p, 'env').map((e) => envValue(e, env))];
    const detach = bool(p, 'detach');
    const tty = bool(p, 'tty');
    const attachStdin = !detach && bool(p, 'interactive');
    const detachKeys = str(p, 'detach-keys') || ctx.config.detachKeys || '';
    // docker's parseExec: the Go struct's field order and zero values
    const config: Record<string, unknown> = {
      User: str(p, 'user'), Privileged: bool(p, 'privileged'), Tty: tty, ConsoleSize: tty ? ttySize(ctx) : null,
      AttachStdin: attachStdin, AttachStderr: !detach, AttachStdout: !detach, Detach: detach,
      DetachKeys: detachKeys, Env: envList, WorkingDir: str(p, 'workdir'), Cmd: cmd,
    };

    await ctx.client.containers.inspect(container);
    if (!detach) checkTty(ctx.io.stdin, attachStdin, tty);
    const created = await ctx.client.exec.create(container, config);
    const execId = created?.Id;
    if (!execId) throw new Error('exec ID empty');
    const start = { Detach: detach, Tty: tty, ConsoleSize: config.ConsoleSize };
    if (detach) {
      await ctx.client.exec.startDetached(execId, start);
      return 0;
    }

    const h = await ctx.client.exec.startAttached(execId, start);
    const session = streamHijacked(h, {
      tty, stdin: attachStdin ? ctx.io.stdin : null, stdout: ctx.io.stdout, stderr: tty ? ctx.io.stdout : ctx.io.stderr,
      detachKeys, warn: (m) => ctx.err(`${m}\n`),
    });
    let stopResize: (() => void) | undefined;
    try {
      if (tty && isTerminal(ctx.io.stdin)) {
        stopResize = monitorTtySize(ctx.io.stdout, (hh, w) => ctx.client.exec.resize(execId, hh, w), (m) => ctx.err(`${m}\n`));
      }
      const end = await session.done;
      // docker returns the escape error here: it prints "read escape sequence" and exits 1
      if (end === 'detached') throw new StatusError('read escape sequence', 1);
    } finally {
      stopResize?.();
      session.close();
    }
    const info = await ctx.client.exec.inspect(execId);
    return Number(info?.ExitCode ?? 0);
  },
};

/** docker's inspectContainerAndCheckState */
async function attachableContainer(ctx: CliContext, ref: string): Promise<any> {
  const c = await ctx.client.containers.inspect(ref);
  if (!c.State?.Running) throw new StatusError('You cannot attach to a stopped container, start it first', 1);
  if (c.State?.Paused) throw new StatusError('You cannot attach to a paused container, unpause it first', 1);
  if (c.State?.Restarting) throw new StatusError('You cannot attach to a restarting container, wait until it is running', 1);
  return c;
}

const attach: Command = {
  spec: {
    path: 'attach', usage: 'attach [OPTIONS] CONTAINER', desc: 'Attach local standard input, output, and error streams to a running container',
    aliases: ['container attach', 'attach'], args: { exact: 1 },
    flags: [
      { name: 'detach-keys', kind: 'string', desc: 'Override the key sequence for detaching a container' },
      { name: 'no-stdin', kind: 'bool', desc: 'Do not attach STDIN' },
      { name: 'sig-proxy', kind: 'bool', desc: 'Proxy all received signals to the process', default: true },
    ],
  },
  async run(ctx, p) {
    const ref = p.args[0]!;
    // registered first, as docker does, so an exit during the attach is not missed
    const wait = ctx.client.containers.wait(ref, 'not-running');
    let c;
    try {
      c = await attachableContainer(ctx, ref);
    } catch (e) {
      wait.cancel();
      throw e;
    }
    const id: string = c.Id ?? ref;
    const tty = Boolean(c.Config?.Tty);
    const noStdin = bool(p, 'no-stdin');
    const withStdin = !noStdin && Boolean(c.Config?.OpenStdin);
    const detachKeys = str(p, 'detach-keys') || ctx.config.detachKeys || '';
    const unproxy = p.flags['sig-proxy'] !== false && !tty ? proxySignals(ctx, id) : () => undefined;
    let stopResize: (() => void) | undefined;
    let session;
    try {
      checkTty(ctx.io.stdin, !noStdin, tty);
      const h = await ctx.client.containers.attach(id, { stream: true, stdin: withStdin || undefined, stdout: true, stderr: true, detachKeys: detachKeys || undefined });
      session = streamHijacked(h, {
        tty, stdin: withStdin ? ctx.io.stdin : null, stdout: ctx.io.stdout, stderr: ctx.io.stderr, detachKeys, warn: (m) => ctx.err(`${m}\n`),
      });
      await attachableContainer(ctx, id);
      if (tty && isTerminal(ctx.io.stdout)) {
        stopResize = monitorTtySize(ctx.io.stdout, (hh, w) => ctx.client.containers.resize(id, hh, w), (m) => ctx.err(`${m}\n`), true);
      }
      let waitError = '';
      const status = wait.result.then((r) => {
        if (r.Error?.Message) { waitError = r.Error.Message; return 1; }
        return r.StatusCode;
      });
      const outcome = await exitOrDetach(session.done, status, withStdin, async () => {
        const i = await ctx.client.containers.inspect(id);
        return Boolean(i.State?.Running);
      });
      if (outcome.detached) { wait.cancel(); return 0; }
      if (waitError) throw new StatusError(waitError, 1);
      return outcome.status;
    } catch (e) {
      wait.cancel();
      throw e;
    } finally {
      stopResize?.();
      unproxy();
      session?.close();
    }
  },
};

export const commands: Record<string, Command> = { exec, attach };
