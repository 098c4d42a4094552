// The classic builder's executor: a Dockerfile's stages run step by step over the container, image and
// commit services (moby builder/dockerfile). Metadata steps commit a config-only child image; RUN
// runs a container from the current image and commits its upper dir; COPY/ADD pack the sources into
// a layer tar directly. Every step's result is an image, and the cache maps a step's key to it.
import { createHash, randomBytes } from 'node:crypto';
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import type { CreateBody } from '../core/container-config.js';
import { PatternMatcher, parseDockerignore } from '../core/dockerignore.js';
import { K8sLogParser } from '../core/k8s-log.js';
import { platformString, type PlatformWanted } from '../core/manifest.js';
import { shortId } from '../core/reference.js';
import { chownIdsWith } from '../core/user.js';
import { InvalidParameterError, NotFoundError } from '../errors.js';
import type { ChildImageOptions } from '../services/commit-service.js';
import { hostPlatform, parsePlatform } from '../services/image-service.js';
import type { ImageConfigJson, ImageContainerConfig } from '../store/images/image-store.js';
import { parseDockerfileInstructions, type CommandForm, type Instruction, type InstructionOf, type Stage } from './instructions.js';
import { mergedStat, packSources, readMergedFile, type CopyPlan, type PlanSource } from './copy.js';
import { downloadSource, isHttpSource } from './download.js';
import { StepCache, type StepIndex } from './step-cache.js';
import { platformArgs } from './platform.js';
import { platformMatches } from '../core/manifest.js';
import { heredocFileContent, heredocRun, PIPES_DIR } from './heredoc.js';
import { envLookup, processWord, processWords } from './shell-lex.js';
import { trace } from '../core/trace.js';
import { deferringSyncs, syncDeferred } from '../store/meta/atomic.js';

export interface BuildContainers {
  create(name: string | undefined, body: CreateBody): Promise<{ Id: string }>;
  start(ref: string): Promise<void>;
  wait(ref: string, condition: string): { result: Promise<{ StatusCode: number }> };
  remove(ref: string, opts: { force?: boolean }): Promise<void>;
}

export interface BuildImages {
  get(ref: string): { id: string; topLayer?: string; config: ImageConfigJson };
  lowerDirs(imageId: string): string[];
  applyLayer(stream: NodeJS.ReadableStream, parentImageId: string | undefined): Promise<{ chainId: string; diffId: string }>;
  tag(ref: string, repo: string, tag?: string): Promise<void>;
}

export interface BuildCommits {
  layerOf(containerId: string, image: string): Promise<{ chainId: string; diffId: string } | undefined>;
  childImage(o: ChildImageOptions): Promise<string>;
}

export interface BuildDeps {
  containers: BuildContainers;
  images: BuildImages;
  commits: BuildCommits;
  /** The k8s-file log of a container (RUN output). */
  containerLog(id: string): string;
  /** Where the step cache index lives (a JSON file). */
  cacheFile: string;
}

export interface BuildOptions {
  contextDir: string;
  dockerfile: string;
  tags: string[];
  buildArgs: Record<string, string | null>;
  target?: string;
  noCache?: boolean;
  labels?: Record<string, string>;
  rm?: boolean;
  forceRm?: boolean;
  hostConfig?: CreateBody['HostConfig'];
  /** The request's target platform (TARGETPLATFORM, and what FROM lines must match); the host's when unset. */
  platform?: string;
}

/** Where the executor writes the classic builder's lines. */
export interface BuildOutput {
  stream(text: string): Promise<void>;
  aux(value: unknown): Promise<void>;
  /** A progress line without an id (ADD's "Downloading"); lossy. Absent (and -q) draws none. */
  progress?(status: string, current: number, total: number | undefined, last: boolean): void;
  /** True once the client went away: the build stops at the next step. */
  readonly cancelled: boolean;
  /** Aborted when the client goes away: a running step is stopped and removed. */
  readonly signal?: AbortSignal;
}

/** The client went away mid-build. */
export class BuildCancelledError extends InvalidParameterError {
  constructor() { super('build cancelled: the client went away'); }
}

