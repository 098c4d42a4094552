/**
 * Which daemon a command talks to, decided as the docker CLI decides it:
 *
 *   context = --context | "default" if -H, BERTH_HOST or DOCKER_HOST is set | DOCKER_CONTEXT | config.json currentContext | "default"
 *   default → host from -H | BERTH_HOST | DOCKER_HOST | berth's socket, TLS from --tls/--tlsverify/--tls{cacert,cert,key},
 *             DOCKER_TLS_VERIFY, DOCKER_TLS and DOCKER_CERT_PATH (default: the config dir) with ca.pem/cert.pem/key.pem
 *   NAME    → the stored context's Host; TLS from its TLS files and SkipTLSVerify
 *
 * Settings that cannot act are refused rather than dropped: --host with --context, TLS flags with a
 * unix socket or with a named context, a client cert without its key, --tlscacert without TLS.
 */
import fs from 'node:fs';
import path from 'node:path';
import { DEFAULT_HOST, type ClientTls } from '../client/engine-client.js';
import type { CliConfigFile } from './config-file.js';
import { ContextError, type ContextStore } from './context-store.js';

/** The global flags that pick the endpoint. `changed` holds the flag names given on the command line. */
export interface EndpointFlags {
  hosts: string[];
  context: string;
  tls: boolean;
  tlsverify: boolean;
  tlscacert: string;
  tlscert: string;
  tlskey: string;
  changed: ReadonlySet<string>;
}

export interface Endpoint {
  context: string;
  host: string;
  tls?: ClientTls;
}

type Env = Record<string, string | undefined>;

const TLS_FLAGS = ['tls', 'tlsverify', 'tlscacert', 'tlscert', 'tlskey'];

export function envHost(env: Env): string | undefined {
  return env.BERTH_HOST || env.DOCKER_HOST || undefined;
}

export function contextName(f: EndpointFlags, env: Env, config: CliConfigFile): string {
  if (f.context && f.hosts.length) throw new ContextError('conflicting options: cannot specify both --host and --context');
  if (f.context) return f.context;
  if (f.hosts.length || envHost(env)) return 'default';
  return env.DOCKER_CONTEXT || config.currentContext || 'default';
}

/** The default context's host (what `context ls` shows for "default"). */
export function defaultHost(f: Pick<EndpointFlags, 'hosts'>, env: Env): string {
  return f.hosts[f.hosts.length - 1] || envHost(env) || DEFAULT_HOST;
}

const isUnix = (h: string) => h.startsWith('unix://') || h.startsWith('/');

function readPem(what: string, file: string): Buffer {
  try {
    return fs.readFileSync(file);
  } catch (e) {
    throw new ContextError(`could not read ${what} "${file}": ${(e as Error).message}`);
  }
}

/** TLS of the default context, or undefined for plain HTTP. */
export function defaultTls(f: EndpointFlags, env: Env, configDir: string, host: string): ClientTls | undefined {
  const verify = f.changed.has('tlsverify') ? f.tlsverify : !!env.DOCKER_TLS_VERIFY;
  // any --tlsverify (even =false) turns TLS on, as docker's
  const on = f.tls || verify || f.changed.has('tlsverify') || (!f.changed.has('tls') && !!env.DOCKER_TLS);
  const flagged = TLS_FLAGS.filter((n) => f.changed.has(n) && n !== 'tls' && n !== 'tlsverify');
  if (!on) {
    if (flagged.length) throw new ContextError(`--${flagged[0]} needs --tls or --tlsverify`);
    return undefined;
  }
  if (isUnix(host)) {
    // an exported DOCKER_TLS_VERIFY does not apply to a socket (docker ignores it too); a flag does not either, so refuse it
    if (f.changed.has('tls') || f.changed.has('tlsverify') || flagged.length) throw new ContextError(`TLS applies to tcp:// hosts only, not ${host}`);
    return undefined;
  }
  const certPath = env.DOCKER_CERT_PATH || configDir;
  const pick = (flag: 'tlscacert' | 'tlscert' | 'tlskey', file: string): string | undefined => {
    if (f.changed.has(flag)) return f[flag];
    const p = path.join(certPath, file);
    return fs.existsSync(p) ? p : undefined;
  };
  const caFile = pick('tlscacert', 'ca.pem');
  const certFile = pick('tlscert', 'cert.pem');
  const keyFile = pick('tlskey', 'key.pem');
  if (!!certFile !== !!keyFile) throw new ContextError(certFile ? '--tlscert needs --tlskey' : '--tlskey needs --tlscert');
  return {
    verify,
    ca: caFile ? readPem('CA certificate', caFile) : undefined,
    cert: certFile ? readPem('client certificate', certFile) : undefined,
    key: keyFile ? readPem('client key', keyFile) : undefined,
  };
}

export function resolveEndpoint(f: EndpointFlags, env: Env, config: CliConfigFile, store: ContextStore): Endpoint {
  const name = contextName(f, env, config);
  if (name === 'default') {
    const host = defaultHost(f, env);
    return { context: name, host, tls: defaultTls(f, env, config.dir || store.configDir, host) };
  }
  const tlsFlag = TLS_FLAGS.find((n) => f.changed.has(n));
  if (tlsFlag) throw new ContextError(`--${tlsFlag} applies to the default context only; context "${name}" has its own TLS settings`);
  if (!store.exists(name)) {
    if (!f.context && !env.DOCKER_CONTEXT) {
      throw new ContextError(`Current context "${name}" is not found on the file system, please check your config file at ${path.join(store.configDir, 'config.json')}`);
    }
    throw new ContextError(`context "${name}" does not exist`);
  }
  const meta = store.get(name);
  const ep = meta.Endpoints?.docker;
  if (!ep?.Host) throw new ContextError(`context "${name}" has no docker endpoint`);
  const files = store.tlsFiles(name);
  const tls = !isUnix(ep.Host) && (files || ep.SkipTLSVerify) ? { verify: !ep.SkipTLSVerify, ...files } : undefined;
  return { context: name, host: ep.Host, tls };
}
