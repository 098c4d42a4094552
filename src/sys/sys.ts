/**
 * Syscalls Node lacks, behind one interface (youki's Syscall trait). The linux implementation
 * (linux-sys.ts) calls libc through koffi; RecordingSys records calls for fast tests of planners.
 */
export interface Mount {
  type: string;
  source: string;
  target: string;
  /** mount(8)-style options; flags (ro, nosuid, nodev, noexec, bind, rbind, rprivate...) are split out by the applier. */
  options: string[];
}

export interface Sys {
  mount(m: Mount): void;
  /** mount() on a worker thread: an overlay mount costs milliseconds of kernel time the event loop need not wait through. */
  mountAsync(m: Mount): Promise<void>;
  /** umount2(target, flags); flags: MNT_DETACH = 2. ENOENT/EINVAL (not mounted) are ignored. */
  unmount(target: string, flags?: number): void;
  /** unmount() on a worker thread. */
  unmountAsync(target: string, flags?: number): Promise<void>;
  /** mknod for a character device (whiteouts are 0:0). */
  mknodChar(path: string, mode: number, major: number, minor: number): void;
  /** mknod for block devices and fifos (layer contents) */
  mknod(path: string, kind: 'block' | 'fifo', mode: number, major: number, minor: number): void;
  lsetxattr(path: string, name: string, value: Buffer | string): void;
  lgetxattr(path: string, name: string): Buffer | undefined;
  /**
   * A new network namespace, kept alive by a bind mount onto `path` (an existing empty file), with its
   * loopback interface up: what `unshare --net=<path>` + the CNI loopback plugin do, without two execs.
   */
  createNetns(path: string): void;
  /** Bytes written to a pipe or fifo and not read yet (ioctl FIONREAD, from either end); 0 when unknown. */
  fifoUnread(fd: number): number;
  /** glibc's malloc_trim(0): give the free pages of malloc's arenas back to the kernel (RSS). */
  mallocTrim(): void;
}

export const MNT_DETACH = 2;

export type SysCall =
  | { op: 'mount'; mount: Mount }
  | { op: 'unmount'; target: string; flags: number }
  | { op: 'mknodChar'; path: string; mode: number; major: number; minor: number }
  | { op: 'mknod'; path: string; kind: 'block' | 'fifo'; mode: number; major: number; minor: number }
  | { op: 'lsetxattr'; path: string; name: string; value: string }
  | { op: 'createNetns'; path: string };

/** Records every call and performs none: for tests of code that plans syscalls. */
export class RecordingSys implements Sys {
  readonly calls: SysCall[] = [];
  private xattrs = new Map<string, Buffer>();
  mount(m: Mount): void { this.calls.push({ op: 'mount', mount: m }); }
  async mountAsync(m: Mount): Promise<void> { this.mount(m); }
  async unmountAsync(target: string, flags = 0): Promise<void> { this.unmount(target, flags); }
  unmount(target: string, flags = 0): void { this.calls.push({ op: 'unmount', target, flags }); }
  mknodChar(path: string, mode: number, major: number, minor: number): void {
    this.calls.push({ op: 'mknodChar', path, mode, major, minor });
  }
  mknod(path: string, kind: 'block' | 'fifo', mode: number, major: number, minor: number): void {
    this.calls.push({ op: 'mknod', path, kind, mode, major, minor });
  }
  lsetxattr(path: string, name: string, value: Buffer | string): void {
    const b = Buffer.isBuffer(value) ? value : Buffer.from(value);
    this.xattrs.set(`${path}\0${name}`, b);
    this.calls.push({ op: 'lsetxattr', path, name, value: b.toString() });
  }
  lgetxattr(path: string, name: string): Buffer | undefined { return this.xattrs.get(`${path}\0${name}`); }
  createNetns(path: string): void { this.calls.push({ op: 'createNetns', path }); }
  /** Unread bytes the fake reports, by fd (default 0: every fifo drained). */
  readonly unread = new Map<number, number>();
  fifoUnread(fd: number): number { return this.unread.get(fd) ?? 0; }
  trims = 0;
  mallocTrim(): void { this.trims++; }
}
