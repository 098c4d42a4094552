/**
 * A live attach to a container's or an exec's stdio through conmon's attach socket: what the runtime
 * (runtime/conmon-runtime.ts, conmon-exec.ts) gives and the services and routes stream. The one declaration.
 */
export interface AttachConnection {
  on(ev: 'data', cb: (stream: 1 | 2, data: Buffer) => void): void;
  on(ev: 'close', cb: () => void): void;
  write(data: Buffer): void;
  /** half-close: conmon closes the container's stdin (unless --leave-stdin-open) */
  end(): void;
  destroy(): void;
}
