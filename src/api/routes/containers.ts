// Engine API container endpoints: thin handlers (parse → one backend call → write) over three narrow
// backends, the lifecycle (ContainerService), the read side (ContainerQueries: list, inspect) and the
// streams (ContainerStreams: logs, attach). The
// stream work itself (attach sessions, log batching) is in api/stream/.
import { InvalidParameterError } from '../../errors.js';
import type { CreateBody, HostConfig } from '../../core/container-config.js';
import { parseTimestamp } from '../../core/filters.js';
import type { PlatformWanted } from '../../core/manifest.js';
import { parsePlatform } from '../../services/image-service.js';
import type { AttachRequest, AttachStreams, LogsRequest, LogsStream } from '../../services/containers/streams.js';
import { attachSession, hijackedEnd, webSocketEnd, type AttachSessionOptions } from '../stream/attach-session.js';
import { sendLogStream } from '../stream/log-stream.js';
import { boolParam, compareVersions, intParam, sendJson, sendNoContent, type Route, type RouteContext } from '../server.js';

type StopOptions = { timeout?: number; signal?: string };
type WaitResult = { StatusCode: number; Error?: { Message: string } | null };

/** What the container routes need from the lifecycle (ContainerService satisfies it). */
export interface ContainerBackend {
  create(name: string | undefined, body: CreateBody | undefined, platform?: PlatformWanted): Promise<{ Id: string; Warnings: string[] }>;
  prune(filters: string | null): Promise<{ ContainersDeleted: string[]; SpaceReclaimed: number }>;
  start(ref: string): Promise<void>;
  stop(ref: string, opts?: StopOptions): Promise<void>;
  restart(ref: string, opts?: StopOptions): Promise<void>;
  kill(ref: string, signal?: string): Promise<void>;
  wait(ref: string, condition: string): { result: Promise<WaitResult> };
  remove(ref: string, opts?: { force?: boolean; volumes?: boolean; link?: boolean }): Promise<void>;
  rename(ref: string, newName: string): Promise<void>;
  resize(ref: string, rows: number, cols: number): void;
  pause(ref: string): Promise<void>;
  unpause(ref: string): Promise<void>;
  update(ref: string, body: HostConfig | undefined): Promise<{ Warnings: string[] }>;
}

/** What list and inspect need (ContainerQueries satisfies it). */
export interface ContainerQueryBackend {
  list(opts: { all?: boolean; limit?: number; size?: boolean; filters?: string | null }): Record<string, unknown>[];
  inspect(ref: string, size?: boolean): Record<string, unknown>;
}

/** What logs and attach need (ContainerStreams satisfies it). */
export interface ContainerStreamsBackend {
  logs(ref: string, req: LogsRequest): LogsStream;
  attach(ref: string, req: AttachRequest): AttachStreams;
}

function streamContentType(ctx: RouteContext, tty: boolean): string {
  if (!tty && compareVersions(ctx.apiVersion, '1.42') >= 0) return 'application/vnd.docker.multiplexed-stream';
  return 'application/vnd.docker.raw-stream';
}

