// One attach session for container attach (hijacked or websocket), `docker run`'s attach and exec
// start: the container's output to the client (multiplexed or raw, filtered per stream, after an
// optional log replay), the client's input to the container's stdin (watched for the detach keys),
// and who ends what when either side goes away. The carriers differ only in a ClientEnd.
import type { Duplex } from 'node:stream';
import type { WebSocket } from 'ws';
import type { AttachConnection } from '../../core/attach-connection.js';
import { DetachScanner } from '../../core/detach-keys.js';
import { muxFrame } from './mux.js';
import { drained } from './drained.js';
import { WebSocketWriter } from './websocket.js';

/** The container's (or exec's) stdio as the runtime hands it over: the one AttachConnection. */
type StreamConnection = AttachConnection;

/** The client's side of a session, whatever carries it. */
export interface ClientEnd {
  /** container output on stdout (1) or stderr (2), framed as the carrier wants; false: wait for drained() */
  send(stream: 1 | 2, data: Buffer): boolean;
  drained(): Promise<void>;
  /** the session is over: close normally */
  end(): void;
  /** the client fell too far behind: close at once, dropping what is still queued for it */
  drop(): void;
  /** start reading the client's input (nothing is delivered before); onEnd is the input's EOF */
  input(onData: (chunk: Buffer) => void, onEnd: () => void): void;
  /** the client's input is not wanted: read and drop it */
  discardInput(): void;
  /** stop reading the client's input until `until` resolves (the container's stdin is not keeping up) */
  pauseInput(until: Promise<void>): void;
  /** the client went away (after onEnd, for a carrier whose close is also its EOF) */
  onGone(cb: () => void): void;
  readonly gone: boolean;
  /** bytes of output queued that the client has not taken yet */
  readonly queued: number;
}

/** conmon reads stdin records into a 32 KiB buffer and drops the rest: writes are cut to that. */
const STDIN_CHUNK = 32 * 1024;

/*
 * Backpressure, as Docker's: when the client cannot take more (send answered false), the session pauses
 * the container's connection until the client drains, and conmon's write, then the container's stdout,
 * wait with it. Nothing is dropped for a client that lags, and berthd holds about one read batch per
 * client. What would keep a process waiting after its end (a client that never reads) is undone below
 * the session: AttachSocket reads a process that has exited to the end (runtime/conmon-session.ts). A
 * client still behind when its container is removed is dropped (`released`).
 */

/** Live output held while a logs=1 replay runs (or the client connects): past this the container waits. */
const HELD_MAX = 256 * 1024;
/** After its container's removal, a client that takes nothing for this long is dropped (moby waits 2 s for streams after an exit). */
const LINGER_MS = 2000;
/** What a websocket client may have queued before the container waits on it. */
const WS_HIGH_WATER = 128 * 1024;

/** A hijacked HTTP connection (101 upgrade or plain 200): 8-byte multiplexed frames, or raw with a tty. */
export function hijackedEnd(sock: Duplex, multiplexed: boolean): ClientEnd {
  let gone = false;
  const goneCbs: (() => void)[] = [];
  const leave = () => { if (gone) return; gone = true; for (const cb of goneCbs) cb(); };
  sock.on('close', leave);
  sock.on('error', leave);
  const drop = () => { sock.destroy(); leave(); };
  return {
    get gone() { return gone; },
    get queued() { return sock.writableLength; },
    send(s, data) {
      if (gone) return true;
      return sock.write(multiplexed ? muxFrame(s, data) : data);
    },
    drained: () => drained(sock),
    // read again: a client whose input was paused must still be heard leaving
    end: () => { sock.end(); sock.resume(); },
    drop,
    input(onData, onEnd) {
      sock.on('data', onData);
      sock.on('end', onEnd);
      sock.resume(); // a body read off the socket first may have paused it
    },
    discardInput: () => { sock.resume(); },
    pauseInput(until) {
      sock.pause();
      void until.then(() => { if (!gone) sock.resume(); });
    },
    onGone: (cb) => { goneCbs.push(cb); },
  };
}

