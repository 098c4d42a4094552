#!/usr/bin/env node
// Builds berth's native addon (native/seqpacket: the SEQPACKET reader conmon's attach socket needs) with
// the node-gyp that npm bundles, against this Node's own headers (no download). A no-op when the
// .node file is newer than its sources. `npm run build`, scripts/run-tests.mjs and setup.sh run it.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const dir = path.join(root, 'native', 'seqpacket');
const out = path.join(dir, 'build', 'Release', 'seqpacket.node');
const sources = ['seqpacket.c', 'binding.gyp'].map((f) => path.join(dir, f));

const mtime = (f) => { try { return fs.statSync(f).mtimeMs; } catch { return -1; } };
if (mtime(out) > Math.max(...sources.map(mtime))) process.exit(0);

/** npm's own node-gyp: next to the npm running us, else next to the global npm. */
function nodeGyp() {
  const candidates = [];
  if (process.env.npm_execpath) candidates.push(path.join(path.dirname(process.env.npm_execpath), '..', 'node_modules', 'node-gyp', 'bin', 'node-gyp.js'));
  const prefix = path.resolve(path.dirname(process.execPath), '..');
  candidates.push(path.join(prefix, 'lib', 'node_modules', 'npm', 'node_modules', 'node-gyp', 'bin', 'node-gyp.js'));
  const npmRoot = spawnSync('npm', ['root', '-g'], { encoding: 'utf8' });
  if (npmRoot.status === 0) candidates.push(path.join(npmRoot.stdout.trim(), 'npm', 'node_modules', 'node-gyp', 'bin', 'node-gyp.js'));
  return candidates.find((c) => fs.existsSync(c));
}

const gyp = nodeGyp();
if (!gyp) {
  console.error('build-native: node-gyp (bundled with npm) not found; it builds native/seqpacket');
  process.exit(1);
}
// Node's headers as installed with it (Debian's nodejs, nodesource, a tarball: <prefix>/include/node)
const prefix = path.resolve(path.dirname(process.execPath), '..');
const args = [gyp, 'rebuild', '--silent'];
if (fs.existsSync(path.join(prefix, 'include', 'node', 'node_api.h'))) args.push(`--nodedir=${prefix}`);
const r = spawnSync(process.execPath, args, { cwd: dir, stdio: 'inherit' });
if (r.status !== 0) {
  console.error('build-native: building native/seqpacket failed (it needs a C compiler, make and python3)');
  process.exit(r.status ?? 1);
}
