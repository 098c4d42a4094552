/**
 * Image manifests as the distribution spec moves them (pure; shared by the registry server and client).
 *
 * Vocabulary: an *image manifest* (Docker v2 schema 2 or OCI) names one config blob and its layer blobs;
 * an *index* (Docker manifest list or OCI index) names image manifests, one per platform. A *descriptor*
 * is `{mediaType, digest, size}` plus, in an index, the platform.
 */
export const MT = {
  dockerManifest: 'application/vnd.docker.distribution.manifest.v2+json',
  dockerList: 'application/vnd.docker.distribution.manifest.list.v2+json',
  dockerConfig: 'application/vnd.docker.container.image.v1+json',
  dockerLayerGzip: 'application/vnd.docker.image.rootfs.diff.tar.gzip',
  /** containerd's name for a zstd layer in a Docker manifest (images.MediaTypeDockerSchema2LayerZstd). */
  dockerLayerZstd: 'application/vnd.docker.image.rootfs.diff.tar.zstd',
  dockerForeignLayer: 'application/vnd.docker.image.rootfs.foreign.diff.tar.gzip',
  ociManifest: 'application/vnd.oci.image.manifest.v1+json',
  ociIndex: 'application/vnd.oci.image.index.v1+json',
  ociConfig: 'application/vnd.oci.image.config.v1+json',
  ociLayer: 'application/vnd.oci.image.layer.v1.tar',
  ociLayerGzip: 'application/vnd.oci.image.layer.v1.tar+gzip',
  ociLayerZstd: 'application/vnd.oci.image.layer.v1.tar+zstd',
} as const;

export const MANIFEST_TYPES: readonly string[] = [MT.dockerManifest, MT.dockerList, MT.ociManifest, MT.ociIndex];
export const INDEX_TYPES: readonly string[] = [MT.dockerList, MT.ociIndex];
/** The Accept header a client sends for a manifest (every kind this code understands). */
export const MANIFEST_ACCEPT = MANIFEST_TYPES.join(', ');

export interface Platform {
  architecture: string;
  os: string;
  variant?: string;
  'os.version'?: string;
  'os.features'?: string[];
}

export interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
  urls?: string[];
  annotations?: Record<string, string>;
  platform?: Platform;
  artifactType?: string;
}

export interface ImageManifest {
  schemaVersion: 2;
  mediaType?: string;
  artifactType?: string;
  config: Descriptor;
  layers: Descriptor[];
  subject?: Descriptor;
  annotations?: Record<string, string>;
}

export interface ImageIndex {
  schemaVersion: 2;
  mediaType?: string;
  artifactType?: string;
  manifests: Descriptor[];
  subject?: Descriptor;
  annotations?: Record<string, string>;
}

export type ParsedManifest =
  | { kind: 'image'; mediaType: string; manifest: ImageManifest }
  | { kind: 'index'; mediaType: string; manifest: ImageIndex };

/** Why a manifest is refused; `code` is the distribution error code the server answers with. */
export class ManifestError extends Error {
  constructor(readonly code: 'MANIFEST_INVALID' | 'MANIFEST_UNSUPPORTED', message: string) {
    super(message);
    this.name = 'ManifestError';
  }
}

const DIGEST = /^sha256:[a-f0-9]{64}$|^sha512:[a-f0-9]{128}$/;

export function isDigestString(s: string): boolean { return DIGEST.test(s); }

function descriptor(v: unknown, where: string): Descriptor {
  const d = v as Partial<Descriptor> | null;
  if (!d || typeof d !== 'object') throw new ManifestError('MANIFEST_INVALID', `${where}: not an object`);
  if (typeof d.mediaType !== 'string' || d.mediaType === '') throw new ManifestError('MANIFEST_INVALID', `${where}: mediaType missing`);
  if (typeof d.digest !== 'string' || !DIGEST.test(d.digest)) throw new ManifestError('MANIFEST_INVALID', `${where}: invalid digest ${JSON.stringify(d.digest)}`);
  if (typeof d.size !== 'number' || !Number.isSafeInteger(d.size) || d.size < 0) throw new ManifestError('MANIFEST_INVALID', `${where}: invalid size`);
  return d as Descriptor;
}

/**
 * Parse and check a manifest body. `contentType` is the type it was sent or served with (may be empty
 * when the body names its own); a body whose `mediaType` contradicts it is refused.
 */
