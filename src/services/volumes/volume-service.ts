// Local volumes: the store under <data-root>/volumes, the /volumes API's operations, and the mount
// references containers take while they run. Which containers refer to a volume is the container side's
// knowledge: it is asked through `VolumeUsers`, set after construction.
import crypto from 'node:crypto';
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import { ConflictError, InvalidParameterError, NotFoundError, SystemError, errorMessage } from '../../errors.js';
import { parseFilters } from '../../core/filters.js';
import {
  ANONYMOUS_LABEL, PRUNE_FILTERS, VOLUME_FILTERS, localVolumeMount, pruneSelection, validateLocalOptions, validateVolumeName, volumeMatches,
  type VolumeRecord, type VolumeView,
} from '../../core/volumes.js';
import { readJson, writeFileAtomic } from '../../store/meta/atomic.js';
import type { Paths } from '../../store/paths.js';
import { MNT_DETACH, type Sys } from '../../sys/sys.js';
import type { EventBus } from '../events.js';

/** Container ids that refer to a volume (any state: a stopped container still holds its volumes, as Docker's). */
export type VolumeUsers = (name: string) => string[];

export interface CreateVolumeRequest {
  Name?: string;
  Driver?: string;
  DriverOpts?: Record<string, string> | null;
  Labels?: Record<string, string> | null;
}

export interface VolumeServiceDeps { paths: Paths; sys: Sys; events: EventBus }

export class VolumeService {
  private readonly vols = new Map<string, VolumeRecord>();
  /** containers holding each mounted volume right now (running ones) */
  private readonly holders = new Map<string, Set<string>>();
  private readonly mounted = new Set<string>();
  private users: VolumeUsers = () => [];
  private queue: Promise<unknown> = Promise.resolve();

  constructor(private readonly d: VolumeServiceDeps) {}

  setUsers(fn: VolumeUsers): void { this.users = fn; }

  /** Loads the records; a dir without its record (a create or rm killed half-way) is removed, unless something is mounted in it. */
  async init(): Promise<void> {
    await fsp.mkdir(this.d.paths.volumesDir, { recursive: true, mode: 0o701 });
    const mountedNow = mountTargets();
    for (const name of await fsp.readdir(this.d.paths.volumesDir)) {
      const dir = this.d.paths.volumeDir(name);
      const rec = name.startsWith('.') ? undefined : await readJson<VolumeRecord>(this.d.paths.volumeRecord(name)).catch(() => undefined);
      if (rec) {
        this.vols.set(name, rec);
        if (mountedNow.has(this.d.paths.volumeData(name))) this.mounted.add(name);
        continue;
      }
      if ([...mountedNow].some((t) => isWithin(t, dir))) continue;
      await fsp.rm(dir, { recursive: true, force: true });
    }
  }

  /** Unmounts volumes nobody holds: after a restart, once the running containers have re-taken theirs. */
  async settle(): Promise<void> {
    for (const name of [...this.mounted]) {
      if (!this.holders.get(name)?.size) await this.unmountVolume(name).catch(() => undefined);
    }
  }

  private serial<T>(fn: () => Promise<T>): Promise<T> {
    const p = this.queue.then(fn, fn);
    this.queue = p.catch(() => undefined);
    return p;
  }

  has(name: string): boolean { return this.vols.has(name); }

  record(name: string): VolumeRecord {
    const v = this.vols.get(name);
    if (!v) throw new NotFoundError(`get ${name}: no such volume`);
    return v;
  }

  mountpoint(name: string): string { return this.d.paths.volumeData(name); }

  create(req: CreateVolumeRequest): Promise<VolumeView> {
    return this.serial(() => this.createLocked(req));
  }

  /** An anonymous volume for a container (`-v /path`, image VOLUME, --mount without source). */
  createAnonymous(): Promise<VolumeRecord> {
    return this.serial(async () => {
      const name = crypto.randomBytes(32).toString('hex');
      await this.createLocked({ Name: name, Labels: { [ANONYMOUS_LABEL]: '' } });
      return this.vols.get(name)!;
    });
  }

  /** A named volume a container refers to, made when it does not exist yet (as `docker run -v data:/x`). */
  ensure(name: string, opts: { labels?: Record<string, string>; driverOpts?: Record<string, string> } = {}): Promise<VolumeRecord> {
    return this.serial(async () => {
      if (!this.vols.has(name)) await this.createLocked({ Name: name, Labels: opts.labels ?? null, DriverOpts: opts.driverOpts ?? null });
      return this.vols.get(name)!;
    });
  }

