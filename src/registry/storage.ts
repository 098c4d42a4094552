import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { parseManifest, ManifestError, requiredBlobs, referrerDescriptor, MANIFEST_TYPES, type Descriptor, type ParsedManifest } from '../core/manifest.js';
import { ContentStore, type IngestWriter } from '../store/content/content-store.js';
import { writeFileAtomic } from '../store/meta/atomic.js';
import { Paths } from '../store/paths.js';
import { RegistryError } from './errcode.js';
import { RepoPaths } from './repo-paths.js';

/** An upload in progress: chunks go straight into a content-store ingest, hashed as they arrive. */
interface Upload {
  id: string;
  repo: string;
  writer: IngestWriter;
  started: number;
  touched: number;
  /** Serializes PATCH/PUT of one upload. */
  busy: boolean;
}

export interface StoredManifest { digest: string; mediaType: string; body: Buffer }

/** Uploads untouched this long are dropped (their ingest removed). */
const UPLOAD_TTL_MS = 60 * 60 * 1000;
export const MAX_MANIFEST_BYTES = 4 * 1024 * 1024;

/**
 * `berth registry`'s storage: blobs in berth's content store (a blob is visible only after its digest and
 * size were checked and it was renamed into place), per-repository links written atomically.
 */
export class RegistryStorage {
  readonly content: ContentStore;
  readonly paths: RepoPaths;
  private readonly uploads = new Map<string, Upload>();
  private sweeper: NodeJS.Timeout | undefined;

  constructor(root: string) {
    this.content = new ContentStore(new Paths(root, root));
    this.paths = new RepoPaths(root);
  }

  async init(): Promise<void> {
    await this.content.init();
    await fsp.mkdir(this.paths.repositories, { recursive: true, mode: 0o755 });
    this.sweeper = setInterval(() => void this.sweep(), 60_000);
    this.sweeper.unref();
  }

  async close(): Promise<void> {
    if (this.sweeper) clearInterval(this.sweeper);
    for (const u of this.uploads.values()) await u.writer.abort();
    this.uploads.clear();
  }

  private async sweep(now = Date.now()): Promise<void> {
    for (const u of [...this.uploads.values()]) {
      if (!u.busy && now - u.touched > UPLOAD_TTL_MS) {
        this.uploads.delete(u.id);
        await u.writer.abort();
      }
    }
  }

  // --- blobs -----------------------------------------------------------------------------------

  /** Size of a blob this repository may serve; BLOB_UNKNOWN otherwise. */
  async statBlob(repo: string, digest: string): Promise<number> {
    if (!(await exists(this.paths.layerLink(repo, digest))) && !(await exists(this.paths.revision(repo, digest)))) {
      throw new RegistryError('BLOB_UNKNOWN', undefined, { digest });
    }
    try {
      return await this.content.size(digest);
    } catch {
      throw new RegistryError('BLOB_UNKNOWN', undefined, { digest });
    }
  }

  blobStream(digest: string, range?: { start: number; end: number }): fs.ReadStream {
    const file = this.content.path(digest);
    return range ? fs.createReadStream(file, { start: range.start, end: range.end }) : fs.createReadStream(file);
  }

  /** Unlink a blob from a repository (the data stays until garbage collection). */
  async deleteBlob(repo: string, digest: string): Promise<void> {
    await this.statBlob(repo, digest);
    await fsp.rm(this.paths.layerLink(repo, digest), { force: true });
  }

  private async link(repo: string, digest: string): Promise<void> {
    const file = this.paths.layerLink(repo, digest);
    if (await exists(file)) return;
    await fsp.mkdir(path.dirname(file), { recursive: true });
    await writeFileAtomic(file, digest, 0o644);
  }

  /** Cross-repository mount: link an existing blob of `from` into `repo`. False when `from` lacks it. */
  async mount(repo: string, from: string, digest: string): Promise<boolean> {
    try { await this.statBlob(from, digest); } catch { return false; }
    await this.link(repo, digest);
    return true;
  }

  // --- uploads ---------------------------------------------------------------------------------

  async startUpload(repo: string): Promise<Upload> {
    const writer = await this.content.ingest();
    const now = Date.now();
    const u: Upload = { id: randomUUID(), repo, writer, started: now, touched: now, busy: false };
    this.uploads.set(u.id, u);
    return u;
  }

  upload(repo: string, id: string): Upload {
    const u = this.uploads.get(id);
    if (!u || u.repo !== repo) throw new RegistryError('BLOB_UPLOAD_UNKNOWN', undefined, { uuid: id });
    return u;
  }

