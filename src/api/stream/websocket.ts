// RFC 6455 transport for the attach/ws endpoint: the handshake (by the `ws` package) on a socket the
// HTTP server's 'upgrade' event handed us, and a frame writer with backpressure.
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import type { WebSocket as WebSocketType, WebSocketServer as WebSocketServerType } from 'ws';
import { createRequire } from 'node:module';
import { InvalidParameterError } from '../../errors.js';

// CommonJS packages through require(), not import: see src/sys/cjs.ts for why (api/ does not import sys/).
// Loaded at the first websocket: ws and the built-ins under it (https, tls, zlib) cost ~9 MB of RSS.
const requireCjs = createRequire(import.meta.url);
type WsModule = { WebSocket: typeof WebSocketType; WebSocketServer: typeof WebSocketServerType };
let wsModule: WsModule | undefined;
const ws = (): WsModule => (wsModule ??= requireCjs('ws') as WsModule);
type WebSocket = WebSocketType;
type WebSocketServer = WebSocketServerType;

/** Incoming frames above this close the connection (1009); stdin arrives in small frames in practice. */
export const WS_MAX_PAYLOAD = 16 * 1024 * 1024;

const extraHeaders = new WeakMap<IncomingMessage, Record<string, string>>();
// noServer: routing stays with our own table; one instance serves every upgrade.
let wssOnce: WebSocketServer | undefined;
function wss(): WebSocketServer {
  if (wssOnce) return wssOnce;
  wssOnce = new (ws().WebSocketServer)({ noServer: true, clientTracking: false, perMessageDeflate: false, maxPayload: WS_MAX_PAYLOAD });
  wssOnce.on('headers', (headers: string[], req: IncomingMessage) => {
    for (const [k, v] of Object.entries(extraHeaders.get(req) ?? {})) headers.push(`${k}: ${v}`);
  });
  return wssOnce;
}

/** Whether the request asks for a websocket (`Upgrade: websocket`, any case, possibly in a list). */
export function isWebSocketRequest(req: IncomingMessage): boolean {
  const up = req.headers.upgrade;
  return typeof up === 'string' && up.split(',').some((p) => p.trim().toLowerCase() === 'websocket');
}

/**
 * Completes the websocket handshake on an upgraded socket. The request is checked first, so a bad one
 * fails with InvalidParameterError while the HTTP response is still ours to write (ws would otherwise
 * answer 400 itself and drop the socket without telling us).
 */
export function acceptWebSocket(req: IncomingMessage, socket: Duplex, head: Buffer, headers: Record<string, string> = {}): Promise<WebSocket> {
  if (req.method !== 'GET' || !isWebSocketRequest(req)) {
    return Promise.reject(new InvalidParameterError('websocket: the client is not using the websocket protocol'));
  }
  const key = req.headers['sec-websocket-key'];
  const version = req.headers['sec-websocket-version'];
  if (typeof key !== 'string' || !/^[+/0-9A-Za-z]{22}==$/.test(key)) {
    return Promise.reject(new InvalidParameterError('websocket: invalid or missing Sec-WebSocket-Key'));
  }
  if (version !== '13' && version !== '8') {
    return Promise.reject(new InvalidParameterError('websocket: unsupported Sec-WebSocket-Version'));
  }
  extraHeaders.set(req, headers);
  return new Promise((resolve, reject) => {
    const onClose = () => reject(new InvalidParameterError('websocket: handshake failed'));
    socket.once('close', onClose);
    wss().handleUpgrade(req, socket, head, (sock) => {
      socket.off('close', onClose);
      resolve(sock);
    });
  });
}

/**
 * Sends each chunk as one frame (binary or text). write() answers false once more than `highWater`
 * bytes wait in the socket, and drained() resolves when they are below it again (or the socket closed).
 */
export class WebSocketWriter {
  private pending = 0;
  private waiters: (() => void)[] = [];

  constructor(private readonly ws: WebSocket, private readonly binary: boolean, private readonly highWater = 1024 * 1024) {
    ws.once('close', () => this.wake());
  }

  /** Bytes handed to send() whose write has not completed yet. */
  get buffered(): number { return this.pending; }

  get open(): boolean { return this.ws.readyState === ws().WebSocket.OPEN; }

  write(data: Buffer): boolean {
    if (!this.open || data.length === 0) return true;
    const n = data.length;
    this.pending += n;
    // The callback runs once the frame reached the socket, or with an error when it never will.
    this.ws.send(data, { binary: this.binary }, () => {
      this.pending -= n;
      if (this.pending < this.highWater) this.wake();
    });
    return this.pending < this.highWater;
  }

  drained(): Promise<void> {
    if (this.pending < this.highWater || !this.open) return Promise.resolve();
    return new Promise((r) => this.waiters.push(r));
  }

  private wake(): void {
    for (const w of this.waiters.splice(0)) w();
  }
}
