import path from 'node:path';

/**
 * The only place `berth registry` builds paths under its root (pure). Blobs are berth's content store
 * (content-addressed, verified, published by rename); repositories hold only links to them:
 *
 *   <root>/content/blobs/sha256/<hex>                           every blob and manifest, once
 *   <root>/content/ingest/<ref>                                 uploads in progress, never visible as blobs
 *   <root>/servers/<pid>                                        a running `serve` ({"readOnly"}), for garbage-collect
 *   <root>/repositories/<name>/_layers/sha256/<hex>             this repository may serve blob <hex>
 *   <root>/repositories/<name>/_manifests/revisions/sha256/<hex>  a manifest of this repository ({"mediaType"})
 *   <root>/repositories/<name>/_manifests/tags/<tag>            the digest the tag points at
 *   <root>/repositories/<name>/_manifests/referrers/sha256/<subject>/sha256/<hex>
 *                                                     manifest <hex> has subject <subject> (its referrer descriptor)
 *
 * `<name>` is a validated repository name (lower-case path components), so it never holds `..`.
 */
export class RepoPaths {
  constructor(readonly root: string) {}

  get repositories(): string { return path.join(this.root, 'repositories'); }
  get blobsDir(): string { return path.join(this.root, 'content', 'blobs', 'sha256'); }
  get serversDir(): string { return path.join(this.root, 'servers'); }
  server(pid: number): string { return path.join(this.serversDir, String(pid)); }
  layersDir(name: string): string { return path.join(this.repo(name), '_layers', 'sha256'); }
  repo(name: string): string { return path.join(this.root, 'repositories', ...name.split('/')); }
  layerLink(name: string, digest: string): string { return path.join(this.repo(name), '_layers', ...digestParts(digest)); }
  revisionsDir(name: string): string { return path.join(this.repo(name), '_manifests', 'revisions', 'sha256'); }
  revision(name: string, digest: string): string { return path.join(this.repo(name), '_manifests', 'revisions', ...digestParts(digest)); }
  referrersDir(name: string, subject: string): string { return path.join(this.repo(name), '_manifests', 'referrers', ...digestParts(subject)); }
  referrer(name: string, subject: string, digest: string): string { return path.join(this.referrersDir(name, subject), ...digestParts(digest)); }
  tagsDir(name: string): string { return path.join(this.repo(name), '_manifests', 'tags'); }
  tag(name: string, tag: string): string { return path.join(this.tagsDir(name), tag); }
}

function digestParts(digest: string): [string, string] {
  const i = digest.indexOf(':');
  return [digest.slice(0, i), digest.slice(i + 1)];
}

const COMPONENT = '[a-z0-9]+(?:(?:[._]|__|[-]+)[a-z0-9]+)*';
export const REPO_NAME = `${COMPONENT}(?:/${COMPONENT})*`;
const NAME_RE = new RegExp(`^${REPO_NAME}$`);
const TAG_RE = /^[\w][\w.-]{0,127}$/;

export function isRepoName(s: string): boolean { return s.length <= 255 && NAME_RE.test(s); }
export function isTag(s: string): boolean { return TAG_RE.test(s); }
