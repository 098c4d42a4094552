/** pull / image pull, push / image push: POST /images/create?fromImage and POST /images/{name}/push, drawn as docker does. */
import { Writable, type Readable } from 'node:stream';
import { familiarName, fullString, normalize, parseNormalized } from '../../core/reference.js';
import { encodeAuthHeader } from '../config-file.js';
import { StatusError, bool, str, type CliContext, type Command } from '../context.js';
import { renderJsonMessages } from '../progress-render.js';

const isTty = (s: unknown) => Boolean((s as { isTTY?: boolean }).isTTY);

function parseRef(s: string) {
  try { return parseNormalized(s); } catch (err) { throw new StatusError(`invalid reference format: ${(err as Error).message}`, 1); }
}

/** X-Registry-Auth for the registry of `domain`, from config.json (empty = anonymous). */
function authHeader(ctx: CliContext, domain: string): Record<string, string> {
  const auth = ctx.config.getAuth(domain);
  return { 'X-Registry-Auth': encodeAuthHeader(auth ?? {}) };
}

type Parsed = Parameters<Command['run']>[1];

/** The one NAME argument with -a/--all-tags, refused together with a tag or digest as docker does. */
function target(p: Parsed) {
  const name = p.args[0]!;
  const ref = parseRef(name);
  const all = bool(p, 'all-tags');
  if (all && (ref.tag !== undefined || ref.digest !== undefined)) throw new StatusError('tag can\'t be used with --all-tags/-a', 1);
  return { name, ref, all };
}

/** Draw the stream; with -q only the reference is printed, as docker. */
async function finish(ctx: CliContext, p: Parsed, res: Readable, printed: string): Promise<number> {
  const quiet = bool(p, 'quiet');
  await renderJsonMessages(res, quiet ? discard : ctx.io.stdout, !quiet && isTty(ctx.io.stdout));
  if (quiet) ctx.out(`${printed}\n`);
  return 0;
}

const pull: Command = {
  spec: {
    path: 'pull', usage: 'pull [OPTIONS] NAME[:TAG|@DIGEST]', desc: 'Download an image from a registry',
    aliases: ['image pull', 'pull'], args: { exact: 1 },
    flags: [
      { name: 'all-tags', short: 'a', kind: 'bool', desc: 'Download all tagged images in the repository' },
      { name: 'platform', kind: 'string', desc: 'Set platform if server is multi-platform capable' },
      { name: 'quiet', short: 'q', kind: 'bool', desc: 'Suppress verbose output' },
    ],
  },
  async run(ctx, p) {
    const { name, ref, all } = target(p);
    const full = all ? ref : normalize(name);
    const query: Record<string, string> = { fromImage: familiarName(ref) };
    if (!all) query.tag = full.digest ?? full.tag ?? 'latest';
    const platform = str(p, 'platform');
    if (platform) query.platform = platform;
    const res = await ctx.client.stream('POST', '/images/create', { query, headers: authHeader(ctx, ref.domain) });
    return finish(ctx, p, res, all ? `${ref.domain}/${ref.path}` : fullString(full));
  },
};

const push: Command = {
  spec: {
    path: 'push', usage: 'push [OPTIONS] NAME[:TAG]', desc: 'Upload an image to a registry',
    aliases: ['image push', 'push'], args: { exact: 1 },
    flags: [
      { name: 'all-tags', short: 'a', kind: 'bool', desc: 'Push all tags of an image to the repository' },
      { name: 'quiet', short: 'q', kind: 'bool', desc: 'Suppress verbose output' },
    ],
  },
  async run(ctx, p) {
    const { name, ref, all } = target(p);
    if (ref.digest !== undefined) throw new StatusError('cannot push a digest reference', 1);
    const res = await ctx.client.stream('POST', `/images/${familiarName(ref).split('/').map(encodeURIComponent).join('/')}/push`, {
      query: { tag: all ? '' : ref.tag ?? 'latest' }, headers: authHeader(ctx, ref.domain),
    });
    return finish(ctx, p, res, all ? `${ref.domain}/${ref.path}` : fullString(normalize(name)));
  },
};

const discard = new Writable({ write(_c, _e, cb) { cb(); } });

export const commands: Record<string, Command> = { pull, push };
