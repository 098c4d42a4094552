/** start, stop, kill, restart, wait, rm, rename, container prune. */
import { isNotFound } from '../../client/engine-client.js';
import { humanSize } from '../../core/human.js';
import { StatusError, bool, filtersParam, list, num, str, type CliContext, type Command } from '../context.js';
import { reportErrorText } from '../errors.js';
import { exitOrDetach, isTerminal, monitorTtySize, streamHijacked } from '../hijack-stream.js';

/** Runs `op` on each target in order; prints the target on success; joins errors like errors.Join. */
async function eachTarget(ctx: CliContext, targets: string[], op: (t: string) => Promise<unknown>): Promise<number> {
  const errs: string[] = [];
  for (const t of targets) {
    try {
      await op(t);
      ctx.out(`${t}\n`);
    } catch (e) {
      errs.push(reportErrorText(e));
    }
  }
  if (errs.length) {
    ctx.err(errs.join('\n') + '\n');
    return 1;
  }
  return 0;
}

const start: Command = {
  spec: {
    path: 'start', usage: 'start [OPTIONS] CONTAINER [CONTAINER...]', desc: 'Start one or more stopped containers',
    aliases: ['container start', 'start'], args: { min: 1 },
    flags: [
      { name: 'attach', short: 'a', kind: 'bool', desc: 'Attach STDOUT/STDERR and forward signals' },
      { name: 'checkpoint', kind: 'string', desc: 'Restore from this checkpoint' },
      { name: 'checkpoint-dir', kind: 'string', desc: 'Use a custom checkpoint storage directory' },
      { name: 'detach-keys', kind: 'string', desc: 'Override the key sequence for detaching a container' },
      { name: 'interactive', short: 'i', kind: 'bool', desc: "Attach container's STDIN" },
    ],
  },
  async run(ctx, p) {
    // berthd has no checkpoint store (CRIU): refused rather than started fresh
    for (const f of ['checkpoint', 'checkpoint-dir']) {
      if (p.changed.has(f)) throw new StatusError(`berth: --${f} is not supported: berth cannot restore containers from checkpoints`, 125);
    }
    const attach = bool(p, 'attach');
    const interactive = bool(p, 'interactive');
    if (!attach && !interactive) {
      const failed: string[] = [];
      for (const c of p.args) {
        try {
          await ctx.client.containers.start(c);
          ctx.out(`${c}\n`);
        } catch (e) {
          ctx.err(reportErrorText(e) + '\n');
          failed.push(c);
        }
      }
      if (failed.length) throw new StatusError(`Error: failed to start containers: ${failed.join(', ')}`, 1);
      return 0;
    }
    if (p.args.length > 1) throw new StatusError('you cannot start and attach multiple containers at once', 1);
    const info = await ctx.client.containers.inspect(p.args[0]!);
    const id: string = info.Id;
    const tty = Boolean(info.Config?.Tty);
    const withStdin = interactive && Boolean(info.Config?.OpenStdin);
    const detachKeys = str(p, 'detach-keys') || ctx.config.detachKeys || '';
    const h = await ctx.client.containers.attach(id, { stream: true, stdin: withStdin || undefined, stdout: true, stderr: true, detachKeys: detachKeys || undefined });
    const session = streamHijacked(h, {
      tty, stdin: withStdin ? ctx.io.stdin : null, stdout: ctx.io.stdout, stderr: ctx.io.stderr, detachKeys, warn: (m) => ctx.err(`${m}\n`),
    });
    const wait = ctx.client.containers.wait(id, info.HostConfig?.AutoRemove ? 'removed' : 'next-exit');
    await wait.registered;
    let stopResize: (() => void) | undefined;
    try {
      try {
        await ctx.client.containers.start(id);
      } catch (e) {
        session.close();
        if (info.HostConfig?.AutoRemove) await wait.result.catch(() => undefined);
        throw e;
      }
      if (tty && isTerminal(ctx.io.stdout)) {
        stopResize = monitorTtySize(ctx.io.stdout, (hh, w) => ctx.client.containers.resize(id, hh, w), (m) => ctx.err(`${m}\n`));
      }
      const outcome = await exitOrDetach(session.done, wait.result.then((r) => r.StatusCode), withStdin, async () => {
        const i = await ctx.client.containers.inspect(id);
        return Boolean(i.State?.Running);
      });
      session.close();
      if (outcome.detached) wait.cancel();
      return outcome.detached ? 0 : outcome.status;
    } finally {
      stopResize?.();
      session.restore();
    }
  },
};

const signalFlag = { name: 'signal', short: 's', kind: 'string' as const, desc: 'Signal to send to the container' };
const timeoutFlag = { name: 'timeout', short: 't', kind: 'int' as const, desc: 'Seconds to wait before killing the container' };
const timeHidden = { name: 'time', kind: 'int' as const, desc: 'Seconds to wait before killing the container (deprecated: use --timeout)', hidden: true };

function stopQuery(p: Parameters<Command['run']>[1]) {
  const t = p.changed.has('timeout') ? num(p, 'timeout') : p.changed.has('time') ? num(p, 'time') : undefined;
  return { signal: str(p, 'signal') || undefined, t };
}

const stop: Command = {
  spec: {
    path: 'stop', usage: 'stop [OPTIONS] CONTAINER [CONTAINER...]', desc: 'Stop one or more running containers',
    aliases: ['container stop', 'stop'], args: { min: 1 }, flags: [signalFlag, timeoutFlag, timeHidden],
  },
  run: (ctx, p) => eachTarget(ctx, p.args, (c) => ctx.client.containers.stop(c, stopQuery(p))),
};

