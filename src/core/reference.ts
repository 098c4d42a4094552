import { InvalidParameterError } from '../errors.js';

/**
 * Docker image references per the distribution/reference grammar:
 *
 *   reference := name [ ":" tag ] [ "@" digest ]
 *   name      := [domain "/"] path-component ["/" path-component]*
 *   domain    := host [":" port]        host: DNS name, IPv4 or [IPv6]
 *   tag       := [\w][\w.-]{0,127}
 *   digest    := algorithm ":" hex
 *
 * "Normalized" means Docker's defaults are filled in: `busybox` → `docker.io/library/busybox`
 * (tag `latest` is added only by withDefaultTag). "Familiar" is the short display form.
 */
export interface Reference {
  /** Registry host[:port], e.g. `docker.io`, `localhost:5000`. */
  domain: string;
  /** Repository path inside the registry, e.g. `library/busybox`. */
  path: string;
  tag?: string;
  digest?: string;
}

export const DEFAULT_DOMAIN = 'docker.io';
export const DEFAULT_TAG = 'latest';
const LEGACY_DOMAIN = 'index.docker.io';
const OFFICIAL_PREFIX = 'library/';
const NAME_TOTAL_LENGTH_MAX = 255;

const alnum = '[a-z0-9]+';
const separator = '(?:[._]|__|[-]+)';
const pathComponent = `${alnum}(?:${separator}${alnum})*`;
const domainComponent = '(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])';
const domainName = `${domainComponent}(?:\\.${domainComponent})*`;
const ipv6 = '\\[(?:[a-fA-F0-9:]+)\\]';
const domainRe = `(?:${domainName}|${ipv6})(?::[0-9]+)?`;
const tagRe = '[\\w][\\w.-]{0,127}';
const digestRe = '[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}';
const nameRe = `(?:${domainRe}/)?${pathComponent}(?:/${pathComponent})*`;

const REFERENCE = new RegExp(`^(${nameRe})(?::(${tagRe}))?(?:@(${digestRe}))?$`);
const TAG = new RegExp(`^${tagRe}$`);
const DIGEST = new RegExp(`^${digestRe}$`);
const ID_HEX = /^[a-f0-9]{64}$/;
const ID_PREFIX = /^(?:sha256:)?[a-f0-9]{1,64}$/;

export function isValidTag(tag: string): boolean { return TAG.test(tag); }
/** A full image id: 64 lower-case hex digits (no algorithm). */
export function isFullId(s: string): boolean { return ID_HEX.test(s); }
/** Something that could be an id or an id prefix (`5a4b`, `sha256:5a4b…`). */
export function looksLikeIdPrefix(s: string): boolean { return ID_PREFIX.test(s); }

/** Strict parse (no normalization), as reference.Parse: errors carry Docker's wording. */
export function parse(s: string): Reference {
  const m = REFERENCE.exec(s);
  if (!m) {
    if (s === '') throw new InvalidParameterError('invalid reference format: repository name must have at least one component');
    if (REFERENCE.test(s.toLowerCase())) throw new InvalidParameterError('invalid reference format: repository name must be lowercase');
    throw new InvalidParameterError('invalid reference format');
  }
  const name = m[1]!;
  if (name.length > NAME_TOTAL_LENGTH_MAX) {
    throw new InvalidParameterError(`invalid reference format: repository name must not be more than ${NAME_TOTAL_LENGTH_MAX} characters`);
  }
  const digest = m[3];
  if (digest && !validDigest(digest)) throw new InvalidParameterError('invalid reference format');
  const [domain, path] = splitDomainStrict(name);
  const ref: Reference = { domain, path };
  if (m[2] !== undefined) ref.tag = m[2];
  if (digest !== undefined) ref.digest = digest;
  return ref;
}

function validDigest(d: string): boolean {
  const [alg, hex] = [d.slice(0, d.indexOf(':')), d.slice(d.indexOf(':') + 1)];
  if (alg === 'sha256') return /^[a-f0-9]{64}$/.test(hex);
  if (alg === 'sha512') return /^[a-f0-9]{128}$/.test(hex);
  return true;
}

/** In an already-normalized name the domain is present iff the first component looks like one. */
function splitDomainStrict(name: string): [string, string] {
  const i = name.indexOf('/');
  if (i < 0) return ['', name];
  const first = name.slice(0, i);
  if (/[.:]/.test(first) || first === 'localhost' || first.toLowerCase() !== first) return [first, name.slice(i + 1)];
  return ['', name];
}

/** Docker's splitDockerDomain: decides whether the first component is a registry. */
function splitDockerDomain(name: string): [string, string] {
  const i = name.indexOf('/');
  let domain: string;
  let rest: string;
  const first = i < 0 ? '' : name.slice(0, i);
  if (i < 0 || (!/[.:]/.test(first) && first !== 'localhost' && first.toLowerCase() === first)) {
    domain = DEFAULT_DOMAIN;
    rest = name;
  } else {
    domain = first;
    rest = name.slice(i + 1);
  }
  if (domain === LEGACY_DOMAIN) domain = DEFAULT_DOMAIN;
  if (domain === DEFAULT_DOMAIN && !rest.includes('/')) rest = OFFICIAL_PREFIX + rest;
  return [domain, rest];
}

