import type { Duplex } from 'node:stream';
import { InvalidParameterError, NotImplementedError } from '../../errors.js';
import type { CreateBody, HostConfig } from '../../core/container-config.js';
import { DetachScanner, parseDetachKeys } from '../../core/detach-keys.js';
import { parseTimestamp } from '../../core/filters.js';
import type { WebSocket } from 'ws';
import type { ContainerService } from '../../services/container-service.js';
import type { AttachConnection } from '../../services/container-service.js';
import { streamLogs } from '../../services/log-driver/reader.js';
import { drained } from '../stream/drained.js';
import { boolParam, compareVersions, intParam, sendJson, sendNoContent, type Route, type RouteContext } from '../server.js';
import { muxFrame, muxHeader, STDERR, STDOUT } from '../stream/mux.js';
import { WebSocketWriter } from '../stream/websocket.js';

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
      const gone = svc.whenRemoved(rec.Id);
      try {
        const how = await streamLogs(rec.LogPath, {
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
          drain: () => drained(res),
        }, { stopped: svc.untilStopped(rec.Id), removed: gone.removed });
        // A client that does not read keeps output queued: with its container gone, drop it, not wait.
        if (how === 'removed' && res.writableLength > 0) res.destroy(); else res.end();
      } finally {
        gone.cancel();
      }
    } },
    { method: 'POST', path: '/containers/{id}/attach', handler: (ctx) => attach(ctx, svc) },
    { method: 'GET', path: '/containers/{id}/attach/ws', handler: (ctx) => attachWebSocket(ctx, svc) },
  ];
}