/** A RUN that exited non-zero: Docker's message, and the code for errorDetail. */
export class BuildStepError extends InvalidParameterError {
  constructor(message: string, readonly code: number) { super(message); }
}

interface StageState {
  image: string | undefined;
  /** The global scope (meta ARGs and the platform args): what a stage's value-less ARG takes. */
  meta: Map<string, string>;
  /** FROM --platform of a scratch stage: the platform its images get. */
  platform?: PlatformWanted;
  config: ImageContainerConfig;
  /** ARGs declared in this stage with their values (build args applied). */
  args: Map<string, string>;
  shell: string[];
}

const DEFAULT_SHELL = ['/bin/sh', '-c'];
/** Build args Docker accepts without an ARG (and keeps out of the image history). */
const PREDEFINED_ARGS = ['HTTP_PROXY', 'http_proxy', 'HTTPS_PROXY', 'https_proxy', 'FTP_PROXY', 'ftp_proxy', 'NO_PROXY', 'no_proxy', 'ALL_PROXY', 'all_proxy'];

export class BuildExecutor {
  private cache: StepIndex = {};
  private added: StepIndex = {};
  /** Entries this build took from the cache: key → when. */
  private used = new Map<string, string>();
  private readonly dropped = new Set<string>();
  readonly steps: StepCache;

  constructor(private readonly d: BuildDeps) {
    this.steps = new StepCache(d.cacheFile);
  }

  // One executor serves concurrent builds: what a running build added and has not saved yet stays
  // visible to a build that starts, and whichever build ends first saves all of it.
  private async loadCache(): Promise<void> {
    this.cache = { ...await this.steps.read(), ...this.added };
  }

  private remember(key: string, id: string): void {
    const e = { id, lastUsed: new Date().toISOString(), uses: 1 };
    this.cache[key] = e;
    this.added[key] = e;
  }

  /**
   * The fsyncs of step commits (layer records, image records, config blobs) wait in here until a build saves
   * the index: a step's image is cache until then, and one flush journals them together (the rule in
   * architecture.md, "Build durability").
   */
  private readonly unsynced = new Set<string>();

  private commit<T>(fn: () => Promise<T>): Promise<T> {
    return deferringSyncs(this.unsynced, fn);
  }

  private async saveCache(): Promise<void> {
    // Taken before the flush: every entry taken had its commit's paths in `unsynced` already.
    const added = this.added;
    const used = this.used;
    const dropped = [...this.dropped];
    this.added = {};
    this.used = new Map();
    this.dropped.clear();
    await syncDeferred(this.unsynced);
    await this.steps.merge(added, used, dropped);
  }

  /** Each running build's intermediate containers being removed (keyed by its output). */
  private readonly removals = new Map<BuildOutput, Promise<void>[]>();

  /** Runs the build; returns the final image id. No intermediate container outlives it. */
  async build(o: BuildOptions, out: BuildOutput): Promise<string> {
    const removals: Promise<void>[] = [];
    this.removals.set(out, removals);
    try {
      return await this.buildSteps(o, out, removals);
    } finally {
      this.removals.delete(out);
      await Promise.all(removals);
      // A failed build's steps stay in memory for the next build's index: they are made durable now.
      await syncDeferred(this.unsynced);
    }
  }

