/**
 * A pflag-like flag parser (the rules docker's CLI inherits from cobra/pflag):
 * `--name=x` / `--name x`, `--bool` / `--bool=false`, combined shorts `-dit`, `-e X=Y`, `-eX=Y`,
 * `-n=3`, repeatable list flags, `--` ends flags, a lone `-` is positional. Flags are interspersed
 * with positionals unless the command sets `stopAtFirstPositional` (run/create/exec: everything after
 * the image is the container's command). Error texts match pflag's.
 */

export type FlagKind = 'bool' | 'string' | 'int' | 'float' | 'list';

export interface FlagDef {
  name: string;
  short?: string;
  kind: FlagKind;
  /** type shown in help ("string", "list", "bytes", "duration", "filter", ...) */
  type?: string;
  desc: string;
  default?: string | number | boolean;
  hidden?: boolean;
}

export interface CommandSpec {
  /** full command path without the binary: "run", "container ls", "image prune" */
  path: string;
  /** usage line without the binary: "run [OPTIONS] IMAGE [COMMAND] [ARG...]" */
  usage: string;
  desc: string;
  aliases?: string[];
  flags: FlagDef[];
  stopAtFirstPositional?: boolean;
  args?: { exact?: number; min?: number; max?: number };
}

export type FlagValue = string | number | boolean | string[];

export interface ParsedArgs {
  flags: Record<string, FlagValue>;
  changed: Set<string>;
  args: string[];
  help: boolean;
}

export class FlagError extends Error {}

export function parseFlags(spec: CommandSpec, argv: string[]): ParsedArgs {
  const byName = new Map<string, FlagDef>();
  const byShort = new Map<string, FlagDef>();
  for (const f of spec.flags) {
    byName.set(f.name, f);
    if (f.short) byShort.set(f.short, f);
  }
  const flags: Record<string, FlagValue> = {};
  for (const f of spec.flags) {
    flags[f.name] = f.kind === 'list' ? [] : f.default ?? (f.kind === 'bool' ? false : f.kind === 'int' || f.kind === 'float' ? 0 : '');
  }
  const changed = new Set<string>();
  const args: string[] = [];
  let help = false;

  const set = (f: FlagDef, raw: string, shown: string) => {
    changed.add(f.name);
    switch (f.kind) {
      case 'bool': {
        const v = parseBool(raw);
        if (v === null) throw new FlagError(`invalid argument "${raw}" for "${shown}" flag: strconv.ParseBool: parsing "${raw}": invalid syntax`);
        flags[f.name] = v;
        break;
      }
      case 'int': {
        if (!/^[+-]?\d+$/.test(raw)) throw new FlagError(`invalid argument "${raw}" for "${shown}" flag: strconv.ParseInt: parsing "${raw}": invalid syntax`);
        flags[f.name] = Number(raw);
        break;
      }
      case 'float': {
        if (raw.trim() === '' || Number.isNaN(Number(raw))) throw new FlagError(`invalid argument "${raw}" for "${shown}" flag: strconv.ParseFloat: parsing "${raw}": invalid syntax`);
        flags[f.name] = Number(raw);
        break;
      }
      case 'list':
        (flags[f.name] as string[]).push(raw);
        break;
      default:
        flags[f.name] = raw;
    }
  };
  const shownName = (f: FlagDef) => (f.short ? `-${f.short}, --${f.name}` : `--${f.name}`);

  let i = 0;
  while (i < argv.length) {
    const a = argv[i++]!;
    if (a === '--') { args.push(...argv.slice(i)); break; }
    if (a.startsWith('--')) {
      const eq = a.indexOf('=');
      const name = eq < 0 ? a.slice(2) : a.slice(2, eq);
      if (name === 'help' && !byName.has('help')) { help = true; continue; }
      const f = byName.get(name);
      if (!f) throw new FlagError(`unknown flag: --${name}`);
      if (eq >= 0) set(f, a.slice(eq + 1), shownName(f));
      else if (f.kind === 'bool') set(f, 'true', shownName(f));
      else {
        if (i >= argv.length) throw new FlagError(`flag needs an argument: --${name}`);
        set(f, argv[i++]!, shownName(f));
      }
      continue;
    }
    if (a.startsWith('-') && a.length > 1) {
      // a run of shorthands: -dit, -e X=Y, -eX=Y, -n=3
      let j = 1;
      while (j < a.length) {
        const c = a[j]!;
        const f = byShort.get(c);
        if (!f) {
          if (c === 'h' && !byName.has('help')) { help = true; j++; continue; }
          throw new FlagError(`unknown shorthand flag: '${c}' in ${a}`);
        }
        const rest = a.slice(j + 1);
        if (rest.startsWith('=')) { set(f, rest.slice(1), shownName(f)); break; }
        if (f.kind === 'bool') { set(f, 'true', shownName(f)); j++; continue; }
        if (rest.length > 0) { set(f, rest, shownName(f)); break; }
        if (i >= argv.length) throw new FlagError(`flag needs an argument: '${c}' in -${c}`);
        set(f, argv[i++]!, shownName(f));
        break;
      }
      continue;
    }
    args.push(a);
    if (spec.stopAtFirstPositional) { args.push(...argv.slice(i)); break; }
  }
  return { flags, changed, args, help };
}

