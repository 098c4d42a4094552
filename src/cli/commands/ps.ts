/** ps / container ls: docker's container formatter over GET /containers/json. */
import { goStruct, parseTemplate } from '../../core/go-template.js';
import { humanSizeWithPrecision, timeAgo } from '../../core/human.js';
import { StatusError, bool, filtersParam, list, num, str, type Command } from '../context.js';
import { ellipsis, goTimeString, renderFormat, templateString, truncateId } from '../format.js';

export const FORMAT_TABLE_DESC = "Format output using a custom template:\n'table':            Print output in table format with column headers (default)\n'table TEMPLATE':   Print output in table format using the given Go template\n'json':             Print in JSON format\n'TEMPLATE':         Print output using the given Go template.\nRefer to https://docs.docker.com/go/formatting/ for more information about formatting output with templates";

const DEFAULT_TABLE = 'table {{.ID}}\t{{.Image}}\t{{.Command}}\t{{.RunningFor}}\t{{.Status}}\t{{.Ports}}\t{{.Names}}';

export const CONTAINER_HEADER: Record<string, string> = {
  ID: 'CONTAINER ID', Names: 'NAMES', Image: 'IMAGE', Command: 'COMMAND', CreatedAt: 'CREATED AT', RunningFor: 'CREATED',
  Ports: 'PORTS', State: 'STATE', Status: 'STATUS', Size: 'SIZE', Labels: 'LABELS', Mounts: 'MOUNTS',
  LocalVolumes: 'LOCAL VOLUMES', Networks: 'NETWORKS', Platform: 'PLATFORM', Label: 'LABEL',
};

/** distribution/reference FamiliarString, enough for display: drop docker.io/library/ and digests. */
export function familiarImage(image: string): string {
  let s = image;
  const at = s.indexOf('@');
  if (at >= 0) s = s.slice(0, at);
  if (s.startsWith('docker.io/')) s = s.slice('docker.io/'.length);
  if (s.startsWith('library/') && !s.slice(8).includes('/')) s = s.slice(8);
  return s || image;
}

interface PortSummary { IP?: string; PrivatePort: number; PublicPort?: number; Type: string }

/** docker's DisplayablePorts: "0.0.0.0:8080->80/tcp, 9000-9001/tcp". */
export function displayablePorts(ports: PortSummary[] | null | undefined): string {
  if (!ports?.length) return '';
  const sorted = [...ports].sort((a, b) =>
    a.PrivatePort - b.PrivatePort || (a.IP ?? '').localeCompare(b.IP ?? '') || (a.PublicPort ?? 0) - (b.PublicPort ?? 0) || a.Type.localeCompare(b.Type));
  const groups = new Map<string, { first: number; last: number }>();
  const order: string[] = [];
  const result: string[] = [];
  const hostMappings: string[] = [];
  const joinHost = (ip: string, port: string) => (ip.includes(':') ? `[${ip}]:${port}` : `${ip}:${port}`);
  const formGroup = (key: string, first: number, last: number) => {
    const parts = key.split('/');
    let type = parts[0]!;
    let ip = '';
    if (parts.length > 1) { ip = parts[0]!; type = parts[1]!; }
    let g = String(first);
    if (first !== last) g = `${g}-${last}`;
    if (ip) g = `${joinHost(ip, g)}->${g}`;
    return `${g}/${type}`;
  };
  for (const p of sorted) {
    let key = p.Type;
    if (p.IP) {
      if (p.PublicPort !== p.PrivatePort) {
        hostMappings.push(`${joinHost(p.IP, String(p.PublicPort ?? 0))}->${p.PrivatePort}/${p.Type}`);
        continue;
      }
      key = `${p.IP}/${p.Type}`;
    }
    const g = groups.get(key);
    if (!g) { groups.set(key, { first: p.PrivatePort, last: p.PrivatePort }); order.push(key); continue; }
    if (p.PrivatePort === g.last + 1) { g.last = p.PrivatePort; continue; }
    result.push(formGroup(key, g.first, g.last));
    groups.set(key, { first: p.PrivatePort, last: p.PrivatePort });
  }
  for (const k of order) { const g = groups.get(k)!; result.push(formGroup(k, g.first, g.last)); }
  return [...result, ...hostMappings].join(', ');
}

