import { ExecFailure } from '../sys/spawn.js';
import { posixRunner, type ProcessRunner } from '../sys/process-runner.js';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ConflictError, SystemError } from '../errors.js';

/**
 * docker stats and docker top. The pure half turns cgroup files (v1 or v2) and /proc text into
 * Docker's stats JSON, and `ps` output into {Titles, Processes}; the service reads the files.
 */

export const ZERO_TIME = '0001-01-01T00:00:00Z';
const NS_PER_TICK = 1e9 / 100; // USER_HZ is 100 on Linux

export interface BlkioEntry { major: number; minor: number; op: string; value: number }
export interface CpuStats {
  cpu_usage: { total_usage: number; percpu_usage?: number[]; usage_in_kernelmode: number; usage_in_usermode: number };
  system_cpu_usage?: number;
  online_cpus?: number;
  throttling_data: { periods: number; throttled_periods: number; throttled_time: number };
}
export interface MemoryStats { usage?: number; max_usage?: number; stats?: Record<string, number>; failcnt?: number; limit?: number }
export interface NetworkStats {
  rx_bytes: number; rx_packets: number; rx_errors: number; rx_dropped: number;
  tx_bytes: number; tx_packets: number; tx_errors: number; tx_dropped: number;
}
export interface StatsJson {
  read: string;
  preread: string;
  pids_stats: { current?: number; limit?: number };
  blkio_stats: {
    io_service_bytes_recursive: BlkioEntry[] | null; io_serviced_recursive: BlkioEntry[] | null;
    io_queue_recursive: null; io_service_time_recursive: null; io_wait_time_recursive: null;
    io_merged_recursive: null; io_time_recursive: null; sectors_recursive: null;
  };
  num_procs: number;
  storage_stats: Record<string, never>;
  cpu_stats: CpuStats;
  precpu_stats: CpuStats;
  memory_stats: MemoryStats;
  name: string;
  id: string;
  networks?: Record<string, NetworkStats>;
}

/** The cgroup part of a sample (what the per-version converters produce). */
export interface CgroupSample {
  cpu: CpuStats;
  memory: MemoryStats;
  pids: { current?: number; limit?: number };
  blkio: { serviceBytes: BlkioEntry[] | null; serviced: BlkioEntry[] | null };
}

/** Text of the v1 files; a missing file is undefined. */
export interface CgroupV1Files {
  'memory.usage_in_bytes'?: string; 'memory.max_usage_in_bytes'?: string; 'memory.limit_in_bytes'?: string;
  'memory.failcnt'?: string; 'memory.stat'?: string;
  'cpuacct.usage'?: string; 'cpuacct.usage_percpu'?: string; 'cpuacct.stat'?: string; 'cpu.stat'?: string;
  'pids.current'?: string; 'pids.max'?: string;
  'blkio.throttle.io_service_bytes'?: string; 'blkio.throttle.io_serviced'?: string;
}

export interface CgroupV2Files {
  'memory.current'?: string; 'memory.max'?: string; 'memory.stat'?: string; 'memory.peak'?: string;
  'cpu.stat'?: string; 'pids.current'?: string; 'pids.max'?: string; 'io.stat'?: string;
}

function num(s: string | undefined): number | undefined {
  if (s === undefined) return undefined;
  const t = s.trim();
  if (!/^\d+$/.test(t)) return undefined;
  return Number(t);
}

/** "key value" lines (memory.stat, cpu.stat, cpuacct.stat) → map. */
export function parseFlatKeyed(text: string | undefined): Record<string, number> {
  const out: Record<string, number> = {};
  for (const line of (text ?? '').split('\n')) {
    const [k, v] = line.trim().split(/\s+/);
    if (k && v !== undefined && /^\d+$/.test(v)) out[k] = Number(v);
  }
  return out;
}

/** blkio.throttle.* : "8:0 Read 4096" lines; the device-less "Total" line is dropped. */
export function parseBlkioV1(text: string | undefined): BlkioEntry[] | null {
  if (text === undefined) return null;
  const out: BlkioEntry[] = [];
  for (const line of text.split('\n')) {
    const f = line.trim().split(/\s+/);
    if (f.length !== 3) continue;
    const m = /^(\d+):(\d+)$/.exec(f[0]!);
    if (!m || !/^\d+$/.test(f[2]!)) continue;
    out.push({ major: Number(m[1]), minor: Number(m[2]), op: f[1]!, value: Number(f[2]) });
  }
  return out;
}

