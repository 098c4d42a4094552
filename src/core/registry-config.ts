import { InvalidParameterError } from '../errors.js';

/**
 * daemon.json `insecure-registries` and `registry-mirrors` as dockerd reads them (moby's
 * daemon/pkg/registry/config.go): validation in its words, the ServiceConfig `docker info` shows, and
 * which registries are secure. Pure: a host name's addresses come in from the caller.
 */

export interface IndexInfo { Name: string; Mirrors: string[]; Secure: boolean; Official: boolean }

/** The Engine API's RegistryServiceConfig (without the deprecated nondistributable fields). */
export interface RegistryServiceConfig {
  InsecureRegistryCIDRs: string[];
  IndexConfigs: Record<string, IndexInfo>;
  Mirrors: string[];
}

export const INDEX_NAME = 'docker.io';

const domainComponent = '(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])';
const HOST_PORT = new RegExp(`^(?:${domainComponent}(?:\\.${domainComponent})*|\\[[a-fA-F0-9:]+\\])(?::[0-9]+)?$`);

interface Prefix { v6: boolean; base: bigint; bits: number }

function parseV4(s: string): bigint | undefined {
  const p = s.split('.');
  if (p.length !== 4 || p.some((x) => !/^(0|[1-9]\d{0,2})$/.test(x) || Number(x) > 255)) return undefined;
  return p.reduce((a, x) => (a << 8n) | BigInt(Number(x)), 0n);
}

function parseV6(s: string): bigint | undefined {
  if (!s.includes(':')) return undefined;
  let text = s;
  const last = text.lastIndexOf(':');
  if (text.slice(last + 1).includes('.')) {
    const v4 = parseV4(text.slice(last + 1));
    if (v4 === undefined) return undefined;
    text = `${text.slice(0, last + 1)}${(v4 >> 16n).toString(16)}:${(v4 & 0xffffn).toString(16)}`;
  }
  const halves = text.split('::');
  if (halves.length > 2) return undefined;
  const groups = (h: string) => (h === '' ? [] : h.split(':'));
  const head = groups(halves[0]!);
  const tail = halves.length === 2 ? groups(halves[1]!) : [];
  if ([...head, ...tail].some((g) => !/^[0-9a-fA-F]{1,4}$/.test(g))) return undefined;
  const fill = halves.length === 2 ? 8 - head.length - tail.length : 0;
  if (halves.length === 2 ? fill < 1 : head.length !== 8) return undefined;
  return [...head, ...Array<string>(fill).fill('0'), ...tail].reduce((a, g) => (a << 16n) | BigInt(parseInt(g, 16)), 0n);
}

/** An address as Go's netip.ParseAddr takes it (no zone), IPv4-mapped IPv6 unmapped as Addr.Unmap. */
export function parseAddr(s: string): { v6: boolean; value: bigint } | undefined {
  const v4 = parseV4(s);
  if (v4 !== undefined) return { v6: false, value: v4 };
  const v6 = parseV6(s);
  if (v6 === undefined) return undefined;
  if (v6 >> 32n === 0xffffn) return { v6: false, value: v6 & 0xffffffffn };
  return { v6: true, value: v6 };
}

function parsePrefix(s: string): Prefix | undefined {
  const m = /^([^/]+)\/(\d{1,3})$/.exec(s);
  if (!m) return undefined;
  const v4 = parseV4(m[1]!);
  const v6 = v4 === undefined ? parseV6(m[1]!) : undefined;
  if (v4 === undefined && v6 === undefined) return undefined;
  const width = v4 !== undefined ? 32 : 128;
  const bits = Number(m[2]);
  if (bits > width) return undefined;
  const value = (v4 ?? v6)!;
  const mask = ((1n << BigInt(width)) - 1n) ^ ((1n << BigInt(width - bits)) - 1n);
  return { v6: width === 128, base: value & mask, bits };
}

function prefixString(p: Prefix): string {
  if (!p.v6) return `${[24n, 16n, 8n, 0n].map((s) => String((p.base >> s) & 0xffn)).join('.')}/${p.bits}`;
  const g = Array.from({ length: 8 }, (_, i) => Number((p.base >> BigInt(112 - 16 * i)) & 0xffffn));
  // RFC 5952: the longest run of two or more zero groups becomes '::'
  let best = -1; let len = 0;
  for (let i = 0; i < 8;) {
    if (g[i] !== 0) { i++; continue; }
    let j = i; while (j < 8 && g[j] === 0) j++;
    if (j - i > len && j - i >= 2) { best = i; len = j - i; }
    i = j;
  }
  const hex = (a: number[]) => a.map((x) => x.toString(16)).join(':');
  const text = best < 0 ? hex(g) : `${hex(g.slice(0, best))}::${hex(g.slice(best + len))}`;
  return `${text}/${p.bits}`;
}

function contains(p: Prefix, a: { v6: boolean; value: bigint }): boolean {
  if (p.v6 !== a.v6) return false;
  const width = p.v6 ? 128 : 32;
  return a.value >> BigInt(width - p.bits) === p.base >> BigInt(width - p.bits);
}

function stringList(v: unknown, key: string): string[] {
  if (v === undefined || v === null) return [];
  if (!Array.isArray(v) || v.some((x) => typeof x !== 'string')) throw new InvalidParameterError(`${key} must be a list of strings`);
  return v as string[];
}

