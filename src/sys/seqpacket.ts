import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { requireCjs } from './cjs.js';

/**
 * A SOCK_SEQPACKET client on the event loop, over berth's own addon (native/seqpacket, built by
 * `npm run build`). Node's net cannot connect to SEQPACKET sockets (EPROTOTYPE), and node-unix-socket
 * cannot stop reading: this one can, so a reader that stops makes the peer's writes block
 * (docs/conmon.md, "Backpressure").
 */

interface Native {
  connect(path: string, onEvent: (kind: number, value: unknown) => void, budget: number): object;
  start(h: object): void;
  stop(h: object): void;
  write(h: object, data: Buffer): boolean;
  shutdown(h: object): void;
  close(h: object): void;
}

let native: Native | undefined;

/** native/seqpacket/build/Release/seqpacket.node of this checkout (from src/sys or dist/src/sys). */
function load(): Native {
  if (native) return native;
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 5; i++, dir = path.dirname(dir)) {
    const file = path.join(dir, 'native', 'seqpacket', 'build', 'Release', 'seqpacket.node');
    if (fs.existsSync(file)) return (native = requireCjs(file) as Native);
  }
  throw new Error('the seqpacket addon is not built (native/seqpacket): run npm run build');
}

export interface SeqpacketHandlers {
  /** the records of one readable event, in order, one Buffer each */
  records(recs: Buffer[]): void;
  /** the peer closed (EOF) */
  end(): void;
  /** a socket error (errno name); nothing follows */
  error(code: string): void;
  /** writes that had to be queued are all out */
  drain(): void;
}

export class SeqpacketSocket {
  private closed = false;

  private constructor(private readonly h: object) {}

  /**
   * Connects at once (a full listen backlog is EAGAIN, not a wait). A path longer than sun_path (108
   * bytes) is reached through an O_PATH fd of its directory. Reading starts with start(); one readable
   * event hands over at most `budget` bytes of records.
   */
  static connect(socketPath: string, handlers: SeqpacketHandlers, budget: number): SeqpacketSocket {
    const n = load();
    let sock: SeqpacketSocket | undefined;
    const h = n.connect(socketPath, (kind, value) => {
      if (!sock || sock.closed) return;
      if (kind === 0) handlers.records(value as Buffer[]);
      else if (kind === 1) handlers.end();
      else if (kind === 2) handlers.error(value as string);
      else handlers.drain();
    }, budget);
    sock = new SeqpacketSocket(h);
    return sock;
  }

  start(): void { if (!this.closed) load().start(this.h); }
  stop(): void { if (!this.closed) load().stop(this.h); }

  /** One record. true: sent; false: queued until the peer takes it ('drain' follows). Throws on a broken socket. */
  write(data: Buffer): boolean {
    if (this.closed) throw Object.assign(new Error('write: socket closed'), { code: 'EPIPE' });
    return load().write(this.h, data);
  }

  /** Half-close (SHUT_WR) once queued records are out. */
  shutdown(): void { if (!this.closed) load().shutdown(this.h); }

  /** No handler runs after this; safe from inside a handler. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    load().close(this.h);
  }
}
