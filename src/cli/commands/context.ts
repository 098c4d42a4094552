/** context create/ls/use/inspect/rm/show, as docker's cli/command/context, over the shared context store. */
import fs from 'node:fs';
import { StatusError, bool, str, type CliContext, type Command } from '../context.js';
import { ContextError, validateName, type ContextMeta, type TlsFiles } from '../context-store.js';
import { contextName, defaultHost, defaultTls, envHost } from '../endpoint.js';
import { renderFormat } from '../format.js';
import { FORMAT_TABLE_DESC } from './ps.js';

const DEFAULT_DESCRIPTION = 'Current DOCKER_HOST based configuration';
const HEADER = { Name: 'NAME', Description: 'DESCRIPTION', DockerEndpoint: 'DOCKER ENDPOINT', Error: 'ERROR' };

function fail(e: unknown): never {
  if (e instanceof ContextError) throw new StatusError(e.message, 1);
  throw e;
}

function current(ctx: CliContext): string {
  try { return contextName(ctx.flags, ctx.io.env, ctx.config); } catch (e) { fail(e); }
}

/** The "default" context as docker shows it: the endpoint -H / DOCKER_HOST describe, kept in memory. */
function defaultMeta(ctx: CliContext): ContextMeta {
  return { Name: 'default', Metadata: { Description: DEFAULT_DESCRIPTION }, Endpoints: { docker: { Host: defaultHost(ctx.flags, ctx.io.env), SkipTLSVerify: false } } };
}

function lookup(ctx: CliContext, name: string): { meta: ContextMeta; tls?: TlsFiles } {
  if (name === 'default') {
    const d = defaultMeta(ctx);
    let tls;
    try { tls = defaultTls(ctx.flags, ctx.io.env, ctx.configDir ?? '', d.Endpoints.docker.Host); } catch (e) { fail(e); }
    if (tls) d.Endpoints.docker.SkipTLSVerify = !tls.verify;
    return { meta: d, tls: tls ? { ca: tls.ca, cert: tls.cert, key: tls.key } : undefined };
  }
  try {
    return { meta: ctx.contexts.get(name), tls: ctx.contexts.tlsFiles(name) };
  } catch (e) { fail(e); }
}

/** `--docker host=…,ca=…,cert=…,key=…,skip-tls-verify=…,from=…` */
function parseDockerOpt(ctx: CliContext, spec: string): { host: string; skip: boolean; tls?: TlsFiles } {
  const kv: Record<string, string> = {};
  for (const part of spec.split(',')) {
    if (!part) continue;
    const i = part.indexOf('=');
    const k = i < 0 ? part : part.slice(0, i);
    if (!['host', 'ca', 'cert', 'key', 'skip-tls-verify', 'from'].includes(k)) {
      throw new StatusError(`unable to create docker endpoint config: unrecognized config key: ${k}`, 1);
    }
    kv[k] = i < 0 ? '' : part.slice(i + 1);
  }
  let host = kv.host ?? '';
  let skip = false;
  let tls: TlsFiles | undefined;
  if (kv.from !== undefined) {
    const src = lookup(ctx, kv.from);
    host = host || src.meta.Endpoints.docker.Host;
    skip = src.meta.Endpoints.docker.SkipTLSVerify;
    tls = src.tls;
  }
  if (kv['skip-tls-verify'] !== undefined) {
    if (!['true', 'false', '1', '0'].includes(kv['skip-tls-verify'])) {
      throw new StatusError(`unable to create docker endpoint config: strconv.ParseBool: parsing "${kv['skip-tls-verify']}": invalid syntax`, 1);
    }
    skip = kv['skip-tls-verify'] === 'true' || kv['skip-tls-verify'] === '1';
  }
  const read = (k: string) => {
    try { return fs.readFileSync(kv[k]!); } catch (e) {
      throw new StatusError(`unable to create docker endpoint config: open ${kv[k]}: ${(e as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file or directory' : (e as Error).message}`, 1);
    }
  };
  if (kv.ca !== undefined || kv.cert !== undefined || kv.key !== undefined) {
    tls = { ...tls };
    if (kv.ca !== undefined) tls.ca = read('ca');
    if (kv.cert !== undefined) tls.cert = read('cert');
    if (kv.key !== undefined) tls.key = read('key');
  }
  if (!host) throw new StatusError('unable to create docker endpoint config: no host given', 1);
  if (!/^(unix:\/\/\/.+|tcp:\/\/.+|ssh:\/\/.+)$/.test(host)) throw new StatusError(`unable to create docker endpoint config: unable to parse docker host \`${host}\``, 1);
  if (host.startsWith('ssh://')) throw new StatusError('unable to create docker endpoint config: ssh:// hosts are not supported by berth', 1);
  return { host, skip, tls };
}