/** io.stat: "8:0 rbytes=1 wbytes=2 rios=3 wios=4 dbytes=0 dios=0" → Docker's v2 read/write entries. */
export function parseIoStatV2(text: string | undefined): { serviceBytes: BlkioEntry[] | null; serviced: BlkioEntry[] | null } {
  if (text === undefined) return { serviceBytes: null, serviced: null };
  const bytes: BlkioEntry[] = [];
  const ios: BlkioEntry[] = [];
  for (const line of text.split('\n')) {
    const f = line.trim().split(/\s+/);
    const m = /^(\d+):(\d+)$/.exec(f[0] ?? '');
    if (!m) continue;
    const kv: Record<string, number> = {};
    for (const p of f.slice(1)) {
      const i = p.indexOf('=');
      if (i > 0 && /^\d+$/.test(p.slice(i + 1))) kv[p.slice(0, i)] = Number(p.slice(i + 1));
    }
    const major = Number(m[1]), minor = Number(m[2]);
    bytes.push({ major, minor, op: 'read', value: kv.rbytes ?? 0 }, { major, minor, op: 'write', value: kv.wbytes ?? 0 });
    ios.push({ major, minor, op: 'read', value: kv.rios ?? 0 }, { major, minor, op: 'write', value: kv.wios ?? 0 });
  }
  return { serviceBytes: bytes, serviced: ios };
}

/** A limit no bigger than the machine (Docker shows host memory for "unlimited"). */
function capLimit(limit: number | undefined, machineMemory: number): number | undefined {
  if (limit === undefined) return machineMemory || undefined;
  return machineMemory > 0 && limit > machineMemory ? machineMemory : limit;
}

export function convertV1(f: CgroupV1Files, machineMemory: number): CgroupSample {
  const acct = parseFlatKeyed(f['cpuacct.stat']);
  const cpuStat = parseFlatKeyed(f['cpu.stat']);
  const percpu = (f['cpuacct.usage_percpu'] ?? '').trim().split(/\s+/).filter((x) => /^\d+$/.test(x)).map(Number);
  const pidsMax = num(f['pids.max']);
  return {
    cpu: {
      cpu_usage: {
        total_usage: num(f['cpuacct.usage']) ?? 0,
        ...(percpu.length ? { percpu_usage: percpu } : {}),
        usage_in_kernelmode: (acct.system ?? 0) * NS_PER_TICK,
        usage_in_usermode: (acct.user ?? 0) * NS_PER_TICK,
      },
      throttling_data: { periods: cpuStat.nr_periods ?? 0, throttled_periods: cpuStat.nr_throttled ?? 0, throttled_time: cpuStat.throttled_time ?? 0 },
    },
    memory: {
      usage: num(f['memory.usage_in_bytes']) ?? 0,
      ...(num(f['memory.max_usage_in_bytes']) !== undefined ? { max_usage: num(f['memory.max_usage_in_bytes']) } : {}),
      stats: parseFlatKeyed(f['memory.stat']),
      ...(num(f['memory.failcnt']) !== undefined ? { failcnt: num(f['memory.failcnt']) } : {}),
      limit: capLimit(num(f['memory.limit_in_bytes']), machineMemory),
    },
    // "max" is left out: 2^64-1 does not survive a JS number, and Docker omits an unset limit
    pids: { current: num(f['pids.current']) ?? 0, ...(pidsMax !== undefined ? { limit: pidsMax } : {}) },
    blkio: { serviceBytes: parseBlkioV1(f['blkio.throttle.io_service_bytes']), serviced: parseBlkioV1(f['blkio.throttle.io_serviced']) },
  };
}

