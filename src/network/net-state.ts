import { randomBytes } from 'node:crypto';
import { InvalidParameterError, NotFoundError } from '../errors.js';
import { parseCidr, type Cidr } from './ip.js';
import { parseCidr6, type Cidr6 } from './ip6.js';
import { v4Config, v6Config, type AttachmentRecord, type NetworkRecord } from './network-store.js';

export const newId = (): string => randomBytes(32).toString('hex');
export const short = (id: string): string => id.slice(0, 12);

/**
 * The in-memory state every networking room shares: network records, container attachments, and the two
 * orderings of docs/conventions.md: `serial()` for changes of shared state, `perContainer()` for the order of
 * one container's operations (their slow host work runs outside `serial()`).
 */
export class NetState {
  readonly networks = new Map<string, NetworkRecord>();
  readonly attachments = new Map<string, AttachmentRecord>();
  private lock: Promise<unknown> = Promise.resolve();
  private readonly chains = new Map<string, Promise<unknown>>();

  serial<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.lock.then(fn, fn);
    this.lock = run.catch(() => undefined);
    return run;
  }

  /** Runs `fn` after every earlier perContainer call for the same container has settled. */
  perContainer<T>(id: string, fn: () => Promise<T>): Promise<T> {
    const run = (this.chains.get(id) ?? Promise.resolve()).then(fn, fn);
    const tail = run.then(() => undefined, () => undefined);
    this.chains.set(id, tail);
    void tail.then(() => { if (this.chains.get(id) === tail) this.chains.delete(id); });
    return run;
  }

  /** Settles when every container's queued operations have. */
  async drain(): Promise<void> { await Promise.all([...this.chains.values()]); }

  /** Docker's lookup order: full id, exact name, id prefix (ambiguous prefixes are an error). */
  resolve(ref: string): NetworkRecord {
    const all = [...this.networks.values()];
    const exact = all.find((n) => n.Id === ref) ?? all.find((n) => n.Name === ref);
    if (exact) return exact;
    const pref = ref ? all.filter((n) => n.Id.startsWith(ref)) : [];
    if (pref.length === 1) return pref[0]!;
    if (pref.length > 1) throw new InvalidParameterError(`network ${ref} is ambiguous (${pref.length} matches found based on ID prefix)`);
    throw new NotFoundError(`network ${ref} not found`);
  }

  /** Containers with an endpoint on the network, or one being set up (a network must not go under a start). */
  activeEndpoints(networkId: string): AttachmentRecord[] {
    return [...this.attachments.values()].filter((a) => a.sandbox && (a.sandbox.endpoints[networkId]
      || (a.sandbox.phase === 'setting-up' && a.networks.some((w) => w.networkId === networkId))));
  }

  bridgeNetworks(): NetworkRecord[] { return [...this.networks.values()].filter((n) => n.Driver === 'bridge'); }

  bridgeSubnets(): Cidr[] { return this.bridgeNetworks().map((n) => parseCidr(v4Config(n).Subnet)!); }

  bridgeSubnets6(): Cidr6[] {
    return this.bridgeNetworks().map((n) => v6Config(n)).filter((c) => c !== undefined).map((c) => parseCidr6(c.Subnet)!);
  }

  /** The predefined `bridge` network, when there is one. */
  defaultBridge(): NetworkRecord | undefined { return [...this.networks.values()].find((n) => n.predefined && n.Driver === 'bridge'); }

  defaultGateway(): string | undefined { const d = this.defaultBridge(); return d ? v4Config(d).Gateway : undefined; }
}
