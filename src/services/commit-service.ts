// docker diff and docker commit: a container's overlay upper dir read as changes, or packed into a
// layer on top of its image with a new image config and history entry (moby daemon/commit.go,
// daemon/images/image_commit.go). The builder commits each step through the same childImage().
import path from 'node:path';
import { applyChanges } from '../core/dockerfile-change.js';
import type { ContainerConfig } from '../core/container-config.js';
import { familiarString, repoTagReference, type Reference } from '../core/reference.js';
import { ConflictError } from '../errors.js';
import { trace } from '../core/trace.js';
import type { ImageConfigJson, ImageContainerConfig, ImageHistoryEntry } from '../store/images/image-store.js';
import { upperChanges, upperHasContent, type Change, type UpperLayerSys } from '../store/layers/upper-layer.js';
import type { Paths } from '../store/paths.js';
import type { EventBus } from './events.js';
import { hostPlatform } from './image-service.js';

/** What commit reads of a container (ContainerQueries). */
export interface CommitContainers {
  get(ref: string): { Id: string; Name: string; Image: string; Config: ContainerConfig; State: { Running: boolean; Paused: boolean; Status: string } };
}

/** What commit does to a container: freeze it while its upper dir is read (ContainerService). */
export interface CommitLifecycle {
  pause(ref: string): Promise<void>;
  unpause(ref: string): Promise<void>;
}

/** What commit needs of the image store (ImageService). */
export interface CommitImages {
  lowerDirs(imageId: string): string[];
  commitLayer(upper: string, lowers: readonly string[], parentImageId: string): Promise<{ chainId: string; diffId: string }>;
  addImage(config: ImageConfigJson, rec: { topLayer?: string; parent?: string }, tags?: readonly Reference[]): Promise<string>;
  get(ref: string): { id: string; topLayer?: string; config: ImageConfigJson };
}

export interface CommitOptions {
  container: string;
  repo?: string;
  tag?: string;
  author?: string;
  comment?: string;
  /** Dockerfile instructions applied to the config (CMD, ENV, ...). */
  changes?: string[];
  /** Default true: freeze a running container while its upper dir is read. */
  pause?: boolean;
  /** The request body: the config to commit instead of the container's own. */
  config?: ContainerConfig;
}

export interface ChildImageOptions {
  /** Parent image id; undefined for FROM scratch. */
  parent: string | undefined;
  config: ImageContainerConfig;
  history: ImageHistoryEntry;
  author?: string;
  comment?: string;
  /** The new layer, or undefined for a metadata-only child (an empty layer in history). */
  layer?: { chainId: string; diffId: string };
  tags?: readonly Reference[];
  version?: string;
  /** The platform of a parentless image (FROM --platform=... scratch); the host's when unset. */
  platform?: { os: string; architecture: string; variant?: string };
}

export interface CommitServiceDeps {
  paths: Paths;
  sys: UpperLayerSys;
  containers: CommitContainers;
  lifecycle: CommitLifecycle;
  images: CommitImages;
  events: EventBus;
  version?: string;
}

/** The image config's container part from a container config (the fields an image carries). */
export function imageConfigOf(c: ContainerConfig): ImageContainerConfig {
  const out: ImageContainerConfig = {};
  if (c.User) out.User = c.User;
  if (c.ExposedPorts && Object.keys(c.ExposedPorts).length) out.ExposedPorts = c.ExposedPorts as ImageContainerConfig['ExposedPorts'];
  if (c.Env) out.Env = [...c.Env];
  if (c.Cmd != null) out.Cmd = typeof c.Cmd === 'string' ? [c.Cmd] : [...c.Cmd];
  if (c.Healthcheck) out.Healthcheck = c.Healthcheck as ImageContainerConfig['Healthcheck'];
  if (c.ArgsEscaped) out.ArgsEscaped = true;
  if (c.Volumes && Object.keys(c.Volumes).length) out.Volumes = c.Volumes as ImageContainerConfig['Volumes'];
  if (c.WorkingDir) out.WorkingDir = c.WorkingDir;
  if (c.Entrypoint != null) out.Entrypoint = typeof c.Entrypoint === 'string' ? [c.Entrypoint] : [...c.Entrypoint];
  if (c.OnBuild?.length) out.OnBuild = [...c.OnBuild];
  if (c.Labels && Object.keys(c.Labels).length) out.Labels = { ...c.Labels };
  if (c.StopSignal) out.StopSignal = c.StopSignal;
  if (c.Shell?.length) out.Shell = [...c.Shell];
  return out;
}

/** moby daemon/commit.go merge(): fields the user's config leaves empty come from the container's. */
export function mergeCommitConfig(user: ImageContainerConfig, base: ImageContainerConfig): ImageContainerConfig {
  const out: ImageContainerConfig = structuredClone(user);
  if (!out.User && base.User) out.User = base.User;
  if (base.ExposedPorts) out.ExposedPorts = { ...base.ExposedPorts, ...(out.ExposedPorts ?? {}) };
  if (!out.Env?.length) { if (base.Env) out.Env = [...base.Env]; } else {
    for (const e of base.Env ?? []) {
      const k = e.split('=')[0];
      if (!out.Env.some((u) => u.split('=')[0] === k)) out.Env.push(e);
    }
  }
  if (base.Labels) out.Labels = { ...base.Labels, ...(out.Labels ?? {}) };
  if (!out.Entrypoint?.length) {
    if (!out.Cmd?.length) {
      if (base.Cmd) out.Cmd = [...base.Cmd]; else delete out.Cmd;
      if (base.ArgsEscaped) out.ArgsEscaped = true;
    }
    if (out.Entrypoint === undefined && base.Entrypoint) out.Entrypoint = [...base.Entrypoint];
  }
  if (base.Healthcheck) out.Healthcheck = { ...base.Healthcheck, ...(out.Healthcheck ?? {}) };
  if (!out.WorkingDir && base.WorkingDir) out.WorkingDir = base.WorkingDir;
  if (base.Volumes) out.Volumes = { ...base.Volumes, ...(out.Volumes ?? {}) };
  if (!out.StopSignal && base.StopSignal) out.StopSignal = base.StopSignal;
  return out;
}

