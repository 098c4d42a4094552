// Lifecycle decisions of the container services against fakes (Sys, runtime, images): no root, no runc.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ContainerService, type ContainerRecord, type Runtime } from '../../src/services/container-service.js';
import { EventBus } from '../../src/services/events.js';
import { Paths } from '../../src/store/paths.js';
import { RecordingSys } from '../../src/sys/sys.js';
import { ConflictError, InvalidParameterError, NotModifiedError } from '../../src/errors.js';
import { StartFailedError, startFailureOf } from '../../src/runtime/start-failure.js';

type Exit = { code: number; finishedAt: Date; oomKilled: boolean };

/** A runtime that runs nothing: create/start succeed (or fail as told), exits are delivered by the test. */
class FakeRuntime {
  calls: string[] = [];
  exits = new Map<string, Exit>();
  running = new Map<string, number>();
  failCreate: string | undefined;
  alive = new Set<string>();
  private exitCb: (id: string) => void = () => {};
  private nextPid = 100;
  async create(req: { id: string }): Promise<{ pid: number }> {
    this.calls.push(`create ${req.id.slice(0, 4)}`);
    // as the real runtime: runc's reason, classified once where it is reported
    if (this.failCreate) throw new StartFailedError(this.failCreate);
    this.exits.delete(req.id);
    const pid = this.nextPid++;
    this.running.set(req.id, pid);
    this.alive.add(req.id);
    return { pid };
  }
  async start(id: string): Promise<void> { this.calls.push(`start ${id.slice(0, 4)}`); }
  async kill(id: string, sig: string | number): Promise<void> {
    this.calls.push(`kill ${id.slice(0, 4)} ${sig}`);
    if (this.running.has(id)) setImmediate(() => this.exit(id, 128 + (typeof sig === 'number' ? sig : 15)));
  }
  async delete(id: string): Promise<void> { this.calls.push(`delete ${id.slice(0, 4)}`); this.running.delete(id); }
  async state(id: string): Promise<{ status: string; pid: number } | undefined> {
    const pid = this.running.get(id);
    return pid ? { status: 'running', pid } : undefined;
  }
  readExit(id: string): Exit | undefined { return this.exits.get(id); }
  onExit(cb: (id: string) => void): void { this.exitCb = cb; }
  conmonAlive(id: string): boolean { return this.alive.has(id); }
  async attach(): Promise<never> { throw new Error('no attach in the fake'); }
  async list(): Promise<string[]> { return [...this.running.keys()]; }
  async pause(): Promise<void> {}
  async resume(): Promise<void> {}
  resize(): void {}
  reopenLog(): void {}
  async update(): Promise<void> {}
  runtimeNames(): { names: string[]; default: string } { return { names: ['runc'], default: 'runc' }; }
  /** the process ends: conmon writes the exit file, then the watcher reports it */
  exit(id: string, code: number): void {
    this.running.delete(id);
    this.exits.set(id, { code, finishedAt: new Date(), oomKilled: false });
    this.exitCb(id);
  }
}

function setup(root = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-lc-')), runtime = new FakeRuntime()) {
  const sys = new RecordingSys();
  const svc = new ContainerService({
    paths: new Paths(path.join(root, 'data'), path.join(root, 'exec')), sys, events: new EventBus(),
    images: {
      get: (ref: string) => ({ id: `sha256:${ref}`, config: { config: { Cmd: ['sh'] } } }),
      rootfsMount: (_id: string, _u: string, _w: string, target: string) => ({ type: 'overlay', source: 'overlay', target, options: [] }),
    },
    runtime: runtime as unknown as Runtime,
    buildSpec: (input) => input,
    resolveUser: async () => ({ uid: 0, gid: 0, additionalGids: [], home: '/root' }),
  });
  return { svc, sys, runtime, root };
}

const until = async (cond: () => boolean, ms = 3000) => {
  const t0 = Date.now();
  while (!cond()) {
    if (Date.now() - t0 > ms) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 10));
  }
};

test('a failed start undoes its mount and records the exit code Docker gives it (127: not found)', async () => {
  const { svc, sys, runtime } = setup();
  await svc.init();
  const { Id } = await svc.create('ca', { Image: 'busybox' });
  runtime.failCreate = 'exec: "nope": executable file not found in $PATH';
  await assert.rejects(svc.start(Id), (err: unknown) => err instanceof InvalidParameterError && /OCI runtime create failed/.test(err.message));
  const st = svc.queries.get(Id).State;
  assert.deepEqual([st.Status, st.Running, st.ExitCode], ['created', false, 127]);
  const rootfs = svc.queries.inspect(Id).GraphDriver as { Data: { MergedDir: string } };
  assert.ok(sys.calls.some((c) => c.op === 'mount'));
  assert.equal(sys.calls.at(-1)?.op, 'unmount');
  assert.equal((sys.calls.at(-1) as { target: string }).target, rootfs.Data.MergedDir);
  // the record on disk says the same
  svc.shutdown();
});

