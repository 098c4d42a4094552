/** images / image ls, rmi / image rm, tag, history, import, image prune. */
import fs from 'node:fs';
import type { Readable } from 'node:stream';
import { jsonMessages } from '../../client/engine-client.js';
import { goStruct } from '../../core/go-template.js';
import { formatGoTime, localGoTimeFromUnix } from '../../core/go-time.js';
import { humanSize, humanSizeWithPrecision, timeAgo } from '../../core/human.js';
import { StatusError, bool, filtersParam, list, str, type CliContext, type Command } from '../context.js';
import { reportErrorText } from '../errors.js';
import { ellipsis, goTimeString, renderFormat, truncateId } from '../format.js';
import { confirm } from './lifecycle.js';
import { FORMAT_TABLE_DESC, familiarImage } from './ps.js';

const IMAGE_TABLE = 'table {{.Repository}}\t{{.Tag}}\t{{.ID}}\t{{if .CreatedSince }}{{.CreatedSince}}{{else}}N/A{{end}}\t{{.Size}}';
const IMAGE_TABLE_DIGEST = 'table {{.Repository}}\t{{.Tag}}\t{{.Digest}}\t{{.ID}}\t{{if .CreatedSince }}{{.CreatedSince}}{{else}}N/A{{end}}\t{{.Size}}';

export const IMAGE_HEADER: Record<string, string> = {
  ID: 'IMAGE ID', Repository: 'REPOSITORY', Tag: 'TAG', Digest: 'DIGEST', CreatedSince: 'CREATED', CreatedAt: 'CREATED AT',
  Size: 'SIZE', Containers: 'CONTAINERS', VirtualSize: 'SIZE', SharedSize: 'SHARED SIZE', UniqueSize: 'UNIQUE SIZE',
};

export function isDangling(img: any): boolean {
  const tags: string[] = img.RepoTags ?? [];
  const digests: string[] = img.RepoDigests ?? [];
  if (tags.length === 0 && digests.length === 0) return true;
  return tags.length === 1 && tags[0] === '<none>:<none>' && digests.length === 1 && digests[0] === '<none>@<none>';
}

export function splitTag(ref: string): [string, string] | null {
  const at = ref.indexOf('@');
  const name = at >= 0 ? ref.slice(0, at) : ref;
  const colon = name.lastIndexOf(':');
  if (colon < 0 || name.slice(colon).includes('/')) return null;
  return [familiarImage(name.slice(0, colon)), name.slice(colon + 1)];
}

export function imageContext(img: any, repo: string, tag: string, digest: string, trunc: boolean, now: number) {
  const ctx = {
    ID: () => (trunc ? truncateId(img.Id ?? '') : img.Id ?? ''),
    Repository: () => repo,
    Tag: () => tag,
    Digest: () => digest,
    CreatedSince: () => (img.Created ? timeAgo(img.Created, now) : ''),
    CreatedAt: () => goTimeString((img.Created ?? 0) * 1000),
    Size: () => humanSizeWithPrecision(img.Size ?? 0, 3),
    Containers: () => (img.Containers === -1 || img.Containers === undefined ? 'N/A' : String(img.Containers)),
    VirtualSize: () => humanSize(img.Size ?? 0),
    SharedSize: () => (img.SharedSize === -1 || img.SharedSize === undefined ? 'N/A' : humanSize(img.SharedSize)),
    UniqueSize: () => (img.Size === -1 || img.SharedSize === -1 || img.SharedSize === undefined ? 'N/A' : humanSize(img.Size - img.SharedSize)),
    toJSON() {
      const o: Record<string, unknown> = {};
      for (const k of ['Containers', 'CreatedAt', 'CreatedSince', 'Digest', 'ID', 'Repository', 'SharedSize', 'Size', 'Tag', 'UniqueSize', 'VirtualSize']) o[k] = (ctx as any)[k]();
      return o;
    },
  };
  return goStruct(ctx, '*formatter.imageContext');
}

