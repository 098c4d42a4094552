import type { ContainerNetInfo, EndpointRequest } from '../../network/attachments.js';
import type { CreateNetworkRequest } from '../../network/networks.js';
import { InvalidParameterError } from '../../errors.js';
import { boolParam, sendJson, type Route, type RouteContext } from '../server.js';

type EndpointCfg = EndpointRequest | null;

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
    { method: 'POST', path: '/networks/create', handler: async (ctx) => sendJson(ctx.res, 201, await nets.create(await createBody(ctx))) },
    { method: 'DELETE', path: '/networks/{id}', handler: async (ctx) => {
      await nets.remove(ctx.params.id!);
      ctx.res.writeHead(204);
      ctx.res.end();
    } },
    { method: 'POST', path: '/networks/prune', handler: async (ctx) => sendJson(ctx.res, 200, await nets.prune(ctx.query.get('filters'))) },
    { method: 'POST', path: '/networks/{id}/connect', handler: async (ctx) => {
      const body = await containerBody<{ EndpointConfig?: EndpointCfg }>(ctx);
      await nets.connect(ctx.params.id!, lookup(body.Container), body.EndpointConfig ?? null);
      ok(ctx);
    } },
    { method: 'POST', path: '/networks/{id}/disconnect', handler: async (ctx) => {
      const body = await containerBody<{ Force?: boolean }>(ctx);
      await nets.disconnect(ctx.params.id!, lookup(body.Container), !!body.Force || boolParam(ctx.query, 'force'));
      ok(ctx);
    } },
  ];
}

async function createBody(ctx: RouteContext): Promise<CreateNetworkRequest> {
  const body = await ctx.json<CreateNetworkRequest>();
  if (!body || typeof body !== 'object') throw new InvalidParameterError('network name is required');
  return body;
}

/** connect/disconnect bodies: `Container` is required. */
async function containerBody<T>(ctx: RouteContext): Promise<T & { Container: string }> {
  const body = await ctx.json<T & { Container?: string }>();
  if (!body?.Container) throw new InvalidParameterError('no container specified');
  return body as T & { Container: string };
}

function ok(ctx: RouteContext): void {
  ctx.res.writeHead(200);
  ctx.res.end();
}