  private async buildSteps(o: BuildOptions, out: BuildOutput, removals: Promise<void>[]): Promise<string> {
    const text = await readDockerfile(o.contextDir, o.dockerfile);
    await dropIgnoredBuildFiles(o.contextDir, o.dockerfile || 'Dockerfile');
    const df = parseDockerfileInstructions(text);
    await this.loadCache();
    this.stageIds.clear();
    const buildArgs = new Map<string, string>();
    for (const [k, v] of Object.entries(o.buildArgs)) if (v !== null) buildArgs.set(k, v);
    const used = new Set<string>();
    const target = parsePlatform(o.platform || undefined);
    const meta = platformArgs(hostPlatform(), target);
    for (const a of df.metaArgs) for (const { key, value } of a.args) {
      used.add(key);
      const v = buildArgs.get(key) ?? (value === undefined ? undefined : processWord(value, envLookup([...meta].map(([k, x]) => `${k}=${x}`))));
      if (v !== undefined) meta.set(key, v);
    }
    let last = df.stages.length - 1;
    if (o.target) {
      const i = df.stages.findIndex((s) => s.name === o.target!.toLowerCase());
      if (i < 0) throw new InvalidParameterError(`failed to reach build target ${o.target} in Dockerfile`);
      last = i;
    }
    const stages = neededStages(df.stages, last, (w) => processWord(w, envLookup([...meta].map(([k, x]) => `${k}=${x}`))));
    const total = stages.reduce((n, s) => n + 1 + s.instructions.length, 0);
    const results: (string | undefined)[] = [];
    let step = 0;
    let final: string | undefined;
    for (const stage of stages) {
      const st = await this.from(stage, meta, o.platform, out, ++step, total);
      for (const ins of stage.instructions) {
        if (out.cancelled) throw new BuildCancelledError();
        step++;
        await out.stream(`Step ${step}/${total} : ${ins.original}\n`);
        await this.step(ins, st, o, buildArgs, used, results, df.stages, out);
        await out.stream(` ---> ${st.image ? shortId(st.image) : ''}\n`);
      }
      if (stage === stages[stages.length - 1] && o.labels && Object.keys(o.labels).length) {
        st.config.Labels = { ...(st.config.Labels ?? {}), ...o.labels };
        st.image = await this.metaCommit(st, 'LABEL', JSON.stringify(o.labels), o);
      }
      if (!st.image) {
        // FROM scratch with no step: Docker refuses to produce an image without a rootfs.
        st.image = await this.metaCommit(st, 'FROM', 'scratch', o);
      }
      results[stage.index] = st.image;
      if (stage.name) this.stageIds.set(stage.name, st.image);
      final = st.image;
    }
    const unused = [...buildArgs.keys()].filter((k) => !used.has(k) && !PREDEFINED_ARGS.includes(k));
    if (unused.length) await out.stream(`[Warning] One or more build-args [${unused.join(' ')}] were not consumed\n`);
    await this.saveCache();
    await Promise.all(removals);
    await out.aux({ ID: final });
    await out.stream(`Successfully built ${shortId(final!)}\n`);
    for (const t of o.tags) {
      const colon = t.lastIndexOf(':');
      const [repo, tag] = colon > t.lastIndexOf('/') ? [t.slice(0, colon), t.slice(colon + 1)] : [t, undefined];
      await this.d.images.tag(final!, repo, tag);
      await out.stream(`Successfully tagged ${tag ? t : `${t}:latest`}\n`);
    }
    return final!;
  }

  private async from(stage: Stage, meta: Map<string, string>, platform: string | undefined, out: BuildOutput, step: number, total: number): Promise<StageState> {
    await out.stream(`Step ${step}/${total} : ${stage.from.original}\n`);
    const name = processWord(stage.from.image, envLookup([...meta].map(([k, v]) => `${k}=${v}`)));
    const st: StageState = { image: undefined, meta, config: {}, args: new Map(), shell: DEFAULT_SHELL };
    const wanted = stage.from.platform !== undefined ? processWord(stage.from.platform, envLookup([...meta].map(([k, v]) => `${k}=${v}`))) : platform;
    const want = wanted ? parsePlatform(wanted) : undefined;
    if (name.toLowerCase() === 'scratch') {
      if (want) st.platform = want;
      await out.stream(' ---> \n');
      return st;
    }
    const id = this.stageIds.get(name.toLowerCase());
    let img;
    try {
      img = this.d.images.get(id ?? name);
    } catch (err) {
      if (err instanceof NotFoundError) throw new NotFoundError(`pull access denied for ${name}, repository does not exist or may require 'docker login': no registry to pull from (${err.message})`);
      throw err;
    }
    if (want && !platformMatches(want, img.config)) {
      // berth's builder does not pull: a base image of another platform is refused, as moby's lookup words it.
      const have = img.config.architecture ? platformString({ os: img.config.os || 'linux', architecture: img.config.architecture, ...(img.config.variant ? { variant: img.config.variant } : {}) }) : 'nil';
      throw new NotFoundError(`image with reference ${name} was found but does not match the specified platform: wanted ${platformString(want)}, actual: ${have}`);
    }
    st.image = img.id;
    st.config = structuredClone(img.config.config ?? {});
    if (st.config.Shell?.length) st.shell = [...st.config.Shell];
    await out.stream(` ---> ${shortId(img.id)}\n`);
    if (st.config.OnBuild?.length) {
      throw new InvalidParameterError(`image ${name} has ONBUILD triggers, which this builder does not run yet`);
    }
    return st;
  }