/** docker's imageFormat: one row per repo:tag (and per digest when digests are shown). */
export function imageRows(images: any[], trunc: boolean, digests: boolean, formatHasDigest: boolean, now = Date.now()): object[] {
  const rows: object[] = [];
  for (const img of images) {
    if (isDangling(img)) { rows.push(imageContext(img, '<none>', '<none>', '<none>', trunc, now)); continue; }
    const repoTags = new Map<string, string[]>();
    const repoDigests = new Map<string, string[]>();
    for (const t of (img.RepoTags ?? []) as string[]) {
      const s = splitTag(t);
      if (!s) continue;
      repoTags.set(s[0], [...(repoTags.get(s[0]) ?? []), s[1]]);
    }
    for (const d of (img.RepoDigests ?? []) as string[]) {
      const at = d.indexOf('@');
      if (at < 0 || !/^sha256:[a-f0-9]{64}$|^(?!sha256:)[a-z0-9]+(?:[.+_-][a-z0-9]+)*:[a-zA-Z0-9=_-]{32,}$/.test(d.slice(at + 1))) continue;
      const repo = familiarImage(d.slice(0, at));
      repoDigests.set(repo, [...(repoDigests.get(repo) ?? []), d.slice(at + 1)]);
    }
    for (const [repo, tags] of repoTags) {
      let ds = repoDigests.get(repo) ?? [];
      repoDigests.delete(repo);
      if (!(digests || formatHasDigest)) ds = [];
      for (const tag of tags) {
        if (ds.length === 0) rows.push(imageContext(img, repo, tag, '<none>', trunc, now));
        else for (const d of ds) rows.push(imageContext(img, repo, tag, d, trunc, now));
      }
    }
    for (const [repo, ds] of repoDigests) {
      if (digests) for (const d of ds) rows.push(imageContext(img, repo, '<none>', d, trunc, now));
      else rows.push(imageContext(img, repo, '<none>', '', trunc, now));
    }
  }
  return rows;
}

const images: Command = {
  spec: {
    path: 'images', usage: 'images [OPTIONS] [REPOSITORY[:TAG]]', desc: 'List images',
    aliases: ['image ls', 'image list', 'images'], args: { max: 1 },
    flags: [
      { name: 'all', short: 'a', kind: 'bool', desc: 'Show all images (default hides intermediate images)' },
      { name: 'digests', kind: 'bool', desc: 'Show digests' },
      { name: 'filter', short: 'f', kind: 'list', type: 'filter', desc: 'Filter output based on conditions provided' },
      { name: 'format', kind: 'string', desc: FORMAT_TABLE_DESC },
      { name: 'no-trunc', kind: 'bool', desc: "Don't truncate output" },
      { name: 'quiet', short: 'q', kind: 'bool', desc: 'Only show image IDs' },
      { name: 'tree', kind: 'bool', desc: 'List multi-platform images as a tree (EXPERIMENTAL)' },
    ],
  },
  async run(ctx, p) {
    if (bool(p, 'tree')) throw new StatusError('berth: --tree is not supported: berth lists images one row per tag', 125);
    const filters = list(p, 'filter');
    if (p.args[0]) filters.push(`reference=${p.args[0]}`);
    const imgs = await ctx.client.images.list({ all: bool(p, 'all') || undefined, filters: filtersParam(filters) });
    let format = str(p, 'format') || (bool(p, 'quiet') ? '' : ctx.config.imagesFormat ?? '') || 'table';
    const digests = bool(p, 'digests');
    if (format === 'table') format = bool(p, 'quiet') ? '{{.ID}}' : digests ? IMAGE_TABLE_DIGEST : IMAGE_TABLE;
    else if (format.startsWith('table') && digests && !format.includes('{{.Digest}}')) format += '\t{{.Digest}}';
    const rows = imageRows(imgs, !bool(p, 'no-trunc'), digests, format.includes('{{.Digest}}'));
    ctx.out(renderFormat(format, rows, IMAGE_HEADER));
    return 0;
  },
};