/** reference.ParseNormalizedNamed: `busybox` → docker.io/library/busybox (no default tag). */
export function parseNormalized(s: string): Reference {
  if (ID_HEX.test(s)) {
    throw new InvalidParameterError(`invalid repository name (${s}), cannot specify 64-byte hexadecimal strings`);
  }
  // The remote part may not contain upper case; checked before the grammar so the message names it.
  const beforeRef = s.split('@')[0]!;
  const [domain, remainderWithTag] = splitDockerDomain(beforeRef);
  const colon = remainderWithTag.indexOf(':');
  const remainder = colon >= 0 ? remainderWithTag.slice(0, colon) : remainderWithTag;
  if (remainder.toLowerCase() !== remainder) {
    throw new InvalidParameterError(`invalid reference format: repository name (${remainder}) must be lowercase`);
  }
  return parse(`${domain}/${remainderWithTag}${s.slice(beforeRef.length)}`);
}

/** Add `:latest` when a reference has neither tag nor digest (reference.TagNameOnly adds it only when no digest). */
export function withDefaultTag(ref: Reference): Reference {
  if (ref.tag === undefined && ref.digest === undefined) return { ...ref, tag: DEFAULT_TAG };
  return ref;
}

/** Parse + normalize + default tag: the form the image store keys tags by. */
export function normalize(s: string): Reference {
  return withDefaultTag(parseNormalized(s));
}

export function fullName(ref: Reference): string {
  return ref.domain ? `${ref.domain}/${ref.path}` : ref.path;
}

export function fullString(ref: Reference): string {
  return fullName(ref) + (ref.tag !== undefined ? `:${ref.tag}` : '') + (ref.digest !== undefined ? `@${ref.digest}` : '');
}

/** reference.FamiliarName: docker.io/library/busybox → busybox; docker.io/a/b → a/b. */
export function familiarName(ref: Reference): string {
  if (ref.domain === DEFAULT_DOMAIN) {
    if (ref.path.startsWith(OFFICIAL_PREFIX) && !ref.path.slice(OFFICIAL_PREFIX.length).includes('/')) {
      return ref.path.slice(OFFICIAL_PREFIX.length);
    }
    return ref.path;
  }
  return fullName(ref);
}

export function familiarString(ref: Reference): string {
  return familiarName(ref) + (ref.tag !== undefined ? `:${ref.tag}` : '') + (ref.digest !== undefined ? `@${ref.digest}` : '');
}

/** Familiar form of a full reference string (as stored): `docker.io/library/busybox:latest` → `busybox:latest`. */
export function familiarize(full: string): string {
  try { return familiarString(parse(full)); } catch { return full; }
}

/** `repo` and `tag` query parameters (tag, import): repo may carry the tag itself (`busybox:local`). */
export function repoTagReference(repo: string, tag?: string): Reference {
  const ref = parseNormalized(repo);
  if (ref.digest !== undefined) throw new InvalidParameterError('cannot import digest reference');
  if (tag) {
    if (!isValidTag(tag)) throw new InvalidParameterError('invalid tag format');
    return { domain: ref.domain, path: ref.path, tag };
  }
  return withDefaultTag(ref);
}

export function isDigest(s: string): boolean { return DIGEST.test(s); }

/** Docker's short id: 12 hex characters, without the algorithm. */
export function shortId(id: string): string {
  const i = id.indexOf(':');
  return (i >= 0 ? id.slice(i + 1) : id).slice(0, 12);
}

/**
 * Docker's `reference` filter (reference.FamiliarMatch): the glob is matched against the familiar
 * string (`busybox:latest`) and then the familiar name (`busybox`). `busy*` matches both.
 */
export function matchReferenceFilter(pattern: string, ref: Reference): boolean {
  const re = globToRegExp(pattern);
  return re.test(familiarString(ref)) || re.test(familiarName(ref));
}

/** Go path.Match semantics: `*` and `?` do not cross `/`; `[...]` classes. */
export function globToRegExp(glob: string): RegExp {
  let out = '';
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i]!;
    if (c === '*') out += '[^/]*';
    else if (c === '?') out += '[^/]';
    else if (c === '[') {
      const end = glob.indexOf(']', i + 1);
      if (end < 0) { out += '\\['; continue; }
      let cls = glob.slice(i + 1, end);
      if (cls.startsWith('^')) cls = '^' + cls.slice(1);
      out += `[${cls.replace(/\\/g, '\\\\')}]`;
      i = end;
    } else if (c === '\\' && i + 1 < glob.length) {
      out += glob[++i]!.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
    } else out += c.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  }
  return new RegExp(`^${out}$`);
}
