// Volumes as data: Docker's name rule, the `local` driver's options and the mount they ask for, list
// filters and prune selection. Pure: the volume service applies what these return.
import { InvalidParameterError } from '../errors.js';
import { matchLabels, type Filters } from './filters.js';
import { ramInBytes } from './human.js';

/** A mount as data (the shape Sys.mount takes). */
export interface VolumeMount { type: string; source: string; target: string; options: string[] }

/** The label moby puts on volumes a container made for itself (`-v /path`, image VOLUME); prune by default takes only these. */
export const ANONYMOUS_LABEL = 'com.docker.volume.anonymous';

/** What is kept per volume (volumes/<name>/volume.json). */
export interface VolumeRecord {
  Name: string;
  Driver: 'local';
  Labels: Record<string, string>;
  Options: Record<string, string>;
  CreatedAt: string;
}

const NAME_RE = /^[a-zA-Z0-9][a-zA-Z0-9_.-]+$/;

/** moby's local driver name rule, with its wording (the CLI user reads it when `-v rel/path:/dst` was meant as a host path). */
export function validateVolumeName(name: string): void {
  if (name.length === 1) throw new InvalidParameterError(`create ${name}: volume name is too short, names should be at least two alphanumeric characters`);
  if (!NAME_RE.test(name)) {
    throw new InvalidParameterError(`create ${name}: "${name}" includes invalid characters for a local volume name, only "[a-zA-Z0-9][a-zA-Z0-9_.-]" are allowed. If you intended to pass a host directory, use absolute path`);
  }
}

const VALID_OPTS = new Set(['type', 'o', 'device', 'size']);
const REQUIRED_WITH: Record<string, string[]> = { device: ['type'], type: ['device'], o: ['device', 'type'] };

/** The local driver's options (moby volume/local validateOpts): type+device(+o) mount something; size needs quotas berth lacks. */
export function validateLocalOptions(opts: Record<string, string>): void {
  for (const k of Object.keys(opts)) {
    if (!VALID_OPTS.has(k)) throw new InvalidParameterError(`invalid option key: "${k}"`);
  }
  for (const [k, needs] of Object.entries(REQUIRED_WITH)) {
    if (!(k in opts)) continue;
    for (const n of needs) if (!(n in opts)) throw new InvalidParameterError(`missing required option: "${n}"`);
  }
  if ('size' in opts) {
    let size: number;
    try { size = ramInBytes(opts.size!); } catch { throw new InvalidParameterError(`invalid size: '${opts.size}'`); }
    if (size > 0) throw new InvalidParameterError('quota size requested but no quota support');
  }
  if (opts.o !== undefined && opts.type === 'tmpfs') {
    for (const o of splitOpts(opts.o)) {
      const [k, v] = [o.split('=')[0]!, o.slice(o.indexOf('=') + 1)];
      if (k === 'size' && o.includes('=') && !/^\d+[kmgKMG%]?$/.test(v)) throw new InvalidParameterError(`invalid tmpfs size option: ${o}`);
    }
  }
}

function splitOpts(o: string): string[] {
  return o.split(',').map((s) => s.trim()).filter(Boolean);
}

/**
 * The mount a local volume with options needs on its `_data` dir, or none (a plain directory). `o=bind`
 * binds `device` (a host path); `type=tmpfs` mounts a fresh tmpfs (`o=size=64m`); other types go to
 * mount(2) as given (nfs and the like).
 */
export function localVolumeMount(opts: Record<string, string>, dataDir: string): VolumeMount | undefined {
  if (!opts.type && !opts.device) return undefined;
  const o = splitOpts(opts.o ?? '');
  const bind = o.includes('bind') || o.includes('rbind');
  return { type: bind ? 'none' : opts.type!, source: opts.device!, target: dataDir, options: o };
}

export interface VolumeView extends VolumeRecord { Mountpoint: string; Scope: 'local'; UsageData?: { Size: number; RefCount: number } }

export const VOLUME_FILTERS = ['dangling', 'name', 'label', 'label!', 'driver'] as const;

function boolFilter(key: string, values: string[]): boolean | undefined {
  if (!values.length) return undefined;
  const v = values[values.length - 1]!.toLowerCase();
  if (v === 'true' || v === '1') return true;
  if (v === 'false' || v === '0') return false;
  throw new InvalidParameterError(`invalid filter '${key}=${values[values.length - 1]}'`);
}

/** GET /volumes filters: dangling (no container refers to it), name (substring), label, label!, driver. */
export function volumeMatches(v: VolumeRecord, refCount: number, f: Filters): boolean {
  const dangling = boolFilter('dangling', f.get('dangling') ?? []);
  if (dangling !== undefined && dangling !== (refCount === 0)) return false;
  const names = f.get('name') ?? [];
  if (names.length && !names.some((n) => v.Name.includes(n))) return false;
  const drivers = f.get('driver') ?? [];
  if (drivers.length && !drivers.includes(v.Driver)) return false;
  if (!matchLabels(f.get('label'), v.Labels)) return false;
  const notLabels = f.get('label!') ?? [];
  if (notLabels.length && notLabels.some((l) => matchLabels([l], v.Labels))) return false;
  return true;
}

export const PRUNE_FILTERS = ['label', 'label!', 'all'] as const;

/**
 * Which volumes a prune removes: unused ones matching the label filters; from API 1.42 on only anonymous
 * ones unless `all` is true (moby's volume router adds the anonymous filter for newer clients).
 */
export function pruneSelection(vols: Array<{ rec: VolumeRecord; refCount: number }>, f: Filters, apiVersion: string, versionAtLeast: (a: string, b: string) => boolean): VolumeRecord[] {
  const all = boolFilter('all', f.get('all') ?? []) ?? false;
  const onlyAnonymous = !all && versionAtLeast(apiVersion, '1.42');
  return vols
    .filter(({ rec, refCount }) => refCount === 0
      && (!onlyAnonymous || ANONYMOUS_LABEL in rec.Labels)
      && matchLabels(f.get('label'), rec.Labels)
      && !(f.get('label!') ?? []).some((l) => matchLabels([l], rec.Labels)))
    .map(({ rec }) => rec);
}
