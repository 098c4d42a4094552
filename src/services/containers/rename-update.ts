// rename, update (resources live through runc, the restart policy recorded) and resize.
import os from 'node:os';
import { InvalidParameterError } from '../../errors.js';
import { validateCreate, validateName, type HostConfig } from '../../core/container-config.js';
import { assertAllowed } from '../../core/container-state.js';
import type { ContainerContext } from './context.js';
import { nameInUse } from './create.js';
import type { Runtime } from './types.js';

const UPDATABLE = ['Memory', 'MemorySwap', 'MemoryReservation', 'NanoCpus', 'CpuShares', 'CpuPeriod', 'CpuQuota', 'CpusetCpus', 'CpusetMems', 'PidsLimit'] as const;

export async function renameContainer(ctx: ContainerContext, ref: string, newName: string): Promise<void> {
  const live = ctx.store.find(ref);
  if (!newName) throw new InvalidParameterError('Neither old nor new names may be empty');
  const n = validateName(newName);
  const old = live.rec.Name.slice(1);
  if (n === old) throw new InvalidParameterError(`Renaming a container with the same name as its current name`);
  const holder = ctx.store.nameHolder(n);
  if (holder) throw nameInUse(n, holder);
  ctx.store.reserveName(n, live.rec.Id);
  ctx.store.releaseName(old);
  live.rec.Name = `/${n}`;
  await ctx.store.save(live);
  ctx.publish('rename', live.rec, { oldName: `/${old}` });
}

export function resizeContainer(ctx: ContainerContext, ref: string, rows: number, cols: number): void {
  const rec = ctx.store.find(ref).rec;
  if (!Number.isInteger(rows) || !Number.isInteger(cols) || rows < 0 || cols < 0) {
    throw new InvalidParameterError('invalid resize dimensions');
  }
  assertAllowed('resize', rec.State, { id: rec.Id, name: rec.Name });
  if (!rec.Config.Tty) return; // Docker accepts and ignores a resize without a TTY
  ctx.d.runtime.resize(rec.Id, rows, cols);
}

/** The next HostConfig of an update, checked as a create's would be. */
export function planUpdate(hc: HostConfig, b: HostConfig): HostConfig {
  const next: HostConfig = { ...hc };
  for (const k of UPDATABLE) {
    const v = b[k];
    if (v !== undefined && v !== null && v !== 0 && v !== '') (next as Record<string, unknown>)[k] = v;
  }
  if (b.RestartPolicy && b.RestartPolicy.Name !== undefined) {
    if (hc.AutoRemove && b.RestartPolicy.Name && b.RestartPolicy.Name !== 'no') {
      throw new InvalidParameterError('Restart policy cannot be updated because AutoRemove is enabled for the container');
    }
    next.RestartPolicy = { Name: b.RestartPolicy.Name || 'no', MaximumRetryCount: b.RestartPolicy.MaximumRetryCount ?? 0 };
  }
  if (b.Memory && !b.MemorySwap && hc.MemorySwap && hc.MemorySwap > 0 && hc.MemorySwap < b.Memory) {
    throw new InvalidParameterError('Memory limit should be smaller than already set memoryswap limit, update the memoryswap at the same time');
  }
  validateCreate({ Image: 'x', HostConfig: next }, os.cpus().length);
  return next;
}

/** runc update's options for a running container (and the swap it must raise first). */
export function runtimeUpdate(hc: HostConfig, b: HostConfig, next: HostConfig): Parameters<Runtime['update']>[1] {
  const o: Parameters<Runtime['update']>[1] = {};
  if (b.Memory) o.memory = b.Memory;
  if (b.MemorySwap) o.memorySwap = b.MemorySwap;
  if (b.CpuShares) o.cpuShares = b.CpuShares;
  if (b.NanoCpus) { o.cpuPeriod = 100000; o.cpuQuota = Math.round(b.NanoCpus / 1e9 * 100000); }
  if (b.CpuPeriod) o.cpuPeriod = b.CpuPeriod;
  if (b.CpuQuota) o.cpuQuota = b.CpuQuota;
  if (b.CpusetCpus) o.cpusetCpus = b.CpusetCpus;
  if (b.CpusetMems) o.cpusetMems = b.CpusetMems;
  if (b.PidsLimit) o.pidsLimit = b.PidsLimit;
  // Raising memory above the current swap limit fails in the kernel unless swap goes first.
  if (o.memory !== undefined && o.memorySwap === undefined && (hc.MemorySwap ?? 0) > 0 && o.memory * 2 > (hc.MemorySwap ?? 0)) {
    o.memorySwap = o.memory * 2;
    next.MemorySwap = o.memorySwap;
  }
  return o;
}

export async function updateContainer(ctx: ContainerContext, ref: string, body: HostConfig | undefined): Promise<{ Warnings: string[] }> {
  const live = ctx.store.find(ref);
  const b = body ?? {};
  return ctx.store.locked(live, async () => {
    const rec = live.rec;
    const hc = rec.HostConfig;
    const next = planUpdate(hc, b);
    if (rec.State.Running) {
      const o = runtimeUpdate(hc, b, next);
      if (Object.keys(o).length) await ctx.d.runtime.update(rec.Id, o);
    }
    rec.HostConfig = next;
    await ctx.store.save(live);
    ctx.publish('update', rec);
    return { Warnings: [] };
  });
}
