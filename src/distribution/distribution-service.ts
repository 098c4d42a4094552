import type { Readable } from 'node:stream';
import { familiarName, fullString, normalize, parseNormalized, type Reference } from '../core/reference.js';
import type { PlatformWanted } from '../core/manifest.js';
import { InvalidParameterError, NotFoundError, UnauthorizedError } from '../errors.js';
import type { ImageService } from '../services/image-service.js';
import { pushImage } from './push.js';
import { pullImage, type ProgressSink, type PullStore } from './pull.js';
import { RegistryClient, type RegistryCredentials, type RegistryEndpoint } from './registry-client.js';
import { tryEndpoints } from './registry-hosts.js';
import { filterResults, searchTarget, type SearchFilter, type SearchResult } from '../core/search.js';

/** The image service's stores as a pull sees them. */
export function pullStoreFor(images: ImageService): PullStore {
  return {
    hasBlob: (d) => images.content.has(d),
    ingest: () => images.content.ingest(),
    readBlob: (d) => images.content.createReadStream(d, 1024 * 1024) as Readable,
    deleteBlob: (d) => images.content.delete(d),
    getBlob: (d) => images.content.get(d),
    hasLayer: (c) => images.layers.has(c),
    applyLayer: async (input, parent, expectedDiffId, verified) => {
      const r = await images.layers.apply(input, parent, { expectedDiffId, verified });
      return { chainId: r.layer.chainId, created: r.created };
    },
    // Only layers this pull made and no image stands on yet (the pull failed before recording one).
    removeLayer: async (chainId) => { await images.layers.remove(chainId); },
    hasImage: (id) => images.store.get(id) !== undefined,
    addPulled: (config, rec, refs) => images.addPulled(config, rec, refs),
  };
}

/** Where a registry's requests go (RegistryHosts: mirrors, insecure registries, certs.d). */
export interface EndpointResolver {
  pullEndpoints(domain: string): Promise<RegistryEndpoint[]>;
  pushEndpoints(domain: string): Promise<RegistryEndpoint[]>;
}

export interface DistributionDeps {
  images: ImageService;
  hosts: EndpointResolver;
  /** daemon.json max-concurrent-downloads and max-download-attempts (dockerd's 3 and 5 by default). */
  maxConcurrentDownloads?: number;
  maxDownloadAttempts?: number;
}

/** X-Registry-Auth as the docker CLI sends it: base64url JSON of an AuthConfig (empty or `{}` = anonymous). */
export function decodeRegistryAuth(header: string | undefined): RegistryCredentials {
  if (!header) return {};
  let doc: Record<string, unknown>;
  try {
    doc = JSON.parse(Buffer.from(header.replace(/-/g, '+').replace(/_/g, '/'), 'base64').toString('utf8')) as Record<string, unknown>;
  } catch {
    throw new InvalidParameterError('invalid X-Registry-Auth header: not base64-encoded JSON');
  }
  if (!doc || typeof doc !== 'object') return {};
  const s = (k: string) => (typeof doc[k] === 'string' && doc[k] !== '' ? doc[k] as string : undefined);
  const out: RegistryCredentials = {};
  const u = s('username'); const p = s('password'); const it = s('identitytoken'); const rt = s('registrytoken');
  if (u) out.username = u;
  if (p) out.password = p;
  if (it) out.identitytoken = it;
  if (rt) out.registrytoken = rt;
  return out;
}

/** POST /auth's AuthConfig: credentials and the registry they are for (empty = Docker Hub). */
export interface RegistryLogin extends RegistryCredentials {
  serveraddress?: string;
}

