#!/usr/bin/env node
// Runs the compiled test files (dist/test/**/*.test.js) with node's test runner.
// `node scripts/run-tests.mjs [unit|e2e] [filter]`; builds first so a fresh checkout works.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
// the native addon first (a no-op when built): berthd cannot attach without it
const native = spawnSync(process.execPath, [path.join(root, 'scripts', 'build-native.mjs')], { cwd: root, stdio: 'inherit' });
if (native.status !== 0) process.exit(native.status ?? 1);
const build = spawnSync('npx', ['tsc', '-p', 'tsconfig.json'], { cwd: root, stdio: 'inherit' });
if (build.status !== 0) process.exit(build.status ?? 1);
// bin/berth runs the one-file bundle: make it from this build, so the tests drive what users run
const bundle = spawnSync(process.execPath, [path.join(root, 'scripts', 'bundle-cli.mjs')], { cwd: root, stdio: 'inherit' });
if (bundle.status !== 0) process.exit(bundle.status ?? 1);

const kind = process.argv[2];
const filter = process.argv[3];
const dirs = kind ? [kind] : ['unit', 'e2e'];
const files = [];
for (const d of dirs) {
  const dir = path.join(root, 'dist', 'test', d);
  if (!fs.existsSync(dir)) continue;
  for (const f of fs.readdirSync(dir).sort()) {
    if (f.endsWith('.test.js') && (!filter || f.includes(filter))) files.push(path.join(dir, f));
  }
}
if (files.length === 0) { console.error('no test files found'); process.exit(1); }
// e2e files share the machine's runc/cgroups: run files one at a time.
const r = spawnSync(process.execPath, ['--test', '--test-concurrency=1', '--test-force-exit', '--test-timeout=600000', '--test-reporter=spec', ...files],
  { cwd: root, stdio: 'inherit', env: { ...process.env } });
process.exit(r.status ?? 1);
