import fs from 'node:fs';
import type { RegistryAuth } from './server.js';

/** `berth registry serve --config FILE`: JSON; unknown keys are refused, never ignored. */
export interface RegistryConfig {
  readOnly: boolean;
  auth?: RegistryAuth;
}

export function loadRegistryConfig(file: string | undefined): RegistryConfig {
  if (!file) return { readOnly: false };
  let doc: Record<string, unknown>;
  try {
    doc = JSON.parse(fs.readFileSync(file, 'utf8')) as Record<string, unknown>;
  } catch (err) {
    throw new Error(`registry config ${file}: ${(err as Error).message}`);
  }
  for (const k of Object.keys(doc)) {
    if (k !== 'readOnly') throw new Error(`registry config ${file}: unknown key ${JSON.stringify(k)}`);
  }
  if (doc.readOnly !== undefined && typeof doc.readOnly !== 'boolean') throw new Error(`registry config ${file}: readOnly must be a boolean`);
  return { readOnly: doc.readOnly === true };
}