/** moby's ValidateMirror: http(s) only, no query, fragment or user info; a path is a prefix. Normalized with one trailing '/'. */
export function validateMirror(mirror: string): string {
  const cut = mirror.indexOf('://');
  if (cut <= 0) throw new InvalidParameterError(`invalid mirror: no scheme specified for ${JSON.stringify(mirror)}: must use either 'https://' or 'http://'`);
  let u: URL;
  try { u = new URL(mirror); } catch {
    throw new InvalidParameterError(`invalid mirror: ${JSON.stringify(mirror)} is not a valid URI`);
  }
  const scheme = mirror.slice(0, cut);
  if (scheme !== 'http' && scheme !== 'https') {
    throw new InvalidParameterError(`invalid mirror: unsupported scheme ${JSON.stringify(scheme)} in ${JSON.stringify(mirror)}: must use either 'https://' or 'http://'`);
  }
  if (u.search !== '' || u.hash !== '' || /[?#]/.test(mirror)) throw new InvalidParameterError(`invalid mirror: query or fragment at end of the URI ${JSON.stringify(mirror)}`);
  if (u.username !== '' || u.password !== '') {
    throw new InvalidParameterError(`invalid mirror: username/password not allowed in URI ${JSON.stringify(`${scheme}://${u.username}:xxxxx@${u.host}${u.pathname === '/' ? '' : u.pathname}`)}`);
  }
  return `${mirror.replace(/\/+$/, '')}/`;
}

function validateHostPort(s: string): void {
  const { host, port } = splitHostPort(s);
  if (!HOST_PORT.test(s) && parseAddr(host) === undefined) throw new InvalidParameterError(`insecure registry ${s} is not valid: invalid host ${JSON.stringify(host)}`);
  if (port !== undefined && (!/^\d+$/.test(port) || Number(port) > 65535)) throw new InvalidParameterError(`insecure registry ${s} is not valid: invalid port ${JSON.stringify(port)}`);
}

/** Go's net.SplitHostPort, falling back to the whole text as the host (as moby does when it fails). */
export function splitHostPort(s: string): { host: string; port?: string } {
  const b = /^\[([^\]]*)\]:([^:]*)$/.exec(s);
  if (b) return { host: b[1]!, port: b[2]! };
  const i = s.lastIndexOf(':');
  if (i >= 0 && s.indexOf(':') === i && !s.startsWith('[')) return { host: s.slice(0, i), port: s.slice(i + 1) };
  return { host: s };
}

/**
 * newServiceConfig: mirrors (deduplicated, normalized), then insecure registries: CIDRs (masked,
 * deduplicated) and host[:port] names; `::1/128` and `127.0.0.0/8` are always insecure. A leading
 * http:// or https:// on an insecure registry is removed with a warning, other schemes are refused.
 */
export function registryServiceConfig(raw: { mirrors?: unknown; insecure?: unknown }): { config: RegistryServiceConfig; warnings: string[] } {
  const warnings: string[] = [];
  const mirrors: string[] = [];
  for (const m of stringList(raw.mirrors, 'registry-mirrors')) {
    const v = validateMirror(m);
    if (!mirrors.includes(v)) mirrors.push(v);
  }
  const cidrs: string[] = [];
  const indexConfigs: Record<string, IndexInfo> = {};
  for (let r of [...stringList(raw.insecure, 'insecure-registries'), '::1/128', '127.0.0.0/8']) {
    const name = r === 'index.docker.io' ? INDEX_NAME : r;
    if (name.startsWith('-') || name.endsWith('-')) throw new InvalidParameterError(`invalid index name (${name}). Cannot begin or end with a hyphen`);
    const cut = r.indexOf('://');
    if (cut >= 0) {
      const scheme = r.slice(0, cut);
      if (!['http', 'https'].includes(scheme.toLowerCase())) throw new InvalidParameterError(`insecure registry ${r} should not contain '://'`);
      warnings.push(`insecure registry ${r} should not contain '${scheme}' and '${scheme}s' has been removed from the insecure registry config`);
      r = r.slice(cut + 3);
    }
    const p = parsePrefix(r);
    if (p) {
      const s = prefixString(p);
      if (!cidrs.includes(s)) cidrs.push(s);
      continue;
    }
    validateHostPort(r);
    indexConfigs[r] = { Name: r, Mirrors: [], Secure: false, Official: false };
  }
  indexConfigs[INDEX_NAME] = { Name: INDEX_NAME, Mirrors: mirrors, Secure: true, Official: true };
  return { config: { InsecureRegistryCIDRs: cidrs, IndexConfigs: indexConfigs, Mirrors: mirrors }, warnings };
}

/**
 * Whether `name` needs its host resolved before isSecureIndex can answer: not a configured index, not
 * an IP address. A name that does not resolve is secure (moby's isCIDRMatch).
 */
export function needsLookup(cfg: RegistryServiceConfig, name: string): string | undefined {
  if (name in cfg.IndexConfigs || cfg.InsecureRegistryCIDRs.length === 0) return undefined;
  const { host } = splitHostPort(name);
  return parseAddr(host) ? undefined : host;
}

/** moby's isSecureIndex: a configured index's Secure, else whether no address of the host is in an insecure CIDR. */
export function isSecureIndex(cfg: RegistryServiceConfig, name: string, addresses: readonly string[] = []): boolean {
  const known = cfg.IndexConfigs[name];
  if (known) return known.Secure;
  const { host } = splitHostPort(name);
  const ip = parseAddr(host);
  const addrs = (ip ? [ip] : addresses.map(parseAddr)).filter((a): a is NonNullable<typeof a> => a !== undefined);
  const prefixes = cfg.InsecureRegistryCIDRs.map(parsePrefix).filter((p): p is Prefix => p !== undefined);
  return !addrs.some((a) => prefixes.some((p) => contains(p, a)));
}