/** moby image.NewChildImage: the parent's config with one more history entry (and diffID, unless empty). */
export function childImageConfig(parent: ImageConfigJson | undefined, o: ChildImageOptions, created: string): ImageConfigJson {
  const platform = parent?.architecture ? { architecture: parent.architecture, os: parent.os, variant: parent.variant } : o.platform ?? hostPlatform();
  const h: ImageHistoryEntry = { created, ...o.history };
  if (o.author) h.author = o.author;
  if (o.comment) h.comment = o.comment;
  if (!o.layer) h.empty_layer = true;
  const cfg: ImageConfigJson = {
    architecture: platform.architecture,
    ...(platform.variant ? { variant: platform.variant } : {}),
    ...(o.author ? { author: o.author } : {}),
    ...(o.comment ? { comment: o.comment } : {}),
    config: o.config,
    created,
    ...(o.version ? { docker_version: o.version } : {}),
    history: [...(parent?.history ?? []), h],
    os: platform.os,
    rootfs: { type: 'layers', diff_ids: [...(parent?.rootfs.diff_ids ?? []), ...(o.layer ? [o.layer.diffId] : [])] },
  };
  return cfg;
}

export class CommitService {
  constructor(private readonly d: CommitServiceDeps) {}

  private upperDir(id: string): string { return path.join(this.d.paths.containerDir(id), 'upper'); }

  /** GET /containers/{id}/changes; Go's nil slice (null) when nothing changed. */
  changes(ref: string): Change[] | null {
    const c = this.d.containers.get(ref);
    const list = upperChanges(this.upperDir(c.Id), this.d.images.lowerDirs(c.Image), this.d.sys);
    return list.length ? list : null;
  }

  /**
   * Pack a container's upper dir as a layer on its image; undefined when the container changed
   * nothing (an empty layer is not stored, as moby's layer.IsEmpty).
   */
  async layerOf(id: string, image: string): Promise<{ chainId: string; diffId: string } | undefined> {
    const upper = this.upperDir(id);
    const lowers = this.d.images.lowerDirs(image);
    if (!upperHasContent(upper, lowers)) return undefined;
    return this.d.images.commitLayer(upper, lowers, image);
  }

  /** A new image from a parent, a config and maybe a layer; the builder's commit too. */
  async childImage(o: ChildImageOptions): Promise<string> {
    const parent = o.parent ? this.d.images.get(o.parent) : undefined;
    const cfg = childImageConfig(parent?.config, { ...o, version: o.version ?? this.d.version }, new Date().toISOString());
    const rec: { topLayer?: string; parent?: string } = {};
    const top = o.layer?.chainId ?? parent?.topLayer;
    if (top) rec.topLayer = top;
    if (parent) rec.parent = parent.id;
    return this.d.images.addImage(cfg, rec, o.tags ?? []);
  }

  /** POST /commit. */
  async commit(o: CommitOptions): Promise<string> {
    const c = this.d.containers.get(o.container);
    if (c.State.Status === 'removing') throw new ConflictError(`cannot commit container ${c.Id}: removal in progress`);
    if (c.State.Status === 'dead') throw new ConflictError(`You cannot commit container ${c.Id} which is Dead`);
    const tag = o.repo ? repoTagReference(o.repo, o.tag) : undefined;
    const own = imageConfigOf(c.Config);
    const config = mergeCommitConfig(applyChanges(o.config ? imageConfigOf(o.config) : own, o.changes ?? []), own);
    const pause = (o.pause ?? true) && c.State.Running && !c.State.Paused;
    const tr = trace(`commit ${c.Id.slice(0, 12)}`);
    if (pause) await this.d.lifecycle.pause(c.Id);
    tr.mark('pause');
    let layer;
    try {
      layer = await this.layerOf(c.Id, c.Image);
      tr.mark('layer');
    } finally {
      if (pause) await this.d.lifecycle.unpause(c.Id).catch(() => {});
    }
    tr.mark('unpause');
    const cmd = c.Config.Cmd == null ? [] : typeof c.Config.Cmd === 'string' ? [c.Config.Cmd] : c.Config.Cmd;
    const id = await this.childImage({
      parent: c.Image, config, history: { created_by: cmd.join(' ') }, author: o.author, comment: o.comment,
      layer, tags: tag ? [tag] : [],
    });
    tr.mark('image');
    tr.end();
    this.d.events.publish('container', 'commit', c.Id, {
      comment: o.comment ?? '', imageID: id, imageRef: tag ? familiarString(tag) : '', name: c.Name.replace(/^\//, ''),
    });
    return id;
  }
}
