/**
 * berth CLI entry: global flags, command lookup (modules are imported lazily to keep start-up off the
 * `run` latency path), docker-style error reporting and exit codes.
 */
import type { Readable, Writable } from 'node:stream';
import { DaemonUnreachableError, EngineApiError } from '../client/engine-client.js';
import { configDir } from './config-file.js';
import { CliContext, StatusError, type CliIO, type Command } from './context.js';
import { FlagError, checkArgs, helpText, parseFlags, type CommandSpec } from './flags.js';

type Loader = () => Promise<Record<string, Command>>;

const load = {
  system: () => import('./commands/system.js').then((m) => m.commands),
  ps: () => import('./commands/ps.js').then((m) => m.commands),
  run: () => import('./commands/run.js').then((m) => m.commands),
  lifecycle: () => import('./commands/lifecycle.js').then((m) => m.commands),
  logs: () => import('./commands/logs.js').then((m) => m.commands),
  inspect: () => import('./commands/inspect.js').then((m) => m.commands),
  images: () => import('./commands/images.js').then((m) => m.commands),
  exec: () => import('./commands/exec.js').then((m) => m.commands),
  ops: () => import('./commands/container-ops.js').then((m) => m.commands),
  stats: () => import('./commands/stats.js').then((m) => m.commands),
  network: () => import('./commands/network.js').then((m) => m.commands),
  commit: () => import('./commands/commit.js').then((m) => m.commands),
  volume: () => import('./commands/volume.js').then((m) => m.commands),
  registry: () => import('./commands/registry.js').then((m) => m.commands),
  login: () => import('./commands/login.js').then((m) => m.commands),
  context: () => import('./commands/context.js').then((m) => m.commands),
  archive: () => import('./commands/image-archive.js').then((m) => m.commands),
  dist: () => import('./commands/distribution.js').then((m) => m.commands),
  build: () => import('./commands/build.js').then((m) => m.commands),
  cp: () => import('./commands/cp.js').then((m) => m.commands),
  df: () => import('./commands/disk-usage.js').then((m) => m.commands),
} satisfies Record<string, Loader>;

interface Route { loader: Loader; id: string; desc: string }
const r = (loader: Loader, id: string, desc: string): Route => ({ loader, id, desc });

const TOP: Record<string, Route> = {
  run: r(load.run, 'run', 'Create and run a new container from an image'),
  exec: r(load.exec, 'exec', 'Execute a command in a running container'),
  build: r(load.build, 'build', 'Build an image from a Dockerfile'),
  attach: r(load.exec, 'attach', 'Attach local standard input, output, and error streams to a running container'),
  pause: r(load.ops, 'pause', 'Pause all processes within one or more containers'),
  port: r(load.ops, 'port', 'List port mappings or a specific mapping for the container'),
  stats: r(load.stats, 'stats', 'Display a live stream of container(s) resource usage statistics'),
  top: r(load.ops, 'top', 'Display the running processes of a container'),
  unpause: r(load.ops, 'unpause', 'Unpause all processes within one or more containers'),
  update: r(load.ops, 'update', 'Update configuration of one or more containers'),
  ps: r(load.ps, 'ps', 'List containers'),
  images: r(load.images, 'images', 'List images'),
  version: r(load.system, 'version', 'Show the berth version information'),
  info: r(load.system, 'info', 'Display system-wide information'),
  create: r(load.run, 'create', 'Create a new container'),
  commit: r(load.commit, 'commit', "Create a new image from a container's changes"),
  diff: r(load.commit, 'diff', "Inspect changes to files or directories on a container's filesystem"),
  cp: r(load.cp, 'cp', 'Copy files/folders between a container and the local filesystem'),
  events: r(load.system, 'events', 'Get real time events from the server'),
  export: r(load.archive, 'export', "Export a container's filesystem as a tar archive"),
  history: r(load.images, 'history', 'Show the history of an image'),
  import: r(load.images, 'import', 'Import the contents from a tarball to create a filesystem image'),
  inspect: r(load.inspect, 'inspect', 'Return low-level information on berth objects'),
  pull: r(load.dist, 'pull', 'Download an image from a registry'),
  push: r(load.dist, 'push', 'Upload an image to a registry'),
  search: r(load.dist, 'search', 'Search Docker Hub for images'),
  load: r(load.archive, 'load', 'Load an image from a tar archive or STDIN'),
  save: r(load.archive, 'save', 'Save one or more images to a tar archive (streamed to STDOUT by default)'),
  kill: r(load.lifecycle, 'kill', 'Kill one or more running containers'),
  logs: r(load.logs, 'logs', 'Fetch the logs of a container'),
  login: r(load.login, 'login', 'Authenticate to a registry'),
  logout: r(load.login, 'logout', 'Log out from a registry'),
  rename: r(load.lifecycle, 'rename', 'Rename a container'),
  restart: r(load.lifecycle, 'restart', 'Restart one or more containers'),
  rm: r(load.lifecycle, 'rm', 'Remove one or more containers'),
  rmi: r(load.images, 'rmi', 'Remove one or more images'),
  start: r(load.lifecycle, 'start', 'Start one or more stopped containers'),
  stop: r(load.lifecycle, 'stop', 'Stop one or more running containers'),
  tag: r(load.images, 'tag', 'Create a tag TARGET_IMAGE that refers to SOURCE_IMAGE'),
  wait: r(load.lifecycle, 'wait', 'Block until one or more containers stop, then print their exit codes'),
};

