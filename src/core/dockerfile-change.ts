import { InvalidParameterError } from '../errors.js';
import { parseGoDurationNs } from './go-duration.js';
import type { ImageContainerConfig } from './image-config.js';

/**
 * `docker import --change` / `docker commit --change`: Dockerfile instructions applied to an image
 * config (moby BuildFromConfig). Only the instructions Docker allows for commit are accepted.
 */
export const CHANGE_INSTRUCTIONS = [
  'cmd', 'entrypoint', 'env', 'expose', 'healthcheck', 'label', 'onbuild', 'stopsignal', 'user', 'volume', 'workdir',
] as const;

export function applyChanges(base: ImageContainerConfig, changes: readonly string[]): ImageContainerConfig {
  const cfg: ImageContainerConfig = structuredClone(base);
  for (const raw of changes) {
    // Each change is one Dockerfile line; a trailing backslash continues it, as in a Dockerfile.
    const line = raw.replace(/\\\r?\n/g, '').trim();
    if (line === '' || line.startsWith('#')) continue;
    const m = /^(\S+)(?:\s+([\s\S]*))?$/.exec(line)!;
    const instr = m[1]!.toLowerCase();
    const rest = (m[2] ?? '').trim();
    if (!(CHANGE_INSTRUCTIONS as readonly string[]).includes(instr)) {
      throw new InvalidParameterError(`${instr} is not a valid change command`);
    }
    applyOne(cfg, instr, rest);
  }
  return cfg;
}

function envMap(cfg: ImageContainerConfig): Map<string, string> {
  const m = new Map<string, string>();
  for (const e of cfg.Env ?? []) {
    const i = e.indexOf('=');
    if (i > 0) m.set(e.slice(0, i), e.slice(i + 1));
  }
  return m;
}

function applyOne(cfg: ImageContainerConfig, instr: string, rest: string): void {
  const NAME = instr.toUpperCase();
  switch (instr) {
    case 'cmd': {
      cfg.Cmd = commandForm(rest);
      if (cfg.Cmd === undefined) throw new InvalidParameterError('CMD requires at least one argument');
      break;
    }
    case 'entrypoint': {
      const ep = commandForm(rest);
      cfg.Entrypoint = ep ?? [];
      if (ep === undefined) delete cfg.Entrypoint;
      break;
    }
    case 'env': {
      const env = envMap(cfg);
      for (const [k, v] of nameValuePairs(NAME, rest, env)) {
        env.set(k, v);
        const list = (cfg.Env ?? []).filter((e) => !e.startsWith(`${k}=`));
        list.push(`${k}=${v}`);
        cfg.Env = list;
      }
      break;
    }
    case 'label': {
      const labels: Record<string, string> = Object.assign(Object.create(null) as Record<string, string>, cfg.Labels ?? {});
      for (const [k, v] of nameValuePairs(NAME, rest, envMap(cfg))) labels[k] = v;
      cfg.Labels = { ...labels };
      break;
    }
    case 'expose': {
      const words = splitWords(rest, envMap(cfg));
      if (words.length === 0) throw new InvalidParameterError('EXPOSE requires at least one argument');
      const ports: Record<string, Record<string, never>> = { ...(cfg.ExposedPorts ?? {}) };
      for (const w of words) for (const p of expandPort(w)) ports[p] = {};
      cfg.ExposedPorts = ports;
      break;
    }
    case 'user':
      cfg.User = exactlyOne(NAME, splitWords(rest, envMap(cfg)));
      break;
    case 'workdir': {
      const dir = exactlyOne(NAME, splitWords(rest, envMap(cfg)));
      const joined = dir.startsWith('/') ? dir : `${cfg.WorkingDir || '/'}/${dir}`;
      cfg.WorkingDir = normalizeAbs(joined);
      break;
    }
    case 'stopsignal': {
      const sig = exactlyOne(NAME, splitWords(rest, envMap(cfg)));
      if (!/^(SIG)?[A-Z0-9+-]+$/i.test(sig)) throw new InvalidParameterError(`Invalid signal: ${sig}`);
      cfg.StopSignal = sig;
      break;
    }
    case 'volume': {
      const json = jsonArray(rest);
      const vols = json ?? splitWords(rest, envMap(cfg));
      if (vols.length === 0) throw new InvalidParameterError('VOLUME requires at least one argument');
      const v: Record<string, Record<string, never>> = { ...(cfg.Volumes ?? {}) };
      for (const p of vols) {
        if (p.trim() === '') throw new InvalidParameterError('VOLUME specified can not be an empty string');
        v[p] = {};
      }
      cfg.Volumes = v;
      break;
    }
    case 'onbuild': {
      const inner = rest.trim();
      const first = inner.split(/\s+/)[0]?.toUpperCase() ?? '';
      if (first === '') throw new InvalidParameterError('ONBUILD requires at least one argument');
      if (first === 'ONBUILD') throw new InvalidParameterError('Chaining ONBUILD via `ONBUILD ONBUILD` isn\'t allowed');
      if (first === 'FROM' || first === 'MAINTAINER') throw new InvalidParameterError(`${first} isn't allowed as an ONBUILD trigger`);
      cfg.OnBuild = [...(cfg.OnBuild ?? []), inner];
      break;
    }
    case 'healthcheck':
      cfg.Healthcheck = parseHealthcheck(rest);
      break;
  }
}

