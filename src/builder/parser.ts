// The Dockerfile grammar, first half: text → logical lines ("nodes") with their command, builder
// flags, raw argument text and heredocs, following buildkit's frontend/dockerfile/parser rules
// (parser directives, escape-char line continuations, comment lines inside continuations, empty
// continuation lines, heredocs on RUN/COPY/ADD). instructions.ts turns nodes into typed instructions.
// Pure: no I/O.
import { InvalidParameterError } from '../errors.js';

/** A parse error that names the Dockerfile line, worded as buildkit's ("dockerfile parse error on line N: ..."). */
export class DockerfileParseError extends InvalidParameterError {
  constructor(readonly line: number, readonly detail: string) {
    super(`dockerfile parse error on line ${line}: ${detail}`);
  }
}

export interface Directives {
  /** The escape character: `\` (default) or `` ` ``. */
  escape: '\\' | '`';
  /** `# syntax=` is recorded and otherwise ignored: berth has one built-in frontend. */
  syntax?: string;
  /** `# check=` (buildkit's lint configuration), recorded only. */
  check?: string;
}

export interface Heredoc {
  /** The delimiter word with its quotes removed. */
  name: string;
  /** The body, each line ending in "\n"; leading tabs already removed for `<<-`. */
  content: string;
  /** False when any part of the delimiter was quoted (`<<"EOF"`, `<<'EOF'`): no variable expansion. */
  expand: boolean;
  /** `<<-`: leading tabs stripped from the body and the terminator. */
  chomp: boolean;
  /** `3<<EOF` names a file descriptor; 0 (stdin) when absent. */
  fd: number;
}

/** One logical line of a Dockerfile. */
export interface Node {
  /** The instruction keyword in lower case (`run`, `copy`, or an unknown word). */
  cmd: string;
  /** The keyword as written, for error messages. */
  word: string;
  /** Builder flags (`--from=x`) with quotes removed, in order. */
  flags: string[];
  /** The argument text after the flags, trimmed. */
  rest: string;
  /** The whole logical line after continuations were joined (before heredoc bodies). */
  original: string;
  startLine: number;
  endLine: number;
  heredocs: Heredoc[];
}

export interface ParsedDockerfile {
  directives: Directives;
  nodes: Node[];
}

const HEREDOC_COMMANDS = new Set(['run', 'copy', 'add']);
const DIRECTIVE = /^#[ \t]*([a-zA-Z][a-zA-Z0-9]*)[ \t]*=[ \t]*(.+?)[ \t]*$/;

