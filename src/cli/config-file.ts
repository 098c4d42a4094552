/**
 * The docker CLI's client configuration, read and written as docker 28 does, so `berth` and `docker`
 * share one `config.json`:
 *
 *   dir  = --config DIR | $DOCKER_CONFIG | $HOME/.docker
 *   dir/config.json     psFormat, imagesFormat, detachKeys, currentContext, auths, credsStore, credHelpers
 *   dir/contexts/       see context-store.ts
 *
 * Credentials: `auths[server].auth` is base64("user:password") (plus `identitytoken`); when `credsStore`
 * or `credHelpers[server]` names a helper, the secret lives in `docker-credential-<helper>` instead
 * (protocol: `get`/`store`/`erase` with the server URL or a JSON record on stdin) and `auths` keeps only
 * an empty entry for the server, as docker writes it. Keys this module does not know are kept on save.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { lazyBuiltin } from '../client/lazy-builtin.js';

const childProcess = lazyBuiltin<typeof import('node:child_process')>('node:child_process');

export const CONFIG_FILE_NAME = 'config.json';
/** Docker Hub's key in `auths` (docker's registry.IndexServer). */
export const INDEX_SERVER = 'https://index.docker.io/v1/';

/** One registry's credentials, as the Engine API's AuthConfig (X-Registry-Auth) spells them. */
export interface AuthConfig {
  username?: string;
  password?: string;
  serveraddress?: string;
  identitytoken?: string;
  registrytoken?: string;
  email?: string;
}

/** Runs `docker-credential-<name> <action>` with `input` on stdin; injectable for tests. */
export type HelperRunner = (helper: string, action: 'get' | 'store' | 'erase' | 'list', input: string) => { code: number; stdout: string; stderr: string };

export class ConfigFileError extends Error {}

/** --config wins, then DOCKER_CONFIG, then ~/.docker (HOME from the given env, as the CLI sees it). */
export function configDir(flag: string | undefined, env: Record<string, string | undefined>): string {
  if (flag) return flag;
  if (env.DOCKER_CONFIG) return env.DOCKER_CONFIG;
  return path.join(env.HOME || os.homedir(), '.docker');
}

