/**
 * stats: docker's collector per container (one GET /containers/{id}/stats stream each), its
 * arithmetic (CPU % from cpu_stats vs precpu_stats, memory without the inactive page cache) and its
 * live redraw (cursor home, erase-line, erase-below every 500 ms).
 */
import type { IncomingMessage } from 'node:http';
import { jsonMessages } from '../../client/engine-client.js';
import { goStruct, parseTemplate } from '../../core/go-template.js';
import { bytesSize, humanSizeWithPrecision } from '../../core/human.js';
import { StatusError, bool, str, type CliContext, type Command } from '../context.js';
import { reportErrorText } from '../errors.js';
import { renderFormat, templateString, truncateId } from '../format.js';
import { FORMAT_TABLE_DESC } from './ps.js';

export const DEFAULT_STATS_TABLE = 'table {{.ID}}\t{{.Name}}\t{{.CPUPerc}}\t{{.MemUsage}}\t{{.MemPerc}}\t{{.NetIO}}\t{{.BlockIO}}\t{{.PIDs}}';

export const STATS_HEADER: Record<string, string> = {
  Container: 'CONTAINER', Name: 'NAME', ID: 'CONTAINER ID', CPUPerc: 'CPU %', MemUsage: 'MEM USAGE / LIMIT',
  MemPerc: 'MEM %', NetIO: 'NET I/O', BlockIO: 'BLOCK I/O', PIDs: 'PIDS',
};

export interface StatsEntry {
  Container: string;
  Name: string;
  ID: string;
  CPUPercentage: number;
  Memory: number;
  MemoryLimit: number;
  MemoryPercentage: number;
  NetworkRx: number;
  NetworkTx: number;
  BlockRead: number;
  BlockWrite: number;
  PidsCurrent: number;
  IsInvalid: boolean;
}

export function emptyEntry(container: string): StatsEntry {
  return {
    Container: container, Name: '', ID: '', CPUPercentage: 0, Memory: 0, MemoryLimit: 0, MemoryPercentage: 0,
    NetworkRx: 0, NetworkTx: 0, BlockRead: 0, BlockWrite: 0, PidsCurrent: 0, IsInvalid: false,
  };
}

/** (container delta / system delta) × online CPUs × 100, from one stats document. */
export function cpuPercentUnix(v: any): number {
  const cpuDelta = Number(v.cpu_stats?.cpu_usage?.total_usage ?? 0) - Number(v.precpu_stats?.cpu_usage?.total_usage ?? 0);
  const systemDelta = Number(v.cpu_stats?.system_cpu_usage ?? 0) - Number(v.precpu_stats?.system_cpu_usage ?? 0);
  let online = Number(v.cpu_stats?.online_cpus ?? 0);
  if (online === 0) online = (v.cpu_stats?.cpu_usage?.percpu_usage ?? []).length;
  return systemDelta > 0 && cpuDelta > 0 ? (cpuDelta / systemDelta) * online * 100 : 0;
}

/** usage minus inactive file pages (cgroup v1 total_inactive_file, v2 inactive_file). */
export function memUsageNoCache(mem: any): number {
  const usage = Number(mem?.usage ?? 0);
  const st = mem?.stats ?? {};
  if (st.total_inactive_file !== undefined && Number(st.total_inactive_file) < usage) return usage - Number(st.total_inactive_file);
  const inactive = Number(st.inactive_file ?? 0);
  if (inactive < usage) return usage - inactive;
  return usage;
}

