/**
 * What every command gets: injected stdio and environment (so tests run the CLI in-process with
 * PassThrough streams), the binary name for messages, and a lazily built Engine API client.
 */
import type { Readable, Writable } from 'node:stream';
import { API_VERSION, EngineClient } from '../client/engine-client.js';
import { CliConfigFile } from './config-file.js';
import { ContextStore } from './context-store.js';
import { resolveEndpoint, type Endpoint, type EndpointFlags } from './endpoint.js';
import type { CommandSpec, ParsedArgs } from './flags.js';

export interface CliIO {
  stdout: Writable;
  stderr: Writable;
  stdin: Readable;
  env: Record<string, string | undefined>;
}

/** Ends the command with an exit code; `message` (if any) goes to stderr. */
export class StatusError extends Error {
  constructor(message: string, readonly code: number) {
    super(message);
  }
}

export class CliContext {
  readonly bin = 'berth';
  private clientInstance: EngineClient | undefined;
  private configInstance: CliConfigFile | undefined;
  private endpointInstance: Endpoint | undefined;

  /**
   * `flags`: the global flags that choose the daemon (resolved on first use, so `context` commands work
   * while the current context is broken); `configDir`: where config.json and contexts/ live (read on
   * first use); `logLevel`: -l / -D, for the debug lines.
   */
  constructor(readonly io: CliIO, readonly flags: EndpointFlags, readonly configDir?: string, readonly logLevel = 'info') {}

  /** A context for a fixed host (in-process callers and tests). */
  static forHost(io: CliIO, host: string): CliContext {
    return new CliContext(io, { hosts: [host], context: '', tls: false, tlsverify: false, tlscacert: '', tlscert: '', tlskey: '', changed: new Set() });
  }

  /** The docker CLI's config.json (psFormat, imagesFormat, detachKeys, auths...). */
  get config(): CliConfigFile {
    this.configInstance ??= this.configDir === undefined
      ? CliConfigFile.empty()
      : CliConfigFile.loadOrWarn(this.configDir, (m) => this.err(m + '\n'));
    return this.configInstance;
  }

  get contexts(): ContextStore {
    return new ContextStore(this.configDir ?? '');
  }

  /** The daemon this command talks to (context, host, TLS). */
  get endpoint(): Endpoint {
    this.endpointInstance ??= resolveEndpoint(this.flags, this.io.env, this.config, this.contexts);
    return this.endpointInstance;
  }

  get host(): string {
    return this.endpoint.host;
  }

  get client(): EngineClient {
    if (!this.clientInstance) {
      const ep = this.endpoint;
      this.debug(`context "${ep.context}": ${ep.host}${ep.tls ? ` (TLS${ep.tls.verify ? ', verify' : ''})` : ''}`);
      this.clientInstance = new EngineClient(ep.host, API_VERSION, ep.tls, this.logLevel === 'debug' ? (m) => this.debug(m) : undefined);
    }
    return this.clientInstance;
  }

  /** A debug line on stderr in logrus's text format, as the docker CLI prints with -D. */
  debug(msg: string): void {
    if (this.logLevel !== 'debug') return;
    const tty = (this.io.stderr as { isTTY?: boolean }).isTTY;
    this.err(tty ? `DEBU[0000] ${msg}\n` : `time="${new Date().toISOString()}" level=debug msg=${JSON.stringify(msg)}\n`);
  }

  out(s: string): void {
    this.io.stdout.write(s);
  }

  err(s: string): void {
    this.io.stderr.write(s);
  }

  close(): void {
    this.clientInstance?.close();
  }
}

export interface Command {
  spec: CommandSpec;
  run(ctx: CliContext, p: ParsedArgs): Promise<number>;
}

/** A flag's value as a string list (for list flags) */
export function list(p: ParsedArgs, name: string): string[] {
  return (p.flags[name] as string[] | undefined) ?? [];
}
export function str(p: ParsedArgs, name: string): string {
  return String(p.flags[name] ?? '');
}
export function bool(p: ParsedArgs, name: string): boolean {
  return Boolean(p.flags[name]);
}
export function num(p: ParsedArgs, name: string): number {
  return Number(p.flags[name] ?? 0);
}

/** docker's `--filter a=b` list → the API's {"a":{"b":true}} map (JSON string), or undefined. */
export function filtersParam(values: string[]): string | undefined {
  if (values.length === 0) return undefined;
  const out: Record<string, Record<string, boolean>> = {};
  for (const v of values) {
    const i = v.indexOf('=');
    if (i < 0) throw new StatusError(`bad format of filter (expected name=value)`, 125);
    const k = v.slice(0, i).trim().toLowerCase();
    (out[k] ??= {})[v.slice(i + 1).trim()] = true;
  }
  return JSON.stringify(out);
}
