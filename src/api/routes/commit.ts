import type { ContainerConfig } from '../../core/container-config.js';
import type { CommitService } from '../../services/commit-service.js';
import { boolParam, sendJson, type Route } from '../server.js';

/** The part of CommitService these routes use. */
export type CommitBackend = Pick<CommitService, 'changes' | 'commit'>;

/** GET /containers/{id}/changes and POST /commit (moby's container router): parse, one call, write. */
export function commitRoutes(svc: CommitBackend): Route[] {
  return [
    {
      method: 'GET', path: '/containers/{id}/changes',
      handler: (ctx) => { sendJson(ctx.res, 200, svc.changes(ctx.params.id!)); },
    },
    {
      method: 'POST', path: '/commit',
      handler: async (ctx) => {
        const q = ctx.query;
        const config = await ctx.json<ContainerConfig>();
        // An absent or empty pause means pause (API >= 1.13).
        const pause = (q.get('pause') ?? '') === '' ? true : boolParam(q, 'pause');
        const id = await svc.commit({
          container: q.get('container') ?? '',
          repo: q.get('repo') ?? '',
          tag: q.get('tag') ?? '',
          author: q.get('author') ?? '',
          comment: q.get('comment') ?? '',
          changes: q.getAll('changes'),
          pause,
          ...(config ? { config } : {}),
        });
        sendJson(ctx.res, 201, { Id: id });
      },
    },
  ];
}
