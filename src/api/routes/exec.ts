// Engine API exec endpoints: create, start (hijacked like attach, through the one attach session),
// inspect, resize. Thin handlers over the backend they declare.
import type { Duplex } from 'node:stream';
import { parseDetachKeys } from '../../core/detach-keys.js';
import { errorMessage } from '../../errors.js';
import type { ExecConfig, ExecStart, ExecStartConfig } from '../../services/exec-service.js';
import { compareVersions, intParam, sendJson, sendNoContent, type Route, type RouteContext } from '../server.js';
import { attachSession, hijackedEnd } from '../stream/attach-session.js';
import { readExactly } from '../stream/read-exactly.js';

/** What the exec routes need (ExecService satisfies it). */
export interface ExecBackend {
  create(containerRef: string, cfg: ExecConfig | undefined): Promise<{ Id: string }>;
  start(id: string, opts: ExecStartConfig): ExecStart;
  inspect(id: string): Record<string, unknown>;
  resize(id: string, h: number | undefined, w: number | undefined): void;
}

export function execRoutes(svc: ExecBackend): Route[] {
  return [
    { method: 'POST', path: '/containers/{id}/exec', handler: async (ctx) => {
      sendJson(ctx.res, 201, await svc.create(ctx.params.id!, await ctx.json<ExecConfig>()));
    } },
    { method: 'POST', path: '/exec/{id}/start', handler: (ctx) => start(ctx, svc) },
    { method: 'GET', path: '/exec/{id}/json', handler: (ctx) => {
      sendJson(ctx.res, 200, svc.inspect(ctx.params.id!));
    } },
    { method: 'POST', path: '/exec/{id}/resize', handler: (ctx) => {
      svc.resize(ctx.params.id!, intParam(ctx.query, 'h'), intParam(ctx.query, 'w'));
      sendNoContent(ctx.res, 200);
    } },
  ];
}

const MAX_START_BODY = 64 * 1024;

async function start(ctx: RouteContext, svc: ExecBackend): Promise<void> {
  // An upgraded request's body is not parsed by node's HTTP server: it arrives on the hijacked
  // socket, so it is read from there (after the 101) and the stream format comes from the exec's Tty.
  const body = ctx.upgrade ? undefined : ((await ctx.json<ExecStartConfig>()) ?? {});
  const s = svc.start(ctx.params.id!, body ?? {});
  if (body?.Detach) {
    await s.run();
    sendNoContent(ctx.res, 200);
    return;
  }
  const multiplexed = !s.tty && compareVersions(ctx.apiVersion, '1.42') >= 0;
  const sock: Duplex = ctx.hijack(multiplexed ? 'application/vnd.docker.multiplexed-stream' : 'application/vnd.docker.raw-stream');
  const late = body ? undefined : await lateBody(ctx, sock);
  const client = hijackedEnd(sock, !s.tty);
  let started;
  try {
    started = await s.run(late);
  } catch (err) {
    // As dockerd: after the hijack the error goes into the stream; the exit code is in inspect.
    client.send(1, Buffer.from(`${errorMessage(err)}\r\n`));
    client.end();
    return;
  }
  // The client reads the exit code with inspect after EOF: the session ends once it is recorded.
  await attachSession(Promise.resolve(started.conn), {
    stdout: s.attachStdout, stderr: s.attachStderr, until: started.done, released: started.released,
    stdin: s.attachStdin && { detachKeys: parseDetachKeys(s.detachKeys || undefined) },
  }).run(client);
}

/** The start body of an upgraded request, read off the hijacked socket (a bad one is no body). */
async function lateBody(ctx: RouteContext, sock: Duplex): Promise<ExecStartConfig | undefined> {
  const len = Number(ctx.req.headers['content-length'] ?? 0);
  if (!(len > 0 && len <= MAX_START_BODY)) return undefined;
  try { return JSON.parse((await readExactly(sock, len)).toString('utf8')) as ExecStartConfig; } catch { return undefined; }
}
