// bin/berth runs the CLI from the one-file bundle with V8's code cache beside it, and falls back to the
// ES modules when the bundle is older than them. These run a copy of bin/berth over a copy of the build's
// bundle in a temp tree, so the checkout's own dist/ is never touched.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { repoRoot } from '../helpers/daemon.js';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-bundle-'));
after(() => fs.rmSync(tmp, { recursive: true, force: true }));

function tree(name: string): { root: string; bin: string; bundle: string; cache: string; main: string } {
  const root = path.join(tmp, name);
  fs.mkdirSync(path.join(root, 'bin'), { recursive: true });
  fs.mkdirSync(path.join(root, 'dist', 'src', 'cli'), { recursive: true });
  fs.writeFileSync(path.join(root, 'package.json'), '{"type":"module"}\n');
  for (const f of ['berth', 'package.json']) fs.copyFileSync(path.join(repoRoot, 'bin', f), path.join(root, 'bin', f));
  const bundle = path.join(root, 'dist', 'berth.cjs');
  fs.copyFileSync(path.join(repoRoot, 'dist', 'berth.cjs'), bundle);
  // a stand-in for the ES modules: it says which path ran
  const main = path.join(root, 'dist', 'src', 'cli', 'main.js');
  fs.writeFileSync(main, 'export async function main() { process.stdout.write("es modules\\n"); return 3; }\n');
  const old = new Date(Date.now() - 60_000);
  fs.utimesSync(main, old, old);
  return { root, bin: path.join(root, 'bin', 'berth'), bundle, cache: `${bundle}.cache`, main };
}

const berth = (bin: string, ...args: string[]) => spawnSync(process.execPath, [bin, ...args], { encoding: 'utf8', env: { ...process.env, BERTH_HOST: 'unix:///nonexistent.sock' } });

test('the bundle answers as the CLI does, and its first run leaves a code cache that later runs take', () => {
  const t = tree('fresh');
  const r = berth(t.bin, '--version');
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /^berth version /);
  assert.ok(fs.statSync(t.cache).size > 0, 'code cache written');
  const before = fs.statSync(t.cache).mtimeMs;
  const again = berth(t.bin, '--version');
  assert.deepEqual([again.status, again.stdout], [0, r.stdout]);
  assert.equal(fs.statSync(t.cache).mtimeMs, before, 'an accepted cache is not rewritten');
  // the exit code and stderr of a failing command come through the bundle as well
  const bad = berth(t.bin, 'no-such-command');
  assert.notEqual(bad.status, 0);
  assert.match(bad.stderr, /no-such-command/);
});

test('a corrupt or stale code cache is ignored and written anew', () => {
  const t = tree('corrupt');
  fs.writeFileSync(t.cache, Buffer.alloc(4096, 7));
  const r = berth(t.bin, '--version');
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /^berth version /);
  assert.notDeepEqual(fs.readFileSync(t.cache), Buffer.alloc(4096, 7));
  // a cache older than the bundle (a rebuild) is not even offered to V8, and is replaced
  const old = new Date(Date.now() - 120_000);
  fs.utimesSync(t.cache, old, old);
  assert.equal(berth(t.bin, '--version').status, 0);
  assert.ok(fs.statSync(t.cache).mtimeMs > old.getTime());
});

test('a bundle older than the compiled modules is not used: the ES modules run', () => {
  const t = tree('stale');
  const older = new Date(Date.now() - 120_000);
  fs.utimesSync(t.bundle, older, older);
  const r = berth(t.bin, 'ps');
  assert.deepEqual([r.status, r.stdout], [3, 'es modules\n']);
  assert.equal(fs.existsSync(t.cache), false);
});
