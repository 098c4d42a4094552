import dns from 'node:dns/promises';
import fs from 'node:fs/promises';
import path from 'node:path';
import tls from 'node:tls';
import { INDEX_NAME, isSecureIndex, needsLookup, registryServiceConfig, type RegistryServiceConfig } from '../core/registry-config.js';
import { InvalidParameterError, NotFoundError } from '../errors.js';
import { endpointAnswered, isTransportFailure, type RegistryEndpoint, type RegistryTls } from './registry-client.js';

/**
 * Where a registry host's requests go, as dockerd's registry service decides (lookupV2Endpoints):
 * - docker.io: each `registry-mirrors` entry (pulls only), then https://registry-1.docker.io;
 * - a secure host: https only, verified against the system CAs plus the `*.crt` in its certs.d directory,
 *   with the `*.cert`/`*.key` pairs there as client certificates;
 * - an insecure host (`insecure-registries`, or an address in one of its CIDRs; loopback always): https
 *   without verification, then plain http.
 * certs.d: berth reads `<dir of daemon.json>/certs.d/<host[:port]>/` (default /etc/berth/certs.d) and,
 * when that host has no directory there, Docker's /etc/docker/certs.d/<host[:port]>/, so certificates
 * set up for dockerd keep working.
 */
export class RegistryHosts {
  readonly config: RegistryServiceConfig;

  constructor(config: RegistryServiceConfig | undefined, private readonly certsDirs: readonly string[],
    private readonly lookup: (host: string) => Promise<string[]> = lookupAll) {
    this.config = config ?? registryServiceConfig({}).config;
  }

  /** Pull (and tag listing) endpoints: mirrors first for docker.io. */
  pullEndpoints(domain: string): Promise<RegistryEndpoint[]> { return this.endpoints(domain, true); }

  /** Push and login endpoints: never a mirror. */
  pushEndpoints(domain: string): Promise<RegistryEndpoint[]> { return this.endpoints(domain, false); }

  private async endpoints(domain: string, mirrors: boolean): Promise<RegistryEndpoint[]> {
    if (domain === INDEX_NAME || domain === 'index.docker.io') {
      const out: RegistryEndpoint[] = [];
      if (mirrors) {
        for (const m of this.config.Mirrors) {
          const u = new URL(m);
          const tlsOpts = u.protocol === 'https:' ? await this.tlsFor(u.host) : undefined;
          out.push({ domain: INDEX_NAME, base: m.replace(/\/+$/, ''), mirror: true, ...(tlsOpts ? { tls: tlsOpts } : {}) });
        }
      }
      out.push({ domain: INDEX_NAME, base: 'https://registry-1.docker.io' });
      return out;
    }
    const t = await this.tlsFor(domain);
    const out: RegistryEndpoint[] = [{ domain, base: `https://${domain}`, tls: t }];
    if (!t.rejectUnauthorized) out.push({ domain, base: `http://${domain}` });
    return out;
  }

  async isSecure(host: string): Promise<boolean> {
    const name = needsLookup(this.config, host);
    const addrs = name ? await this.lookup(name).catch(() => [] as string[]) : [];
    return isSecureIndex(this.config, host, addrs);
  }

  /** newTLSConfig: verification off for an insecure host; for a secure one, its certs.d directory. */
  private async tlsFor(host: string): Promise<RegistryTls> {
    if (!(await this.isSecure(host))) return { rejectUnauthorized: false };
    for (const base of this.certsDirs) {
      const dir = path.join(base, host.replace(/\.\.+/g, '.').replace(/\//g, ''));
      const loaded = await readCertsDir(dir);
      if (loaded) return loaded;
    }
    return { rejectUnauthorized: true };
  }
}

/** moby's loadTLSConfig over one directory; undefined when it does not exist. */
export async function readCertsDir(dir: string): Promise<RegistryTls | undefined> {
  let names: string[];
  try { names = (await fs.readdir(dir)).sort(); } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new InvalidParameterError(`${dir}: ${(err as Error).message}`);
  }
  const out: RegistryTls = { rejectUnauthorized: true };
  const cas: string[] = [];
  for (const n of names) {
    const ext = path.extname(n);
    if (ext === '.crt') cas.push(await fs.readFile(path.join(dir, n), 'utf8'));
    else if (ext === '.cert') {
      const key = `${n.slice(0, -5)}.key`;
      if (!names.includes(key)) throw new InvalidParameterError(`missing key ${key} for client certificate ${n}. CA certificates must use the extension .crt`);
      // Go's tls.Config takes several pairs and picks one per server; Node takes one pair: the first wins.
      if (out.cert === undefined) {
        out.cert = await fs.readFile(path.join(dir, n), 'utf8');
        out.key = await fs.readFile(path.join(dir, key), 'utf8');
      }
    } else if (ext === '.key') {
      const cert = `${n.slice(0, -4)}.cert`;
      if (!names.includes(cert)) throw new InvalidParameterError(`missing client certificate ${cert} for key ${n}`);
    }
  }
  if (cas.length) out.ca = [...tls.rootCertificates, ...cas];
  return out;
}

async function lookupAll(host: string): Promise<string[]> {
  return (await dns.lookup(host, { all: true })).map((a) => a.address);
}

/**
 * dockerd's endpoint loop (pullEndpoints): each endpoint in turn; a mirror that fails for any reason,
 * or an endpoint that could not be reached (connection, TLS), hands over to the next; a plain-http
 * endpoint is skipped once https answered on that host. A cancelled operation stops. The last error
 * is the one reported.
 */
export async function tryEndpoints<T>(endpoints: readonly RegistryEndpoint[], fn: (e: RegistryEndpoint) => Promise<T>, signal?: AbortSignal): Promise<T> {
  let last: unknown;
  const tlsConfirmed = new Set<string>();
  for (const e of endpoints) {
    const host = new URL(e.base).host;
    if (e.base.startsWith('http:') && tlsConfirmed.has(host)) continue;
    try {
      return await fn(e);
    } catch (err) {
      if (signal?.aborted) throw err;
      // An endpoint that answered before failing was reached: its failure is the operation's, not the transport's.
      const transport = isTransportFailure(err) && !endpointAnswered(e);
      if (!transport && e.base.startsWith('https:')) tlsConfirmed.add(host);
      if (!transport && !e.mirror) throw err;
      last = err;
    }
  }
  throw last ?? new NotFoundError('no endpoints found');
}
