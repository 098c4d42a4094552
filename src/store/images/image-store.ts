import fsp from 'node:fs/promises';
import path from 'node:path';
import { InvalidParameterError, NotFoundError } from '../../errors.js';
import {
  fullName, fullString, isFullId, looksLikeIdPrefix, normalize, parse, type Reference,
} from '../../core/reference.js';
import type { ContentStore } from '../content/content-store.js';
import { writeFileAtomic } from '../meta/atomic.js';
import type { Paths } from '../paths.js';

import type { ImageContainerConfig } from '../../core/image-config.js';
export type { ImageContainerConfig } from '../../core/image-config.js';

export interface ImageHistoryEntry {
  created?: string;
  created_by?: string;
  author?: string;
  comment?: string;
  empty_layer?: boolean;
}

/** The image config blob (OCI image config / Docker image JSON). Its digest is the image id. */
export interface ImageConfigJson {
  architecture: string;
  variant?: string;
  os: string;
  created?: string;
  author?: string;
  comment?: string;
  docker_version?: string;
  parent?: string;
  config?: ImageContainerConfig;
  rootfs: { type: 'layers'; diff_ids: string[] };
  history?: ImageHistoryEntry[];
}

/** The local record of one image (daemon metadata, not part of the image). */
export interface ImageRecord {
  /** `sha256:<hex>` = digest of the config blob. */
  id: string;
  /** Normalized tagged references (`docker.io/library/busybox:latest`). */
  repoTags: string[];
  /** Normalized digested references (`docker.io/library/busybox@sha256:…`). */
  repoDigests: string[];
  /** chainID of the top layer; absent for an image with no layers. */
  topLayer?: string;
  /** Local parent image id (commit/build), if any. */
  parent?: string;
  lastTagTime?: string;
  /** When this daemon stored it (for `until`/ordering when the config has no `created`). */
  stored: string;
  /** Layer blobs as a registry served them (pull): kept for push, removed with the last image using them. */
  blobs?: string[];
}

const ID_RE = /^sha256:[a-f0-9]{64}$/;

/**
 * Image records persisted one file per image (images/<hex>.json, written atomically), config
 * blobs in the content store, and in-memory indexes by id, tag and digest.
 */
export class ImageStore {
  private readonly images = new Map<string, ImageRecord>();
  private readonly configs = new Map<string, ImageConfigJson>();
  private readonly byRef = new Map<string, string>();

  constructor(private readonly paths: Paths, private readonly content: ContentStore) {}

  async init(): Promise<string[]> {
    const warnings: string[] = [];
    await fsp.mkdir(this.paths.imagesDir, { recursive: true, mode: 0o700 });
    this.images.clear();
    this.configs.clear();
    this.byRef.clear();
    const recs: ImageRecord[] = [];
    for (const name of await fsp.readdir(this.paths.imagesDir)) {
      const file = path.join(this.paths.imagesDir, name);
      if (!/^[a-f0-9]{64}\.json$/.test(name)) {
        if (name.endsWith('.tmp')) await fsp.rm(file, { force: true });
        continue;
      }
      try {
        const rec = JSON.parse(await fsp.readFile(file, 'utf8')) as ImageRecord;
        if (!ID_RE.test(rec.id) || `${rec.id.slice(7)}.json` !== name) throw new Error('id does not match file name');
        rec.repoTags ??= [];
        rec.repoDigests ??= [];
        recs.push(rec);
      } catch (err) {
        warnings.push(`ignoring image record ${name}: ${(err as Error).message}`);
      }
    }
    // A tag moved between two images can be on both after a crash: the newest tagging wins.
    recs.sort((a, b) => (a.lastTagTime ?? a.stored).localeCompare(b.lastTagTime ?? b.stored));
    for (const rec of recs) {
      this.images.set(rec.id, rec);
      try {
        this.configs.set(rec.id, JSON.parse((await this.content.get(rec.id)).toString('utf8')) as ImageConfigJson);
      } catch (err) {
        warnings.push(`image ${rec.id}: config blob unreadable: ${(err as Error).message}`);
      }
      for (const r of [...rec.repoTags, ...rec.repoDigests]) {
        const prev = this.byRef.get(r);
        if (prev && prev !== rec.id) {
          const old = this.images.get(prev)!;
          old.repoTags = old.repoTags.filter((t) => t !== r);
          old.repoDigests = old.repoDigests.filter((t) => t !== r);
        }
        this.byRef.set(r, rec.id);
      }
    }
    return warnings;
  }

  list(): ImageRecord[] { return [...this.images.values()]; }
  get(id: string): ImageRecord | undefined { return this.images.get(id); }

