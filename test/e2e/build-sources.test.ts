// Where COPY/ADD take their owners and sources from, built with the real docker CLI (classic API)
// against berthd: --chown by name from the image's account files.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startDaemon, type Daemon } from '../helpers/daemon.js';
import { berth, docker, show, type CliResult } from '../helpers/cli.js';
import { busyboxTar } from '../helpers/fixtures.js';

let d: Daemon;
let root: string;
const env = () => ({ ...d.env, DOCKER_BUILDKIT: '0' });

async function ok(r: Promise<CliResult>): Promise<CliResult> {
  const x = await r;
  assert.equal(x.code, 0, show(x));
  return x;
}

function context(name: string, lines: string[], files: Record<string, string> = {}): string {
  const p = path.join(root, name);
  fs.mkdirSync(p, { recursive: true });
  fs.writeFileSync(path.join(p, 'Dockerfile'), lines.join('\n') + '\n');
  for (const [f, body] of Object.entries(files)) fs.writeFileSync(path.join(p, f), body);
  return p;
}

const build = (args: string[]) => docker(env(), ['build', ...args], { timeoutMs: 120_000 });
const sh = async (image: string, script: string) => (await ok(berth(d.env, ['run', '--rm', image, 'sh', '-c', script]))).stdout;

before(async () => {
  d = await startDaemon();
  await ok(berth(d.env, ['import', '--change', 'CMD ["sh"]', await busyboxTar(), 'busybox:local'], { timeoutMs: 60_000 }));
  root = fs.mkdtempSync(path.join(os.tmpdir(), 'bt-bsrc-'));
});

after(async () => {
  if (root) fs.rmSync(root, { recursive: true, force: true });
  if (!d) return;
  const leftovers = await d.cleanup();
  if (leftovers.length) console.error(`build-sources: swept leftovers: ${leftovers.join(', ')}`);
});

test('COPY/ADD --chown by name: resolved from the image\'s /etc/passwd and /etc/group, also from a later layer', async () => {
  const ctx = context('chown', [
    'FROM busybox:local',
    'COPY --chown=app f /f1',
    'COPY --chown=app:nogroup f /f2',
    'ADD --chown=nobody:app f /f3',
    'RUN echo "svc:x:555:556::/:/bin/sh" >> /etc/passwd && echo "svcgrp:x:557:" >> /etc/group',
    'ARG WHO=svc',
    'COPY --chown=${WHO}:svcgrp f /f4',
  ], { f: 'data\n' });
  await ok(build(['-t', 'chown:names', ctx]));
  assert.equal(await sh('chown:names', 'stat -c "%u:%g %n" /f1 /f2 /f3 /f4'), '1000:1000 /f1\n1000:65534 /f2\n65534:1000 /f3\n555:557 /f4\n');
});

test('an unknown --chown name fails the build in the classic builder\'s words', async () => {
  for (const [spec, message] of [
    ['bob', "can't find uid for user bob: no such user: bob"],
    ['nobody', "can't find gid for group nobody: no such group: nobody"],
    ['root:staff', "can't find gid for group staff: no such group: staff"],
  ]) {
    const ctx = context(`bad-${spec.replace(':', '-')}`, ['FROM busybox:local', `COPY --chown=${spec} f /f`], { f: 'x' });
    const r = await build([ctx]);
    assert.notEqual(r.code, 0, show(r));
    assert.ok(r.stderr.includes(message), show(r));
  }
  const scratch = context('bad-scratch', ['FROM scratch', 'COPY --chown=app f /f'], { f: 'x' });
  const r = await build([scratch]);
  assert.notEqual(r.code, 0, show(r));
  assert.match(r.stderr, /can't find uid for user app: open \/etc\/passwd: no such file or directory/, show(r));
});
