// Node built-in modules loaded on first use, not at start: the CLI starts for every command, and
// node:https (+ tls), node:crypto and node:child_process cost it ~6 ms together while most commands
// never touch them. Works in the ES modules (tsc) and in the CommonJS bundle alike.
import { createRequire } from 'node:module';

const requireBuiltin = createRequire('/');

/** A getter for the built-in module `name` (e.g. 'node:https'), loaded at the first call. */
export function lazyBuiltin<T>(name: string): () => T {
  let mod: T | undefined;
  return () => (mod ??= requireBuiltin(name) as T);
}