  private readonly stageIds = new Map<string, string>();

  private env(st: StageState): (name: string) => string | undefined {
    const list = [...[...st.args].map(([k, v]) => `${k}=${v}`), ...(st.config.Env ?? [])];
    return envLookup(list);
  }

  private async step(ins: Instruction, st: StageState, o: BuildOptions, buildArgs: Map<string, string>, used: Set<string>,
    results: (string | undefined)[], all: Stage[], out: BuildOutput): Promise<void> {
    const env = this.env(st);
    const word = (w: string) => processWord(w, env);
    const c = st.config;
    switch (ins.kind) {
      case 'ENV': {
        const list = [...(c.Env ?? [])];
        for (const { key, value } of ins.pairs) {
          const v = processWord(value, this.env({ ...st, config: { ...c, Env: list } }));
          const i = list.findIndex((e) => e.split('=')[0] === key);
          if (i >= 0) list[i] = `${key}=${v}`; else list.push(`${key}=${v}`);
        }
        c.Env = list;
        break;
      }
      case 'LABEL':
        c.Labels = { ...(c.Labels ?? {}) };
        for (const { key, value } of ins.pairs) c.Labels[word(key)] = word(value);
        break;
      case 'ARG':
        for (const { key, value } of ins.args) {
          used.add(key);
          // A value-less ARG takes the global scope's value (an ARG before FROM, or a platform arg).
          const v = buildArgs.get(key) ?? (value === undefined ? st.meta.get(key) : word(value));
          if (v !== undefined) st.args.set(key, v); else st.args.delete(key);
        }
        break;
      case 'MAINTAINER': break;
      case 'CMD': c.Cmd = command(ins, st.shell); if (ins.form === 'shell') c.ArgsEscaped = true; break;
      case 'ENTRYPOINT': c.Entrypoint = command(ins, st.shell); if (ins.kind === 'ENTRYPOINT' && !c.Cmd) delete c.Cmd; break;
      case 'SHELL': st.shell = [...ins.shell]; c.Shell = [...ins.shell]; break;
      case 'EXPOSE': {
        c.ExposedPorts = { ...(c.ExposedPorts ?? {}) };
        for (const p of ins.ports.flatMap((x) => processWords(x, env))) c.ExposedPorts[p.includes('/') ? p : `${p}/tcp`] = {};
        break;
      }
      case 'VOLUME':
        c.Volumes = { ...(c.Volumes ?? {}) };
        for (const v of ins.volumes) c.Volumes[word(v)] = {};
        break;
      case 'USER': c.User = word(ins.user); break;
      case 'WORKDIR': {
        const p = word(ins.path);
        c.WorkingDir = path.posix.resolve(c.WorkingDir || '/', p);
        break;
      }
      case 'STOPSIGNAL': c.StopSignal = word(ins.signal); break;
      case 'HEALTHCHECK': {
        const h: NonNullable<ImageContainerConfig['Healthcheck']> = { Test: ins.test };
        if (ins.interval) h.Interval = ins.interval;
        if (ins.timeout) h.Timeout = ins.timeout;
        if (ins.startPeriod) h.StartPeriod = ins.startPeriod;
        if (ins.startInterval) h.StartInterval = ins.startInterval;
        if (ins.retries) h.Retries = ins.retries;
        c.Healthcheck = h;
        break;
      }
      case 'ONBUILD': c.OnBuild = [...(c.OnBuild ?? []), ins.expression]; break;
      case 'RUN': return this.run(ins, st, o, out);
      case 'COPY': case 'ADD': return this.copy(ins, st, o, results, all, out);
      case 'FROM': throw new InvalidParameterError('unexpected FROM');
    }
    st.image = await this.metaCommit(st, ins.kind, ins.original.slice(ins.kind.length).trim(), o, out);
  }

