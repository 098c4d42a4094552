import fs from 'node:fs';
import path from 'node:path';
import { STOCK_RUNTIME, checkRuntimeName, type RuntimeTable } from '../core/runtimes.js';
import type { Paths } from '../store/paths.js';
import { posixRunner, type ProcessRunner } from '../sys/process-runner.js';
import { findOnPath } from '../sys/host-info.js';
import { Runc } from './runc.js';
import { StartFailedError } from './start-failure.js';

/** One container's runtime, as recorded in its bundle when it was created (runtime.json). */
export interface OciRuntimeRef {
  name: string;
  /** the binary conmon and berth run */
  path: string;
  /** daemon.json's runtimeArgs, before berth's global options */
  runtimeArgs: string[];
  /** the runtime's state root (`--root`) */
  root: string;
  /**
   * berth's own runc: the shortcuts that know runc's state dir (start through exec.fifo, delete of a reaped
   * container without an exec) apply to it only. Any other runtime gets its `start` and `delete` run.
   */
  stock: boolean;
}

const RECORD = 'runtime.json';

/**
 * The configured OCI runtimes and which one each container runs with. A container keeps the runtime
 * it was created with for its whole life (kill, exec, pause, update, delete, and after a berthd restart),
 * even if daemon.json changes meanwhile: the choice is written into its bundle at create.
 */
export class OciRuntimes {
  private readonly byId = new Map<string, OciRuntimeRef>();
  private readonly clis = new Map<string, Runc>();

  constructor(
    private readonly paths: Paths,
    readonly table: RuntimeTable,
    readonly defaultName: string,
    private readonly runner: ProcessRunner = posixRunner,
    /** berth's runc binary; the stock entry's path ("runc") is a name on PATH for info's sake */
    private readonly stockPath = '/usr/sbin/runc',
  ) {}

  /** Just runc, at `runcPath`: the runtime of tests and of callers that configure none. */
  static runcOnly(paths: Paths, runcPath = '/usr/sbin/runc', runner?: ProcessRunner): OciRuntimes {
    return new OciRuntimes(paths, { [STOCK_RUNTIME]: { path: runcPath } }, STOCK_RUNTIME, runner, runcPath);
  }

  names(): string[] { return Object.keys(this.table); }

  /** The runtime a create names (or the default); moby's 400 for a name not configured. */
  resolve(name: string | undefined): OciRuntimeRef {
    const n = name || this.defaultName;
    checkRuntimeName(n, this.names());
    const e = this.table[n]!;
    const stock = n === STOCK_RUNTIME;
    return { name: n, path: stock ? this.stockPath : findBinary(n, e.path), runtimeArgs: e.runtimeArgs ?? [], root: this.paths.runtimeRoot(n), stock };
  }

  /** Written once the bundle exists, before conmon runs the runtime. */
  record(id: string, ref: OciRuntimeRef): void {
    fs.writeFileSync(path.join(this.paths.bundle(id), RECORD), JSON.stringify(ref));
    this.byId.set(id, ref);
  }

  /** A container's runtime: recorded in its bundle; runc for a bundle from before runtimes were recorded. */
  of(id: string): OciRuntimeRef {
    const known = this.byId.get(id);
    if (known) return known;
    let ref: OciRuntimeRef | undefined;
    try { ref = JSON.parse(fs.readFileSync(path.join(this.paths.bundle(id), RECORD), 'utf8')) as OciRuntimeRef; } catch { /* none */ }
    ref ??= { name: STOCK_RUNTIME, path: this.stockPath, runtimeArgs: [], root: this.paths.runcRoot, stock: true };
    this.byId.set(id, ref);
    return ref;
  }

  /** A container found in a runtime's state root without a bundle (an orphan to delete with that runtime). */
  adopt(id: string, ref: OciRuntimeRef): void {
    if (!fs.existsSync(path.join(this.paths.bundle(id), RECORD))) this.byId.set(id, ref);
  }

  forget(id: string): void { this.byId.delete(id); }

  /** Every configured runtime, for listing their state roots. */
  all(): OciRuntimeRef[] {
    const out: OciRuntimeRef[] = [];
    for (const n of this.names()) {
      try { out.push(this.resolve(n)); } catch { /* not installed: nothing of it to list */ }
    }
    return out;
  }

  cli(ref: OciRuntimeRef): Runc {
    const key = JSON.stringify([ref.path, ref.root, ref.runtimeArgs]);
    let c = this.clis.get(key);
    if (!c) this.clis.set(key, c = new Runc(ref.path, ref.root, this.runner, ref.runtimeArgs));
    return c;
  }
}

/** The runtime's binary: a path as given, a bare name looked up on PATH (as dockerd does). */
function findBinary(name: string, p: string): string {
  if (!p.includes('/')) {
    const found = findOnPath(p);
    if (found) return found;
  } else {
    try { fs.accessSync(p, fs.constants.X_OK); return path.resolve(p); } catch { /* below */ }
  }
  throw new StartFailedError(`runtime ${name}: ${p}: no such executable`);
}