export function convertV2(f: CgroupV2Files, machineMemory: number): CgroupSample {
  const cpu = parseFlatKeyed(f['cpu.stat']);
  const max = f['memory.max']?.trim();
  const pidsMax = num(f['pids.max']);
  return {
    cpu: {
      cpu_usage: {
        total_usage: (cpu.usage_usec ?? 0) * 1000,
        usage_in_kernelmode: (cpu.system_usec ?? 0) * 1000,
        usage_in_usermode: (cpu.user_usec ?? 0) * 1000,
      },
      throttling_data: { periods: cpu.nr_periods ?? 0, throttled_periods: cpu.nr_throttled ?? 0, throttled_time: (cpu.throttled_usec ?? 0) * 1000 },
    },
    memory: {
      usage: num(f['memory.current']) ?? 0,
      ...(num(f['memory.peak']) !== undefined ? { max_usage: num(f['memory.peak']) } : {}),
      stats: parseFlatKeyed(f['memory.stat']),
      limit: capLimit(max === 'max' ? undefined : num(max), machineMemory),
    },
    pids: { current: num(f['pids.current']) ?? 0, ...(pidsMax !== undefined ? { limit: pidsMax } : {}) },
    blkio: parseIoStatV2(f['io.stat']),
  };
}

/** /proc/stat → system_cpu_usage (ns, as Docker: user..softirq in ticks) and online cpus. */
export function parseProcStat(text: string): { systemCpuUsage: number; onlineCpus: number } {
  let total = 0;
  let cpus = 0;
  for (const line of text.split('\n')) {
    const f = line.trim().split(/\s+/);
    if (f[0] === 'cpu') {
      total = f.slice(1, 8).reduce((a, v) => a + (Number(v) || 0), 0);
    } else if (/^cpu\d+$/.test(f[0] ?? '')) {
      cpus++;
    }
  }
  return { systemCpuUsage: total * NS_PER_TICK, onlineCpus: cpus };
}

/** /proc/<pid>/net/dev → per-interface counters, loopback left out (as Docker shows eth0 only). */
export function parseNetDev(text: string): Record<string, NetworkStats> {
  const out: Record<string, NetworkStats> = {};
  for (const line of text.split('\n').slice(2)) {
    const i = line.indexOf(':');
    if (i < 0) continue;
    const name = line.slice(0, i).trim();
    if (!name || name === 'lo') continue;
    const v = line.slice(i + 1).trim().split(/\s+/).map(Number);
    if (v.length < 16) continue;
    out[name] = {
      rx_bytes: v[0]!, rx_packets: v[1]!, rx_errors: v[2]!, rx_dropped: v[3]!,
      tx_bytes: v[8]!, tx_packets: v[9]!, tx_errors: v[10]!, tx_dropped: v[11]!,
    };
  }
  return out;
}

function emptyCpu(): CpuStats {
  return { cpu_usage: { total_usage: 0, usage_in_kernelmode: 0, usage_in_usermode: 0 }, throttling_data: { periods: 0, throttled_periods: 0, throttled_time: 0 } };
}

/** The object Docker sends for a container that is not running: names only, zeros elsewhere. */
export function zeroStats(name: string, id: string): StatsJson {
  return {
    read: ZERO_TIME, preread: ZERO_TIME, pids_stats: {},
    blkio_stats: {
      io_service_bytes_recursive: null, io_serviced_recursive: null, io_queue_recursive: null, io_service_time_recursive: null,
      io_wait_time_recursive: null, io_merged_recursive: null, io_time_recursive: null, sectors_recursive: null,
    },
    num_procs: 0, storage_stats: {}, cpu_stats: emptyCpu(), precpu_stats: emptyCpu(), memory_stats: {}, name, id,
  };
}

/** Assemble one stats object from a cgroup sample, host cpu counters and the previous sample. */
export function buildStats(o: {
  name: string; id: string; read: Date; sample: CgroupSample; proc: { systemCpuUsage: number; onlineCpus: number };
  networks?: Record<string, NetworkStats>; prev?: StatsJson;
}): StatsJson {
  const s = zeroStats(o.name, o.id);
  s.read = o.read.toISOString();
  s.preread = o.prev?.read ?? ZERO_TIME;
  s.pids_stats = o.sample.pids;
  s.blkio_stats.io_service_bytes_recursive = o.sample.blkio.serviceBytes;
  s.blkio_stats.io_serviced_recursive = o.sample.blkio.serviced;
  s.cpu_stats = { ...o.sample.cpu, system_cpu_usage: o.proc.systemCpuUsage, online_cpus: o.proc.onlineCpus };
  s.precpu_stats = o.prev?.cpu_stats ?? emptyCpu();
  s.memory_stats = o.sample.memory;
  if (o.networks && Object.keys(o.networks).length) s.networks = o.networks;
  return s;
}