  private key(parts: unknown[]): string {
    return createHash('sha256').update(JSON.stringify(parts)).digest('hex');
  }

  /** A cached result for a step key, if its image still exists. */
  private cached(o: BuildOptions, key: string): string | undefined {
    if (o.noCache) return undefined;
    const id = this.cache[key]?.id;
    if (!id) return undefined;
    let hit: string;
    try { hit = this.d.images.get(id).id; } catch { delete this.cache[key]; this.dropped.add(key); return undefined; }
    this.used.set(key, new Date().toISOString());
    return hit;
  }

  private async metaCommit(st: StageState, kind: string, rest: string, o: BuildOptions, out?: BuildOutput): Promise<string> {
    const createdBy = `${st.shell.join(' ')} #(nop)  ${kind} ${rest}`;
    const key = this.key([st.image ?? scratchKey(st), 'meta', createdBy, st.config]);
    const hit = this.cached(o, key);
    if (hit) { await out?.stream(' ---> Using cache\n'); return hit; }
    const id = await this.commit(() => this.d.commits.childImage({ parent: st.image, ...scratchPlatform(st), config: structuredClone(st.config), history: { created_by: createdBy } }));
    this.remember(key, id);
    return id;
  }

  private async run(ins: InstructionOf<'RUN'>, st: StageState, o: BuildOptions, out: BuildOutput): Promise<void> {
    if (ins.mounts.length || ins.network || ins.security) throw new InvalidParameterError('RUN --mount, --network and --security need BuildKit; this builder refuses them');
    const here = ins.heredocs.length && ins.form === 'shell' ? heredocRun(ins.command, ins.heredocs) : undefined;
    const cmd = here ? [...st.shell, here.arg] : command(ins, st.shell);
    const args = [...st.args].map(([k, v]) => `${k}=${v}`);
    const createdBy = `${args.length ? `|${args.length} ${args.join(' ')} ` : ''}${cmd.join(' ')}`;
    // A `#!` script is not in the command line: its body keys the step.
    const key = this.key([st.image ?? scratchKey(st), 'run', createdBy, st.config, ...(here?.script ? [here.script.data] : [])]);
    const hit = this.cached(o, key);
    if (hit) { await out.stream(' ---> Using cache\n'); st.image = hit; return; }
    if (!st.image) throw new InvalidParameterError('RUN needs a base image: FROM scratch has no shell');
    const body: CreateBody = {
      Image: st.image, Cmd: cmd, Entrypoint: [], Env: [...(st.config.Env ?? []), ...args.filter((a) => !(st.config.Env ?? []).some((e) => e.split('=')[0] === a.split('=')[0]))],
      WorkingDir: st.config.WorkingDir ?? '', User: st.config.User ?? '', Labels: {},
      HostConfig: { ...(o.hostConfig ?? {}) },
    };
    if (out.cancelled) throw new BuildCancelledError();
    const pipes = here?.script ? await writePipesDir(o.contextDir, here.script) : undefined;
    if (pipes) body.HostConfig = { ...body.HostConfig, Binds: [...(body.HostConfig?.Binds ?? []), `${pipes}:${PIPES_DIR}:ro`] };
    let Id: string;
    const tr = trace('build-run');
    try {
      ({ Id } = await this.d.containers.create(undefined, body));
      tr.mark('create');
    } catch (err) {
      if (pipes) await fsp.rm(pipes, { recursive: true, force: true });
      throw err;
    }
    await out.stream(` ---> Running in ${shortId(Id)}\n`);
    let ok = false;
    const tail = new LogTail(this.d.containerLog(Id), (text) => out.stream(text));
    const onAbort = () => { void this.d.containers.remove(Id, { force: true }).catch(() => {}); };
    out.signal?.addEventListener('abort', onAbort);
    try {
      const w = this.d.containers.wait(Id, 'next-exit');
      await this.d.containers.start(Id);
      tr.mark('start');
      tail.start();
      const { StatusCode } = await w.result;
      tr.mark('wait');
      await tail.stop();
      tr.mark('tail');
      if (out.cancelled) throw new BuildCancelledError();
      if (StatusCode !== 0) {
        throw new BuildStepError(`The command '${cmd.join(' ')}' returned a non-zero code: ${StatusCode}`, StatusCode);
      }
      const layer = await this.commit(() => this.d.commits.layerOf(Id, st.image!));
      tr.mark('layer');
      const id = await this.commit(() => this.d.commits.childImage({ parent: st.image, ...scratchPlatform(st), config: structuredClone(st.config), history: { created_by: createdBy }, ...(layer ? { layer } : {}) }));
      tr.mark('image');
      this.remember(key, id);
      st.image = id;
      ok = true;
    } finally {
      out.signal?.removeEventListener('abort', onAbort);
      await tail.stop();
      if (ok && !out.cancelled && o.rm !== false) {
        // Its layer is committed: the removal runs beside the next step, and the build waits for it at its end.
        this.removals.get(out)?.push(this.d.containers.remove(Id, { force: true }).catch(() => {}));
        await out.stream(` ---> Removed intermediate container ${shortId(Id)}\n`);
      } else if (out.cancelled || (ok ? o.rm !== false : (o.forceRm || o.rm !== false))) {
        await this.d.containers.remove(Id, { force: true }).catch(() => {});
        await out.stream(` ---> Removed intermediate container ${shortId(Id)}\n`);
      }
      tr.mark('remove');
      tr.end();
      if (pipes) await fsp.rm(pipes, { recursive: true, force: true });
    }
  }