const GROUPS: Record<string, { desc: string; subs: Record<string, Route> }> = {
  container: {
    desc: 'Manage containers',
    subs: {
      create: TOP.create!, inspect: r(load.inspect, 'container inspect', 'Display detailed information on one or more containers'),
      kill: TOP.kill!, logs: TOP.logs!, ls: r(load.ps, 'ps', 'List containers'), list: r(load.ps, 'ps', 'List containers'),
      ps: r(load.ps, 'ps', 'List containers'), prune: r(load.lifecycle, 'container prune', 'Remove all stopped containers'),
      rename: TOP.rename!, restart: TOP.restart!, rm: TOP.rm!, remove: TOP.rm!, run: TOP.run!, start: TOP.start!,
      stop: TOP.stop!, wait: TOP.wait!, attach: TOP.attach!, exec: TOP.exec!, pause: TOP.pause!, port: TOP.port!,
      stats: TOP.stats!, top: TOP.top!, unpause: TOP.unpause!, update: TOP.update!, commit: TOP.commit!, diff: TOP.diff!, cp: TOP.cp!, export: TOP.export!,
    },
  },
  network: {
    desc: 'Manage networks',
    subs: {
      connect: r(load.network, 'network connect', 'Connect a container to a network'),
      create: r(load.network, 'network create', 'Create a network'),
      disconnect: r(load.network, 'network disconnect', 'Disconnect a container from a network'),
      inspect: r(load.network, 'network inspect', 'Display detailed information on one or more networks'),
      ls: r(load.network, 'network ls', 'List networks'),
      list: r(load.network, 'network ls', 'List networks'),
      prune: r(load.network, 'network prune', 'Remove all unused networks'),
      rm: r(load.network, 'network rm', 'Remove one or more networks'),
      remove: r(load.network, 'network rm', 'Remove one or more networks'),
    },
  },
  volume: {
    desc: 'Manage volumes',
    subs: {
      create: r(load.volume, 'volume create', 'Create a volume'),
      inspect: r(load.volume, 'volume inspect', 'Display detailed information on one or more volumes'),
      ls: r(load.volume, 'volume ls', 'List volumes'), list: r(load.volume, 'volume ls', 'List volumes'),
      prune: r(load.volume, 'volume prune', 'Remove unused local volumes'),
      rm: r(load.volume, 'volume rm', 'Remove one or more volumes'), remove: r(load.volume, 'volume rm', 'Remove one or more volumes'),
    },
  },
  image: {
    desc: 'Manage images',
    subs: {
      build: TOP.build!, history: TOP.history!, import: TOP.import!, inspect: r(load.inspect, 'image inspect', 'Display detailed information on one or more images'),
      ls: r(load.images, 'images', 'List images'), list: r(load.images, 'images', 'List images'),
      prune: r(load.images, 'image prune', 'Remove unused images'), rm: TOP.rmi!, remove: TOP.rmi!, tag: TOP.tag!,
      load: TOP.load!, save: TOP.save!, pull: TOP.pull!, push: TOP.push!,
    },
  },
  builder: {
    desc: 'Manage builds',
    subs: { build: TOP.build!, prune: r(load.build, 'builder prune', 'Remove build cache') },
  },
  registry: {
    desc: 'Run a registry server',
    subs: {
      serve: r(load.registry, 'registry serve', 'Serve an OCI distribution registry from a directory'),
      'garbage-collect': r(load.registry, 'registry garbage-collect', 'Delete blobs no manifest references'),
    },
  },
  context: {
    desc: 'Manage contexts',
    subs: {
      create: r(load.context, 'context create', 'Create a context'),
      inspect: r(load.context, 'context inspect', 'Display detailed information on one or more contexts'),
      ls: r(load.context, 'context ls', 'List contexts'), list: r(load.context, 'context ls', 'List contexts'),
      rm: r(load.context, 'context rm', 'Remove one or more contexts'), remove: r(load.context, 'context rm', 'Remove one or more contexts'),
      show: r(load.context, 'context show', 'Print the name of the current context'),
      use: r(load.context, 'context use', 'Set the current docker context'),
    },
  },
  system: {
    desc: 'Manage berth',
    subs: { events: TOP.events!, info: TOP.info!, df: r(load.df, 'system df', 'Show docker disk usage') },
  },
};

