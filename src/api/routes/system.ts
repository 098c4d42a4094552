import { parseFilters, parseTimestamp } from '../../core/filters.js';
import { InvalidParameterError } from '../../errors.js';
import { DISK_USAGE_OBJECTS, type DiskUsageObject, type DiskUsageService } from '../../services/disk-usage.js';
import { matchEvent, type EventBus, type EventMessage } from '../../services/events.js';
import { compareVersions, sendJson, type Route } from '../server.js';
import { sendJsonLines } from '../stream/json-lines.js';

export interface SystemBackend {
  version(): Record<string, unknown>;
  info(): Promise<Record<string, unknown>>;
}

/** `system df`. */
export type DiskUsageBackend = Pick<DiskUsageService, 'diskUsage'>;

/** moby getDiskUsage: every kind before API 1.42 or without `type`, else the ones named. */
function diskUsageKinds(types: string[], apiVersion: string): Set<DiskUsageObject> {
  if (types.length === 0 || compareVersions(apiVersion, '1.42') < 0) return new Set(DISK_USAGE_OBJECTS);
  const out = new Set<DiskUsageObject>();
  for (const t of types) {
    if (!(DISK_USAGE_OBJECTS as readonly string[]).includes(t)) throw new InvalidParameterError(`unknown object type: ${t}`);
    out.add(t as DiskUsageObject);
  }
  return out;
}

export function systemRoutes(sys: SystemBackend, events: EventBus, df?: DiskUsageBackend): Route[] {
  const ping = (head: boolean) => (ctx: { res: import('node:http').ServerResponse }) => {
    ctx.res.writeHead(200, {
      'Content-Type': 'text/plain; charset=utf-8', 'Cache-Control': 'no-cache, no-store, must-revalidate', Pragma: 'no-cache',
      'Builder-Version': '1', 'Content-Length': 2,
    });
    ctx.res.end(head ? undefined : 'OK');
  };
  return [
    { method: 'GET', path: '/_ping', handler: ping(false) },
    { method: 'HEAD', path: '/_ping', handler: ping(true) },
    { method: 'GET', path: '/version', handler: (ctx) => sendJson(ctx.res, 200, sys.version()) },
    { method: 'GET', path: '/info', handler: async (ctx) => sendJson(ctx.res, 200, await sys.info()) },
    ...(df ? [{ method: 'GET', path: '/system/df', handler: async (ctx) => {
      sendJson(ctx.res, 200, await df.diskUsage(diskUsageKinds(ctx.query.getAll('type'), ctx.apiVersion), ctx.apiVersion));
    } } satisfies Route] : []),
    { method: 'GET', path: '/events', handler: async (ctx) => {
      const q = ctx.query;
      const f = parseFilters(q.get('filters'));
      const now = Date.now();
      const since = q.get('since') ? parseTimestamp(q.get('since')!, now) : undefined;
      const until = q.get('until') ? parseTimestamp(q.get('until')!, now) : undefined;
      // one write per event, none for a client too far behind (json-lines.ts): it cannot hold berthd's memory
      await sendJsonLines(ctx.res, true, async (out) => {
        const send = (ev: EventMessage) => { if (matchEvent(ev, f)) out.write(ev); };
        if (since !== undefined) for (const ev of events.since(since, until ?? now)) send(ev);
        if (until !== undefined && until <= Date.now()) return;
        await new Promise<void>((resolve) => {
          const unsubscribe = events.subscribe((ev) => {
            if (until !== undefined && ev.timeNano / 1e6 > until) return;
            send(ev);
          });
          let timer: NodeJS.Timeout | undefined;
          const finish = () => { unsubscribe(); if (timer) clearTimeout(timer); resolve(); };
          if (until !== undefined) timer = setTimeout(finish, until - Date.now());
          ctx.res.on('close', finish);
        });
      });
    } },
  ];
}
