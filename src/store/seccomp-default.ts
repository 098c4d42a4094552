import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { DockerSeccompProfile } from '../core/seccomp.js';

let defaultProfile: DockerSeccompProfile | undefined;

/** moby's default profile, shipped as data in assets/ (read once); buildSpec takes it as input.defaultSeccomp. */
export function loadDefaultSeccompProfile(): DockerSeccompProfile {
  if (defaultProfile) return defaultProfile;
  // Works from src/store (ts sources) and dist/src/store (compiled): walk up to the repo's assets/.
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 5; i++) {
    const f = path.join(dir, 'assets', 'seccomp-default.json');
    if (fs.existsSync(f)) {
      defaultProfile = JSON.parse(fs.readFileSync(f, 'utf8')) as DockerSeccompProfile;
      return defaultProfile;
    }
    dir = path.dirname(dir);
  }
  throw new Error('assets/seccomp-default.json not found');
}
