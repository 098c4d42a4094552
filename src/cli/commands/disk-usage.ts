/** system df: docker's disk-usage formatter (cli/command/formatter/disk_usage.go) over GET /system/df. */
import { goStruct } from '../../core/go-template.js';
import { parseRfc3339, formatGoTime } from '../../core/go-time.js';
import { humanDuration, humanSize, humanSizeWithPrecision } from '../../core/human.js';
import { StatusError, bool, str, type Command } from '../context.js';
import { renderFormat, tabwrite } from '../format.js';
import { IMAGE_HEADER, imageContext, isDangling, splitTag } from './images.js';
import { CONTAINER_HEADER, FORMAT_TABLE_DESC, containerContext } from './ps.js';
import { VOLUME_HEADER, volumeContext } from './volume.js';

const SUMMARY_TABLE = 'table {{.Type}}\t{{.TotalCount}}\t{{.Active}}\t{{.Size}}\t{{.Reclaimable}}';
const SUMMARY_RAW = 'type: {{.Type}}\ntotal: {{.TotalCount}}\nactive: {{.Active}}\nsize: {{.Size}}\nreclaimable: {{.Reclaimable}}\n';
const SUMMARY_HEADER = { Type: 'TYPE', TotalCount: 'TOTAL', Active: 'ACTIVE', Size: 'SIZE', Reclaimable: 'RECLAIMABLE' };
const IMAGES_TABLE = 'table {{.Repository}}\t{{.Tag}}\t{{.ID}}\t{{.CreatedSince}}\t{{.Size}}\t{{.SharedSize}}\t{{.UniqueSize}}\t{{.Containers}}';
const CONTAINERS_TABLE = 'table {{.ID}}\t{{.Image}}\t{{.Command}}\t{{.LocalVolumes}}\t{{.Size}}\t{{.RunningFor}}\t{{.Status}}\t{{.Names}}';
const VOLUMES_TABLE = 'table {{.Name}}\t{{.Links}}\t{{.Size}}';
const CACHE_TABLE = 'table {{.ID}}\t{{.CacheType}}\t{{.Size}}\t{{.CreatedSince}}\t{{.LastUsedSince}}\t{{.UsageCount}}\t{{.Shared}}';
const CACHE_HEADER = {
  ID: 'CACHE ID', Parent: 'PARENT', CacheType: 'CACHE TYPE', Size: 'SIZE', CreatedSince: 'CREATED', LastUsedSince: 'LAST USED',
  UsageCount: 'USAGE', InUse: 'IN USE', Shared: 'SHARED', Description: 'DESCRIPTION',
};

interface DiskUsage {
  LayersSize?: number;
  Images?: any[] | null;
  Containers?: any[] | null;
  Volumes?: any[] | null;
  BuildCache?: CacheRecord[] | null;
}

interface CacheRecord {
  ID?: string; Parent?: string; Parents?: string[] | null; Type?: string; Description?: string; InUse?: boolean; Shared?: boolean;
  Size?: number; CreatedAt?: string; LastUsedAt?: string | null; UsageCount?: number;
}

/** docker's buildCacheSort: never-used first, then by last use, then by ID. */
function sortCache(list: CacheRecord[]): CacheRecord[] {
  const t = (b: CacheRecord) => (b.LastUsedAt ? Date.parse(b.LastUsedAt) : undefined);
  return [...list].sort((a, b) => {
    const ta = t(a);
    const tb = t(b);
    if (ta === undefined && tb !== undefined) return -1;
    if (tb === undefined && ta !== undefined) return 1;
    if (ta !== tb) return ta! - tb!;
    return (a.ID ?? '') < (b.ID ?? '') ? -1 : (a.ID ?? '') > (b.ID ?? '') ? 1 : 0;
  });
}

