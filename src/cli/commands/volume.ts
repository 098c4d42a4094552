/** volume create/ls/inspect/rm/prune, as docker's cli/command/volume. */
import { EngineApiError, buildQuery } from '../../client/engine-client.js';
import { goStruct } from '../../core/go-template.js';
import { humanSize } from '../../core/human.js';
import { StatusError, bool, filtersParam, list, str, type Command } from '../context.js';
import { reportErrorText } from '../errors.js';
import { FlagError } from '../flags.js';
import { renderFormat } from '../format.js';
import { naturalCompare } from './container-ops.js';
import { inspectAll } from './inspect.js';
import { confirm } from './lifecycle.js';
import { FORMAT_TABLE_DESC } from './ps.js';

const INSPECT_FORMAT_DESC = "Format output using a custom template:\n'json':             Print in JSON format\n'TEMPLATE':         Print output using the given Go template.\nRefer to https://docs.docker.com/go/formatting/ for more information about formatting output with templates";

function kvMap(values: string[], flag: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const v of values) {
    const i = v.indexOf('=');
    const k = i < 0 ? v : v.slice(0, i);
    if (flag === 'label' && k.trim() === '') throw new FlagError(`invalid argument "${v}" for "--label" flag: invalid label '${v}': empty name`);
    out[k] = i < 0 ? '' : v.slice(i + 1);
  }
  return out;
}

const enc = encodeURIComponent;

const create: Command = {
  spec: {
    path: 'volume create', usage: 'volume create [OPTIONS] [VOLUME]', desc: 'Create a volume', args: { max: 1 },
    flags: [
      { name: 'driver', short: 'd', kind: 'string', desc: 'Specify volume driver name', default: 'local' },
      { name: 'label', kind: 'list', desc: 'Set metadata for a volume' },
      { name: 'name', kind: 'string', desc: 'Specify volume name', hidden: true },
      { name: 'opt', short: 'o', kind: 'list', type: 'map', desc: 'Set driver specific options' },
    ],
  },
  async run(ctx, p) {
    if (p.args.length && str(p, 'name') && p.args[0] !== str(p, 'name')) {
      throw new StatusError(`conflicting options: cannot specify a volume-name through both --name and as a positional arg`, 1);
    }
    const body = {
      Driver: str(p, 'driver'), DriverOpts: kvMap(list(p, 'opt'), 'opt'), Name: p.args[0] ?? str(p, 'name'), Labels: kvMap(list(p, 'label'), 'label'),
    };
    const v = await ctx.client.json('POST', '/volumes/create', { body });
    ctx.out(`${v.Name}\n`);
    return 0;
  },
};

export const VOLUME_HEADER: Record<string, string> = {
  Name: 'VOLUME NAME', Driver: 'DRIVER', Scope: 'SCOPE', Mountpoint: 'MOUNTPOINT', Labels: 'LABELS', Links: 'LINKS', Size: 'SIZE',
  Group: 'GROUP', Availability: 'AVAILABILITY', Status: 'STATUS',
};

/** docker's volumeContext */
export function volumeContext(v: any) {
  const labels = (v.Labels ?? null) as Record<string, string> | null;
  const c = {
    Name: () => v.Name ?? '',
    Driver: () => v.Driver ?? '',
    Scope: () => v.Scope ?? '',
    Mountpoint: () => v.Mountpoint ?? '',
    Labels: () => (labels ? Object.entries(labels).map(([k, x]) => `${k}=${x}`).join(',') : ''),
    Label: (name: string) => (labels ? labels[name] ?? '' : ''),
    Links: () => (v.UsageData ? String(v.UsageData.RefCount) : 'N/A'),
    Size: () => (v.UsageData && v.UsageData.Size >= 0 ? humanSize(v.UsageData.Size) : 'N/A'),
    Group: () => 'N/A', Availability: () => 'N/A', Status: () => 'N/A',
    toJSON() {
      const o: Record<string, unknown> = {};
      for (const k of ['Availability', 'Driver', 'Group', 'Labels', 'Links', 'Mountpoint', 'Name', 'Scope', 'Size', 'Status']) o[k] = (c as any)[k]();
      return o;
    },
  };
  return goStruct(c, '*volume.volumeContext');
}