  /** --chown by name: the destination image's account files, read through its layers. */
  private chownIds(chown: string, image: string | undefined): Promise<{ uid: number; gid: number }> {
    const roots = image ? this.d.images.lowerDirs(image) : [];
    return chownIdsWith(async (file) => readMergedFile(roots, file), chown);
  }

  private async copy(ins: InstructionOf<'COPY'> | InstructionOf<'ADD'>, st: StageState, o: BuildOptions,
    results: (string | undefined)[], all: Stage[], out: BuildOutput): Promise<void> {
    const env = this.env(st);
    let srcRoots: string[];
    const from = ins.kind === 'COPY' ? ins.from : undefined;
    if (from !== undefined) {
      const f = processWord(from, env).toLowerCase();
      const idx = /^\d+$/.test(f) ? Number(f) : all.findIndex((s) => s.name === f);
      let image: string | undefined;
      if (idx >= 0) {
        image = results[idx];
        if (!image) throw new InvalidParameterError(`invalid from flag value ${from}: stage ${f} is not built before this one`);
      } else {
        image = this.d.images.get(f).id;
      }
      srcRoots = this.d.images.lowerDirs(image);
    } else {
      srcRoots = [o.contextDir];
    }
    if (ins.link) throw new InvalidParameterError(`${ins.kind} --link needs BuildKit; this builder refuses it`);
    if (ins.excludes.length) throw new InvalidParameterError(`${ins.kind} --exclude needs BuildKit; this builder refuses it`);
    if (ins.kind === 'COPY' && ins.parents) throw new InvalidParameterError('COPY --parents needs BuildKit; this builder refuses it');
    const sources = ins.sources.map((s) => (s.kind === 'path' ? { kind: 'path' as const, path: processWord(s.path, env) } : { ...s, content: heredocFileContent(s, env) }));
    const urls = sources.filter((s) => s.kind === 'path' && isHttpSource(s.path));
    if (urls.length && (ins.kind === 'COPY' || from !== undefined)) throw new InvalidParameterError("source can't be a URL for COPY");
    const checksum = ins.kind === 'ADD' ? ins.checksum : undefined;
    if (checksum !== undefined) {
      if (sources.length !== 1) throw new InvalidParameterError("checksum can't be specified for multiple sources");
      if (!urls.length) throw new InvalidParameterError("checksum can't be specified for non-HTTP(S) sources");
    }
    const dlDir = urls.length ? `${o.contextDir}-add-${randomBytes(4).toString('hex')}` : undefined;
    try {
      let planSources: PlanSource[] = sources;
      if (dlDir) {
        await fsp.mkdir(dlDir, { mode: 0o700 });
        let n = 0;
        planSources = [];
        for (const s of sources) {
          if (s.kind === 'path' && isHttpSource(s.path)) {
            const dl = await downloadSource(s.path, path.join(dlDir, String(n++)), {
              ...(checksum !== undefined ? { checksum: processWord(checksum, env) } : {}), ...(out.signal ? { signal: out.signal } : {}),
              progress: (current, total, last) => out.progress?.('Downloading', current, total, last),
            });
            // The classic builder's blank line after the progress (moby's "random blank line").
            await out.stream('\n');
            planSources.push({ kind: 'download', ...dl });
          } else planSources.push(s);
        }
      }
      const plan: CopyPlan = {
        roots: srcRoots, layered: from !== undefined, sources: planSources,
        dest: processWord(ins.dest, env), workdir: st.config.WorkingDir || '/',
        ...(ins.chown ? { owner: await this.chownIds(processWord(ins.chown, env), st.image) } : {}), chmod: ins.chmod,
        extract: ins.kind === 'ADD',
      };
      if (st.image) {
        const d = mergedStat(this.d.images.lowerDirs(st.image), path.posix.resolve(plan.workdir, plan.dest));
        plan.destIsDir = d?.st.isDirectory() ?? false;
      }
      const { hash, pack } = await packSources(plan);
      const createdBy = `${st.shell.join(' ')} #(nop) ${ins.kind} ${hash} in ${plan.dest} `;
      const key = this.key([st.image ?? scratchKey(st), 'copy', createdBy, st.config]);
      const hit = this.cached(o, key);
      if (hit) { await out.stream(' ---> Using cache\n'); st.image = hit; return; }
      const layer = await this.commit(() => this.d.images.applyLayer(pack(), st.image));
      const id = await this.commit(() => this.d.commits.childImage({ parent: st.image, ...scratchPlatform(st), config: structuredClone(st.config), history: { created_by: createdBy }, layer }));
      this.remember(key, id);
      st.image = id;
    } finally {
      if (dlDir) await fsp.rm(dlDir, { recursive: true, force: true });
    }
  }
}

