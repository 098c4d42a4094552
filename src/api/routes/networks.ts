import type { ContainerNetInfo, CreateNetworkRequest } from '../../network/network-service.js';
import { InvalidParameterError } from '../../errors.js';
import { boolParam, sendJson, type Route } from '../server.js';

type EndpointCfg = { Aliases?: string[] | null; IPAMConfig?: { IPv4Address?: string } | null } | null;

/** What the network routes need (moby router/network/backend.go in spirit). */
export interface NetworkBackend {
  list(filters?: string | null): Array<Record<string, unknown>>;
  inspect(ref: string): Record<string, unknown>;
  create(req: CreateNetworkRequest): Promise<{ Id: string; Warning: string }>;
  remove(ref: string): Promise<void>;
  prune(filters?: string | null): Promise<{ NetworksDeleted: string[] }>;
  connect(netRef: string, c: ContainerNetInfo, cfg?: EndpointCfg): Promise<unknown>;
  disconnect(netRef: string, c: ContainerNetInfo, force?: boolean): Promise<void>;
}

/** Resolves a container reference (name, id, prefix) for connect/disconnect; throws NotFound as the container service does. */
export type ContainerNetLookup = (ref: string) => ContainerNetInfo;

export function networkRoutes(nets: NetworkBackend, lookup: ContainerNetLookup): Route[] {
  return [
    { method: 'GET', path: '/networks', handler: (ctx) => sendJson(ctx.res, 200, nets.list(ctx.query.get('filters'))) },
    { method: 'GET', path: '/networks/{id}', handler: (ctx) => sendJson(ctx.res, 200, nets.inspect(ctx.params.id!)) },
    { method: 'POST', path: '/networks/create', handler: async (ctx) => {
      const body = await ctx.json<CreateNetworkRequest>();
      if (!body || typeof body !== 'object') throw new InvalidParameterError('network name is required');
      sendJson(ctx.res, 201, await nets.create(body));
    } },
    { method: 'DELETE', path: '/networks/{id}', handler: async (ctx) => {
      await nets.remove(ctx.params.id!);
      ctx.res.writeHead(204);
      ctx.res.end();
    } },
    { method: 'POST', path: '/networks/prune', handler: async (ctx) => sendJson(ctx.res, 200, await nets.prune(ctx.query.get('filters'))) },
    { method: 'POST', path: '/networks/{id}/connect', handler: async (ctx) => {
      const body = await ctx.json<{ Container?: string; EndpointConfig?: EndpointCfg }>();
      if (!body?.Container) throw new InvalidParameterError('no container specified');
      await nets.connect(ctx.params.id!, lookup(body.Container), body.EndpointConfig ?? null);
      ctx.res.writeHead(200);
      ctx.res.end();
    } },
    { method: 'POST', path: '/networks/{id}/disconnect', handler: async (ctx) => {
      const body = await ctx.json<{ Container?: string; Force?: boolean }>();
      if (!body?.Container) throw new InvalidParameterError('no container specified');
      await nets.disconnect(ctx.params.id!, lookup(body.Container), !!body.Force || boolParam(ctx.query, 'force'));
      ctx.res.writeHead(200);
      ctx.res.end();
    } },
  ];
}
