// daemon.json log-driver / log-opts against a real berthd and the real docker CLI: the daemon's defaults
// reach containers that set nothing (moby's merge), the local driver rotates, bad options are refused.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startDaemon, waitFor, type Daemon } from '../helpers/daemon.js';
import { docker, show } from '../helpers/cli.js';
import { busyboxTar } from '../helpers/fixtures.js';

const IMG = 'busybox:logcfg';
let d: Daemon;
let confDir: string;

before(async () => {
  confDir = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-logcfg-'));
  const conf = path.join(confDir, 'daemon.json');
  fs.writeFileSync(conf, JSON.stringify({ 'log-driver': 'local', 'log-opts': { 'max-size': '2k', 'max-file': '2' } }));
  d = await startDaemon({ args: ['-b', 'none', '--config-file', conf] }); // leave the default bridge alone
  const r = await docker(d.env, ['import', '--change', 'CMD ["sh"]', await busyboxTar(), IMG], { timeoutMs: 60_000 });
  assert.equal(r.code, 0, show(r));
});

after(async () => {
  const left = await d.cleanup();
  fs.rmSync(confDir, { recursive: true, force: true });
  assert.deepEqual(left, [], 'nothing of berth left behind');
});

test('the daemon\'s log driver and options apply to containers that set none', async () => {
  const info = await docker(d.env, ['info', '-f', '{{.LoggingDriver}}']);
  assert.equal(info.stdout.trim(), 'local', show(info));
  // ~12 kB over ~2.5 s: berthd rotates once a second at 2 kB, keeping two files
  const script = 'i=0; while [ $i -lt 250 ]; do echo line-$i-xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx; i=$((i+1)); sleep 0.01; done';
  const run = await docker(d.env, ['run', '-d', '--network', 'none', '--name', 'rot', IMG, 'sh', '-c', script]);
  assert.equal(run.code, 0, show(run));
  const id = run.stdout.trim();
  const lc = await docker(d.env, ['inspect', '-f', '{{json .HostConfig.LogConfig}}', 'rot']);
  assert.deepEqual(JSON.parse(lc.stdout), { Type: 'local', Config: { 'max-file': '2', 'max-size': '2k' } });
  const exited = await waitFor(async () => (await docker(d.env, ['inspect', '-f', '{{.State.Status}}', 'rot'])).stdout.trim() === 'exited', 30_000, 200);
  assert.ok(exited);
  const logs = await docker(d.env, ['logs', 'rot']);
  assert.equal(logs.code, 0, show(logs));
  const lines = logs.stdout.trim().split('\n');
  assert.equal(lines.at(-1), 'line-249-xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx');
  assert.ok(lines.length < 250, `rotation dropped the oldest lines (got ${lines.length})`);
  assert.ok(!lines.includes('line-0-xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx'));
  const files = fs.readdirSync(path.join(d.dataRoot, 'containers', id)).filter((f) => f.startsWith('ctr.log'));
  assert.ok(files.length <= 2, `at most max-file files: ${files.join(' ')}`);
  // a container that names another driver keeps its own (empty) options
  const other = await docker(d.env, ['create', '--log-driver', 'json-file', IMG, 'true']);
  assert.equal(other.code, 0, show(other));
  const olc = await docker(d.env, ['inspect', '-f', '{{json .HostConfig.LogConfig}}', other.stdout.trim()]);
  assert.deepEqual(JSON.parse(olc.stdout), { Type: 'json-file', Config: {} });
  // its own max-size wins over the daemon's; max-file still comes from the daemon
  const own = await docker(d.env, ['create', '--log-opt', 'max-size=5k', IMG, 'true']);
  const ownlc = await docker(d.env, ['inspect', '-f', '{{json .HostConfig.LogConfig}}', own.stdout.trim()]);
  assert.deepEqual(JSON.parse(ownlc.stdout), { Type: 'local', Config: { 'max-file': '2', 'max-size': '5k' } });
});

test('bad log options are refused at create with Docker\'s words', async () => {
  const bad = await docker(d.env, ['run', '--rm', '--log-opt', 'max-file=x', IMG, 'true']);
  assert.equal(bad.code, 125, show(bad));
  assert.match(bad.stderr, /invalid value for max-file: x/);
  const drv = await docker(d.env, ['create', '--log-driver', 'syslog', IMG, 'true']);
  assert.equal(drv.code, 1, show(drv)); // docker create exits 1 on a daemon error (run: 125)
  assert.match(drv.stderr, /no log driver named 'syslog' is registered/);
});

test('json-file: max-file without max-size is accepted (one file, never rotated); compress needs rotation (issue 8)', async () => {
  const r = await docker(d.env, ['run', '--rm', '--log-driver', 'json-file', '--log-opt', 'max-file=100', IMG, 'echo', 'kept']);
  assert.equal(r.code, 0, show(r));
  assert.equal(r.stdout, 'kept\n');
  const c = await docker(d.env, ['create', '--log-driver', 'json-file', '--log-opt', 'max-size=1m', '--log-opt', 'compress=true', IMG, 'true']);
  assert.equal(c.code, 1, show(c));
  assert.match(c.stderr, /compress cannot be true when max-file is less than 2 or max-size is not set/);
});

test('a daemon.json with an unknown log driver stops berthd at start', async () => {
  const conf = path.join(confDir, 'bad.json');
  fs.writeFileSync(conf, JSON.stringify({ 'log-driver': 'syslog' }));
  const { spawnSync } = await import('node:child_process');
  const { berthdBin } = await import('../helpers/daemon.js');
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'bt-bad-'));
  try {
    const r = spawnSync(berthdBin, ['--data-root', `${tmp}/data`, '--exec-root', `${tmp}/exec`, '-H', `unix://${tmp}/s.sock`, '-b', 'none', '--config-file', conf], { encoding: 'utf8', timeout: 30_000 });
    assert.equal(r.status, 1, r.stderr);
    assert.match(r.stderr, /no log driver named 'syslog' is registered/);
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
});