/**
 * `ps` output → Docker's top body. Rows are kept when their PID is one of `pids`; the last column
 * (CMD) keeps its spaces (moby parsePSOutput).
 */
export function parsePsOutput(output: string, pids: number[]): { Titles: string[]; Processes: string[][] } {
  const lines = output.split('\n').filter((l) => l.trim() !== '');
  const titles = (lines[0] ?? '').trim().split(/\s+/);
  const pidIndex = titles.indexOf('PID');
  if (pidIndex < 0) throw new SystemError("Couldn't find PID field in ps output");
  const want = new Set(pids);
  const processes: string[][] = [];
  for (const line of lines.slice(1)) {
    const f = line.trim().split(/\s+/);
    const pid = Number(f[pidIndex]);
    if (!Number.isInteger(pid) || !want.has(pid)) continue;
    const row = f.slice(0, titles.length - 1);
    row.push(f.slice(titles.length - 1).join(' '));
    processes.push(row);
  }
  return { Titles: titles, Processes: processes };
}

/** What stats/top need from a container record (ContainerService.get satisfies it). */
export interface StatsContainer {
  Id: string;
  Name: string;
  State: { Running: boolean; Paused?: boolean; Restarting?: boolean; Pid: number };
}
export interface StatsContainers { get(ref: string): StatsContainer }

export interface StatsServiceDeps {
  containers: StatsContainers;
  /** default /sys/fs/cgroup */
  cgroupRoot?: string;
  /** default /proc */
  procRoot?: string;
  /** cgroup path of a container below each hierarchy; default /berth/<id> */
  cgroupPath?: (id: string) => string;
  /** runs `ps` with args; injectable for tests */
  ps?: (args: string[]) => Promise<string>;
  /** starts `ps` when `ps` is not given */
  runner?: ProcessRunner;
  machineMemory?: number;
}

export interface StatsStream {
  /** one JSON document per call; false = stop (client gone) */
  write(doc: StatsJson): boolean;
  closed(): boolean;
}

/** `ps` through a runner; its failure reads "ps: Command failed (...): ps <args>: <stderr>". */
export function psVia(runner: ProcessRunner): (args: string[]) => Promise<string> {
  return (args) => runner.run('ps', args, { maxBuffer: 32 * 1024 * 1024 }).then((r) => r.stdout, (err: unknown) => {
    const stderr = err instanceof ExecFailure ? err.stderr.trim() : '';
    throw new SystemError(`ps: ${(err as Error).message.split('\n')[0]}: ${stderr}`.replace(/: $/, ''));
  });
}

export class StatsService {
  private readonly root: string;
  private readonly proc: string;
  private readonly cgPath: (id: string) => string;
  private readonly ps: (args: string[]) => Promise<string>;
  private readonly machineMemory: number;
  private v2: boolean | undefined;

  constructor(private readonly d: StatsServiceDeps) {
    this.root = d.cgroupRoot ?? '/sys/fs/cgroup';
    this.proc = d.procRoot ?? '/proc';
    this.cgPath = d.cgroupPath ?? ((id) => `/berth/${id}`);
    this.ps = d.ps ?? psVia(d.runner ?? posixRunner);
    this.machineMemory = d.machineMemory ?? os.totalmem();
  }

  /** Pure cgroup v2 host: cgroup.controllers at the root (a v1/hybrid host has it only under unified/). */
  private isV2(): boolean {
    this.v2 ??= fs.existsSync(path.join(this.root, 'cgroup.controllers'));
    return this.v2;
  }

  private read(file: string): string | undefined {
    try { return fs.readFileSync(file, 'utf8'); } catch { return undefined; }
  }

