import { createHash } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { AuthDenial, RegistryAuth } from './server.js';
import bcrypt from 'bcryptjs';

/**
 * htpasswd basic auth for `berth registry`, as the distribution registry's htpasswd access controller: the
 * file holds `user:hash` lines with bcrypt hashes (`htpasswd -B`); any other hash kind is refused when the
 * file is loaded, never silently treated as a mismatch. A 401 carries `Basic realm="<realm>"`.
 */
export class HtpasswdAuth implements RegistryAuth {
  /** sha256 of Authorization headers already verified, so bcrypt runs once per credential (bounded). */
  private readonly verified = new Set<string>();

  private constructor(private readonly entries: ReadonlyMap<string, string>, readonly realm: string) {}

  static parse(text: string, realm: string, source = 'htpasswd'): HtpasswdAuth {
    const entries = new Map<string, string>();
    text.split('\n').forEach((raw, i) => {
      const line = raw.trim();
      if (line === '' || line.startsWith('#')) return;
      const colon = line.indexOf(':');
      if (colon <= 0) throw new Error(`${source} line ${i + 1}: want user:hash`);
      const hash = line.slice(colon + 1);
      if (!/^\$2[aby]\$\d\d\$[./A-Za-z0-9]{53}$/.test(hash)) throw new Error(`${source} line ${i + 1}: only bcrypt entries are supported (make them with htpasswd -B)`);
      entries.set(line.slice(0, colon), hash);
    });
    return new HtpasswdAuth(entries, realm);
  }

  get challenge(): string { return `Basic realm="${this.realm.replace(/["\\]/g, '')}"`; }

  /** Undefined when the request carries valid credentials (any user may do anything), else the 401's challenge. */
  async check(req: IncomingMessage): Promise<AuthDenial | undefined> {
    const ok = await this.valid(req);
    return ok ? undefined : { challenge: this.challenge };
  }

  private async valid(req: IncomingMessage): Promise<boolean> {
    const h = req.headers.authorization ?? '';
    const m = /^Basic\s+([A-Za-z0-9+/=]+)\s*$/i.exec(h);
    if (!m) return false;
    const key = createHash('sha256').update(h).digest('hex');
    if (this.verified.has(key)) return true;
    const text = Buffer.from(m[1]!, 'base64').toString('utf8');
    const colon = text.indexOf(':');
    if (colon < 0) return false;
    const hash = this.entries.get(text.slice(0, colon));
    // Unknown users cost a bcrypt round too, so timing does not tell which names exist.
    const ok = await bcrypt.compare(text.slice(colon + 1), hash ?? await dummyHash());
    if (!ok || !hash) return false;
    if (this.verified.size >= 1024) this.verified.clear();
    this.verified.add(key);
    return true;
  }
}

let dummy: Promise<string> | undefined;
const dummyHash = (): Promise<string> => (dummy ??= bcrypt.hash('berth', 10));
