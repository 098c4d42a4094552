// The Dockerfile grammar, second half: nodes → typed instructions grouped into stages, with
// buildkit's per-instruction checks and wording (frontend/dockerfile/instructions). Values are kept
// as written (unexpanded, quotes intact where Docker expands later); shell-lex.ts and plan.ts apply
// variable substitution with the build's ARG/ENV scope. Pure: no I/O.
import { parseGoDuration } from '../core/filters.js';
import {
  DockerfileParseError, type Directives, type Heredoc, type Node, nodeFromLine, parseDockerfile,
  parseJsonArray, parseWords, splitWhitespace,
} from './parser.js';

export interface Located {
  /** First and last Dockerfile line of the instruction (heredoc bodies included). */
  line: number;
  endLine: number;
  /** The logical line as written (continuations joined), for "Step N/M : ..." output. */
  original: string;
}

/** Exec form (JSON array) or shell form (one string run through SHELL). */
export type CommandForm = { form: 'exec'; args: string[] } | { form: 'shell'; command: string };

export interface KeyValue { key: string; value: string }

export type CopySource = { kind: 'path'; path: string } | { kind: 'heredoc'; name: string; content: string; expand: boolean };

export type Instruction = Located & (
  | { kind: 'FROM'; image: string; name?: string; platform?: string }
  | ({ kind: 'RUN'; heredocs: Heredoc[]; mounts: string[]; network?: string; security?: string } & CommandForm)
  | ({ kind: 'CMD' } & CommandForm)
  | ({ kind: 'ENTRYPOINT' } & CommandForm)
  | { kind: 'SHELL'; shell: string[] }
  | { kind: 'ENV'; pairs: KeyValue[] }
  | { kind: 'LABEL'; pairs: KeyValue[] }
  | { kind: 'ARG'; args: { key: string; value?: string }[] }
  | { kind: 'MAINTAINER'; maintainer: string }
  | { kind: 'EXPOSE'; ports: string[] }
  | { kind: 'VOLUME'; volumes: string[] }
  | { kind: 'USER'; user: string }
  | { kind: 'WORKDIR'; path: string }
  | { kind: 'STOPSIGNAL'; signal: string }
  | { kind: 'HEALTHCHECK'; test: string[]; interval?: number; timeout?: number; startPeriod?: number; startInterval?: number; retries?: number }
  | { kind: 'ONBUILD'; expression: string; trigger: Instruction }
  | { kind: 'COPY'; sources: CopySource[]; dest: string; from?: string; chown?: string; chmod?: string; link: boolean; parents: boolean; excludes: string[]; json: boolean }
  | { kind: 'ADD'; sources: CopySource[]; dest: string; chown?: string; chmod?: string; link: boolean; keepGitDir: boolean; checksum?: string; excludes: string[]; json: boolean }
);

export type InstructionKind = Instruction['kind'];
export type InstructionOf<K extends InstructionKind> = Extract<Instruction, { kind: K }>;

export interface Stage {
  /** Position in the file, as `COPY --from=<index>` counts. */
  index: number;
  /** The `AS` name, lower-cased as Docker does. */
  name?: string;
  from: InstructionOf<'FROM'>;
  instructions: Instruction[];
}

export interface Dockerfile {
  directives: Directives;
  /** ARGs before the first FROM: visible to FROM lines only (and to stages that redeclare them). */
  metaArgs: InstructionOf<'ARG'>[];
  stages: Stage[];
}

const KINDS: readonly InstructionKind[] = [
  'ADD', 'ARG', 'CMD', 'COPY', 'ENTRYPOINT', 'ENV', 'EXPOSE', 'FROM', 'HEALTHCHECK', 'LABEL', 'MAINTAINER',
  'ONBUILD', 'RUN', 'SHELL', 'STOPSIGNAL', 'USER', 'VOLUME', 'WORKDIR',
];

