// POST /containers/{id}/attach with logs=1&stream=1 while the client reads slowly: output and the
// container's exit that happen during the log replay must reach the client afterwards, and the hijacked
// stream must end (it used to hang: the exit arrived before anyone listened).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import type { Duplex } from 'node:stream';
import { api, hijack, startDaemon, waitFor, type Daemon } from '../helpers/daemon.js';
import { docker, show } from '../helpers/cli.js';
import { busyboxTar } from '../helpers/fixtures.js';

const IMG = 'busybox:attachreplay';
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

/** Payloads of a multiplexed stream (8-byte headers), concatenated. */
function demux(buf: Buffer): string {
  let out = '';
  for (let i = 0; i + 8 <= buf.length;) {
    const n = buf.readUInt32BE(i + 4);
    out += buf.subarray(i + 8, i + 8 + n).toString('utf8');
    i += 8 + n;
  }
  return out;
}

test('attach logs=1&stream=1: what the container says and its exit during a slow replay still arrive', async () => {
  const pad = 'x'.repeat(90);
  const script = `i=0; while [ $i -lt 6000 ]; do echo line-$i-${pad}; i=$((i+1)); done; sleep 2; echo LAST; sleep 1`;
  const r = await api(d.socket, 'POST', '/containers/create?name=replay', { Image: IMG, Cmd: ['sh', '-c', script], HostConfig: { NetworkMode: 'none' } });
  assert.equal(r.status, 201, r.body);
  const id = (JSON.parse(r.body) as { Id: string }).Id;
  assert.equal((await api(d.socket, 'POST', `/containers/${id}/start`)).status, 204);
  const logged = await waitFor(async () => (await api(d.socket, 'GET', `/containers/${id}/logs?stdout=1&tail=1`)).body.includes('line-5999'), 15_000, 50);
  assert.ok(logged, 'the container wrote its lines');

  const sock = await hijack(d.socket, `/v1.45/containers/${id}/attach?logs=1&stream=1&stdout=1&stderr=1`);
  sock.pause(); // ~600 kB of replay: the server blocks on a full socket while LAST and the exit happen
  await new Promise((res) => setTimeout(res, 4000));
  const chunks: Buffer[] = [];
  const ended = new Promise<boolean>((resolve) => {
    sock.on('end', () => resolve(true));
    sock.on('close', () => resolve(true));
    setTimeout(() => resolve(false), 15_000);
  });
  sock.on('data', (c: Buffer) => chunks.push(c));
  sock.resume();
  const didEnd = await ended;
  sock.destroy();
  const text = demux(Buffer.concat(chunks));
  assert.ok(text.includes(`line-0-${pad}\n`) && text.includes(`line-5999-${pad}\n`), 'the replay is complete');
  assert.ok(text.includes('LAST\n'), `what the container said during the replay arrives (tail: ${JSON.stringify(text.slice(-200))})`);
  assert.ok(didEnd, 'the stream ends once the container has exited');
  const st = JSON.parse((await api(d.socket, 'GET', `/containers/${id}/json`)).body) as { State: { Status: string } };
  assert.equal(st.State.Status, 'exited');
  assert.equal((await api(d.socket, 'DELETE', `/containers/${id}`)).status, 204);
});

test('attach logs=1&stream=0 of a finished container returns its logs and ends (hijacked and plain)', async () => {
  const r = await api(d.socket, 'POST', '/containers/create?name=finished', { Image: IMG, Cmd: ['sh', '-c', 'echo out-1; sleep 0.2; echo err-1 >&2; sleep 0.2; echo out-2'], HostConfig: { NetworkMode: 'none' } });
  assert.equal(r.status, 201, r.body);
  const id = (JSON.parse(r.body) as { Id: string }).Id;
  assert.equal((await api(d.socket, 'POST', `/containers/${id}/start`)).status, 204);
  assert.equal(JSON.parse((await api(d.socket, 'POST', `/containers/${id}/wait`)).body).StatusCode, 0);

  const read = (sock: Duplex) => new Promise<{ data: Buffer; ended: boolean }>((resolve) => {
    const chunks: Buffer[] = [];
    const t = setTimeout(() => { sock.destroy(); resolve({ data: Buffer.concat(chunks), ended: false }); }, 10_000);
    sock.on('data', (c: Buffer) => chunks.push(c));
    sock.on('end', () => { clearTimeout(t); resolve({ data: Buffer.concat(chunks), ended: true }); });
  });
  const up = await read(await hijack(d.socket, `/v1.45/containers/${id}/attach?logs=1&stream=0&stdout=1`));
  assert.ok(up.ended, 'the hijacked stream ends after the replay');
  assert.equal(demux(up.data), 'out-1\nout-2\n', 'stdout only, as asked');

  // Without an upgrade (a plain POST): a 200 whose body is the multiplexed log, ended by the server.
  const plain = await api(d.socket, 'POST', `/v1.45/containers/${id}/attach?logs=1&stream=0&stdout=1&stderr=1`, undefined, 10_000);
  assert.equal(plain.status, 200);
  assert.equal(plain.headers['content-type'], 'application/vnd.docker.multiplexed-stream');
  assert.equal(demux(Buffer.from(plain.body, 'utf8')), 'out-1\nerr-1\nout-2\n');
  assert.equal((await api(d.socket, 'DELETE', `/containers/${id}`)).status, 204);
});
