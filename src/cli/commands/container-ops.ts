/** top, pause, unpause, update, port: small container verbs with docker's output and errors. */
import { ramInBytes } from '../../core/human.js';
import { StatusError, num, str, type CliContext, type Command } from '../context.js';
import { reportErrorText } from '../errors.js';
import { FlagError, type FlagDef, type ParsedArgs } from '../flags.js';
import { tabwrite } from '../format.js';

const top: Command = {
  spec: {
    path: 'top', usage: 'top CONTAINER [ps OPTIONS]', desc: 'Display the running processes of a container',
    aliases: ['container top', 'top'], stopAtFirstPositional: true, args: { min: 1 }, flags: [],
  },
  async run(ctx, p) {
    const [id, ...psArgs] = p.args as [string, ...string[]];
    const r = await ctx.client.containers.top(id, psArgs.join(' '));
    let text = (r.Titles ?? []).join('\t') + '\n';
    for (const proc of r.Processes ?? []) text += proc.join('\t') + '\n';
    // docker: tabwriter.NewWriter(out, 20, 1, 3, ' ', 0)
    ctx.out(tabwrite(text, 20, 3));
    return 0;
  },
};

/** docker's parallelOperation: all requests at once, names printed in argument order. */
async function parallel(ctx: CliContext, targets: string[], op: (t: string) => Promise<unknown>): Promise<number> {
  const results = targets.map((t) => op(t).then(() => null, (e: unknown) => reportErrorText(e)));
  const errs: string[] = [];
  for (let i = 0; i < targets.length; i++) {
    const e = await results[i]!;
    if (e === null) ctx.out(`${targets[i]}\n`);
    else errs.push(e);
  }
  if (errs.length) throw new StatusError(errs.join('\n'), 1);
  return 0;
}

const pause: Command = {
  spec: {
    path: 'pause', usage: 'pause CONTAINER [CONTAINER...]', desc: 'Pause all processes within one or more containers',
    aliases: ['container pause', 'pause'], args: { min: 1 }, flags: [],
  },
  run: (ctx, p) => parallel(ctx, p.args, (c) => ctx.client.containers.pause(c)),
};

const unpause: Command = {
  spec: {
    path: 'unpause', usage: 'unpause CONTAINER [CONTAINER...]', desc: 'Unpause all processes within one or more containers',
    aliases: ['container unpause', 'unpause'], args: { min: 1 }, flags: [],
  },
  run: (ctx, p) => parallel(ctx, p.args, (c) => ctx.client.containers.unpause(c)),
};

const UPDATE_FLAGS: FlagDef[] = [
  { name: 'blkio-weight', kind: 'int', type: 'uint16', desc: 'Block IO (relative weight), between 10 and 1000, or 0 to disable (default 0)' },
  { name: 'cpu-period', kind: 'int', desc: 'Limit CPU CFS (Completely Fair Scheduler) period' },
  { name: 'cpu-quota', kind: 'int', desc: 'Limit CPU CFS (Completely Fair Scheduler) quota' },
  { name: 'cpu-rt-period', kind: 'int', desc: 'Limit the CPU real-time period in microseconds' },
  { name: 'cpu-rt-runtime', kind: 'int', desc: 'Limit the CPU real-time runtime in microseconds' },
  { name: 'cpu-shares', short: 'c', kind: 'int', desc: 'CPU shares (relative weight)' },
  { name: 'cpus', kind: 'string', type: 'decimal', desc: 'Number of CPUs' },
  { name: 'cpuset-cpus', kind: 'string', desc: 'CPUs in which to allow execution (0-3, 0,1)' },
  { name: 'cpuset-mems', kind: 'string', desc: 'MEMs in which to allow execution (0-3, 0,1)' },
  { name: 'kernel-memory', kind: 'string', type: 'bytes', desc: 'Kernel memory limit (deprecated)', hidden: true },
  { name: 'memory', short: 'm', kind: 'string', type: 'bytes', desc: 'Memory limit' },
  { name: 'memory-reservation', kind: 'string', type: 'bytes', desc: 'Memory soft limit' },
  { name: 'memory-swap', kind: 'string', type: 'bytes', desc: 'Swap limit equal to memory plus swap: -1 to enable unlimited swap' },
  { name: 'pids-limit', kind: 'int', desc: 'Tune container pids limit (set -1 for unlimited)' },
  { name: 'restart', kind: 'string', desc: 'Restart policy to apply when a container exits' },
];

