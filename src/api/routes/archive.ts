import type { ArchiveService } from '../../services/archive-service.js';
import { boolParam, type Route } from '../server.js';

/** The part of ArchiveService these routes use. */
export type ArchiveBackend = Pick<ArchiveService, 'stat' | 'archive' | 'extract' | 'export'>;

const STAT_HEADER = 'X-Docker-Container-Path-Stat';

function statHeader(stat: unknown): string { return Buffer.from(JSON.stringify(stat)).toString('base64'); }

/** HEAD/GET/PUT /containers/{id}/archive (moby's container router, copy.go) and GET /containers/{id}/export. */
export function archiveRoutes(svc: ArchiveBackend): Route[] {
  return [
    {
      method: 'HEAD', path: '/containers/{id}/archive',
      handler: async (ctx) => {
        const stat = await svc.stat(ctx.params.id!, ctx.query.get('path') ?? '');
        ctx.res.writeHead(200, { [STAT_HEADER]: statHeader(stat) });
        ctx.res.end();
      },
    },
    {
      method: 'GET', path: '/containers/{id}/archive',
      handler: async (ctx) => {
        await svc.archive(ctx.params.id!, ctx.query.get('path') ?? '', (stat) => {
          ctx.res.writeHead(200, { [STAT_HEADER]: statHeader(stat), 'Content-Type': 'application/x-tar' });
          return ctx.res;
        });
        // after the service has released the container's filesystem (see packPath)
        ctx.res.end();
      },
    },
    {
      method: 'GET', path: '/containers/{id}/export',
      handler: async (ctx) => {
        await svc.export(ctx.params.id!, () => {
          ctx.res.writeHead(200, { 'Content-Type': 'application/x-tar' });
          return ctx.res;
        });
        ctx.res.end();
      },
    },
    {
      method: 'PUT', path: '/containers/{id}/archive',
      handler: async (ctx) => {
        const q = ctx.query;
        await svc.extract(ctx.params.id!, q.get('path') ?? '', ctx.req, {
          noOverwriteDirNonDir: boolParam(q, 'noOverwriteDirNonDir'),
          copyUIDGID: boolParam(q, 'copyUIDGID'),
        });
        ctx.res.writeHead(200);
        ctx.res.end();
      },
    },
  ];
}
