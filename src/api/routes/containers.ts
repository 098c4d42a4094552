import type { Duplex } from 'node:stream';
import { InvalidParameterError, NotImplementedError } from '../../errors.js';
import type { CreateBody, HostConfig } from '../../core/container-config.js';
import { DetachScanner, parseDetachKeys } from '../../core/detach-keys.js';
import { parseTimestamp } from '../../core/filters.js';
import type { ContainerService } from '../../services/container-service.js';
import { streamLogs } from '../../services/logs.js';
import { boolParam, compareVersions, intParam, sendJson, sendNoContent, type Route, type RouteContext } from '../server.js';
import { muxFrame, muxHeader, STDERR, STDOUT } from '../stream/mux.js';

const STDIN_CHUNK = 32 * 1024; // conmon reads stdin records into a 32 KiB buffer and drops the rest

function streamContentType(ctx: RouteContext, tty: boolean): string {
  if (!tty && compareVersions(ctx.apiVersion, '1.42') >= 0) return 'application/vnd.docker.multiplexed-stream';
  return 'application/vnd.docker.raw-stream';
}

export function containerRoutes(svc: ContainerService): Route[] {
  return [
    { method: 'POST', path: '/containers/create', handler: async (ctx) => {
      const body = await ctx.json<CreateBody>();
      sendJson(ctx.res, 201, await svc.create(ctx.query.get('name') || undefined, body));
    } },
    { method: 'GET', path: '/containers/json', handler: (ctx) => {
      sendJson(ctx.res, 200, svc.list({
        all: boolParam(ctx.query, 'all'), limit: intParam(ctx.query, 'limit'), size: boolParam(ctx.query, 'size'),
        filters: ctx.query.get('filters'),
      }));
    } },
    { method: 'POST', path: '/containers/prune', handler: async (ctx) => {
      sendJson(ctx.res, 200, await svc.prune(ctx.query.get('filters')));
    } },
    { method: 'GET', path: '/containers/{id}/json', handler: (ctx) => {
      sendJson(ctx.res, 200, svc.inspect(ctx.params.id!, boolParam(ctx.query, 'size')));
    } },
    { method: 'POST', path: '/containers/{id}/start', handler: async (ctx) => {
      if (ctx.query.get('checkpoint')) throw new InvalidParameterError('checkpoints are not supported');
      await svc.start(ctx.params.id!);
      sendNoContent(ctx.res);
    } },
    { method: 'POST', path: '/containers/{id}/stop', handler: async (ctx) => {
      await svc.stop(ctx.params.id!, { timeout: intParam(ctx.query, 't'), signal: ctx.query.get('signal') || undefined });
      sendNoContent(ctx.res);
    } },
    { method: 'POST', path: '/containers/{id}/restart', handler: async (ctx) => {
      await svc.restart(ctx.params.id!, { timeout: intParam(ctx.query, 't'), signal: ctx.query.get('signal') || undefined });
      sendNoContent(ctx.res);
    } },
    { method: 'POST', path: '/containers/{id}/kill', handler: async (ctx) => {
      await svc.kill(ctx.params.id!, ctx.query.get('signal') || undefined);
      sendNoContent(ctx.res);
    } },
    { method: 'POST', path: '/containers/{id}/wait', handler: async (ctx) => {
      const { result } = svc.wait(ctx.params.id!, ctx.query.get('condition') ?? '');
      // Headers go out at once (as dockerd) so clients know the wait is registered.
      ctx.res.writeHead(200, { 'Content-Type': 'application/json' });
      ctx.res.flushHeaders();
      const r = await result;
      ctx.res.end(JSON.stringify({ StatusCode: r.StatusCode, Error: r.Error ?? null }));
    } },
    { method: 'DELETE', path: '/containers/{id}', handler: async (ctx) => {
      await svc.remove(ctx.params.id!, { force: boolParam(ctx.query, 'force'), volumes: boolParam(ctx.query, 'v'), link: boolParam(ctx.query, 'link') });
      sendNoContent(ctx.res);
    } },
    { method: 'POST', path: '/containers/{id}/rename', handler: async (ctx) => {
      await svc.rename(ctx.params.id!, ctx.query.get('name') ?? '');
      sendNoContent(ctx.res);
    } },
    { method: 'POST', path: '/containers/{id}/resize', handler: (ctx) => {
      svc.resize(ctx.params.id!, intParam(ctx.query, 'h') ?? 0, intParam(ctx.query, 'w') ?? 0);
      sendNoContent(ctx.res, 200);
    } },
    { method: 'POST', path: '/containers/{id}/pause', handler: async (ctx) => {
      await svc.pause(ctx.params.id!);
      sendNoContent(ctx.res);
    } },
    { method: 'POST', path: '/containers/{id}/unpause', handler: async (ctx) => {
      await svc.unpause(ctx.params.id!);
      sendNoContent(ctx.res);
    } },
    { method: 'POST', path: '/containers/{id}/update', handler: async (ctx) => {
      sendJson(ctx.res, 200, await svc.update(ctx.params.id!, await ctx.json<HostConfig>()));
    } },
    { method: 'GET', path: '/containers/{id}/logs', handler: async (ctx) => {
      const q = ctx.query;
      const rec = svc.get(ctx.params.id!);
      if (rec.HostConfig.LogConfig?.Type === 'none') {
        throw new NotImplementedError('configured logging driver does not support reading');
      }
      const stdout = boolParam(q, 'stdout'), stderr = boolParam(q, 'stderr');
      if (!stdout && !stderr) throw new InvalidParameterError('Bad parameters: you must choose at least one stream');
      const tailRaw = q.get('tail');
      const tail = tailRaw === null || tailRaw === '' || tailRaw === 'all' ? -1 : Number(tailRaw);
      if (Number.isNaN(tail)) throw new InvalidParameterError(`invalid value for "tail": ${tailRaw}`);
      const since = q.get('since');
      const until = q.get('until');
      const sinceMs = since && since !== '0' ? parseTimestamp(since) : undefined;
      const untilMs = until && until !== '0' ? parseTimestamp(until) : undefined;
      const tty = !!rec.Config.Tty;
      const res = ctx.res;
      res.writeHead(200, { 'Content-Type': streamContentType(ctx, tty) });
      res.flushHeaders();
      let closed = false;
      res.on('close', () => { closed = true; });
      // Frames are gathered and written in large chunks: one write per log line caps throughput.
      let held: Buffer[] = [];
      let heldBytes = 0;
      const out = () => {
        if (!heldBytes) return true;
        const chunk = held.length === 1 ? held[0]! : Buffer.concat(held, heldBytes);
        held = [];
        heldBytes = 0;
        return res.write(chunk);
      };
      await streamLogs(rec.LogPath, {
        stdout, stderr, sinceMs, untilMs, tail, timestamps: boolParam(q, 'timestamps'), follow: boolParam(q, 'follow'),
      }, {
        write: (stream, data) => {
          if (tty) held.push(data);
          else held.push(muxHeader(stream === 'stdout' ? STDOUT : STDERR, data.length), data);
          heldBytes += (tty ? 0 : 8) + data.length;
          return heldBytes < 256 * 1024 || out();
        },
        flush: out,
        closed: () => closed || res.destroyed,
        drain: () => new Promise((r) => { res.once('drain', r); res.once('close', r); }),
      }, () => svc.untilStopped(rec.Id));
      res.end();
    } },
    { method: 'POST', path: '/containers/{id}/attach', handler: (ctx) => attach(ctx, svc) },
  ];
}

