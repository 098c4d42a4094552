import { parseFilters } from '../../core/filters.js';
import { SEARCH_FILTERS, searchFilter, searchLimit, type SearchFilter, type SearchResult } from '../../core/search.js';
import { InvalidParameterError, NotImplementedError } from '../../errors.js';
import type { ImageService } from '../../services/image-service.js';
import { parsePlatform } from '../../services/image-service.js';
import type { PlatformWanted } from '../../core/manifest.js';
import type { Reference } from '../../core/reference.js';
import { decodeRegistryAuth } from '../../distribution/distribution-service.js';
import type { ProgressSink } from '../../distribution/pull.js';
import type { RegistryCredentials } from '../../distribution/registry-client.js';
import { jsonProgressResponse } from '../stream/json-progress.js';
import { boolParam, compareVersions, sendJson, sendNoContent, type Route } from '../server.js';

/** The part of ImageService these routes use. */
export type ImageBackend = Pick<ImageService, 'list' | 'inspect' | 'history' | 'tag' | 'remove' | 'importImage' | 'prune'> & { has(ref: string): boolean };

/** Pulls (the distribution service). */
export interface PullBackend {
  reference(fromImage: string, tag: string): Reference;
  push(name: string, tag: string, opts: { credentials: RegistryCredentials }, out: ProgressSink & { aux(v: unknown): Promise<void> }): Promise<void>;
  pull(ref: Reference, opts: { platform: PlatformWanted; credentials: RegistryCredentials; signal?: AbortSignal; allTags?: boolean }, out: ProgressSink): Promise<void>;
  isNameOnly(fromImage: string, tag: string): boolean;
  search(term: string, limit: number, filter: SearchFilter, credentials: RegistryCredentials): Promise<SearchResult[]>;
}

function headerValue(h: string | string[] | undefined): string | undefined {
  return Array.isArray(h) ? h[0] : h;
}

/** Engine API image routes (moby daemon/server/router/image): parse, one backend call, write. */
export function imageRoutes(svc: ImageBackend, dist?: PullBackend): Route[] {
  return [
    {
      method: 'GET', path: '/images/json',
      handler: (ctx) => {
        const filters = parseFilters(ctx.query.get('filters'));
        sendJson(ctx.res, 200, svc.list({
          all: boolParam(ctx.query, 'all'),
          filters,
          digests: boolParam(ctx.query, 'digests'),
          sharedSize: boolParam(ctx.query, 'shared-size'),
          apiVersion: ctx.apiVersion,
        }));
      },
    },
    {
      method: 'POST', path: '/images/create',
      handler: async (ctx) => {
        const q = ctx.query;
        const fromImage = q.get('fromImage');
        if (fromImage && dist) {
          const ref = dist.reference(fromImage, q.get('tag') ?? '');
          const credentials = decodeRegistryAuth(headerValue(ctx.req.headers['x-registry-auth']));
          const platform = parsePlatform(q.get('platform') ?? '');
          // The client going away cancels the pull; its partial downloads are removed.
          const ac = new AbortController();
          ctx.res.on('close', () => { if (!ctx.res.writableFinished) ac.abort(); });
          const out = jsonProgressResponse(ctx.res);
          try {
            await dist.pull(ref, { platform, credentials, signal: ac.signal, allTags: dist.isNameOnly(fromImage, q.get('tag') ?? '') }, out);
          } catch (err) {
            if (!out.started) throw err;
            await out.error(err);
          }
          await out.end();
          return;
        }
        if (fromImage) {
          // No registry client yet: an image that is here already is "up to date" (clients retry their
          // create after a pull, and then see the real error); anything else cannot be pulled.
          const tag = q.get('tag');
          const ref = tag && !fromImage.includes('@') ? `${fromImage}:${tag}` : fromImage;
          if (svc.has(ref)) {
            ctx.res.writeHead(200, { 'Content-Type': 'application/json' });
            ctx.res.end(`${JSON.stringify({ status: `Status: Image is up to date for ${ref}` })}\r\n`);
            return;
          }
          throw new NotImplementedError(`pulling images is not supported yet: cannot pull ${fromImage}; use docker import or docker load`);
        }
        const src = q.get('fromSrc') ?? '';
        if (src === '') throw new InvalidParameterError('fromImage or fromSrc is required');
        const ac = new AbortController();
        ctx.res.on('close', () => { if (!ctx.res.writableFinished) ac.abort(); });
        const out = jsonProgressResponse(ctx.res);
        try {
          const res = await svc.importImage(src === '-' ? { body: ctx.req } : { url: src, signal: ac.signal }, {
            repo: q.get('repo') ?? '',
            tag: q.get('tag') ?? '',
            changes: q.getAll('changes'),
            message: q.get('message') ?? '',
            platform: q.get('platform') ?? '',
          }, out);
          for (const w of res.warnings) await out.status(`warning: ${w}`);
          await out.status(res.id);
        } catch (err) {
          if (!out.started) throw err;
          await out.error(err);
        }
        await out.end();
      },
    },
    {
      method: 'POST', path: '/images/{name:.*}/push',
      handler: async (ctx) => {
        if (!dist) throw new NotImplementedError('pushing images is not supported by this daemon');
        const credentials = decodeRegistryAuth(headerValue(ctx.req.headers['x-registry-auth']));
        const out = jsonProgressResponse(ctx.res);
        try {
          await dist.push(ctx.params.name!, ctx.query.get('tag') ?? '', { credentials }, out);
        } catch (err) {
          if (!out.started) throw err;
          await out.error(err);
        }
        await out.end();
      },
    },
    {
      method: 'GET', path: '/images/search',
      handler: async (ctx) => {
        if (!dist) throw new NotImplementedError('searching registries is not supported by this daemon');
        const q = ctx.query;
        const filter = searchFilter(parseFilters(q.get('filters'), SEARCH_FILTERS));
        const limit = searchLimit(q.get('limit'));
        const credentials = decodeRegistryAuth(headerValue(ctx.req.headers['x-registry-auth']));
        sendJson(ctx.res, 200, await dist.search(q.get('term') ?? '', limit, filter, credentials));
      },
    },
    {
      method: 'POST', path: '/images/prune',
      handler: async (ctx) => {
        sendJson(ctx.res, 200, await svc.prune({ filters: parseFilters(ctx.query.get('filters')) }));
      },
    },
    {
      method: 'GET', path: '/images/{name:.*}/json',
      handler: (ctx) => {
        const out = svc.inspect(ctx.params.name!);
        if (compareVersions(ctx.apiVersion, '1.44') < 0) out.VirtualSize = out.Size;
        sendJson(ctx.res, 200, out);
      },
    },
    {
      method: 'GET', path: '/images/{name:.*}/history',
      handler: (ctx) => { sendJson(ctx.res, 200, svc.history(ctx.params.name!)); },
    },
    {
      method: 'POST', path: '/images/{name:.*}/tag',
      handler: async (ctx) => {
        await svc.tag(ctx.params.name!, ctx.query.get('repo') ?? '', ctx.query.get('tag') ?? '');
        sendNoContent(ctx.res, 201);
      },
    },
    {
      method: 'DELETE', path: '/images/{name:.*}',
      handler: async (ctx) => {
        sendJson(ctx.res, 200, await svc.remove(ctx.params.name!, {
          force: boolParam(ctx.query, 'force'),
          noprune: boolParam(ctx.query, 'noprune'),
        }));
      },
    },
  ];
}