/** Parses a whole Dockerfile into stages. Throws DockerfileParseError naming the line. */
export function parseDockerfileInstructions(text: string): Dockerfile {
  const parsed = parseDockerfile(text);
  if (parsed.nodes.length === 0) throw new DockerfileParseError(1, 'file with no instructions');
  const metaArgs: InstructionOf<'ARG'>[] = [];
  const stages: Stage[] = [];
  const names = new Map<string, number>();
  for (const node of parsed.nodes) {
    const ins = parseInstruction(node, parsed.directives.escape);
    if (ins.kind === 'FROM') {
      if (ins.name !== undefined) {
        const prev = names.get(ins.name);
        if (prev !== undefined) throw new DockerfileParseError(ins.line, `duplicate stage name "${ins.name}", first defined on line ${prev}`);
        names.set(ins.name, ins.line);
      }
      stages.push({ index: stages.length, name: ins.name, from: ins, instructions: [] });
    } else if (stages.length === 0) {
      if (ins.kind !== 'ARG') throw new DockerfileParseError(ins.line, 'no build stage in current context');
      metaArgs.push(ins);
    } else {
      stages[stages.length - 1].instructions.push(ins);
    }
  }
  if (stages.length === 0) throw new DockerfileParseError(parsed.nodes[parsed.nodes.length - 1].endLine, 'dockerfile contains no stages to build');
  return { directives: parsed.directives, metaArgs, stages };
}

type FlagType = 'string' | 'strings' | 'bool';
type FlagValues = Map<string, string | string[] | boolean>;

/** Builder flags with buildkit's BFlags rules and messages. */
function parseFlags(flags: string[], allowed: Record<string, FlagType>): FlagValues {
  const out: FlagValues = new Map();
  for (const arg of flags) {
    if (!arg.startsWith('--')) throw new Error(`arg should start with -- : ${arg}`);
    const eq = arg.indexOf('=');
    const name = eq < 0 ? arg.slice(2) : arg.slice(2, eq);
    const value = eq < 0 ? undefined : arg.slice(eq + 1);
    const type = Object.hasOwn(allowed, name) ? allowed[name] : undefined;
    if (type === undefined) throw new Error(`unknown flag: ${name}${suggestion(name, Object.keys(allowed), true)}`);
    if (out.has(name) && type !== 'strings') throw new Error(`duplicate flag specified: ${name}`);
    if (type === 'bool') {
      if (value === '') throw new Error(`missing a value on flag: ${name}`);
      const v = (value ?? 'true').toLowerCase();
      if (v !== 'true' && v !== 'false') throw new Error(`expecting boolean value for flag ${name}, not: ${value}`);
      out.set(name, v === 'true');
    } else {
      if (value === undefined) throw new Error(`missing a value on flag: ${name}`);
      if (type === 'strings') out.set(name, [...((out.get(name) as string[] | undefined) ?? []), value]);
      else out.set(name, value);
    }
  }
  return out;
}

const str = (f: FlagValues, k: string): string | undefined => f.get(k) as string | undefined;
const bool = (f: FlagValues, k: string): boolean => f.get(k) === true;
const strs = (f: FlagValues, k: string): string[] => (f.get(k) as string[] | undefined) ?? [];

/** Docker's "did you mean" hint for a misspelt instruction or flag. */
function suggestion(value: string, options: string[], caseSensitive: boolean): string {
  const v = caseSensitive ? value : value.toUpperCase();
  let best: string | undefined;
  let bestDist = 3;
  for (const o of options) {
    const d = levenshtein(v, caseSensitive ? o : o.toUpperCase());
    if (d < bestDist && d <= v.length / 2) { best = o; bestDist = d; }
  }
  return best === undefined ? '' : ` (did you mean ${best}?)`;
}

function levenshtein(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++) cur[j] = Math.min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
    prev = cur;
  }
  return prev[b.length];
}

/** One node → one typed instruction; errors carry the node's first line. */
export function parseInstruction(node: Node, esc: string): Instruction {
  try {
    return parseNode(node, esc);
  } catch (err) {
    if (err instanceof DockerfileParseError) throw err;
    throw new DockerfileParseError(node.startLine, (err as Error).message);
  }
}

