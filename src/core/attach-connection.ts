/**
 * A live attach to a container's or an exec's stdio through conmon's attach socket: what the runtime
 * (runtime/conmon-runtime.ts, conmon-exec.ts) gives and the services and routes stream. The one declaration.
 */
export interface AttachConnection {
  on(ev: 'data', cb: (stream: 1 | 2, data: Buffer) => void): void;
  on(ev: 'close', cb: () => void): void;
  /** the client's input to stdin; false: conmon has not taken it all yet (the container does not read), wait for drained() */
  write(data: Buffer): boolean;
  /** resolves once conmon took every write (or the connection closed) */
  drained(): Promise<void>;
  /**
   * Stop taking the container's output (its client is full): conmon's write blocks, and so does the
   * container's stdout, until resume(). Output of a process that has exited is read to the end anyway.
   */
  pause(): void;
  resume(): void;
  /** half-close: conmon closes the container's stdin (unless --leave-stdin-open) */
  end(): void;
  destroy(): void;
}