const rmi: Command = {
  spec: {
    path: 'rmi', usage: 'rmi [OPTIONS] IMAGE [IMAGE...]', desc: 'Remove one or more images',
    aliases: ['image rm', 'image remove', 'rmi'], args: { min: 1 },
    flags: [
      { name: 'force', short: 'f', kind: 'bool', desc: 'Force removal of the image' },
      { name: 'no-prune', kind: 'bool', desc: 'Do not delete untagged parents' },
      { name: 'platform', kind: 'list', type: 'strings', desc: 'Remove only the given platform variant. Formatted as "os[/arch[/variant]]" (e.g., "linux/amd64")' },
    ],
  },
  async run(ctx, p) {
    const errs: string[] = [];
    for (const img of p.args) {
      try {
        const dels = await ctx.client.images.remove(img, { force: bool(p, 'force') || undefined, noprune: bool(p, 'no-prune') || undefined });
        for (const d of dels ?? []) {
          if (d.Deleted) ctx.out(`Deleted: ${d.Deleted}\n`);
          else if (d.Untagged) ctx.out(`Untagged: ${d.Untagged}\n`);
        }
      } catch (e) {
        errs.push(reportErrorText(e));
      }
    }
    if (errs.length) { ctx.err(errs.join('\n') + '\n'); return 1; }
    return 0;
  },
};

const tag: Command = {
  spec: {
    path: 'tag', usage: 'tag SOURCE_IMAGE[:TAG] TARGET_IMAGE[:TAG]', desc: 'Create a tag TARGET_IMAGE that refers to SOURCE_IMAGE',
    aliases: ['image tag', 'tag'], args: { exact: 2 }, flags: [],
  },
  async run(ctx, p) {
    const [src, target] = p.args as [string, string];
    const at = target.indexOf('@');
    if (at >= 0) throw new StatusError('refusing to create a tag with a digest reference', 1);
    const lastColon = target.lastIndexOf(':');
    const hasTag = lastColon > target.lastIndexOf('/');
    const repo = hasTag ? target.slice(0, lastColon) : target;
    const t = hasTag ? target.slice(lastColon + 1) : 'latest';
    if (repo !== repo.toLowerCase()) throw new StatusError(`invalid reference format: repository name (${repo}) must be lowercase`, 1);
    await ctx.client.images.tag(src, repo, t);
    return 0;
  },
};

const HISTORY_HEADER: Record<string, string> = {
  ID: 'IMAGE', CreatedSince: 'CREATED', CreatedAt: 'CREATED AT', CreatedBy: 'CREATED BY', Size: 'SIZE', Comment: 'COMMENT',
};

function rfc3339(unix: number): string {
  return formatGoTime(localGoTimeFromUnix(unix), 'RFC3339');
}

const history: Command = {
  spec: {
    path: 'history', usage: 'history [OPTIONS] IMAGE', desc: 'Show the history of an image',
    aliases: ['image history', 'history'], args: { exact: 1 },
    flags: [
      { name: 'format', kind: 'string', desc: FORMAT_TABLE_DESC },
      { name: 'human', short: 'H', kind: 'bool', desc: 'Print sizes and dates in human readable format', default: true },
      { name: 'no-trunc', kind: 'bool', desc: "Don't truncate output" },
      { name: 'platform', kind: 'string', desc: 'Show history for the given platform. Formatted as "os[/arch[/variant]]" (e.g., "linux/amd64")' },
      { name: 'quiet', short: 'q', kind: 'bool', desc: 'Only show image IDs' },
    ],
  },
  async run(ctx, p) {
    const h = await ctx.client.images.history(p.args[0]!);
    const human = bool(p, 'human');
    const trunc = !bool(p, 'no-trunc');
    const now = Date.now();
    const rows = h.map((e: any) => {
      const c = {
        ID: () => (trunc ? (e.Id === '<missing>' ? e.Id : truncateId(e.Id ?? '')) : e.Id ?? ''),
        CreatedAt: () => rfc3339(e.Created ?? 0),
        CreatedSince: () => (!human ? rfc3339(e.Created ?? 0) : (e.Created ?? 0) <= 0 ? 'N/A' : timeAgo(e.Created, now)),
        CreatedBy: () => { const s = String(e.CreatedBy ?? '').replace(/\t/g, ' '); return trunc ? ellipsis(s, 45) : s; },
        Size: () => (human ? humanSizeWithPrecision(e.Size ?? 0, 3) : String(e.Size ?? 0)),
        Comment: () => e.Comment ?? '',
        toJSON() { return { Comment: c.Comment(), CreatedAt: c.CreatedAt(), CreatedBy: c.CreatedBy(), CreatedSince: c.CreatedSince(), ID: c.ID(), Size: c.Size() }; },
      };
      return goStruct(c, '*image.historyContext');
    });
    let format = str(p, 'format') || 'table';
    if (bool(p, 'quiet')) format = '{{.ID}}';
    else if (format === 'table') format = human ? 'table {{.ID}}\t{{.CreatedSince}}\t{{.CreatedBy}}\t{{.Size}}\t{{.Comment}}' : 'table {{.ID}}\t{{.CreatedAt}}\t{{.CreatedBy}}\t{{.Size}}\t{{.Comment}}';
    ctx.out(renderFormat(format, rows, HISTORY_HEADER));
    return 0;
  },
};