/**
 * Only the stages the target needs (BuildKit's rule; the classic builder ran every stage before it):
 * the target, the stages its FROM names and those its COPY --from names, transitively.
 */
export function neededStages(stages: Stage[], target: number, expand: (w: string) => string): Stage[] {
  const byName = new Map(stages.filter((s) => s.name).map((s) => [s.name!, s.index]));
  const need = new Set<number>();
  const visit = (i: number) => {
    if (need.has(i)) return;
    need.add(i);
    const st = stages[i]!;
    const base = byName.get(expand(st.from.image).toLowerCase());
    if (base !== undefined && base < i) visit(base);
    for (const ins of st.instructions) {
      if (ins.kind !== 'COPY' || ins.from === undefined) continue;
      const f = expand(ins.from).toLowerCase();
      const dep = /^\d+$/.test(f) ? Number(f) : byName.get(f);
      if (dep !== undefined && dep < i) visit(dep);
    }
  };
  visit(target);
  return stages.filter((s) => need.has(s.index));
}

/**
 * Follows a RUN container's k8s-file log while the step runs, so its output reaches the client as it
 * comes (polled: conmon appends, and the file is the container's only output channel).
 */
class LogTail {
  private offset = 0;
  private timer: NodeJS.Timeout | undefined;
  private reading: Promise<void> = Promise.resolve();
  private stopped = false;
  private readonly parser: K8sLogParser;
  private text = '';

  constructor(private readonly file: string, private readonly emit: (text: string) => Promise<void>) {
    this.parser = new K8sLogParser((e) => { this.text += e.data.toString('utf8'); });
  }

  start(): void {
    this.timer = setInterval(() => { this.reading = this.reading.then(() => this.read()); }, 100);
  }