const create: Command = {
  spec: {
    path: 'context create', usage: 'context create [OPTIONS] CONTEXT', desc: 'Create a context', args: { exact: 1 },
    flags: [
      { name: 'description', kind: 'string', desc: 'Description of the context' },
      { name: 'docker', kind: 'string', type: 'stringToString', desc: 'set the docker endpoint (default [])' },
      { name: 'from', kind: 'string', desc: 'create context from a named context' },
    ],
  },
  async run(ctx, p) {
    const name = p.args[0]!;
    try { validateName(name); } catch (e) { fail(e); }
    if (ctx.contexts.exists(name)) throw new StatusError(`context "${name}" already exists`, 1);
    let ep: { host: string; skip: boolean; tls?: TlsFiles };
    let description = str(p, 'description');
    if (p.changed.has('docker')) {
      if (p.changed.has('from')) throw new StatusError('conflicting options: cannot specify both --docker and --from', 1);
      ep = parseDockerOpt(ctx, str(p, 'docker'));
    } else {
      // no endpoint given: a copy of --from, else of the current context (its description too)
      const src = lookup(ctx, p.changed.has('from') ? str(p, 'from') : current(ctx));
      ep = { host: src.meta.Endpoints.docker.Host, skip: src.meta.Endpoints.docker.SkipTLSVerify, tls: src.tls };
      if (!p.changed.has('description')) description = src.meta.Metadata.Description ?? '';
    }
    const meta: ContextMeta = {
      Name: name, Metadata: description ? { Description: description } : {},
      Endpoints: { docker: { Host: ep.host, SkipTLSVerify: ep.skip } },
    };
    try { ctx.contexts.create(meta, ep.tls); } catch (e) { fail(e); }
    ctx.out(`${name}\n`);
    ctx.err(`Successfully created context "${name}"\n`);
    return 0;
  },
};

const ls: Command = {
  spec: {
    path: 'context ls', usage: 'context ls [OPTIONS]', desc: 'List contexts', args: { exact: 0 }, aliases: ['context ls', 'context list'],
    flags: [
      { name: 'format', kind: 'string', desc: FORMAT_TABLE_DESC },
      { name: 'quiet', short: 'q', kind: 'bool', desc: 'Only show context names' },
    ],
  },
  async run(ctx, p) {
    const cur = current(ctx);
    const rows = [defaultMeta(ctx), ...ctx.contexts.list()].sort((a, b) => a.Name.localeCompare(b.Name)).map((m) => ({
      Current: m.Name === cur, Description: m.Metadata.Description ?? '', DockerEndpoint: m.Endpoints?.docker?.Host ?? '',
      Error: m.Endpoints?.docker?.Host ? '' : 'no docker endpoint', Name: m.Name,
    }));
    if (bool(p, 'quiet')) {
      ctx.out(rows.map((r) => r.Name + '\n').join(''));
      return 0;
    }
    const format = str(p, 'format') || 'table';
    if (format === 'table') {
      // the current context carries a star after its name in the default table
      const shown = rows.map((r) => ({ ...r, Name: r.Current ? `${r.Name} *` : r.Name }));
      ctx.out(renderFormat('table {{.Name}}\t{{.Description}}\t{{.DockerEndpoint}}\t{{.Error}}', shown, HEADER));
    } else {
      ctx.out(renderFormat(format, rows, { ...HEADER, Current: 'CURRENT' }));
    }
    return 0;
  },
};

