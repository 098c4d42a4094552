// Variable substitution for Dockerfile instructions, with the semantics of buildkit's
// frontend/dockerfile/shell lexer: `$VAR`, `${VAR}`, `${VAR:-x}` `${VAR-x}` `${VAR:+x}` `${VAR+x}`
// `${VAR:?msg}` `${VAR?msg}`, `${VAR#p}` `${VAR##p}` `${VAR%p}` `${VAR%%p}`, `${VAR/p/r}` `${VAR//p/r}`;
// single quotes take everything literally, double quotes allow `$` and escape only `"`, `$` and the
// escape character; outside quotes the escape character quotes the next character. Pure.
import { InvalidParameterError } from '../errors.js';

export class ShellLexError extends InvalidParameterError {}

/** Variable lookup: undefined means unset (distinct from set to ""). */
export type EnvLookup = (name: string) => string | undefined;

export interface LexOptions {
  /** The Dockerfile's escape character (`# escape=`), `\` by default. */
  escape?: string;
  /** Keep unset variables as written (`$X`, `${X:-y}`): used to find heredoc names. */
  skipUnsetEnv?: boolean;
  /** Quotes are plain characters (buildkit's SkipProcessQuotes): heredoc bodies COPY expands. */
  skipProcessQuotes?: boolean;
}

export interface LexResult {
  /** The word with expansions done and quotes removed. */
  value: string;
  /** The word split on unquoted whitespace (expansion results split too), as ProcessWords does. */
  words: string[];
  /** Variable names that were looked up and found, and those that were not. */
  matched: Set<string>;
  unmatched: Set<string>;
}

/** Builds a lookup from KEY=VALUE strings; the last definition wins. */
export function envLookup(...lists: (readonly string[])[]): EnvLookup {
  const m = new Map<string, string>();
  for (const list of lists) for (const kv of list) {
    const eq = kv.indexOf('=');
    if (eq < 0) m.set(kv, '');
    else m.set(kv.slice(0, eq), kv.slice(eq + 1));
  }
  return (name) => m.get(name);
}

/** Expands one word (buildkit's ProcessWord). Throws ShellLexError on bad syntax or `${X:?}`. */
export function processWord(word: string, env: EnvLookup, opts: LexOptions = {}): string {
  return lex(word, env, opts).value;
}

/** Expands and splits into words (buildkit's ProcessWords). */
export function processWords(word: string, env: EnvLookup, opts: LexOptions = {}): string[] {
  return lex(word, env, opts).words;
}

export function lex(word: string, env: EnvLookup, opts: LexOptions = {}): LexResult {
  const l = new Lexer(word, env, opts.escape ?? '\\', opts.skipUnsetEnv ?? false, opts.skipProcessQuotes ?? false);
  const [value, words] = l.processStopOn([]);
  return { value, words, matched: l.matched, unmatched: l.unmatched };
}

/** Accumulates words: unquoted whitespace separates them, quoted text never does. */
class Words {
  private list: string[] = [];
  private cur = '';
  private inWord = false;
  addChar(c: string): void {
    if (/\s/.test(c)) { if (this.inWord) { this.list.push(this.cur); this.cur = ''; this.inWord = false; } return; }
    this.addRawChar(c);
  }
  addRawChar(c: string): void { this.cur += c; this.inWord = true; }
  addString(s: string): void { for (const c of s) this.addChar(c); }
  addRawString(s: string): void { for (const c of s) this.addRawChar(c); }
  get(): string[] { return this.inWord ? [...this.list, this.cur] : [...this.list]; }
}

const SPECIAL_PARAMS = new Set(['@', '*', '#', '?', '-', '$', '!', '0']);

class Lexer {
  private pos = 0;
  readonly matched = new Set<string>();
  readonly unmatched = new Set<string>();
  constructor(private readonly s: string, private readonly env: EnvLookup, private readonly esc: string, private readonly skipUnset: boolean,
    private readonly skipQuotes: boolean) {}