function exactlyOne(name: string, words: string[]): string {
  if (words.length !== 1) throw new InvalidParameterError(`${name} requires exactly one argument`);
  return words[0]!;
}

/** The JSON (exec) form if `s` is a JSON array of strings, else undefined. */
function jsonArray(s: string): string[] | undefined {
  const t = s.trim();
  if (!t.startsWith('[')) return undefined;
  try {
    const v = JSON.parse(t) as unknown;
    if (Array.isArray(v) && v.every((x) => typeof x === 'string')) return v as string[];
  } catch { /* shell form */ }
  return undefined;
}

/** CMD/ENTRYPOINT: JSON exec form as is; shell form wrapped in /bin/sh -c. Empty → undefined. */
function commandForm(rest: string): string[] | undefined {
  const json = jsonArray(rest);
  if (json) return json;
  if (rest.trim() === '') return undefined;
  return ['/bin/sh', '-c', rest.trim()];
}

function normalizeAbs(p: string): string {
  const out: string[] = [];
  for (const part of p.split('/')) {
    if (part === '' || part === '.') continue;
    if (part === '..') out.pop(); else out.push(part);
  }
  return `/${out.join('/')}`;
}

/** `80`, `80/udp`, `8000-8002/tcp` → ["80/tcp"...] */
function expandPort(w: string): string[] {
  const m = /^(\d+)(?:-(\d+))?(?:\/(tcp|udp|sctp))?$/i.exec(w);
  if (!m) throw new InvalidParameterError(`Invalid containerPort: ${w}`);
  const lo = Number(m[1]);
  const hi = m[2] !== undefined ? Number(m[2]) : lo;
  const proto = (m[3] ?? 'tcp').toLowerCase();
  if (lo < 1 || hi > 65535 || hi < lo) throw new InvalidParameterError(`Invalid containerPort: ${w}`);
  const out: string[] = [];
  for (let p = lo; p <= hi; p++) out.push(`${p}/${proto}`);
  return out;
}

/** ENV/LABEL arguments: `k=v k2="v 2"`, or the legacy `k value with spaces`. */
function nameValuePairs(name: string, rest: string, env: Map<string, string>): [string, string][] {
  const words = splitWords(rest, env);
  if (words.length === 0) throw new InvalidParameterError(`${name} requires at least one argument`);
  if (!words[0]!.includes('=')) {
    // Legacy form: first word is the key, the rest of the line (as written) is the value.
    if (words.length < 2) throw new InvalidParameterError(`${name} must have two arguments`);
    const key = words[0]!;
    const value = rest.trim().slice(rest.trim().search(/\s/)).trim();
    return [[key, splitWords(value, env, true).join('')]];
  }
  return words.map((w) => {
    const i = w.indexOf('=');
    if (i < 0) throw new InvalidParameterError(`Syntax error - can't find = in "${w}". Must be of the form: name=value`);
    if (i === 0) throw new InvalidParameterError(`${name} names can not be blank`);
    return [w.slice(0, i), w.slice(i + 1)];
  });
}

/**
 * Dockerfile word splitting with quote removal and $VAR / ${VAR} / ${VAR:-d} / ${VAR:+a}
 * expansion (not inside single quotes). `keepSpaces` keeps whitespace as part of one word.
 */
