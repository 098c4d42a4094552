/**
 * Legacy container links (`--link name:alias`, HostConfig.Links) as moby does them on the default bridge:
 * the link string grammar, the ALIAS_* environment and the parent's hosts entry. Pure.
 */
import { InvalidParameterError } from '../errors.js';

/** moby opts.ParseLink: `name`, `name:alias`, or the stored form `/name:/parent/alias`. */
export function parseLink(val: string): { name: string; alias: string } {
  if (val === '') throw new InvalidParameterError('empty string specified for links');
  const arr = val.split(':');
  if (arr.length > 2) throw new InvalidParameterError(`bad format for links: ${val}`);
  if (arr.length === 1) return { name: val, alias: val };
  if (arr[0]!.startsWith('/')) return { name: arr[0]!.slice(1), alias: arr[1]!.split('/').pop()! };
  return { name: arr[0]!, alias: arr[1]! };
}

/** moby's link-name checks on a create's HostConfig (runconfig validateNetMode). */
export function checkLinksNetworkMode(networkMode: string, links: string[] | null | undefined): void {
  if (!links?.length) return;
  if (networkMode === 'host') throw new InvalidParameterError("conflicting options: host type networking can't be used with links. This would result in undefined behavior");
  if (networkMode.startsWith('container:')) throw new InvalidParameterError("conflicting options: container type network can't be used with links. This would result in undefined behavior");
}

/** NetworkMode values whose containers use legacy links (moby: !IsUserDefined()). */
export function usesLegacyLinks(networkMode: string): boolean {
  return networkMode === '' || networkMode === 'default' || networkMode === 'bridge' || networkMode === 'none';
}

interface Port { num: number; proto: string }

function parsePorts(exposed: Record<string, unknown> | null | undefined): Port[] {
  const out: Port[] = [];
  for (const k of Object.keys(exposed ?? {})) {
    const [n, proto = 'tcp'] = k.toLowerCase().split('/');
    const num = Number(n);
    if (Number.isInteger(num)) out.push({ num, proto: proto! });
  }
  // moby withTCPPriority: tcp first, then by protocol name; by number within a protocol
  return out.sort((a, b) => a.proto === b.proto ? a.num - b.num : a.proto === 'tcp' ? -1 : b.proto === 'tcp' ? 1 : a.proto < b.proto ? -1 : 1);
}

/**
 * The environment a link gives its parent (moby links.ToEnv, Docker 28): `ALIAS_PORT`, per port
 * `ALIAS_PORT_<n>_<PROTO>{,_ADDR,_PORT,_PROTO}`, `_START`/`_END` for runs of consecutive ports,
 * `ALIAS_NAME=/parent/alias` and `ALIAS_ENV_<k>` for the child's Env except HOME and PATH.
 * `linkName` is the full link name, `/parent/alias`.
 */
export function linkEnv(linkName: string, childIp: string, childEnv: string[] | null | undefined, exposedPorts: Record<string, unknown> | null | undefined): string[] {
  const alias = linkName.split('/').pop()!.toUpperCase().replaceAll('-', '_');
  const ports = parsePorts(exposedPorts);
  const env: string[] = [];
  let start: Port | undefined;
  let end: Port | undefined;
  ports.forEach((p, i) => {
    if (i === 0) {
      start = end = p;
      env.push(`${alias}_PORT=${p.proto}://${childIp}:${p.num}`);
    }
    const prefix = `${alias}_PORT_${p.num}_${p.proto.toUpperCase()}`;
    env.push(`${prefix}=${p.proto}://${childIp}:${p.num}`, `${prefix}_ADDR=${childIp}`, `${prefix}_PORT=${p.num}`, `${prefix}_PROTO=${p.proto}`);
    if (p.num === end!.num + 1 && p.proto === end!.proto) {
      end = p;
      if (i < ports.length - 1) return;
    }
    if (end !== start) {
      const rp = `${alias}_PORT_${start!.num}_${start!.proto.toUpperCase()}`;
      env.push(`${rp}_START=${start!.proto}://${childIp}:${start!.num}`, `${rp}_PORT_START=${start!.num}`,
        `${rp}_END=${end!.proto}://${childIp}:${end!.num}`, `${rp}_PORT_END=${end!.num}`);
    }
    start = end = p;
  });
  env.push(`${alias}_NAME=${linkName}`);
  for (const v of childEnv ?? []) {
    const i = v.indexOf('=');
    if (i < 0) continue;
    const name = v.slice(0, i);
    if (name === 'HOME' || name === 'PATH') continue;
    env.push(`${alias}_ENV_${name}=${v.slice(i + 1)}`);
  }
  return env;
}

/** The names of a link's hosts line (moby addLegacyLinks): alias, the child's hostname, and its name unless it is the alias. */
export function linkHostNames(alias: string, childHostname: string, childName: string): string {
  const name = childName.replace(/^\//, '');
  return alias === name ? `${alias} ${childHostname}` : `${alias} ${childHostname} ${name}`;
}
