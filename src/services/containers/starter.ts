// Starting a container: gather the facts (rootfs mounted, user resolved, network begun, devices),
// compute the start plan (start-plan.ts, pure), apply it through conmon + runc, record "running".
// A failed start leaves nothing behind: no mount, no network, no runc container.
import fsp from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { ConflictError, InvalidParameterError, NotModifiedError, SystemError, errorMessage } from '../../errors.js';
import { assertAllowed, ZERO_TIME } from '../../core/container-state.js';
import { secureMkdirAll } from '../../store/rootfs-files.js';
import { effectiveDns } from '../../core/create-settings.js';
import { trace, type Trace } from '../../core/trace.js';
import { startFailureOf } from '../../runtime/start-failure.js';
import type { ContainerContext } from './context.js';
import type { Live } from './container-store.js';
import { writeEtcFiles } from './etc-files.js';
import { allHostDevices, hostDevices } from './run-options.js';
import { planHostname, planStart, type StartFacts } from './start-plan.js';
import type { ContainerRecord, SpecBuilderInput } from './types.js';
import { netInfo } from './views.js';
import { linkSetup, type LinkSetup } from './links.js';

/** Docker's exit code for a start failure (moby translateContainerdStartErr): 127 not found, 126 cannot run. */
export function startFailureExitCode(err: unknown): number {
  const kind = startFailureOf(err);
  return kind === 'not-found' ? 127 : kind === 'not-executable' ? 126 : 128;
}

type NetDone = Promise<{ hosts: string; resolvConf: string }>;

export class Starter {
  constructor(private readonly ctx: ContainerContext) {}

  /** A user's start (POST /containers/{id}/start). */
  async start(ref: string): Promise<void> {
    const ctx = this.ctx;
    const live = ctx.store.find(ref);
    try {
      await ctx.store.locked(live, async () => {
        assertAllowed('start', live.rec.State, { id: live.rec.Id, name: live.rec.Name });
        // A user's start resets the restart bookkeeping (moby containerStart(resetRestartManager=true)).
        this.resetRestarts(live);
        await this.startLocked(live);
      });
    } catch (err) {
      // As dockerd: an auto-remove container whose start failed is removed (clients wait on "removed").
      if (live.rec.HostConfig.AutoRemove && !(err instanceof NotModifiedError) && !live.rec.State.Running) {
        await ctx.ops.remove(live.rec.Id, { force: true }).catch(() => undefined);
      }
      throw err;
    }
  }

  resetRestarts(live: Live): void {
    this.ctx.restarts.reset(live.rec.Id);
    live.rec.RestartCount = 0;
    live.rec.HasBeenManuallyStopped = false;
    live.exitOnNext = false;
  }

  async startLocked(live: Live): Promise<void> {
    const rec = live.rec;
    assertAllowed('start', rec.State, { id: rec.Id, name: rec.Name });
    const tr = trace(`start ${rec.Id.slice(0, 12)}`);
    // Before anything is made: a link to a stopped container fails the start with moby's words, unwrapped.
    const links = linkSetup(this.ctx.store, this.ctx.d.networks, rec);
    try {
      await this.run(live, tr, links);
    } catch (err) {
      await this.failed(live, err);
    }
  }