/** Docker's registry.ConvertToHostname: "https://host:5000/v2/" → "host:5000". */
export function hostnameOf(server: string): string {
  let s = server.replace(/^https?:\/\//, '');
  const slash = s.indexOf('/');
  if (slash >= 0) s = s.slice(0, slash);
  return s;
}

/** The `auths` key for a registry host: Docker Hub's aliases all map to INDEX_SERVER. */
export function authKey(server: string): string {
  const h = hostnameOf(server);
  if (h === 'docker.io' || h === 'index.docker.io' || h === 'registry-1.docker.io') return INDEX_SERVER;
  return server;
}

export function encodeAuth(username: string, password: string): string {
  return Buffer.from(`${username}:${password}`, 'utf8').toString('base64');
}

/** Decodes an `auth` field; docker refuses a value without the colon ("invalid auth configuration file"). */
export function decodeAuth(auth: string): { username: string; password: string } {
  const text = Buffer.from(auth, 'base64').toString('utf8');
  const i = text.indexOf(':');
  if (i < 0) throw new ConfigFileError('invalid auth configuration file');
  return { username: text.slice(0, i), password: text.slice(i + 1).replace(/\0+$/, '') };
}

/** The X-Registry-Auth header value: base64url JSON, as the docker CLI sends it. */
export function encodeAuthHeader(a: AuthConfig): string {
  return Buffer.from(JSON.stringify(a), 'utf8').toString('base64url');
}

const defaultRunner: HelperRunner = (helper, action, input) => {
  const r = childProcess().spawnSync(`docker-credential-${helper}`, [action], { input, encoding: 'utf8', timeout: 30_000 });
  if (r.error) {
    const code = (r.error as NodeJS.ErrnoException).code;
    const msg = code === 'ENOENT' ? `exec: "docker-credential-${helper}": executable file not found in $PATH` : r.error.message;
    return { code: -1, stdout: '', stderr: msg };
  }
  return { code: r.status ?? 1, stdout: r.stdout, stderr: r.stderr };
};

/** A credential helper's "not found" answer (docker-credential-helpers' credentials.NotFound text). */
const NOT_FOUND = /credentials not found/i;

type Json = Record<string, unknown>;

export class CliConfigFile {
  /** the whole parsed file: unknown keys survive a save */
  private raw: Json;

  private constructor(readonly dir: string, raw: Json, private readonly runner: HelperRunner) {
    this.raw = raw;
  }

  get file(): string { return path.join(this.dir, CONFIG_FILE_NAME); }

  /**
   * Reads DIR/config.json; a missing file is an empty configuration. A malformed one is an error,
   * which the CLI prints as docker's warning and then goes on with defaults (see `loadOrWarn`).
   */
  static load(dir: string, runner: HelperRunner = defaultRunner): CliConfigFile {
    const file = path.join(dir, CONFIG_FILE_NAME);
    let text: string;
    try {
      text = fs.readFileSync(file, 'utf8');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return new CliConfigFile(dir, {}, runner);
      throw new ConfigFileError(`loading config file: ${file}: ${(e as Error).message}`);
    }
    let raw: unknown;
    try {
      raw = text.trim() ? JSON.parse(text) : {};
    } catch (e) {
      throw new ConfigFileError(`loading config file: ${file}: ${(e as Error).message}`);
    }
    if (!raw || typeof raw !== 'object' || Array.isArray(raw)) throw new ConfigFileError(`loading config file: ${file}: not a JSON object`);
    return new CliConfigFile(dir, raw as Json, runner);
  }

  /** No file at all (in-process callers that pass no config dir). */
  static empty(): CliConfigFile {
    return new CliConfigFile('', {}, defaultRunner);
  }

  /** As the docker CLI: a broken config.json is a warning on stderr, not a failure. */
  static loadOrWarn(dir: string, warn: (msg: string) => void, runner: HelperRunner = defaultRunner): CliConfigFile {
    try {
      return CliConfigFile.load(dir, runner);
    } catch (e) {
      warn(`WARNING: Error ${(e as Error).message}`);
      return new CliConfigFile(dir, {}, runner);
    }
  }

  private strField(name: string): string | undefined {
    const v = this.raw[name];
    return typeof v === 'string' && v !== '' ? v : undefined;
  }

  get psFormat(): string | undefined { return this.strField('psFormat'); }
  get imagesFormat(): string | undefined { return this.strField('imagesFormat'); }
  get detachKeys(): string | undefined { return this.strField('detachKeys'); }
  get currentContext(): string | undefined { return this.strField('currentContext'); }
  get credsStore(): string | undefined { return this.strField('credsStore'); }

  set currentContext(name: string | undefined) {
    // docker writes "" for the default context by dropping the key
    if (!name || name === 'default') delete this.raw.currentContext;
    else this.raw.currentContext = name;
  }

  private get auths(): Record<string, Json> {
    const a = this.raw.auths;
    if (a && typeof a === 'object' && !Array.isArray(a)) return a as Record<string, Json>;
    const fresh: Record<string, Json> = {};
    this.raw.auths = fresh;
    return fresh;
  }

  /** The helper for a server: credHelpers[host] first, then credsStore; undefined = the file itself. */
  helperFor(server: string): string | undefined {
    const ch = this.raw.credHelpers;
    if (ch && typeof ch === 'object') {
      const h = (ch as Record<string, unknown>)[hostnameOf(server)] ?? (ch as Record<string, unknown>)[authKey(server)];
      if (typeof h === 'string' && h) return h;
    }
    return this.credsStore;
  }

  /** The `auths` entry for a server, found by exact key or by hostname (docker accepts both spellings). */
  private authEntry(server: string): [string, Json] | undefined {
    const key = authKey(server);
    const auths = this.auths;
    if (auths[key]) return [key, auths[key]!];
    const host = hostnameOf(key);
    for (const [k, v] of Object.entries(auths)) if (hostnameOf(k) === host && v && typeof v === 'object') return [k, v];
    return undefined;
  }

  /** Credentials for `server` (a hostname or URL); undefined when none are stored. */
  getAuth(server: string): AuthConfig | undefined {
    const key = authKey(server);
    const helper = this.helperFor(server);
    if (helper) {
      const r = this.runner(helper, 'get', key);
      if (r.code !== 0) {
        if (NOT_FOUND.test(r.stdout) || NOT_FOUND.test(r.stderr)) return undefined;
        throw new ConfigFileError(`error getting credentials - err: ${(r.stderr || r.stdout).trim() || `exit status ${r.code}`}, out: \`${r.stdout.trim()}\``);
      }
      let j: { Username?: string; Secret?: string };
      try { j = JSON.parse(r.stdout) as typeof j; } catch { throw new ConfigFileError(`error getting credentials - invalid helper output: ${r.stdout.trim()}`); }
      if (!j.Username && !j.Secret) return undefined;
      // docker-credential-helpers mark an identity token with the user name "<token>"
      if (j.Username === '<token>') return { serveraddress: key, identitytoken: j.Secret ?? '' };
      return { serveraddress: key, username: j.Username ?? '', password: j.Secret ?? '' };
    }
    const found = this.authEntry(server);
    if (!found) return undefined;
    const [k, e] = found;
    const out: AuthConfig = { serveraddress: k };
    if (typeof e.auth === 'string' && e.auth) Object.assign(out, decodeAuth(e.auth));
    else {
      if (typeof e.username === 'string') out.username = e.username;
      if (typeof e.password === 'string') out.password = e.password;
    }
    if (typeof e.identitytoken === 'string' && e.identitytoken) out.identitytoken = e.identitytoken;
    if (typeof e.registrytoken === 'string' && e.registrytoken) out.registrytoken = e.registrytoken;
    if (!out.username && !out.password && !out.identitytoken && !out.registrytoken) return undefined;
    return out;
  }

  /** Stores credentials (through the helper when one is configured) and saves config.json. */
  storeAuth(server: string, a: AuthConfig): void {
    const key = authKey(server);
    const helper = this.helperFor(server);
    if (helper) {
      const record = a.identitytoken
        ? { ServerURL: key, Username: '<token>', Secret: a.identitytoken }
        : { ServerURL: key, Username: a.username ?? '', Secret: a.password ?? '' };
      const r = this.runner(helper, 'store', JSON.stringify(record));
      if (r.code !== 0) throw new ConfigFileError(`error storing credentials - err: ${(r.stderr || r.stdout).trim() || `exit status ${r.code}`}, out: \`${r.stdout.trim()}\``);
      this.auths[key] = {};
    } else {
      const entry: Json = { auth: encodeAuth(a.username ?? '', a.password ?? '') };
      if (a.identitytoken) entry.identitytoken = a.identitytoken;
      const old = this.authEntry(server);
      if (old && old[0] !== key) delete this.auths[old[0]];
      this.auths[key] = entry;
    }
    this.save();
  }

  /** Forgets a server's credentials; false when there were none (docker logout says "Not logged in"). */
  eraseAuth(server: string): boolean {
    const key = authKey(server);
    const helper = this.helperFor(server);
    let had = false;
    if (helper) {
      const r = this.runner(helper, 'erase', key);
      if (r.code === 0) had = true;
      else if (!(NOT_FOUND.test(r.stdout) || NOT_FOUND.test(r.stderr))) {
        throw new ConfigFileError(`error erasing credentials - err: ${(r.stderr || r.stdout).trim() || `exit status ${r.code}`}, out: \`${r.stdout.trim()}\``);
      }
    }
    const found = this.authEntry(server);
    if (found) { delete this.auths[found[0]]; had = true; }
    if (had) this.save();
    return had;
  }

  /** Servers with an `auths` entry (for `docker logout` hints and tests). */
  authServers(): string[] {
    return Object.keys(this.auths);
  }

  /** Writes config.json atomically with mode 0600, as docker does (it may hold passwords). */
  save(): void {
    fs.mkdirSync(this.dir, { recursive: true, mode: 0o700 });
    const raw = { ...this.raw };
    if (raw.auths && typeof raw.auths === 'object' && Object.keys(raw.auths).length === 0) delete raw.auths;
    const tmp = path.join(this.dir, `.${CONFIG_FILE_NAME}.${process.pid}.tmp`);
    fs.writeFileSync(tmp, JSON.stringify(raw, null, '\t') + '\n', { mode: 0o600 });
    // keep the owner and mode of an existing file (a shared ~/.docker may belong to the user under sudo)
    try {
      const st = fs.statSync(this.file);
      fs.chmodSync(tmp, st.mode & 0o777);
      if (process.getuid?.() === 0) fs.chownSync(tmp, st.uid, st.gid);
    } catch { /* new file */ }
    fs.renameSync(tmp, this.file);
  }
}
