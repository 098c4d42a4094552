/** run and create: build the create body, pull on 404 (--pull=missing), attach, wait, start. */
import fs from 'node:fs';
import { DaemonUnreachableError, EngineApiError, isNotFound, jsonMessages } from '../../client/engine-client.js';
import { isDigest, isFullId } from '../../core/reference.js';
import { buildCreateRequest, familiarWithTag } from '../container-config.js';
import { CREATE_FLAGS, RUN_ONLY_FLAGS } from '../container-flags.js';
import { StatusError, bool, str, type CliContext, type Command } from '../context.js';
import { FlagError, type ParsedArgs } from '../flags.js';
import { checkTty, exitOrDetach, isTerminal, monitorTtySize, streamHijacked, type HijackSession } from '../hijack-stream.js';

/**
 * docker's toStatusError: "berth: <err>\n\nRun 'berth run --help'..." with 127/126/125. The exit code is read
 * from the message on purpose: the API's error body is only {"message"}, and this wording is the contract
 * docker's CLI keys on (so berthd keeps runc's words in it).
 */
export function runStatusError(e: unknown, cmdName = 'run'): StatusError {
  const msg = e instanceof EngineApiError ? `Error response from daemon: ${e.message}` : (e as Error).message;
  const text = `berth: ${msg}\n\nRun 'berth ${cmdName} --help' for more information`;
  if (/executable file not found|no such file or directory|system cannot find the file specified/.test(msg)) return new StatusError(text, 127);
  if (/permission denied|is a directory/.test(msg)) return new StatusError(text, 126);
  return new StatusError(text, 125);
}

async function pullImage(ctx: CliContext, image: string): Promise<void> {
  const ref = familiarWithTag(image);
  const colon = ref.lastIndexOf(':');
  const res = await ctx.client.images.create({ fromImage: ref.slice(0, colon), tag: ref.slice(colon + 1) });
  for await (const m of jsonMessages<any>(res)) {
    if (m.error || m.errorDetail) throw new Error(m.errorDetail?.message ?? m.error);
    if (m.status) ctx.err(`${m.id ? m.id + ': ' : ''}${m.status}${m.progress ? ' ' + m.progress : ''}\n`);
  }
}

/**
 * Whether a create's 404 was about the image: asked of the daemon rather than read from the message (another
 * 404, e.g. --network container:nosuch, must not turn into a pull). A full id or digest is never pulled, as
 * docker's create only pulls a named reference.
 */
async function imageMissing(ctx: CliContext, image: string): Promise<boolean> {
  if (isFullId(image.replace(/^sha256:/, '')) || isDigest(image)) return false;
  try {
    await ctx.client.images.inspect(image);
    return false;
  } catch (e) {
    if (isNotFound(e)) return true;
    throw e;
  }
}

/** Creates the container (pulling first when the image is missing); returns its id. */
async function createContainer(ctx: CliContext, p: ParsedArgs, detach: boolean): Promise<string> {
  const pull = str(p, 'pull') || 'missing';
  if (!['always', 'missing', 'never'].includes(pull)) {
    throw new StatusError(`berth: invalid pull option: '${pull}': must be one of "always", "missing" or "never"`, 125);
  }
  const req = buildCreateRequest(p, ctx.io.env, detach);
  // docker sends the terminal size at create so the first prompt already fits (0x0 off a terminal)
  const out = ctx.io.stdout as { rows?: number; columns?: number };
  req.body.HostConfig.ConsoleSize = isTerminal(ctx.io.stdout) ? [out.rows ?? 0, out.columns ?? 0] : [0, 0];
  const cidfile = str(p, 'cidfile');
  if (cidfile && fs.existsSync(cidfile)) {
    throw new Error(`container ID file found, make sure the other container isn't running or delete ${cidfile}`);
  }
  const query = { name: req.name, platform: req.platform };
  if (pull === 'always') await pullImage(ctx, req.body.Image);
  let res;
  try {
    res = await ctx.client.containers.create(req.body, query);
  } catch (e) {
    if (!(pull === 'missing' && isNotFound(e) && await imageMissing(ctx, req.body.Image))) throw e;
    if (!bool(p, 'quiet')) ctx.err(`Unable to find image '${familiarWithTag(req.body.Image)}' locally\n`);
    await pullImage(ctx, req.body.Image);
    res = await ctx.client.containers.create(req.body, query);
  }
  for (const w of res.Warnings ?? []) ctx.err(`WARNING: ${w}\n`);
  if (cidfile) {
    try {
      fs.writeFileSync(cidfile, res.Id, { flag: 'wx' });
    } catch (e) {
      throw new Error(`failed to create the container ID file: ${(e as Error).message}`);
    }
  }
  return res.Id;
}

