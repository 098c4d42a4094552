/**
 * pull / image pull, push / image push: POST /images/create?fromImage and POST /images/{name}/push, drawn as
 * docker does; search: GET /images/search.
 */
import { Writable, type Readable } from 'node:stream';
import { familiarName, fullString, normalize, parseNormalized } from '../../core/reference.js';
import { encodeAuthHeader } from '../config-file.js';
import { goStruct } from '../../core/go-template.js';
import { searchTarget } from '../../core/search.js';
import { StatusError, bool, filtersParam, list, num, str, type CliContext, type Command } from '../context.js';
import { ellipsis, renderFormat } from '../format.js';
import { FORMAT_TABLE_DESC } from './ps.js';
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

const SEARCH_HEADER: Record<string, string> = { Name: 'NAME', Description: 'DESCRIPTION', StarCount: 'STARS', IsOfficial: 'OFFICIAL', IsAutomated: 'AUTOMATED' };

/** docker's searchContext */
function searchContext(r: { name?: string; description?: string; star_count?: number; is_official?: boolean; is_automated?: boolean }, trunc: boolean) {
  const c = {
    Name: () => r.name ?? '',
    Description: () => {
      const d = (r.description ?? '').replace(/[\r\n]/g, ' ');
      return trunc ? ellipsis(d, 45) : d;
    },
    StarCount: () => String(r.star_count ?? 0),
    IsOfficial: () => (r.is_official ? '[OK]' : ''),
    IsAutomated: () => (r.is_automated ? '[OK]' : ''),
    toJSON() { return { Name: c.Name(), Description: c.Description(), StarCount: c.StarCount(), IsOfficial: c.IsOfficial(), IsAutomated: c.IsAutomated() }; },
  };
  return goStruct(c, '*formatter.searchContext');
}

const search: Command = {
  spec: {
    path: 'search', usage: 'search [OPTIONS] TERM', desc: 'Search Docker Hub for images', args: { exact: 1 },
    flags: [
      { name: 'filter', short: 'f', kind: 'list', desc: 'Filter output based on conditions provided' },
      { name: 'format', kind: 'string', desc: FORMAT_TABLE_DESC },
      { name: 'limit', kind: 'int', desc: 'Max number of search results' },
      { name: 'no-trunc', kind: 'bool', desc: "Don't truncate output" },
    ],
  },
  async run(ctx, p) {
    const term = p.args[0]!;
    const query: Record<string, string> = { term };
    // as docker's client: a limit of 0 or less is not sent (the daemon's default, 25, applies)
    if (num(p, 'limit') > 0) query.limit = String(num(p, 'limit'));
    const filters = filtersParam(list(p, 'filter'));
    if (filters) query.filters = filters;
    let index: string;
    try { index = searchTarget(term).index; } catch { index = 'docker.io'; }
    const results = await ctx.client.json<any[]>('GET', '/images/search', { query, headers: authHeader(ctx, index) });
    let format = str(p, 'format') || 'table';
    if (format === 'table') format = 'table {{.Name}}\t{{.Description}}\t{{.StarCount}}\t{{.IsOfficial}}';
    ctx.out(renderFormat(format, (results ?? []).map((r) => searchContext(r, !bool(p, 'no-trunc'))), SEARCH_HEADER));
    return 0;
  },
};

export const commands: Record<string, Command> = { pull, push, search };
