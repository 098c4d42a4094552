// Shared by the bench scripts: the e2e test helpers (from the build), which start private berthd instances
// and make the busybox image.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const helpers = path.join(root, 'dist', 'test', 'helpers');
if (!fs.existsSync(path.join(helpers, 'daemon.js'))) {
  console.error('dist/ is missing: run `npm run build` (or ./scripts/setup.sh) first');
  process.exit(1);
}

/** dist/test/helpers/daemon.js, fixtures.js and cli.js */
export const daemon = await import(path.join(helpers, 'daemon.js'));
export const fixtures = await import(path.join(helpers, 'fixtures.js'));
export const cli = await import(path.join(helpers, 'cli.js'));