function parseNode(node: Node, esc: string): Instruction {
  const loc: Located = { line: node.startLine, endLine: node.endLine, original: node.original };
  const K = node.cmd.toUpperCase() as InstructionKind;
  if (!KINDS.includes(K)) throw new Error(`unknown instruction: ${node.word}${suggestion(node.word, [...KINDS], false)}`);
  const rest = node.rest;
  const noFlags = (): void => { parseFlags(node.flags, {}); };
  const atLeastOne = (n: number): void => { if (n === 0) throw new Error(`${K} requires at least one argument`); };
  const exactlyOne = (n: number): void => { if (n !== 1) throw new Error(`${K} requires exactly one argument`); };
  const command = (): CommandForm => {
    const json = parseJsonArray(rest);
    if (json) return { form: 'exec', args: json };
    atLeastOne(rest === '' ? 0 : 1);
    return { form: 'shell', command: rest };
  };
  switch (K) {
    case 'FROM': {
      const f = parseFlags(node.flags, { platform: 'string' });
      const args = splitWhitespace(rest);
      if (!(args.length === 1 || args.length === 3)) throw new Error('FROM requires either one or three arguments');
      if (args.length === 3 && args[1].toLowerCase() !== 'as') throw new Error('FROM requires either one or three arguments');
      let name: string | undefined;
      if (args.length === 3) {
        name = args[2].toLowerCase();
        if (!/^[a-z][a-z0-9._-]*$/.test(name)) throw new Error(`invalid name for build stage: "${args[2]}", name can't start with a number or contain symbols`);
      }
      return { ...loc, kind: 'FROM', image: args[0], ...(name !== undefined ? { name } : {}), ...(str(f, 'platform') !== undefined ? { platform: str(f, 'platform') } : {}) };
    }
    case 'RUN': {
      const f = parseFlags(node.flags, { mount: 'strings', network: 'string', security: 'string' });
      return {
        ...loc, kind: 'RUN', ...command(), heredocs: node.heredocs, mounts: strs(f, 'mount'),
        ...(str(f, 'network') !== undefined ? { network: str(f, 'network') } : {}),
        ...(str(f, 'security') !== undefined ? { security: str(f, 'security') } : {}),
      };
    }
    case 'CMD': case 'ENTRYPOINT': noFlags(); return { ...loc, kind: K, ...command() };
    case 'SHELL': {
      noFlags();
      const json = parseJsonArray(rest);
      if (!json) throw new Error('SHELL requires the arguments to be in JSON form');
      atLeastOne(json.length);
      return { ...loc, kind: 'SHELL', shell: json };
    }
    case 'ENV': case 'LABEL': {
      noFlags();
      const pairs = nameValues(K, rest, esc);
      atLeastOne(pairs.length);
      for (const p of pairs) if (p.key === '') throw new Error(`${K} names can not be blank`);
      return { ...loc, kind: K, pairs };
    }
    case 'ARG': {
      noFlags();
      const words = parseWords(rest, esc);
      atLeastOne(words.length);
      const args = words.map((w) => {
        const eq = w.indexOf('=');
        return eq < 0 ? { key: w } : { key: w.slice(0, eq), value: w.slice(eq + 1) };
      });
      for (const a of args) if (a.key === '') throw new Error('ARG names can not be blank');
      return { ...loc, kind: 'ARG', args };
    }
    case 'MAINTAINER': noFlags(); exactlyOne(rest === '' ? 0 : 1); return { ...loc, kind: 'MAINTAINER', maintainer: rest };
    case 'EXPOSE': {
      noFlags();
      const ports = splitWhitespace(rest);
      atLeastOne(ports.length);
      return { ...loc, kind: 'EXPOSE', ports };
    }
    case 'VOLUME': {
      noFlags();
      const volumes = parseJsonArray(rest) ?? splitWhitespace(rest);
      atLeastOne(volumes.length);
      for (const v of volumes) if (v.trim() === '') throw new Error('VOLUME specified can not be an empty string');
      return { ...loc, kind: 'VOLUME', volumes };
    }
    case 'USER': noFlags(); exactlyOne(rest === '' ? 0 : 1); return { ...loc, kind: 'USER', user: rest };
    case 'WORKDIR': noFlags(); exactlyOne(rest === '' ? 0 : 1); return { ...loc, kind: 'WORKDIR', path: rest };
    case 'STOPSIGNAL': noFlags(); exactlyOne(rest === '' ? 0 : 1); return { ...loc, kind: 'STOPSIGNAL', signal: rest };
    case 'HEALTHCHECK': return healthcheck(node, loc);
    case 'ONBUILD': {
      noFlags();
      if (rest === '') throw new Error('ONBUILD requires at least one argument');
      const sub = nodeFromLine(rest, node.startLine, node.endLine);
      const t = sub.cmd.toUpperCase();
      if (t === 'ONBUILD') throw new Error('Chaining ONBUILD via `ONBUILD ONBUILD` isn\'t allowed');
      if (t === 'FROM' || t === 'MAINTAINER') throw new Error(`${t} isn't allowed as an ONBUILD trigger`);
      sub.heredocs = node.heredocs;
      return { ...loc, kind: 'ONBUILD', expression: node.original.replace(/^\s*onbuild\s*/i, ''), trigger: parseNode(sub, esc) };
    }
    case 'COPY': case 'ADD': {
      const f = parseFlags(node.flags, K === 'COPY'
        ? { from: 'string', chown: 'string', chmod: 'string', link: 'bool', parents: 'bool', exclude: 'strings' }
        : { chown: 'string', chmod: 'string', link: 'bool', 'keep-git-dir': 'bool', checksum: 'string', exclude: 'strings' });
      const json = parseJsonArray(rest);
      const args = json ?? splitWhitespace(rest);
      if (args.length < 2) throw new Error(`${K} requires at least two arguments, but only one was provided. Destination could not be determined`);
      const heredocs = new Map(node.heredocs.map((h) => [h.name, h]));
      const sources: CopySource[] = args.slice(0, -1).map((a) => {
        const m = json ? null : /^\d*<<-?(.+)$/.exec(a);
        const h = m ? heredocs.get(m[1].replace(/["']/g, '')) : undefined;
        return h ? { kind: 'heredoc', name: h.name, content: h.content, expand: h.expand } : { kind: 'path', path: a };
      });
      const common = {
        sources, dest: args[args.length - 1], link: bool(f, 'link'), excludes: strs(f, 'exclude'), json: json !== undefined,
        ...(str(f, 'chown') !== undefined ? { chown: str(f, 'chown') } : {}),
        ...(str(f, 'chmod') !== undefined ? { chmod: str(f, 'chmod') } : {}),
      };
      if (K === 'COPY') return { ...loc, kind: 'COPY', ...common, parents: bool(f, 'parents'), ...(str(f, 'from') !== undefined ? { from: str(f, 'from') } : {}) };
      return { ...loc, kind: 'ADD', ...common, keepGitDir: bool(f, 'keep-git-dir'), ...(str(f, 'checksum') !== undefined ? { checksum: str(f, 'checksum') } : {}) };
    }
  }
}

/** ENV/LABEL: `KEY value` (one pair, the rest of the line) or `k=v k2="v 2"` (buildkit's parseNameVal). */
function nameValues(K: string, rest: string, esc: string): KeyValue[] {
  const words = parseWords(rest, esc);
  if (words.length === 0) return [];
  if (!words[0].includes('=')) {
    const m = /^(\S+)\s+([\s\S]+)$/.exec(rest);
    if (!m) throw new Error(`${K} must have two arguments`);
    return [{ key: m[1], value: m[2] }];
  }
  return words.map((w) => {
    const eq = w.indexOf('=');
    if (eq < 0) throw new Error(`Syntax error - can't find = in "${w}". Must be of the form: name=value`);
    return { key: w.slice(0, eq), value: w.slice(eq + 1) };
  });
}

function healthcheck(node: Node, loc: Located): Instruction {
  const f = parseFlags(node.flags, { interval: 'string', timeout: 'string', 'start-period': 'string', 'start-interval': 'string', retries: 'string' });
  const m = /^(\S+)\s*([\s\S]*)$/.exec(node.rest);
  if (!m) throw new Error('HEALTHCHECK requires at least one argument');
  const typ = m[1].toUpperCase();
  const args = m[2].trim();
  if (typ === 'NONE') {
    if (args !== '') throw new Error('HEALTHCHECK NONE takes no arguments');
    return { ...loc, kind: 'HEALTHCHECK', test: ['NONE'] };
  }
  if (typ !== 'CMD') throw new Error(`Unknown type "${m[1]}" in HEALTHCHECK (try CMD)`);
  const json = parseJsonArray(args);
  if (json ? json.length === 0 : args === '') throw new Error('Missing command after HEALTHCHECK CMD');
  const test = json ? ['CMD', ...json] : ['CMD-SHELL', args];
  const out: InstructionOf<'HEALTHCHECK'> = { ...loc, kind: 'HEALTHCHECK', test };
  for (const [flag, key] of [['interval', 'interval'], ['timeout', 'timeout'], ['start-period', 'startPeriod'], ['start-interval', 'startInterval']] as const) {
    const v = str(f, flag);
    if (v === undefined || v === '') continue;
    const ms = v === '0' ? 0 : parseGoDuration(v);
    if (ms === undefined) throw new Error(`time: invalid duration "${v}"`);
    if (ms === 0) continue;
    if (ms < 1) throw new Error(`Interval "${flag}" cannot be less than 1ms`);
    out[key] = Math.round(ms * 1e6);
  }
  const r = str(f, 'retries');
  if (r !== undefined && r !== '') {
    if (!/^[-+]?\d+$/.test(r)) throw new Error(`strconv.ParseInt: parsing "${r}": invalid syntax`);
    const n = Number(r);
    if (n < 0) throw new Error(`--retries cannot be negative (${n})`);
    out.retries = n;
  }
  return out;
}