  private peek(): string | undefined { return this.s[this.pos]; }
  private next(): string | undefined { return this.s[this.pos++]; }

  private getEnv(name: string): string | undefined {
    const v = this.env(name);
    (v === undefined ? this.unmatched : this.matched).add(name);
    return v;
  }

  /** Reads until one of `stops` (consumed) or the end; rawEscapes keeps escape characters (patterns). */
  processStopOn(stops: string[], rawEscapes = false): [string, string[]] {
    let result = '';
    const words = new Words();
    while (this.pos < this.s.length) {
      const ch = this.peek()!;
      if (stops.includes(ch)) { this.pos++; return [result, words.get()]; }
      if (ch === '$' || (!this.skipQuotes && (ch === "'" || ch === '"'))) {
        const tmp = ch === "'" ? this.singleQuote() : ch === '"' ? this.doubleQuote() : this.dollar();
        result += tmp;
        if (ch === '$') words.addString(tmp); else words.addRawString(tmp);
        continue;
      }
      this.pos++;
      if (ch === this.esc) {
        if (rawEscapes) { words.addRawChar(ch); result += ch; }
        const n = this.next();
        if (n === undefined) break; // an escape at the very end is dropped
        words.addRawChar(n);
        result += n;
        continue;
      }
      words.addChar(ch);
      result += ch;
    }
    if (stops.length > 0) throw new ShellLexError(`unexpected end of statement while looking for matching ${stops.join('')}`);
    return [result, words.get()];
  }

  private singleQuote(): string {
    this.pos++;
    let out = '';
    for (;;) {
      const ch = this.next();
      if (ch === undefined) throw new ShellLexError('unexpected end of statement while looking for matching single-quote');
      if (ch === "'") return out;
      out += ch;
    }
  }

  private doubleQuote(): string {
    this.pos++;
    let out = '';
    for (;;) {
      const ch = this.peek();
      if (ch === undefined) throw new ShellLexError('unexpected end of statement while looking for matching double-quote');
      if (ch === '"') { this.pos++; return out; }
      if (ch === '$') { out += this.dollar(); continue; }
      this.pos++;
      if (ch === this.esc) {
        const n = this.peek();
        if (n === undefined) continue;
        // Only `"`, `$` and the escape character itself can be escaped inside double quotes.
        if (n === '"' || n === '$' || n === this.esc) { out += n; this.pos++; continue; }
      }
      out += ch;
    }
  }

  private name(): string {
    let name = '';
    for (;;) {
      const ch = this.peek();
      if (ch === undefined) return name;
      if (name === '' && /[0-9]/.test(ch)) {
        while (this.peek() !== undefined && /[0-9]/.test(this.peek()!)) name += this.next();
        return name;
      }
      if (name === '' && SPECIAL_PARAMS.has(ch)) { this.pos++; return ch; }
      if (!/[\p{L}\p{N}_]/u.test(ch)) return name;
      name += this.next();
    }
  }

