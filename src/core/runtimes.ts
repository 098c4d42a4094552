import { InvalidParameterError } from '../errors.js';

/**
 * OCI runtimes (dockerd's `runtimes`, `default-runtime`, `--add-runtime`, HostConfig.Runtime), pure: the
 * table berthd offers, which one is the default, and moby's words for every refusal. berth drives each
 * runtime through conmon and the runc command line (create/start/kill/delete/state/exec --process/update/
 * pause/resume/list), which runc and crun both take.
 */

/** dockerd's stock runtime; the name cannot be redefined. */
export const STOCK_RUNTIME = 'runc';
/** picked as the default where it works (the unified cgroup hierarchy) and is installed */
export const CRUN = 'crun';

export interface RuntimeEntry {
  /** the binary: an absolute path, or a name looked up on PATH */
  path: string;
  /** global options given before every verb (runc's `--debug`, crun's `--cgroup-manager=...`) */
  runtimeArgs?: string[];
}

export type RuntimeTable = Record<string, RuntimeEntry>;

/** A name becomes a directory (the runtime's state root): no separators, no dot names. */
function checkName(name: string): void {
  if (!/^[A-Za-z0-9][A-Za-z0-9_.+-]*$/.test(name)) throw new InvalidParameterError(`invalid runtime name: ${name}`);
  if (name === STOCK_RUNTIME) throw new InvalidParameterError(`runtime name '${STOCK_RUNTIME}' is reserved`);
}

/**
 * daemon.json `runtimes`: `{"name": {"path": "...", "runtimeArgs": [...]}}`. containerd shim runtimes
 * (`runtimeType`, `options`) are refused: berth has no shims, it runs an OCI runtime binary.
 */
export function parseRuntimesFile(v: unknown): RuntimeTable {
  if (v === undefined || v === null) return {};
  if (typeof v !== 'object' || Array.isArray(v)) throw new InvalidParameterError('runtimes must be an object of {"path": ..., "runtimeArgs": [...]}');
  const out: RuntimeTable = {};
  for (const [name, raw] of Object.entries(v as Record<string, unknown>)) {
    checkName(name);
    if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw new InvalidParameterError(`runtime ${name}: must be an object with a path`);
    const r = raw as Record<string, unknown>;
    for (const k of Object.keys(r)) {
      if (k === 'runtimeType' || k === 'options') {
        throw new InvalidParameterError(`runtime ${name}: ${k} is not supported: berth runs OCI runtime binaries through conmon, not containerd shims; give a path`);
      }
      if (k !== 'path' && k !== 'runtimeArgs') throw new InvalidParameterError(`runtime ${name}: unknown field ${k}`);
    }
    if (typeof r['path'] !== 'string' || r['path'] === '') throw new InvalidParameterError(`runtime ${name}: either a runtimeType or a path must be configured`);
    const args = r['runtimeArgs'];
    if (args !== undefined && args !== null && (!Array.isArray(args) || args.some((a) => typeof a !== 'string'))) {
      throw new InvalidParameterError(`runtime ${name}: runtimeArgs must be a list of strings`);
    }
    out[name] = { path: r['path'], ...(Array.isArray(args) && args.length ? { runtimeArgs: args as string[] } : {}) };
  }
  return out;
}

/** dockerd's `--add-runtime name=path` (opts.RuntimeOpt.Set), repeatable. */
export function parseAddRuntimeFlags(values: string[]): RuntimeTable {
  const out: RuntimeTable = {};
  for (const val of values) {
    const eq = val.indexOf('=');
    const k = (eq < 0 ? '' : val.slice(0, eq)).trim().toLowerCase();
    const p = eq < 0 ? '' : val.slice(eq + 1).trim();
    if (!k || !p) throw new InvalidParameterError(`invalid runtime argument: ${val}`);
    checkName(k);
    if (k in out) throw new InvalidParameterError(`runtime '${k}' was already defined`);
    out[k] = { path: p };
  }
  return out;
}

export interface RuntimeHost {
  /** where runc is (the stock runtime) */
  runcPath: string;
  /** where crun is, when installed */
  crunPath?: string;
  /** the host runs the unified cgroup hierarchy only (cgroup v2) */
  unifiedCgroup: boolean;
}

export interface RuntimeSelection {
  runtimes: RuntimeTable;
  defaultRuntime: string;
  /** why the default is what it is, for the daemon's log */
  reason: string;
}

/**
 * The runtimes berthd offers and its default. runc always; crun too where it can run (crun 1.8 refuses
 * the hybrid cgroup layout: "cgroups in hybrid mode not supported") and, there, by default, because it
 * starts a container in a fraction of runc's time. A configured `crun` replaces the detected one, and
 * `default-runtime` beats the automatic choice; Docker's users keep `--runtime runc`.
 */
export function selectRuntimes(configured: RuntimeTable, defaultRuntime: string | undefined, host: RuntimeHost): RuntimeSelection {
  const crunUsable = host.unifiedCgroup && host.crunPath !== undefined;
  const runtimes: RuntimeTable = {
    [STOCK_RUNTIME]: { path: host.runcPath },
    ...(crunUsable ? { [CRUN]: { path: host.crunPath! } } : {}),
    ...configured,
  };
  if (defaultRuntime !== undefined && defaultRuntime !== '') {
    if (!(defaultRuntime in runtimes)) throw new InvalidParameterError(`specified default runtime '${defaultRuntime}' does not exist`);
    return { runtimes, defaultRuntime, reason: 'default-runtime' };
  }
  if (crunUsable) return { runtimes, defaultRuntime: CRUN, reason: 'crun is installed and the host runs the unified cgroup hierarchy' };
  const why = host.crunPath === undefined ? 'crun is not installed' : 'crun does not support the hybrid cgroup hierarchy this host runs';
  return { runtimes, defaultRuntime: STOCK_RUNTIME, reason: why };
}

/** HostConfig.Runtime at create: an unconfigured name is moby's 400. */
export function checkRuntimeName(name: string | undefined, runtimes: Iterable<string>): void {
  if (!name) return;
  for (const n of runtimes) if (n === name) return;
  throw new InvalidParameterError(`unknown or invalid runtime name: ${name}`);
}