/** One daemon stats document → the figures docker shows. */
export function entryFromStats(container: string, v: any): StatsEntry {
  let blkRead = 0, blkWrite = 0;
  for (const e of v.blkio_stats?.io_service_bytes_recursive ?? []) {
    const op = String(e.op ?? '');
    if (op[0] === 'r' || op[0] === 'R') blkRead += Number(e.value ?? 0);
    else if (op[0] === 'w' || op[0] === 'W') blkWrite += Number(e.value ?? 0);
  }
  let rx = 0, tx = 0;
  for (const n of Object.values((v.networks ?? {}) as Record<string, any>)) {
    rx += Number(n.rx_bytes ?? 0);
    tx += Number(n.tx_bytes ?? 0);
  }
  const mem = memUsageNoCache(v.memory_stats);
  const limit = Number(v.memory_stats?.limit ?? 0);
  return {
    Container: container, Name: String(v.name ?? ''), ID: String(v.id ?? ''),
    CPUPercentage: cpuPercentUnix(v), Memory: mem, MemoryLimit: limit, MemoryPercentage: limit !== 0 ? (mem / limit) * 100 : 0,
    NetworkRx: rx, NetworkTx: tx, BlockRead: blkRead, BlockWrite: blkWrite, PidsCurrent: Number(v.pids_stats?.current ?? 0),
    IsInvalid: false,
  };
}

const pct = (n: number) => `${n.toFixed(2)}%`;

/** docker's statsContext: the fields a --format template sees. */
export function statsContext(s: StatsEntry, trunc: boolean) {
  const c = {
    Container: () => s.Container,
    Name: () => (s.Name.length > 1 ? s.Name.slice(1) : '--'),
    ID: () => (trunc ? truncateId(s.ID) : s.ID),
    CPUPerc: () => (s.IsInvalid ? '--' : pct(s.CPUPercentage)),
    MemUsage: () => (s.IsInvalid ? '-- / --' : `${bytesSize(s.Memory)} / ${bytesSize(s.MemoryLimit)}`),
    MemPerc: () => (s.IsInvalid ? '--' : pct(s.MemoryPercentage)),
    NetIO: () => (s.IsInvalid ? '--' : `${humanSizeWithPrecision(s.NetworkRx, 3)} / ${humanSizeWithPrecision(s.NetworkTx, 3)}`),
    BlockIO: () => (s.IsInvalid ? '--' : `${humanSizeWithPrecision(s.BlockRead, 3)} / ${humanSizeWithPrecision(s.BlockWrite, 3)}`),
    PIDs: () => (s.IsInvalid ? '--' : String(s.PidsCurrent)),
    toJSON() {
      const o: Record<string, unknown> = {};
      for (const k of ['BlockIO', 'CPUPerc', 'Container', 'ID', 'MemPerc', 'MemUsage', 'Name', 'NetIO', 'PIDs']) o[k] = (c as any)[k]();
      return o;
    },
  };
  return goStruct(c, '*container.statsContext');
}

export function renderStats(format: string, entries: StatsEntry[], trunc: boolean): string {
  const f = !format || format === 'table' ? DEFAULT_STATS_TABLE : format;
  return renderFormat(f, entries.map((e) => statsContext(e, trunc)), STATS_HEADER);
}

/** docker's live frame: home, the table, the table again line by line with erase-to-end, erase below. */
export function liveFrame(table: string): string {
  let buf = '\x1b[H' + table;
  const lines = buf.split('\n');
  for (const line of lines) buf += `${line} \x1b[K\n`;
  return buf + '\x1b[J';
}

/** Follows one container's stats stream, keeping the latest entry (docker's collect()). */
class Collector {
  entry: StatsEntry;
  error: unknown = null;
  readonly first: Promise<void>;
  private res: IncomingMessage | null = null;
  private stopped = false;
  private timer: NodeJS.Timeout | null = null;

  constructor(private readonly ctx: CliContext, readonly container: string, private readonly stream: boolean) {
    this.entry = emptyEntry(container);
    let markFirst!: () => void;
    this.first = new Promise((r) => { markFirst = r; });
    void this.run(markFirst);
  }

