// POST /containers/create: validate the request, merge the image's config, reserve the name, write the
// record and the container's directories. Nothing half-made survives a failure.
import crypto from 'node:crypto';
import fsp from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { ConflictError, InvalidParameterError, NotFoundError } from '../../errors.js';
import {
  mergeImageConfig, normalizePortKeys, processArgs, randomName, validateCreate, validateName,
  type CreateBody, type HostConfig,
} from '../../core/container-config.js';
import { createWarnings, imageVolumeWarnings, refuseUnsupportedFields } from '../../core/create-settings.js';
import { normalizePlatform, platformMatches, platformString, type PlatformWanted } from '../../core/manifest.js';
import { initialState } from '../../core/container-state.js';
import type { ContainerContext } from './context.js';
import { newLive } from './container-store.js';
import { mergeLogConfig, validateLogConfig, type LogConfigValue } from '../log-driver/drivers.js';
import type { ContainerRecord, NetInfo } from './types.js';
import { netInfo } from './views.js';
import { registerLinks } from './links.js';
import { checkRuntimeName } from '../../core/runtimes.js';

export function nameInUse(name: string, holder: string): ConflictError {
  return new ConflictError(`Conflict. The container name "/${name}" is already in use by container "${holder}". You have to remove (or rename) that container to be able to reuse that name.`);
}

/** The request's HostConfig with Docker's defaults filled in (network mode, restart policy, log config, swap). */
export function normalizeHostConfig(body: CreateBody, defaultLog: LogConfigValue, defaultRuntime = 'runc'): HostConfig {
  const hc: HostConfig = { ...(body.HostConfig ?? {}) };
  if (hc.PortBindings) hc.PortBindings = normalizePortKeys(hc.PortBindings);
  hc.NetworkMode = hc.NetworkMode || 'default';
  hc.Runtime = hc.Runtime || defaultRuntime;
  hc.RestartPolicy = hc.RestartPolicy ?? { Name: 'no', MaximumRetryCount: 0 };
  if (!hc.RestartPolicy.Name) hc.RestartPolicy.Name = 'no';
  const logConfig = mergeLogConfig(hc.LogConfig, defaultLog);
  validateLogConfig(logConfig);
  hc.LogConfig = logConfig;
  if (hc.Memory && !hc.MemorySwap) hc.MemorySwap = hc.Memory * 2;
  return hc;
}

function checkBody(body: CreateBody | undefined): asserts body is CreateBody {
  if (!body) throw new InvalidParameterError('invalid JSON: EOF');
  if (typeof body !== 'object' || Array.isArray(body)) throw new InvalidParameterError('invalid JSON: body must be an object');
  if (Object.keys(body).length === 0) throw new InvalidParameterError('config cannot be empty in order to create a container');
  if (!body.Image) throw new InvalidParameterError('No command specified');
}

/**
 * `?platform=`: as moby, the local image must be of that platform; the 404 makes the docker CLI pull
 * the wanted platform's image (unless --pull=never) and create again.
 */
function checkPlatform(ref: string, img: ReturnType<ContainerContext['d']['images']['get']>, want: PlatformWanted | undefined): void {
  if (!want) return;
  if (platformMatches(want, img.config)) return;
  const have = { os: img.config.os ?? '', architecture: img.config.architecture ?? '', ...(img.config.variant ? { variant: img.config.variant } : {}) };
  throw new NotFoundError(`image with reference ${ref} was found but its platform (${platformString(have)}) does not match the specified platform (${platformString(normalizePlatform(want))})`);
}

export async function createContainer(ctx: ContainerContext, name: string | undefined, body: CreateBody | undefined, defaultLog: LogConfigValue, platform?: PlatformWanted): Promise<{ Id: string; Warnings: string[] }> {
  checkBody(body);
  validateCreate(body, os.cpus().length);
  const runtimes = ctx.d.runtime.runtimeNames();
  checkRuntimeName(body.HostConfig?.Runtime, runtimes.names);
  refuseUnsupportedFields(body);
  const store = ctx.store;
  let cname: string;
  if (name) {
    cname = validateName(name);
  } else {
    do { cname = randomName(); } while (store.nameHolder(cname));
  }
  const img = ctx.d.images.get(body.Image!);
  checkPlatform(body.Image!, img, platform);
  const config = mergeImageConfig(body, img.config.config ?? {});
  config.Image = body.Image;
  const args = processArgs(config);
  const hc = normalizeHostConfig(body, defaultLog, runtimes.default);
  const existing = store.nameHolder(cname);
  if (existing) throw nameInUse(cname, existing);
  const id = crypto.randomBytes(32).toString('hex');
  const p = ctx.d.paths;
  const dir = p.containerDir(id);
  const rec: ContainerRecord = {
    Id: id, Created: new Date().toISOString(), Path: args[0]!, Args: args.slice(1), State: initialState(),
    Image: img.id, Name: `/${cname}`, RestartCount: 0, Config: config, HostConfig: hc,
    LogPath: p.containerLog(id), HostnamePath: path.join(dir, 'hostname'), HostsPath: path.join(dir, 'hosts'),
    ResolvConfPath: path.join(dir, 'resolv.conf'),
  };
  const ec = (body.NetworkingConfig as { EndpointsConfig?: NetInfo['endpointsConfig'] } | undefined)?.EndpointsConfig;
  if (ec) rec.NetworkingConfig = { EndpointsConfig: ec };
  const nm = hc.NetworkMode!;
  if (nm.startsWith('container:')) {
    const other = store.find(nm.slice('container:'.length)).rec;
    if (other.Id === id) throw new InvalidParameterError('cannot join own network namespace');
  }
  const links = registerLinks(store, nm, hc.Links);
  if (links) rec.Links = links;
  try {
    ctx.d.networks?.validateCreate(netInfo(rec));
  } catch (err) {
    // As dockerd: an unknown network fails the start, not the create (a 404 from create would make
    // clients think the image is missing and try to pull it).
    if (!(err instanceof NotFoundError)) throw err;
  }
  // Reserve the name before any await so two concurrent creates cannot both take it.
  store.reserveName(cname, id);
  try {
    if (ctx.d.mounts) rec.MountPoints = await ctx.d.mounts.atCreate(body, img.config.config?.Volumes, (ref) => store.find(ref).rec.MountPoints ?? []);
  } catch (err) {
    store.releaseName(cname);
    throw err;
  }
  try {
    await fsp.mkdir(dir, { recursive: true, mode: 0o710 });
    for (const sub of ['upper', 'work']) await fsp.mkdir(path.join(dir, sub), { mode: 0o755 });
    await fsp.mkdir(path.join(dir, 'merged'), { mode: 0o700 });
    await store.saveNew(rec);
  } catch (err) {
    store.releaseName(cname);
    await fsp.rm(dir, { recursive: true, force: true });
    await ctx.d.mounts?.undoCreate(rec.MountPoints ?? []);
    throw err;
  }
  store.add(newLive(rec));
  ctx.publish('create', rec);
  return { Id: id, Warnings: [...createWarnings(hc), ...(ctx.d.mounts ? [] : imageVolumeWarnings(img.config.config?.Volumes))] };
}