const LOG_LEVELS = ['debug', 'info', 'warn', 'error', 'fatal'];

const HIDDEN_SUBS = new Set(['list', 'ps', 'remove']);

const GLOBAL: CommandSpec = {
  path: '',
  usage: '[OPTIONS] COMMAND',
  desc: 'A self-sufficient runtime for containers',
  flags: [
    { name: 'config', kind: 'string', desc: 'Location of client config files', default: '~/.docker' },
    { name: 'context', short: 'c', kind: 'string', desc: 'Name of the context to use to connect to the daemon (overrides BERTH_HOST and DOCKER_HOST env vars)' },
    { name: 'debug', short: 'D', kind: 'bool', desc: 'Enable debug mode' },
    { name: 'host', short: 'H', kind: 'list', desc: 'Daemon socket to connect to' },
    { name: 'log-level', short: 'l', kind: 'string', desc: 'Set the logging level ("debug", "info", "warn", "error", "fatal")', default: 'info' },
    { name: 'tls', kind: 'bool', desc: 'Use TLS; implied by --tlsverify' },
    { name: 'tlscacert', kind: 'string', desc: 'Trust certs signed only by this CA' },
    { name: 'tlscert', kind: 'string', desc: 'Path to TLS certificate file' },
    { name: 'tlskey', kind: 'string', desc: 'Path to TLS key file' },
    { name: 'tlsverify', kind: 'bool', desc: 'Use TLS and verify the remote' },
    { name: 'version', short: 'v', kind: 'bool', desc: 'Print version information and quit' },
  ],
};

function rootHelp(bin: string): string {
  const lines = [`Usage:  ${bin} [OPTIONS] COMMAND`, '', GLOBAL.desc, '', 'Management Commands:'];
  for (const [n, g] of Object.entries(GROUPS)) lines.push(`  ${n.padEnd(11)} ${g.desc}`);
  lines.push('', 'Commands:');
  for (const n of Object.keys(TOP).sort()) lines.push(`  ${n.padEnd(11)} ${TOP[n]!.desc}`);
  const opts = helpText(GLOBAL, bin).split('\n');
  const at = opts.indexOf('Options:');
  lines.push('', 'Global Options:', ...opts.slice(at + 1));
  lines.push(`Run '${bin} COMMAND --help' for more information on a command.`, '');
  return lines.join('\n');
}

function groupHelp(bin: string, name: string): string {
  const g = GROUPS[name]!;
  const lines = [`Usage:  ${bin} ${name} COMMAND`, '', g.desc, '', 'Commands:'];
  for (const n of Object.keys(g.subs).sort()) {
    if (!HIDDEN_SUBS.has(n)) lines.push(`  ${n.padEnd(11)} ${g.subs[n]!.desc}`);
  }
  lines.push('', `Run '${bin} ${name} COMMAND --help' for more information on a command.`, '');
  return lines.join('\n');
}

function defaultIO(): CliIO {
  // stdin is a getter: opening it costs ~3 ms, and most commands never read it
  return { stdout: process.stdout as Writable, stderr: process.stderr as Writable, get stdin() { return process.stdin as Readable; }, env: process.env };
}

