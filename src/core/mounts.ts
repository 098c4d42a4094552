// A container's mounts as data: `-v` strings (HostConfig.Binds), `--mount` objects (HostConfig.Mounts),
// anonymous volumes (Config.Volumes, the image's VOLUMEs) and --volumes-from, checked with moby's wording
// and merged into one list of mount points; then the OCI mounts a start binds. Pure: facts about the host
// (does a bind source exist, where a volume lives) come in as arguments.
import { InvalidParameterError, NotFoundError } from '../errors.js';
import { validateVolumeName } from './volumes.js';

/** One mount of a container, as kept in its record and shown (minus the berth-only fields) in inspect's `Mounts`. */
export interface MountPoint {
  Type: 'bind' | 'volume' | 'tmpfs';
  /** volume name; '' for an anonymous volume not made yet */
  Name?: string;
  Source: string;
  Destination: string;
  Driver?: string;
  Mode: string;
  RW: boolean;
  Propagation: string;
  /** a `-v` bind whose missing source is made at start (Docker does; --mount refuses) */
  CreateSource?: boolean;
  /** no copy-up of the image's content into an empty volume */
  NoCopy?: boolean;
  Subpath?: string;
  NonRecursive?: boolean;
  Tmpfs?: { SizeBytes?: number; Mode?: number };
  /** made for this container (anonymous): removed with `rm -v` / AutoRemove */
  Anonymous?: boolean;
}

/** HostConfig.Mounts entry as the API sends it. */
export interface ApiMount {
  Type?: string;
  Source?: string;
  Target?: string;
  ReadOnly?: boolean;
  Consistency?: string;
  BindOptions?: { Propagation?: string; NonRecursive?: boolean; CreateMountpoint?: boolean; ReadOnlyNonRecursive?: boolean; ReadOnlyForceRecursive?: boolean } | null;
  VolumeOptions?: { NoCopy?: boolean; Labels?: Record<string, string>; DriverConfig?: { Name?: string; Options?: Record<string, string> } | null; Subpath?: string } | null;
  TmpfsOptions?: { SizeBytes?: number; Mode?: number; Options?: string[][] } | null;
}

const PROPAGATIONS = new Set(['shared', 'rshared', 'slave', 'rslave', 'private', 'rprivate']);

function cleanDest(dst: string): string {
  const parts: string[] = [];
  for (const p of dst.split('/')) {
    if (p === '' || p === '.') continue;
    if (p === '..') parts.pop(); else parts.push(p);
  }
  return '/' + parts.join('/');
}

function checkDestination(dst: string, kind: string): string {
  if (!dst) throw new InvalidParameterError(`invalid mount config for type "${kind}": field Target must not be empty`);
  if (!dst.startsWith('/')) throw new InvalidParameterError(`invalid mount config for type "${kind}": invalid mount path: '${dst}' mount path must be absolute`);
  const clean = cleanDest(dst);
  if (clean === '/') throw new InvalidParameterError(`invalid specification: destination can't be '/'`);
  return clean;
}

/** The mode part of `-v src:dst:mode`: rw|ro, z|Z, nocopy and one propagation, comma separated (moby's linuxValidMountMode). */
function parseMode(mode: string, isBind: boolean): { rw: boolean; propagation: string; nocopy: boolean } {
  let rw: boolean | undefined, label = false, propagation = '', nocopy = false;
  for (const o of mode.split(',')) {
    if (o === 'rw' || o === 'ro') { if (rw !== undefined) throw new InvalidParameterError(`invalid mode: ${mode}`); rw = o === 'rw'; }
    else if (o === 'z' || o === 'Z') { if (label) throw new InvalidParameterError(`invalid mode: ${mode}`); label = true; }
    else if (o === 'nocopy') { if (nocopy || isBind) throw new InvalidParameterError(`invalid mode: ${mode}`); nocopy = true; }
    else if (PROPAGATIONS.has(o)) { if (propagation) throw new InvalidParameterError(`invalid mode: ${mode}`); propagation = o; }
    else throw new InvalidParameterError(`invalid mode: ${mode}`);
  }
  return { rw: rw ?? true, propagation, nocopy };
}

/**
 * One `-v` string: `/dst` (anonymous volume), `name:/dst[:mode]` (named volume) or `/host:/dst[:mode]` (bind).
 * A source that is not absolute is a volume name, so `-v rel/path:/dst` fails on the name rule, as Docker's does.
 */
