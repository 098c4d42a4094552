#!/usr/bin/env node
// Bundles berthd into dist/berthd.mjs (below), and the compiled CLI (dist/src/cli/main.js and everything it imports, command modules included) into
// one CommonJS file, dist/berth.cjs, which bin/berth runs: one file to read and compile instead of ~40 ES
// modules through the ESM loader. npm packages stay outside (none is on the CLI's path today). Run after
// tsc (`npm run build` does both); removes the V8 code cache of the previous bundle (bin/berth writes it
// anew on the next run).
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

let build;
try {
  ({ build } = await import('esbuild'));
} catch {
  console.error('bundle-cli: esbuild is missing from node_modules (a devDependency): run `npm ci`');
  process.exit(1);
}

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const out = path.join(root, 'dist', 'berth.cjs');
fs.rmSync(`${out}.cache`, { force: true });
await build({
  entryPoints: [path.join(root, 'dist', 'src', 'cli', 'main.js')],
  outfile: out,
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'cjs',
  packages: 'external',
  logLevel: 'warning',
});

// berthd in one ES module, dist/berthd.mjs, which bin/berthd runs: ~200 ES modules cost the daemon ~5 MB of
// resident memory for as long as it runs (module records, their loader state and source texts), and the
// bundle keeps import.meta.url (its createRequire and the walk up to assets/ work from dist/ as from dist/src).
await build({
  entryPoints: [path.join(root, 'dist', 'src', 'main', 'berthd.js')],
  outfile: path.join(root, 'dist', 'berthd.mjs'),
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'esm',
  packages: 'external',
  logLevel: 'warning',
});
