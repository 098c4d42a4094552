#!/usr/bin/env node
// Makes package-lock.json acceptable to `npm ci` again after an `npm install`.
// Why: node-unix-socket names per-platform optionalDependencies of which only the linux-x64 ones are
// published; `npm install` silently leaves the unpublished ones out of the lock, and `npm ci` then refuses
// the lock as "out of sync". This adds an entry for each missing one, with the os/cpu/libc its napi-rs
// name implies, so npm ci skips it on this platform. Idempotent; prints what it added.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { missingOptionalEntries, platformOf } from './lock-check.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const file = path.join(root, 'package-lock.json');
const lock = JSON.parse(fs.readFileSync(file, 'utf8'));
const missing = missingOptionalEntries(lock);
for (const m of missing) {
  const p = platformOf(m.name);
  if (!p) { console.error(`fix-lock: cannot tell the platform of ${m.name}; add it by hand`); process.exit(1); }
  lock.packages[m.key] = { version: m.version, ...p, optional: true };
  console.log(`fix-lock: added ${m.key}@${m.version}`);
}
if (missing.length > 0) {
  const sorted = Object.fromEntries(Object.entries(lock.packages).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
  lock.packages = sorted;
  fs.writeFileSync(file, JSON.stringify(lock, null, 2) + '\n');
}
