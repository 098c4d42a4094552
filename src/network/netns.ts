import fsp from 'node:fs/promises';
import path from 'node:path';
import { SystemError } from '../errors.js';
import { MNT_DETACH, type Sys } from '../sys/sys.js';

/**
 * Named network namespaces as files under a directory (berth: <exec-root>/netns/<container-id>).
 * A namespace is kept alive by a bind mount of its nsfs file onto the file (Sys.createNetns, which also
 * raises loopback: what `unshare --net=<file>` + the CNI loopback plugin would do in two execs).
 * Removing = detach-unmount + unlink; the kernel then destroys the namespace and with it the container
 * ends of its veths.
 */
export class NetnsManager {
  constructor(readonly dir: string, private readonly sys: Sys) {}

  pathOf(name: string): string {
    if (!/^[A-Za-z0-9_.-]+$/.test(name)) throw new SystemError(`invalid netns name ${name}`);
    return path.join(this.dir, name);
  }

  async create(name: string): Promise<string> {
    const p = this.pathOf(name);
    await fsp.mkdir(this.dir, { recursive: true, mode: 0o700 });
    if (await this.isMounted(p)) return p;
    await fsp.writeFile(p, '', { mode: 0o444 });
    try {
      this.sys.createNetns(p);
    } catch (err) {
      await fsp.rm(p, { force: true });
      throw new SystemError(`create network namespace ${name}: ${(err as Error).message}`, { cause: err });
    }
    return p;
  }

  async remove(name: string): Promise<void> {
    const p = this.pathOf(name);
    this.sys.unmount(p, MNT_DETACH);
    await fsp.rm(p, { force: true });
  }

  async list(): Promise<string[]> {
    try { return (await fsp.readdir(this.dir)).filter((n) => !n.startsWith('.')); } catch { return []; }
  }

  /** An nsfs bind mount has the magic device of nsfs; a plain file left by a crash does not. */
  async isMounted(p: string): Promise<boolean> {
    try {
      const mi = await fsp.readFile('/proc/self/mountinfo', 'utf8');
      return mi.split('\n').some((l) => l.split(' ')[4] === p && l.includes(' - nsfs '));
    } catch { return false; }
  }
}