export function parseManifest(body: Buffer | string, contentType = ''): ParsedManifest {
  let doc: Record<string, unknown>;
  try {
    doc = JSON.parse(typeof body === 'string' ? body : body.toString('utf8')) as Record<string, unknown>;
  } catch (err) {
    throw new ManifestError('MANIFEST_INVALID', `manifest is not JSON: ${(err as Error).message}`);
  }
  if (!doc || typeof doc !== 'object' || Array.isArray(doc)) throw new ManifestError('MANIFEST_INVALID', 'manifest is not a JSON object');
  const ct = contentType.split(';')[0]!.trim().toLowerCase();
  const declared = typeof doc.mediaType === 'string' ? doc.mediaType : '';
  if (doc.schemaVersion !== 2) {
    if (doc.schemaVersion === 1) throw new ManifestError('MANIFEST_UNSUPPORTED', 'Docker image manifest v2 schema 1 is not supported');
    throw new ManifestError('MANIFEST_INVALID', 'schemaVersion must be 2');
  }
  if (declared && ct && ct !== 'application/json' && ct !== declared) {
    throw new ManifestError('MANIFEST_INVALID', `mediaType in manifest (${declared}) does not match Content-Type (${ct})`);
  }
  let mediaType = declared || (ct !== 'application/json' ? ct : '');
  if (!mediaType) mediaType = Array.isArray(doc.manifests) ? MT.ociIndex : MT.ociManifest;
  if (!MANIFEST_TYPES.includes(mediaType)) throw new ManifestError('MANIFEST_UNSUPPORTED', `unsupported manifest media type ${JSON.stringify(mediaType)}`);
  const subject = doc.subject === undefined ? {} : { subject: descriptor(doc.subject, 'subject') };
  if (doc.artifactType !== undefined && typeof doc.artifactType !== 'string') throw new ManifestError('MANIFEST_INVALID', 'artifactType must be a string');
  if (INDEX_TYPES.includes(mediaType)) {
    if (!Array.isArray(doc.manifests)) throw new ManifestError('MANIFEST_INVALID', 'index has no manifests array');
    const manifests = doc.manifests.map((m, i) => descriptor(m, `manifests[${i}]`));
    return { kind: 'index', mediaType, manifest: { ...(doc as unknown as ImageIndex), manifests, ...subject } };
  }
  const config = descriptor(doc.config, 'config');
  if (!Array.isArray(doc.layers)) throw new ManifestError('MANIFEST_INVALID', 'manifest has no layers array');
  const layers = doc.layers.map((l, i) => descriptor(l, `layers[${i}]`));
  if (mediaType === MT.dockerManifest) {
    if (config.mediaType !== MT.dockerConfig) throw new ManifestError('MANIFEST_INVALID', `config media type ${config.mediaType} in a Docker v2 manifest`);
  }
  return { kind: 'image', mediaType, manifest: { ...(doc as unknown as ImageManifest), config, layers, ...subject } };
}

/**
 * The descriptor a referrers list (OCI distribution 1.1) gives a manifest: its `artifactType`, or for an
 * image manifest without one its config's media type; its annotations.
 */
export function referrerDescriptor(p: ParsedManifest, digest: string, size: number): Descriptor {
  const artifactType = p.manifest.artifactType ?? (p.kind === 'image' ? p.manifest.config.mediaType : undefined);
  return {
    mediaType: p.mediaType, digest, size,
    ...(artifactType ? { artifactType } : {}),
    ...(p.manifest.annotations ? { annotations: p.manifest.annotations } : {}),
  };
}

/** Blobs (not manifests) an image manifest needs present: config and layers, foreign layers excepted. */
export function requiredBlobs(m: ImageManifest): Descriptor[] {
  return [m.config, ...m.layers.filter((l) => !(l.urls?.length && /foreign|nondistributable/.test(l.mediaType)))];
}

export type LayerCompression = 'gzip' | 'zstd' | 'none';

/** How a layer blob is compressed, from its media type; undefined for a type that is not a layer. */
export function layerCompression(mediaType: string): LayerCompression | undefined {
  if (mediaType === MT.dockerLayerGzip || mediaType === MT.ociLayerGzip || mediaType === MT.dockerForeignLayer) return 'gzip';
  if (mediaType === MT.ociLayer || mediaType === 'application/vnd.oci.image.layer.nondistributable.v1.tar') return 'none';
  if (mediaType === MT.ociLayerZstd || mediaType === MT.dockerLayerZstd) return 'zstd';
  if (mediaType === 'application/vnd.oci.image.layer.nondistributable.v1.tar+gzip') return 'gzip';
  return undefined;
}

export interface PlatformWanted { os: string; architecture: string; variant?: string }

/**
 * containerd's platform matching, simplified: os and architecture must match; a wanted variant must
 * match, and without one the entries are ranked (arm64 prefers v8, arm prefers v7, then no variant).
 */
export function selectPlatform(index: ImageIndex, want: PlatformWanted): Descriptor | undefined {
  const candidates = index.manifests.filter((m) => m.platform && m.platform.os === want.os && m.platform.architecture === want.architecture
    && MANIFEST_TYPES.includes(m.mediaType) && !INDEX_TYPES.includes(m.mediaType));
  if (want.variant) return candidates.find((m) => m.platform!.variant === want.variant);
  const preferred = want.architecture === 'arm64' ? ['v8', undefined] : want.architecture === 'arm' ? ['v7', 'v6', 'v5', undefined] : [undefined];
  for (const v of preferred) {
    const hit = candidates.find((m) => m.platform!.variant === v);
    if (hit) return hit;
  }
  return candidates[0];
}

/** containerd's Normalize for the variants that mean "the base": arm64/v8 and amd64/v1 are plain arm64 and amd64. */
export function normalizePlatform(p: PlatformWanted): PlatformWanted {
  const v = p.variant?.toLowerCase();
  const plain = (p.architecture === 'arm64' && (v === '8' || v === 'v8')) || (p.architecture === 'amd64' && (v === '1' || v === 'v1'));
  return { os: p.os, architecture: p.architecture, ...(v && !plain ? { variant: v } : {}) };
}

/** The variant an architecture has when none is written (containerd's normalization). */
function variantOf(p: { architecture: string; variant?: string }): string {
  if (p.variant) return p.variant;
  return p.architecture === 'arm64' ? 'v8' : p.architecture === 'arm' ? 'v7' : '';
}

/**
 * Whether an image's platform satisfies a wanted one (FROM --platform, create's ?platform): os and
 * architecture equal; a wanted variant too.
 */
export function platformMatches(want: PlatformWanted, have: { os?: string; architecture?: string; variant?: string }): boolean {
  if ((have.os || 'linux') !== want.os || have.architecture !== want.architecture) return false;
  return want.variant === undefined || variantOf(want) === variantOf({ architecture: have.architecture, ...(have.variant ? { variant: have.variant } : {}) });
}

export function platformString(p: PlatformWanted): string {
  return `${p.os}/${p.architecture}${p.variant ? `/${p.variant}` : ''}`;
}