export async function main(argv: string[], io: CliIO = defaultIO()): Promise<number> {
  const bin = 'berth';
  // global flags come before the command name
  let i = 0;
  while (i < argv.length && argv[i]!.startsWith('-') && argv[i] !== '-') {
    const a = argv[i]!;
    const needsValue = /^(-H|--host|-c|--context|-l|--log-level|--config|--tlscacert|--tlscert|--tlskey)$/.test(a);
    i += needsValue ? 2 : 1;
  }
  let globals;
  try {
    globals = parseFlags(GLOBAL, argv.slice(0, Math.min(i, argv.length)));
  } catch (e) {
    io.stderr.write(`${(e as Error).message}\n\nUsage:  ${bin} [OPTIONS] COMMAND\n\nRun '${bin} --help' for more information\n`);
    return 125;
  }
  // -D is debug whatever -l says, as docker's
  const logLevel = globals.flags.debug ? 'debug' : String(globals.flags['log-level']);
  if (!LOG_LEVELS.includes(logLevel)) {
    io.stderr.write(`Unable to parse logging level: ${logLevel}\n`);
    return 1;
  }
  if (globals.flags.version) {
    io.stdout.write(`berth version 0.1.0, API ${'1.45'}\n`);
    return 0;
  }
  const rest = argv.slice(i);
  if (rest.length === 0 || globals.help || rest[0] === 'help' && rest.length === 1) {
    io.stdout.write(rootHelp(bin));
    return 0;
  }

  let name = rest[0]!;
  let cmdArgs = rest.slice(1);
  let route: Route | undefined;
  let path = name;
  if (name === 'help') { name = rest[1]!; cmdArgs = ['--help']; path = name; }
  if (GROUPS[name]) {
    const g = GROUPS[name]!;
    const sub = cmdArgs[0];
    if (sub === undefined || sub === '--help' || sub === '-h' || sub === 'help') {
      io.stdout.write(groupHelp(bin, name));
      return 0;
    }
    route = g.subs[sub];
    if (!route) {
      io.stderr.write(`${bin}: unknown command: ${bin} ${name} ${sub}\n\nUsage:  ${bin} ${name} COMMAND\n\nRun '${bin} ${name} --help' for more information\n`);
      return 1;
    }
    path = `${name} ${sub}`;
    cmdArgs = cmdArgs.slice(1);
  } else {
    route = TOP[name];
  }
  if (!route) {
    io.stderr.write(`${bin}: unknown command: ${bin} ${name}\n\nRun '${bin} --help' for more information\n`);
    return 1;
  }

  const mod = await route.loader();
  const cmd = mod[route.id];
  if (!cmd) throw new Error(`internal: command ${route.id} missing`);
  const spec: CommandSpec = { ...cmd.spec, path, usage: path + cmd.spec.usage.slice(cmd.spec.path.length) };

  let parsed;
  try {
    parsed = parseFlags(spec, cmdArgs);
  } catch (e) {
    if (!(e instanceof FlagError)) throw e;
    io.stderr.write(`${e.message}\n\nUsage:  ${bin} ${spec.usage}\n\nRun '${bin} ${path} --help' for more information\n`);
    return 125;
  }
  if (parsed.help) {
    io.stdout.write(helpText(spec, bin));
    return 0;
  }
  const argErr = checkArgs(spec, parsed.args.length, bin);
  if (argErr) {
    io.stderr.write(argErr + '\n');
    return 1;
  }

  const cfgDir = configDir(globals.changed.has('config') ? String(globals.flags.config) : undefined, io.env);
  const g = globals.flags;
  const ctx = new CliContext(io, {
    hosts: g.host as string[], context: String(g.context), tls: g.tls === true, tlsverify: g.tlsverify === true,
    tlscacert: String(g.tlscacert), tlscert: String(g.tlscert), tlskey: String(g.tlskey), changed: globals.changed,
  }, cfgDir, logLevel);
  try {
    return await cmd.run(ctx, parsed);
  } catch (e) {
    if (e instanceof FlagError) {
      io.stderr.write(`${e.message}\n\nUsage:  ${bin} ${spec.usage}\n\nRun '${bin} ${path} --help' for more information\n`);
      return 125;
    }
    return reportError(io, e);
  } finally {
    ctx.close();
  }
}

/** Prints an error the way docker's CLI does and picks the exit code. */
export function reportError(io: CliIO, e: unknown): number {
  if (e instanceof StatusError) {
    if (e.message) io.stderr.write(e.message.endsWith('\n') ? e.message : e.message + '\n');
    return e.code;
  }
  if (e instanceof EngineApiError) {
    io.stderr.write(`Error response from daemon: ${e.message}\n`);
    return 1;
  }
  if (e instanceof DaemonUnreachableError) {
    io.stderr.write(`${e.message}\n`);
    return 1;
  }
  io.stderr.write(`${(e as Error)?.message ?? String(e)}\n`);
  return 1;
}

/** Every command's flag table (and the global one), for the test that no declared flag goes unread. */
export async function listCommandSpecs(): Promise<CommandSpec[]> {
  const routes = [...Object.values(TOP), ...Object.values(GROUPS).flatMap((g) => Object.values(g.subs))];
  const out = new Map<string, CommandSpec>([['', GLOBAL]]);
  for (const r of routes) {
    const cmd = (await r.loader())[r.id];
    if (cmd) out.set(r.id, cmd.spec);
  }
  return [...out.values()];
}