function isComment(line: string): boolean { return /^[ \t]*#/.test(line); }
function isBlank(line: string): boolean { return /^[ \t]*$/.test(line); }

/**
 * Splits a Dockerfile into nodes. Throws DockerfileParseError for grammar errors (bad directives,
 * unterminated heredocs); instruction-level checks (unknown instruction, argument counts) are
 * instructions.ts's.
 */
export function parseDockerfile(text: string): ParsedDockerfile {
  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
  const lines = text.split('\n').map((l) => (l.endsWith('\r') ? l.slice(0, -1) : l));
  if (lines.length > 0 && lines[lines.length - 1] === '' && text.endsWith('\n')) lines.pop();
  const directives: Directives = { escape: '\\' };
  let i = 0;
  // Parser directives: only at the very top, before any blank line, comment or instruction.
  const seen = new Set<string>();
  for (; i < lines.length; i++) {
    const m = DIRECTIVE.exec(lines[i].replace(/^[ \t]+/, ''));
    if (!m) break;
    const key = m[1].toLowerCase();
    const value = m[2];
    // An unknown directive is a comment, and like any comment it ends the directive section.
    if (key !== 'escape' && key !== 'syntax' && key !== 'check') break;
    if (seen.has(key)) throw new DockerfileParseError(i + 1, `only one ${key} parser directive can be used`);
    seen.add(key);
    if (key === 'escape') {
      if (value !== '\\' && value !== '`') throw new DockerfileParseError(i + 1, `invalid escape token '${value}' does not match \` or \\`);
      directives.escape = value;
    } else if (key === 'syntax') directives.syntax = value;
    else directives.check = value;
  }
  const esc = directives.escape;
  const continuation = new RegExp(`${esc === '\\' ? '\\\\' : '`'}[ \\t]*$`);
  const trimCont = (l: string): [string, boolean] => {
    const m = continuation.exec(l);
    return m ? [l.slice(0, m.index), false] : [l, true];
  };

  const nodes: Node[] = [];
  while (i < lines.length) {
    const first = lines[i++];
    const startLine = i;
    if (isComment(first) || isBlank(first)) continue;
    let [line, end] = trimCont(first.replace(/^[ \t]+/, ''));
    if (end && line === '') continue;
    while (!end && i < lines.length) {
      const next = lines[i++];
      // Comment lines and empty lines inside a continuation are dropped, as buildkit does.
      if (isComment(next) || isBlank(next)) continue;
      let piece: string;
      [piece, end] = trimCont(next);
      line += piece;
    }
    const node = nodeFromLine(line, startLine, i);
    if (node.rest.includes('<<') && canContainHeredoc(node)) {
      for (const h of heredocWords(node.rest, esc)) {
        let content = '';
        let done = false;
        while (i < lines.length) {
          const l = lines[i++];
          const candidate = h.chomp ? l.replace(/^\t+/, '') : l;
          if (candidate === h.name) { done = true; break; }
          content += (h.chomp ? l.replace(/^\t+/, '') : l) + '\n';
        }
        if (!done) throw new DockerfileParseError(startLine, 'unterminated heredoc');
        node.heredocs.push({ ...h, content });
      }
      node.endLine = i;
    }
    nodes.push(node);
  }
  return { directives, nodes };
}

/** Splits one logical line into keyword, flags and the rest (buildkit's splitCommand). */
export function nodeFromLine(line: string, startLine: number, endLine: number): Node {
  const trimmed = line.trim();
  const m = /^(\S+)\s*([\s\S]*)$/.exec(trimmed);
  const word = m ? m[1] : '';
  const { flags, rest } = extractFlags(m ? m[2] : '');
  return { cmd: word.toLowerCase(), word, flags, rest: rest.trim(), original: trimmed, startLine, endLine, heredocs: [] };
}

function canContainHeredoc(node: Node): boolean {
  let n = node;
  if (n.cmd === 'onbuild') n = nodeFromLine(n.rest, 0, 0);
  if (!HEREDOC_COMMANDS.has(n.cmd)) return false;
  return parseJsonArray(n.rest) === undefined;
}

/** Heredoc markers among the line's whitespace-separated words: `<<EOF`, `<<-EOF`, `<<"EOF"`, `3<<EOF`. */
function heredocWords(rest: string, esc: string): Omit<Heredoc, 'content'>[] {
  const out: Omit<Heredoc, 'content'>[] = [];
  for (const w of parseWords(rest, esc)) {
    const m = /^(\d*)<<(-?)([^<]*)$/.exec(w);
    if (!m || m[3] === '') continue;
    const name = unquoteWord(m[3]);
    if (name === undefined || name === '' || /\s/.test(name)) continue;
    out.push({ name, expand: !/["']/.test(m[3]), chomp: m[2] === '-', fd: m[1] === '' ? 0 : Number(m[1]) });
  }
  return out;
}

function unquoteWord(w: string): string | undefined {
  let out = '';
  let quote = '';
  for (let k = 0; k < w.length; k++) {
    const c = w[k];
    if (quote) {
      if (c === quote) quote = '';
      else out += c;
    } else if (c === '"' || c === "'") quote = c;
    else if (c === '\\' && k + 1 < w.length) out += w[++k];
    else out += c;
  }
  return quote ? undefined : out;
}

/**
 * Leading `--flag[=value]` words of an argument string, quotes removed (buildkit's
 * extractBuilderFlags); a bare `--` ends the flags.
 */
export function extractFlags(line: string): { flags: string[]; rest: string } {
  const flags: string[] = [];
  let pos = 0;
  for (;;) {
    while (pos < line.length && /\s/.test(line[pos])) pos++;
    if (pos >= line.length) return { flags, rest: '' };
    if (!line.startsWith('--', pos)) return { flags, rest: line.slice(pos) };
    let word = '';
    let quote = '';
    let blankOk = false;
    for (; pos < line.length; pos++) {
      const c = line[pos];
      if (quote) {
        if (c === quote) { quote = ''; continue; }
        if (c === '\\' && pos + 1 < line.length) { word += line[++pos]; continue; }
        word += c;
        continue;
      }
      if (/\s/.test(c)) break;
      if (c === '"' || c === "'") { quote = c; blankOk = true; continue; }
      if (c === '\\') { if (pos + 1 < line.length) word += line[++pos]; continue; }
      word += c;
    }
    if (word === '--') return { flags, rest: line.slice(pos) };
    if (blankOk || word.length > 0) flags.push(word);
  }
}

/**
 * Splits on unquoted whitespace, keeping quotes and escapes in the words (buildkit's parseWords):
 * the words are expanded and unquoted later by the shell lexer.
 */
export function parseWords(rest: string, esc: string): string[] {
  const words: string[] = [];
  let word = '';
  let inWord = false;
  let quote = '';
  let blankOk = false;
  for (let pos = 0; pos < rest.length; pos++) {
    let c = rest[pos];
    if (!inWord) {
      if (/\s/.test(c)) continue;
      inWord = true;
    }
    if (quote) {
      if (c === quote) quote = '';
      else if (c === esc && quote !== "'") {
        if (pos + 1 === rest.length) continue;
        word += c;
        c = rest[++pos];
      }
      word += c;
      continue;
    }
    if (/\s/.test(c)) {
      if (blankOk || word.length > 0) words.push(word);
      word = ''; blankOk = false; inWord = false;
      continue;
    }
    if (c === '"' || c === "'") { quote = c; blankOk = true; }
    else if (c === esc) {
      if (pos + 1 === rest.length) continue;
      word += c;
      c = rest[++pos];
    }
    word += c;
  }
  if (inWord && (blankOk || word.length > 0)) words.push(word);
  return words;
}

/** The exec (JSON) form: a JSON array of strings, else undefined (the shell form). */
export function parseJsonArray(rest: string): string[] | undefined {
  const t = rest.trim();
  if (!t.startsWith('[')) return undefined;
  let v: unknown;
  try { v = JSON.parse(t); } catch { return undefined; }
  if (!Array.isArray(v) || !v.every((x) => typeof x === 'string')) return undefined;
  return v as string[];
}

/** Whitespace split without quote handling (buildkit's parseStringsWhitespaceDelimited). */
export function splitWhitespace(rest: string): string[] {
  const t = rest.trim();
  return t === '' ? [] : t.split(/[ \t\v\f\r]+/);
}
