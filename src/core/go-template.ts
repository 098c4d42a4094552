/**
 * A subset of Go's text/template, enough for docker's `--format` flags.
 *
 * Vocabulary: an *action* is `{{ ... }}`; a *pipeline* is commands joined by `|`, where the value of
 * each command is passed as the last argument of the next; *dot* is the current value (`.`).
 * Supported: text, `{{- -}}` trimming, comments, fields (`.A.B`, `$x.A`), string/number/bool/nil
 * literals, parenthesised pipelines, variables (`$x := ...`, `range $i, $v := ...`), if/else if/else,
 * range/else, with/else, and the functions docker registers (json, split, join, title, lower, upper,
 * pad, truncate) plus Go's builtins that matter here (index, len, printf, print, println, eq, ne, lt,
 * le, gt, ge, and, or, not, slice).
 *
 * Values are plain JS values. Objects made with `goStruct()` behave like Go structs: their
 * function-valued properties are methods (called with the command's arguments) and a missing field
 * is an error. Other objects behave like Go maps: a missing key prints `<no value>`, or is an error
 * with `missingKey: 'error'` (docker inspect's raw fallback).
 */

export class TemplateError extends Error {}

const STRUCT = Symbol('goStruct');

/** Marks an object as a Go struct (methods callable, unknown fields are errors). */
export function goStruct<T extends object>(obj: T, typeName = 'struct'): T {
  Object.defineProperty(obj, STRUCT, { value: typeName, enumerable: false });
  return obj;
}

export type TemplateFunc = (...args: any[]) => unknown;

export interface ExecuteOptions {
  missingKey?: 'default' | 'error';
  funcs?: Record<string, TemplateFunc>;
}

// ---------------------------------------------------------------- lexer

type Tok =
  | { t: 'field'; names: string[]; pos: number }
  | { t: 'var'; name: string; pos: number }
  | { t: 'ident'; name: string; pos: number }
  | { t: 'string'; value: string; pos: number }
  | { t: 'number'; value: number; raw: string; pos: number }
  | { t: 'punct'; value: '|' | '(' | ')' | ':=' | '=' | ','; pos: number }
  | { t: 'space'; pos: number };

