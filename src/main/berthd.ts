import zlib from 'node:zlib';
import { runcAdvisories } from '../runtime/runc-advisories.js';
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { buildApp, listen, BERTH_VERSION } from '../api/server.js';
import { tlsServerOptions } from '../api/tls-listener.js';
import { containerRoutes } from '../api/routes/containers.js';
import { imageRoutes } from '../api/routes/images.js';
import { imageArchiveRoutes } from '../api/routes/image-archive.js';
import { ImageArchiveService } from '../services/image-archive.js';
import { systemRoutes } from '../api/routes/system.js';
import { authRoutes } from '../api/routes/auth.js';
import { execRoutes } from '../api/routes/exec.js';
import { networkRoutes } from '../api/routes/networks.js';
import { swarmRoutes } from '../api/routes/swarm.js';
import { commitRoutes } from '../api/routes/commit.js';
import { archiveRoutes } from '../api/routes/archive.js';
import { buildRoutes } from '../api/routes/build.js';
import { BuildService } from '../services/build-service.js';
import { CommitService } from '../services/commit-service.js';
import { ArchiveService } from '../services/archive-service.js';
import { volumeRoutes } from '../api/routes/volumes.js';
import { VolumeService } from '../services/volumes/volume-service.js';
import { ContainerMounts } from '../services/volumes/container-mounts.js';
import { ExecCniRunner } from '../network/cni.js';
import { NetworkService } from '../network/network-service.js';
import { statsRoutes } from '../api/routes/container-stats.js';
import { ConmonExec, execProcessSpec } from '../runtime/conmon-exec.js';
import { ExecService } from '../services/exec-service.js';
import { StatsService } from '../services/stats-service.js';
import { execProbeRunner } from '../services/health-probe.js';
import { loadConfig, tcpHostCheck, type DaemonConfig } from '../config/daemon-config.js';
import { buildSpec, type SpecInput } from '../core/oci-spec.js';
import { findOnPath, readHostInfo, unifiedCgroupHierarchy } from '../sys/host-info.js';
import { selectRuntimes } from '../core/runtimes.js';
import { OciRuntimes } from '../runtime/oci-runtimes.js';
import { loadDefaultSeccompProfile } from '../store/seccomp-default.js';
import { resolveUser } from '../store/rootfs-files.js';
import { errorMessage } from '../errors.js';
import { ConmonRuntime } from '../runtime/conmon-runtime.js';
import { ContainerService, netInfo, validateLogConfig } from '../services/container-service.js';
import { posixRunner } from '../sys/process-runner.js';
import { EventBus } from '../services/events.js';
import { ImageService } from '../services/image-service.js';
import { DistributionService } from '../distribution/distribution-service.js';
import { RegistryHosts } from '../distribution/registry-hosts.js';
import { SystemService } from '../services/system-service.js';
import { DiskUsageService } from '../services/disk-usage.js';
import { Paths } from '../store/paths.js';
import { LinuxSys } from '../sys/linux-sys.js';
import { MemoryTrimmer } from '../services/memory-trimmer.js';

const USAGE = `Usage:	berthd [OPTIONS]

A self-sufficient runtime for containers, compatible with the Docker Engine API v1.45.

Options:
      --add-runtime runtime  Register an additional OCI compatible runtime (name=path)
      --config-file string   Daemon configuration file (default "/etc/berth/daemon.json")
      --data-root string     Root directory of persistent berth state (default "/var/lib/berth")
  -b, --bridge string        Attach containers to a network bridge (default "berth0"; "none" disables it)
      --bip string           Network bridge IP (default "172.30.0.1/16")
  -D, --debug                Enable debug mode
      --default-runtime string   Default OCI runtime for containers (default "runc"; "crun" on cgroup v2 when installed)
  -G, --group string         Group for the unix socket (default "docker"; root's group when it does not exist)
      --exec-root string     Root directory for execution state files (default "/run/berth")
  -H, --host list            Daemon socket(s) to connect to (default unix:///run/berth/berth.sock)
  -l, --log-level string     Set the logging level ("debug"|"info"|"warn"|"error"|"fatal") (default "info")
  -p, --pidfile string       Path to use for daemon PID file (default "/run/berth/berthd.pid")
      --tls                  Use TLS on tcp:// hosts; implied by --tlsverify
      --tlscacert string     Trust certs signed only by this CA (client certificates, with --tlsverify)
      --tlscert string       Path to TLS certificate file
      --tlskey string        Path to TLS key file
      --tlsverify            Use TLS and verify the remote (clients need a certificate signed by --tlscacert)
      --unsafe-tcp           Listen on a non-loopback tcp:// address without TLS anyway (refused otherwise)
  -v, --version              Print version information and quit
`;