/** One row of `ps`, with docker's ContainerContext fields. */
export function containerContext(c: any, trunc: boolean, now = Date.now()) {
  const ctx = {
    ID: () => (trunc ? truncateId(c.Id ?? '') : c.Id ?? ''),
    Names: () => {
      const names: string[] = (c.Names ?? []).map((n: string) => n.replace(/^\//, ''));
      if (trunc) return names.find((n) => !n.includes('/')) ?? '';
      return names.join(',');
    },
    Image: () => {
      const img: string = c.Image ?? '';
      if (!img) return '<no image>';
      if (!trunc) return img;
      if (truncateId(c.ImageID ?? '') === truncateId(img)) return truncateId(img);
      return familiarImage(img);
    },
    Command: () => JSON.stringify(trunc ? ellipsis(c.Command ?? '', 20) : c.Command ?? ''),
    CreatedAt: () => goTimeString((c.Created ?? 0) * 1000),
    RunningFor: () => timeAgo(c.Created ?? 0, now),
    Ports: () => displayablePorts(c.Ports),
    State: () => c.State ?? '',
    Status: () => c.Status ?? '',
    Size: () => {
      const srw = humanSizeWithPrecision(c.SizeRw ?? 0, 3);
      return (c.SizeRootFs ?? 0) > 0 ? `${srw} (virtual ${humanSizeWithPrecision(c.SizeRootFs, 3)})` : srw;
    },
    Labels: () => Object.entries((c.Labels ?? {}) as Record<string, string>).map(([k, v]) => `${k}=${v}`).sort().join(','),
    Label: (name: string) => (c.Labels ?? {})[name] ?? '',
    Mounts: () => ((c.Mounts ?? []) as any[]).map((m) => (trunc ? ellipsis(m.Name || m.Source || '', 15) : m.Name || m.Source || '')).join(','),
    LocalVolumes: () => String(((c.Mounts ?? []) as any[]).filter((m) => m.Driver === 'local').length),
    Networks: () => Object.keys(c.NetworkSettings?.Networks ?? {}).sort().join(','),
    Platform: () => null as string | null,
    toJSON() {
      const o: Record<string, unknown> = {};
      for (const k of ['Command', 'CreatedAt', 'ID', 'Image', 'Labels', 'LocalVolumes', 'Mounts', 'Names', 'Networks', 'Platform', 'Ports', 'RunningFor', 'Size', 'State', 'Status']) {
        o[k] = (ctx as any)[k]();
      }
      return o;
    },
  };
  return goStruct(ctx, '*formatter.ContainerContext');
}

const ps: Command = {
  spec: {
    path: 'ps', usage: 'ps [OPTIONS]', desc: 'List containers', args: { exact: 0 },
    aliases: ['container ls', 'container list', 'container ps', 'ps'],
    flags: [
      { name: 'all', short: 'a', kind: 'bool', desc: 'Show all containers (default shows just running)' },
      { name: 'filter', short: 'f', kind: 'list', type: 'filter', desc: 'Filter output based on conditions provided' },
      { name: 'format', kind: 'string', desc: FORMAT_TABLE_DESC },
      { name: 'last', short: 'n', kind: 'int', desc: 'Show n last created containers (includes all states)', default: -1 },
      { name: 'latest', short: 'l', kind: 'bool', desc: 'Show the latest created container (includes all states)' },
      { name: 'no-trunc', kind: 'bool', desc: "Don't truncate output" },
      { name: 'quiet', short: 'q', kind: 'bool', desc: 'Only display container IDs' },
      { name: 'size', short: 's', kind: 'bool', desc: 'Display total file sizes' },
    ],
  },
  async run(ctx, p) {
    const quiet = bool(p, 'quiet');
    // config.json's psFormat stands in for a missing --format, as docker's (not with -q)
    let format = str(p, 'format') || (quiet ? '' : ctx.config.psFormat ?? '');
    if (format && quiet) ctx.err('WARNING: Ignoring custom format, because both --format and --quiet are set.\n');
    if (format) {
      // docker validates the template before calling the API
      let tmpl;
      try {
        tmpl = parseTemplate(templateString(format));
      } catch (e) {
        throw new StatusError(`failed to parse template: ${(e as Error).message}`, 1);
      }
      try {
        tmpl.execute(containerContext({}, true));
      } catch (e) {
        throw new StatusError(`failed to execute template: ${(e as Error).message}`, 1);
      }
    }
    let size = bool(p, 'size');
    if (format && !quiet && !p.changed.has('size') && /\.Size\b/.test(format)) size = true;
    let limit = num(p, 'last');
    if (bool(p, 'latest') && limit === -1) limit = 1;
    const containers = await ctx.client.containers.list({
      all: bool(p, 'all') || undefined,
      limit: limit > 0 ? limit : undefined,
      size: size || undefined,
      filters: filtersParam(list(p, 'filter')),
    });
    if (quiet) format = '{{.ID}}';
    else if (!format || format === 'table') format = DEFAULT_TABLE + (size ? '\t{{.Size}}' : '');
    const now = Date.now();
    const rows = containers.map((c) => containerContext(c, !bool(p, 'no-trunc'), now));
    ctx.out(renderFormat(format, rows, CONTAINER_HEADER));
    return 0;
  },
};

export const commands: Record<string, Command> = { ps };
