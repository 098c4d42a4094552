/**
 * The image archive `docker save` writes and `docker load` reads (pure: the files' contents as data).
 *
 * Docker 25+ writes one tar holding two views of the same blobs:
 *   blobs/sha256/<hex>   configs, uncompressed layer tars (digest = diffID), one OCI manifest per image
 *   manifest.json        the docker-archive view: [{Config, RepoTags, Layers}], paths into the tar
 *   repositories         {familiar name: {tag: top layer id}} (legacy readers)
 *   index.json, oci-layout   the OCI image layout view, one descriptor per tag
 * Older docker wrote manifest.json with `<v1 id>/layer.tar` and `<config hex>.json` paths (the *legacy
 * layout*); a layout with index.json but no manifest.json is read through the OCI view.
 */
import { InvalidParameterError } from '../errors.js';
import { MT, isDigestString, type Descriptor } from './manifest.js';
import { familiarName, familiarString, fullString, normalize, type Reference } from './reference.js';

/** A malformed or tampered archive (400). */
export class ArchiveError extends InvalidParameterError {}

/** One entry of manifest.json (moby tarexport manifestItem). */
export interface ArchiveManifestItem {
  Config: string;
  RepoTags: string[] | null;
  Layers: string[];
  Parent?: string;
  LayerSources?: Record<string, Descriptor>;
}

/** Clean an archive member name ("./a//b/" → "a/b"); names leaving the archive are refused. */
export function cleanArchivePath(name: string): string {
  if (name.includes('\0')) throw new ArchiveError(`invalid archive: bad entry name ${JSON.stringify(name)}`);
  const parts: string[] = [];
  for (const p of name.split('/')) {
    if (p === '' || p === '.') continue;
    if (p === '..') {
      if (parts.length === 0) throw new ArchiveError(`invalid archive: entry ${JSON.stringify(name)} leaves the archive`);
      parts.pop();
      continue;
    }
    parts.push(p);
  }
  return parts.join('/');
}

/** `blobs/sha256/<hex>` → `sha256:<hex>`: the digest such a member must have. */
export function blobPathDigest(p: string): string | undefined {
  const m = /^blobs\/(sha256)\/([a-f0-9]{64})$/.exec(p);
  return m ? `${m[1]}:${m[2]}` : undefined;
}

export function blobPath(digest: string): string {
  return `blobs/${digest.replace(':', '/')}`;
}

/** manifest.json, checked for shape (moby's messages where it has them). */
export function parseArchiveManifest(text: string): ArchiveManifestItem[] {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (err) {
    throw new ArchiveError(`invalid archive: failed to decode manifest.json: ${(err as Error).message}`);
  }
  if (doc === null) throw new ArchiveError('invalid manifest, manifest cannot be null (but can be [])');
  if (!Array.isArray(doc)) throw new ArchiveError('invalid archive: manifest.json is not a JSON array');
  return doc.map((raw, i) => {
    const m = raw as Partial<ArchiveManifestItem> | null;
    const where = `invalid archive: manifest.json entry ${i}`;
    if (!m || typeof m !== 'object') throw new ArchiveError(`${where} is not an object`);
    if (typeof m.Config !== 'string' || m.Config === '') throw new ArchiveError(`${where} has no Config`);
    if (m.Layers !== undefined && m.Layers !== null && (!Array.isArray(m.Layers) || m.Layers.some((l) => typeof l !== 'string'))) {
      throw new ArchiveError(`${where}: Layers must be a list of paths`);
    }
    if (m.RepoTags !== undefined && m.RepoTags !== null && (!Array.isArray(m.RepoTags) || m.RepoTags.some((t) => typeof t !== 'string'))) {
      throw new ArchiveError(`${where}: RepoTags must be a list of strings`);
    }
    const item: ArchiveManifestItem = { Config: m.Config, RepoTags: m.RepoTags ?? null, Layers: m.Layers ?? [] };
    if (typeof m.Parent === 'string' && m.Parent) item.Parent = m.Parent;
    return item;
  });
}

/** A RepoTags entry → a tagged reference (moby: "invalid tag" for one without a tag). */
export function loadedTag(repoTag: string): Reference {
  let ref: Reference;
  try {
    ref = normalize(repoTag);
  } catch (err) {
    throw new ArchiveError(`invalid archive: bad tag ${JSON.stringify(repoTag)}: ${(err as Error).message}`);
  }
  if (ref.digest !== undefined || !/:[^/]*$/.test(repoTag.replace(/@.*$/, ''))) throw new ArchiveError(`invalid tag ${JSON.stringify(repoTag)}`);
  return ref;
}

