// The pty belongs to conmon, not berthd: a TTY container's shell survives a kill -9 of berthd, and a
// restarted berthd attaches to it, types into it and resizes it.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import type { Duplex } from 'node:stream';
import { api, hijack, startDaemon, waitFor, type Daemon } from '../helpers/daemon.js';
import { docker, show } from '../helpers/cli.js';
import { busyboxTar } from '../helpers/fixtures.js';

const IMG = 'busybox:ttyrestore';
let d: Daemon;

before(async () => {
  d = await startDaemon({ args: ['-b', 'none'] }); // leave the default bridge alone
  const r = await docker(d.env, ['import', '--change', 'CMD ["sh"]', await busyboxTar(), IMG], { timeoutMs: 60_000 });
  assert.equal(r.code, 0, show(r));
});

after(async () => {
  const left = await d.cleanup();
  assert.deepEqual(left, [], 'nothing of berth left behind');
});

test('a TTY shell outlives berthd: after kill -9 and a restart it answers, resizes and exits', async () => {
  const r = await api(d.socket, 'POST', '/containers/create?name=tty', {
    Image: IMG, Cmd: ['sh'], Tty: true, OpenStdin: true, AttachStdin: true, AttachStdout: true, HostConfig: { NetworkMode: 'none' },
  });
  assert.equal(r.status, 201, r.body);
  const id = (JSON.parse(r.body) as { Id: string }).Id;
  assert.equal((await api(d.socket, 'POST', `/containers/${id}/start`)).status, 204);
  const pidOf = async () => (JSON.parse((await api(d.socket, 'GET', `/containers/${id}/json`)).body) as { State: { Pid: number } }).State.Pid;
  const pid = await pidOf();
  assert.ok(pid > 0);

  await d.kill9();
  await d.restart();
  assert.equal(await pidOf(), pid, 'the same shell, re-adopted');

  const sock = await hijack(d.socket, `/v1.45/containers/${id}/attach?stream=1&stdin=1&stdout=1&stderr=1`);
  let out = '';
  sock.on('data', (c: Buffer) => { out += c.toString('utf8'); });
  assert.equal((await api(d.socket, 'POST', `/containers/${id}/resize?h=33&w=101`)).status, 200);
  sock.write('echo alive-$((20+22)); stty size\n');
  const answered = await waitFor(() => out.includes('alive-42') && /\b33 101\b/.test(out), 10_000, 50);
  assert.ok(answered, `the shell answers through the new daemon: ${JSON.stringify(out)}`);
  const ended = new Promise<void>((resolve) => sock.on('close', () => resolve()));
  sock.write('exit 5\n');
  await ended;
  const st = await waitFor(async () => {
    const s = (JSON.parse((await api(d.socket, 'GET', `/containers/${id}/json`)).body) as { State: { Status: string; ExitCode: number } }).State;
    return s.Status === 'exited' ? s : undefined;
  }, 10_000, 100);
  assert.ok(st, 'the container exits');
  assert.equal(st!.ExitCode, 5);
  assert.equal((await api(d.socket, 'DELETE', `/containers/${id}`)).status, 204);
});
