// .dockerignore as the docker CLI reads it (moby/patternmatcher and its ignorefile reader): the file's
// lines become patterns, and a path is excluded when the last pattern that matches it, or one of its
// parent directories, is not a `!` exception. Pure: the caller reads the file and walks the tree.
// npm's @balena/dockerignore follows node-ignore's API and an older moby matcher (no `**` prefix/suffix
// forms as moby has them now), so the rules are kept here, pinned by unit tests on moby's examples.

/** Go's path.Clean for slash paths. */
export function goClean(p: string): string {
  if (p === '') return '.';
  const rooted = p.startsWith('/');
  const out: string[] = [];
  for (const part of p.split('/')) {
    if (part === '' || part === '.') continue;
    if (part === '..') {
      if (out.length && out[out.length - 1] !== '..') out.pop();
      else if (!rooted) out.push('..');
      continue;
    }
    out.push(part);
  }
  const s = (rooted ? '/' : '') + out.join('/');
  return s === '' ? '.' : s;
}

/** The patterns of a .dockerignore file (ignorefile.ReadAll): BOM, `#` comments, trimming, Clean, no leading `/`. */
export function parseDockerignore(text: string): string[] {
  const out: string[] = [];
  const lines = text.replace(/^\uFEFF/, '').split(/\r?\n/);
  for (const raw of lines) {
    if (raw.startsWith('#')) continue;
    let p = raw.trim();
    if (p === '') continue;
    const invert = p.startsWith('!');
    if (invert) p = p.slice(1).trim();
    if (p.length > 0) {
      p = goClean(p);
      if (p.length > 1 && p.startsWith('/')) p = p.slice(1);
    }
    out.push(invert ? `!${p}` : p);
  }
  return out;
}

type Kind = 'exact' | 'prefix' | 'suffix' | 'regexp';

interface Pattern { text: string; exclusion: boolean; dirs: number; kind: Kind; re?: RegExp }

const ESCAPED = new Set(['.', '+', '(', ')', '|', '{', '}', '$']);

/** One pattern → how it matches (moby compiles `**` and `*` to regexps, with shortcuts for exact, `x/**` and `**x`). */
function compile(text: string): { kind: Kind; re?: RegExp } {
  let re = '^';
  let kind: Kind = 'exact';
  const chars = [...text];
  for (let i = 0; i < chars.length; i++) {
    const ch = chars[i]!;
    if (ch === '*') {
      if (chars[i + 1] === '*') {
        const first = i === 0;
        i++;
        if (chars[i + 1] === '/') i++;
        if (i + 1 >= chars.length) {
          if (kind === 'exact') kind = 'prefix';
          else { re += '.*'; kind = 'regexp'; }
        } else {
          re += '(.*/)?';
          kind = 'regexp';
        }
        if (first) kind = 'suffix';
      } else {
        re += '[^/]*';
        kind = 'regexp';
      }
    } else if (ch === '?') {
      re += '[^/]';
      kind = 'regexp';
    } else if (ESCAPED.has(ch)) {
      re += `\\${ch}`;
    } else if (ch === '\\') {
      if (i + 1 < chars.length) {
        i++;
        re += `\\${chars[i]}`;
        kind = 'regexp';
      } else {
        re += '\\\\';
      }
    } else if (ch === '[' || ch === ']') {
      re += ch;
      kind = 'regexp';
    } else {
      re += ch;
    }
  }
  if (kind !== 'regexp') return { kind };
  try {
    return { kind, re: new RegExp(`${re}$`) };
  } catch {
    throw new Error(`syntax error in pattern: ${text}`);
  }
}

function matchOne(p: Pattern, file: string): boolean {
  switch (p.kind) {
    case 'exact': return file === p.text;
    case 'prefix': return file.startsWith(p.text.slice(0, -2));
    case 'suffix': {
      const suffix = p.text.slice(2);
      return file.endsWith(suffix) || (suffix.startsWith('/') && file === suffix.slice(1));
    }
    case 'regexp': return p.re!.test(file);
  }
}

/** A compiled pattern list (patternmatcher.New). */
export class PatternMatcher {
  private readonly patterns: Pattern[] = [];
  /** True when some pattern is a `!` exception (then an excluded directory may still hold kept files). */
  readonly exclusions: boolean = false;

  constructor(list: string[]) {
    for (let t of list) {
      t = t.trim();
      if (t === '') continue;
      t = goClean(t);
      let exclusion = false;
      if (t.startsWith('!')) {
        if (t.length === 1) throw new Error('illegal exclusion pattern: "!"');
        exclusion = true;
        t = t.slice(1);
        this.exclusions = true;
      }
      if (/\[[^\]]*$/.test(t.replace(/\\./g, ''))) throw new Error('syntax error in pattern');
      this.patterns.push({ text: t, exclusion, dirs: t.split('/').length, ...compile(t) });
    }
  }

  /** The `!` patterns' texts (what an excluded directory is checked against before it is skipped). */
  exceptionTexts(): string[] {
    return this.patterns.filter((p) => p.exclusion).map((p) => p.text);
  }

  /** Whether `file` (slash-separated, relative to the context) is excluded: MatchesOrParentMatches. */
  matches(file: string): boolean {
    file = goClean(file);
    if (file === '.') return false;
    const parents = file.includes('/') ? file.split('/').slice(0, -1) : [];
    let matched = false;
    for (const p of this.patterns) {
      if (p.exclusion !== matched) continue;
      let m = matchOne(p, file);
      for (let i = 0; !m && i < parents.length; i++) m = matchOne(p, parents.slice(0, i + 1).join('/'));
      if (m) matched = !p.exclusion;
    }
    return matched;
  }

  /**
   * Whether the walk must descend into an excluded directory: only when an exception's text starts with
   * `<dir>/` (archive.TarWithOptions' check; an exception such as `!**\/x` does not reopen a directory).
   */
  mayHoldExceptions(dir: string): boolean {
    if (!this.exclusions) return false;
    const slash = `${dir}/`;
    return this.exceptionTexts().some((t) => `${t}/`.startsWith(slash));
  }
}

/**
 * The docker CLI's TrimBuildFilesFromExcludes: .dockerignore and the Dockerfile are sent even when
 * excluded (the daemon drops them again), unless the Dockerfile comes from stdin.
 */
export function keepBuildFiles(excludes: string[], dockerfile: string, dockerfileFromStdin: boolean): string[] {
  const out = [...excludes];
  if (new PatternMatcher(out).matches('.dockerignore')) out.push('!.dockerignore');
  if (!dockerfileFromStdin && new PatternMatcher(out).matches(dockerfile)) out.push(`!${dockerfile}`);
  return out;
}
