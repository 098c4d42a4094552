import { InvalidParameterError } from '../errors.js';

/**
 * Create-time settings berth cannot honour yet, and the daemon-wide defaults a create takes.
 * Pure: the container service calls these with the body, the image's config and the daemon settings.
 */

export interface CreateSettingsBody {
  Volumes?: Record<string, object> | null;
  HostConfig?: { Binds?: unknown; Mounts?: unknown; VolumesFrom?: unknown; Ulimits?: unknown } | null;
}

function nonEmpty(v: unknown): boolean {
  if (v === null || v === undefined) return false;
  if (Array.isArray(v)) return v.length > 0;
  if (typeof v === 'object') return Object.keys(v as object).length > 0;
  return true;
}

/**
 * Volumes, binds and --volumes-from need the volume API (the storage issue). Until it exists a create
 * that asks for them fails: accepting them would start a container without the data the user mounted.
 */
export function refuseUnsupportedMounts(body: CreateSettingsBody): void {
  const hc = body.HostConfig ?? {};
  const asked: string[] = [];
  if (nonEmpty(hc.Binds)) asked.push('HostConfig.Binds (-v)');
  if (nonEmpty(hc.Mounts)) asked.push('HostConfig.Mounts (--mount)');
  if (nonEmpty(hc.VolumesFrom)) asked.push('HostConfig.VolumesFrom (--volumes-from)');
  if (nonEmpty(body.Volumes)) asked.push('Volumes (-v without a host path)');
  if (asked.length) {
    throw new InvalidParameterError(`volumes are not supported by berth yet: ${asked.join(', ')} cannot be honoured`);
  }
}

/**
 * An image's VOLUMEs are not refused: that would block running postgres, redis and most database
 * images. Docker gives each an anonymous volume; berth keeps the path in the container's writable
 * layer (same content at start, lost on `rm` as an anonymous volume is with `rm -v`) and says so in
 * the create answer's Warnings, as Docker reports what it could not honour.
 */
export function imageVolumeWarnings(imageVolumes: Record<string, object> | null | undefined): string[] {
  const paths = Object.keys(imageVolumes ?? {}).sort();
  if (!paths.length) return [];
  return [`The image's VOLUME ${paths.join(', ')} stays in the container's writable layer: berth has no volumes yet (no anonymous volume is created)`];
}

export interface Ulimit { Name: string; Soft: number; Hard: number }

/** daemon.json default-ulimits, validated at berthd start: `{"nofile": {"Name": "nofile", "Soft": 1024, "Hard": 2048}}`. */
export function parseDefaultUlimits(v: unknown): Ulimit[] {
  if (v === undefined || v === null) return [];
  if (typeof v !== 'object' || Array.isArray(v)) throw new InvalidParameterError('default-ulimits must be an object of {"Name", "Soft", "Hard"}');
  const out: Ulimit[] = [];
  for (const [key, raw] of Object.entries(v as Record<string, unknown>)) {
    const u = raw as Partial<Ulimit> | null;
    if (!u || typeof u !== 'object') throw new InvalidParameterError(`default-ulimits: invalid ulimit ${key}`);
    const name = typeof u.Name === 'string' && u.Name ? u.Name : key;
    if (!ULIMIT_NAMES.has(name)) throw new InvalidParameterError(`default-ulimits: invalid ulimit type: ${name}`);
    if (!Number.isInteger(u.Soft) || !Number.isInteger(u.Hard)) throw new InvalidParameterError(`default-ulimits: ${name}: Soft and Hard must be integers`);
    if (u.Soft! > u.Hard!) throw new InvalidParameterError(`ulimit soft limit must be less than or equal to hard limit: ${u.Soft} > ${u.Hard}`);
    out.push({ Name: name, Soft: u.Soft!, Hard: u.Hard! });
  }
  return out;
}

/** The container's own --ulimit wins per name; the daemon's default-ulimits fill the rest (dockerd's mergeUlimits). */
export function mergeUlimits(own: Ulimit[] | null | undefined, defaults: Ulimit[]): Ulimit[] {
  const out = [...(own ?? [])];
  for (const d of defaults) if (!out.some((u) => u.Name === d.Name)) out.push({ ...d });
  return out;
}

export const ULIMIT_NAMES = new Set([
  'as', 'core', 'cpu', 'data', 'fsize', 'locks', 'memlock', 'msgqueue', 'nice', 'nofile', 'nproc', 'rss', 'rtprio', 'rttime', 'sigpending', 'stack',
]);

export interface DnsSettings { dns?: string[]; dnsSearch?: string[]; dnsOptions?: string[] }

/** daemon.json dns/dns-search/dns-opts apply when the container gives none of its own (per list, as dockerd). */
export function effectiveDns(own: DnsSettings, daemon: DnsSettings): DnsSettings {
  const pick = (a?: string[], b?: string[]) => (a && a.length ? a : b && b.length ? b : undefined);
  return { dns: pick(own.dns, daemon.dns), dnsSearch: pick(own.dnsSearch, daemon.dnsSearch), dnsOptions: pick(own.dnsOptions, daemon.dnsOptions) };
}