/** Prints a JSON-message stream the way docker's jsonmessage does without a terminal. */
export async function displayJsonMessages(ctx: CliContext, res: Readable): Promise<void> {
  for await (const m of jsonMessages<any>(res)) {
    if (m.errorDetail || m.error) throw new StatusError(m.errorDetail?.message ?? m.error, 1);
    let line = '';
    if (m.id) line += `${m.id}: `;
    if (m.status) line += m.status;
    if (m.progress) line += ` ${m.progress}`;
    if (m.stream) { ctx.out(m.stream); continue; }
    if (line) ctx.out(line + '\n');
  }
}

const importCmd: Command = {
  spec: {
    path: 'import', usage: 'import [OPTIONS] file|URL|- [REPOSITORY[:TAG]]', desc: 'Import the contents from a tarball to create a filesystem image',
    aliases: ['image import', 'import'], args: { min: 1, max: 2 },
    flags: [
      { name: 'change', short: 'c', kind: 'list', desc: 'Apply Dockerfile instruction to the created image' },
      { name: 'message', short: 'm', kind: 'string', desc: 'Set commit message for imported image' },
      { name: 'platform', kind: 'string', desc: 'Set platform if server is multi-platform capable' },
    ],
  },
  async run(ctx, p) {
    const [source, ref] = p.args as [string, string | undefined];
    let body: Readable | undefined;
    let fromSrc = source;
    if (source === '-') body = ctx.io.stdin;
    else if (!/^https?:\/\//.test(source)) {
      if (!fs.existsSync(source)) throw new StatusError(`open ${source}: no such file or directory`, 1);
      body = fs.createReadStream(source);
      fromSrc = '-';
    }
    let repo: string | undefined;
    let t: string | undefined;
    if (ref) {
      const lastColon = ref.lastIndexOf(':');
      if (lastColon > ref.lastIndexOf('/')) { repo = ref.slice(0, lastColon); t = ref.slice(lastColon + 1); }
      else repo = ref;
    }
    const res = await ctx.client.images.create({
      fromSrc, repo, tag: t, message: str(p, 'message') || undefined, changes: list(p, 'change'), platform: str(p, 'platform') || undefined,
    }, body);
    await displayJsonMessages(ctx, res);
    return 0;
  },
};

const imagePrune: Command = {
  spec: {
    path: 'image prune', usage: 'image prune [OPTIONS]', desc: 'Remove unused images', args: { exact: 0 },
    flags: [
      { name: 'all', short: 'a', kind: 'bool', desc: 'Remove all unused images, not just dangling ones' },
      { name: 'filter', kind: 'list', type: 'filter', desc: 'Provide filter values (e.g. "until=<timestamp>")' },
      { name: 'force', short: 'f', kind: 'bool', desc: 'Do not prompt for confirmation' },
    ],
  },
  async run(ctx, p) {
    const all = bool(p, 'all');
    const warning = all ? 'WARNING! This will remove all images without at least one container associated to them.' : 'WARNING! This will remove all dangling images.';
    if (!bool(p, 'force') && !(await confirm(ctx, warning))) throw new StatusError('', 1);
    const filters = list(p, 'filter');
    filters.push(`dangling=${all ? 'false' : 'true'}`);
    const r = await ctx.client.images.prune({ filters: filtersParam(filters) });
    let out = '';
    if (r.ImagesDeleted?.length) {
      out += 'Deleted Images:\n';
      for (const d of r.ImagesDeleted) out += d.Untagged ? `untagged: ${d.Untagged}\n` : `deleted: ${d.Deleted}\n`;
      out += '\n';
    }
    out += `Total reclaimed space: ${humanSize(r.SpaceReclaimed ?? 0)}\n`;
    ctx.out(out);
    return 0;
  },
};

export const commands: Record<string, Command> = {
  images, rmi, tag, history, import: importCmd, 'image prune': imagePrune,
};