  private sample(id: string): CgroupSample {
    const cg = this.cgPath(id);
    if (this.isV2()) {
      const dir = path.join(this.root, cg);
      const f: CgroupV2Files = {};
      for (const k of ['memory.current', 'memory.max', 'memory.stat', 'memory.peak', 'cpu.stat', 'pids.current', 'pids.max', 'io.stat'] as const) {
        f[k] = this.read(path.join(dir, k));
      }
      return convertV2(f, this.machineMemory);
    }
    const f: CgroupV1Files = {};
    const v1 = (ctrl: string, keys: (keyof CgroupV1Files)[]) => {
      for (const k of keys) f[k] = this.read(path.join(this.root, ctrl, cg, k));
    };
    v1('memory', ['memory.usage_in_bytes', 'memory.max_usage_in_bytes', 'memory.limit_in_bytes', 'memory.failcnt', 'memory.stat']);
    v1('cpuacct', ['cpuacct.usage', 'cpuacct.usage_percpu', 'cpuacct.stat']);
    v1('cpu', ['cpu.stat']);
    v1('pids', ['pids.current', 'pids.max']);
    v1('blkio', ['blkio.throttle.io_service_bytes', 'blkio.throttle.io_serviced']);
    return convertV1(f, this.machineMemory);
  }

  /** One stats object for a container (zeroed when it is not running). */
  snapshot(ref: string, prev?: StatsJson): StatsJson {
    const c = this.d.containers.get(ref);
    if (!c.State.Running || !c.State.Pid) return zeroStats(c.Name, c.Id);
    const procStat = this.read(path.join(this.proc, 'stat')) ?? '';
    const netDev = this.read(path.join(this.proc, String(c.State.Pid), 'net', 'dev'));
    return buildStats({
      name: c.Name, id: c.Id, read: new Date(), sample: this.sample(c.Id), proc: parseProcStat(procStat),
      networks: netDev === undefined ? undefined : parseNetDev(netDev), prev: prev && prev.read !== ZERO_TIME ? prev : undefined,
    });
  }

  /**
   * GET /containers/{id}/stats. stream: one object a second until the client or the container goes
   * ('removed'); a client too far behind misses samples (api/stream/json-lines.ts). Not streamed:
   * one object whose precpu is a second older (as dockerd), or at once with one-shot.
   */
  async stats(ref: string, opts: { stream: boolean; oneShot: boolean }, out: StatsStream): Promise<'removed' | void> {
    let prev = this.snapshot(ref);
    if (!opts.stream) {
      if (opts.oneShot || prev.read === ZERO_TIME) {
        prev.precpu_stats = emptyCpu();
        prev.preread = ZERO_TIME;
        out.write(prev);
        return;
      }
      await sleep(1000);
      out.write(this.snapshot(ref, prev));
      return;
    }
    if (!out.write(prev)) return;
    while (!out.closed()) {
      await sleep(1000);
      if (out.closed()) return;
      let next: StatsJson;
      try { next = this.snapshot(ref, prev); } catch { return 'removed'; } // the stream ends with its container
      if (!out.write(next)) return;
      prev = next;
    }
  }

  /** Pids in the container's cgroup (pids controller on v1). */
  private pids(id: string): number[] {
    const cg = this.cgPath(id);
    const candidates = this.isV2()
      ? [path.join(this.root, cg, 'cgroup.procs')]
      : [path.join(this.root, 'pids', cg, 'cgroup.procs'), path.join(this.root, 'memory', cg, 'cgroup.procs')];
    for (const file of candidates) {
      const text = this.read(file);
      if (text !== undefined) return text.split('\n').filter((l) => /^\d+$/.test(l.trim())).map(Number);
    }
    return [];
  }

  /** GET /containers/{id}/top: host `ps`, rows filtered to the container's processes (moby). */
  async top(ref: string, psArgs: string | undefined): Promise<{ Titles: string[]; Processes: string[][] }> {
    const c = this.d.containers.get(ref);
    if (!c.State.Running) throw new ConflictError(`container ${c.Id} is not running`);
    if (c.State.Restarting) throw new ConflictError(`Container ${c.Id} is restarting, wait until the container is running`);
    const args = (psArgs && psArgs.trim() ? psArgs : '-ef').split(' ').filter(Boolean);
    const pids = this.pids(c.Id);
    let output: string;
    try {
      // -q narrows ps to the pids; some options (e.g. f) refuse it, so retry without (moby does the same)
      output = pids.length ? await this.ps([...args, '-q', pids.join(',')]) : await this.ps(args);
    } catch {
      output = await this.ps(args);
    }
    return parsePsOutput(output, pids);
  }
}

function sleep(ms: number): Promise<void> { return new Promise((r) => setTimeout(r, ms)); }