function lexAction(src: string, offset: number): Tok[] {
  const out: Tok[] = [];
  let i = 0;
  const err = (m: string): never => { throw new TemplateError(`template: :1: ${m}`); };
  while (i < src.length) {
    const c = src[i]!;
    const pos = offset + i;
    if (/\s/.test(c)) {
      while (i < src.length && /\s/.test(src[i]!)) i++;
      out.push({ t: 'space', pos });
      continue;
    }
    if (c === '|' || c === '(' || c === ')' || c === ',' || c === '=') { out.push({ t: 'punct', value: c, pos }); i++; continue; }
    if (c === ':' && src[i + 1] === '=') { out.push({ t: 'punct', value: ':=', pos }); i += 2; continue; }
    if (c === '"') {
      let j = i + 1;
      while (j < src.length && src[j] !== '"') { if (src[j] === '\\') j++; j++; }
      if (j >= src.length) err('unterminated quoted string');
      try { out.push({ t: 'string', value: JSON.parse(src.slice(i, j + 1).replace(/\\'/g, "'")) as string, pos }); } catch { err(`invalid syntax in string ${src.slice(i, j + 1)}`); }
      i = j + 1;
      continue;
    }
    if (c === '`') {
      const j = src.indexOf('`', i + 1);
      if (j < 0) err('unterminated raw quoted string');
      out.push({ t: 'string', value: src.slice(i + 1, j), pos });
      i = j + 1;
      continue;
    }
    if (c === "'") {
      const m = /^'(\\.|[^'])'/.exec(src.slice(i));
      if (!m) err('unterminated character constant');
      const ch = m![1]!.startsWith('\\') ? (JSON.parse(`"${m![1]}"`) as string) : m![1]!;
      out.push({ t: 'number', value: ch.codePointAt(0)!, raw: m![0], pos });
      i += m![0].length;
      continue;
    }
    if (c === '.' || c === '$') {
      const m = /^(\$[A-Za-z0-9_]*)?((?:\.[A-Za-z_][A-Za-z0-9_]*)*)(\.)?/.exec(src.slice(i))!;
      if (m[0] === '.' || (m[1] === undefined && m[2] === '')) {
        // bare dot
        out.push({ t: 'field', names: [], pos });
        i += 1;
        continue;
      }
      if (m[1] !== undefined) {
        out.push({ t: 'var', name: m[1], pos });
        if (m[2]) out.push({ t: 'field', names: m[2].slice(1).split('.'), pos: pos + m[1].length });
      } else {
        out.push({ t: 'field', names: m[2]!.slice(1).split('.'), pos });
      }
      i += m[0].length - (m[3] ? 1 : 0);
      if (m[3]) err(`bad character ${JSON.stringify('.')}`);
      continue;
    }
    if (/[0-9+-]/.test(c)) {
      const m = /^[+-]?(0[xX][0-9a-fA-F_]+|[0-9_]*\.?[0-9_]+(?:[eE][+-]?[0-9]+)?)/.exec(src.slice(i));
      if (!m || m[0] === '' || m[0] === '+' || m[0] === '-') err(`bad character ${JSON.stringify(c)}`);
      const raw = m![0];
      out.push({ t: 'number', value: Number(raw.replace(/_/g, '')), raw, pos });
      i += raw.length;
      continue;
    }
    if (/[A-Za-z_]/.test(c)) {
      const m = /^[A-Za-z_][A-Za-z0-9_]*/.exec(src.slice(i))!;
      out.push({ t: 'ident', name: m[0], pos });
      i += m[0].length;
      continue;
    }
    err(`unexpected ${JSON.stringify(c)} in command`);
  }
  return out;
}

// ---------------------------------------------------------------- AST

type Arg =
  | { k: 'field'; base: Arg | null; names: string[]; src: string; loc?: string }
  | { k: 'var'; name: string }
  | { k: 'lit'; value: unknown }
  | { k: 'ident'; name: string }
  | { k: 'pipe'; pipe: Pipe };
interface Cmd { args: Arg[]; src: string }
interface Pipe { decl: string[]; assign: boolean; cmds: Cmd[] }

type Node =
  | { k: 'text'; text: string }
  | { k: 'action'; pipe: Pipe }
  | { k: 'if' | 'with' | 'range'; pipe: Pipe; list: Node[]; elseList: Node[] | null };

const BUILTIN_NAMES = new Set(['and', 'or', 'not', 'len', 'index', 'print', 'printf', 'println', 'eq', 'ne', 'lt', 'le', 'gt', 'ge', 'slice', 'html', 'js', 'urlquery', 'call']);

interface RawAction { kind: 'text' | 'action'; text: string; pos: number }

function splitSource(src: string): RawAction[] {
  const out: RawAction[] = [];
  let i = 0;
  let trimNext = false;
  while (i < src.length) {
    const open = src.indexOf('{{', i);
    let text = open < 0 ? src.slice(i) : src.slice(i, open);
    if (trimNext) text = text.replace(/^\s+/, '');
    trimNext = false;
    if (open < 0) { if (text) out.push({ kind: 'text', text, pos: i }); break; }
    let start = open + 2;
    if (src[start] === '-' && /\s/.test(src[start + 1] ?? '')) { text = text.replace(/\s+$/, ''); start += 2; }
    if (text) out.push({ kind: 'text', text, pos: i });
    // find the closing delimiter, skipping quoted strings
    let j = start;
    let close = -1;
    while (j < src.length) {
      const ch = src[j];
      if (ch === '"') { j++; while (j < src.length && src[j] !== '"') { if (src[j] === '\\') j++; j++; } j++; continue; }
      if (ch === '`') { const e = src.indexOf('`', j + 1); j = e < 0 ? src.length : e + 1; continue; }
      if (src.startsWith('}}', j)) { close = j; break; }
      j++;
    }
    if (close < 0) throw new TemplateError('template: :1: unclosed action');
    let end = close;
    if (src[close - 1] === '-' && /\s/.test(src[close - 2] ?? '') && close - 2 >= start) { end = close - 2; trimNext = true; }
    out.push({ kind: 'action', text: src.slice(start, end), pos: start });
    i = close + 2;
  }
  return out;
}

let currentSource = '';

function locOf(pos: number): string {
  const before = currentSource.slice(0, pos);
  const line = before.split('\n').length;
  const col = pos - (before.lastIndexOf('\n') + 1);
  return `${line}:${col}`;
}

class Parser {
  private i = 0;
  constructor(private readonly items: RawAction[]) {}

  parseList(terminators: string[]): { list: Node[]; term: string | null; termToks: Tok[] } {
    const list: Node[] = [];
    while (this.i < this.items.length) {
      const it = this.items[this.i++]!;
      if (it.kind === 'text') { list.push({ k: 'text', text: it.text }); continue; }
      const trimmed = it.text.trim();
      if (trimmed.startsWith('/*')) {
        if (!trimmed.endsWith('*/')) throw new TemplateError('template: :1: unclosed comment');
        continue;
      }
      const toks = lexAction(it.text, it.pos).filter((t, idx, arr) => !(t.t === 'space' && (idx === 0 || idx === arr.length - 1)));
      const first = toks[0];
      const kw = first && first.t === 'ident' ? first.name : null;
      if (kw && terminators.includes(kw)) return { list, term: kw, termToks: toks.slice(1) };
      if (kw === 'end' || kw === 'else') throw new TemplateError(`template: :1: unexpected {{${kw}}}`);
      if (kw === 'if' || kw === 'with' || kw === 'range') {
        list.push(this.parseControl(kw, toks.slice(1), it.text));
        continue;
      }
      if (kw === 'define' || kw === 'template' || kw === 'block' || kw === 'break' || kw === 'continue') {
        throw new TemplateError(`template: :1: {{${kw}}} is not supported`);
      }
      list.push({ k: 'action', pipe: parsePipe(toks, it.text) });
    }
    if (terminators.length) throw new TemplateError('template: :1: unexpected EOF');
    return { list, term: null, termToks: [] };
  }

  private parseControl(kw: 'if' | 'with' | 'range', toks: Tok[], src: string): Node {
    const pipe = parsePipe(toks, src);
    if (pipe.cmds.length === 0) throw new TemplateError(`template: :1: missing value for ${kw}`);
    const body = this.parseList(['else', 'end']);
    let elseList: Node[] | null = null;
    if (body.term === 'else') {
      const rest = body.termToks.filter((t) => t.t !== 'space' || true);
      const nonSpace = rest.filter((t) => t.t !== 'space');
      if (nonSpace.length > 0 && nonSpace[0]!.t === 'ident' && (nonSpace[0] as { name: string }).name === kw && kw !== 'range') {
        // `else if ...` / `else with ...`: a nested control that shares our {{end}}
        const idx = rest.indexOf(nonSpace[0]!);
        elseList = [this.parseControl(kw, rest.slice(idx + 1), src)];
      } else {
        if (nonSpace.length > 0) throw new TemplateError(`template: :1: unexpected ${src.trim()} in else`);
        const e = this.parseList(['end']);
        elseList = e.list;
      }
    }
    return { k: kw, pipe, list: body.list, elseList };
  }
}

function parsePipe(toks: Tok[], src: string): Pipe {
  let pos = 0;
  const pipe: Pipe = { decl: [], assign: false, cmds: [] };
  const skipSpace = () => { while (pos < toks.length && toks[pos]!.t === 'space') pos++; };
  // variable declarations: `$x :=` or `$i, $v :=`
  skipSpace();
  const save = pos;
  const decl: string[] = [];
  while (pos < toks.length && toks[pos]!.t === 'var') {
    decl.push((toks[pos] as { name: string }).name);
    pos++;
    skipSpace();
    const p = toks[pos];
    if (p && p.t === 'punct' && p.value === ',') { pos++; skipSpace(); continue; }
    if (p && p.t === 'punct' && (p.value === ':=' || p.value === '=')) { pipe.decl = decl; pipe.assign = p.value === '='; pos++; break; }
    pos = save; decl.length = 0; break;
  }
  const parseOperand = (): Arg | null => {
    const t = toks[pos];
    if (!t) return null;
    let arg: Arg;
    switch (t.t) {
      case 'field': arg = { k: 'field', base: null, names: t.names, src: '.' + t.names.join('.'), loc: locOf(t.pos) }; pos++; break;
      case 'var': {
        pos++;
        const n = toks[pos];
        if (n && n.t === 'field' && n.names.length) { arg = { k: 'field', base: { k: 'var', name: t.name }, names: n.names, src: t.name + '.' + n.names.join('.') }; pos++; }
        else arg = { k: 'var', name: t.name };
        break;
      }
      case 'string': arg = { k: 'lit', value: t.value }; pos++; break;
      case 'number': arg = { k: 'lit', value: t.value }; pos++; break;
      case 'ident':
        pos++;
        if (t.name === 'true' || t.name === 'false') arg = { k: 'lit', value: t.name === 'true' };
        else if (t.name === 'nil') arg = { k: 'lit', value: null };
        else arg = { k: 'ident', name: t.name };
        break;
      case 'punct':
        if (t.value !== '(') return null;
        {
          pos++;
          let depth = 1;
          const start = pos;
          while (pos < toks.length) {
            const x = toks[pos]!;
            if (x.t === 'punct' && x.value === '(') depth++;
            if (x.t === 'punct' && x.value === ')' && --depth === 0) break;
            pos++;
          }
          if (pos >= toks.length) throw new TemplateError('template: :1: unclosed left paren');
          const inner = parsePipe(toks.slice(start, pos), src);
          pos++;
          arg = { k: 'pipe', pipe: inner };
          const n = toks[pos];
          if (n && n.t === 'field' && n.names.length) { arg = { k: 'field', base: arg, names: n.names, src: '(...).' + n.names.join('.') }; pos++; }
        }
        break;
      default: return null;
    }
    return arg;
  };
  let cmd: Cmd = { args: [], src: '' };
  let cmdStart = pos;
  const finishCmd = () => {
    if (cmd.args.length === 0) throw new TemplateError(`template: :1: missing command`);
    cmd.src = toks.slice(cmdStart, pos).map(tokSrc).join('').trim();
    pipe.cmds.push(cmd);
  };
  while (true) {
    skipSpace();
    if (pos >= toks.length) break;
    const t = toks[pos]!;
    if (t.t === 'punct' && t.value === '|') {
      finishCmd();
      pos++;
      cmd = { args: [], src: '' };
      cmdStart = pos;
      continue;
    }
    const a = parseOperand();
    if (!a) throw new TemplateError(`template: :1: unexpected ${JSON.stringify(tokSrc(t))} in command`);
    if (a.k === 'ident' && !BUILTIN_NAMES.has(a.name) && !DOCKER_FUNCS[a.name]) {
      throw new TemplateError(`template: :1: function "${a.name}" not defined`);
    }
    cmd.args.push(a);
  }
  if (cmd.args.length) finishCmd();
  else if (pipe.cmds.length) throw new TemplateError('template: :1: missing command');
  if (pipe.decl.length && pipe.cmds.length === 0) throw new TemplateError('template: :1: missing value for command');
  void src;
  return pipe;
}

function tokSrc(t: Tok): string {
  switch (t.t) {
    case 'field': return '.' + t.names.join('.');
    case 'var': return t.name;
    case 'ident': return t.name;
    case 'string': return JSON.stringify(t.value);
    case 'number': return t.raw;
    case 'punct': return t.value;
    case 'space': return ' ';
  }
}

// ---------------------------------------------------------------- values

/** Go's fmt %v rendering of a (JSON-like) value. */
export function goPrint(v: unknown): string {
  if (v === null || v === undefined) return '<nil>';
  if (typeof v === 'string') return v;
  if (typeof v === 'number') return goNumber(v);
  if (typeof v === 'boolean' || typeof v === 'bigint') return String(v);
  if (Array.isArray(v)) return '[' + v.map(goPrint).join(' ') + ']';
  if (typeof v === 'object') {
    const s = v as { toString?: () => string };
    if ((v as Record<symbol, unknown>)[STRUCT] && typeof s.toString === 'function' && s.toString !== Object.prototype.toString) return s.toString();
    const keys = Object.keys(v).sort();
    return 'map[' + keys.map((k) => `${k}:${goPrint((v as Record<string, unknown>)[k])}`).join(' ') + ']';
  }
  return String(v);
}

function goNumber(n: number): string {
  if (Number.isInteger(n)) return String(n);
  return String(n);
}

function truthy(v: unknown): boolean {
  if (v === null || v === undefined || v === false || v === 0 || v === '') return false;
  if (Array.isArray(v)) return v.length > 0;
  if (typeof v === 'object' && !(v as Record<symbol, unknown>)[STRUCT]) return Object.keys(v as object).length > 0;
  return true;
}

function typeName(v: unknown): string {
  if (v === null || v === undefined) return 'interface {}';
  if (typeof v === 'object' && (v as Record<symbol, unknown>)[STRUCT]) return String((v as Record<symbol, unknown>)[STRUCT]);
  if (Array.isArray(v)) return '[]interface {}';
  if (typeof v === 'object') return 'map[string]interface {}';
  if (typeof v === 'number') return Number.isInteger(v) ? 'int' : 'float64';
  return typeof v;
}

// ---------------------------------------------------------------- functions

function goTitle(s: string): string {
  return s.replace(/(^|[^\p{L}\p{N}_'])(\p{L})/gu, (_m, pre: string, ch: string) => pre + ch.toUpperCase());
}

/** Go's json.Marshal with SetEscapeHTML(false); structs made by goStruct are rendered via toJSON. */
export function goJson(v: unknown): string {
  const s = JSON.stringify(v === undefined ? null : v) ?? 'null';
  if (v && typeof v === 'object' && (v as Record<symbol, unknown>)[STRUCT]) {
    return s.replace(/[<>&]/g, (c) => `\\u00${c.charCodeAt(0).toString(16)}`);
  }
  return s;
}

function joinElements(v: unknown, sep: string): string {
  if (v === null || v === undefined) return '';
  if (Array.isArray(v)) return v.map(goPrint).join(sep);
  if (typeof v === 'object') return Object.values(v as object).map(goPrint).sort().join(sep);
  throw new TemplateError(`expected slice, got ${typeName(v)}`);
}

/** Go fmt.Sprintf for the common verbs. */
export function goSprintf(format: string, ...args: unknown[]): string {
  let ai = 0;
  return format.replace(/%([-+# 0]*)(\d+|\*)?(?:\.(\d+|\*))?([vsdqfxXgetTc%])/g, (_m, flags: string, width: string | undefined, prec: string | undefined, verb: string) => {
    if (verb === '%') return '%';
    if (ai >= args.length) return `%!${verb}(MISSING)`;
    if (width === '*') width = String(args[ai++]);
    if (prec === '*') prec = String(args[ai++]);
    const a = args[ai++];
    let s: string;
    switch (verb) {
      case 'd': s = typeof a === 'number' ? String(Math.trunc(a)) : `%!d(${typeName(a)}=${goPrint(a)})`; break;
      case 'f': case 'e': case 'g': {
        const n = Number(a);
        if (verb === 'f') s = n.toFixed(prec !== undefined ? Number(prec) : 6);
        else if (verb === 'e') s = n.toExponential(prec !== undefined ? Number(prec) : 6).replace(/e([+-])(\d)$/, 'e$10$2');
        else s = prec !== undefined ? formatG(n, Number(prec)) : String(n);
        if (flags.includes('+') && n >= 0) s = '+' + s;
        break;
      }
      case 'q': s = JSON.stringify(typeof a === 'string' ? a : goPrint(a)); break;
      case 'x': case 'X': s = typeof a === 'number' ? a.toString(16) : Buffer.from(String(a)).toString('hex'); if (verb === 'X') s = s.toUpperCase(); break;
      case 't': s = String(Boolean(a)); break;
      case 'T': s = typeName(a); break;
      case 'c': s = String.fromCodePoint(Number(a)); break;
      default: s = goPrint(a); if (prec !== undefined && verb === 's') s = s.slice(0, Number(prec));
    }
    if (width !== undefined && s.length < Number(width)) {
      const pad = Number(width) - s.length;
      if (flags.includes('-')) s = s + ' '.repeat(pad);
      else if (flags.includes('0') && /[dfx]/i.test(verb)) s = (s.startsWith('-') ? '-' + '0'.repeat(pad) + s.slice(1) : '0'.repeat(pad) + s);
      else s = ' '.repeat(pad) + s;
    }
    return s;
  }) + (ai < args.length ? `%!(EXTRA ${args.slice(ai).map((a) => `${typeName(a)}=${goPrint(a)}`).join(', ')})` : '');
}

/** Go's %.{p}g: shortest of %e/%f with p significant digits, trailing zeros removed. */
export function formatG(n: number, p: number): string {
  if (n === 0) return '0';
  if (p === 0) p = 1;
  const exp = Math.floor(Math.log10(Math.abs(Number(n.toPrecision(p)))));
  if (exp < -4 || exp >= p) {
    let [m, e] = n.toExponential(p - 1).split('e') as [string, string];
    if (m.includes('.')) m = m.replace(/0+$/, '').replace(/\.$/, '');
    const en = Number(e);
    return `${m}e${en < 0 ? '-' : '+'}${String(Math.abs(en)).padStart(2, '0')}`;
  }
  let s = n.toFixed(Math.max(0, p - 1 - exp));
  if (s.includes('.')) s = s.replace(/0+$/, '').replace(/\.$/, '');
  return s;
}

function goSprint(args: unknown[]): string {
  // Sprint adds spaces between operands when neither side is a string
  let out = '';
  args.forEach((a, i) => {
    if (i > 0 && typeof a !== 'string' && typeof args[i - 1] !== 'string') out += ' ';
    out += goPrint(a);
  });
  return out;
}

function compare(a: unknown, b: unknown, op: string): boolean {
  if (typeof a !== typeof b && !(a == null && b == null)) {
    throw new TemplateError(`error calling ${op}: incompatible types for comparison`);
  }
  switch (op) {
    case 'lt': return (a as number) < (b as number);
    case 'le': return (a as number) <= (b as number);
    case 'gt': return (a as number) > (b as number);
    default: return (a as number) >= (b as number);
  }
}

function indexValue(v: unknown, keys: unknown[]): unknown {
  let cur = v;
  for (const k of keys) {
    if (cur === null || cur === undefined) throw new TemplateError('error calling index: index of untyped nil');
    if (Array.isArray(cur) || typeof cur === 'string') {
      const i = Number(k);
      if (!Number.isInteger(i) || i < 0 || i >= cur.length) throw new TemplateError(`error calling index: index out of range: ${goPrint(k)}`);
      cur = typeof cur === 'string' ? cur.charCodeAt(i) : cur[i];
    } else if (typeof cur === 'object') {
      const o = cur as Record<string, unknown>;
      cur = Object.prototype.hasOwnProperty.call(o, String(k)) ? o[String(k)] : undefined;
      if (cur === undefined) cur = null;
    } else {
      throw new TemplateError(`error calling index: can't index item of type ${typeName(cur)}`);
    }
  }
  return cur === undefined ? null : cur;
}

const DOCKER_FUNCS: Record<string, TemplateFunc> = {
  json: (v: unknown) => goJson(v),
  split: (s: string, sep: string) => String(s).split(sep),
  join: joinElements,
  title: (s: string) => goTitle(String(s)),
  lower: (s: string) => String(s).toLowerCase(),
  upper: (s: string) => String(s).toUpperCase(),
  pad: (s: string, pre: number, suf: number) => (s === '' ? s : ' '.repeat(pre) + s + ' '.repeat(suf)),
  truncate: (s: string, n: number) => (String(s).length < n ? String(s) : String(s).slice(0, n)),
};

/** Docker's HeaderFunctions: in a table header these leave the column name untouched. */
export const HEADER_FUNCS: Record<string, TemplateFunc> = {
  json: (v: unknown) => v,
  split: (v: unknown) => v,
  join: (v: unknown) => v,
  title: (v: unknown) => v,
  lower: (v: unknown) => v,
  upper: (v: unknown) => v,
  truncate: (v: unknown) => v,
};

const BUILTINS: Record<string, TemplateFunc> = {
  len: (v: unknown) => {
    if (typeof v === 'string' || Array.isArray(v)) return v.length;
    if (v && typeof v === 'object') return Object.keys(v).length;
    throw new TemplateError(`error calling len: len of type ${typeName(v)}`);
  },
  index: (v: unknown, ...keys: unknown[]) => indexValue(v, keys),
  slice: (v: unknown, ...idx: number[]) => {
    if (typeof v !== 'string' && !Array.isArray(v)) throw new TemplateError(`error calling slice: can't slice item of type ${typeName(v)}`);
    return v.slice(idx[0] ?? 0, idx[1] ?? v.length);
  },
  printf: (f: string, ...a: unknown[]) => goSprintf(String(f), ...a),
  print: (...a: unknown[]) => goSprint(a),
  println: (...a: unknown[]) => a.map(goPrint).join(' ') + '\n',
  not: (v: unknown) => !truthy(v),
  eq: (a: unknown, ...bs: unknown[]) => bs.some((b) => a === b || (a == null && b == null)),
  ne: (a: unknown, b: unknown) => !(a === b || (a == null && b == null)),
  lt: (a: unknown, b: unknown) => compare(a, b, 'lt'),
  le: (a: unknown, b: unknown) => compare(a, b, 'le'),
  gt: (a: unknown, b: unknown) => compare(a, b, 'gt'),
  ge: (a: unknown, b: unknown) => compare(a, b, 'ge'),
  html: (...a: unknown[]) => goSprint(a).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`),
  urlquery: (...a: unknown[]) => encodeURIComponent(goSprint(a)),
  js: (...a: unknown[]) => JSON.stringify(goSprint(a)).slice(1, -1),
};

// ---------------------------------------------------------------- execution

interface Scope { vars: Map<string, unknown>[]; opts: ExecuteOptions; funcs: Record<string, TemplateFunc> }

const NO_VALUE = Symbol('noValue');

// Docker's inspect runs the template over typed Go structs first, where a nil slice prints "[]" and a
// nil map "map[]"; JSON null loses that type, so known Engine API list/map fields are named here.
const NULL_SLICE_FIELDS = new Set(['Cmd', 'Entrypoint', 'Env', 'Binds', 'Links', 'Dns', 'DnsOptions', 'DnsSearch', 'ExtraHosts',
  'CapAdd', 'CapDrop', 'SecurityOpt', 'VolumesFrom', 'GroupAdd', 'Mounts', 'Devices', 'Ulimits', 'OnBuild', 'Shell', 'RepoTags',
  'RepoDigests', 'Aliases', 'Layers', 'DeviceCgroupRules', 'DeviceRequests', 'MaskedPaths', 'ReadonlyPaths', 'Args', 'DNSNames',
  'BlkioWeightDevice', 'BlkioDeviceReadBps', 'BlkioDeviceWriteBps', 'BlkioDeviceReadIOps', 'BlkioDeviceWriteIOps', 'ConsoleSize', 'Warnings']);
const NULL_MAP_FIELDS = new Set(['Labels', 'Volumes', 'ExposedPorts', 'PortBindings', 'Tmpfs', 'Sysctls', 'Networks', 'Ports',
  'StorageOpt', 'Annotations', 'DriverOpts', 'Options', 'Data']);

function printNull(p: Pipe): string {
  const last = p.cmds[p.cmds.length - 1];
  const a = last && last.args.length === 1 ? last.args[0] : undefined;
  if (a && a.k === 'field' && a.names.length) {
    const name = a.names[a.names.length - 1]!;
    if (NULL_SLICE_FIELDS.has(name)) return '[]';
    if (NULL_MAP_FIELDS.has(name)) return 'map[]';
  }
  return '<nil>';
}

class Exec {
  constructor(private readonly s: Scope) {}

  run(nodes: Node[], dot: unknown, out: string[]): void {
    for (const n of nodes) {
      switch (n.k) {
        case 'text': out.push(n.text); break;
        case 'action': {
          const v = this.pipe(n.pipe, dot);
          if (n.pipe.decl.length === 0) out.push(v === NO_VALUE ? '<no value>' : v === null ? printNull(n.pipe) : goPrint(v));
          break;
        }
        case 'if': case 'with': {
          this.s.vars.push(new Map());
          const v = this.pipe(n.pipe, dot);
          if (truthy(v === NO_VALUE ? null : v)) this.run(n.list, n.k === 'with' ? v : dot, out);
          else if (n.elseList) this.run(n.elseList, dot, out);
          this.s.vars.pop();
          break;
        }
        case 'range': {
          this.s.vars.push(new Map());
          const v = this.pipe({ ...n.pipe, decl: [] }, dot);
          let entries: [unknown, unknown][] = [];
          if (Array.isArray(v)) entries = v.map((x, i) => [i, x]);
          else if (v && typeof v === 'object' && !(v as Record<symbol, unknown>)[STRUCT]) entries = Object.keys(v).sort().map((k) => [k, (v as Record<string, unknown>)[k]]);
          else if (typeof v === 'number' && Number.isInteger(v)) entries = Array.from({ length: Math.max(0, v) }, (_x, i) => [i, i]);
          else if (v !== null && v !== undefined && v !== NO_VALUE) throw new TemplateError(`template: :1: range can't iterate over ${goPrint(v)}`);
          if (entries.length === 0) {
            if (n.elseList) this.run(n.elseList, dot, out);
          } else {
            for (const [k, x] of entries) {
              const scope = new Map<string, unknown>();
              if (n.pipe.decl.length === 1) scope.set(n.pipe.decl[0]!, x);
              else if (n.pipe.decl.length >= 2) { scope.set(n.pipe.decl[0]!, k); scope.set(n.pipe.decl[1]!, x); }
              this.s.vars.push(scope);
              this.run(n.list, x, out);
              this.s.vars.pop();
            }
          }
          this.s.vars.pop();
          break;
        }
      }
    }
  }

  private lookupVar(name: string): unknown {
    for (let i = this.s.vars.length - 1; i >= 0; i--) {
      const m = this.s.vars[i]!;
      if (m.has(name)) return m.get(name);
    }
    throw new TemplateError(`template: :1: undefined variable: ${name}`);
  }

  pipe(p: Pipe, dot: unknown): unknown {
    let val: unknown = NO_VALUE;
    let first = true;
    for (const c of p.cmds) {
      val = this.cmd(c, dot, first ? NO_VALUE : val);
      first = false;
    }
    if (p.decl.length) {
      if (p.assign) {
        for (let i = this.s.vars.length - 1; i >= 0; i--) {
          if (this.s.vars[i]!.has(p.decl[0]!)) { this.s.vars[i]!.set(p.decl[0]!, val); return val; }
        }
        throw new TemplateError(`template: :1: undefined variable: ${p.decl[0]}`);
      }
      this.s.vars[this.s.vars.length - 1]!.set(p.decl[0]!, val);
    }
    return val;
  }

  private arg(a: Arg, dot: unknown): unknown {
    switch (a.k) {
      case 'lit': return a.value;
      case 'var': return this.lookupVar(a.name);
      case 'pipe': { const v = this.pipe(a.pipe, dot); return v === NO_VALUE ? null : v; }
      case 'ident': return this.call(a.name, [], NO_VALUE);
      case 'field': { const v = this.field(a, dot, [], NO_VALUE); return v === NO_VALUE ? null : v; }
    }
  }

  private cmd(c: Cmd, dot: unknown, final: unknown): unknown {
    const [head, ...rest] = c.args;
    if (!head) throw new TemplateError('template: :1: empty command');
    if (head.k === 'ident') return this.call(head.name, rest.map((a) => this.arg(a, dot)), final);
    if (head.k === 'field') return this.field(head, dot, rest.map((a) => this.arg(a, dot)), final);
    if (rest.length || final !== NO_VALUE) throw new TemplateError(`template: :1: can't give argument to non-function ${c.src}`);
    return this.arg(head, dot);
  }

  private call(name: string, args: unknown[], final: unknown): unknown {
    if (final !== NO_VALUE) args.push(final);
    if (name === 'and' || name === 'or') {
      if (args.length === 0) throw new TemplateError(`template: :1: wrong number of args for ${name}: want at least 1 got 0`);
      for (const a of args) if (name === 'and' ? !truthy(a) : truthy(a)) return a;
      return args[args.length - 1];
    }
    const f = this.s.funcs[name] ?? BUILTINS[name];
    if (!f) throw new TemplateError(`template: :1: function "${name}" not defined`);
    try {
      return f(...args);
    } catch (e) {
      if (e instanceof TemplateError) throw new TemplateError(`template: :1: executing "" at <${name}>: ${e.message.replace(/^template: :1: /, '')}`);
      throw new TemplateError(`template: :1: executing "" at <${name}>: error calling ${name}: ${(e as Error).message}`);
    }
  }

  private field(a: Extract<Arg, { k: 'field' }>, dot: unknown, args: unknown[], final: unknown): unknown {
    try {
      return this.fieldInner(a, dot, args, final);
    } catch (e) {
      if (e instanceof TemplateError && a.loc) throw new TemplateError(e.message.replace(/^template: :1: executing/, `template: :${a.loc}: executing`));
      throw e;
    }
  }

  private fieldInner(a: Extract<Arg, { k: 'field' }>, dot: unknown, args: unknown[], final: unknown): unknown {
    let cur: unknown = a.base ? this.arg(a.base, dot) : dot;
    if (final !== NO_VALUE) args = [...args, final];
    if (a.names.length === 0) {
      if (args.length) throw new TemplateError(`template: :1: can't give argument to non-function .`);
      return cur;
    }
    for (let i = 0; i < a.names.length; i++) {
      const name = a.names[i]!;
      const last = i === a.names.length - 1;
      if (cur === null || cur === undefined || cur === NO_VALUE) {
        if (this.s.opts.missingKey === 'error' || cur === null) throw new TemplateError(`template: :1: executing "" at <${a.src}>: nil pointer evaluating interface {}.${name}`);
        return NO_VALUE;
      }
      if (typeof cur !== 'object' || Array.isArray(cur)) {
        throw new TemplateError(`template: :1: executing "" at <${a.src}>: can't evaluate field ${name} in type ${typeName(cur)}`);
      }
      const obj = cur as Record<string, unknown>;
      const isStruct = Boolean((obj as Record<symbol, unknown>)[STRUCT]);
      if (isStruct) {
        if (!(name in obj)) throw new TemplateError(`template: :1: executing "" at <${a.src}>: can't evaluate field ${name} in type ${typeName(cur)}`);
        const v = obj[name];
        if (typeof v === 'function') {
          cur = last ? (v as TemplateFunc).apply(obj, args) : (v as TemplateFunc).call(obj);
          if (last) return cur;
          continue;
        }
        cur = v;
      } else {
        if (!Object.prototype.hasOwnProperty.call(obj, name)) {
          if (this.s.opts.missingKey === 'error') throw new TemplateError(`template: :1: executing "" at <${a.src}>: map has no entry for key "${name}"`);
          cur = NO_VALUE;
          if (!last) return NO_VALUE;
          continue;
        }
        cur = obj[name];
      }
      if (last && args.length) throw new TemplateError(`template: :1: executing "" at <${a.src}>: ${name} has arguments but cannot be invoked as function`);
    }
    return cur === undefined ? null : cur;
  }
}

export interface Template {
  execute(data: unknown, opts?: ExecuteOptions): string;
}

/** Parses a template; throws TemplateError with a Go-like message on syntax errors. */
export function parseTemplate(src: string, extraFuncs: Record<string, TemplateFunc> = {}): Template {
  currentSource = src;
  const nodes = new Parser(splitSource(src)).parseList([]).list;
  return {
    execute(data: unknown, opts: ExecuteOptions = {}): string {
      const out: string[] = [];
      const funcs = { ...DOCKER_FUNCS, ...extraFuncs, ...(opts.funcs ?? {}) };
      new Exec({ vars: [new Map([['$', data]])], opts, funcs }).run(nodes, data, out);
      return out.join('');
    },
  };
}

/** Convenience: parse and execute once. */
export function renderTemplate(src: string, data: unknown, opts?: ExecuteOptions): string {
  return parseTemplate(src).execute(data, opts);
}
