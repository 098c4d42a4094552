/** run and create: build the create body, pull on 404 (--pull=missing), attach, wait, start. */
import fs from 'node:fs';
import type { Readable } from 'node:stream';
import { DaemonUnreachableError, EngineApiError, STDERR, STDOUT, demux, jsonMessages, type Hijacked } from '../../client/engine-client.js';
import { buildCreateRequest, familiarWithTag } from '../container-config.js';
import { CREATE_FLAGS, RUN_ONLY_FLAGS } from '../container-flags.js';
import { StatusError, bool, str, type CliContext, type Command } from '../context.js';
import { FlagError, type ParsedArgs } from '../flags.js';

/** docker's toStatusError: "berth: <err>\n\nRun 'berth run --help'..." with 127/126/125. */
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
  const res = await ctx.client.imageCreate({ fromImage: ref.slice(0, colon), tag: ref.slice(colon + 1) });
  for await (const m of jsonMessages<any>(res)) {
    if (m.error || m.errorDetail) throw new Error(m.errorDetail?.message ?? m.error);
    if (m.status) ctx.err(`${m.id ? m.id + ': ' : ''}${m.status}${m.progress ? ' ' + m.progress : ''}\n`);
  }
}

/** Creates the container (pulling first when the image is missing); returns its id. */
async function createContainer(ctx: CliContext, p: ParsedArgs, detach: boolean): Promise<string> {
  const pull = str(p, 'pull') || 'missing';
  if (!['always', 'missing', 'never'].includes(pull)) {
    throw new StatusError(`berth: invalid pull option: '${pull}': must be one of "always", "missing" or "never"`, 125);
  }
  const req = buildCreateRequest(p, ctx.io.env, detach);
  const cidfile = str(p, 'cidfile');
  if (cidfile && fs.existsSync(cidfile)) {
    throw new Error(`container ID file found, make sure the other container isn't running or delete ${cidfile}`);
  }
  const query = { name: req.name, platform: req.platform };
  if (pull === 'always') await pullImage(ctx, req.body.Image);
  let res;
  try {
    res = await ctx.client.containerCreate(req.body, query);
  } catch (e) {
    if (!(e instanceof EngineApiError && e.status === 404 && pull === 'missing' && /image/i.test(e.message))) throw e;
    if (!bool(p, 'quiet')) ctx.err(`Unable to find image '${familiarWithTag(req.body.Image)}' locally\n`);
    await pullImage(ctx, req.body.Image);
    res = await ctx.client.containerCreate(req.body, query);
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

/** Copies the hijacked stream to stdout/stderr (demuxing unless tty) and stdin to it; resolves at EOF. */
function streamIO(ctx: CliContext, h: Hijacked, tty: boolean, stdin: Readable | null, stdoutOn: boolean, stderrOn: boolean): Promise<void> {
  const out = ctx.io.stdout;
  const err = tty ? ctx.io.stdout : ctx.io.stderr;
  if (stdin) {
    const sock = h.socket;
    stdin.on('data', (c) => sock.write(c));
    // on EOF, half-close so the container sees EOF on its stdin (docker's CloseWrite)
    stdin.on('end', () => (sock as unknown as { end: () => void }).end());
  }
  const raw = tty || h.contentType.includes('raw-stream');
  if (raw && tty) {
    if (h.head.length && stdoutOn) out.write(h.head);
    return new Promise((resolve) => {
      h.socket.on('data', (c: Buffer) => { if (stdoutOn) out.write(c); });
      h.socket.on('end', resolve);
      h.socket.on('close', resolve);
      h.socket.on('error', () => resolve());
    });
  }
  return demux(h.socket, (type, payload) => {
    if (type === STDOUT && stdoutOn) out.write(payload);
    else if (type === STDERR && stderrOn) err.write(payload);
    else if (type !== STDOUT && type !== STDERR) err.write(payload);
  }, h.head).catch(() => undefined);
}

function setRaw(stdin: Readable, on: boolean): void {
  const s = stdin as Readable & { isTTY?: boolean; setRawMode?: (b: boolean) => void };
  if (s.isTTY && s.setRawMode) s.setRawMode(on);
}

async function runContainer(ctx: CliContext, p: ParsedArgs): Promise<number> {
  const detach = bool(p, 'detach');
  if (detach && (p.flags.attach as string[]).length) {
    throw new StatusError('berth: conflicting options: cannot specify both --attach and --detach\n\nRun \'berth run --help\' for more information', 125);
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

  let hijack: Hijacked | undefined;
  let streamDone: Promise<void> = Promise.resolve();
  if (attach) {
    hijack = await ctx.client.containerAttach(id, {
      stream: true, stdin: attachStdin || undefined, stdout: attachStdout || undefined, stderr: attachStderr || undefined,
      detachKeys: str(p, 'detach-keys') || undefined,
    }).catch((e) => { throw runStatusError(e); });
    if (attachStdin && tty) setRaw(ctx.io.stdin, true);
    streamDone = streamIO(ctx, hijack, tty, attachStdin ? ctx.io.stdin : null, attachStdout, attachStderr);
  }
  const wait = ctx.client.containerWait(id, autoRemove ? 'removed' : 'next-exit');
  await wait.registered;

  // forward SIGINT/SIGTERM to the container like docker's --sig-proxy (not with a tty: raw mode delivers ^C)
  const sigProxy = attach && !tty && p.flags['sig-proxy'] !== false && ctx.io.stdin === process.stdin;
  const forward = (sig: NodeJS.Signals) => { ctx.client.containerKill(id, sig).catch(() => undefined); };
  if (sigProxy) { process.on('SIGINT', forward); process.on('SIGTERM', forward); }
  try {
    try {
      await ctx.client.containerStart(id);
    } catch (e) {
      hijack?.socket.destroy();
      if (autoRemove) await wait.result.catch(() => undefined);
      throw runStatusError(e);
    }
    if (!attach) {
      ctx.out(`${id}\n`);
      return 0;
    }
    if (tty && (ctx.io.stdout as { isTTY?: boolean }).isTTY) {
      const so = ctx.io.stdout as unknown as { columns: number; rows: number; on: (e: string, f: () => void) => void };
      const resize = () => ctx.client.containerResize(id, so.rows, so.columns).catch(() => undefined);
      void resize();
      so.on('resize', resize);
    }
    let status: number;
    try {
      const r = await wait.result;
      if (r.Error?.Message) {
        ctx.err(`Error waiting for container: ${r.Error.Message}\n`);
        status = 125;
      } else status = r.StatusCode;
    } catch (e) {
      ctx.err(`error waiting for container: ${(e as Error).message}\n`);
      status = 125;
    }
    // let the output drain; the daemon ends the attach stream when the container exits
    await Promise.race([streamDone, new Promise((r) => setTimeout(r, 2000).unref())]);
    hijack?.socket.destroy();
    return status;
  } finally {
    if (sigProxy) { process.off('SIGINT', forward); process.off('SIGTERM', forward); }
    if (attachStdin) {
      setRaw(ctx.io.stdin, false);
      ctx.io.stdin.pause();
      ctx.io.stdin.removeAllListeners('data');
      ctx.io.stdin.removeAllListeners('end');
    }
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
