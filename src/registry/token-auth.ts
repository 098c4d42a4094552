import crypto, { X509Certificate, type KeyObject } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { Access, AuthDenial, RegistryAuth } from './server.js';

/**
 * Token auth for `berth registry`, as the distribution registry's token access controller: a request without
 * a valid bearer JWT gets a 401 with `Bearer realm=..,service=..,scope=..` naming what it needs; a JWT is
 * trusted when its `x5c` chain ends in a certificate of `rootcertbundle`, or its `kid` (or `jwk.kid`) is the
 * JWK thumbprint of one of their keys; then `iss` must be the issuer, `aud` name the service, `exp`/`nbf`
 * hold (60 s leeway), and the `access` claim grant every action the request needs (`*` grants all).
 */
export interface TokenAuthOptions { realm: string; service: string; issuer: string; rootCerts: X509Certificate[] }

interface Claims { iss?: unknown; aud?: unknown; exp?: unknown; nbf?: unknown; access?: unknown }
interface Header { alg?: unknown; kid?: unknown; x5c?: unknown; jwk?: { kid?: unknown } }

const LEEWAY_S = 60;

class TokenError extends Error {
  constructor(readonly kind: 'invalid_token' | 'insufficient_scope' | 'required', message: string) { super(message); }
}

export class TokenAuth implements RegistryAuth {
  private readonly trustedKeys = new Map<string, KeyObject>();

  constructor(private readonly opts: TokenAuthOptions) {
    if (opts.rootCerts.length === 0) throw new Error('token auth requires at least one token signing key');
    for (const c of opts.rootCerts) {
      const kid = jwkThumbprint(c.publicKey);
      if (kid) this.trustedKeys.set(kid, c.publicKey);
    }
  }

  /** Every CERTIFICATE block of a PEM bundle. */
  static parseBundle(pem: string): X509Certificate[] {
    const blocks = pem.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
    return blocks.map((b) => new X509Certificate(b));
  }

  async check(req: IncomingMessage, access: Access[]): Promise<AuthDenial | undefined> {
    try {
      const m = /^bearer\s+(\S+)\s*$/i.exec(req.headers.authorization ?? '');
      if (!m) throw new TokenError('required', 'authorization token required');
      this.authorize(this.verify(m[1]!), access);
      return undefined;
    } catch (err) {
      if (!(err instanceof TokenError)) throw err;
      return { challenge: this.challenge(access, err.kind), reason: err.message };
    }
  }

  private challenge(access: Access[], kind: TokenError['kind']): string {
    let s = `Bearer realm=${quote(this.opts.realm)},service=${quote(this.opts.service)}`;
    const scope = scopeParam(access);
    if (scope) s += `,scope=${quote(scope)}`;
    if (kind !== 'required') s += `,error=${quote(kind)}`;
    return s;
  }

  /** The claims of a token whose signature, issuer, audience and lifetime hold. */
  verify(raw: string, now = Date.now() / 1000): Claims {
    const parts = raw.split('.');
    if (parts.length !== 3) throw new TokenError('invalid_token', 'malformed token');
    const header = decodeJson(parts[0]!) as Header;
    const claims = decodeJson(parts[1]!) as Claims;
    const key = this.signingKey(header, now);
    const alg = typeof header.alg === 'string' ? header.alg : '';
    if (!verifySignature(alg, key, Buffer.from(`${parts[0]}.${parts[1]}`), Buffer.from(parts[2]!, 'base64url'))) {
      throw new TokenError('invalid_token', 'token signature does not verify');
    }
    if (claims.iss !== this.opts.issuer) throw new TokenError('invalid_token', `token from untrusted issuer: ${JSON.stringify(claims.iss)}`);
    const aud = typeof claims.aud === 'string' ? [claims.aud] : Array.isArray(claims.aud) ? claims.aud : [];
    if (!aud.includes(this.opts.service)) throw new TokenError('invalid_token', 'token intended for another audience');
    const exp = typeof claims.exp === 'number' ? claims.exp : 0;
    const nbf = typeof claims.nbf === 'number' ? claims.nbf : 0;
    if (now > exp + LEEWAY_S) throw new TokenError('invalid_token', 'token expired');
    if (now < nbf - LEEWAY_S) throw new TokenError('invalid_token', 'token not valid yet');
    return claims;
  }

  private signingKey(h: Header, now: number): KeyObject {
    if (h.x5c !== undefined) return this.verifyChain(h.x5c, now);
    const kid = typeof h.jwk?.kid === 'string' ? h.jwk.kid : typeof h.kid === 'string' ? h.kid : '';
    const key = kid ? this.trustedKeys.get(kid) : undefined;
    if (!key) throw new TokenError('invalid_token', kid ? `token signed by untrusted key with ID: ${JSON.stringify(kid)}` : 'token names no signing key');
    return key;
  }