/** The registry host of a login's server address (`https://index.docker.io/v1/` and empty mean Docker Hub). */
export function loginDomain(serverAddress: string | undefined): string {
  if (!serverAddress) return 'docker.io';
  const host = serverAddress.replace(/^https?:\/\//, '').split('/')[0]!;
  if (!host) throw new InvalidParameterError(`unable to parse server address: ${serverAddress}`);
  return ['index.docker.io', 'registry-1.docker.io', 'docker.io'].includes(host) ? 'docker.io' : host.toLowerCase();
}

/** Pull, push and login over the registry client, writing into the image service's stores. */
function searchResult(v: unknown): SearchResult {
  const r = (v && typeof v === 'object' ? v : {}) as Record<string, unknown>;
  return {
    name: String(r.name ?? ''), description: String(r.description ?? ''), star_count: Number(r.star_count ?? 0) || 0,
    is_official: r.is_official === true, is_automated: r.is_automated === true,
  };
}

export class DistributionService {
  constructor(private readonly deps: DistributionDeps) {}

  /** `fromImage` (+ `tag`) as POST /images/create takes them. */
  reference(fromImage: string, tag: string): Reference {
    const base = parseNormalized(fromImage);
    if (tag && base.tag === undefined && base.digest === undefined) {
      if (/^sha256:/.test(tag)) return normalize(`${fromImage}@${tag}`);
      return normalize(`${fromImage}:${tag}`);
    }
    return normalize(fromImage);
  }

  /** GET /images/search: the term's index (Docker Hub, or the registry it names) through the v1 search API. */
  async search(term: string, limit: number, filter: SearchFilter, credentials: RegistryCredentials): Promise<SearchResult[]> {
    if (filter.automatedOnly) return [];
    const { index, remote } = searchTarget(term);
    const endpoints = index === 'docker.io'
      ? [{ domain: index, base: 'https://index.docker.io' }]
      : await this.deps.hosts.pushEndpoints(index);
    const doc = await tryEndpoints(endpoints, (e) => new RegistryClient(e, credentials).search(remote, limit));
    const results = Array.isArray(doc.results) ? doc.results.map(searchResult) : [];
    return filterResults(results, filter);
  }

  /** One tag or digest; a name alone (`allTags`, as moby without a tag) pulls every tag the registry lists. */
  async pull(ref: Reference, opts: { platform: PlatformWanted; credentials: RegistryCredentials; signal?: AbortSignal; allTags?: boolean }, out: ProgressSink): Promise<void> {
    const signal = opts.signal ? { signal: opts.signal } : {};
    const endpoints = await this.deps.hosts.pullEndpoints(ref.domain);
    const one = (r: Reference) => tryEndpoints(endpoints, (endpoint) =>
      pullImage(pullStoreFor(this.deps.images), {
        ref: r, platform: opts.platform, credentials: opts.credentials, endpoint, ...signal,
        ...(this.deps.maxConcurrentDownloads !== undefined ? { concurrency: this.deps.maxConcurrentDownloads } : {}),
        ...(this.deps.maxDownloadAttempts !== undefined ? { attempts: this.deps.maxDownloadAttempts } : {}),
      }, out), opts.signal);
    if (!opts.allTags) { await one(ref); return; }
    const tags = await tryEndpoints(endpoints, (e) => new RegistryClient(e, opts.credentials).listTags(ref.path, opts.signal), opts.signal);
    if (tags.length === 0) throw new NotFoundError(`no tags found for ${ref.domain}/${ref.path}`);
    for (const tag of tags) await one({ domain: ref.domain, path: ref.path, tag });
  }

  /** Whether `fromImage`/`tag` name a repository only (POST /images/create without a tag: all tags). */
  isNameOnly(fromImage: string, tag: string): boolean {
    const base = parseNormalized(fromImage);
    return !tag && base.tag === undefined && base.digest === undefined;
  }

  /** POST /auth: the credentials must open the registry's /v2/ (basic, or a token from its realm). */
  async login(a: RegistryLogin): Promise<{ identityToken: string }> {
    const { serveraddress, ...creds } = a;
    const endpoints = await this.deps.hosts.pushEndpoints(loginDomain(serveraddress));
    await tryEndpoints(endpoints, async (endpoint) => {
      const status = await new RegistryClient(endpoint, creds).ping([200, 401]);
      if (status === 401) throw new UnauthorizedError(`login attempt to ${endpoint.base}/v2/ failed with status: 401 Unauthorized`);
    });
    return { identityToken: '' };
  }

  /** POST /images/{name}/push: the tag `name:tag`; no tag at all (docker push -a) pushes every local tag of the repository. */
  async push(name: string, tag: string, opts: { credentials: RegistryCredentials }, out: ProgressSink & { aux(v: unknown): Promise<void> }): Promise<void> {
    const base = parseNormalized(name);
    const images = this.deps.images;
    let tags = [tag || base.tag || ''];
    if (!tags[0]) {
      const repo = `${base.domain}/${base.path}`;
      tags = images.list().flatMap((i) => i.RepoTags).map((t) => normalize(t))
        .filter((r) => `${r.domain}/${r.path}` === repo && r.tag !== undefined).map((r) => r.tag!).sort();
      if (tags.length === 0) throw new NotFoundError(`An image does not exist locally with the tag: ${familiarName(base)}`);
    }
    // Every image is found before the stream starts: a missing one is an HTTP error.
    const todo = tags.map((t) => {
      const ref = { domain: base.domain, path: base.path, tag: t };
      return { ref, img: images.get(fullString(ref)) };
    });
    await out.status(`The push refers to repository [${base.domain}/${base.path}]`);
    const endpoints = await this.deps.hosts.pushEndpoints(base.domain);
    for (const { ref, img } of todo) {
      const config = await images.content.get(img.id);
      // Repositories of this registry the image came from or went to hold its blobs: mount from them.
      const mountFrom = [...new Set(img.repoDigests.map((r) => normalize(r)).filter((r) => r.domain === base.domain && r.path !== base.path).map((r) => r.path))];
      const digest = await tryEndpoints(endpoints, (endpoint) => pushImage({
        config, diffIds: img.config.rootfs.diff_ids, ...(img.blobs ? { blobs: img.blobs } : {}), mountFrom,
        hasBlob: (d) => images.blobs.has(d),
        blobSize: (d) => images.blobs.size(d),
        readBlob: (d) => images.blobs.read(d),
        blobHead: (d) => images.content.head(d, 8),
      }, ref, { credentials: opts.credentials, endpoint }, out));
      await images.addDigestRef(img.id, { domain: base.domain, path: base.path, digest });
    }
  }
}
