// How the builder runs its steps: only the stages the target needs, RUN output while the step runs, a
// client that goes away cancels the running step and leaves nothing behind.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { conmonProcesses, mountsUnder, startDaemon, waitFor, type Daemon } from '../helpers/daemon.js';
import { berth, docker, show, spawnCli, type CliResult } from '../helpers/cli.js';
import { busyboxTar } from '../helpers/fixtures.js';

let d: Daemon;
let root: string;

async function ok(r: Promise<CliResult>): Promise<CliResult> {
  const x = await r;
  assert.equal(x.code, 0, show(x));
  return x;
}

function context(name: string, dockerfile: string): string {
  const p = path.join(root, name);
  fs.mkdirSync(p, { recursive: true });
  fs.writeFileSync(path.join(p, 'Dockerfile'), dockerfile);
  return p;
}

/** Everything the child writes to stdout, as it comes. */
function collect(child: ChildProcess): { text: () => string; exited: Promise<number | null> } {
  let out = '';
  child.stdout!.setEncoding('utf8').on('data', (s: string) => { out += s; });
  child.stderr!.setEncoding('utf8').on('data', (s: string) => { out += s; });
  return { text: () => out, exited: new Promise((r) => child.on('close', (code) => r(code))) };
}

before(async () => {
  d = await startDaemon();
  await ok(berth(d.env, ['import', '--change', 'CMD ["sh"]', await busyboxTar(), 'busybox:local'], { timeoutMs: 60_000 }));
  root = fs.mkdtempSync(path.join(os.tmpdir(), 'bt-bsteps-'));
});

after(async () => {
  if (root) fs.rmSync(root, { recursive: true, force: true });
  if (!d) return;
  const leftovers = await d.cleanup();
  if (leftovers.length) console.error(`build-steps: swept leftovers: ${leftovers.join(', ')}`);
});

test('stages the target does not need are not built (berth build and the docker CLI)', async () => {
  const ctx = context('stages', [
    'FROM busybox:local AS broken', 'RUN echo broken-stage-ran && exit 7',
    'FROM busybox:local AS dep', 'RUN echo dep > /dep',
    'FROM busybox:local', 'COPY --from=dep /dep /dep', 'CMD ["cat", "/dep"]', '',
  ].join('\n'));
  const b = await ok(berth(d.env, ['build', '-t', 'stages:b', ctx], { timeoutMs: 120_000 }));
  assert.doesNotMatch(b.stdout, /broken/, show(b));
  assert.match(b.stdout, /^Step 1\/5 : FROM busybox:local AS dep$/m);
  const v = await ok(docker({ ...d.env, DOCKER_BUILDKIT: '0' }, ['build', '-t', 'stages:d', ctx], { timeoutMs: 120_000 }));
  assert.doesNotMatch(v.stdout, /broken/, show(v));
  assert.equal((await ok(berth(d.env, ['run', '--rm', 'stages:d']))).stdout, 'dep\n');
});

test('RUN output reaches the client while the step still runs', async () => {
  const ctx = context('live', 'FROM busybox:local\nRUN echo first-line; while [ ! -e /go ]; do sleep 0.1; done; echo after-go\n');
  const child = spawnCli('berth', d.env, ['build', '--no-cache', ctx]);
  const c = collect(child);
  const id = await waitFor(() => (/^first-line$/m.test(c.text()) ? /Running in ([0-9a-f]{12})/.exec(c.text())?.[1] : undefined), 60_000) as string;
  assert.doesNotMatch(c.text(), /^after-go$/m, 'the step is still waiting');
  // only now does the step go on: its first line was shown while it was running
  await ok(berth(d.env, ['exec', id, 'touch', '/go']));
  assert.equal(await c.exited, 0, c.text());
  assert.match(c.text(), /^first-line\n(.|\n)*^after-go\n(.|\n)*Successfully built/m);
});

test('a client that disconnects mid-build cancels the running step and cleans up', async () => {
  const imagesBefore = (await ok(berth(d.env, ['images', '-a', '-q']))).stdout;
  const layersDir = path.join(d.dataRoot, 'layers');
  const layersBefore = fs.existsSync(layersDir) ? fs.readdirSync(layersDir).sort() : [];
  const ctx = context('cancel', 'FROM busybox:local\nRUN echo started-long-step; sleep 300\nRUN echo never\n');
  const child = spawnCli('berth', d.env, ['build', '--no-cache', ctx]);
  const c = collect(child);
  await waitFor(() => /^started-long-step$/m.test(c.text()), 60_000);
  const ps = (await ok(berth(d.env, ['ps', '-aq']))).stdout.trim();
  assert.match(ps, /^[0-9a-f]{12}$/, 'the step runs in a container');
  child.kill('SIGKILL');
  await c.exited;
  await waitFor(async () => (await ok(berth(d.env, ['ps', '-aq']))).stdout === '', 30_000);
  await waitFor(() => conmonProcesses(ps).length === 0, 15_000);
  assert.deepEqual(mountsUnder(d.dataRoot), [], 'no rootfs mount left');
  assert.equal((await ok(berth(d.env, ['images', '-a', '-q']))).stdout, imagesBefore, 'no image from the cancelled step');
  assert.deepEqual(fs.existsSync(layersDir) ? fs.readdirSync(layersDir).sort() : [], layersBefore, 'no layer from the cancelled step');
  assert.deepEqual(fs.readdirSync(path.join(d.dataRoot, 'tmp')).filter((f) => f.startsWith('build-')), [], 'the context dir is gone');
  assert.doesNotMatch(c.text(), /^never$/m);
});