  /** x5c: leaf first, each certificate issued by the next, the last issued by (or being) a root of the bundle. */
  private verifyChain(x5c: unknown, now: number): KeyObject {
    if (!Array.isArray(x5c) || x5c.length === 0 || !x5c.every((c) => typeof c === 'string')) throw new TokenError('invalid_token', 'malformed x5c header');
    let chain: X509Certificate[];
    try { chain = (x5c as string[]).map((c) => new X509Certificate(Buffer.from(c, 'base64'))); } catch { throw new TokenError('invalid_token', 'malformed x5c certificate'); }
    const valid = (c: X509Certificate): boolean => Date.parse(c.validFrom) / 1000 <= now && now <= Date.parse(c.validTo) / 1000;
    const issued = (child: X509Certificate, parent: X509Certificate): boolean => child.checkIssued(parent) && child.verify(parent.publicKey);
    for (let i = 0; i < chain.length; i++) {
      const c = chain[i]!;
      if (!valid(c)) throw new TokenError('invalid_token', 'x5c certificate expired or not yet valid');
      if (this.opts.rootCerts.some((r) => r.fingerprint256 === c.fingerprint256 || (valid(r) && issued(c, r)))) return chain[0]!.publicKey;
      const next = chain[i + 1];
      if (!next || !issued(c, next)) break;
    }
    throw new TokenError('invalid_token', 'x509: certificate signed by unknown authority');
  }

  private authorize(claims: Claims, access: Access[]): void {
    const granted = new Map<string, Set<string>>();
    for (const a of Array.isArray(claims.access) ? claims.access as unknown[] : []) {
      const r = a as { type?: unknown; name?: unknown; actions?: unknown };
      if (typeof r.type !== 'string' || typeof r.name !== 'string') continue;
      const key = `${r.type}:${r.name}`;
      const set = granted.get(key) ?? new Set<string>();
      for (const act of Array.isArray(r.actions) ? r.actions : []) if (typeof act === 'string') set.add(act);
      granted.set(key, set);
    }
    for (const a of access) {
      const set = granted.get(`${a.Type}:${a.Name}`);
      if (!set || !(set.has('*') || set.has(a.Action))) throw new TokenError('insufficient_scope', 'insufficient scope');
    }
  }
}

/** `repository:NAME:pull,push` per resource, resources apart by spaces, as distribution's scopeParam. */
export function scopeParam(access: Access[]): string {
  const byResource = new Map<string, string[]>();
  for (const a of access) {
    const key = `${a.Type}:${a.Name}`;
    const acts = byResource.get(key) ?? [];
    if (!acts.includes(a.Action)) acts.push(a.Action);
    byResource.set(key, acts);
  }
  return [...byResource].map(([r, acts]) => `${r}:${acts.join(',')}`).join(' ');
}

/** distribution's GetJWKThumbprint: sha256 of the key's JWK members in lexical order, base64url. */
export function jwkThumbprint(key: KeyObject): string | undefined {
  const jwk = key.export({ format: 'jwk' });
  // Go's big.Int.Bytes() has no leading zeros; a JWK's EC coordinates are fixed length.
  const trim = (v: string | undefined): string => {
    const b = Buffer.from(v ?? '', 'base64url');
    let i = 0;
    while (i < b.length - 1 && b[i] === 0) i++;
    return b.subarray(i).toString('base64url');
  };
  let text: string;
  if (jwk.kty === 'RSA') text = `{"e":"${jwk.e}","kty":"RSA","n":"${jwk.n}"}`;
  else if (jwk.kty === 'EC') text = `{"crv":"${jwk.crv}","kty":"EC","x":"${trim(jwk.x)}","y":"${trim(jwk.y)}"}`;
  else if (jwk.kty === 'OKP' && jwk.crv === 'Ed25519') text = `{"crv":"Ed25519","kty":"OKP","x":"${jwk.x}"}`;
  else return undefined;
  return crypto.createHash('sha256').update(text).digest('base64url');
}

function verifySignature(alg: string, key: KeyObject, data: Buffer, sig: Buffer): boolean {
  const m = /^(RS|PS|ES)(256|384|512)$/.exec(alg);
  try {
    if (alg === 'EdDSA') return key.asymmetricKeyType === 'ed25519' && crypto.verify(null, data, key, sig);
    if (!m) return false;
    const hash = `sha${m[2]}`;
    if (m[1] === 'RS') return key.asymmetricKeyType === 'rsa' && crypto.verify(hash, data, key, sig);
    if (m[1] === 'PS') return key.asymmetricKeyType === 'rsa' && crypto.verify(hash, data, { key, padding: crypto.constants.RSA_PKCS1_PSS_PADDING, saltLength: Number(m[2]) / 8 }, sig);
    const curve = { 256: 'prime256v1', 384: 'secp384r1', 512: 'secp521r1' }[m[2] as '256' | '384' | '512'];
    return key.asymmetricKeyType === 'ec' && key.asymmetricKeyDetails?.namedCurve === curve
      && crypto.verify(hash, data, { key, dsaEncoding: 'ieee-p1363' }, sig);
  } catch {
    return false;
  }
}

function decodeJson(part: string): Record<string, unknown> {
  try {
    const v = JSON.parse(Buffer.from(part, 'base64url').toString('utf8')) as unknown;
    if (v && typeof v === 'object' && !Array.isArray(v)) return v as Record<string, unknown>;
  } catch { /* falls through */ }
  throw new TokenError('invalid_token', 'malformed token');
}

function quote(s: string): string { return JSON.stringify(s); }