async function runContainer(ctx: CliContext, p: ParsedArgs): Promise<number> {
  const detach = bool(p, 'detach');
  if (detach && (p.flags.attach as string[]).length) {
    throw new StatusError('berth: conflicting options: cannot specify both --attach and --detach\n\nRun \'berth run --help\' for more information', 125);
  }
  if (!detach) {
    const attachList = (p.flags.attach as string[]).map((s) => s.toLowerCase());
    checkTty(ctx.io.stdin, attachList.length ? attachList.includes('stdin') : bool(p, 'interactive'), bool(p, 'tty'));
  }
  let id: string;
  try {
    id = await createContainer(ctx, p, detach);
  } catch (e) {
    if (e instanceof FlagError || e instanceof StatusError) throw e;
    throw runStatusError(e);
  }
  const tty = bool(p, 'tty');
  const attachList = (p.flags.attach as string[]).map((s) => s.toLowerCase());
  const interactive = bool(p, 'interactive');
  const attachStdin = !detach && (attachList.length ? attachList.includes('stdin') : interactive);
  const attachStdout = !detach && (attachList.length ? attachList.includes('stdout') : true);
  const attachStderr = !detach && (attachList.length ? attachList.includes('stderr') : true);
  const attach = attachStdin || attachStdout || attachStderr;
  const autoRemove = bool(p, 'rm');
  const detachKeys = str(p, 'detach-keys') || ctx.config.detachKeys || '';

  let session: HijackSession | undefined;
  if (attach) {
    const h = await ctx.client.containers.attach(id, {
      stream: true, stdin: attachStdin || undefined, stdout: attachStdout || undefined, stderr: attachStderr || undefined,
      detachKeys: detachKeys || undefined,
    }).catch((e) => { throw runStatusError(e); });
    session = streamHijacked(h, {
      tty, stdin: attachStdin ? ctx.io.stdin : null,
      stdout: attachStdout ? ctx.io.stdout : null,
      stderr: attachStderr ? (tty ? ctx.io.stdout : ctx.io.stderr) : null,
      detachKeys, warn: (m) => ctx.err(`${m}\n`),
    });
  }
  const wait = ctx.client.containers.wait(id, autoRemove ? 'removed' : 'next-exit');
  await wait.registered;

  // forward SIGINT/SIGTERM to the container like docker's --sig-proxy (not with a tty: raw mode delivers ^C)
  const sigProxy = attach && !tty && p.flags['sig-proxy'] !== false && ctx.io.stdin === process.stdin;
  const forward = (sig: NodeJS.Signals) => { ctx.client.containers.kill(id, sig).catch(() => undefined); };
  if (sigProxy) { process.on('SIGINT', forward); process.on('SIGTERM', forward); }
  let stopResize: (() => void) | undefined;
  try {
    try {
      await ctx.client.containers.start(id);
    } catch (e) {
      session?.close();
      if (autoRemove) await wait.result.catch(() => undefined);
      throw runStatusError(e);
    }
    if (!attach || !session) {
      ctx.out(`${id}\n`);
      return 0;
    }
    if (tty && isTerminal(ctx.io.stdout)) {
      stopResize = monitorTtySize(ctx.io.stdout, (h, w) => ctx.client.containers.resize(id, h, w), (m) => ctx.err(`${m}\n`));
    }
    let waitError = '';
    const status = wait.result.then((r) => {
      if (r.Error?.Message) { waitError = `Error waiting for container: ${r.Error.Message}\n`; return 125; }
      return r.StatusCode;
    }, (e) => { waitError = `error waiting for container: ${(e as Error).message}\n`; return 125; });
    const outcome = await exitOrDetach(session.done, status, attachStdin, async () => {
      const info = await ctx.client.containers.inspect(id);
      return Boolean(info.State?.Running);
    });
    session.close();
    if (outcome.detached) { wait.cancel(); return 0; }
    if (waitError) ctx.err(waitError);
    return outcome.status;
  } finally {
    stopResize?.();
    if (sigProxy) { process.off('SIGINT', forward); process.off('SIGTERM', forward); }
    session?.restore();
  }
}

const run: Command = {
  spec: {
    path: 'run', usage: 'run [OPTIONS] IMAGE [COMMAND] [ARG...]', desc: 'Create and run a new container from an image',
    aliases: ['container run', 'run'], stopAtFirstPositional: true, args: { min: 1 },
    flags: [...CREATE_FLAGS, ...RUN_ONLY_FLAGS],
  },
  run: runContainer,
};

const create: Command = {
  spec: {
    path: 'create', usage: 'create [OPTIONS] IMAGE [COMMAND] [ARG...]', desc: 'Create a new container',
    aliases: ['container create', 'create'], stopAtFirstPositional: true, args: { min: 1 },
    flags: CREATE_FLAGS,
  },
  async run(ctx, p) {
    let id: string;
    try {
      id = await createContainer(ctx, p, false);
    } catch (e) {
      if (e instanceof EngineApiError || e instanceof FlagError || e instanceof StatusError || e instanceof DaemonUnreachableError) throw e;
      throw new StatusError(`berth: ${(e as Error).message}\n\nRun 'berth create --help' for more information`, 125);
    }
    ctx.out(`${id}\n`);
    return 0;
  },
};

export const commands: Record<string, Command> = { run, create };