  /** The parsed config; throws NotFound when the blob is missing (corrupt store). */
  config(id: string): ImageConfigJson {
    const c = this.configs.get(id);
    if (!c) throw new NotFoundError(`image ${id}: config blob missing`);
    return c;
  }
  hasConfig(id: string): boolean { return this.configs.has(id); }

  /**
   * Find an image by full ref (`docker.io/library/busybox:latest`), familiar name (`busybox`),
   * digest ref, full id, `sha256:` id, or unambiguous id prefix. Undefined when nothing matches;
   * InvalidParameterError when `s` is neither a valid reference nor an id.
   */
  resolve(s: string): ImageRecord | undefined {
    if (ID_RE.test(s)) return this.images.get(s);
    if (isFullId(s)) return this.images.get(`sha256:${s}`);
    if (s.startsWith('sha256:')) {
      if (!looksLikeIdPrefix(s)) throw new InvalidParameterError('invalid reference format');
      return this.byPrefix(s.slice(7));
    }
    let ref: Reference | undefined;
    let parseErr: unknown;
    try { ref = normalize(s); } catch (err) { parseErr = err; }
    if (ref) {
      const id = this.byRef.get(fullString(ref));
      if (id) return this.images.get(id);
    }
    if (looksLikeIdPrefix(s)) return this.byPrefix(s);
    if (parseErr) throw parseErr;
    return undefined;
  }

  private byPrefix(prefix: string): ImageRecord | undefined {
    let found: ImageRecord | undefined;
    for (const [id, rec] of this.images) {
      if (id.startsWith(`sha256:${prefix}`)) {
        if (found) return undefined; // ambiguous: Docker reports "No such image" too
        found = rec;
      }
    }
    return found;
  }

  /** Store a config blob and its record; an existing image with the same id is returned as is. */
  async create(config: Buffer, rec: Omit<ImageRecord, 'id' | 'repoTags' | 'repoDigests' | 'stored'>): Promise<{ image: ImageRecord; created: boolean }> {
    const id = await this.content.put(config);
    const existing = this.images.get(id);
    if (existing) return { image: existing, created: false };
    const image: ImageRecord = { id, repoTags: [], repoDigests: [], stored: new Date().toISOString(), ...rec };
    await this.save(image);
    this.images.set(id, image);
    this.configs.set(id, JSON.parse(config.toString('utf8')) as ImageConfigJson);
    return { image, created: true };
  }

  /** Point a tag (or digest ref) at an image; returns the id that held it before, if another. */
  async addRef(id: string, ref: Reference): Promise<string | undefined> {
    const image = this.images.get(id);
    if (!image) throw new NotFoundError(`No such image: ${id}`);
    const key = fullString(ref);
    const prev = this.byRef.get(key);
    const now = new Date().toISOString();
    const list = ref.digest !== undefined ? image.repoDigests : image.repoTags;
    if (!list.includes(key)) list.push(key);
    if (ref.digest === undefined) image.lastTagTime = now;
    // New owner first: a crash in between leaves the ref on both, and init() keeps the newest.
    await this.save(image);
    this.byRef.set(key, id);
    if (prev && prev !== id) {
      const old = this.images.get(prev);
      if (old) {
        old.repoTags = old.repoTags.filter((t) => t !== key);
        old.repoDigests = old.repoDigests.filter((t) => t !== key);
        await this.save(old);
      }
      return prev;
    }
    return undefined;
  }

  /** Remove a tag or digest ref (normalized full string); returns the image id it pointed at. */
  async removeRef(key: string): Promise<string | undefined> {
    const id = this.byRef.get(key);
    if (!id) return undefined;
    this.byRef.delete(key);
    const image = this.images.get(id);
    if (image) {
      image.repoTags = image.repoTags.filter((t) => t !== key);
      image.repoDigests = image.repoDigests.filter((t) => t !== key);
      await this.save(image);
    }
    return id;
  }

  refOwner(key: string): string | undefined { return this.byRef.get(key); }

  /** Delete the record and its config blob (refs must be removed first). */
  async delete(id: string): Promise<void> {
    const image = this.images.get(id);
    if (!image) return;
    for (const r of [...image.repoTags, ...image.repoDigests]) this.byRef.delete(r);
    this.images.delete(id);
    this.configs.delete(id);
    await fsp.rm(path.join(this.paths.imagesDir, `${id.slice(7)}.json`), { force: true });
    await this.content.delete(id);
  }

  async save(image: ImageRecord): Promise<void> {
    await writeFileAtomic(path.join(this.paths.imagesDir, `${image.id.slice(7)}.json`), JSON.stringify(image), 0o600);
  }
}

/** Repository name (without tag/digest) of a stored full reference string. */
export function refRepo(full: string): string {
  try { return fullName(parse(full)); } catch { return full; }
}
