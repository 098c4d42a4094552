// The read side: inspect, list (with its filters) and the record's projections. No state changes here.
import { inspectMounts } from '../../core/mounts.js';
import path from 'node:path';
import { InvalidParameterError } from '../../errors.js';
import { statusText, type ContainerState } from '../../core/container-state.js';
import { parseFilters, matchLabels, type Filters } from '../../core/filters.js';
import { treeSizeSync } from '../../store/dir-size.js';
import type { Paths } from '../../store/paths.js';
import type { HealthMonitor } from '../health-monitor.js';
import type { ContainerStore } from './container-store.js';
import { inspectLinks } from './links.js';
import type { ContainerRecord, ImageProvider, NetInfo, NetworkProvider } from './types.js';

export interface ViewDeps {
  store: ContainerStore; paths: Paths; images: ImageProvider; health: HealthMonitor; networks?: NetworkProvider;
}

export function netInfo(rec: ContainerRecord): NetInfo {
  return {
    id: rec.Id, name: rec.Name.slice(1), running: rec.State.Running, networkMode: rec.HostConfig.NetworkMode ?? 'default',
    endpointsConfig: rec.NetworkingConfig?.EndpointsConfig ?? undefined,
    macAddress: (rec.Config as { MacAddress?: string }).MacAddress || undefined,
  };
}

export class ContainerViews {
  constructor(private readonly d: ViewDeps) {}

  /** moby GetContainerLayerSize: the upper dir, and that plus the image's layers. */
  private sizes(rec: ContainerRecord): { SizeRw: number; SizeRootFs: number } {
    const SizeRw = dirSize(path.join(this.d.paths.containerDir(rec.Id), 'upper'));
    return { SizeRw, SizeRootFs: SizeRw + (this.d.images.imageSize?.(rec.Image) ?? 0) };
  }

  inspect(ref: string, size = false): Record<string, unknown> {
    const rec = this.d.store.find(ref).rec;
    const dir = this.d.paths.containerDir(rec.Id);
    const out: Record<string, unknown> = {
      Id: rec.Id,
      Created: rec.Created,
      Path: rec.Path,
      Args: rec.Args,
      State: this.stateView(rec),
      Image: rec.Image,
      ResolvConfPath: rec.ResolvConfPath,
      HostnamePath: rec.HostnamePath,
      HostsPath: rec.HostsPath,
      LogPath: rec.LogPath,
      Name: rec.Name,
      RestartCount: rec.RestartCount,
      Driver: 'overlay2',
      Platform: 'linux',
      MountLabel: '',
      ProcessLabel: '',
      AppArmorProfile: '',
      ExecIDs: null,
      HostConfig: { ...rec.HostConfig, Links: inspectLinks(this.d.store, rec) },
      GraphDriver: {
        Name: 'overlay2',
        Data: { MergedDir: path.join(dir, 'merged'), UpperDir: path.join(dir, 'upper'), WorkDir: path.join(dir, 'work') },
      },
      Mounts: inspectMounts(rec.MountPoints),
      Config: rec.Config,
      NetworkSettings: this.d.networks ? this.d.networks.settings(netInfo(rec)) : this.networkSettings(rec),
    };
    if (size) {
      Object.assign(out, this.sizes(rec));
    }
    return out;
  }

  private stateView(rec: ContainerRecord): ContainerState {
    const h = this.d.health.health(rec.Id) ?? rec.State.Health;
    const { Health: _omit, ...rest } = rec.State;
    return h ? { ...rest, Health: h } : rest;
  }

  private networkSettings(rec: ContainerRecord): Record<string, unknown> {
    const mode = rec.HostConfig.NetworkMode === 'host' ? 'host' : 'none';
    return {
      Bridge: '', SandboxID: '', SandboxKey: '', HairpinMode: false, LinkLocalIPv6Address: '', LinkLocalIPv6PrefixLen: 0,
      Ports: {}, SecondaryIPAddresses: null, SecondaryIPv6Addresses: null, EndpointID: '', Gateway: '',
      GlobalIPv6Address: '', GlobalIPv6PrefixLen: 0, IPAddress: '', IPPrefixLen: 0, IPv6Gateway: '', MacAddress: '',
      Networks: {
        [mode]: {
          IPAMConfig: null, Links: null, Aliases: null, MacAddress: '', NetworkID: mode, EndpointID: '', Gateway: '',
          IPAddress: '', IPPrefixLen: 0, IPv6Gateway: '', GlobalIPv6Address: '', GlobalIPv6PrefixLen: 0, DriverOpts: null, DNSNames: null,
        },
      },
    };
  }

