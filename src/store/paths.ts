import path from 'node:path';

/**
 * The only place paths under the data root and exec root are built.
 *
 * <data-root>/                      (default /var/lib/berth; 0710)
 *   content/blobs/sha256/<hex>      immutable blobs: layer tars, image configs, manifests
 *   content/ingest/<ref>            partial writes; never read as complete
 *   layers/<hex>/diff               one unpacked layer = one overlay lowerdir (hex = diffID hex)
 *   layers/<hex>/link               the short id whose symlink l/<short> points at ../layers/<hex>/diff
 *   layers/<hex>/ok                 written last: a layer dir without it is incomplete and removed at start
 *   l/<short> -> ../layers/<hex>/diff  keeps overlay mount data under a page
 *   images/<hex>.json               image record (repo tags, created, config digest)
 *   containers/<id>/record.json     the container record (config, host config, state)
 *   containers/<id>/upper, work     overlay upper/work dirs
 *   containers/<id>/merged          overlay mount point = the container's rootfs (0700)
 *   containers/<id>/ctr.log         conmon's k8s-file log
 *   volumes/<name>/volume.json      a local volume's record (written last: a dir without it is removed at start)
 *   volumes/<name>/_data            its content (the mountpoint; a mount target when it has type/device options)
 *   tmp/                            scratch for imports and build contexts; emptied at start
 *   builder/cache.json              the builder's step cache (step key → image id)
 *
 * <exec-root>/                      (default /run/berth; tmpfs: gone on reboot)
 *   berth.sock                      default API socket
 *   berthd.pid                      default pidfile
 *   runc/                           runc --root
 *   bundles/<id>/                   OCI bundle: config.json, attach, ctl, winsz, pidfile, conmon.pid, oci-log, persist/
 *   exits/<id>                      conmon's exit file (decimal exit code)
 *   execs/<exec-id>/                per-exec session dir (own exit dir, as conmon names the exit file after the container)
 */
export class Paths {
  constructor(readonly dataRoot: string, readonly execRoot: string) {}

  // data root
  get contentDir(): string { return path.join(this.dataRoot, 'content'); }
  blob(digest: string): string {
    const [alg, hex] = splitDigest(digest);
    return path.join(this.dataRoot, 'content', 'blobs', alg, hex);
  }
  get ingestDir(): string { return path.join(this.dataRoot, 'content', 'ingest'); }
  get layersDir(): string { return path.join(this.dataRoot, 'layers'); }
  layerDir(hex: string): string { return path.join(this.dataRoot, 'layers', hex); }
  get linksDir(): string { return path.join(this.dataRoot, 'l'); }
  get imagesDir(): string { return path.join(this.dataRoot, 'images'); }
  get containersDir(): string { return path.join(this.dataRoot, 'containers'); }
  containerDir(id: string): string { return path.join(this.dataRoot, 'containers', id); }
  containerRecord(id: string): string { return path.join(this.containerDir(id), 'record.json'); }
  containerLog(id: string): string { return path.join(this.containerDir(id), 'ctr.log'); }
  containerRootfs(id: string): string { return path.join(this.containerDir(id), 'merged'); }
  get volumesDir(): string { return path.join(this.dataRoot, 'volumes'); }
  volumeDir(name: string): string { return path.join(this.dataRoot, 'volumes', name); }
  volumeRecord(name: string): string { return path.join(this.volumeDir(name), 'volume.json'); }
  volumeData(name: string): string { return path.join(this.volumeDir(name), '_data'); }
  get tmpDir(): string { return path.join(this.dataRoot, 'tmp'); }
  /** The builder's step cache index (step key → image id). */
  get buildCacheFile(): string { return path.join(this.dataRoot, 'builder', 'cache.json'); }

  // exec root
  get runcRoot(): string { return path.join(this.execRoot, 'runc'); }
  /** An OCI runtime's state root (`--root`): runc's stays where it always was, others get their own. */
  runtimeRoot(name: string): string { return name === 'runc' ? this.runcRoot : path.join(this.execRoot, `runtime-${name}`); }
  get bundlesDir(): string { return path.join(this.execRoot, 'bundles'); }
  bundle(id: string): string { return path.join(this.execRoot, 'bundles', id); }
  get exitsDir(): string { return path.join(this.execRoot, 'exits'); }
  exitFile(id: string): string { return path.join(this.execRoot, 'exits', id); }
  execDir(execId: string): string { return path.join(this.execRoot, 'execs', execId); }
}

export function splitDigest(digest: string): [string, string] {
  const i = digest.indexOf(':');
  if (i < 0) return ['sha256', digest];
  return [digest.slice(0, i), digest.slice(i + 1)];
}
