// docker cp through the API (moby daemon/archive.go, archive_unix.go): HEAD/GET/PUT /containers/{id}/archive;
// docker export (daemon/export.go): GET /containers/{id}/export.
// Paths are resolved in the container's tree, its mounts included (services/containers/filesystem.ts), by
// store/container-fs.ts, which never lets the kernel follow a container's symlink; a PUT goes through the
// confined layer applier under the container's freeze.
import fs from 'node:fs';
import path from 'node:path';
import type { Readable, Writable } from 'node:stream';
import { formatGoTime, localGoTime } from '../core/go-time.js';
import { ConflictError, InvalidParameterError, NotFoundError, SystemError } from '../errors.js';
import { ContainerTree, packPath, statPath, type PathStat } from '../store/container-fs.js';
import { applyLayerTar } from '../store/layers/tar-apply.js';
import type { Sys } from '../sys/sys.js';
import type { ContainerFs } from './containers/filesystem.js';
import type { UserResolver } from './containers/types.js';

/** The X-Docker-Container-Path-Stat JSON (moby container.PathStat). */
export interface PathStatJson { name: string; size: number; mode: number; mtime: string; linkTarget: string }

export interface ArchiveServiceDeps {
  /** runs fn with the container's filesystem reachable (ContainerService.filesystems.with) */
  withFilesystem<T>(ref: string, fn: (cfs: ContainerFs) => Promise<T>): Promise<T>;
  /** runs fn with the container's own layers mounted, without its mounts (ContainerService.filesystems.withLayers) */
  withLayers<T>(ref: string, fn: (root: string, cfs: Pick<ContainerFs, 'rec' | 'publish'>) => Promise<T>): Promise<T>;
  sys: Sys;
  resolveUser: UserResolver;
}

export interface ExtractOptions { noOverwriteDirNonDir: boolean; copyUIDGID: boolean }

/** archive.PreserveTrailingDotOrSeparator(filepath.Join("/", p), p) */
export function containerAbsPath(p: string): string {
  let abs = path.posix.join('/', p);
  if (/(^|\/)\.$/.test(p) && !abs.endsWith('/.')) abs = `${abs.replace(/\/$/, '')}/.`;
  else if (p.endsWith('/') && !abs.endsWith('/')) abs += '/';
  return abs;
}

function statJson(s: PathStat): PathStatJson {
  return { name: s.name, size: s.size, mode: s.mode, mtime: formatGoTime(localGoTime(s.mtimeNs), 'RFC3339Nano'), linkTarget: s.linkTarget };
}

function checkPath(p: string): void {
  if (!p) throw new InvalidParameterError('bad parameter: path cannot be empty');
}

export class ArchiveService {
  constructor(private readonly d: ArchiveServiceDeps) {}

  /** The one xattr Docker's archive keeps (ReadSecurityXattrToTarHeader); a filesystem without xattrs has none. */
  private readonly capability = (p: string): Buffer | undefined => {
    try { return this.d.sys.lgetxattr(p, 'security.capability'); } catch { return undefined; }
  };

  /** HEAD /containers/{id}/archive */
  stat(ref: string, p: string): Promise<PathStatJson> {
    checkPath(p);
    return this.inTree(ref, p, async (tree) => statJson(this.statChecked(tree, containerAbsPath(p))));
  }

  /**
   * GET /containers/{id}/archive: `begin` gets the path's stat (the response header) before any byte of
   * the tar and returns where the tar goes.
   */
  archive(ref: string, p: string, begin: (stat: PathStatJson) => Writable): Promise<void> {
    checkPath(p);
    return this.inTree(ref, p, async (tree, cfs) => {
      const abs = containerAbsPath(p);
      const stat = this.statChecked(tree, abs);
      const r = tree.resolve(abs);
      try {
        const base = stat.name === '/' ? '.' : stat.name;
        const out = begin(statJson(stat));
        cfs.publish('archive-path');
        await packPath(tree, r, out, { rebase: base, capability: this.capability });
      } finally {
        r.close();
      }
    });
  }