function memFlag(p: ParsedArgs, name: string, shown: string): number {
  const v = str(p, name);
  if (!p.changed.has(name)) return 0;
  if (name === 'memory-swap' && v === '-1') return -1;
  try {
    return ramInBytes(v);
  } catch (e) {
    throw new FlagError(`invalid argument "${v}" for "${shown}" flag: ${(e as Error).message}`);
  }
}

/** opts.NanoCPUs: a rational number of CPUs, exact to the nanosecond. */
export function parseNanoCpus(v: string): number {
  const m = /^([+-]?)(\d*)(?:\.(\d*))?$/.exec(v.trim());
  if (!m || (m[2] === '' && !m[3])) throw new FlagError(`invalid argument "${v}" for "--cpus" flag: failed to parse ${v} as a rational number`);
  const frac = (m[3] ?? '').replace(/0+$/, '');
  if (frac.length > 9) throw new FlagError(`invalid argument "${v}" for "--cpus" flag: value is too precise`);
  const n = Number(m[2] || '0') * 1e9 + Number(frac.padEnd(9, '0') || '0');
  return m[1] === '-' ? -n : n;
}

/** opts.ParseRestartPolicy: names are checked by the daemon, only the shape here. */
export function parseRestartPolicy(v: string): { Name: string; MaximumRetryCount: number } {
  if (!v) return { Name: '', MaximumRetryCount: 0 };
  const i = v.indexOf(':');
  const name = i < 0 ? v : v.slice(0, i);
  const count = i < 0 ? '' : v.slice(i + 1);
  if (i >= 0 && name === '') throw new StatusError('invalid restart policy format: no policy provided before colon', 1);
  let max = 0;
  if (count !== '') {
    if (!/^[+-]?\d+$/.test(count)) throw new StatusError('invalid restart policy format: maximum retry count must be an integer', 1);
    max = Number(count);
  }
  return { Name: name, MaximumRetryCount: max };
}

/** The UpdateConfig body docker sends: Resources (zero = unchanged) + RestartPolicy. */
export function buildUpdateBody(p: ParsedArgs): Record<string, unknown> {
  const body: Record<string, unknown> = {
    BlkioWeight: num(p, 'blkio-weight'),
    CpusetCpus: str(p, 'cpuset-cpus'),
    CpusetMems: str(p, 'cpuset-mems'),
    CpuShares: num(p, 'cpu-shares'),
    Memory: memFlag(p, 'memory', '-m, --memory'),
    MemoryReservation: memFlag(p, 'memory-reservation', '--memory-reservation'),
    MemorySwap: memFlag(p, 'memory-swap', '--memory-swap'),
    KernelMemory: memFlag(p, 'kernel-memory', '--kernel-memory'),
    CpuPeriod: num(p, 'cpu-period'),
    CpuQuota: num(p, 'cpu-quota'),
    CpuRealtimePeriod: num(p, 'cpu-rt-period'),
    CpuRealtimeRuntime: num(p, 'cpu-rt-runtime'),
    NanoCpus: p.changed.has('cpus') ? parseNanoCpus(str(p, 'cpus')) : 0,
  };
  if (num(p, 'pids-limit') !== 0) body.PidsLimit = num(p, 'pids-limit');
  body.RestartPolicy = parseRestartPolicy(str(p, 'restart'));
  return body;
}

