// The container side of volumes: at create, the mount points (named volumes made when missing, anonymous
// ones made); at start, bind sources made for `-v`, volumes taken (mounted if they need it) and filled from
// the image when new and empty (copy-up), and the OCI mounts; at exit, the volumes released; at rm, the
// anonymous ones removed when asked. The container service calls these with a line each.
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import { InvalidParameterError, NotFoundError, errorMessage } from '../../errors.js';
import { ociMounts, parseVolumesFrom, planMountPoints, volumeNames, type ApiMount, type MountPoint, type OciMount } from '../../core/mounts.js';
import { secureJoin, secureMkdirAll } from '../../store/rootfs-files.js';
import type { VolumeService } from './volume-service.js';

export interface MountsCreateInput {
  Volumes?: Record<string, unknown> | null;
  HostConfig?: { Binds?: string[] | null; Mounts?: ApiMount[] | null; VolumesFrom?: string[] | null; Tmpfs?: Record<string, string> | null; VolumeDriver?: string } | null;
}

/** The mount points of another container, for --volumes-from (throws NotFound as the container lookup does). */
export type MountPointsOf = (ref: string) => MountPoint[];

export class ContainerMounts {
  /** volume names each running container holds */
  private readonly held = new Map<string, string[]>();

  constructor(private readonly volumes: VolumeService) {}

  async atCreate(body: MountsCreateInput, imageVolumes: Record<string, unknown> | null | undefined, pointsOf: MountPointsOf): Promise<MountPoint[]> {
    const hc = body.HostConfig ?? {};
    if (hc.VolumeDriver && hc.VolumeDriver !== 'local') {
      throw new NotFoundError(`error looking up volume plugin ${hc.VolumeDriver}: plugin "${hc.VolumeDriver}" not found`);
    }
    const volumesFrom = (hc.VolumesFrom ?? []).map((spec) => {
      const { ref, rw } = parseVolumesFrom(spec);
      return { points: pointsOf(ref), rw };
    });
    const points = planMountPoints({
      binds: hc.Binds, mounts: hc.Mounts, volumes: body.Volumes, imageVolumes, volumesFrom, tmpfs: Object.keys(hc.Tmpfs ?? {}),
    }, (p) => fs.existsSync(p));
    const made: string[] = [];
    try {
      for (const p of points) {
        if (p.Type !== 'volume') continue;
        const rec = p.Name ? await this.volumes.ensure(p.Name) : await this.volumes.createAnonymous();
        if (!p.Name) made.push(rec.Name);
        p.Name = rec.Name;
        p.Source = this.volumes.mountpoint(rec.Name);
      }
    } catch (err) {
      await this.volumes.removeAnonymous(made, '');
      throw err;
    }
    return points;
  }

  /** A create that failed after atCreate: its anonymous volumes go. */
  async undoCreate(points: MountPoint[]): Promise<void> {
    await this.volumes.removeAnonymous(points.filter((p) => p.Anonymous).map((p) => p.Name!), '');
  }

  /**
   * Before runc create, with the container's rootfs mounted at `rootfs`: the OCI mounts of its mount points.
   * A failure releases what it took.
   */
  async atStart(id: string, points: MountPoint[] | undefined, rootfs: string): Promise<OciMount[]> {
    if (!points?.length) return [];
    const taken: string[] = [];
    this.held.set(id, taken);
    try {
      const sources = new Map<MountPoint, string>();
      for (const p of points) {
        if (p.Type === 'bind') {
          if (!fs.existsSync(p.Source)) {
            if (!p.CreateSource) throw new InvalidParameterError(`invalid mount config for type "bind": bind source path does not exist: ${p.Source}`);
            await fsp.mkdir(p.Source, { recursive: true, mode: 0o755 });
          }
          sources.set(p, p.Source);
        } else if (p.Type === 'volume') {
          const data = await this.volumes.acquire(p.Name!, id);
          taken.push(p.Name!);
          if (!p.NoCopy && !p.Subpath) await copyUp(secureJoin(rootfs, p.Destination), data);
          let src = data;
          if (p.Subpath) {
            src = secureJoin(data, p.Subpath);
            if (!fs.existsSync(src)) throw new InvalidParameterError(`cannot access path ${src}: no such file or directory`);
          }
          sources.set(p, src);
        }
      }
      return ociMounts(points, (p) => sources.get(p)!);
    } catch (err) {
      await this.atExit(id);
      throw err;
    }
  }