  /** Append a chunk; `start` (from Content-Range) must be where the upload stands. Returns the new size. */
  async appendUpload(u: Upload, data: Readable, start?: number): Promise<number> {
    if (u.busy) throw new RegistryError('BLOB_UPLOAD_INVALID', 'another request is writing this upload');
    if (start !== undefined && start !== u.writer.bytesWritten) {
      throw new RegistryError('RANGE_INVALID', `chunk starts at ${start}, upload is at ${u.writer.bytesWritten}`);
    }
    u.busy = true;
    try {
      for await (const chunk of data) await u.writer.write(chunk as Buffer);
    } catch (err) {
      // A chunk cut short leaves the upload unusable: its bytes are unknown to the client.
      this.uploads.delete(u.id);
      await u.writer.abort();
      throw new RegistryError('BLOB_UPLOAD_INVALID', `upload interrupted: ${(err as Error).message}`);
    } finally {
      u.busy = false;
      u.touched = Date.now();
    }
    return u.writer.bytesWritten;
  }

  /** Verify the digest (and `size` when the client declared one) and publish the blob. */
  async finishUpload(u: Upload, digest: string): Promise<void> {
    if (u.busy) throw new RegistryError('BLOB_UPLOAD_INVALID', 'another request is writing this upload');
    this.uploads.delete(u.id);
    try {
      await u.writer.commit({ digest });
    } catch (err) {
      throw new RegistryError('DIGEST_INVALID', (err as Error).message, { digest });
    }
    await this.link(u.repo, digest);
  }

  async cancelUpload(u: Upload): Promise<void> {
    this.uploads.delete(u.id);
    await u.writer.abort();
  }

  // --- manifests -------------------------------------------------------------------------------

  async resolveTag(repo: string, tag: string): Promise<string> {
    try {
      return (await fsp.readFile(this.paths.tag(repo, tag), 'utf8')).trim();
    } catch {
      throw new RegistryError('MANIFEST_UNKNOWN', `manifest unknown: ${tag}`, { tag });
    }
  }

  async getManifest(repo: string, ref: string, isDigest: boolean): Promise<StoredManifest> {
    const digest = isDigest ? ref : await this.resolveTag(repo, ref);
    let meta: { mediaType?: string };
    try {
      meta = JSON.parse(await fsp.readFile(this.paths.revision(repo, digest), 'utf8')) as { mediaType?: string };
    } catch {
      throw new RegistryError('MANIFEST_UNKNOWN', `manifest unknown: ${ref}`, { digest });
    }
    const body = await this.content.get(digest).catch(() => { throw new RegistryError('MANIFEST_UNKNOWN', undefined, { digest }); });
    return { digest, mediaType: meta.mediaType ?? 'application/json', body };
  }

  /**
   * Store a manifest: parsed and checked (media type, every referenced blob or manifest present in this
   * repository with its declared size), its digest verified when the reference is one, then the blob, the
   * revision link, its referrer link when it has a `subject` (which need not exist), and the tag, in that
   * order, so a reader never finds a tag whose manifest is missing.
   */
  async putManifest(repo: string, ref: string, isDigest: boolean, body: Buffer, contentType: string): Promise<{ digest: string; subject?: string }> {
    const ct = contentType.split(';')[0]!.trim();
    if (ct && ct !== 'application/json' && !MANIFEST_TYPES.includes(ct)) {
      throw new RegistryError('MANIFEST_INVALID', `unsupported manifest media type ${JSON.stringify(ct)}`);
    }
    let parsed;
    try {
      parsed = parseManifest(body, ct);
    } catch (err) {
      if (err instanceof ManifestError) throw new RegistryError(err.code, err.message);
      throw err;
    }
    if (parsed.kind === 'image') {
      for (const d of requiredBlobs(parsed.manifest)) {
        let size: number;
        try { size = await this.statBlob(repo, d.digest); } catch {
          throw new RegistryError('MANIFEST_BLOB_UNKNOWN', `blob unknown to registry: ${d.digest}`, { digest: d.digest });
        }
        if (size !== d.size) throw new RegistryError('MANIFEST_INVALID', `blob ${d.digest} has size ${size}, manifest says ${d.size}`);
      }
    } else {
      for (const d of parsed.manifest.manifests) {
        if (!(await exists(this.paths.revision(repo, d.digest)))) {
          throw new RegistryError('MANIFEST_BLOB_UNKNOWN', `manifest unknown to registry: ${d.digest}`, { digest: d.digest });
        }
      }
    }
    const digest = await this.content.put(body, isDigest ? { digest: ref } : {}).catch((err: Error) => {
      throw new RegistryError('DIGEST_INVALID', err.message, { digest: ref });
    });
    const rev = this.paths.revision(repo, digest);
    await fsp.mkdir(path.dirname(rev), { recursive: true });
    await writeFileAtomic(rev, JSON.stringify({ mediaType: parsed.mediaType }), 0o644);
    const subject = parsed.manifest.subject?.digest;
    if (subject) {
      const link = this.paths.referrer(repo, subject, digest);
      await fsp.mkdir(path.dirname(link), { recursive: true });
      await writeFileAtomic(link, JSON.stringify(referrerDescriptor(parsed, digest, body.length)), 0o644);
    }
    if (!isDigest) {
      await fsp.mkdir(this.paths.tagsDir(repo), { recursive: true });
      await writeFileAtomic(this.paths.tag(repo, ref), digest, 0o644);
    }
    return subject ? { digest, subject } : { digest };
  }