const update: Command = {
  spec: {
    path: 'update', usage: 'update [OPTIONS] CONTAINER [CONTAINER...]', desc: 'Update configuration of one or more containers',
    aliases: ['container update', 'update'], args: { min: 1 }, flags: UPDATE_FLAGS,
  },
  async run(ctx, p) {
    if (p.changed.size === 0) throw new StatusError('you must provide one or more flags when using this command', 1);
    const body = buildUpdateBody(p);
    const warns: string[] = [];
    const errs: string[] = [];
    for (const c of p.args) {
      try {
        const r = await ctx.client.containers.update(c, body);
        ctx.out(`${c}\n`);
        warns.push(...(r?.Warnings ?? []));
      } catch (e) {
        errs.push(reportErrorText(e));
      }
    }
    if (warns.length) ctx.out(warns.join('\n') + '\n');
    if (errs.length) throw new StatusError(errs.join('\n'), 1);
    return 0;
  },
};

/** net.JoinHostPort */
function joinHostPort(ip: string, port: string): string {
  return ip.includes(':') ? `[${ip}]:${port}` : `${ip}:${port}`;
}

/** fvbommel/sortorder.NaturalLess: digit runs compare as numbers. */
export function naturalLess(a: string, b: string): boolean {
  const re = /(\d+|\D+)/g;
  const xa = a.match(re) ?? [];
  const xb = b.match(re) ?? [];
  for (let i = 0; i < Math.min(xa.length, xb.length); i++) {
    const x = xa[i]!, y = xb[i]!;
    if (x === y) continue;
    const dx = /^\d/.test(x), dy = /^\d/.test(y);
    if (dx && dy) {
      const nx = x.replace(/^0+/, ''), ny = y.replace(/^0+/, '');
      if (nx.length !== ny.length) return nx.length < ny.length;
      if (nx !== ny) return nx < ny;
      return x.length < y.length;
    }
    return x < y;
  }
  return xa.length < xb.length;
}

export function naturalCompare(a: string, b: string): number {
  return naturalLess(a, b) ? -1 : naturalLess(b, a) ? 1 : 0;
}

/** The lines `port` prints from NetworkSettings.Ports, optionally for one PRIVATE_PORT[/PROTO]. */
export function portLines(ports: Record<string, Array<{ HostIp: string; HostPort: string }> | null> | null | undefined, want: string | undefined, container: string): string[] {
  const out: string[] = [];
  const map = ports ?? {};
  if (want !== undefined) {
    const slash = want.indexOf('/');
    const port = slash < 0 ? want : want.slice(0, slash);
    const proto = slash < 0 || want.slice(slash + 1) === '' ? 'tcp' : want.slice(slash + 1);
    if (!/^\d+$/.test(port) || Number(port) > 65535) {
      const why = /^\d+$/.test(port) ? 'value out of range' : 'invalid syntax';
      throw new StatusError(`Error: invalid port (${port}): strconv.ParseUint: parsing "${port}": ${why}`, 1);
    }
    const frontends = map[`${port}/${proto}`];
    if (!frontends?.length) throw new StatusError(`Error: No public port '${want}' published for ${container}`, 1);
    for (const f of frontends) out.push(joinHostPort(f.HostIp, f.HostPort));
  } else {
    for (const [from, frontends] of Object.entries(map)) {
      for (const f of frontends ?? []) out.push(`${from} -> ${joinHostPort(f.HostIp, f.HostPort)}`);
    }
  }
  return out.sort(naturalCompare);
}

const port: Command = {
  spec: {
    path: 'port', usage: 'port CONTAINER [PRIVATE_PORT[/PROTO]]', desc: 'List port mappings or a specific mapping for the container',
    aliases: ['container port', 'port'], args: { min: 1, max: 2 }, flags: [],
  },
  async run(ctx, p) {
    const c = await ctx.client.containers.inspect(p.args[0]!);
    const lines = portLines(c.NetworkSettings?.Ports, p.args[1], p.args[0]!);
    if (lines.length) ctx.out(lines.join('\n') + '\n');
    return 0;
  },
};

export const commands: Record<string, Command> = { top, pause, unpause, update, port };

