import { InvalidParameterError } from '../../errors.js';
import type { BuildService } from '../../services/build-service.js';
import { parseFilters } from '../../core/filters.js';
import { boolParam, intParam, sendJson, type Route } from '../server.js';
import { jsonProgressResponse } from '../stream/json-progress.js';

export type BuildBackend = Pick<BuildService, 'build' | 'prune'>;

function jsonParam<T>(q: URLSearchParams, name: string): T | undefined {
  const v = q.get(name);
  if (v === null || v === '') return undefined;
  try { return JSON.parse(v) as T; } catch { throw new InvalidParameterError(`invalid ${name} parameter: ${v}`); }
}

/** POST /build (moby's build router): the classic builder's JSON-message stream. */
export function buildRoutes(svc: BuildBackend): Route[] {
  return [{
    method: 'POST', path: '/build/prune',
    handler: async (ctx) => {
      const q = ctx.query;
      // Size targets (keep the newest N bytes) are not implemented: refused rather than ignored.
      for (const p of ['keep-storage', 'reserved-space', 'max-used-space', 'min-free-space']) {
        if ((intParam(q, p) ?? 0) !== 0) throw new InvalidParameterError(`${p} is not supported by this builder's cache prune`);
      }
      sendJson(ctx.res, 200, await svc.prune({ all: boolParam(q, 'all'), filters: parseFilters(q.get('filters')) }));
    },
  }, {
    method: 'POST', path: '/build',
    handler: async (ctx) => {
      const q = ctx.query;
      if (boolParam(q, 'squash')) throw new InvalidParameterError('squash is not supported by this builder');
      if (boolParam(q, 'pull')) throw new InvalidParameterError('pull is not supported by this builder yet: pull the base image first');
      const cacheFrom = jsonParam<string[]>(q, 'cachefrom') ?? [];
      if (cacheFrom.length) throw new InvalidParameterError('cache-from is not supported by this builder yet');
      const platform = q.get('platform') ?? '';
      if (platform && !/^linux(\/(amd64|x86_64))?$/i.test(platform)) throw new InvalidParameterError(`platform ${platform} is not supported: this builder builds for the host (linux/amd64)`);
      if ((q.get('remote') ?? '') !== '') throw new InvalidParameterError('remote build contexts are not supported yet: send the context as a tar');
      const version = q.get('version') ?? '1';
      if (version === '2') throw new InvalidParameterError('BuildKit (version=2) is not supported: use the classic builder (DOCKER_BUILDKIT=0)');
      const hostConfig: Record<string, unknown> = {};
      const nm = q.get('networkmode');
      if (nm && nm !== 'default') hostConfig.NetworkMode = nm;
      const hosts = q.getAll('extrahosts').flatMap((h) => h.split(',')).filter(Boolean);
      if (hosts.length) hostConfig.ExtraHosts = hosts;
      for (const [param, field] of [['shmsize', 'ShmSize'], ['memory', 'Memory'], ['memswap', 'MemorySwap'], ['cpushares', 'CpuShares'], ['cpuperiod', 'CpuPeriod'], ['cpuquota', 'CpuQuota']] as const) {
        const n = intParam(q, param);
        if (n) hostConfig[field] = n;
      }
      for (const [param, field] of [['cpusetcpus', 'CpusetCpus'], ['cpusetmems', 'CpusetMems']] as const) {
        const v = q.get(param);
        if (v) hostConfig[field] = v;
      }
      const quiet = boolParam(q, 'q');
      const out = jsonProgressResponse(ctx.res);
      const abort = new AbortController();
      ctx.res.on('close', () => { if (!ctx.res.writableFinished) abort.abort(); });
      const output = {
        get cancelled() { return abort.signal.aborted; },
        signal: abort.signal,
        stream: async (text: string) => { if (!quiet) await out.send({ stream: text }); },
        aux: async (value: unknown) => { await out.aux(value); },
        progress: (status: string, current: number, total: number | undefined, last: boolean) => { if (!quiet) out.progress('', status, current, total, last); },
      };
      try {
        const id = await svc.build(ctx.req, {
          dockerfile: q.get('dockerfile') ?? 'Dockerfile',
          tags: q.getAll('t').filter(Boolean),
          buildArgs: jsonParam<Record<string, string | null>>(q, 'buildargs') ?? {},
          ...(q.get('target') ? { target: q.get('target')! } : {}),
          noCache: boolParam(q, 'nocache'),
          labels: jsonParam<Record<string, string>>(q, 'labels') ?? {},
          rm: boolParam(q, 'rm', true),
          forceRm: boolParam(q, 'forcerm'),
          hostConfig,
          ...(platform ? { platform } : {}),
        }, output);
        if (quiet) await out.send({ stream: `${id}\n` });
      } catch (err) {
        // Nothing sent yet: a plain error response (400 for a bad Dockerfile) as dockerd answers.
        if (!out.started && typeof (err as { code?: unknown }).code !== 'number') throw err;
        const code = (err as { code?: unknown }).code;
        const message = (err as Error).message;
        await out.send({ errorDetail: typeof code === 'number' ? { code, message } : { message }, error: message });
      }
      await out.end();
    },
  }];
}