  private async read(): Promise<void> {
    let fh;
    try { fh = await fsp.open(this.file, 'r'); } catch { return; }
    try {
      for (;;) {
        const buf = Buffer.alloc(64 * 1024);
        const { bytesRead } = await fh.read(buf, 0, buf.length, this.offset);
        if (bytesRead === 0) break;
        this.offset += bytesRead;
        this.parser.push(buf.subarray(0, bytesRead));
      }
    } finally { await fh.close(); }
    if (this.text) { const t = this.text; this.text = ''; await this.emit(t); }
  }

  /** Stops polling and sends what is left (idempotent). */
  async stop(): Promise<void> {
    if (this.stopped) return this.reading;
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    this.reading = this.reading.then(() => this.read());
    return this.reading;
  }
}

/** A `#!` heredoc's script in a dir beside the context, bind-mounted read-only at /dev/pipes. */
async function writePipesDir(contextDir: string, script: { name: string; data: string }): Promise<string> {
  if (script.name.includes('/') || script.name === '.' || script.name === '..') throw new InvalidParameterError(`invalid heredoc name for a script: ${script.name}`);
  const dir = `${contextDir}-pipes-${randomBytes(4).toString('hex')}`;
  await fsp.mkdir(dir, { mode: 0o755 });
  await fsp.writeFile(path.join(dir, script.name), script.data, { mode: 0o755 });
  await fsp.chmod(path.join(dir, script.name), 0o755);
  return dir;
}

/** A scratch stage's images take its FROM --platform (else the host's, in CommitService). */
function scratchPlatform(st: StageState): { platform?: PlatformWanted } {
  return !st.image && st.platform ? { platform: st.platform } : {};
}

function scratchKey(st: StageState): string {
  return st.platform ? `scratch:${platformString(st.platform)}` : 'scratch';
}

function command(ins: CommandForm, shell: string[]): string[] {
  return ins.form === 'exec' ? [...ins.args] : [...shell, ins.command];
}

/** The Dockerfile named by the request, read from inside the context only. */
async function readDockerfile(contextDir: string, name: string): Promise<string> {
  const rel = path.posix.normalize(name || 'Dockerfile').replace(/^\/+/, '');
  if (rel.startsWith('../') || rel === '..') throw new InvalidParameterError(`forbidden path outside the build context: ${name}`);
  const p = path.join(contextDir, rel);
  let st;
  if (!await insideContext(contextDir, rel)) throw new InvalidParameterError(`forbidden path outside the build context: ${name}`);
  try { st = fs.lstatSync(p); } catch { throw new InvalidParameterError(`Cannot locate specified Dockerfile: ${name || 'Dockerfile'}`); }
  if (!st.isFile()) throw new InvalidParameterError(`Cannot locate specified Dockerfile: ${name || 'Dockerfile'}`);
  const text = await fsp.readFile(p, 'utf8');
  if (text.trim() === '') throw new InvalidParameterError(`the Dockerfile (${name || 'Dockerfile'}) cannot be empty`);
  return text;
}

/** Whether `rel`'s parent directory, symlinks resolved, is still inside the context (a context may hold links out). */
async function insideContext(contextDir: string, rel: string): Promise<boolean> {
  try {
    const root = await fsp.realpath(contextDir);
    const parent = await fsp.realpath(path.dirname(path.join(contextDir, rel)));
    return parent === root || parent.startsWith(`${root}/`);
  } catch { return false; }
}

/**
 * The docker CLI sends .dockerignore and the Dockerfile even when .dockerignore excludes them; once the
 * Dockerfile is read they leave the context (moby's removeDockerfile), so `COPY . /` does not take them.
 */
async function dropIgnoredBuildFiles(contextDir: string, dockerfile: string): Promise<void> {
  let text: string;
  try { text = await fsp.readFile(path.join(contextDir, '.dockerignore'), 'utf8'); } catch { return; }
  let pm: PatternMatcher;
  try { pm = new PatternMatcher(parseDockerignore(text)); } catch { return; }
  for (const f of ['.dockerignore', path.posix.normalize(dockerfile).replace(/^\/+/, '')]) {
    if (pm.matches(f) && await insideContext(contextDir, f)) await fsp.rm(path.join(contextDir, f), { force: true });
  }
}

export function newContextDirName(): string { return `build-${randomBytes(6).toString('hex')}`; }
