// berth pull / berth push (and docker pull -a / push -a through berthd) against `berth registry`:
// --all-tags both ways, -q, plain output off a terminal.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startDaemon, type Daemon } from '../helpers/daemon.js';
import { berth, docker, show, type CliResult } from '../helpers/cli.js';
import { busyboxTar } from '../helpers/fixtures.js';
import { startRegistry, type TestRegistry } from '../helpers/registry.js';

let d: Daemon;
let reg: TestRegistry;
let tmp: string;

async function ok(cli: typeof berth, args: string[]): Promise<CliResult> {
  const r = await cli(d.env, args, { timeoutMs: 120_000 });
  assert.equal(r.code, 0, `${args.join(' ')} failed: ${show(r)}\n${d.logTail()}`);
  return r;
}
const tagsIn = async (repo: string) => ((await (await fetch(`${reg.base}/v2/${repo}/tags/list`)).json()) as { tags: string[] }).tags.sort();
const localTags = async (repo: string) => (await ok(berth, ['images', '--format', '{{.Tag}}', repo])).stdout.split('\n').filter(Boolean).sort();

before(async () => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-pushcli-'));
  reg = await startRegistry(path.join(tmp, 'reg'));
  d = await startDaemon({ args: ['-b', 'none'] });
  await ok(berth, ['import', await busyboxTar(), 'e2e/src:1']);
});

after(async () => {
  reg?.stop();
  if (d) await d.cleanup();
  fs.rmSync(tmp, { recursive: true, force: true });
});

test('berth push -a pushes every local tag; berth pull -a pulls every registry tag; -q prints the name', async () => {
  const repo = `${reg.host}/e2e/multi`;
  for (const t of ['a', 'b', 'c']) await ok(berth, ['tag', 'e2e/src:1', `${repo}:${t}`]);
  const push = await ok(berth, ['push', '-a', repo]);
  assert.match(push.stdout, new RegExp(`The push refers to repository \\[${repo.replace(/\./g, '\\.')}\\]`));
  assert.match(push.stdout, /a: digest: sha256:[a-f0-9]{64} size: \d+/);
  assert.match(push.stdout, /c: digest: sha256:/);
  assert.doesNotMatch(push.stdout, /\x1b\[/, 'no cursor movement off a terminal');
  assert.deepEqual(await tagsIn('e2e/multi'), ['a', 'b', 'c']);

  await ok(berth, ['rmi', `${repo}:a`, `${repo}:b`, `${repo}:c`]);
  const pull = await ok(berth, ['pull', '--all-tags', repo]);
  assert.match(pull.stdout, /Digest: sha256:/);
  assert.deepEqual(await localTags(repo), ['a', 'b', 'c']);

  await ok(berth, ['rmi', `${repo}:b`]);
  const q = await ok(berth, ['pull', '-q', `${repo}:b`]);
  assert.equal(q.stdout, `${repo}:b\n`);
  const bad = await berth(d.env, ['pull', '-a', `${repo}:b`]);
  assert.equal(bad.code, 1);
  assert.match(bad.stderr, /tag can't be used with --all-tags/);
  const missing = await berth(d.env, ['push', `${repo}:nosuch`]);
  assert.equal(missing.code, 1);
  assert.match(missing.stderr, /No such image|does not exist/);
});

test('docker push -a and docker pull -a through berthd (the requests the real CLI sends)', async () => {
  const repo = `${reg.host}/e2e/dock`;
  for (const t of ['x', 'y']) await ok(docker, ['tag', 'e2e/src:1', `${repo}:${t}`]);
  await ok(docker, ['push', '--all-tags', repo]);
  assert.deepEqual(await tagsIn('e2e/dock'), ['x', 'y']);
  await ok(docker, ['rmi', `${repo}:x`, `${repo}:y`]);
  const pull = await ok(docker, ['pull', '-a', repo]);
  assert.match(pull.stdout, /x: Pulling from e2e\/dock/);
  assert.match(pull.stdout, /y: Pulling from e2e\/dock/);
  assert.deepEqual(await localTags(repo), ['x', 'y']);
});
