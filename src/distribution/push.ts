import { createHash } from 'node:crypto';
import type { Readable } from 'node:stream';
import { Transform } from 'node:stream';
import { MT, type Descriptor } from '../core/manifest.js';
import type { Reference } from '../core/reference.js';
import { InvalidParameterError } from '../errors.js';
import { blobCompression } from '../store/layers/decompress.js';
import { RegistryClient, type RegistryCredentials, type RegistryEndpoint } from './registry-client.js';
import type { ProgressSink } from './pull.js';

/** What a push reads: the image's config and, per layer, the blob kept for it. */
export interface PushSource {
  config: Buffer;
  diffIds: string[];
  /** Per layer: the registry's compressed blob (pull) or undefined. */
  blobs?: string[];
  hasBlob(digest: string): Promise<boolean>;
  blobSize(digest: string): Promise<number>;
  readBlob(digest: string): Readable;
  /** The first bytes of a blob (its compression's magic). */
  blobHead(digest: string): Promise<Buffer>;
  /** Repositories of the same registry that hold this image's blobs (its RepoDigests there), to mount from. */
  mountFrom?: string[];
}

/** dockerd's limit on mount attempts per layer. */
const MAX_MOUNTS = 3;

const LAYER_TYPE = { gzip: MT.ociLayerGzip, zstd: MT.ociLayerZstd, none: MT.ociLayer } as const;

const short = (d: string) => d.slice(d.indexOf(':') + 1, d.indexOf(':') + 13);

/**
 * docker push of one tag: each layer blob is checked with HEAD; one the registry lacks is mounted from
 * another repository of the registry that has it (dockerd's cross-repository mount, up to 3 tries) or
 * uploaded (PATCH + PUT, as docker's client), then the config, then an OCI manifest under the tag. Layers are the pulled blobs (gzip or zstd, as pulled) where
 * kept, otherwise the uncompressed layer tars (digest = diffID).
 */
export async function pushImage(src: PushSource, ref: Reference & { tag: string }, opts: { credentials?: RegistryCredentials; endpoint: RegistryEndpoint }, out: ProgressSink & { aux(v: unknown): Promise<void> }): Promise<string> {
  const client = new RegistryClient(opts.endpoint, opts.credentials ?? {});
  const repo = ref.path;
  const layers: Descriptor[] = [];
  for (let i = 0; i < src.diffIds.length; i++) {
    const gz = src.blobs?.[i];
    if (gz && await src.hasBlob(gz)) {
      // The pulled blob goes as it came: its media type follows its bytes (gzip, zstd or a plain tar).
      const mediaType = LAYER_TYPE[blobCompression(await src.blobHead(gz))];
      layers.push({ mediaType, digest: gz, size: await src.blobSize(gz) });
      continue;
    }
    const tar = src.diffIds[i]!;
    if (!(await src.hasBlob(tar))) throw new InvalidParameterError(`layer ${tar} has no blob to push (its tar was not kept)`);
    layers.push({ mediaType: MT.ociLayer, digest: tar, size: await src.blobSize(tar) });
  }
  for (const l of layers) await out.status('Preparing', short(l.digest));
  const scope = `repository:${repo}:pull,push`;
  for (const l of [...layers].reverse()) {
    const id = short(l.digest);
    if ((await client.statBlob(repo, l.digest, scope)) === l.size) { await out.status('Layer already exists', id); continue; }
    let session: string | undefined;
    let mountedFrom: string | undefined;
    for (const from of (src.mountFrom ?? []).filter((r) => r !== repo).slice(0, MAX_MOUNTS)) {
      const m = await client.startUpload(repo, { digest: l.digest, from });
      if (m.mounted) { mountedFrom = from; break; }
      // The registry could not mount from there and opened a session instead: keep one, drop the rest.
      if (session) await client.cancelUpload(repo, session);
      session = m.location;
    }
    if (mountedFrom) { await out.status(`Mounted from ${mountedFrom}`, id); continue; }
    let sent = 0;
    await client.uploadBlob(repo, l.digest, l.size, () => {
      const counter = new Transform({ transform(c: Buffer, _e, cb) { sent += c.length; out.progress(id, 'Pushing', sent, l.size); cb(null, c); } });
      const s = src.readBlob(l.digest);
      s.on('error', (err) => counter.destroy(err));
      return s.pipe(counter);
    }, session);
    await out.status('Pushed', id);
  }
  const configDigest = `sha256:${createHash('sha256').update(src.config).digest('hex')}`;
  if ((await client.statBlob(repo, configDigest, scope)) === undefined) {
    await client.uploadBlob(repo, configDigest, src.config.length, () => src.readBlob(configDigest));
  }
  const manifest = Buffer.from(JSON.stringify({
    schemaVersion: 2, mediaType: MT.ociManifest,
    config: { mediaType: MT.ociConfig, digest: configDigest, size: src.config.length },
    layers,
  }));
  await client.putManifest(repo, ref.tag, MT.ociManifest, manifest);
  const digest = `sha256:${createHash('sha256').update(manifest).digest('hex')}`;
  await out.status(`${ref.tag}: digest: ${digest} size: ${manifest.length}`);
  await out.aux({ Tag: ref.tag, Digest: digest, Size: manifest.length });
  return digest;
}
