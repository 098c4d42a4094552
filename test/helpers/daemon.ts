// Starts a real berthd from this checkout on private, short temp roots and socket, for e2e tests.
// Each daemon gets /tmp/bt-XXXXXX/{data,exec,berth.sock,berthd.pid,berthd.log}: short, because conmon's
// attach socket path under the exec root must fit a sockaddr_un.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import type { Duplex } from 'node:stream';
import { fileURLToPath } from 'node:url';

function findRepoRoot(): string {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  while (!fs.existsSync(path.join(dir, 'package.json'))) {
    const up = path.dirname(dir);
    if (up === dir) throw new Error('repo root not found');
    dir = up;
  }
  return dir;
}

export const repoRoot = findRepoRoot();
export const berthdBin = path.join(repoRoot, 'bin', 'berthd');

export interface DaemonOptions {
  /** Extra berthd flags. */
  args?: string[];
  /** Extra environment for berthd. */
  env?: Record<string, string>;
  /** How long to wait for /_ping (ms). */
  startTimeoutMs?: number;
  /** Another build's bin/berthd (bench/ab-run.mjs compares two builds); default this checkout's. */
  berthd?: string;
}

export interface Daemon {
  socket: string;
  /** unix://<socket> */
  host: string;
  dataRoot: string;
  execRoot: string;
  /** The temp dir holding both roots, the socket, the pidfile and the log. */
  dir: string;
  logFile: string;
  /** For CLI children: { DOCKER_HOST, BERTH_HOST }. */
  env: { DOCKER_HOST: string; BERTH_HOST: string };
  /** The current berthd pid (changes on restart()). */
  readonly pid: number;
  /** SIGTERM, then wait for exit (SIGKILL after 20 s). */
  stop(): Promise<void>;
  /** SIGKILL berthd and wait until it is gone; containers are meant to survive. */
  kill9(): Promise<void>;
  /** Start berthd again on the same roots and socket (stops it first if it runs). */
  restart(): Promise<void>;
  /** Last bytes of berthd's stderr/stdout, for failure messages. */
  logTail(bytes?: number): string;
  /** Remove every container through the API, stop berthd, sweep leftovers, delete the temp dir. */
  cleanup(): Promise<string[]>;
}

export interface ApiResponse {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
}

/** POST with `Upgrade: tcp` (as the docker CLI attaches): resolves with the raw stream after the 101. */
export function hijack(socket: string, urlPath: string): Promise<Duplex> {
  return new Promise((resolve, reject) => {
    const req = http.request({ socketPath: socket, method: 'POST', path: urlPath, headers: { Connection: 'Upgrade', Upgrade: 'tcp' } });
    req.on('upgrade', (_res, sock, head) => { if (head.length) sock.unshift(head); resolve(sock); });
    req.on('response', (res) => reject(new Error(`no upgrade: HTTP ${res.statusCode}`)));
    req.on('error', reject);
    req.end();
  });
}

/** One HTTP request to the Engine API over the unix socket. */
export function api(socket: string, method: string, urlPath: string, body?: unknown, timeoutMs = 30_000): Promise<ApiResponse> {
  return new Promise((resolve, reject) => {
    const data = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
    const req = http.request(
      {
        socketPath: socket, method, path: urlPath, timeout: timeoutMs,
        headers: data ? { 'content-type': 'application/json', 'content-length': data.length } : {},
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }));
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new Error(`${method} ${urlPath}: timed out`)));
    req.on('error', reject);
    req.end(data);
  });
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Polls fn until it returns a truthy value or the time is up (then returns the last value). */
export async function waitFor<T>(fn: () => Promise<T> | T, timeoutMs = 10_000, everyMs = 100): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v || Date.now() >= end) return v;
    await sleep(everyMs);
  }
}