function log(cfg: Pick<DaemonConfig, 'logLevel'>, level: 'debug' | 'info' | 'warn' | 'error', msg: string): void {
  const order = ['debug', 'info', 'warn', 'error', 'fatal'];
  if (order.indexOf(level) < order.indexOf(cfg.logLevel)) return;
  process.stderr.write(`time="${new Date().toISOString()}" level=${level} msg=${JSON.stringify(msg)}\n`);
}

function pidAlive(pid: number): boolean {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    return !/^\d+ \(.*\) Z /.test(stat);
  } catch { return false; }
}

async function writePidfile(file: string): Promise<void> {
  try {
    const old = Number(fs.readFileSync(file, 'utf8').trim());
    if (old && old !== process.pid && pidAlive(old)) {
      throw new Error(`pid file found, ensure berthd is not running or delete ${file}`);
    }
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  await fsp.mkdir(path.dirname(file), { recursive: true });
  await fsp.writeFile(file, `${process.pid}`);
}

export async function main(argv: string[]): Promise<void> {
  let values: Record<string, string | boolean | string[] | undefined>;
  try {
    ({ values } = parseArgs({
      args: argv,
      options: {
        host: { type: 'string', short: 'H', multiple: true },
        'data-root': { type: 'string' },
        'exec-root': { type: 'string' },
        pidfile: { type: 'string', short: 'p' },
        'config-file': { type: 'string' },
        'log-level': { type: 'string', short: 'l' },
        debug: { type: 'boolean', short: 'D' },
        bridge: { type: 'string', short: 'b' },
        bip: { type: 'string' },
        group: { type: 'string', short: 'G' },
        'unsafe-tcp': { type: 'boolean' },
        tls: { type: 'boolean' },
        tlsverify: { type: 'boolean' },
        tlscacert: { type: 'string' },
        tlscert: { type: 'string' },
        tlskey: { type: 'string' },
        'add-runtime': { type: 'string', multiple: true },
        'default-runtime': { type: 'string' },
        version: { type: 'boolean', short: 'v' },
        help: { type: 'boolean', short: 'h' },
      },
      strict: true,
      allowPositionals: false,
    }));
  } catch (err) {
    process.stderr.write(`${errorMessage(err)}\nSee 'berthd --help'.\n`);
    process.exit(125);
  }
  if (values.help) { process.stdout.write(USAGE); return; }
  if (values.version) { process.stdout.write(`berthd version ${BERTH_VERSION}\n`); return; }
  let cfg: DaemonConfig;
  try {
    cfg = loadConfig(values as never);
  } catch (err) {
    process.stderr.write(`berthd: ${errorMessage(err)}\n`);
    process.exit(1);
  }
  try {
    await run(cfg);
  } catch (err) {
    log(cfg, 'error', `failed to start daemon: ${errorMessage(err)}`);
    process.exit(1);
  }
}

/**
 * The unix socket's group (dockerd -G): members may use the API without root. A missing default group
 * ("docker") is only a warning, as dockerd's; the socket then stays root's.
 */
function socketGid(cfg: DaemonConfig): number | undefined {
  const name = cfg.group ?? 'docker';
  if (/^\d+$/.test(name)) return Number(name);
  let groups = '';
  try { groups = fs.readFileSync('/etc/group', 'utf8'); } catch { /* none */ }
  const line = groups.split('\n').find((l) => l.split(':')[0] === name);
  const gid = line ? Number(line.split(':')[2]) : NaN;
  if (Number.isInteger(gid)) return gid;
  log(cfg, 'warn', `could not change group of the API socket to ${name}: group ${name} not found`);
  return undefined;
}

async function run(cfg: DaemonConfig): Promise<void> {
  if (process.getuid && process.getuid() !== 0) throw new Error('berthd needs to be started with root privileges');
  for (const w of cfg.warnings) log(cfg, 'warn', w);
  for (const h of cfg.hosts) {
    const tcp = tcpHostCheck(h, !!cfg.unsafeTcp, cfg.tlsVerify);
    if (tcp.refuse) throw new Error(tcp.refuse);
    if (tcp.warn) log(cfg, 'warn', tcp.warn);
  }
  // unreadable certificates stop berthd before it touches any state
  if (cfg.tls) tlsServerOptions({ verify: cfg.tlsVerify, caFile: cfg.tlsCaCert, certFile: cfg.tlsCert!, keyFile: cfg.tlsKey! });
  const RUNC = '/usr/sbin/runc';
  // before any state is touched: a default-runtime that does not exist stops berthd here
  const selection = selectRuntimes(cfg.runtimes, cfg.defaultRuntime, { runcPath: 'runc', crunPath: findOnPath('crun'), unifiedCgroup: unifiedCgroupHierarchy() });
  log(cfg, 'info', `default OCI runtime ${selection.defaultRuntime} (${selection.reason}); runtimes: ${Object.keys(selection.runtimes).join(', ')}`);
  await fsp.mkdir(cfg.dataRoot, { recursive: true, mode: 0o710 });
  await fsp.mkdir(cfg.execRoot, { recursive: true, mode: 0o700 });
  await writePidfile(cfg.pidfile);
  const paths = new Paths(path.resolve(cfg.dataRoot), path.resolve(cfg.execRoot));
  const sys = new LinuxSys();
  const events = new EventBus();
  const runner = posixRunner;
  const ociRuntimes = new OciRuntimes(paths, selection.runtimes, selection.defaultRuntime, runner, RUNC);
  const runtime = new ConmonRuntime({ paths, runner, sys, runtimes: ociRuntimes });
  await runtime.init();
  const host = readHostInfo();
  const defaultSeccomp = loadDefaultSeccompProfile();
  let containers!: ContainerService;
  const images = new ImageService({
    paths, sys, events,
    usage: { containersUsingImage: (id: string) => containers.queries.containersUsingImage(id) },
  });
  await images.init();
  const volumes = new VolumeService({ paths, sys, events });
  await volumes.init();
  const networks = new NetworkService({
    paths, sys, cni: new ExecCniRunner(undefined, runner), bip: cfg.bip, pools: cfg.pools,
    ...(cfg.bridge ? { bridgeName: cfg.bridge } : {}),
  } as ConstructorParameters<typeof NetworkService>[0]);
  containers = new ContainerService({
    paths, sys, events,
    images,
    networks,
    runtime,
    buildSpec: (input) => buildSpec({ ...(input as SpecInput), host, defaultSeccomp }),
    resolveUser,
    mounts: new ContainerMounts(volumes),
  });
  volumes.setUsers((name) => containers.queries.containersUsingVolume(name));
  if (cfg.detachKeys) containers.detachKeys = cfg.detachKeys;
  containers.daemonDefaults = { ulimits: cfg.defaultUlimits, dns: { dns: cfg.dns, dnsSearch: cfg.dnsSearch, dnsOptions: cfg.dnsOptions } };
  if (cfg.logDriver || cfg.logOpts) {
    const lc = { Type: cfg.logDriver || 'json-file', Config: cfg.logOpts ?? {} };
    validateLogConfig(lc); // a bad daemon.json stops berthd at start, not every create
    containers.defaultLogConfig = lc;
  }
  await containers.init();
  await volumes.settle(); // running containers have re-taken their volumes: unmount the rest
  const ids = containers.queries.ids();
  await networks.init(ids.running, ids.all);
  const conmonExec = new ConmonExec({ paths, runner, sys, runtimeOf: (id) => ociRuntimes.of(id) });
  await conmonExec.sweep(); // session dirs of finished execs; live ones go when they end
  const execs = new ExecService({
    containers: containers.queries, runtime: conmonExec, events, resolveUser,
    rootfs: (id) => paths.containerRootfs(id), buildProcess: execProcessSpec,
  });
  const stats = new StatsService({ containers: containers.queries, runner });
  containers.setProbeRunner(execProbeRunner(execs));
  // Restart policies act once networking is back: a restarted container needs its network.
  void containers.bootRestarts();
  let runcVersion = '';
  try { runcVersion = /runc version (\S+)/.exec((await runner.run(RUNC, ['--version'])).stdout)?.[1] ?? ''; } catch { /* reported empty */ }
  let runcChangelog = '';
  try { runcChangelog = zlib.gunzipSync(fs.readFileSync('/usr/share/doc/runc/changelog.Debian.gz')).toString('utf8'); } catch { /* not a Debian package */ }
  const warnings = runcAdvisories(runcVersion, runcChangelog);
  for (const w of warnings) log(cfg, 'warn', w);
  const system = new SystemService({
    paths, startedAt: new Date(), runcVersion: () => runcVersion, loggingDriver: containers.defaultLogConfig.Type, warnings,
    debug: cfg.debug, liveRestore: cfg.liveRestore, registry: cfg.registry, runtimes: selection,
    containerCounts: () => containers.queries.counts(),
    imageCount: () => images.count(),
  });
  const commits = new CommitService({ paths, sys, containers: containers.queries, lifecycle: containers, images, events, version: BERTH_VERSION });
  const archives = new ArchiveService({
    withFilesystem: (ref, fn) => containers.filesystems.with(ref, fn), withLayers: (ref, fn) => containers.filesystems.withLayers(ref, fn), sys, resolveUser,
  });
  const builds = new BuildService(paths, sys, { containers, images, commits }, images);
  const imageArchives = new ImageArchiveService(images, paths, events);
  await imageArchives.init();
  // certs.d beside daemon.json (default /etc/berth/certs.d), then Docker's, for certificates set up for dockerd
  const hosts = new RegistryHosts(cfg.registry, [path.join(path.dirname(path.resolve(cfg.configFile)), 'certs.d'), '/etc/docker/certs.d']);
  const distribution = new DistributionService({ images, hosts, maxConcurrentDownloads: cfg.maxConcurrentDownloads, maxDownloadAttempts: cfg.maxDownloadAttempts });
  const app = buildApp([
    ...systemRoutes(system, events, new DiskUsageService({ images, containers: containers.queries, volumes, buildCache: builds })),
    ...containerRoutes(containers, containers.queries, containers.streams),
    ...imageRoutes(images, distribution),
    ...authRoutes(distribution),
    ...imageArchiveRoutes(imageArchives),
    ...execRoutes(execs),
    ...networkRoutes(networks, (ref) => netInfo(containers.queries.get(ref))),
    ...statsRoutes(stats),
    ...swarmRoutes(),
    ...commitRoutes(commits),
    ...archiveRoutes(archives),
    ...buildRoutes(builds),
    ...volumeRoutes(volumes),
  ], { debug: cfg.logLevel === 'debug' ? (m) => log(cfg, 'debug', m) : undefined });
  const listeners: { close(): Promise<void> }[] = [];
  for (const h of cfg.hosts) {
    if (h.startsWith('unix://')) await fsp.mkdir(path.dirname(h.slice(7)), { recursive: true });
    const tls = cfg.tls ? { verify: cfg.tlsVerify, caFile: cfg.tlsCaCert, certFile: cfg.tlsCert!, keyFile: cfg.tlsKey! } : undefined;
    listeners.push(await listen(app, h, { gid: socketGid(cfg), tls }));
    log(cfg, 'info', `API listen on ${h.replace(/^unix:\/\//, '')}`);
  }
  log(cfg, 'info', `berthd ${BERTH_VERSION} initialized (data-root ${paths.dataRoot})`);
  new MemoryTrimmer(() => sys.mallocTrim()).start();
  let stopping = false;
  const shutdown = async (sig: string) => {
    if (stopping) return;
    stopping = true;
    log(cfg, 'info', `processing signal '${sig}'`);
    // Live restore (berth's default): containers keep running; only the API goes away. With
    // "live-restore": false, as dockerd, running containers are stopped first (not as a manual stop:
    // their restart policies still apply when berthd comes back).
    containers.shutdown();
    if (!cfg.liveRestore) {
      const running = [...containers.queries.ids().running];
      log(cfg, 'info', `live-restore is off: stopping ${running.length} running container(s)`);
      await Promise.all(running.map((id) => containers.stop(id).catch((err) => log(cfg, 'warn', `stop ${id}: ${errorMessage(err)}`))));
    }
    await Promise.all(listeners.map((l) => l.close()));
    await networks.close().catch(() => undefined);
    await fsp.rm(cfg.pidfile, { force: true });
    process.exit(0);
  };
  process.on('SIGTERM', () => void shutdown('terminated'));
  process.on('SIGINT', () => void shutdown('interrupt'));
}