const restart: Command = {
  spec: {
    path: 'restart', usage: 'restart [OPTIONS] CONTAINER [CONTAINER...]', desc: 'Restart one or more containers',
    aliases: ['container restart', 'restart'], args: { min: 1 }, flags: [signalFlag, timeoutFlag, timeHidden],
  },
  run: (ctx, p) => eachTarget(ctx, p.args, (c) => ctx.client.containers.restart(c, stopQuery(p))),
};

const kill: Command = {
  spec: {
    path: 'kill', usage: 'kill [OPTIONS] CONTAINER [CONTAINER...]', desc: 'Kill one or more running containers',
    aliases: ['container kill', 'kill'], args: { min: 1 }, flags: [signalFlag],
  },
  run: (ctx, p) => eachTarget(ctx, p.args, (c) => ctx.client.containers.kill(c, str(p, 'signal'))),
};

const wait: Command = {
  spec: {
    path: 'wait', usage: 'wait CONTAINER [CONTAINER...]', desc: 'Block until one or more containers stop, then print their exit codes',
    aliases: ['container wait', 'wait'], args: { min: 1 }, flags: [],
  },
  async run(ctx, p) {
    const errs: string[] = [];
    for (const c of p.args) {
      try {
        const r = await ctx.client.containers.wait(c, 'not-running').result;
        ctx.out(`${r.StatusCode}\n`);
      } catch (e) {
        errs.push(reportErrorText(e));
      }
    }
    if (errs.length) { ctx.err(errs.join('\n') + '\n'); return 1; }
    return 0;
  },
};

const rm: Command = {
  spec: {
    path: 'rm', usage: 'rm [OPTIONS] CONTAINER [CONTAINER...]', desc: 'Remove one or more containers',
    aliases: ['container rm', 'container remove', 'rm'], args: { min: 1 },
    flags: [
      { name: 'force', short: 'f', kind: 'bool', desc: 'Force the removal of a running container (uses SIGKILL)' },
      { name: 'link', short: 'l', kind: 'bool', desc: 'Remove the specified link' },
      { name: 'volumes', short: 'v', kind: 'bool', desc: 'Remove anonymous volumes associated with the container' },
    ],
  },
  async run(ctx, p) {
    const force = bool(p, 'force');
    const errs: string[] = [];
    for (const raw of p.args) {
      const c = raw.replace(/^\/+|\/+$/g, '');
      try {
        if (!c) throw new Error('container name cannot be empty');
        await ctx.client.containers.remove(c, { force: force || undefined, v: bool(p, 'volumes') || undefined, link: bool(p, 'link') || undefined });
        ctx.out(`${raw}\n`);
      } catch (e) {
        if (force && isNotFound(e)) { ctx.err(reportErrorText(e) + '\n'); continue; }
        errs.push(reportErrorText(e));
      }
    }
    if (errs.length) { ctx.err(errs.join('\n') + '\n'); return 1; }
    return 0;
  },
};

const rename: Command = {
  spec: {
    path: 'rename', usage: 'rename CONTAINER NEW_NAME', desc: 'Rename a container',
    aliases: ['container rename', 'rename'], args: { exact: 2 }, flags: [],
  },
  async run(ctx, p) {
    const [oldName, newName] = p.args.map((s) => s.trim()) as [string, string];
    if (!oldName || !newName) throw new StatusError('Error: neither old nor new names may be empty', 1);
    await ctx.client.containers.rename(oldName, newName);
    return 0;
  },
};

/** Reads a y/N answer from the injected stdin. */
export async function confirm(ctx: CliContext, message: string): Promise<boolean> {
  ctx.out(`${message}\nAre you sure you want to continue? [y/N] `);
  const answer = await new Promise<string>((resolve) => {
    let buf = '';
    const stdin = ctx.io.stdin;
    const onData = (c: Buffer) => {
      buf += c.toString();
      if (buf.includes('\n')) finish();
    };
    const finish = () => { stdin.off('data', onData); stdin.off('end', finish); stdin.pause(); resolve(buf.split('\n')[0] ?? ''); };
    stdin.on('data', onData);
    stdin.on('end', finish);
    stdin.resume();
  });
  const ok = /^(y|yes)$/i.test(answer.trim());
  if (!ok) ctx.out('\n');
  return ok;
}

const prune: Command = {
  spec: {
    path: 'container prune', usage: 'container prune [OPTIONS]', desc: 'Remove all stopped containers', args: { exact: 0 },
    flags: [
      { name: 'filter', kind: 'list', type: 'filter', desc: 'Provide filter values (e.g. "until=<timestamp>")' },
      { name: 'force', short: 'f', kind: 'bool', desc: 'Do not prompt for confirmation' },
    ],
  },
  async run(ctx, p) {
    if (!bool(p, 'force') && !(await confirm(ctx, 'WARNING! This will remove all stopped containers.'))) {
      throw new StatusError('', 1);
    }
    const r = await ctx.client.containers.prune({ filters: filtersParam(list(p, 'filter')) });
    let out = '';
    if (r.ContainersDeleted?.length) out += 'Deleted Containers:\n' + r.ContainersDeleted.map((i) => i + '\n').join('') + '\n';
    out += `Total reclaimed space: ${humanSize(r.SpaceReclaimed ?? 0)}\n`;
    ctx.out(out);
    return 0;
  },
};

export const commands: Record<string, Command> = {
  start, stop, restart, kill, wait, rm, rename, 'container prune': prune,
};