/** docker's buildCacheContext (cli/command/formatter/buildcache.go). */
function cacheContext(b: CacheRecord, trunc: boolean, now: number) {
  const cut = (id: string) => (trunc ? id.slice(0, 12) : id);
  const goTime = (s: string | null | undefined) => { const g = s ? parseRfc3339(s) : undefined; return g ? formatGoTime(g, 'String') : ''; };
  const since = (s: string | null | undefined) => (s ? `${humanDuration(now - Date.parse(s))} ago` : '');
  const c = {
    ID: () => `${cut(b.ID ?? '')}${b.InUse ? '*' : ''}`,
    Parent: () => cut((b.Parents ?? (b.Parent ? [b.Parent] : [])).join(', ')),
    CacheType: () => b.Type ?? '', Description: () => b.Description ?? '',
    Size: () => humanSizeWithPrecision(b.Size ?? 0, 3),
    CreatedAt: () => goTime(b.CreatedAt), CreatedSince: () => `${humanDuration(now - Date.parse(b.CreatedAt ?? ''))} ago`,
    LastUsedAt: () => goTime(b.LastUsedAt), LastUsedSince: () => since(b.LastUsedAt),
    UsageCount: () => String(b.UsageCount ?? 0), InUse: () => String(!!b.InUse), Shared: () => String(!!b.Shared),
    toJSON() {
      const o: Record<string, unknown> = {};
      for (const k of ['CacheType', 'CreatedAt', 'CreatedSince', 'Description', 'ID', 'InUse', 'LastUsedAt', 'LastUsedSince', 'Parent', 'Shared', 'Size', 'UsageCount']) o[k] = (c as any)[k]();
      return o;
    },
  };
  return goStruct(c, '*formatter.buildCacheContext');
}

/** "1.2MB (50%)", the percentage truncated as Go's integer division; no percentage of nothing. */
function reclaimable(reclaim: number, total: number): string {
  return total > 0 ? `${humanSize(reclaim)} (${Math.trunc((reclaim * 100) / total)}%)` : humanSize(reclaim);
}

function summaryRow(type: string, count: number, active: number, size: string, recl: string) {
  const c = {
    Type: () => type, TotalCount: () => String(count), Active: () => String(active), Size: () => size, Reclaimable: () => recl,
    toJSON() { return { Active: c.Active(), Reclaimable: c.Reclaimable(), Size: c.Size(), TotalCount: c.TotalCount(), Type: c.Type() }; },
  };
  return goStruct(c, '*formatter.diskUsageContext');
}

const isActive = (c: any) => ['running', 'paused', 'restarting'].some((s) => String(c.State ?? '').includes(s));

function summaryRows(du: DiskUsage, builderSize: number): object[] {
  const images = du.Images ?? [];
  const total = du.LayersSize ?? 0;
  let used = 0;
  for (const i of images) if (i.Containers !== 0 && i.Size !== -1 && i.SharedSize !== -1) used += i.Size - i.SharedSize;
  const ctrs = du.Containers ?? [];
  const ctrSize = ctrs.reduce((n, c) => n + (c.SizeRw ?? 0), 0);
  const ctrFree = ctrs.filter((c) => !isActive(c)).reduce((n, c) => n + (c.SizeRw ?? 0), 0);
  const vols = du.Volumes ?? [];
  const sized = vols.filter((v) => v.UsageData && v.UsageData.Size !== -1);
  const volSize = sized.reduce((n, v) => n + v.UsageData.Size, 0);
  const volFree = sized.filter((v) => v.UsageData.RefCount === 0).reduce((n, v) => n + v.UsageData.Size, 0);
  const cache = du.BuildCache ?? [];
  const cacheInUse = cache.filter((b) => b.InUse && !b.Shared).reduce((n, b) => n + (b.Size ?? 0), 0);
  return [
    summaryRow('Images', images.length, images.filter((i) => i.Containers > 0).length, humanSize(total), reclaimable(total - used, total)),
    summaryRow('Containers', ctrs.length, ctrs.filter(isActive).length, humanSize(ctrSize), reclaimable(ctrFree, ctrSize)),
    summaryRow('Local Volumes', vols.length, vols.filter((v) => (v.UsageData?.RefCount ?? 0) > 0).length, humanSize(volSize), reclaimable(volFree, volSize)),
    summaryRow('Build Cache', cache.length, cache.filter((b) => b.InUse).length, humanSize(builderSize), humanSize(builderSize - cacheInUse)),
  ];
}

