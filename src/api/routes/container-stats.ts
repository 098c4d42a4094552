import type { StatsService } from '../../services/stats-service.js';
import { boolParam, sendJson, type Route } from '../server.js';

/** GET /containers/{id}/stats and /containers/{id}/top. */
export function statsRoutes(svc: StatsService): Route[] {
  return [
    { method: 'GET', path: '/containers/{id}/stats', handler: async (ctx) => {
      const stream = boolParam(ctx.query, 'stream', true);
      const oneShot = boolParam(ctx.query, 'one-shot');
      svc.snapshot(ctx.params.id!); // 404 before any header goes out
      const res = ctx.res;
      res.writeHead(200, { 'Content-Type': 'application/json' });
      if (stream) res.flushHeaders();
      let closed = false;
      res.on('close', () => { closed = true; });
      await svc.stats(ctx.params.id!, { stream, oneShot }, {
        write: (doc) => { if (closed) return false; res.write(`${JSON.stringify(doc)}\n`); return true; },
        closed: () => closed || res.destroyed,
      });
      res.end();
    } },
    { method: 'GET', path: '/containers/{id}/top', handler: async (ctx) => {
      sendJson(ctx.res, 200, await svc.top(ctx.params.id!, ctx.query.get('ps_args') ?? undefined));
    } },
  ];
}
