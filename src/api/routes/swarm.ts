import { UnavailableError } from '../../errors.js';
import type { Route } from '../server.js';

/**
 * berth has no swarm mode. These endpoints answer as a Docker that is not in a swarm (503), so the
 * docker CLI prints Docker's own error and clients' cleanup paths (which tolerate "not in a swarm")
 * work. init/join would make a swarm; berth cannot, and says so with the same status.
 */
export const NOT_MANAGER = 'This node is not a swarm manager. Use "docker swarm init" or "docker swarm join" to connect this node to swarm and try again.';
export const NOT_IN_SWARM = 'This node is not part of a swarm';
export const NO_SWARM_MODE = 'berth does not support swarm mode: this node cannot init or join a swarm';

const MANAGER_ONLY: [Route['method'], string][] = [
  ['GET', '/swarm'], ['POST', '/swarm/update'], ['GET', '/swarm/unlockkey'], ['POST', '/swarm/unlock'],
];
const COLLECTIONS = ['nodes', 'services', 'tasks', 'secrets', 'configs'];

export function swarmRoutes(): Route[] {
  const fail = (msg: string) => () => { throw new UnavailableError(msg); };
  const routes: Route[] = [
    { method: 'POST', path: '/swarm/leave', handler: fail(NOT_IN_SWARM) },
    { method: 'POST', path: '/swarm/init', handler: fail(NO_SWARM_MODE) },
    { method: 'POST', path: '/swarm/join', handler: fail(NO_SWARM_MODE) },
  ];
  for (const [method, path] of MANAGER_ONLY) routes.push({ method, path, handler: fail(NOT_MANAGER) });
  for (const c of COLLECTIONS) {
    routes.push({ method: 'GET', path: `/${c}`, handler: fail(NOT_MANAGER) });
    for (const method of ['GET', 'DELETE'] as const) routes.push({ method, path: `/${c}/{id}`, handler: fail(NOT_MANAGER) });
    if (c !== 'nodes' && c !== 'tasks') routes.push({ method: 'POST', path: `/${c}/create`, handler: fail(NOT_MANAGER) });
    if (c !== 'tasks') routes.push({ method: 'POST', path: `/${c}/{id}/update`, handler: fail(NOT_MANAGER) });
  }
  routes.push({ method: 'GET', path: '/tasks/{id}/logs', handler: fail(NOT_MANAGER) });
  routes.push({ method: 'GET', path: '/services/{id}/logs', handler: fail(NOT_MANAGER) });
  return routes;
}