  private armTimeout(markFirst: () => void): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      // docker: no figures for 2s → show "--" and stop waiting for a first sample
      this.entry = { ...emptyEntry(this.container), Name: this.entry.Name, ID: this.entry.ID, IsInvalid: true };
      this.error = new Error('timeout waiting for stats');
      markFirst();
      if (this.stream && !this.stopped) this.armTimeout(markFirst);
    }, 2000);
    this.timer.unref();
  }

  private async run(markFirst: () => void): Promise<void> {
    this.armTimeout(markFirst);
    try {
      this.res = await this.ctx.client.containers.stats(this.container, this.stream);
      for await (const v of jsonMessages<any>(this.res)) {
        this.entry = entryFromStats(this.container, v);
        this.error = null;
        markFirst();
        if (!this.stream) break;
        this.armTimeout(markFirst);
      }
      if (this.stream && !this.stopped) { this.entry = { ...this.entry, IsInvalid: true }; this.error = new Error('EOF'); }
    } catch (e) {
      if (!this.stopped) { this.error = e; this.entry = { ...this.entry, IsInvalid: true }; }
    } finally {
      if (this.timer) clearTimeout(this.timer);
      markFirst();
    }
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.res?.destroy();
  }
}

const stats: Command = {
  spec: {
    path: 'stats', usage: 'stats [OPTIONS] [CONTAINER...]', desc: 'Display a live stream of container(s) resource usage statistics',
    aliases: ['container stats', 'stats'],
    flags: [
      { name: 'all', short: 'a', kind: 'bool', desc: 'Show all containers (default shows just running)' },
      { name: 'format', kind: 'string', desc: FORMAT_TABLE_DESC },
      { name: 'no-stream', kind: 'bool', desc: 'Disable streaming stats and only pull the first result' },
      { name: 'no-trunc', kind: 'bool', desc: 'Do not truncate output' },
    ],
  },
  async run(ctx, p) {
    const noStream = bool(p, 'no-stream');
    const all = bool(p, 'all');
    const trunc = !bool(p, 'no-trunc');
    const format = str(p, 'format');
    if (format && format !== 'table' && format !== 'json') {
      try { parseTemplate(templateString(format)); } catch (e) { throw new StatusError(`template parsing error: ${(e as Error).message}`, 1); }
    }
    const collectors: Collector[] = [];
    const add = (c: string) => {
      if (collectors.some((x) => x.container === c)) return;
      collectors.push(new Collector(ctx, c, !noStream));
    };
    const remove = (c: string) => {
      const i = collectors.findIndex((x) => x.container === c);
      if (i >= 0) collectors.splice(i, 1)[0]!.stop();
    };
    const showAll = p.args.length === 0;
    let events: IncomingMessage | null = null;
    let eventsError: unknown = null;
    try {
      if (showAll) {
        if (!noStream) {
          // subscribe before listing so a container started in between is not missed
          events = await ctx.client.events({ filters: JSON.stringify({ type: { container: true } }) });
          void (async () => {
            try {
              for await (const e of jsonMessages<any>(events!)) {
                const id = String(e.Actor?.ID ?? e.id ?? '').slice(0, 12);
                const action = String(e.Action ?? e.status ?? '');
                if (action === 'start' || (all && action === 'create')) add(id);
                else if (action === 'die' && !all) remove(id);
              }
            } catch (err) {
              eventsError = err;
            }
          })();
        }
        const list = await ctx.client.containers.list({ all: all || undefined });
        for (const c of list) add(String(c.Id).slice(0, 12));
        await Promise.all(collectors.map((c) => c.first));
      } else {
        for (const c of p.args) add(c);
        await Promise.all(collectors.map((c) => c.first));
        const errs = collectors.filter((c) => c.error).map((c) => reportErrorText(c.error));
        if (errs.length) throw new StatusError(errs.join('\n'), 1);
      }

      for (;;) {
        const table = renderStats(format, collectors.map((c) => c.entry), trunc);
        if (noStream) { ctx.out(table); return 0; }
        ctx.out(liveFrame(table));
        if (collectors.length === 0 && !showAll) return 0;
        if (eventsError) throw eventsError;
        await new Promise((r) => setTimeout(r, 500));
      }
    } finally {
      for (const c of collectors) c.stop();
      events?.destroy();
    }
  },
};

export const commands: Record<string, Command> = { stats };
