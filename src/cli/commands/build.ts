/** build / image build / builder build: the classic builder over POST /build, with the docker CLI's context rules and output. */
import fs from 'node:fs';
import { Readable } from 'node:stream';
import { jsonMessages } from '../../client/engine-client.js';
import { parseNormalized } from '../../core/reference.js';
import { addDockerfileToTar, isArchive, peek, isGitUrl, isUrl, localContextTar, progressCounter, readerContext } from '../build-context.js';
import { humanSize } from '../../core/human.js';
import { StatusError, bool, filtersParam, list, num, str, type CliContext, type Command } from '../context.js';
import { bytesFlag as bytes, flagErr } from '../container-config.js';
import { confirm } from './lifecycle.js';

/** --build-arg K=V, or K alone: the client's value when set, else null (the daemon's ARG default). */
function buildArgs(values: string[], env: Record<string, string | undefined>): Record<string, string | null> {
  const out: Record<string, string | null> = {};
  for (const v of values) {
    const i = v.indexOf('=');
    if (i === 0) throw flagErr(v, '--build-arg', `invalid environment variable: ${v}`);
    if (i > 0) out[v.slice(0, i)] = v.slice(i + 1);
    else out[v] = env[v] ?? null;
  }
  return out;
}

function labels(values: string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const v of values) {
    const i = v.indexOf('=');
    if (i === 0 || v.trim() === '') throw flagErr(v, '--label', `invalid label '${v}': empty name`);
    if (i > 0) out[v.slice(0, i)] = v.slice(i + 1); else out[v] = '';
  }
  return out;
}

function extraHosts(values: string[]): string[] {
  return values.map((v) => {
    const sep = v.includes('=') ? '=' : ':';
    const i = v.indexOf(sep);
    if (i <= 0 || i === v.length - 1) throw flagErr(v, '--add-host', `bad format for add-host: "${v}"`);
    return `${v.slice(0, i)}:${v.slice(i + 1)}`;
  });
}

async function readAllStream(s: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of s) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

/** The context to send: its tar stream, the Dockerfile's name in it, and the size when known. */
async function prepareContext(ctx: CliContext, where: string, dockerfile: string, progress: (s: string) => void): Promise<{ tar: Readable; dockerfile: string }> {
  const fromStdin = dockerfile === '-';
  if (where === '-') {
    if (fromStdin) throw new StatusError('invalid argument: can\'t use stdin for both build context and dockerfile', 1);
    try { return await readerContext(ctx.io.stdin, dockerfile); } catch (e) {
      throw new StatusError(`unable to prepare context from STDIN: ${(e as Error).message}`, 1);
    }
  }
  const stdinDockerfile = fromStdin ? await readAllStream(ctx.io.stdin) : undefined;
  if (fs.existsSync(where)) return localContextTar(where, dockerfile, stdinDockerfile);
  if (isGitUrl(where)) throw new StatusError(`unable to prepare context: git contexts are not supported by berth build yet: ${where}`, 1);
  if (!isUrl(where)) throw new StatusError(`unable to prepare context: path "${where}" not found`, 1);
  let res: Response;
  try { res = await fetch(where); } catch (e) {
    throw new StatusError(`unable to download remote context ${where}: ${(e as Error).message}`, 1);
  }
  if (res.status >= 400 || !res.body) {
    throw new StatusError(`unable to download remote context ${where}: failed to GET ${where} with status ${res.status} ${res.statusText}: ${(await res.text()).trim()}`, 1);
  }
  const total = Number(res.headers.get('content-length') ?? 0);
  const body = Readable.fromWeb(res.body as import('node:stream/web').ReadableStream).pipe(
    progressCounter(`Downloading build context from remote url: ${where}`, total, progress, false));
  if (stdinDockerfile) {
    const { head, whole } = await peek(body, 1024);
    if (!isArchive(head)) throw new StatusError('build context is not an archive', 1);
    return addDockerfileToTar(whole, head, stdinDockerfile);
  }
  return readerContext(body, dockerfile);
}

