import type { CreateVolumeRequest, VolumeService } from '../../services/volumes/volume-service.js';
import { boolParam, compareVersions, sendJson, sendNoContent, type Route } from '../server.js';

/** What the volume routes need (moby router/volume/backend.go in spirit). */
export type VolumeBackend = Pick<VolumeService, 'create' | 'list' | 'inspect' | 'remove' | 'prune'>;

/** Engine API /volumes (moby daemon/server/router/volume): parse, one backend call, write. */
export function volumeRoutes(vols: VolumeBackend): Route[] {
  return [
    { method: 'GET', path: '/volumes', handler: async (ctx) => sendJson(ctx.res, 200, await vols.list(ctx.query.get('filters'))) },
    { method: 'POST', path: '/volumes/create', handler: async (ctx) => {
      sendJson(ctx.res, 201, await vols.create((await ctx.json<CreateVolumeRequest>()) ?? {}));
    } },
    { method: 'POST', path: '/volumes/prune', handler: async (ctx) => {
      sendJson(ctx.res, 200, await vols.prune(ctx.query.get('filters'), ctx.apiVersion, (a, b) => compareVersions(a, b) >= 0));
    } },
    { method: 'GET', path: '/volumes/{name}', handler: async (ctx) => sendJson(ctx.res, 200, await vols.inspect(ctx.params.name!)) },
    { method: 'DELETE', path: '/volumes/{name}', handler: async (ctx) => {
      await vols.remove(ctx.params.name!, boolParam(ctx.query, 'force'));
      sendNoContent(ctx.res);
    } },
  ];
}
