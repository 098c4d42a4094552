// A container's output and stdio as streams: `docker logs` (the driver's reader, following until the
// container stops or is removed) and attach (the live streams, with an optional log replay). The
// checks Docker makes before any header goes out happen here; the API's stream helpers carry the rest.
import { InvalidParameterError, NotImplementedError } from '../../errors.js';
import { parseDetachKeys } from '../../core/detach-keys.js';
import { whenRemoved } from '../container-gone.js';
import { logDriver } from '../log-driver/drivers.js';
import { streamLogs, type LogEnd, type LogOptions, type LogSink } from '../log-driver/reader.js';
import { attachContainer } from './attach.js';
import type { ContainerContext } from './context.js';
import type { ExitHandler } from './exits.js';
import type { AttachConnection, ContainerRecord } from './types.js';

export type LogsRequest = Omit<LogOptions, 'stdout' | 'stderr'> & { stdout: boolean; stderr: boolean };

/** A container's log, ready to be read: `pipe` streams it to a sink with Docker's logs semantics. */
export interface LogsStream {
  tty: boolean;
  pipe(sink: LogSink): Promise<LogEnd>;
}

export interface AttachRequest {
  /** attach to the live streams (now, or at the next start) */
  stream: boolean;
  /** replay the log first */
  logs: boolean;
  stdout: boolean;
  stderr: boolean;
  /** the request's detachKeys (the daemon's default when absent) */
  detachKeys?: string | null;
  /** POST attach refuses logs=0&stream=0; attach/ws simply closes */
  requireOne?: boolean;
}

export interface AttachStreams {
  tty: boolean;
  openStdin: boolean;
  detachKeys: Buffer;
  /** undefined without stream=1; resolves undefined if the container is removed before it starts */
  conn: Promise<AttachConnection | undefined> | undefined;
  /** the client went away: a waiting attach gives up its place */
  cancel(): void;
  /** with stream=1: the container's removal (a client still behind then is dropped); cancel() when done */
  removed?: { removed: Promise<void>; cancel(): void };
  /** the log so far (logs=1), stdout/stderr as asked */
  replay?: (sink: LogSink) => Promise<LogEnd>;
}

export class ContainerStreams {
  constructor(private readonly ctx: ContainerContext, private readonly exits: ExitHandler, private readonly defaultDetachKeys: () => string) {}

  logs(ref: string, req: LogsRequest): LogsStream {
    const rec = this.ctx.store.find(ref).rec;
    if (!logDriver(rec.HostConfig.LogConfig?.Type).readable) {
      throw new NotImplementedError('configured logging driver does not support reading');
    }
    if (!req.stdout && !req.stderr) throw new InvalidParameterError('Bad parameters: you must choose at least one stream');
    return {
      tty: !!rec.Config.Tty,
      pipe: async (sink) => {
        const gone = this.whenRemoved(rec.Id);
        try {
          return await streamLogs(rec.LogPath, req, sink, { stopped: this.exits.untilStopped(rec.Id), removed: gone.removed });
        } finally {
          gone.cancel();
        }
      },
    };
  }

  /** Checks in Docker's order: the container (404), the detach keys (400), the streams (400), its state (409). */
  attach(ref: string, req: AttachRequest): AttachStreams {
    const rec0 = this.ctx.store.find(ref).rec;
    const detachKeys = parseDetachKeys(req.detachKeys ?? this.defaultDetachKeys());
    if (req.requireOne && !req.logs && !req.stream) throw new InvalidParameterError('Bad parameters: you must choose at least one stream');
    const h = req.stream ? attachContainer(this.ctx, ref) : undefined;
    const rec: ContainerRecord = h?.live ?? rec0;
    return {
      tty: !!rec.Config.Tty,
      openStdin: !!rec.Config.OpenStdin,
      detachKeys,
      conn: h?.conn,
      cancel: h?.cancel ?? (() => {}),
      removed: h ? this.whenRemoved(rec.Id) : undefined,
      replay: req.logs && logDriver(rec.HostConfig.LogConfig?.Type).readable
        ? (sink) => streamLogs(rec.LogPath, { stdout: req.stdout, stderr: req.stderr, timestamps: false, follow: false }, sink, { stopped: Promise.resolve() })
        : undefined,
    };
  }

  /** Resolves when the container is no longer running (immediately if it is not). */
  untilStopped(id: string): Promise<void> { return this.exits.untilStopped(id); }

  /** Resolves when the container is removed; streams race it (services/container-gone.ts). */
  whenRemoved(id: string): { removed: Promise<void>; cancel(): void } {
    return whenRemoved(this.ctx.d.events, (i) => this.ctx.store.byFullId(i) !== undefined, id);
  }
}