function parseBool(s: string): boolean | null {
  if (['1', 't', 'T', 'TRUE', 'true', 'True'].includes(s)) return true;
  if (['0', 'f', 'F', 'FALSE', 'false', 'False'].includes(s)) return false;
  return null;
}

/** Cobra's positional-argument checks, as docker's cli/required.go words them; null when fine. */
export function checkArgs(spec: CommandSpec, n: number, bin: string): string | null {
  const a = spec.args;
  if (!a) return null;
  const cmdPath = `${bin} ${spec.path}`;
  const usage = `Usage:  ${bin} ${spec.usage}`;
  const plural = (k: number) => (k === 1 ? 'argument' : 'arguments');
  if (a.exact !== undefined && n !== a.exact) {
    if (a.exact === 0) return `${bin}: '${cmdPath}' accepts no arguments\n\n${usage}\n\nSee '${cmdPath} --help' for more information`;
    return `${bin}: '${cmdPath}' requires ${a.exact} ${plural(a.exact)}\n\n${usage}\n\nRun '${cmdPath} --help' for more information`;
  }
  if (a.min !== undefined && a.max !== undefined && (n < a.min || n > a.max)) {
    return `${bin}: '${cmdPath}' requires at least ${a.min} and at most ${a.max} ${plural(a.max)}\n\n${usage}\n\nRun '${cmdPath} --help' for more information`;
  }
  if (a.min !== undefined && n < a.min) {
    return `${bin}: '${cmdPath}' requires at least ${a.min} ${plural(a.min)}\n\n${usage}\n\nSee '${cmdPath} --help' for more information`;
  }
  if (a.max !== undefined && n > a.max) {
    return `${bin}: '${cmdPath}' requires at most ${a.max} ${plural(a.max)}\n\n${usage}\n\nRun '${cmdPath} --help' for more information`;
  }
  return null;
}

/** Help text in cobra/docker's layout; descriptions wrapped to 80 columns like pflag's FlagUsagesWrapped. */
export function helpText(spec: CommandSpec, bin: string): string {
  const lines: string[] = [`Usage:  ${bin} ${spec.usage}`, '', spec.desc, ''];
  if (spec.aliases?.length) {
    lines.push('Aliases:', '  ' + spec.aliases.map((a) => `${bin} ${a}`).join(', '), '');
  }
  const visible = spec.flags.filter((f) => !f.hidden).sort((x, y) => x.name.localeCompare(y.name));
  if (visible.length) {
    lines.push('Options:');
    const heads = visible.map((f) => {
      const typ = f.kind === 'bool' ? '' : ' ' + (f.type ?? (f.kind === 'list' ? 'list' : f.kind));
      return (f.short ? `  -${f.short}, --${f.name}` : `      --${f.name}`) + typ;
    });
    const width = Math.max(...heads.map((h) => h.length));
    visible.forEach((f, idx) => {
      let desc = f.desc;
      if (f.default !== undefined && f.default !== '' && f.default !== false && !(f.kind === 'int' && f.default === 0)) {
        desc += f.kind === 'string' ? ` (default "${f.default}")` : ` (default ${f.default})`;
      }
      const pad = heads[idx]!.padEnd(width) + '   ';
      const wrapped = wrap(desc, 80 - pad.length);
      lines.push(pad + wrapped[0]);
      for (const w of wrapped.slice(1)) lines.push(' '.repeat(pad.length) + w);
    });
  }
  return lines.join('\n') + '\n';
}

function wrap(s: string, width: number): string[] {
  if (width < 24) return s.split('\n');
  const out: string[] = [];
  for (const para of s.split('\n')) {
    let line = '';
    for (const word of para.split(' ')) {
      if (line && line.length + 1 + word.length > width) { out.push(line); line = word; }
      else line = line ? `${line} ${word}` : word;
    }
    out.push(line);
  }
  return out;
}