export function parseBindSpec(raw: string): MountPoint {
  const arr = raw.split(':');
  if (arr.length < 1 || arr.length > 3 || arr.some((p) => p === '')) throw new InvalidParameterError(`invalid volume specification: '${raw}'`);
  if (arr.length === 1) {
    return { Type: 'volume', Name: '', Source: '', Destination: checkDestination(arr[0]!, 'volume'), Driver: 'local', Mode: '', RW: true, Propagation: '', Anonymous: true };
  }
  const [src, dst, mode = ''] = arr as [string, string, string?];
  const isBind = src.startsWith('/');
  const m = mode ? parseMode(mode, isBind) : { rw: true, propagation: '', nocopy: false };
  if (isBind) {
    return {
      Type: 'bind', Source: cleanDest(src), Destination: checkDestination(dst, 'bind'), Mode: mode, RW: m.rw,
      Propagation: m.propagation || 'rprivate', CreateSource: true,
    };
  }
  validateVolumeName(src);
  return {
    Type: 'volume', Name: src, Source: '', Destination: checkDestination(dst, 'volume'), Driver: 'local', Mode: mode, RW: m.rw,
    Propagation: m.propagation, ...(m.nocopy ? { NoCopy: true } : {}),
  };
}

/** One `--mount` object (moby's validateMountConfig); `exists` tells whether a bind source is there. */
export function parseApiMount(m: ApiMount, exists: (hostPath: string) => boolean): MountPoint {
  const type = m.Type ?? '';
  const bad = (msg: string) => new InvalidParameterError(`invalid mount config for type "${type}": ${msg}`);
  if (type !== 'bind' && type !== 'volume' && type !== 'tmpfs') {
    if (type === 'npipe' || type === 'cluster' || type === 'image') throw new InvalidParameterError(`mount type "${type}" is not supported by berth`);
    throw new InvalidParameterError(`invalid mount config: mount type unknown: "${type}"`);
  }
  const dst = checkDestination(m.Target ?? '', type);
  if (type !== 'bind' && m.BindOptions) throw bad('field BindOptions must not be specified');
  if (type !== 'volume' && m.VolumeOptions) throw bad('field VolumeOptions must not be specified');
  if (type !== 'tmpfs' && m.TmpfsOptions) throw bad('field TmpfsOptions must not be specified');
  const rw = !m.ReadOnly;
  if (type === 'bind') {
    if (!m.Source) throw bad('field Source must not be empty');
    if (!m.Source.startsWith('/')) throw bad(`invalid mount path: '${m.Source}' mount path must be absolute`);
    const bo = m.BindOptions ?? {};
    if (bo.Propagation && !PROPAGATIONS.has(bo.Propagation)) throw bad(`invalid propagation mode: ${bo.Propagation}`);
    if (bo.ReadOnlyNonRecursive || bo.ReadOnlyForceRecursive) throw new InvalidParameterError('bind-recursive=readonly / writable is not supported by berth');
    const src = cleanDest(m.Source);
    if (!bo.CreateMountpoint && !exists(src)) throw bad(`bind source path does not exist: ${src}`);
    return {
      Type: 'bind', Source: src, Destination: dst, Mode: '', RW: rw, Propagation: bo.Propagation || 'rprivate',
      ...(bo.NonRecursive ? { NonRecursive: true } : {}), ...(bo.CreateMountpoint ? { CreateSource: true } : {}),
    };
  }
  if (type === 'tmpfs') {
    if (m.Source) throw bad('field Source must not be specified');
    const t = m.TmpfsOptions ?? {};
    if (t.SizeBytes !== undefined && t.SizeBytes < 0) throw bad('invalid tmpfs size');
    if (t.Options?.length) throw new InvalidParameterError('tmpfs Options are not supported by berth');
    const tmpfs: MountPoint['Tmpfs'] = {};
    if (t.SizeBytes) tmpfs.SizeBytes = t.SizeBytes;
    if (t.Mode) tmpfs.Mode = t.Mode;
    return { Type: 'tmpfs', Source: '', Destination: dst, Mode: '', RW: rw, Propagation: '', Tmpfs: tmpfs };
  }
  const vo = m.VolumeOptions ?? {};
  const driver = vo.DriverConfig?.Name || 'local';
  if (driver !== 'local') throw new NotFoundError(`error looking up volume plugin ${driver}: plugin "${driver}" not found`);
  if (vo.Subpath) {
    if (vo.Subpath.startsWith('/') || vo.Subpath.split('/').includes('..')) throw bad(`subpath must be a relative path within the volume`);
    if (!m.Source) throw bad('subpath cannot be used with an anonymous volume');
  }
  if (m.Source) validateVolumeName(m.Source);
  return {
    Type: 'volume', Name: m.Source ?? '', Source: '', Destination: dst, Driver: 'local', Mode: '', RW: rw, Propagation: '',
    ...(vo.NoCopy ? { NoCopy: true } : {}), ...(vo.Subpath ? { Subpath: vo.Subpath } : {}), ...(m.Source ? {} : { Anonymous: true }),
  };
}