const ls: Command = {
  spec: {
    path: 'volume ls', usage: 'volume ls [OPTIONS]', desc: 'List volumes', aliases: ['volume ls', 'volume list'], args: { exact: 0 },
    flags: [
      { name: 'cluster', kind: 'bool', desc: 'Display only cluster volumes, and use cluster volume list formatting' },
      { name: 'filter', short: 'f', kind: 'list', type: 'filter', desc: "Provide filter values (e.g. \"dangling=true\")" },
      { name: 'format', kind: 'string', desc: FORMAT_TABLE_DESC },
      { name: 'quiet', short: 'q', kind: 'bool', desc: 'Only display volume names' },
    ],
  },
  async run(ctx, p) {
    if (bool(p, 'cluster')) throw new StatusError('Error response from daemon: This node is not a swarm manager. Use "docker swarm init" or "docker swarm join" to connect this node to swarm and try again.', 1);
    const r = await ctx.client.json('GET', `/volumes${buildQuery({ filters: filtersParam(list(p, 'filter')) })}`);
    const vols = ((r?.Volumes ?? []) as any[]).sort((a, b) => naturalCompare(String(a.Name ?? ''), String(b.Name ?? '')));
    let format = str(p, 'format') || 'table';
    if (format === 'table') format = bool(p, 'quiet') ? '{{.Name}}' : 'table {{.Driver}}\t{{.Name}}';
    else if (bool(p, 'quiet')) format = '{{.Name}}';
    ctx.out(renderFormat(format, vols.map(volumeContext), VOLUME_HEADER));
    return 0;
  },
};

const inspect: Command = {
  spec: {
    path: 'volume inspect', usage: 'volume inspect [OPTIONS] VOLUME [VOLUME...]', desc: 'Display detailed information on one or more volumes', args: { min: 1 },
    flags: [{ name: 'format', short: 'f', kind: 'string', desc: INSPECT_FORMAT_DESC }],
  },
  run: (ctx, p) => inspectAll(ctx, p.args, str(p, 'format'), (ref) => ctx.client.json('GET', `/volumes/${enc(ref)}`)),
};

const rm: Command = {
  spec: {
    path: 'volume rm', usage: 'volume rm [OPTIONS] VOLUME [VOLUME...]', desc: 'Remove one or more volumes', aliases: ['volume rm', 'volume remove'], args: { min: 1 },
    flags: [{ name: 'force', short: 'f', kind: 'bool', desc: 'Force the removal of one or more volumes' }],
  },
  async run(ctx, p) {
    let status = 0;
    for (const name of p.args) {
      try {
        await ctx.client.json('DELETE', `/volumes/${enc(name)}${bool(p, 'force') ? '?force=1' : ''}`);
        ctx.out(`${name}\n`);
      } catch (e) {
        if (!(e instanceof EngineApiError)) throw e;
        ctx.err(`${reportErrorText(e)}\n`);
        status = 1;
      }
    }
    return status;
  },
};

const prune: Command = {
  spec: {
    path: 'volume prune', usage: 'volume prune [OPTIONS]', desc: 'Remove unused local volumes', args: { exact: 0 },
    flags: [
      { name: 'all', short: 'a', kind: 'bool', desc: 'Remove all unused volumes, not just anonymous ones' },
      { name: 'filter', kind: 'list', type: 'filter', desc: 'Provide filter values (e.g. "label=<label>")' },
      { name: 'force', short: 'f', kind: 'bool', desc: 'Do not prompt for confirmation' },
    ],
  },
  async run(ctx, p) {
    const filters = [...list(p, 'filter')];
    if (bool(p, 'all')) {
      if (filters.some((f) => f.startsWith('all='))) throw new StatusError('conflicting options: cannot specify both --all and --filter all=1', 1);
      filters.push('all=true');
    }
    const warning = bool(p, 'all') || filters.some((f) => /^all=(1|true)$/i.test(f))
      ? 'WARNING! This will remove all local volumes not used by at least one container.'
      : 'WARNING! This will remove anonymous local volumes not used by at least one container.';
    if (!bool(p, 'force') && !(await confirm(ctx, warning))) throw new StatusError('', 1);
    const r = await ctx.client.json('POST', `/volumes/prune${buildQuery({ filters: filtersParam(filters) })}`);
    let out = '';
    if (r?.VolumesDeleted?.length) out += 'Deleted Volumes:\n' + (r.VolumesDeleted as string[]).map((n) => n + '\n').join('') + '\n';
    out += `Total reclaimed space: ${humanSize(r?.SpaceReclaimed ?? 0)}\n`;
    ctx.out(out);
    return 0;
  },
};

export const commands: Record<string, Command> = {
  'volume create': create, 'volume ls': ls, 'volume inspect': inspect, 'volume rm': rm, 'volume prune': prune,
};
