/**
 * "No setting is taken and ignored", for the CLI: every flag a `berth` command declares must be read by
 * the code (a declared flag that nothing reads is parsed and dropped). The check reads the CLI's sources:
 * a flag counts as used when some code reads it by name (`str(p, 'x')`, `p.flags.x`, `p.changed.has('x')`...),
 * beyond its declaration in a flag table.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

function repoRoot(): string {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  while (!fs.existsSync(path.join(dir, 'package.json'))) dir = path.dirname(dir);
  return dir;
}

function sources(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? sources(path.join(dir, e.name)) : e.name.endsWith('.ts') ? [path.join(dir, e.name)] : []);
}

const esc = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

test('every flag the CLI declares is read by some code', async () => {
  const root = repoRoot();
  const files = sources(path.join(root, 'src', 'cli'));
  const text = files.map((f) => fs.readFileSync(f, 'utf8')).join('\n');
  // declarations look like `{ name: 'x', ...` ; everything else that names the flag is a use
  const code = text.replace(/\{\s*name:\s*(['"])[^'"]+\1/g, '{');
  const { listCommandSpecs } = await import('../../src/cli/main.js');
  const specs = await listCommandSpecs();
  assert.ok(specs.length > 40, `${specs.length} commands`);
  const unused: string[] = [];
  for (const spec of specs) {
    for (const f of spec.flags) {
      const camel = f.name.replace(/-([a-z])/g, (_m, c: string) => c.toUpperCase());
      const used = new RegExp(`'${esc(f.name)}'|\\.${esc(camel)}\\b|"${esc(f.name)}"`).test(code);
      if (!used) unused.push(`${spec.path || '(global)'} --${f.name}`);
    }
  }
  assert.deepEqual(unused, [], 'flags declared and never read: act on them or refuse them with an error');
});