const build: Command = {
  spec: {
    path: 'build', usage: 'build [OPTIONS] PATH | URL | -', desc: 'Build an image from a Dockerfile',
    aliases: ['image build', 'build', 'builder build'], args: { exact: 1 },
    flags: [
      { name: 'add-host', kind: 'list', desc: 'Add a custom host-to-IP mapping ("host:ip")' },
      { name: 'build-arg', kind: 'list', desc: 'Set build-time variables' },
      { name: 'cache-from', kind: 'list', type: 'strings', desc: 'Images to consider as cache sources' },
      { name: 'cpu-period', kind: 'int', desc: 'Limit the CPU CFS (Completely Fair Scheduler) period' },
      { name: 'cpu-quota', kind: 'int', desc: 'Limit the CPU CFS (Completely Fair Scheduler) quota' },
      { name: 'cpu-shares', short: 'c', kind: 'int', desc: 'CPU shares (relative weight)' },
      { name: 'cpuset-cpus', kind: 'string', desc: 'CPUs in which to allow execution (0-3, 0,1)' },
      { name: 'cpuset-mems', kind: 'string', desc: 'MEMs in which to allow execution (0-3, 0,1)' },
      { name: 'file', short: 'f', kind: 'string', desc: 'Name of the Dockerfile (Default is "PATH/Dockerfile")' },
      { name: 'force-rm', kind: 'bool', desc: 'Always remove intermediate containers' },
      { name: 'iidfile', kind: 'string', desc: 'Write the image ID to the file' },
      { name: 'label', kind: 'list', desc: 'Set metadata for an image' },
      { name: 'memory', short: 'm', kind: 'string', type: 'bytes', desc: 'Memory limit' },
      { name: 'memory-swap', kind: 'string', type: 'bytes', desc: 'Swap limit equal to memory plus swap: -1 to enable unlimited swap' },
      { name: 'network', kind: 'string', desc: 'Set the networking mode for the RUN instructions during build', default: 'default' },
      { name: 'no-cache', kind: 'bool', desc: 'Do not use cache when building the image' },
      { name: 'platform', kind: 'string', desc: 'Set platform if server is multi-platform capable' },
      { name: 'pull', kind: 'bool', desc: 'Always attempt to pull a newer version of the image' },
      { name: 'quiet', short: 'q', kind: 'bool', desc: 'Suppress the build output and print image ID on success' },
      { name: 'rm', kind: 'bool', desc: 'Remove intermediate containers after a successful build', default: true },
      { name: 'shm-size', kind: 'string', type: 'bytes', desc: 'Size of "/dev/shm"' },
      { name: 'tag', short: 't', kind: 'list', desc: 'Name and optionally a tag in the "name:tag" format' },
      { name: 'target', kind: 'string', desc: 'Set the target build stage to build.' },
    ],
  },
  async run(ctx, p) {
    const tags = list(p, 'tag');
    for (const t of tags) {
      try { parseNormalized(t); } catch (e) { throw flagErr(t, '-t, --tag', (e as Error).message); }
    }
    const platform = str(p, 'platform') || ctx.io.env.DOCKER_DEFAULT_PLATFORM || '';
    const quiet = bool(p, 'quiet');
    const iidfile = str(p, 'iidfile');
    if (iidfile) fs.rmSync(iidfile, { force: true });
    const query = {
      t: tags,
      dockerfile: undefined as string | undefined,
      target: str(p, 'target') || undefined,
      q: quiet || undefined,
      nocache: bool(p, 'no-cache') || undefined,
      rm: bool(p, 'rm'),
      forcerm: bool(p, 'force-rm') || undefined,
      pull: bool(p, 'pull') || undefined,
      networkmode: str(p, 'network') || undefined,
      extrahosts: list(p, 'add-host').length ? extraHosts(list(p, 'add-host')).join(',') : undefined,
      cpusetcpus: str(p, 'cpuset-cpus') || undefined,
      cpusetmems: str(p, 'cpuset-mems') || undefined,
      cpushares: num(p, 'cpu-shares') || undefined,
      cpuquota: num(p, 'cpu-quota') || undefined,
      cpuperiod: num(p, 'cpu-period') || undefined,
      memory: bytes(p, 'memory', '-m, --memory'),
      memswap: bytes(p, 'memory-swap', '--memory-swap'),
      shmsize: bytes(p, 'shm-size', '--shm-size'),
      buildargs: JSON.stringify(buildArgs(list(p, 'build-arg'), ctx.io.env)),
      labels: JSON.stringify(labels(list(p, 'label'))),
      cachefrom: list(p, 'cache-from').length ? JSON.stringify(list(p, 'cache-from').flatMap((s) => s.split(','))) : undefined,
      platform: platform || undefined,
      version: '1',
    };
    // -q holds back everything but the image id; on failure what was held is shown (as the docker CLI).
    let held = '';
    const progress = (s: string) => { if (quiet) held += s; else ctx.out(s); };
    const prepared = await prepareContext(ctx, p.args[0]!, str(p, 'file'), progress);
    query.dockerfile = prepared.dockerfile || undefined;
    const tty = Boolean((ctx.io.stdout as { isTTY?: boolean }).isTTY);
    const body = prepared.tar.pipe(progressCounter('Sending build context to Docker daemon', 0, progress, !tty));
    prepared.tar.on('error', (e: Error) => body.destroy(e));
    let res;
    try {
      res = await ctx.client.stream('POST', '/build', { query, body, contentType: 'application/x-tar' });
    } catch (e) {
      if (quiet) ctx.err(held);
      throw e;
    }
    let imageId = '';
    let streamText = '';
    for await (const m of jsonMessages<any>(res)) {
      if (m.errorDetail || m.error) {
        if (quiet) ctx.err(held + streamText);
        const code = Number(m.errorDetail?.code) || 1;
        throw new StatusError(m.errorDetail?.message ?? m.error, code);
      }
      if (m.aux !== undefined) { if (typeof m.aux?.ID === 'string') imageId = m.aux.ID; continue; }
      let text = '';
      if (m.stream === undefined && m.progressDetail !== undefined) {
        // A progress line (ADD's "Downloading"): drawn in place on a terminal, left out otherwise, as docker's jsonmessage.
        if (tty && !quiet) ctx.out(`\x1b[2K\r${m.id ? `${m.id}: ` : ''}${m.status ?? ''} ${m.progress ?? ''}\r`);
        continue;
      }
      if (m.stream !== undefined) text = String(m.stream);
      else if (m.status !== undefined) text = `${m.id ? `${m.id}: ` : ''}${m.status}${m.progress ? ` ${m.progress}` : ''}\n`;
      if (quiet) streamText += text; else ctx.out(text);
    }
    if (quiet) { imageId = streamText; ctx.out(streamText); }
    if (iidfile) {
      if (!imageId) throw new StatusError(`server did not provide an image ID. Cannot write ${iidfile}`, 1);
      fs.writeFileSync(iidfile, imageId, { mode: 0o666 });
    }
    return 0;
  },
};

