/**
 * What every command gets: injected stdio and environment (so tests run the CLI in-process with
 * PassThrough streams), the binary name for messages, and a lazily built Engine API client.
 */
import type { Readable, Writable } from 'node:stream';
import { DEFAULT_HOST, EngineClient } from '../client/engine-client.js';
import { CliConfigFile } from './config-file.js';
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

  /** `configDir`: where config.json lives (--config / DOCKER_CONFIG / ~/.docker), read on first use. */
  constructor(readonly io: CliIO, readonly host: string, readonly configDir?: string) {}

  /** The docker CLI's config.json (psFormat, imagesFormat, detachKeys, auths...). */
  get config(): CliConfigFile {
    this.configInstance ??= this.configDir === undefined
      ? CliConfigFile.empty()
      : CliConfigFile.loadOrWarn(this.configDir, (m) => this.err(m + '\n'));
    return this.configInstance;
  }

  static resolveHost(flagHosts: string[], env: Record<string, string | undefined>): string {
    return flagHosts[flagHosts.length - 1] || env.BERTH_HOST || env.DOCKER_HOST || DEFAULT_HOST;
  }

  get client(): EngineClient {
    this.clientInstance ??= new EngineClient(this.host);
    return this.clientInstance;
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
