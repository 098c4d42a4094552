// The Engine API v1.45 spec, compacted to JSON by scripts/gen-api-schema.py (assets/), loaded once. Shared
// by the body decoder (src/core/json-body.ts) and tests that walk the spec's fields.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { BodyDecoder, type ApiSchema, type SchemaNode } from '../core/json-body.js';

export type { ApiSchema, SchemaNode };

export const API_SCHEMA_FILE = 'engine-api-v1.45.schema.json';

/** The Go struct moby decodes each body into (its name appears in type errors). */
export const BODY_GO_STRUCT: Record<string, string> = {
  'POST /containers/create': 'ContainerConfigWrapper',
  'POST /containers/{}/update': 'UpdateConfig',
  'POST /containers/{}/exec': 'ExecOptions',
  'POST /exec/{}/start': 'ExecStartOptions',
  'POST /networks/create': 'CreateRequest',
  'POST /networks/{}/connect': 'ConnectOptions',
  'POST /networks/{}/disconnect': 'DisconnectOptions',
  'POST /commit': 'Config',
  'POST /volumes/create': 'CreateOptions',
};

let cached: ApiSchema | undefined;

/** The compacted spec (works from src/api and dist/src/api: walks up to the repo's assets/). */
export function loadApiSchema(): ApiSchema {
  if (cached) return cached;
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 5; i++) {
    const f = path.join(dir, 'assets', API_SCHEMA_FILE);
    if (fs.existsSync(f)) {
      cached = JSON.parse(fs.readFileSync(f, 'utf8')) as ApiSchema;
      return cached;
    }
    dir = path.dirname(dir);
  }
  throw new Error(`assets/${API_SCHEMA_FILE} not found`);
}

let decoder: BodyDecoder | undefined;
export function bodyDecoder(): BodyDecoder {
  return (decoder ??= new BodyDecoder(loadApiSchema()));
}

/** A route's body decoder: Go's rules against the spec's schema, or the generic null rule when untyped. */
export function bodyDecoderFor(method: string, routePath: string): ((value: unknown) => unknown) | undefined {
  const d = bodyDecoder();
  const node = d.bodySchema(method, routePath.replace(/\{(\w+):[^}]*\}/g, '{$1}'));
  if (!node) return undefined;
  const key = `${method.toUpperCase()} ${routePath.replace(/\{[^}]*\}/g, '{}')}`;
  const root = BODY_GO_STRUCT[key] ?? 'body';
  return (value) => d.decode(value, node, root);
}