export async function startDaemon(opts: DaemonOptions = {}): Promise<Daemon> {
  if (!fs.existsSync(path.join(repoRoot, 'dist', 'src', 'main', 'berthd.js'))) {
    throw new Error('dist/src/main/berthd.js missing: build first (npm run build)');
  }
  const dir = fs.mkdtempSync('/tmp/bt-');
  const dataRoot = path.join(dir, 'data');
  const execRoot = path.join(dir, 'exec');
  const socket = path.join(dir, 'berth.sock');
  const pidfile = path.join(dir, 'berthd.pid');
  const logFile = path.join(dir, 'berthd.log');
  const host = `unix://${socket}`;
  let child: ChildProcess | undefined;
  let exited: Promise<void> = Promise.resolve();
  let alive = false;

  const spawnOnce = async () => {
    const log = fs.openSync(logFile, 'a');
    fs.writeSync(log, `--- berthd start ${new Date().toISOString()}\n`);
    const c = spawn(opts.berthd ?? berthdBin,
      ['--data-root', dataRoot, '--exec-root', execRoot, '-H', host, '--pidfile', pidfile, ...(opts.args ?? [])],
      { cwd: dir, env: { ...process.env, ...opts.env }, stdio: ['ignore', log, log] });
    fs.closeSync(log);
    child = c;
    alive = true;
    exited = new Promise<void>((resolve) => c.on('exit', () => { alive = false; resolve(); }));
    const end = Date.now() + (opts.startTimeoutMs ?? 20_000);
    for (;;) {
      if (!alive) throw new Error(`berthd exited during start-up; log:\n${tail(logFile)}`);
      try {
        const r = await api(socket, 'GET', '/_ping', undefined, 2000);
        if (r.status === 200 && r.body === 'OK') return;
      } catch { /* not listening yet */ }
      if (Date.now() > end) {
        c.kill('SIGKILL');
        await exited;
        throw new Error(`berthd did not answer /_ping within ${opts.startTimeoutMs ?? 20_000} ms; log:\n${tail(logFile)}`);
      }
      await sleep(50);
    }
  };

  const stop = async () => {
    if (!alive || !child) return;
    child.kill('SIGTERM');
    const t = setTimeout(() => child?.kill('SIGKILL'), 20_000);
    await exited;
    clearTimeout(t);
  };
  const kill9 = async () => {
    if (!alive || !child) return;
    child.kill('SIGKILL');
    await exited;
  };

  await spawnOnce().catch((e) => { fs.rmSync(dir, { recursive: true, force: true }); throw e; });

  const d: Daemon = {
    socket, host, dataRoot, execRoot, dir, logFile,
    env: { DOCKER_HOST: host, BERTH_HOST: host },
    get pid() { return child?.pid ?? -1; },
    stop, kill9,
    async restart() { await stop(); await spawnOnce(); },
    logTail: (bytes?: number) => tail(logFile, bytes),
    async cleanup() {
      if (alive) {
        await removeAllContainers(socket).catch(() => undefined);
        // user networks own host bridges: prune them so a failed test leaves no device behind
        await api(socket, 'POST', '/networks/prune').catch(() => undefined);
      }
      await stop();
      const leftovers = sweep(dir, execRoot);
      fs.rmSync(dir, { recursive: true, force: true });
      return leftovers;
    },
  };
  return d;
}

/** Force-removes every container the daemon knows, through the API (what `docker rm -f $(docker ps -aq)` does). */
export async function removeAllContainers(socket: string): Promise<void> {
  const r = await api(socket, 'GET', '/containers/json?all=1');
  if (r.status !== 200) return;
  for (const c of JSON.parse(r.body) as Array<{ Id: string }>) {
    await api(socket, 'DELETE', `/containers/${c.Id}?force=1&v=1`);
  }
}

