import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { LoadOutput } from '../../services/image-archive.js';
import { jsonProgressResponse } from '../stream/json-progress.js';
import { boolParam, type Route, type RouteContext } from '../server.js';

/** docker save / docker load (the image archive service). */
export interface ImageArchiveBackend {
  save(names: string[]): Promise<Readable>;
  load(input: Readable, quiet: boolean, out: LoadOutput): Promise<void>;
}

/** GET /images/get, GET /images/{name}/get, POST /images/load (moby's image router). */
export function imageArchiveRoutes(svc: ImageArchiveBackend): Route[] {
  const save = async (ctx: RouteContext, names: string[]) => {
    // Names resolve and layers are made ready before the 200: a missing image is an HTTP error.
    const tar = await svc.save(names);
    ctx.res.writeHead(200, { 'Content-Type': 'application/x-tar' });
    // A failure mid-stream cuts the connection: a truncated tar must not look complete.
    await pipeline(tar, ctx.res).catch(() => { ctx.res.destroy(); });
  };
  return [
    { method: 'GET', path: '/images/get', handler: (ctx) => save(ctx, ctx.query.getAll('names')) },
    { method: 'GET', path: '/images/{name:.*}/get', handler: (ctx) => save(ctx, [ctx.params.name!]) },
    {
      method: 'POST', path: '/images/load',
      handler: async (ctx) => {
        // As moby: every outcome is a 200 JSON-message stream, errors in-band.
        const out = jsonProgressResponse(ctx.res);
        try {
          await svc.load(ctx.req, boolParam(ctx.query, 'quiet', true), {
            progress: (id, status, current, total) => out.progress(id, status, current, total),
            stream: (text) => out.send({ stream: text }),
          });
        } catch (err) {
          await out.error(err);
        }
        await out.end();
      },
    },
  ];
}
