// Legacy links (HostConfig.Links on the default bridge), as moby's link index: registered at create, checked
// and turned into env vars and hosts lines at start, shown in inspect as "/child:/parent/alias", removed with
// `DELETE /containers/{/parent/alias}?link=1`. On a user-defined network the CLI's endpoint Links are DNS
// aliases instead (network/dns-servers.ts) and HostConfig.Links registers nothing, as in moby.
import { InvalidParameterError, NotFoundError, SystemError } from '../../errors.js';
import { checkLinksNetworkMode, linkEnv, linkHostNames, parseLink, usesLegacyLinks } from '../../core/links.js';
import type { ContainerStore } from './container-store.js';
import type { ContainerRecord, LegacyLink, NetworkProvider } from './types.js';

/** moby registerLinks: each link's child must exist (400, not 404: a 404 makes clients pull) and not use the host's network. */
export function registerLinks(store: ContainerStore, networkMode: string, links: string[] | null | undefined): LegacyLink[] | undefined {
  checkLinksNetworkMode(networkMode, links);
  const parsed = (links ?? []).map(parseLink);
  if (!usesLegacyLinks(networkMode) || !parsed.length) return undefined;
  const out: LegacyLink[] = [];
  for (const { name, alias } of parsed) {
    let child = findForLink(store, name);
    while (child.HostConfig.NetworkMode?.startsWith('container:')) child = findForLink(store, child.HostConfig.NetworkMode.slice('container:'.length));
    if (child.HostConfig.NetworkMode === 'host') throw new InvalidParameterError("conflicting options: host type networking can't be used with links. This would result in undefined behavior");
    // moby reserves /parent/alias once: a second link under the same alias is ignored
    if (!out.some((l) => l.Alias === alias)) out.push({ Id: child.Id, Name: child.Name, Alias: alias });
  }
  return out;
}

function findForLink(store: ContainerStore, name: string): ContainerRecord {
  try {
    return store.find(name).rec;
  } catch (err) {
    if (err instanceof NotFoundError) throw new InvalidParameterError(`could not get container for ${name}: ${err.message}`, { cause: err });
    throw err;
  }
}

/** inspect's HostConfig.Links: "/child:/parent/alias" with today's names (moby rebuilds them from its link index). */
export function inspectLinks(store: ContainerStore, rec: ContainerRecord): string[] | null {
  if (!rec.Links?.length) return null;
  return rec.Links.map((l) => `${store.byFullId(l.Id)?.rec.Name ?? l.Name}:${rec.Name}/${l.Alias}`);
}

export interface LinkSetup { env: string[]; hosts: Array<{ containerId: string; names: string }> }

/** At start (moby setupLinkedContainers + addLegacyLinks): every child must run on the default bridge. */
export function linkSetup(store: ContainerStore, networks: NetworkProvider | undefined, rec: ContainerRecord): LinkSetup {
  const out: LinkSetup = { env: [], hosts: [] };
  if (!rec.Links?.length || !networks || !usesLegacyLinks(rec.HostConfig.NetworkMode ?? '') || rec.HostConfig.NetworkMode === 'none') return out;
  for (const l of rec.Links) {
    const child = store.byFullId(l.Id)?.rec;
    const linkName = `${rec.Name}/${l.Alias}`;
    if (!child?.State.Running) throw new SystemError(`Cannot link to a non running container: ${child?.Name ?? l.Name} AS ${linkName}`);
    const ip = networks.bridgeAddress(child.Id);
    if (!ip) throw new SystemError(`Cannot link to ${child.Name}, as it does not belong to the default network`);
    out.env.push(...linkEnv(linkName, ip, child.Config.Env, child.Config.ExposedPorts));
    out.hosts.push({ containerId: child.Id, names: linkHostNames(l.Alias, child.Config.Hostname || child.Id.slice(0, 12), child.Name) });
  }
  return out;
}

/** moby rmLink: `ref` is the link's full name, /parent/alias. The child keeps running; the parent forgets the link. */
export function unlink(store: ContainerStore, ref: string): { parent: ContainerRecord } {
  const name = ref.startsWith('/') ? ref : `/${ref}`;
  const cut = name.lastIndexOf('/');
  const parentName = name.slice(0, cut);
  const alias = name.slice(cut + 1);
  if (parentName === '') {
    store.find(ref); // an unknown name is a 404 first, as moby looks the container up before the link
    throw new SystemError('Conflict, cannot remove the default link name of the container');
  }
  let parent: ContainerRecord;
  try {
    parent = store.find(parentName).rec;
  } catch {
    throw new NotFoundError(`No such container: ${ref}`);
  }
  if (!parent.Links?.some((l) => l.Alias === alias)) throw new NotFoundError(`No such container: ${ref}`);
  parent.Links = parent.Links.filter((l) => l.Alias !== alias);
  if (!parent.Links.length) delete parent.Links;
  return { parent };
}