async function attach(ctx: RouteContext, svc: ContainerService): Promise<void> {
  const q = ctx.query;
  const wantStdin = boolParam(q, 'stdin'), wantStdout = boolParam(q, 'stdout'), wantStderr = boolParam(q, 'stderr');
  const logs = boolParam(q, 'logs'), stream = boolParam(q, 'stream');
  const rec0 = svc.get(ctx.params.id!);
  const scanner = new DetachScanner(parseDetachKeys(q.get('detachKeys') ?? svc.detachKeys));
  if (!logs && !stream) throw new InvalidParameterError('Bad parameters: you must choose at least one stream');
  const { live: rec, conn } = stream ? await svc.attach(ctx.params.id!) : { live: rec0, conn: Promise.resolve(undefined) };
  const tty = !!rec.Config.Tty;
  const sock: Duplex = ctx.hijack(streamContentType(ctx, tty));
  let clientGone = false;
  sock.on('close', () => { clientGone = true; });
  sock.on('error', () => { clientGone = true; });
  const out = (s: 'stdout' | 'stderr', data: Buffer) => {
    if (clientGone) return true;
    if ((s === 'stdout' && !wantStdout) || (s === 'stderr' && !wantStderr)) return true;
    return sock.write(tty ? data : muxFrame(s === 'stdout' ? STDOUT : STDERR, data));
  };
  if (logs) {
    await streamLogs(rec.LogPath, { stdout: wantStdout, stderr: wantStderr, timestamps: false, follow: false }, {
      write: out, closed: () => clientGone, drain: () => new Promise((r) => { sock.once('drain', r); sock.once('close', r); }),
    }, () => Promise.resolve());
  }
  if (!stream) { sock.end(); return; }
  const c = await conn;
  if (!c || clientGone) {
    c?.destroy();
    sock.end();
    return;
  }
  c.on('data', (s, data) => { out(s === 1 ? 'stdout' : 'stderr', data); });
  c.on('close', () => { if (!clientGone) sock.end(); });
  sock.on('close', () => c.destroy());
  if (wantStdin) {
    let detached = false;
    sock.on('data', (chunk: Buffer) => {
      if (detached) return;
      const { forward: d, detached: now } = scanner.push(chunk);
      for (let i = 0; i < d.length; i += STDIN_CHUNK) c.write(d.subarray(i, i + STDIN_CHUNK));
      if (now) {
        // Detach: drop our connection without closing the container's stdin.
        detached = true;
        c.destroy();
        sock.end();
      }
    });
    sock.on('end', () => { if (!detached) c.end(); });
  } else {
    sock.resume();
  }
}
