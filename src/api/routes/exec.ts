import { DetachScanner, parseDetachKeys } from '../../core/detach-keys.js';
import type { Duplex } from 'node:stream';
import { errorMessage } from '../../errors.js';
import type { ExecConfig, ExecService, ExecStartConfig } from '../../services/exec-service.js';
import { compareVersions, intParam, sendJson, sendNoContent, type Route, type RouteContext } from '../server.js';
import { muxFrame, STDERR, STDOUT } from '../stream/mux.js';

/** Engine API exec endpoints: create, start (hijacked like attach), inspect, resize. */
export function execRoutes(svc: ExecService): Route[] {
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

async function start(ctx: RouteContext, svc: ExecService): Promise<void> {
  // An upgraded request's body is not parsed by node's HTTP server: it arrives on the hijacked
  // socket, so it is read from there (after the 101) and the stream format comes from the exec's Tty.
  const body = ctx.upgrade ? undefined : ((await ctx.json<ExecStartConfig>()) ?? {});
  const s = svc.start(ctx.params.id!, body ?? {});
  if (body?.Detach) {
    await s.run();
    sendNoContent(ctx.res, 200);
    return;
  }
  const contentType = !s.tty && compareVersions(ctx.apiVersion, '1.42') >= 0
    ? 'application/vnd.docker.multiplexed-stream' : 'application/vnd.docker.raw-stream';
  const sock: Duplex = ctx.hijack(contentType);
  let late: ExecStartConfig | undefined;
  if (!body) {
    const len = Number(ctx.req.headers['content-length'] ?? 0);
    if (len > 0 && len <= MAX_START_BODY) {
      try { late = JSON.parse((await readExactly(sock, len)).toString('utf8')) as ExecStartConfig; } catch { late = undefined; }
    }
  }
  let clientGone = false;
  sock.on('close', () => { clientGone = true; });
  sock.on('error', () => { clientGone = true; });
  const write = (stream: number, data: Buffer) => {
    if (clientGone) return;
    sock.write(s.tty ? data : muxFrame(stream, data));
  };
  let started;
  try {
    started = await s.run(late);
  } catch (err) {
    // As dockerd: after the hijack the error goes into the stream; the exit code is in inspect.
    write(STDOUT, Buffer.from(`${errorMessage(err)}\r\n`));
    sock.end();
    return;
  }
  const { conn, done } = started;
  if (!conn) { await done; sock.end(); return; }
  let connClosed: () => void;
  const closed = new Promise<void>((r) => { connClosed = r; });
  conn.on('data', (stream, data) => {
    if ((stream === 1 && !s.attachStdout) || (stream === 2 && !s.attachStderr)) return;
    write(stream === 1 ? STDOUT : STDERR, data);
  });
  conn.on('close', () => connClosed());
  sock.on('close', () => conn.destroy());
  if (s.attachStdin) {
    const scanner = new DetachScanner(parseDetachKeys(s.detachKeys || undefined));
    let detached = false;
    sock.on('data', (chunk: Buffer) => {
      if (detached) return;
      const { forward, detached: now } = scanner.push(chunk);
      if (forward.length) conn.write(forward);
      if (now) {
        // The exec keeps running; only this client goes away (as dockerd).
        detached = true;
        conn.destroy();
        clientGone = true;
        sock.end();
        connClosed();
      }
    });
    sock.on('end', () => { if (!detached) conn.end(); });
    sock.resume(); // readExactly may have paused it
  } else {
    sock.resume();
  }
  // The client reads the exit code with inspect after EOF, so record it before ending the stream.
  await Promise.all([closed, done]);
  if (!clientGone) sock.end();
}

const MAX_START_BODY = 64 * 1024;

/** The first n bytes of a stream; anything after them is pushed back for the next reader. */
function readExactly(sock: Duplex, n: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let have = 0;
    const onData = (d: Buffer) => {
      chunks.push(d);
      have += d.length;
      if (have < n) return;
      cleanup();
      sock.pause();
      const all = Buffer.concat(chunks);
      if (all.length > n) sock.unshift(all.subarray(n));
      resolve(all.subarray(0, n));
    };
    const onEnd = () => { cleanup(); reject(new Error('connection closed before the request body')); };
    const cleanup = () => { sock.off('data', onData); sock.off('end', onEnd); sock.off('close', onEnd); };
    sock.on('data', onData);
    sock.on('end', onEnd);
    sock.on('close', onEnd);
  });
}