test('start, then 304 for a second start; stop of a stopped container is a 304, kill a 409', async () => {
  const { svc, runtime } = setup();
  await svc.init();
  const { Id } = await svc.create('cb', { Image: 'busybox' });
  await svc.start(Id);
  assert.equal(svc.queries.get(Id).State.Status, 'running');
  await assert.rejects(svc.start(Id), NotModifiedError);
  await svc.stop(Id, { timeout: 1 });
  assert.deepEqual([svc.queries.get(Id).State.Status, svc.queries.get(Id).State.ExitCode], ['exited', 143]);
  assert.equal(svc.queries.get(Id).HasBeenManuallyStopped, true);
  await assert.rejects(svc.stop(Id), NotModifiedError);
  await assert.rejects(svc.kill(Id), ConflictError);
  assert.ok(runtime.calls.includes(`kill ${Id.slice(0, 4)} 15`));
  svc.shutdown();
});

test('restart policy: on-failure restarts a failing container and counts; a clean exit stays exited', async () => {
  const { svc, runtime } = setup();
  await svc.init();
  const { Id } = await svc.create('cc', { Image: 'busybox', HostConfig: { RestartPolicy: { Name: 'on-failure', MaximumRetryCount: 3 } } });
  await svc.start(Id);
  const creates = () => runtime.calls.filter((c) => c.startsWith('create')).length;
  runtime.exit(Id, 1);
  await until(() => svc.queries.get(Id).State.Status === 'restarting');
  assert.equal(svc.queries.get(Id).RestartCount, 1);
  await until(() => svc.queries.get(Id).State.Status === 'running' && creates() === 2);
  runtime.exit(Id, 0);
  await until(() => svc.queries.get(Id).State.Status === 'exited');
  assert.equal(svc.queries.get(Id).State.ExitCode, 0);
  await new Promise((r) => setTimeout(r, 300));
  assert.equal(creates(), 2);
  svc.shutdown();
});

test('rm of a running container is a 409 without force; with force it is killed and gone', async () => {
  const { svc } = setup();
  await svc.init();
  const { Id } = await svc.create('cd', { Image: 'busybox' });
  await svc.start(Id);
  await assert.rejects(svc.remove(Id), (e: unknown) => e instanceof ConflictError && /container is running/.test(e.message));
  await svc.remove(Id, { force: true });
  assert.throws(() => svc.queries.get(Id), /No such container/);
  svc.shutdown();
});

test('adoption at start: a live container is kept, one whose monitor died is exited (255), a restarting one exited', async () => {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-lc-'));
  const runtime = new FakeRuntime();
  const first = setup(root, runtime);
  await first.svc.init();
  const ids: string[] = [];
  for (const n of ['live', 'lost', 'gone']) {
    const { Id } = await first.svc.create(n, { Image: 'busybox' });
    await first.svc.start(Id);
    ids.push(Id);
  }
  first.svc.shutdown();
  const [live, lost, gone] = ids as [string, string, string];
  // lost: conmon died while berthd was down (no exit file); gone: it was waiting to restart
  runtime.alive.delete(lost);
  runtime.running.delete(lost);
  const recPath = path.join(root, 'data', 'containers', gone, 'record.json');
  const rec = JSON.parse(fs.readFileSync(recPath, 'utf8')) as ContainerRecord;
  rec.State = { ...rec.State, Status: 'restarting', Restarting: true, Pid: 0 };
  fs.writeFileSync(recPath, JSON.stringify(rec));
  runtime.running.delete(gone);
  const second = setup(root, runtime);
  await second.svc.init();
  assert.equal(second.svc.queries.get(live).State.Status, 'running');
  assert.equal(second.svc.queries.get(live).State.Pid, runtime.running.get(live));
  const l = second.svc.queries.get(lost).State;
  assert.deepEqual([l.Status, l.ExitCode, l.Error], ['exited', 255, 'container monitor exited while the daemon was down; exit code unknown']);
  const g = second.svc.queries.get(gone).State;
  assert.deepEqual([g.Status, g.Running, g.Restarting], ['exited', false, false]);
  second.svc.shutdown();
  assert.throws(() => second.svc.wait(live, 'bogus'), InvalidParameterError);
});

test('start failures are classified by kind, not by the wrapper\'s text', () => {
  assert.equal(startFailureOf(new StartFailedError('exec: "x": executable file not found in $PATH')), 'not-found');
  assert.equal(startFailureOf(new StartFailedError('anything', 'not-executable')), 'not-executable');
  // an error of berthd's own preparation: its errno along the cause chain
  const enoent = Object.assign(new Error('stat /dev/nope'), { code: 'ENOENT' });
  assert.equal(startFailureOf(new InvalidParameterError('error gathering device information', { cause: enoent })), 'not-found');
  assert.equal(startFailureOf(new Error('no such file or directory')), 'other');
});