/** Input held while the container's streams are not connected yet (a created container waits for start). */
const WS_INPUT_QUEUE = 1024 * 1024;

/**
 * An RFC 6455 connection (attach/ws): output goes raw into frames (binary, or text before API 1.28);
 * messages are input, held (bounded) until the session reads them; the client's close is input's EOF.
 */
export function webSocketEnd(ws: WebSocket, binary: boolean): ClientEnd {
  const writer = new WebSocketWriter(ws, binary, WS_HIGH_WATER);
  let gone = false;
  const goneCbs: (() => void)[] = [];
  let queue: Buffer[] | undefined = [];
  let queued = 0;
  let onData: ((chunk: Buffer) => void) | undefined;
  let onEnd: (() => void) | undefined;
  let discard = false;
  ws.on('error', () => { /* a broken client: 'close' follows */ });
  ws.on('message', (msg: Buffer | ArrayBuffer | Buffer[]) => {
    if (discard) return;
    const chunk = Buffer.isBuffer(msg) ? msg : Array.isArray(msg) ? Buffer.concat(msg) : Buffer.from(msg);
    if (onData) { onData(chunk); return; }
    queue!.push(chunk);
    queued += chunk.length;
    if (queued > WS_INPUT_QUEUE) ws.pause();
  });
  ws.on('close', () => {
    gone = true;
    onEnd?.();
    for (const cb of goneCbs) cb();
  });
  return {
    get gone() { return gone; },
    get queued() { return writer.buffered; },
    send(_s, data) {
      if (gone) return true;
      return writer.write(data);
    },
    drained: () => writer.drained(),
    end: () => { ws.close(1000); },
    drop: () => { ws.terminate(); },
    input(d, e) {
      onData = d;
      onEnd = e;
      const held = queue ?? [];
      queue = undefined;
      for (const chunk of held) d(chunk);
      if (queued > WS_INPUT_QUEUE) ws.resume();
    },
    discardInput() {
      discard = true;
      queue = undefined;
      if (queued > WS_INPUT_QUEUE) ws.resume();
    },
    pauseInput(until) {
      ws.pause();
      void until.then(() => { if (!gone) ws.resume(); });
    },
    onGone: (cb) => { goneCbs.push(cb); },
  };
}

export interface AttachSessionOptions {
  stdout: boolean;
  stderr: boolean;
  /** the client's input goes to the container's stdin, scanned for these detach keys */
  stdin?: { detachKeys: Buffer } | false;
  /**
   * Sent before live output (attach's logs=1). Live output arriving meanwhile is held, not lost, and
   * follows in order.
   */
  replay?: (send: (s: 1 | 2, data: Buffer) => boolean, drained: () => Promise<void>, gone: () => boolean) => Promise<unknown>;
  /** the client's end waits for this too (exec: its exit code is recorded before EOF, for inspect) */
  until?: Promise<unknown>;
  /** the client left (a waiting attach gives up its place) */
  onClientGone?: () => void;
  /**
   * Resolves when the container is removed: a client that then takes none of what is still queued for
   * it for `lingerMs` is dropped (its socket would otherwise stay for output it never takes); one that
   * reads keeps it all. cancel() when the session is over.
   */
  released?: { removed: Promise<void>; cancel(): void };
  /** LINGER_MS unless a test says otherwise */
  lingerMs?: number;
}

export interface AttachSession {
  /** Connects the client: the replay first, then what was held, then live output and input. */
  run(client: ClientEnd): Promise<void>;
  /** The client never arrived (a failed websocket handshake): give up the container's streams. */
  abandon(): void;
}

/**
 * A session over the container's streams. `conn` undefined: no live stream (attach stream=0): the
 * replay is sent and the session ends; a connection that resolves undefined (the container was removed
 * before it started) ends it too. Output is listened to from now on, before the client is connected
 * (a websocket handshake takes a round trip): what arrives meanwhile is held, then sent in order.
 */