const builderPrune: Command = {
  spec: {
    path: 'builder prune', usage: 'builder prune', desc: 'Remove build cache', args: { exact: 0 },
    flags: [
      { name: 'all', short: 'a', kind: 'bool', desc: 'Remove all unused build cache, not just dangling ones' },
      { name: 'filter', kind: 'list', type: 'filter', desc: 'Provide filter values (e.g. "until=24h")' },
      { name: 'force', short: 'f', kind: 'bool', desc: 'Do not prompt for confirmation' },
    ],
  },
  async run(ctx, p) {
    const all = bool(p, 'all');
    const warning = all ? 'WARNING! This will remove all build cache.' : 'WARNING! This will remove all dangling build cache.';
    if (!bool(p, 'force') && !(await confirm(ctx, warning))) throw new StatusError('', 1);
    const r = await ctx.client.images.buildPrune({ all: all || undefined, filters: filtersParam(list(p, 'filter')) });
    let out = '';
    if (r.CachesDeleted?.length) out += `Deleted build cache objects:\n${r.CachesDeleted.map((id) => `${id}\n`).join('')}\n`;
    ctx.out(`${out}Total reclaimed space: ${humanSize(r.SpaceReclaimed ?? 0)}\n`);
    return 0;
  },
};

export const commands: Record<string, Command> = { build, 'builder prune': builderPrune };