  private async createLocked(req: CreateVolumeRequest): Promise<VolumeView> {
    const name = req.Name || crypto.randomBytes(32).toString('hex');
    const driver = req.Driver || 'local';
    const existing = this.vols.get(name);
    if (existing) {
      if (driver !== existing.Driver) throw new ConflictError(`create ${name}: a volume with the name ${name} already exists with driver "${existing.Driver}"`);
      return this.view(existing, false);
    }
    validateVolumeName(name);
    if (driver !== 'local') throw new NotFoundError(`create ${name}: error looking up volume plugin ${driver}: plugin "${driver}" not found`);
    const options = { ...(req.DriverOpts ?? {}) };
    try {
      validateLocalOptions(options);
    } catch (err) {
      throw new InvalidParameterError(`create ${name}: ${errorMessage(err)}`);
    }
    const rec: VolumeRecord = { Name: name, Driver: 'local', Labels: { ...(req.Labels ?? {}) }, Options: options, CreatedAt: rfc3339Now() };
    const dir = this.d.paths.volumeDir(name);
    await fsp.mkdir(dir, { mode: 0o701 });
    try {
      await fsp.mkdir(this.d.paths.volumeData(name), { mode: 0o755 });
      await writeFileAtomic(this.d.paths.volumeRecord(name), JSON.stringify(rec));
    } catch (err) {
      await fsp.rm(dir, { recursive: true, force: true });
      throw err;
    }
    this.vols.set(name, rec);
    this.d.events.publish('volume', 'create', name, { driver: 'local' });
    return this.view(rec, false);
  }

  async inspect(name: string): Promise<VolumeView> {
    return this.view(this.record(name), false);
  }

  async list(filters?: string | null): Promise<{ Volumes: VolumeView[]; Warnings: string[] }> {
    const f = parseFilters(filters, VOLUME_FILTERS);
    const out: VolumeView[] = [];
    for (const v of this.vols.values()) {
      if (volumeMatches(v, this.users(v.Name).length, f)) out.push(await this.view(v, false));
    }
    return { Volumes: out, Warnings: [] };
  }

  /** For `system df`: every volume with its size and how many containers refer to it. */
  async usage(): Promise<VolumeView[]> {
    const out: VolumeView[] = [];
    for (const v of this.vols.values()) out.push(await this.view(v, true));
    return out;
  }

  private async view(v: VolumeRecord, withUsage: boolean): Promise<VolumeView> {
    // the key order of moby's volume.Volume (clients that print the JSON as they got it show it so)
    const out: VolumeView = {
      CreatedAt: v.CreatedAt, Driver: v.Driver, Labels: v.Labels, Mountpoint: this.d.paths.volumeData(v.Name), Name: v.Name,
      Options: v.Options, Scope: 'local',
    };
    if (withUsage) out.UsageData = { Size: await dirSize(this.d.paths.volumeData(v.Name)), RefCount: this.users(v.Name).length };
    return out;
  }

  remove(name: string, force = false): Promise<void> {
    return this.serial(async () => {
      if (!this.vols.has(name)) {
        if (force) return;
        throw new NotFoundError(`get ${name}: no such volume`);
      }
      const users = this.users(name);
      if (users.length) throw new ConflictError(`remove ${name}: volume is in use - [${users.join(', ')}]`);
      await this.destroy(name);
    });
  }

  /** Anonymous volumes go with their container (`rm -v`, AutoRemove); named ones stay. Skipped when another container still uses it. */
  removeAnonymous(names: string[], exceptContainer: string): Promise<void> {
    return this.serial(async () => {
      for (const name of names) {
        const rec = this.vols.get(name);
        if (!rec || !(ANONYMOUS_LABEL in rec.Labels)) continue;
        if (this.users(name).some((id) => id !== exceptContainer)) continue;
        await this.destroy(name).catch(() => undefined);
      }
    });
  }

  prune(filters: string | null | undefined, apiVersion: string, versionAtLeast: (a: string, b: string) => boolean): Promise<{ VolumesDeleted: string[]; SpaceReclaimed: number }> {
    return this.serial(async () => {
      const f = parseFilters(filters, PRUNE_FILTERS);
      const candidates = [...this.vols.values()].map((rec) => ({ rec, refCount: this.users(rec.Name).length }));
      const deleted: string[] = [];
      let reclaimed = 0;
      for (const rec of pruneSelection(candidates, f, apiVersion, versionAtLeast)) {
        const size = await dirSize(this.d.paths.volumeData(rec.Name));
        try {
          await this.destroy(rec.Name);
        } catch { continue; }
        deleted.push(rec.Name);
        reclaimed += size;
      }
      this.d.events.publish('volume', 'prune', '', { reclaimed: String(reclaimed) });
      return { VolumesDeleted: deleted, SpaceReclaimed: reclaimed };
    });
  }

