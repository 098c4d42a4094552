// GET /containers/{id}/stats and /containers/{id}/top: thin handlers over the backend they declare.
import type { StatsStream } from '../../services/stats-service.js';
import { boolParam, sendJson, type Route } from '../server.js';
import { sendJsonLines } from '../stream/json-lines.js';

/** What the stats routes need (StatsService satisfies it). */
export interface StatsBackend {
  /** one object now: the lookup's 404 comes before any header goes out */
  snapshot(ref: string): unknown;
  /** resolves 'removed' when the container went away while streaming */
  stats(ref: string, opts: { stream: boolean; oneShot: boolean }, out: StatsStream): Promise<'removed' | void>;
  top(ref: string, psArgs: string | undefined): Promise<{ Titles: string[]; Processes: string[][] }>;
}

export function statsRoutes(svc: StatsBackend): Route[] {
  return [
    { method: 'GET', path: '/containers/{id}/stats', handler: async (ctx) => {
      const stream = boolParam(ctx.query, 'stream', true);
      const oneShot = boolParam(ctx.query, 'one-shot');
      svc.snapshot(ctx.params.id!);
      await sendJsonLines(ctx.res, stream, (out) => svc.stats(ctx.params.id!, { stream, oneShot }, out));
    } },
    { method: 'GET', path: '/containers/{id}/top', handler: async (ctx) => {
      sendJson(ctx.res, 200, await svc.top(ctx.params.id!, ctx.query.get('ps_args') ?? undefined));
    } },
  ];
}