  private dollar(): string {
    this.pos++;
    if (this.peek() !== '{') {
      const name = this.name();
      if (name === '') return '$';
      const v = this.getEnv(name);
      if (v === undefined && this.skipUnset) return '$' + name;
      return v ?? '';
    }
    this.pos++;
    const first = this.peek();
    if (first === undefined) throw new ShellLexError("syntax error: missing '}'");
    if (first === '{' || first === '}' || first === ':') throw new ShellLexError('syntax error: bad substitution');
    const name = this.name();
    let ch = this.next();
    if (ch === undefined) throw new ShellLexError("syntax error: missing '}'");
    let chs = ch;
    if (ch === '}') {
      const v = this.getEnv(name);
      if (v === undefined && this.skipUnset) return `\${${name}}`;
      return v ?? '';
    }
    const stopOrMissing = (stops: string[], raw: boolean): string => {
      try {
        return this.processStopOn(stops, raw)[0];
      } catch (err) {
        if (this.pos >= this.s.length) throw new ShellLexError("syntax error: missing '}'");
        throw err;
      }
    };
    let nullIsUnset = false;
    if (ch === ':') {
      nullIsUnset = true;
      ch = this.next();
      if (ch === undefined) throw new ShellLexError("syntax error: missing '}'");
      chs += ch;
    }
    if (ch === '+' || ch === '-' || ch === '?' || ch === '#' || ch === '%') {
      const raw = ch === '#' || ch === '%';
      if (nullIsUnset && raw) throw new ShellLexError(`unsupported modifier (${chs}) in substitution`);
      let word = stopOrMissing(['}'], raw);
      const v = this.getEnv(name);
      if (this.skipUnset && v === undefined) return `\${${name}${chs}${word}}`;
      const empty = v === undefined || (nullIsUnset && v === '');
      switch (ch) {
        case '-': return empty ? word : v!;
        case '+': return empty ? '' : word;
        case '?':
          if (v === undefined) throw new ShellLexError(`${name}: ${word || 'is not allowed to be unset'}`);
          if (nullIsUnset && v === '') throw new ShellLexError(`${name}: ${word || 'is not allowed to be empty'}`);
          return v;
        default: {
          let greedy = false;
          if (word.startsWith(ch)) { greedy = true; word = word.slice(1); }
          return trimPattern(v ?? '', word, ch === '#' ? 'prefix' : 'suffix', greedy, this.esc);
        }
      }
    }
    if (ch === '/' && !nullIsUnset) {
      const all = this.peek() === '/';
      if (all) this.pos++;
      const before = this.pos;
      const pattern = stopOrMissing(['/', '}'], true);
      const endedOnSlash = this.s[this.pos - 1] === '/' && this.pos - 1 >= before;
      const replacement = endedOnSlash ? stopOrMissing(['}'], true) : '';
      const v = this.getEnv(name);
      if (this.skipUnset && v === undefined) return `\${${name}/${all ? '/' : ''}${pattern}${endedOnSlash ? '/' + replacement : ''}}`;
      const re = patternRegex(pattern, this.esc, '');
      const value = v ?? '';
      if (all) return pattern === '' ? value : value.replace(new RegExp(re, 'gsu'), () => replacement);
      const m = new RegExp(re, 'su').exec(value);
      return m ? value.slice(0, m.index) + replacement + value.slice(m.index + m[0].length) : value;
    }
    throw new ShellLexError(`unsupported modifier (${chs}) in substitution`);
  }
}

/** A shell glob as a regular expression source (`*`, `?`, `[...]`, escapes), greedy or not. */
function patternRegex(pattern: string, esc: string, lazy: '' | '?'): string {
  let re = '';
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i];
    if (c === esc && i + 1 < pattern.length) { re += escapeRe(pattern[++i]); continue; }
    if (c === '*') { re += '.*' + lazy; continue; }
    if (c === '?') { re += '.'; continue; }
    if (c === '[') {
      const end = pattern.indexOf(']', i + 2);
      if (end > 0) {
        let body = pattern.slice(i + 1, end);
        if (body.startsWith('!')) body = '^' + body.slice(1);
        re += '[' + body.replace(/\\/g, '\\\\') + ']';
        i = end;
        continue;
      }
    }
    re += escapeRe(c);
  }
  return re;
}

function escapeRe(c: string): string { return c.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&'); }

function trimPattern(value: string, pattern: string, side: 'prefix' | 'suffix', greedy: boolean, esc: string): string {
  const re = new RegExp(`^(?:${patternRegex(pattern, esc, '')})$`, 'su');
  const n = value.length;
  // Shortest match first unless greedy (##, %%): try each cut and keep the first that matches.
  for (let k = 0; k <= n; k++) {
    const len = greedy ? n - k : k;
    const part = side === 'prefix' ? value.slice(0, len) : value.slice(n - len);
    if (re.test(part)) return side === 'prefix' ? value.slice(len) : value.slice(0, n - len);
  }
  return value;
}
