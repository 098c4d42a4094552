/**
 * save / image save, load / image load: the image archive through GET /images/get and POST /images/load;
 * export / container export: a container's filesystem through GET /containers/{id}/export.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { StatusError, bool, str, type CliContext, type Command } from '../context.js';
import { renderJsonMessages } from '../progress-render.js';

const isTty = (s: unknown) => Boolean((s as { isTTY?: boolean }).isTTY);

const save: Command = {
  spec: {
    path: 'save', usage: 'save [OPTIONS] IMAGE [IMAGE...]', desc: 'Save one or more images to a tar archive (streamed to STDOUT by default)',
    aliases: ['image save', 'save'], args: { min: 1 },
    flags: [{ name: 'output', short: 'o', kind: 'string', desc: 'Write to a file, instead of STDOUT' }],
  },
  async run(ctx, p) {
    const output = str(p, 'output');
    checkOutput(ctx, output, 'failed to save image');
    const res = await ctx.client.stream('GET', '/images/get', { query: { names: p.args } });
    await writeOutput(ctx, res, output, 'failed to save image');
    return 0;
  },
};

/** docker's refusals before a tar is asked for: a terminal as stdout, an -o in a missing directory. */
function checkOutput(ctx: CliContext, output: string, what: string): void {
  if (!output && isTty(ctx.io.stdout)) throw new StatusError('cowardly refusing to save to a terminal. Use the -o flag or redirect', 1);
  if (output) {
    const dir = path.dirname(path.resolve(output));
    if (!fs.existsSync(dir)) throw new StatusError(`${what}: invalid output path: stat ${dir}: no such file or directory`, 1);
  }
}

/** The tar to stdout, or as docker's CopyToFile: a temp file beside the target, renamed once complete. */
async function writeOutput(ctx: CliContext, res: Readable, output: string, what: string): Promise<void> {
  if (!output) {
    await pipeline(res, ctx.io.stdout);
    return;
  }
  const tmp = path.join(path.dirname(path.resolve(output)), `.docker_temp_${process.pid}_${Date.now()}`);
  try {
    await pipeline(res, fs.createWriteStream(tmp, { mode: 0o600 }));
    if (!(res as Readable & { complete?: boolean }).complete) throw new Error('unexpected EOF');
    fs.renameSync(tmp, output);
  } catch (err) {
    fs.rmSync(tmp, { force: true });
    throw new StatusError(`${what}: ${(err as Error).message}`, 1);
  }
}

const exportCmd: Command = {
  spec: {
    path: 'export', usage: 'export [OPTIONS] CONTAINER', desc: "Export a container's filesystem as a tar archive",
    aliases: ['container export', 'export'], args: { exact: 1 },
    flags: [{ name: 'output', short: 'o', kind: 'string', desc: 'Write to a file, instead of STDOUT' }],
  },
  async run(ctx, p) {
    const output = str(p, 'output');
    checkOutput(ctx, output, 'failed to export container');
    const res = await ctx.client.stream('GET', `/containers/${encodeURIComponent(p.args[0]!)}/export`);
    await writeOutput(ctx, res, output, 'failed to export container');
    return 0;
  },
};

const load: Command = {
  spec: {
    path: 'load', usage: 'load [OPTIONS]', desc: 'Load an image from a tar archive or STDIN',
    aliases: ['image load', 'load'], args: { exact: 0 },
    flags: [
      { name: 'input', short: 'i', kind: 'string', desc: 'Read from tar archive file, instead of STDIN' },
      { name: 'quiet', short: 'q', kind: 'bool', desc: 'Suppress the load output' },
    ],
  },
  async run(ctx, p) {
    const input = str(p, 'input');
    let body: Readable;
    if (input) {
      if (!fs.existsSync(input)) throw new StatusError(`open ${input}: no such file or directory`, 1);
      body = fs.createReadStream(input);
    } else {
      if (isTty(ctx.io.stdin)) throw new StatusError('requested load from stdin, but stdin is empty', 1);
      body = ctx.io.stdin;
    }
    // As docker: no progress unless stdout is a terminal.
    const quiet = bool(p, 'quiet') || !isTty(ctx.io.stdout);
    const res = await ctx.client.stream('POST', '/images/load', { query: { quiet }, body, contentType: 'application/x-tar' });
    await renderJsonMessages(res, ctx.io.stdout, !quiet);
    return 0;
  },
};

export const commands: Record<string, Command> = { save, load, export: exportCmd };
