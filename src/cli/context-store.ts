/**
 * Docker contexts, stored as the docker CLI stores them so `docker context ls` and `berth context ls` agree:
 *
 *   CONFIG/contexts/meta/<sha256(name)>/meta.json   {"Name","Metadata":{"Description"},"Endpoints":{"docker":{"Host","SkipTLSVerify"}}}
 *   CONFIG/contexts/tls/<sha256(name)>/docker/      ca.pem, cert.pem, key.pem (copied in at create)
 *
 * "default" is never stored: it is the endpoint that -H / DOCKER_HOST / the TLS flags describe.
 */
import fs from 'node:fs';
import path from 'node:path';
import { lazyBuiltin } from '../client/lazy-builtin.js';

const crypto = lazyBuiltin<typeof import('node:crypto')>('node:crypto');

export const NAME_RE = /^[a-zA-Z0-9][a-zA-Z0-9_.+-]+$/;

export interface ContextMeta {
  Name: string;
  Metadata: { Description?: string };
  Endpoints: { docker: { Host: string; SkipTLSVerify: boolean } };
}

export interface TlsFiles { ca?: Buffer; cert?: Buffer; key?: Buffer }

export class ContextError extends Error {}

export function validateName(name: string): void {
  if (name === 'default') throw new ContextError('"default" is a reserved context name');
  if (!NAME_RE.test(name)) throw new ContextError(`context name "${name}" is invalid, names are validated against regexp "${NAME_RE.source}"`);
}

export class ContextStore {
  constructor(readonly configDir: string) {}

  private id(name: string): string {
    return crypto().createHash('sha256').update(name).digest('hex');
  }

  metaDir(name: string): string { return path.join(this.configDir, 'contexts', 'meta', this.id(name)); }
  tlsDir(name: string): string { return path.join(this.configDir, 'contexts', 'tls', this.id(name)); }

  exists(name: string): boolean {
    return fs.existsSync(path.join(this.metaDir(name), 'meta.json'));
  }

  get(name: string): ContextMeta {
    let text: string;
    try {
      text = fs.readFileSync(path.join(this.metaDir(name), 'meta.json'), 'utf8');
    } catch {
      throw new ContextError(`context "${name}" does not exist`);
    }
    const m = JSON.parse(text) as ContextMeta;
    m.Metadata ??= {};
    return m;
  }

  /** Every stored context, sorted by name (a directory with a broken meta.json is skipped). */
  list(): ContextMeta[] {
    const root = path.join(this.configDir, 'contexts', 'meta');
    let dirs: string[] = [];
    try { dirs = fs.readdirSync(root); } catch { /* none yet */ }
    const out: ContextMeta[] = [];
    for (const d of dirs) {
      try {
        const m = JSON.parse(fs.readFileSync(path.join(root, d, 'meta.json'), 'utf8')) as ContextMeta;
        if (m && typeof m.Name === 'string') { m.Metadata ??= {}; out.push(m); }
      } catch { /* not a context */ }
    }
    return out.sort((a, b) => a.Name.localeCompare(b.Name));
  }

  tlsFiles(name: string): TlsFiles | undefined {
    const dir = path.join(this.tlsDir(name), 'docker');
    const read = (f: string) => { try { return fs.readFileSync(path.join(dir, f)); } catch { return undefined; } };
    const t: TlsFiles = { ca: read('ca.pem'), cert: read('cert.pem'), key: read('key.pem') };
    return t.ca || t.cert || t.key ? t : undefined;
  }

  /** Writes meta.json (and the TLS files) for a new context; nothing is left behind on failure. */
  create(meta: ContextMeta, tls?: TlsFiles): void {
    if (this.exists(meta.Name)) throw new ContextError(`context "${meta.Name}" already exists`);
    const mdir = this.metaDir(meta.Name);
    const tdir = path.join(this.tlsDir(meta.Name), 'docker');
    try {
      if (tls && (tls.ca || tls.cert || tls.key)) {
        fs.mkdirSync(tdir, { recursive: true, mode: 0o700 });
        if (tls.ca) fs.writeFileSync(path.join(tdir, 'ca.pem'), tls.ca, { mode: 0o600 });
        if (tls.cert) fs.writeFileSync(path.join(tdir, 'cert.pem'), tls.cert, { mode: 0o600 });
        if (tls.key) fs.writeFileSync(path.join(tdir, 'key.pem'), tls.key, { mode: 0o600 });
      }
      fs.mkdirSync(mdir, { recursive: true, mode: 0o755 });
      const tmp = path.join(mdir, '.meta.json.tmp');
      fs.writeFileSync(tmp, JSON.stringify(meta), { mode: 0o644 });
      fs.renameSync(tmp, path.join(mdir, 'meta.json'));
    } catch (e) {
      this.remove(meta.Name);
      throw e;
    }
  }

  remove(name: string): void {
    fs.rmSync(this.metaDir(name), { recursive: true, force: true });
    fs.rmSync(this.tlsDir(name), { recursive: true, force: true });
  }
}
