import fs from 'node:fs';
import path from 'node:path';
import { HtpasswdAuth } from './htpasswd.js';
import { TokenAuth } from './token-auth.js';
import type { RegistryAuth } from './server.js';

/**
 * `berth registry serve --config FILE`: JSON; unknown keys are refused, never ignored. Relative paths are
 * taken from the config file's directory.
 *
 *   { "root": "/var/lib/berth-registry", "readOnly": false,
 *     "auth": { "htpasswd": { "realm": "berth-registry", "path": "htpasswd" } },
 *     (or "auth": { "token": { "realm": URL, "service": "...", "issuer": "...", "rootcertbundle": "certs.pem" } }),
 *     "tls": { "certificate": "cert.pem", "key": "key.pem" } }
 */
export interface RegistryConfig {
  /** The storage directory (`--root` beats it). */
  root?: string;
  readOnly: boolean;
  auth?: RegistryAuth;
  tls?: { cert: Buffer; key: Buffer };
}

type Doc = Record<string, unknown>;

export function loadRegistryConfig(file: string | undefined): RegistryConfig {
  if (!file) return { readOnly: false };
  const fail = (msg: string): never => { throw new Error(`registry config ${file}: ${msg}`); };
  let doc: Doc;
  try {
    doc = JSON.parse(fs.readFileSync(file, 'utf8')) as Doc;
  } catch (err) {
    return fail((err as Error).message);
  }
  if (!isObject(doc)) fail('not a JSON object');
  const dir = path.dirname(path.resolve(file));
  const read = (key: string, p: unknown): Buffer => {
    if (typeof p !== 'string' || p === '') return fail(`${key} must be a file path`);
    try { return fs.readFileSync(path.resolve(dir, p)); } catch (err) { return fail(`${key}: ${(err as Error).message}`); }
  };
  onlyKeys(doc, ['root', 'readOnly', 'auth', 'tls'], '', fail);
  if (doc.readOnly !== undefined && typeof doc.readOnly !== 'boolean') fail('readOnly must be a boolean');
  const cfg: RegistryConfig = { readOnly: doc.readOnly === true };
  if (doc.root !== undefined) {
    if (typeof doc.root !== 'string' || doc.root === '') fail('root must be a directory path');
    cfg.root = path.resolve(dir, doc.root as string);
  }
  if (doc.auth !== undefined) {
    const auth = objectAt(doc.auth, 'auth', fail);
    onlyKeys(auth, ['htpasswd', 'token'], 'auth.', fail);
    const kinds = Object.keys(auth);
    if (kinds.length !== 1) fail('auth needs exactly one of htpasswd and token');
  }
  if (isObject(doc.auth) && doc.auth.token !== undefined) {
    const t = objectAt(doc.auth.token, 'auth.token', fail);
    onlyKeys(t, ['realm', 'service', 'issuer', 'rootcertbundle'], 'auth.token.', fail);
    for (const k of ['realm', 'service', 'issuer']) {
      if (typeof t[k] !== 'string' || t[k] === '') fail(`token auth requires a valid option string: "${k}"`);
    }
    const bundle = read('auth.token.rootcertbundle', t.rootcertbundle).toString('utf8');
    try {
      cfg.auth = new TokenAuth({ realm: t.realm as string, service: t.service as string, issuer: t.issuer as string, rootCerts: TokenAuth.parseBundle(bundle) });
    } catch (err) { fail(`auth.token.rootcertbundle: ${(err as Error).message}`); }
  } else if (doc.auth !== undefined) {
    const auth = doc.auth as Doc;
    const h = objectAt(auth.htpasswd, 'auth.htpasswd', fail);
    onlyKeys(h, ['realm', 'path'], 'auth.htpasswd.', fail);
    if (h.realm !== undefined && typeof h.realm !== 'string') fail('auth.htpasswd.realm must be a string');
    const text = read('auth.htpasswd.path', h.path).toString('utf8');
    try {
      cfg.auth = HtpasswdAuth.parse(text, (h.realm as string | undefined) || 'berth-registry', String(h.path));
    } catch (err) { fail((err as Error).message); }
  }
  if (doc.tls !== undefined) {
    const t = objectAt(doc.tls, 'tls', fail);
    onlyKeys(t, ['certificate', 'key'], 'tls.', fail);
    cfg.tls = { cert: read('tls.certificate', t.certificate), key: read('tls.key', t.key) };
  }
  return cfg;
}

function isObject(v: unknown): v is Doc {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function objectAt(v: unknown, key: string, fail: (m: string) => never): Doc {
  if (!isObject(v)) fail(`${key} must be an object`);
  return v as Doc;
}

function onlyKeys(doc: Doc, allowed: string[], prefix: string, fail: (m: string) => never): void {
  for (const k of Object.keys(doc)) if (!allowed.includes(k)) fail(`unknown key ${JSON.stringify(prefix + k)}`);
}