  /** PUT /containers/{id}/archive: extract a tar (plain or gzip) into the directory `p`. */
  extract(ref: string, p: string, body: Readable, o: ExtractOptions): Promise<void> {
    checkPath(p);
    return this.inTree(ref, p, async (tree, cfs) => {
      // The destination follows a final symlink too: extracting "into" a link to a directory is allowed.
      const r = tree.resolve(containerAbsPath(p), { followFinal: true });
      let dest: string;
      try {
        if (!r.st) throw Object.assign(new Error('no such file or directory'), { code: 'ENOENT' });
        if (!r.st.isDirectory()) throw new InvalidParameterError('extraction point is not a directory');
        dest = r.path;
      } finally {
        r.close();
      }
      checkWritablePath(cfs, dest);
      const thaw = await cfs.freeze();
      try {
        const owner = o.copyUIDGID ? await this.d.resolveUser(cfs.root, cfs.rec.Config.User || undefined) : undefined;
        await applyLayerTar(body, cfs.root, {
          sys: this.d.sys, under: dest.replace(/^\/+/, ''), whiteouts: false,
          noOverwriteDirNonDir: o.noOverwriteDirNonDir, ...(owner ? { owner: { uid: owner.uid, gid: owner.gid } } : {}),
        });
      } finally {
        await thaw();
      }
      cfs.publish('extract-to-dir');
    });
  }

  /**
   * GET /containers/{id}/export (moby containerExport): the container's layers flattened, its volumes and
   * binds left out, entries named relative to "/" as Docker's archive.Tar writes them. `begin` is called
   * before the first byte and returns where the tar goes.
   */
  export(ref: string, begin: () => Writable): Promise<void> {
    return this.d.withLayers(ref, async (root, cfs) => {
      let tree: ContainerTree;
      try { tree = ContainerTree.open(root); } catch (err) {
        throw new SystemError(`cannot open the filesystem of container ${ref}: ${(err as Error).message}`, { cause: err });
      }
      try {
        // A container that exited between the choice of its mounted root and the open leaves the bare
        // directory (root sits in the container's own directory): never exported as an empty tar.
        if (fs.fstatSync(tree.rootFd).dev === fs.statSync(path.dirname(root)).dev) {
          throw new ConflictError(`container ${ref} stopped while its export began; try again`);
        }
        const r = tree.resolve('/');
        try {
          await packPath(tree, r, begin(), { rebase: '.', contentsOnly: true, capability: this.capability });
        } finally {
          r.close();
        }
      } finally {
        tree.close();
      }
      cfs.publish('export');
    });
  }

  private statChecked(tree: ContainerTree, abs: string): PathStat {
    const s = statPath(tree, abs);
    // "/file/": the kernel's lstat answers ENOTDIR; so does Docker's.
    if (abs.endsWith('/') && abs !== '/' && (s.mode & 2 ** 31) === 0 && !s.linkTarget) {
      throw new SystemError(`lstat ${abs}: not a directory`);
    }
    return s;
  }

  /** The container's tree open for fn; a missing path is Docker's "Could not find the file". */
  private async inTree<T>(ref: string, p: string, fn: (tree: ContainerTree, cfs: ContainerFs) => Promise<T>): Promise<T> {
    return this.d.withFilesystem(ref, async (cfs) => {
      let tree: ContainerTree;
      try { tree = ContainerTree.open(cfs.root); } catch (err) {
        throw new SystemError(`cannot open the filesystem of container ${ref}: ${(err as Error).message}`, { cause: err });
      }
      try {
        return await fn(tree, cfs);
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        if (code === 'ENOENT') throw new NotFoundError(`Could not find the file ${p} in container ${ref}`, { cause: err });
        if (code === 'ENOTDIR') throw new SystemError(`lstat ${containerAbsPath(p)}: not a directory`, { cause: err });
        if (code === 'ELOOP') throw new SystemError(`${p}: a path component was replaced by a symlink during the copy`, { cause: err });
        throw err;
      } finally {
        tree.close();
      }
    });
  }
}

/** moby checkWritablePath: a volume or bind decides by its RW; elsewhere a read-only rootfs refuses. */
export function checkWritablePath(cfs: Pick<ContainerFs, 'rec'>, abs: string): void {
  const within = (dest: string) => abs === dest || abs.startsWith(dest.endsWith('/') ? dest : `${dest}/`);
  const mounts = [...(cfs.rec.MountPoints ?? [])].sort((a, b) => b.Destination.length - a.Destination.length);
  for (const m of mounts) {
    if (!within(m.Destination)) continue;
    if (m.RW) return;
    throw new InvalidParameterError('mounted volume is marked read-only');
  }
  if (cfs.rec.HostConfig.ReadonlyRootfs) throw new InvalidParameterError('container rootfs is marked read-only');
}
