// Writes OCI image layouts (index.json + blobs/sha256) from layer tars, for registry tests: skopeo copies
// them into a registry, berthd pulls them back. No registry or network needed.
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import zlib from 'node:zlib';

export interface LayoutImage {
  /** Uncompressed layer tars, bottom first. */
  layers: Buffer[];
  architecture?: string;
  os?: string;
  variant?: string;
  cmd?: string[];
  /** `org.opencontainers.image.ref.name` in index.json (skopeo's oci:DIR:REF). */
  ref?: string;
  /** docker media types instead of OCI ones. */
  docker?: boolean;
}

export interface WrittenImage { manifestDigest: string; configDigest: string; manifest: Buffer; config: Buffer; layerDigests: string[] }

const sha = (b: Buffer) => `sha256:${createHash('sha256').update(b).digest('hex')}`;

export function putBlob(dir: string, data: Buffer): string {
  const d = sha(data);
  const file = path.join(dir, 'blobs', 'sha256', d.slice(7));
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, data);
  return d;
}

/** The manifest, config and compressed layers of one image, as blobs in `dir` (no index entry). */
export function writeImageBlobs(dir: string, img: LayoutImage): WrittenImage {
  const gz = img.layers.map((l) => zlib.gzipSync(l, { level: 1 }));
  const config = Buffer.from(JSON.stringify({
    architecture: img.architecture ?? 'amd64', os: img.os ?? 'linux', ...(img.variant ? { variant: img.variant } : {}),
    created: '2026-12-01T00:00:00Z',
    config: { Cmd: img.cmd ?? ['/bin/sh'], Env: ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'] },
    rootfs: { type: 'layers', diff_ids: img.layers.map(sha) },
    history: img.layers.map(() => ({ created: '2026-12-01T00:00:00Z', created_by: 'test' })),
  }));
  const configDigest = putBlob(dir, config);
  const layerDigests = gz.map((g) => putBlob(dir, g));
  const manifest = Buffer.from(JSON.stringify({
    schemaVersion: 2,
    mediaType: img.docker ? 'application/vnd.docker.distribution.manifest.v2+json' : 'application/vnd.oci.image.manifest.v1+json',
    config: { mediaType: img.docker ? 'application/vnd.docker.container.image.v1+json' : 'application/vnd.oci.image.config.v1+json', digest: configDigest, size: config.length },
    layers: gz.map((g, i) => ({
      mediaType: img.docker ? 'application/vnd.docker.image.rootfs.diff.tar.gzip' : 'application/vnd.oci.image.layer.v1.tar+gzip',
      digest: layerDigests[i], size: g.length,
    })),
  }));
  return { manifestDigest: putBlob(dir, manifest), configDigest, manifest, config, layerDigests };
}

/** An OCI layout whose index.json lists each image (by ref name). */
export function writeLayout(dir: string, images: LayoutImage[]): WrittenImage[] {
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, 'oci-layout'), '{"imageLayoutVersion":"1.0.0"}');
  const out = images.map((img) => writeImageBlobs(dir, img));
  fs.writeFileSync(path.join(dir, 'index.json'), JSON.stringify({
    schemaVersion: 2, mediaType: 'application/vnd.oci.image.index.v1+json',
    manifests: out.map((w, i) => ({
      mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: w.manifestDigest, size: w.manifest.length,
      platform: { architecture: images[i]!.architecture ?? 'amd64', os: 'linux' },
      annotations: { 'org.opencontainers.image.ref.name': images[i]!.ref ?? 'latest' },
    })),
  }));
  return out;
}

/** A tiny tar holding one file, made without tar(1): 512-byte header + data + padding + two zero blocks. */
export function tarWithFile(name: string, content: Buffer | string, mode = 0o644): Buffer {
  const data = Buffer.isBuffer(content) ? content : Buffer.from(content);
  const h = Buffer.alloc(512);
  h.write(name, 0, 100);
  h.write(`${mode.toString(8).padStart(7, '0')}\0`, 100);
  h.write('0000000\0', 108);
  h.write('0000000\0', 116);
  h.write(`${data.length.toString(8).padStart(11, '0')}\0`, 124);
  h.write(`${Math.floor(Date.parse('2026-12-01') / 1000).toString(8).padStart(11, '0')}\0`, 136);
  h.write('        ', 148);
  h.write('0', 156);
  h.write('ustar\0', 257);
  h.write('00', 263);
  let sum = 0;
  for (const b of h) sum += b;
  h.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148);
  const pad = Buffer.alloc((512 - (data.length % 512)) % 512);
  return Buffer.concat([h, data, pad, Buffer.alloc(1024)]);
}
