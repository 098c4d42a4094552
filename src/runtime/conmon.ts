/**
 * conmon 2.1.x command line (src/cli.c) as a typed options object, and its sync-pipe protocol.
 * Pure: no I/O here. See /work/shared/CONMON.md for the measured contract.
 */

export type ConmonLogLevel = 'error' | 'warn' | 'warning' | 'info' | 'debug' | 'trace';

export interface ConmonOptions {
  apiVersion?: number;                 // --api-version (1)
  cid: string;                         // -c
  cuuid: string;                       // -u
  name?: string;                       // -n
  runtime: string;                     // -r: path of runc
  bundle: string;                      // -b
  containerPidFile: string;            // -p
  conmonPidFile?: string;              // --conmon-pidfile
  exitDir?: string;                    // --exit-dir
  persistDir?: string;                 // --persist-dir (0)
  fullAttach?: boolean;                // --full-attach: attach socket at <bundle>/attach
  socketDirPath?: string;              // --socket-dir-path
  logPaths?: string[];                 // -l driver:path, repeatable ("k8s-file:/x", "none")
  logLevel?: ConmonLogLevel;           // --log-level
  logSizeMax?: number;                 // --log-size-max
  logGlobalSizeMax?: number;           // --log-global-size-max
  logTag?: string;                     // --log-tag
  runtimeArgs?: string[];              // --runtime-arg, each: runc global args (before the verb)
  runtimeOpts?: string[];              // --runtime-opt, each: args for restore/exec
  terminal?: boolean;                  // -t
  stdin?: boolean;                     // -i
  leaveStdinOpen?: boolean;            // --leave-stdin-open
  exitCommand?: string;                // --exit-command
  exitCommandArgs?: string[];          // --exit-command-arg, each
  exitDelay?: number;                  // --exit-delay (seconds)
  exec?: boolean;                      // -e
  execAttach?: boolean;                // --exec-attach
  execProcessSpec?: string;            // --exec-process-spec
  noNewKeyring?: boolean;              // --no-new-keyring
  noPivot?: boolean;                   // --no-pivot
  noSyncLog?: boolean;                 // --no-sync-log
  replaceListenPid?: boolean;          // --replace-listen-pid
  restore?: string;                    // --restore <checkpoint dir>
  sync?: boolean;                      // --sync: fork once (conmon stays our child)
  syslog?: boolean;                    // --syslog
  systemdCgroup?: boolean;             // -s
  timeout?: number;                    // -T seconds
  sdnotifySocket?: string;             // --sdnotify-socket
  seccompNotifySocket?: string;        // --seccomp-notify-socket
  seccompNotifyPlugins?: string;       // --seccomp-notify-plugins
}

export function conmonArgs(o: ConmonOptions): string[] {
  const a: string[] = ['--api-version', String(o.apiVersion ?? 1), '-c', o.cid, '-u', o.cuuid];
  if (o.name) a.push('-n', o.name);
  a.push('-r', o.runtime, '-b', o.bundle, '-p', o.containerPidFile);
  if (o.conmonPidFile) a.push('--conmon-pidfile', o.conmonPidFile);
  if (o.exitDir) a.push('--exit-dir', o.exitDir);
  if (o.persistDir) a.push('--persist-dir', o.persistDir);
  if (o.fullAttach) a.push('--full-attach');
  if (o.socketDirPath) a.push('--socket-dir-path', o.socketDirPath);
  for (const l of o.logPaths ?? []) a.push('-l', l);
  if (o.logLevel) a.push('--log-level', o.logLevel);
  if (o.logSizeMax !== undefined) a.push('--log-size-max', String(o.logSizeMax));
  if (o.logGlobalSizeMax !== undefined) a.push('--log-global-size-max', String(o.logGlobalSizeMax));
  if (o.logTag) a.push('--log-tag', o.logTag);
  // `--runtime-arg=X` form: a value starting with "-" must not be taken as a conmon option.
  for (const r of o.runtimeArgs ?? []) a.push(`--runtime-arg=${r}`);
  for (const r of o.runtimeOpts ?? []) a.push(`--runtime-opt=${r}`);
  if (o.terminal) a.push('-t');
  if (o.stdin) a.push('-i');
  if (o.leaveStdinOpen) a.push('--leave-stdin-open');
  if (o.exitCommand) {
    a.push('--exit-command', o.exitCommand);
    for (const e of o.exitCommandArgs ?? []) a.push(`--exit-command-arg=${e}`);
  }
  if (o.exitDelay !== undefined) a.push('--exit-delay', String(o.exitDelay));
  if (o.exec) a.push('-e');
  if (o.execAttach) a.push('--exec-attach');
  if (o.execProcessSpec) a.push('--exec-process-spec', o.execProcessSpec);
  if (o.noNewKeyring) a.push('--no-new-keyring');
  if (o.noPivot) a.push('--no-pivot');
  if (o.noSyncLog) a.push('--no-sync-log');
  if (o.replaceListenPid) a.push('--replace-listen-pid');
  if (o.restore) a.push('--restore', o.restore);
  if (o.sync) a.push('--sync');
  if (o.syslog) a.push('--syslog');
  if (o.systemdCgroup) a.push('-s');
  if (o.timeout !== undefined) a.push('-T', String(o.timeout));
  if (o.sdnotifySocket) a.push('--sdnotify-socket', o.sdnotifySocket);
  if (o.seccompNotifySocket) a.push('--seccomp-notify-socket', o.seccompNotifySocket);
  if (o.seccompNotifyPlugins) a.push('--seccomp-notify-plugins', o.seccompNotifyPlugins);
  return a;
}

/**
 * One line from conmon's sync pipe: `{"data": 5960}` (pid, or exit code for execs) or
 * `{"data": -1, "message": "runc create failed: ..."}`. Anything unparsable is an error.
 */
export function parseSyncLine(line: string): { pid?: number; error?: string } {
  const t = line.trim();
  if (!t) return { error: 'conmon closed the sync pipe without a result' };
  let j: unknown;
  try {
    j = JSON.parse(t);
  } catch {
    return { error: `invalid conmon sync message: ${t}` };
  }
  if (typeof j !== 'object' || j === null || typeof (j as { data?: unknown }).data !== 'number') {
    return { error: `invalid conmon sync message: ${t}` };
  }
  const { data, message } = j as { data: number; message?: unknown };
  if (data < 0) {
    const msg = typeof message === 'string' && message.trim() ? message.trim() : `conmon reported failure (${data})`;
    return { error: msg };
  }
  return { pid: data };
}