  /**
   * Unmount, then move the dir aside (one rename: a crash leaves the volume whole or gone) and delete it.
   * Never deletes through a mount: an `o=bind` volume's _data is the user's host directory.
   */
  private async destroy(name: string): Promise<void> {
    await this.unmountVolume(name);
    const dir = this.d.paths.volumeDir(name);
    if ([...mountTargets()].some((t) => isWithin(t, dir))) throw new SystemError(`remove ${name}: something is still mounted under ${dir}`);
    const aside = path.join(this.d.paths.volumesDir, `.rm-${name}-${crypto.randomBytes(4).toString('hex')}`);
    await fsp.rename(dir, aside);
    this.vols.delete(name);
    this.holders.delete(name);
    this.d.events.publish('volume', 'destroy', name, { driver: 'local' });
    await fsp.rm(aside, { recursive: true, force: true });
  }

  /**
   * A running container takes the volume: a volume with mount options is mounted at its first holder
   * (tmpfs, bind, nfs...). Returns the host path to bind into the container.
   */
  acquire(name: string, containerId: string): Promise<string> {
    return this.serial(async () => {
      const rec = this.record(name);
      const m = localVolumeMount(rec.Options, this.d.paths.volumeData(name));
      if (m && !this.mounted.has(name)) {
        try {
          await this.d.sys.mountAsync(m);
        } catch (err) {
          throw new SystemError(`error while mounting volume '${this.d.paths.volumeData(name)}': failed to mount local volume: ${errorMessage(err)}`, { cause: err });
        }
        this.mounted.add(name);
        this.d.events.publish('volume', 'mount', name, { driver: 'local', container: containerId });
      }
      let h = this.holders.get(name);
      if (!h) this.holders.set(name, (h = new Set()));
      h.add(containerId);
      return this.d.paths.volumeData(name);
    });
  }

  /** The container stopped: the last holder's release unmounts. */
  release(name: string, containerId: string): Promise<void> {
    return this.serial(async () => {
      const h = this.holders.get(name);
      h?.delete(containerId);
      if (h?.size) return;
      if (this.mounted.has(name)) await this.unmountVolume(name).catch(() => undefined);
      this.d.events.publish('volume', 'unmount', name, { driver: 'local', container: containerId });
    });
  }

  /** A bind mount of `source` on `target` for cp of a stopped container (ContainerMounts.forCopy). */
  async bindPath(source: string, target: string, recursive: boolean): Promise<void> {
    await this.d.sys.mountAsync({ type: 'none', source, target, options: [recursive ? 'rbind' : 'bind'] });
  }

  async unmountPath(target: string): Promise<void> {
    await this.d.sys.unmountAsync(target, MNT_DETACH).catch(() => undefined);
  }

  private async unmountVolume(name: string): Promise<void> {
    if (!this.mounted.has(name)) return;
    await this.d.sys.unmountAsync(this.d.paths.volumeData(name));
    this.mounted.delete(name);
  }
}

function rfc3339Now(): string {
  // Docker's CreatedAt is RFC 3339 with the zone ("2026-12-03T23:10:11Z")
  return new Date().toISOString().replace(/\.\d+Z$/, 'Z');
}

function isWithin(p: string, dir: string): boolean {
  return p === dir || p.startsWith(dir + '/');
}

/** Mount points in berthd's mount namespace (/proc/self/mountinfo field 5, octal escapes decoded). */
function mountTargets(): Set<string> {
  let text = '';
  try { text = fs.readFileSync('/proc/self/mountinfo', 'utf8'); } catch { return new Set(); }
  const out = new Set<string>();
  for (const line of text.split('\n')) {
    const f = line.split(' ');
    if (f.length > 4) out.add(f[4]!.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8))));
  }
  return out;
}

/** Bytes of the regular files under dir (hard links counted once), without following symlinks. */
export async function dirSize(dir: string): Promise<number> {
  let total = 0;
  const seen = new Set<string>();
  const walk = async (d: string): Promise<void> => {
    let entries: fs.Dirent[];
    try { entries = await fsp.readdir(d, { withFileTypes: true }); } catch { return; }
    for (const e of entries) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) { await walk(p); continue; }
      try {
        const st = await fsp.lstat(p);
        const key = `${st.dev}:${st.ino}`;
        if (st.nlink > 1) { if (seen.has(key)) continue; seen.add(key); }
        total += st.size;
      } catch { /* gone meanwhile */ }
    }
  };
  await walk(dir);
  return total;
}