async function attach(ctx: RouteContext, svc: ContainerService): Promise<void> {
  const q = ctx.query;
  const wantStdin = boolParam(q, 'stdin'), wantStdout = boolParam(q, 'stdout'), wantStderr = boolParam(q, 'stderr');
  const logs = boolParam(q, 'logs'), stream = boolParam(q, 'stream');
  const rec0 = svc.get(ctx.params.id!);
  const scanner = new DetachScanner(parseDetachKeys(q.get('detachKeys') ?? svc.detachKeys));
  if (!logs && !stream) throw new InvalidParameterError('Bad parameters: you must choose at least one stream');
  const { live: rec, conn, cancel } = stream ? await svc.attach(ctx.params.id!) : { live: rec0, conn: Promise.resolve(undefined), cancel: () => {} };
  const tty = !!rec.Config.Tty;
  const sock: Duplex = ctx.hijack(streamContentType(ctx, tty));
  let clientGone = false;
  // A client that leaves before the container starts gives up its place (nothing is connected for it).
  sock.on('close', () => { clientGone = true; cancel(); });
  sock.on('error', () => { clientGone = true; });
  const out = (s: 'stdout' | 'stderr', data: Buffer) => {
    if (clientGone) return true;
    if ((s === 'stdout' && !wantStdout) || (s === 'stderr' && !wantStderr)) return true;
    return sock.write(tty ? data : muxFrame(s === 'stdout' ? STDOUT : STDERR, data));
  };
  // Listen to the container from the moment its streams connect, even while the log replay is still
  // being sent: output (or the end) arriving meanwhile is held, not lost, and sent after the replay.
  let replaying = logs;
  let ended = false;
  const held: Array<['stdout' | 'stderr', Buffer]> = [];
  const connected = conn.then((c) => {
    if (!c) return undefined;
    c.on('data', (s, data) => {
      const name = s === 1 ? 'stdout' : 'stderr';
      if (replaying) held.push([name, data]); else out(name, data);
    });
    c.on('close', () => { ended = true; if (!replaying && !clientGone) sock.end(); });
    return c;
  });
  if (logs) {
    await streamLogs(rec.LogPath, { stdout: wantStdout, stderr: wantStderr, timestamps: false, follow: false }, {
      write: out, closed: () => clientGone, drain: () => drained(sock),
    }, { stopped: Promise.resolve() });
    replaying = false;
    for (const [name, data] of held.splice(0)) out(name, data);
  }
  if (!stream) { sock.end(); return; }
  const c = await connected;
  if (!c || clientGone || ended) {
    c?.destroy();
    sock.end();
    return;
  }
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

/** A websocket client this far behind on a live stream is dropped rather than buffered without bound. */
const WS_MAX_BUFFERED = 64 * 1024 * 1024;
/** Stdin held while the container's streams are not connected yet (a created container waits for start). */
const WS_STDIN_QUEUE = 1024 * 1024;

/**
 * GET /containers/{id}/attach/ws — moby's wsContainersAttach: the same attach over RFC 6455. Output is
 * never multiplexed (stdout and stderr go raw into frames; binary frames from API 1.28, text before), and
 * stdin/stdout/stderr come from the query only from API 1.42 (before, all three are on). Errors found
 * before the handshake (unknown container 404, paused 409, bad detachKeys 400) are plain HTTP answers;
 * a stopped container is not refused: the attach waits for its next start, as POST attach does.
 * The server closes the websocket (1000) when the container's streams end, on detach, or after a
 * logs-only replay.
 */
async function attachWebSocket(ctx: RouteContext, svc: ContainerService): Promise<void> {
  const q = ctx.query;
  const all = compareVersions(ctx.apiVersion, '1.42') < 0;
  const wantStdin = all || boolParam(q, 'stdin'), wantStdout = all || boolParam(q, 'stdout');
  const wantStderr = all || boolParam(q, 'stderr');
  const logs = boolParam(q, 'logs'), stream = boolParam(q, 'stream');
  const scanner = new DetachScanner(parseDetachKeys(q.get('detachKeys') ?? svc.detachKeys));
  const rec0 = svc.get(ctx.params.id!);
  const { live: rec, conn, cancel } = stream ? await svc.attach(ctx.params.id!) : { live: rec0, conn: Promise.resolve(undefined), cancel: () => {} };
  const stdin = wantStdin && !!rec.Config.OpenStdin; // moby ignores a client's stdin without OpenStdin

  let ws: WebSocket | undefined;
  let writer: WebSocketWriter | undefined;
  let attached: AttachConnection | undefined;
  // Output that arrives before the handshake and the log replay are done is held, then sent in order.
  let held: [1 | 2, Buffer][] | undefined = [];
  let streamClosed = false;
  let clientGone = false;
  let detached = false;
  const send = (s: 1 | 2, data: Buffer): boolean => {
    if (!ws || !writer || clientGone || (s === 1 && !wantStdout) || (s === 2 && !wantStderr)) return true;
    const ok = writer.write(data);
    if (writer.buffered > WS_MAX_BUFFERED) ws.terminate();
    return ok;
  };
  // Stdin sent before the container's streams are connected waits; past a bound the client is not read.
  let stdinQueue: Buffer[] | undefined = [];
  let stdinQueued = 0;
  const feed = (chunk: Buffer) => {
    if (detached || !attached || !ws) return;
    const { forward, detached: now } = scanner.push(chunk);
    if (forward.length) attached.write(forward);
    if (now) {
      // Detach: drop our connection, leave the container and its stdin alone.
      detached = true;
      attached.destroy();
      ws.close(1000);
    }
  };
  const connected = conn.then((c) => {
    if (!c) return;
    attached = c;
    const queued = stdinQueue ?? [];
    stdinQueue = undefined;
    for (const chunk of queued) feed(chunk);
    if (stdinQueued > WS_STDIN_QUEUE) ws?.resume();
    c.on('data', (s, data) => { if (held) held.push([s, data]); else send(s, data); });
    c.on('close', () => {
      streamClosed = true;
      if (!held && !clientGone) ws?.close(1000);
    });
  });
  try {
    ws = await ctx.websocket();
  } catch (err) {
    cancel();
    void connected.then(() => attached?.destroy());
    throw err;
  }
  const sock = ws;
  writer = new WebSocketWriter(sock, compareVersions(ctx.apiVersion, '1.28') >= 0);
  sock.on('error', () => { /* a broken client: 'close' follows */ });
  sock.on('close', () => {
    clientGone = true;
    cancel();
    // The client's close is stdin's EOF: conmon then closes the container's stdin unless it stays open.
    if (attached && stdin && !detached) attached.end();
    attached?.destroy();
  });
  if (stdin) {
    sock.on('message', (msg: Buffer | ArrayBuffer | Buffer[]) => {
      const chunk = Buffer.isBuffer(msg) ? msg : Array.isArray(msg) ? Buffer.concat(msg) : Buffer.from(msg);
      if (!stdinQueue) { feed(chunk); return; }
      stdinQueue.push(chunk);
      stdinQueued += chunk.length;
      if (stdinQueued > WS_STDIN_QUEUE) sock.pause();
    });
  }
  if (logs) {
    await streamLogs(rec.LogPath, { stdout: wantStdout, stderr: wantStderr, timestamps: false, follow: false }, {
      write: (s, data) => send(s === 'stdout' ? 1 : 2, data), closed: () => clientGone, drain: () => writer!.drained(),
    }, { stopped: Promise.resolve() });
  }
  if (!stream) { sock.close(1000); return; }
  await connected;
  if (clientGone) { attached?.destroy(); return; }
  for (const [s, data] of held ?? []) send(s, data);
  held = undefined;
  // No connection (the container was removed before it started) or already gone: nothing more will come.
  if (!attached || streamClosed) sock.close(1000);
}