export function containerRoutes(svc: ContainerBackend, queries: ContainerQueryBackend, streams: ContainerStreamsBackend): Route[] {
  return [
    { method: 'POST', path: '/containers/create', handler: async (ctx) => {
      const body = await ctx.json<CreateBody>();
      const p = ctx.query.get('platform');
      sendJson(ctx.res, 201, await svc.create(ctx.query.get('name') || undefined, body, p ? parsePlatform(p) : undefined));
    } },
    { method: 'GET', path: '/containers/json', handler: (ctx) => {
      sendJson(ctx.res, 200, queries.list({
        all: boolParam(ctx.query, 'all'), limit: intParam(ctx.query, 'limit'), size: boolParam(ctx.query, 'size'),
        filters: ctx.query.get('filters'),
      }));
    } },
    { method: 'POST', path: '/containers/prune', handler: async (ctx) => {
      sendJson(ctx.res, 200, await svc.prune(ctx.query.get('filters')));
    } },
    { method: 'GET', path: '/containers/{id}/json', handler: (ctx) => {
      sendJson(ctx.res, 200, queries.inspect(ctx.params.id!, boolParam(ctx.query, 'size')));
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
    { method: 'DELETE', path: '/containers/{id:.*}', handler: async (ctx) => {
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
      const logs = streams.logs(ctx.params.id!, logsRequest(ctx.query));
      await sendLogStream(ctx.res, streamContentType(ctx, logs.tty), logs);
    } },
    { method: 'POST', path: '/containers/{id}/attach', handler: (ctx) => attach(ctx, streams) },
    { method: 'GET', path: '/containers/{id}/attach/ws', handler: (ctx) => attachWebSocket(ctx, streams) },
  ];
}

function logsRequest(q: URLSearchParams): LogsRequest {
  const tailRaw = q.get('tail');
  const tail = tailRaw === null || tailRaw === '' || tailRaw === 'all' ? -1 : Number(tailRaw);
  if (Number.isNaN(tail)) throw new InvalidParameterError(`invalid value for "tail": ${tailRaw}`);
  const since = q.get('since');
  const until = q.get('until');
  return {
    stdout: boolParam(q, 'stdout'), stderr: boolParam(q, 'stderr'), tail,
    sinceMs: since && since !== '0' ? parseTimestamp(since) : undefined,
    untilMs: until && until !== '0' ? parseTimestamp(until) : undefined,
    timestamps: boolParam(q, 'timestamps'), follow: boolParam(q, 'follow'),
  };
}

/** The session's options for an attach: the streams asked for, stdin with its detach keys, the replay. */
function sessionOptions(a: AttachStreams, o: { stdin: boolean; stdout: boolean; stderr: boolean }): AttachSessionOptions {
  const replay = a.replay;
  return {
    stdout: o.stdout, stderr: o.stderr,
    stdin: o.stdin && { detachKeys: a.detachKeys },
    onClientGone: a.cancel,
    released: a.removed,
    replay: replay && ((send, drained, gone) => replay({
      write: (s, data) => send(s === 'stdout' ? 1 : 2, data), closed: gone, drain: drained,
    })),
  };
}

/** POST /containers/{id}/attach: hijacked (101, or 200 for a client that did not ask to upgrade). */
async function attach(ctx: RouteContext, streams: ContainerStreamsBackend): Promise<void> {
  const q = ctx.query;
  const want = { stdin: boolParam(q, 'stdin'), stdout: boolParam(q, 'stdout'), stderr: boolParam(q, 'stderr') };
  const a = streams.attach(ctx.params.id!, {
    logs: boolParam(q, 'logs'), stream: boolParam(q, 'stream'), stdout: want.stdout, stderr: want.stderr,
    detachKeys: q.get('detachKeys'), requireOne: true,
  });
  const session = attachSession(a.conn, sessionOptions(a, want));
  // Frames without a tty whatever the API version: before 1.42 only the content type said raw.
  await session.run(hijackedEnd(ctx.hijack(streamContentType(ctx, a.tty)), !a.tty));
}

/**
 * GET /containers/{id}/attach/ws — moby's wsContainersAttach: the same attach over RFC 6455. Output is
 * never multiplexed (stdout and stderr go raw into frames; binary frames from API 1.28, text before), and
 * stdin/stdout/stderr come from the query only from API 1.42 (before, all three are on). Errors found
 * before the handshake (unknown container 404, paused 409, bad detachKeys 400) are plain HTTP answers;
 * a stopped container is not refused: the attach waits for its next start, as POST attach does.
 * The server closes the websocket (1000) when the container's streams end, on detach, or after a
 * logs-only replay.
 */
async function attachWebSocket(ctx: RouteContext, streams: ContainerStreamsBackend): Promise<void> {
  const q = ctx.query;
  const all = compareVersions(ctx.apiVersion, '1.42') < 0;
  const want = { stdin: all || boolParam(q, 'stdin'), stdout: all || boolParam(q, 'stdout'), stderr: all || boolParam(q, 'stderr') };
  const a = streams.attach(ctx.params.id!, {
    logs: boolParam(q, 'logs'), stream: boolParam(q, 'stream'), stdout: want.stdout, stderr: want.stderr, detachKeys: q.get('detachKeys'),
  });
  // moby ignores a client's stdin without OpenStdin
  const session = attachSession(a.conn, sessionOptions(a, { ...want, stdin: want.stdin && a.openStdin }));
  let ws;
  try {
    ws = await ctx.websocket();
  } catch (err) {
    session.abandon();
    throw err;
  }
  await session.run(webSocketEnd(ws, compareVersions(ctx.apiVersion, '1.28') >= 0));
}