/** `--volumes-from ctr[:ro|:rw]` → the reference and the mode to force. */
export function parseVolumesFrom(spec: string): { ref: string; rw?: boolean } {
  const i = spec.lastIndexOf(':');
  if (i < 0) return { ref: spec };
  const mode = spec.slice(i + 1);
  const ref = spec.slice(0, i);
  if (mode === 'ro' || mode === 'rw') return { ref, rw: mode === 'rw' };
  if (mode === 'z' || mode === 'Z') return { ref };
  throw new InvalidParameterError(`invalid mode: ${mode}`);
}

export interface MountRequest {
  binds?: string[] | null;
  mounts?: ApiMount[] | null;
  /** Config.Volumes: `-v /path` */
  volumes?: Record<string, unknown> | null;
  imageVolumes?: Record<string, unknown> | null;
  /** the mount points of each --volumes-from container, with its forced mode */
  volumesFrom?: Array<{ points: MountPoint[]; rw?: boolean }>;
  /** HostConfig.Tmpfs destinations (mounted by the tmpfs planner; they win over image volumes) */
  tmpfs?: string[];
}

/**
 * Every mount point of a new container, in moby's precedence: --volumes-from, then `-v` and `--mount`
 * (a destination given twice among these is an error), then `-v /path` and the image's VOLUMEs for the
 * destinations still free. Anonymous volumes keep Name '' until the caller makes them.
 */
export function planMountPoints(req: MountRequest, exists: (hostPath: string) => boolean): MountPoint[] {
  const byDest = new Map<string, MountPoint>();
  for (const vf of req.volumesFrom ?? []) {
    for (const p of vf.points) {
      const copy: MountPoint = { ...p, Anonymous: false };
      if (vf.rw !== undefined) copy.RW = vf.rw;
      byDest.set(p.Destination, copy);
    }
  }
  const explicit = new Set<string>();
  const add = (p: MountPoint) => {
    if (explicit.has(p.Destination)) throw new InvalidParameterError(`Duplicate mount point: ${p.Destination}`);
    explicit.add(p.Destination);
    byDest.set(p.Destination, p);
  };
  for (const b of req.binds ?? []) add(parseBindSpec(b));
  for (const m of req.mounts ?? []) add(parseApiMount(m, exists));
  const tmpfs = new Set((req.tmpfs ?? []).map(cleanDest));
  for (const d of tmpfs) {
    if (explicit.has(d)) throw new InvalidParameterError(`Duplicate mount point: ${d}`);
  }
  const anon = (raw: string) => {
    const dst = checkDestination(raw, 'volume');
    if (byDest.has(dst) || tmpfs.has(dst)) return;
    byDest.set(dst, { Type: 'volume', Name: '', Source: '', Destination: dst, Driver: 'local', Mode: '', RW: true, Propagation: '', Anonymous: true });
  };
  for (const v of Object.keys(req.volumes ?? {})) anon(v);
  for (const v of Object.keys(req.imageVolumes ?? {})) anon(v);
  return [...byDest.values()];
}

/** inspect's `Mounts`: Docker's fields only. */
export function inspectMounts(points: MountPoint[] | undefined): Array<Record<string, unknown>> {
  return (points ?? []).map((p) => {
    const o: Record<string, unknown> = { Type: p.Type };
    if (p.Type === 'volume') o.Name = p.Name;
    o.Source = p.Source;
    o.Destination = p.Destination;
    if (p.Type === 'volume') o.Driver = p.Driver ?? 'local';
    o.Mode = p.Mode;
    o.RW = p.RW;
    o.Propagation = p.Propagation;
    return o;
  });
}

export interface OciMount { destination: string; type: string; source: string; options: string[] }

/**
 * The OCI mounts for a start, shortest destination first (a mount inside another volume goes on top of
 * it). `source` gives the host path of each bind or volume (the volume's _data, or its subpath).
 */
export function ociMounts(points: MountPoint[], source: (p: MountPoint) => string): OciMount[] {
  const sorted = [...points].sort((a, b) => a.Destination.split('/').length - b.Destination.split('/').length);
  return sorted.map((p) => {
    if (p.Type === 'tmpfs') {
      const opts = ['nosuid', 'nodev', 'noexec'];
      if (!p.RW) opts.push('ro');
      if (p.Tmpfs?.SizeBytes) opts.push(`size=${p.Tmpfs.SizeBytes}`);
      if (p.Tmpfs?.Mode) opts.push(`mode=${p.Tmpfs.Mode.toString(8)}`);
      return { destination: p.Destination, type: 'tmpfs', source: 'tmpfs', options: opts };
    }
    const opts = [p.NonRecursive ? 'bind' : 'rbind'];
    if (!p.RW) opts.push('ro');
    opts.push(p.Propagation || 'rprivate');
    return { destination: p.Destination, type: 'bind', source: source(p), options: opts };
  });
}

/** Names of the volumes a container refers to. */
export function volumeNames(points: MountPoint[] | undefined): string[] {
  return (points ?? []).filter((p) => p.Type === 'volume' && p.Name).map((p) => p.Name!);
}