/** Pids of live (not zombie) conmon processes whose command line mentions `needle`. */
export function conmonProcesses(needle: string): number[] {
  const out: number[] = [];
  for (const e of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(e)) continue;
    try {
      const stat = fs.readFileSync(`/proc/${e}/stat`, 'utf8');
      const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
      if (state === 'Z') continue; // conmon lingers as a zombie until PID 1 reaps it
      const cmd = fs.readFileSync(`/proc/${e}/cmdline`, 'utf8').split('\0');
      if (path.basename(cmd[0] ?? '') === 'conmon' && cmd.some((a) => a.includes(needle))) out.push(Number(e));
    } catch { /* process gone */ }
  }
  return out;
}

/** Mount points at or under `dir` (from /proc/self/mountinfo; octal escapes decoded). */
export function mountsUnder(dir: string): string[] {
  const prefix = dir.endsWith('/') ? dir : `${dir}/`;
  return fs.readFileSync('/proc/self/mountinfo', 'utf8').split('\n').filter(Boolean)
    .map((l) => l.split(' ')[4].replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8))))
    .filter((m) => m === dir || m.startsWith(prefix));
}

/** The memory-cgroup dir of a running process (cgroup v1 hierarchy), or undefined. */
export function memoryCgroupOf(pid: number): string | undefined {
  try {
    const line = fs.readFileSync(`/proc/${pid}/cgroup`, 'utf8').split('\n')
      .find((l) => l.split(':')[1]?.split(',').includes('memory'));
    return line ? path.join('/sys/fs/cgroup/memory', line.split(':').slice(2).join(':')) : undefined;
  } catch { return undefined; }
}

// Undoes whatever a daemon left behind, so one failing test cannot poison the next or the machine.
// Returns a description of each leftover (a leak to report).
function sweep(dir: string, execRoot: string): string[] {
  const found: string[] = [];
  const runcRoot = path.join(execRoot, 'runc');
  if (fs.existsSync(runcRoot)) {
    const ls = spawnSync('runc', ['--root', runcRoot, 'list', '-q'], { encoding: 'utf8' });
    for (const id of (ls.stdout ?? '').split('\n').filter(Boolean)) {
      found.push(`runc container ${id}`);
      spawnSync('runc', ['--root', runcRoot, 'delete', '-f', id]);
    }
  }
  for (const pid of conmonProcesses(dir)) {
    found.push(`conmon pid ${pid}`);
    try { process.kill(pid, 'SIGKILL'); } catch { /* gone */ }
  }
  for (const m of mountsUnder(dir).reverse()) {
    found.push(`mount ${m}`);
    spawnSync('umount', ['-l', m]);
  }
  return found;
}

function tail(file: string, bytes = 4000): string {
  try {
    const buf = fs.readFileSync(file);
    return buf.subarray(Math.max(0, buf.length - bytes)).toString('utf8');
  } catch { return '(no log)'; }
}

/** What an image operation can leave in a data root: blobs, ingests, layers, links, image records, tmp/. */
export function storeListing(dataRoot: string): Record<string, string[]> {
  const ls = (p: string) => (fs.existsSync(p) ? fs.readdirSync(p).sort() : []);
  return {
    blobs: ls(path.join(dataRoot, 'content', 'blobs', 'sha256')),
    ingest: ls(path.join(dataRoot, 'content', 'ingest')),
    layers: ls(path.join(dataRoot, 'layers')),
    links: ls(path.join(dataRoot, 'l')),
    images: ls(path.join(dataRoot, 'images')),
    tmp: ls(path.join(dataRoot, 'tmp')),
  };
}

/** What the image store holds under a data root: the tests' before/after check that a failed operation left nothing. */
export function storeContents(dataRoot: string): Record<string, string[]> {
  const ls = (p: string) => (fs.existsSync(p) ? fs.readdirSync(p).sort() : []);
  return {
    blobs: ls(path.join(dataRoot, 'content', 'blobs', 'sha256')),
    ingest: ls(path.join(dataRoot, 'content', 'ingest')),
    layers: ls(path.join(dataRoot, 'layers')),
    images: ls(path.join(dataRoot, 'images')),
  };
}