export function splitWords(s: string, env: Map<string, string>, keepSpaces = false): string[] {
  const words: string[] = [];
  let cur = '';
  let inWord = false;
  let i = 0;
  const expand = (): string => {
    // at s[i] === '$'
    if (s[i + 1] === '{') {
      const end = s.indexOf('}', i + 2);
      if (end < 0) throw new InvalidParameterError(`missing '}' in ${s}`);
      const body = s.slice(i + 2, end);
      i = end + 1;
      const m = /^(\w+)(?::([-+])(.*))?$/.exec(body);
      if (!m) throw new InvalidParameterError(`bad substitution: \${${body}}`);
      const val = env.get(m[1]!);
      if (m[2] === '-') return val !== undefined && val !== '' ? val : m[3]!;
      if (m[2] === '+') return val !== undefined && val !== '' ? m[3]! : '';
      return val ?? '';
    }
    const m = /^\w+/.exec(s.slice(i + 1));
    if (!m) { i++; return '$'; }
    i += 1 + m[0].length;
    return env.get(m[0]) ?? '';
  };
  while (i < s.length) {
    const c = s[i]!;
    if (!keepSpaces && /\s/.test(c)) {
      if (inWord) { words.push(cur); cur = ''; inWord = false; }
      i++;
      continue;
    }
    inWord = true;
    if (c === '\\') { cur += s[i + 1] ?? ''; i += 2; continue; }
    if (c === "'") {
      const end = s.indexOf("'", i + 1);
      if (end < 0) throw new InvalidParameterError(`unexpected end of statement while looking for matching single-quote`);
      cur += s.slice(i + 1, end);
      i = end + 1;
      continue;
    }
    if (c === '"') {
      i++;
      while (i < s.length && s[i] !== '"') {
        if (s[i] === '\\' && i + 1 < s.length && '"\\$'.includes(s[i + 1]!)) { cur += s[i + 1]; i += 2; continue; }
        if (s[i] === '$') { cur += expand(); continue; }
        cur += s[i]; i++;
      }
      if (i >= s.length) throw new InvalidParameterError('unexpected end of statement while looking for matching double-quote');
      i++;
      continue;
    }
    if (c === '$') { cur += expand(); continue; }
    cur += c;
    i++;
  }
  if (inWord) words.push(cur);
  return words;
}

const DURATION_FLAGS: Record<string, 'Interval' | 'Timeout' | 'StartPeriod' | 'StartInterval'> = {
  interval: 'Interval', timeout: 'Timeout', 'start-period': 'StartPeriod', 'start-interval': 'StartInterval',
};

function parseHealthcheck(rest: string): NonNullable<ImageContainerConfig['Healthcheck']> {
  let s = rest.trim();
  if (/^none$/i.test(s)) return { Test: ['NONE'] };
  const hc: NonNullable<ImageContainerConfig['Healthcheck']> = {};
  for (;;) {
    const m = /^--([a-z-]+)=(\S+)\s*/.exec(s);
    if (!m) break;
    s = s.slice(m[0].length);
    const flag = m[1]!;
    if (flag === 'retries') {
      const n = Number(m[2]);
      if (!Number.isInteger(n) || n < 0) throw new InvalidParameterError(`invalid value for retries: ${m[2]}`);
      hc.Retries = n;
    } else if (DURATION_FLAGS[flag]) {
      hc[DURATION_FLAGS[flag]!] = goDurationNs(m[2]!, flag);
    } else {
      throw new InvalidParameterError(`Unknown flag: ${flag}`);
    }
  }
  const cm = /^(\S+)\s*([\s\S]*)$/.exec(s);
  if (!cm || cm[1]!.toUpperCase() !== 'CMD') {
    throw new InvalidParameterError(`Unknown type "${cm?.[1] ?? ''}" in HEALTHCHECK (try CMD)`);
  }
  const json = jsonArray(cm[2]!);
  if (json) hc.Test = ['CMD', ...json];
  else if (cm[2]!.trim() !== '') hc.Test = ['CMD-SHELL', cm[2]!.trim()];
  else throw new InvalidParameterError('Missing command after HEALTHCHECK CMD');
  return hc;
}

function goDurationNs(v: string, flag: string): number {
  const ns = parseGoDurationNs(v);
  if (ns === undefined) throw new InvalidParameterError(`time: invalid duration "${v}" for --${flag}`);
  return ns;
}