  private async run(live: Live, tr: Trace, links: LinkSetup): Promise<void> {
    const { d } = this.ctx;
    const rec = live.rec;
    const id = rec.Id;
    const rootfs = d.paths.containerRootfs(id);
    await this.mount(live, rootfs);
    tr.mark('mount');
    const user = await d.resolveUser(rootfs, rec.Config.User || undefined);
    const cwd = rec.Config.WorkingDir || '/';
    if (cwd !== '/') secureMkdirAll(rootfs, cwd, user.uid, user.gid);
    const { network, netDone, hostname } = await this.beginNetwork(rec, links);
    tr.mark('net');
    const plan = planStart(rec, {
      rootfs, user, hostname, network, defaultUlimits: this.ctx.daemonDefaults.ulimits, linkEnv: links.env, ...this.namespacesAndDevices(rec),
    });
    plan.spec.mounts = [...(plan.spec.mounts ?? []), ...(await d.mounts?.atStart(id, rec.MountPoints, rootfs) ?? [])];
    const spec = d.buildSpec(plan.spec);
    tr.mark('spec');
    // A log from an earlier run stays; conmon appends, as Docker's json-file does across restarts.
    let pid: number;
    try {
      ({ pid } = await d.runtime.create({ id, name: rec.Name.slice(1), spec, ...plan.create, runtime: rec.HostConfig.Runtime || undefined }));
    } catch (err) {
      // A failed network setup removes the netns while runc is joining it: its "lstat .../netns/<id>" would hide
      // the cause (a taken --ip/--ip6 is "Address already in use").
      const netErr = netDone ? await netDone.then(() => undefined, (e: unknown) => e) : undefined;
      throw netErr ?? err;
    }
    tr.mark('create');
    if (netDone) {
      await this.finishNetwork(rec, netDone);
      tr.mark('net-done');
    }
    await this.connectPendingAttaches(live);
    const startedAt = new Date().toISOString();
    try {
      await d.runtime.start(id);
    } catch (err) {
      await d.runtime.delete(id, { force: true }).catch(() => undefined);
      throw err;
    }
    this.ctx.setState(live, 'started', { OOMKilled: false, Pid: pid, ExitCode: 0, Error: '', StartedAt: startedAt, FinishedAt: ZERO_TIME });
    tr.mark('start');
    await this.ctx.store.save(live);
    tr.mark('save');
    tr.end();
    this.ctx.publish('start', rec);
    this.ctx.startHealth(live);
    // The process may have exited before we recorded "running": its exit event was ignored then.
    if (d.runtime.readExit(id)) this.ctx.ops.onExit(id);
  }

  private async mount(live: Live, rootfs: string): Promise<void> {
    if (live.mounted) return;
    const { d } = this.ctx;
    const dir = d.paths.containerDir(live.rec.Id);
    await d.sys.mountAsync(d.images.rootfsMount(live.rec.Image, path.join(dir, 'upper'), path.join(dir, 'work'), rootfs));
    live.mounted = true;
  }

  /** The netns for the spec and the etc files; `netDone` settles once interfaces, rules and DNS are up. */
  private async beginNetwork(rec: ContainerRecord, links: LinkSetup): Promise<{ network: SpecBuilderInput['network']; netDone?: NetDone; hostname: string }> {
    const { d } = this.ctx;
    const hostMode = rec.HostConfig.NetworkMode === 'host';
    const joined = this.netContainer(rec);
    const hostname = planHostname(rec, { hostHostname: os.hostname(), joined });
    if (!rec.Config.Hostname) rec.Config.Hostname = hostname;
    if (joined) {
      const ns = d.networks?.netnsPathOf(joined.Id) ?? (joined.State.Pid ? `/proc/${joined.State.Pid}/ns/net` : undefined);
      await fsp.copyFile(joined.HostsPath, rec.HostsPath);
      await fsp.copyFile(joined.ResolvConfPath, rec.ResolvConfPath);
      await fsp.writeFile(rec.HostnamePath, `${hostname}\n`);
      return { network: ns ? { mode: 'path', netnsPath: ns } : { mode: 'none' }, hostname };
    }
    if (!d.networks) {
      await writeEtcFiles(rec, hostname, hostMode);
      return { network: { mode: hostMode ? 'host' : 'none' }, hostname };
    }
    const hc = rec.HostConfig;
    const net = await d.networks.begin({
      ...netInfo(rec), hostname, domainname: rec.Config.Domainname || undefined,
      portBindings: hc.PortBindings ?? undefined, publishAllPorts: !!hc.PublishAllPorts,
      exposedPorts: rec.Config.ExposedPorts ?? undefined,
      ...effectiveDns({ dns: hc.Dns as string[], dnsSearch: hc.DnsSearch as string[], dnsOptions: hc.DnsOptions as string[] }, this.ctx.daemonDefaults.dns),
      extraHosts: (hc.ExtraHosts as string[] | undefined) ?? undefined, hostsPath: rec.HostsPath,
      resolvConfPath: rec.ResolvConfPath, links: links.hosts,
    });
    // The interfaces are made while runc creates the container; start waits for them (finishNetwork).
    net.done.catch(() => undefined);
    await fsp.writeFile(rec.HostnamePath, `${hostname}\n`);
    // runc bind-mounts these by inode at create: they must exist now; their content comes in place later.
    for (const f of [rec.HostsPath, rec.ResolvConfPath]) await (await fsp.open(f, 'a')).close();
    return { network: net.network, netDone: net.done, hostname };
  }