export function attachSession(conn: Promise<StreamConnection | undefined> | undefined, o: AttachSessionOptions): AttachSession {
  let attached: StreamConnection | undefined;
  let client: ClientEnd | undefined;
  let live = false;
  let ended = false;
  let detached = false;
  // Output that arrives while the replay runs (or before the client is there) waits here; past
  // HELD_MAX the connection is paused until the session goes live.
  const held: [1 | 2, Buffer][] = [];
  let heldBytes = 0;
  let waitingDrain = false;
  const send = (s: 1 | 2, data: Buffer): boolean => {
    if (!client || (s === 1 && !o.stdout) || (s === 2 && !o.stderr)) return true;
    return client.send(s, data);
  };
  /** The client is full: the container waits until it drains. */
  const holdBack = (c: StreamConnection, ce: ClientEnd) => {
    if (waitingDrain) return;
    waitingDrain = true;
    c.pause();
    void ce.drained().then(() => {
      waitingDrain = false;
      if (!ce.gone) c.resume();
    });
  };
  let released = false;
  const release = () => {
    if (released) return;
    released = true;
    o.released?.cancel();
  };
  /** Drops `ce` if what is queued for it does not shrink for lingerMs. */
  const dropIfStalled = (ce: ClientEnd) => {
    const linger = o.lingerMs ?? LINGER_MS;
    const every = Math.max(10, Math.min(250, linger / 4));
    let last = ce.queued;
    let since = Date.now();
    const t = setInterval(() => {
      const now = ce.queued;
      if (ce.gone || now === 0) { clearInterval(t); return; }
      if (now !== last) { last = now; since = Date.now(); return; }
      if (Date.now() - since >= linger) { clearInterval(t); ce.drop(); }
    }, every);
    t.unref();
  };
  void o.released?.removed.then(() => {
    if (released) return;
    release();
    if (client && !client.gone && client.queued > 0) dropIfStalled(client);
  });
  const finish = () => {
    void Promise.resolve(o.until).catch(() => undefined).then(() => { if (client && !client.gone && !detached) client.end(); });
  };
  const connected = (conn ?? Promise.resolve(undefined)).then((c) => {
    if (!c) return undefined;
    attached = c;
    c.on('data', (s, data) => {
      if (live) {
        if (!send(s, data) && client) holdBack(c, client);
        return;
      }
      held.push([s, data]);
      heldBytes += data.length;
      if (heldBytes >= HELD_MAX) c.pause();
    });
    c.on('close', () => {
      const first = !ended;
      ended = true;
      if (first && live) finish();
    });
    return c;
  });
  return {
    abandon() {
      release();
      o.onClientGone?.();
      void connected.then((c) => c?.destroy());
    },
    async run(ce) {
      client = ce;
      ce.onGone(() => {
        release();
        o.onClientGone?.();
        attached?.destroy();
      });
      if (!o.stdin) ce.discardInput();
      if (o.replay) await o.replay(send, () => ce.drained(), () => ce.gone);
      if (!conn) { if (!ce.gone) ce.end(); return; }
      const c = await connected;
      if (ce.gone) { c?.destroy(); return; }
      live = true;
      let taken = true;
      for (const [s, data] of held.splice(0)) taken = send(s, data) && taken;
      heldBytes = 0;
      if (c && !taken) holdBack(c, ce); else c?.resume();
      if (!c || ended) { finish(); return; }
      if (!o.stdin) return;
      const scanner = new DetachScanner(o.stdin.detachKeys);
      ce.input((chunk) => {
        if (detached) return;
        const { forward, detached: now } = scanner.push(chunk);
        let taken = true;
        for (let i = 0; i < forward.length; i += STDIN_CHUNK) taken = c.write(forward.subarray(i, i + STDIN_CHUNK)) && taken;
        if (now) {
          // Detach: drop our connection, leave the container (or exec) and its stdin alone.
          detached = true;
          c.destroy();
          ce.end();
        } else if (!taken) {
          // The container is not reading its stdin: hold the client back instead of queueing its input.
          ce.pauseInput(c.drained());
        }
      }, () => { if (!detached) c.end(); });
    },
  };
}