/** One section of `df -v`: its table even when empty (docker prints the header alone). */
function section(table: string, rows: object[], header: Record<string, string>): string {
  const out = renderFormat(table, rows, header);
  return out || tabwrite('\n');
}

/** docker's diskUsageContext for `-v`: the four lists of row contexts (IDs truncated only in the table). */
function verboseContexts(du: DiskUsage, trunc: boolean, now: number) {
  const images = (du.Images ?? []).map((i) => {
    let repo = '<none>';
    let tag = '<none>';
    // docker shows the first tag only
    if (i.RepoTags?.length && !isDangling(i)) {
      const rt = splitTag(i.RepoTags[0]);
      if (rt) [repo, tag] = rt;
    }
    return imageContext(i, repo, tag, '', trunc, now);
  });
  // The virtual size is not shown here.
  const ctrs = (du.Containers ?? []).map((c) => containerContext({ ...c, SizeRootFs: 0 }, trunc, now));
  const vols = (du.Volumes ?? []).map(volumeContext);
  const cache = sortCache(du.BuildCache ?? []).map((b) => cacheContext(b, trunc, now));
  return goStruct({ Images: images, Containers: ctrs, Volumes: vols, BuildCache: cache }, '*formatter.diskUsageContext');
}

function verboseTable(du: DiskUsage, builderSize: number, now: number): string {
  const { Images: images, Containers: ctrs, Volumes: vols, BuildCache: cache } = verboseContexts(du, true, now);
  return `Images space usage:\n\n${section(IMAGES_TABLE, images, IMAGE_HEADER)}`
    + `\nContainers space usage:\n\n${section(CONTAINERS_TABLE, ctrs, CONTAINER_HEADER)}`
    + `\nLocal Volumes space usage:\n\n${section(VOLUMES_TABLE, vols, VOLUME_HEADER)}`
    + `\nBuild cache usage: ${humanSize(builderSize)}\n\n${section(CACHE_TABLE, cache, CACHE_HEADER)}`;
}

const df: Command = {
  spec: {
    path: 'system df', usage: 'system df [OPTIONS]', desc: 'Show docker disk usage', args: { exact: 0 },
    flags: [
      { name: 'format', kind: 'string', desc: FORMAT_TABLE_DESC },
      { name: 'verbose', short: 'v', kind: 'bool', desc: 'Show detailed information on space usage' },
    ],
  },
  async run(ctx, p) {
    const format = str(p, 'format');
    const v = bool(p, 'verbose');
    // docker's raw form of -v is a template per kind with its pad function: not drawn by berth
    if (v && format === 'raw') throw new StatusError('berth: system df -v does not support --format raw; use table, json or a template', 125);
    const du = await ctx.client.json<DiskUsage>('GET', '/system/df');
    const builderSize = (du.BuildCache ?? []).filter((b) => !b.Shared).reduce((n, b) => n + (b.Size ?? 0), 0);
    if (v && (!format || format === 'table')) { ctx.out(verboseTable(du, builderSize, Date.now())); return 0; }
    if (v) {
      // One execution over the whole context, with no newline after it, as docker's.
      const text = renderFormat(format, [verboseContexts(du, false, Date.now())], {});
      ctx.out(format.startsWith('table') ? text : text.replace(/\n$/, ''));
      return 0;
    }
    const f = !format || format === 'table' ? SUMMARY_TABLE : format === 'raw' ? SUMMARY_RAW : format;
    ctx.out(renderFormat(f, summaryRows(du, builderSize), SUMMARY_HEADER));
    return 0;
  },
};

export const commands: Record<string, Command> = { 'system df': df };