  private async finishNetwork(rec: ContainerRecord, netDone: NetDone): Promise<void> {
    try {
      const net = await netDone;
      // In place (same inodes): the container already has them bind-mounted.
      await fsp.writeFile(rec.HostsPath, net.hosts);
      await fsp.writeFile(rec.ResolvConfPath, net.resolvConf);
    } catch (err) {
      await this.ctx.d.runtime.delete(rec.Id, { force: true }).catch(() => undefined);
      throw err;
    }
  }

  /** The host's device nodes (--device, --privileged) and the pid/ipc namespaces to join. */
  private namespacesAndDevices(rec: ContainerRecord): Pick<StartFacts, 'devices' | 'pidNamespace' | 'ipcNamespace'> {
    const hc = rec.HostConfig;
    const devices = hostDevices(hc);
    if (hc.Privileged) devices.devices.push(...allHostDevices().filter((x) => !devices.devices.some((y) => y.path === x.path)));
    return {
      devices,
      pidNamespace: this.sharedNamespace(hc.PidMode as string | undefined, 'pid'),
      ipcNamespace: this.sharedNamespace(hc.IpcMode as string | undefined, 'ipc'),
    };
  }

  /** For `container:<ref>` network mode: the other container, which must be running. */
  private netContainer(rec: ContainerRecord): ContainerRecord | undefined {
    const mode = rec.HostConfig.NetworkMode ?? '';
    if (!mode.startsWith('container:')) return undefined;
    const other = this.ctx.store.find(mode.slice('container:'.length)).rec;
    if (!other.State.Running) throw new ConflictError(`cannot join network of a non running container: ${other.Id}`);
    return other;
  }

  /** --pid / --ipc: host, container:<ref> (join its namespace) or private. */
  private sharedNamespace(mode: string | undefined, kind: 'pid' | 'ipc'): 'host' | { path: string } | undefined {
    if (!mode || mode === 'private' || mode === 'shareable' || mode === 'none') return undefined;
    if (mode === 'host') return 'host';
    if (mode.startsWith('container:')) {
      const other = this.ctx.store.find(mode.slice('container:'.length)).rec;
      if (!other.State.Running || !other.State.Pid) throw new ConflictError(`cannot join ${kind.toUpperCase()} of a non running container: ${other.Id}`);
      return { path: `/proc/${other.State.Pid}/ns/${kind}` };
    }
    throw new InvalidParameterError(`invalid ${kind.toUpperCase()} mode: ${mode}`);
  }

  /** Attaches registered before start are connected between runc create and runc start: no output is lost. */
  private async connectPendingAttaches(live: Live): Promise<void> {
    for (const cb of live.pendingAttach.splice(0)) {
      try {
        cb(await this.ctx.d.runtime.attach(live.rec.Id));
      } catch {
        cb(undefined);
      }
    }
  }

  /** Undo what the start did, record the exit code Docker gives a start failure, and answer with its error. */
  private async failed(live: Live, err: unknown): Promise<never> {
    const { d } = this.ctx;
    const rec = live.rec;
    const message = errorMessage(err);
    for (const cb of live.pendingAttach.splice(0)) cb(undefined);
    await d.networks?.teardown(rec.Id).catch(() => undefined);
    await this.ctx.unmountQuiet(rec.Id);
    live.mounted = false;
    this.ctx.setState(live, 'start-failed', { ExitCode: startFailureExitCode(err), Error: message });
    await this.ctx.store.save(live).catch(() => undefined);
    this.ctx.publish('die', rec, { exitCode: String(rec.State.ExitCode) });
    const wrapped = `failed to create task for container: OCI runtime create failed: ${message}: unknown`;
    throw (rec.State.ExitCode === 127 || rec.State.ExitCode === 126)
      ? new InvalidParameterError(wrapped, { cause: err })
      : new SystemError(wrapped, { cause: err });
  }
}