  list(opts: { all?: boolean; limit?: number; size?: boolean; filters?: string | null }): Record<string, unknown>[] {
    const f = parseFilters(opts.filters, ['id', 'name', 'label', 'status', 'ancestor', 'exited', 'before', 'since', 'health', 'network', 'volume', 'publish', 'expose', 'isolation', 'is-task']);
    for (const s of f.get('status') ?? []) {
      if (!['created', 'restarting', 'running', 'removing', 'paused', 'exited', 'dead'].includes(s)) {
        throw new InvalidParameterError(`invalid filter 'status=${s}'`);
      }
    }
    let recs = this.d.store.all().map((l) => l.rec).sort((a, b) => b.Created.localeCompare(a.Created));
    const all = opts.all || (opts.limit !== undefined && opts.limit > 0) || f.has('status') || f.has('exited');
    recs = this.applyBeforeSince(recs, f);
    recs = recs.filter((r) => (all || r.State.Running) && this.matches(r, f));
    if (opts.limit !== undefined && opts.limit > 0) recs = recs.slice(0, opts.limit);
    return recs.map((r) => this.summary(r, !!opts.size));
  }

  private applyBeforeSince(recs: ContainerRecord[], f: Filters): ContainerRecord[] {
    let out = recs;
    const before = f.get('before')?.[0];
    if (before) {
      const b = this.d.store.find(before).rec;
      out = out.filter((r) => r.Created < b.Created);
    }
    const since = f.get('since')?.[0];
    if (since) {
      const s = this.d.store.find(since).rec;
      out = out.filter((r) => r.Created > s.Created);
    }
    return out;
  }

  private matches(r: ContainerRecord, f: Filters): boolean {
    const any = (k: string, pred: (v: string) => boolean) => { const vs = f.get(k); return !vs || vs.length === 0 || vs.some(pred); };
    return any('id', (v) => r.Id.startsWith(v))
      && any('name', (v) => new RegExp(v).test(r.Name) || r.Name.slice(1) === v)
      && matchLabels(f.get('label'), r.Config.Labels)
      && any('status', (v) => r.State.Status === v)
      && any('exited', (v) => r.State.Status === 'exited' && r.State.ExitCode === Number(v))
      && any('ancestor', (v) => this.isAncestor(r, v))
      && any('health', (v) => this.d.health.statusOf(r.Id) === v);
  }

  private isAncestor(r: ContainerRecord, ref: string): boolean {
    if (r.Config.Image === ref) return true;
    try { return this.d.images.get(ref).id === r.Image; } catch { return false; }
  }

  private summary(r: ContainerRecord, size: boolean): Record<string, unknown> {
    const out: Record<string, unknown> = {
      Id: r.Id,
      Names: [r.Name],
      Image: r.Config.Image,
      ImageID: r.Image,
      Command: [r.Path, ...r.Args].map((a) => (/\s/.test(a) ? quoteArg(a) : a)).join(' '),
      Created: Math.floor(Date.parse(r.Created) / 1000),
      Ports: this.d.networks?.portSummary(r.Id) ?? [],
      Labels: r.Config.Labels ?? {},
      State: r.State.Status,
      Status: statusText(r.State) + (r.State.Status === 'running' ? this.d.health.statusSuffix(r.Id) : ''),
      HostConfig: { NetworkMode: r.HostConfig.NetworkMode },
      NetworkSettings: { Networks: ((this.d.networks ? this.d.networks.settings(netInfo(r)) : this.networkSettings(r)).Networks as Record<string, unknown>) },
      Mounts: inspectMounts(r.MountPoints),
    };
    if (size) {
      Object.assign(out, this.sizes(r));
    }
    return out;
  }
}

function quoteArg(a: string): string { return JSON.stringify(a); }

/** A container's upper dir size (moby's directory.Size). */
export function dirSize(dir: string): number { return treeSizeSync(dir); }