const use: Command = {
  spec: { path: 'context use', usage: 'context use CONTEXT', desc: 'Set the current docker context', args: { exact: 1 }, flags: [] },
  async run(ctx, p) {
    const name = p.args[0]!;
    if (name !== 'default' && !ctx.contexts.exists(name)) throw new StatusError(`context "${name}" does not exist`, 1);
    ctx.config.currentContext = name;
    ctx.config.save();
    ctx.out(`${name}\n`);
    ctx.err(`Current context is now "${name}"\n`);
    if (name !== 'default' && envHost(ctx.io.env)) {
      const v = ctx.io.env.BERTH_HOST ? 'BERTH_HOST' : 'DOCKER_HOST';
      ctx.err(`Warning: ${v} environment variable overrides the active context. To use "${name}", either set the global --context flag, or unset ${v} environment variable.\n`);
    }
    return 0;
  },
};

const show: Command = {
  spec: { path: 'context show', usage: 'context show', desc: 'Print the name of the current context', args: { exact: 0 }, flags: [] },
  async run(ctx) {
    ctx.out(`${current(ctx)}\n`);
    return 0;
  },
};

const inspect: Command = {
  spec: {
    path: 'context inspect', usage: 'context inspect [OPTIONS] [CONTEXT] [CONTEXT...]', desc: 'Display detailed information on one or more contexts',
    flags: [{ name: 'format', short: 'f', kind: 'string', desc: "Format output using a custom template:\n'json':             Print in JSON format\n'TEMPLATE':         Print output using the given Go template.\nRefer to https://docs.docker.com/go/formatting/ for more information about formatting output with templates" }],
  },
  async run(ctx, p) {
    const { inspectAll } = await import('./inspect.js');
    const names = p.args.length ? p.args : [current(ctx)];
    return inspectAll(ctx, names, str(p, 'format'), async (name) => {
      const { meta, tls } = lookup(ctx, name);
      const inMemory = name === 'default';
      const material: Record<string, string[]> = {};
      if (tls) material.docker = [tls.ca && 'ca.pem', tls.cert && 'cert.pem', tls.key && 'key.pem'].filter((x): x is string => !!x);
      return {
        ...meta, TLSMaterial: material,
        Storage: {
          MetadataPath: inMemory ? '<IN MEMORY>' : ctx.contexts.metaDir(name),
          TLSPath: inMemory ? '<IN MEMORY>' : ctx.contexts.tlsDir(name),
        },
      };
    });
  },
};

const rm: Command = {
  spec: {
    path: 'context rm', usage: 'context rm CONTEXT [CONTEXT...]', desc: 'Remove one or more contexts', args: { min: 1 }, aliases: ['context rm', 'context remove'],
    flags: [{ name: 'force', short: 'f', kind: 'bool', desc: 'Force the removal of a context in use' }],
  },
  async run(ctx, p) {
    const cur = current(ctx);
    const errs: string[] = [];
    for (const name of p.args) {
      if (name === 'default') { errs.push('context "default" cannot be removed'); continue; }
      if (!ctx.contexts.exists(name)) { errs.push(`context "${name}" does not exist`); continue; }
      if (name === cur && !bool(p, 'force')) { errs.push(`context "${name}" is in use, set -f flag to force remove`); continue; }
      ctx.contexts.remove(name);
      if (ctx.config.currentContext === name) { ctx.config.currentContext = 'default'; ctx.config.save(); }
      ctx.out(`${name}\n`);
    }
    if (errs.length) throw new StatusError(errs.join('\n'), 1);
    return 0;
  },
};

export const commands: Record<string, Command> = {
  'context create': create, 'context ls': ls, 'context use': use, 'context show': show, 'context inspect': inspect, 'context rm': rm,
};