/** The name an OCI index entry gives its image (containerd's annotation, or a full ref as ref.name). */
export function ociEntryName(annotations: Record<string, string> | undefined): Reference | undefined {
  const full = annotations?.['io.containerd.image.name'];
  const refName = annotations?.['org.opencontainers.image.ref.name'];
  for (const s of [full, refName]) {
    if (!s || !/[/:]/.test(s)) continue;
    try {
      const r = normalize(s);
      if (r.digest === undefined && r.tag !== undefined) return r;
    } catch { /* not a reference: a bare tag name */ }
  }
  return undefined;
}

/** One image as save writes it. */
export interface SaveImage {
  id: string;
  configSize: number;
  diffIds: string[];
  /** Byte size of each layer tar (digest = its diffID). */
  layerSizes: number[];
  /** Tagged references, in order. */
  tags: Reference[];
}

export interface SaveLayout {
  /** Per image, its OCI manifest (a blob of the archive). */
  manifests: { digest: string; body: Buffer }[];
  manifestJson: Buffer;
  indexJson: Buffer;
  ociLayout: Buffer;
  /** Absent when no image is tagged (as docker). */
  repositories?: Buffer;
}

/** The metadata files of a save of `images` (their blobs are written beside them). */
export function saveLayout(images: SaveImage[], sha256: (b: Buffer) => string): SaveLayout {
  const manifests: SaveLayout['manifests'] = [];
  const items: ArchiveManifestItem[] = [];
  const index: Descriptor[] = [];
  const repos: Record<string, Record<string, string>> = {};
  for (const img of images) {
    const body = Buffer.from(JSON.stringify({
      schemaVersion: 2,
      mediaType: MT.ociManifest,
      config: { mediaType: MT.ociConfig, digest: img.id, size: img.configSize },
      layers: img.diffIds.map((d, i) => ({ mediaType: MT.ociLayer, digest: d, size: img.layerSizes[i] })),
    }));
    const digest = sha256(body);
    manifests.push({ digest, body });
    const desc: Descriptor = { mediaType: MT.ociManifest, digest, size: body.length };
    for (const t of img.tags) {
      index.push({ ...desc, annotations: { 'io.containerd.image.name': fullString(t), 'org.opencontainers.image.ref.name': t.tag! } });
      (repos[familiarName(t)] ??= {})[t.tag!] = img.diffIds[img.diffIds.length - 1]!.slice(7);
    }
    if (img.tags.length === 0) index.push(desc);
    items.push({
      Config: blobPath(img.id),
      RepoTags: img.tags.length ? img.tags.map(familiarString) : null,
      Layers: img.diffIds.map(blobPath),
    });
  }
  const out: SaveLayout = {
    manifests,
    manifestJson: Buffer.from(`${JSON.stringify(items)}\n`),
    indexJson: Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: MT.ociIndex, manifests: index })),
    ociLayout: Buffer.from('{"imageLayoutVersion": "1.0.0"}'),
  };
  if (Object.keys(repos).length) out.repositories = Buffer.from(`${JSON.stringify(repos)}\n`);
  return out;
}

/** rootfs.diff_ids and os of a loaded config, checked. */
export function loadedConfigFacts(config: Buffer, where: string): { diffIds: string[]; os: string } {
  let doc: { os?: unknown; rootfs?: { diff_ids?: unknown } };
  try {
    doc = JSON.parse(config.toString('utf8')) as typeof doc;
  } catch (err) {
    throw new ArchiveError(`invalid image config ${where}: ${(err as Error).message}`);
  }
  if (!doc || typeof doc !== 'object') throw new ArchiveError(`invalid image config ${where}: not an object`);
  const diffIds = doc.rootfs?.diff_ids ?? [];
  if (!Array.isArray(diffIds) || diffIds.some((d) => typeof d !== 'string' || !isDigestString(d) || !d.startsWith('sha256:'))) {
    throw new ArchiveError(`invalid image config ${where}: bad rootfs.diff_ids`);
  }
  return { diffIds: diffIds as string[], os: typeof doc.os === 'string' ? doc.os : '' };
}
