import type { RegistryLogin } from '../../distribution/distribution-service.js';
import { sendJson, type Route } from '../server.js';

/** Checks credentials against a registry (the distribution service). */
export interface AuthBackend {
  login(a: RegistryLogin): Promise<{ identityToken: string }>;
}

/** POST /auth (moby's system router postAuth): docker login's credential check. */
export function authRoutes(dist: AuthBackend): Route[] {
  return [{
    method: 'POST', path: '/auth',
    handler: async (ctx) => {
      // Go decodes JSON field names case-insensitively; the docker CLI sends them in lower case.
      const body = (await ctx.json<Record<string, unknown>>()) ?? {};
      const field = (k: string): string | undefined => {
        const e = Object.entries(body).find(([n]) => n.toLowerCase() === k);
        return typeof e?.[1] === 'string' && e[1] !== '' ? e[1] : undefined;
      };
      const login: RegistryLogin = {};
      for (const k of ['username', 'password', 'serveraddress', 'identitytoken', 'registrytoken'] as const) {
        const v = field(k);
        if (v !== undefined) login[k] = v;
      }
      const r = await dist.login(login);
      sendJson(ctx.res, 200, { Status: 'Login Succeeded', IdentityToken: r.identityToken });
    },
  }];
}