  /** Adoption after a berthd restart: a running container holds its volumes again (mounts are still there). */
  async readopt(id: string, points: MountPoint[] | undefined): Promise<void> {
    const names = volumeNames(points);
    if (!names.length) return;
    const taken: string[] = [];
    this.held.set(id, taken);
    for (const n of names) {
      if (!this.volumes.has(n)) continue;
      await this.volumes.acquire(n, id);
      taken.push(n);
    }
  }

  /** The container stopped (or its start failed). Idempotent. */
  async atExit(id: string): Promise<void> {
    const names = this.held.get(id);
    if (!names) return;
    this.held.delete(id);
    for (const n of names) await this.volumes.release(n, id).catch(() => undefined);
  }

  /**
   * cp and export of a stopped container (its rootfs mounted at `rootfs`): its volumes and binds mounted on
   * their destinations, as a start would, until the returned function undoes it. Nothing runs in the
   * container meanwhile (the caller holds its lock), so the destinations cannot be swapped under us.
   */
  async forCopy(id: string, points: MountPoint[] | undefined, rootfs: string): Promise<() => Promise<void>> {
    const holder = `cp:${id}`;
    const taken: string[] = [];
    const mounted: string[] = [];
    const undo = async () => {
      for (const t of mounted.reverse()) await this.volumes.unmountPath(t);
      for (const n of taken) await this.volumes.release(n, holder).catch(() => undefined);
    };
    try {
      const sorted = [...(points ?? [])].filter((p) => p.Type !== 'tmpfs')
        .sort((a, b) => a.Destination.split('/').length - b.Destination.split('/').length);
      for (const p of sorted) {
        let src = p.Source;
        if (p.Type === 'volume') {
          src = await this.volumes.acquire(p.Name!, holder);
          taken.push(p.Name!);
          if (p.Subpath) src = secureJoin(src, p.Subpath);
        }
        let st: fs.Stats;
        try { st = await fsp.stat(src); } catch { continue; } // a -v source made at start: nothing in it yet
        const target = secureJoin(rootfs, p.Destination);
        if (st.isDirectory()) secureMkdirAll(rootfs, p.Destination, 0, 0);
        else {
          secureMkdirAll(rootfs, path.posix.dirname(p.Destination), 0, 0);
          await (await fsp.open(target, fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_NOFOLLOW)).close();
        }
        await this.volumes.bindPath(src, target, !p.NonRecursive);
        mounted.push(target);
      }
    } catch (err) {
      await undo();
      throw err;
    }
    return undo;
  }

  /** `rm -v` and AutoRemove: the container's anonymous volumes go, unless another container uses them too. */
  async atRemove(id: string, points: MountPoint[] | undefined, removeVolumes: boolean): Promise<void> {
    await this.atExit(id);
    if (!removeVolumes) return;
    const anon = (points ?? []).filter((p) => p.Type === 'volume' && p.Anonymous && p.Name).map((p) => p.Name!);
    await this.volumes.removeAnonymous(anon, id).catch(() => undefined);
  }
}

/**
 * Docker's copy-up: a volume that is still empty gets what the image has at the mount destination
 * (ownership, modes, symlinks as links). `src` is already resolved inside the rootfs.
 */
async function copyUp(src: string, dst: string): Promise<void> {
  if ((await fsp.readdir(dst)).length) return;
  let st: fs.Stats;
  try { st = await fsp.lstat(src); } catch { return; }
  if (!st.isDirectory()) return;
  try {
    await copyTree(src, dst);
    await fsp.chown(dst, st.uid, st.gid);
    await fsp.chmod(dst, st.mode & 0o7777);
  } catch (err) {
    throw new Error(`copy-up of ${src} into the volume: ${errorMessage(err)}`, { cause: err });
  }
}

async function copyTree(src: string, dst: string): Promise<void> {
  for (const e of await fsp.readdir(src)) {
    const s = path.join(src, e);
    const d = path.join(dst, e);
    const st = await fsp.lstat(s);
    if (st.isDirectory()) {
      await fsp.mkdir(d, { mode: st.mode & 0o7777 });
      await copyTree(s, d);
    } else if (st.isSymbolicLink()) {
      await fsp.symlink(await fsp.readlink(s), d);
    } else if (st.isFile()) {
      await fsp.copyFile(s, d, fs.constants.COPYFILE_FICLONE);
    } else {
      continue; // devices, fifos, sockets, whiteouts: not copied
    }
    await fsp.lchown(d, st.uid, st.gid);
    if (!st.isSymbolicLink()) await fsp.chmod(d, st.mode & 0o7777);
    await fsp.lutimes(d, st.atime, st.mtime);
  }
}