  /** The parsed manifest of a revision of `repo`; undefined when it is gone or unreadable. */
  async readRevision(repo: string, digest: string): Promise<ParsedManifest | undefined> {
    try {
      const meta = JSON.parse(await fsp.readFile(this.paths.revision(repo, digest), 'utf8')) as { mediaType?: string };
      return parseManifest(await this.content.get(digest), meta.mediaType ?? '');
    } catch {
      return undefined;
    }
  }

  /**
   * The referrers of `subject` in `repo` (OCI distribution 1.1): descriptors of the manifests whose subject it
   * is, sorted by digest, those of a type in `artifactTypes` only when that is given. The repository must exist;
   * the subject need not.
   */
  async referrers(repo: string, subject: string, artifactTypes?: string[]): Promise<Descriptor[]> {
    if (!(await exists(this.paths.repo(repo)))) throw new RegistryError('NAME_UNKNOWN', `repository name not known to registry: ${repo}`, { name: repo });
    const dir = path.join(this.paths.referrersDir(repo, subject), 'sha256');
    let names: string[];
    try { names = await fsp.readdir(dir); } catch { return []; }
    const out: Descriptor[] = [];
    for (const hex of names.filter((n) => /^[a-f0-9]{64}$/.test(n)).sort()) {
      // A revision deleted since (or by garbage collection) drops out even if its link is left behind.
      if (!(await exists(this.paths.revision(repo, `sha256:${hex}`)))) continue;
      let d: Descriptor;
      try { d = JSON.parse(await fsp.readFile(path.join(dir, hex), 'utf8')) as Descriptor; } catch { continue; }
      if (artifactTypes && !artifactTypes.includes(d.artifactType ?? '')) continue;
      out.push(d);
    }
    return out;
  }

  /** Delete by digest (the revision and every tag on it) or by tag (the tag only). */
  async deleteManifest(repo: string, ref: string, isDigest: boolean): Promise<void> {
    if (!isDigest) {
      await this.resolveTag(repo, ref);
      await fsp.rm(this.paths.tag(repo, ref), { force: true });
      return;
    }
    if (!(await exists(this.paths.revision(repo, ref)))) throw new RegistryError('MANIFEST_UNKNOWN', undefined, { digest: ref });
    await this.removeRevision(repo, ref);
  }

  /** Drop a revision: every tag on it, its referrer link, then the revision link (the blob stays for gc). */
  async removeRevision(repo: string, digest: string): Promise<void> {
    for (const t of await this.tags(repo).catch(() => [])) {
      if ((await this.resolveTag(repo, t).catch(() => '')) === digest) await fsp.rm(this.paths.tag(repo, t), { force: true });
    }
    const subject = (await this.readRevision(repo, digest))?.manifest.subject?.digest;
    if (subject) await fsp.rm(this.paths.referrer(repo, subject, digest), { force: true });
    await fsp.rm(this.paths.revision(repo, digest), { force: true });
  }

  async tags(repo: string): Promise<string[]> {
    let names: string[];
    try {
      names = await fsp.readdir(this.paths.tagsDir(repo));
    } catch {
      if (await exists(this.paths.repo(repo))) return [];
      throw new RegistryError('NAME_UNKNOWN', `repository name not known to registry: ${repo}`, { name: repo });
    }
    return names.filter((n) => !n.startsWith('.')).sort();
  }

  /** Every repository with at least one manifest revision directory, sorted. */
  async catalog(): Promise<string[]> {
    const out: string[] = [];
    const walk = async (dir: string, prefix: string): Promise<void> => {
      let entries: fs.Dirent[];
      try { entries = await fsp.readdir(dir, { withFileTypes: true }); } catch { return; }
      for (const e of entries) {
        if (!e.isDirectory()) continue;
        if (e.name === '_manifests') { out.push(prefix); continue; }
        if (e.name.startsWith('_')) continue;
        await walk(path.join(dir, e.name), prefix ? `${prefix}/${e.name}` : e.name);
      }
    };
    await walk(this.paths.repositories, '');
    return out.filter((r) => r !== '').sort();
  }
}

async function exists(file: string): Promise<boolean> {
  try { await fsp.access(file); return true; } catch { return false; }
}
