import { createRequire } from 'node:module';

/**
 * Loads a CommonJS package with require(). Why not `import`: the first ESM import of a CommonJS package
 * makes Node instantiate cjs-module-lexer (WebAssembly) to find its named exports, ~9 MB of RSS kept for
 * the daemon's lifetime (measured: 67 → 58 MB for berthd's packages). Types come from `typeof import()`.
 */
export const requireCjs = createRequire(import.meta.url);

/**
 * A CommonJS package loaded at its first use rather than at start: berthd idles without tar-stream or
 * dns-packet until an archive or a DNS server needs them (each
 * costs 1-9 MB of RSS once loaded, docs/performance.md "Memory"). Property reads go to the package.
 */
export function lazyCjs<T extends object>(id: string): T {
  let mod: T | undefined;
  const load = (): T => (mod ??= requireCjs(id) as T);
  return new Proxy({} as T, {
    get: (_t, k) => Reflect.get(load(), k),
    has: (_t, k) => Reflect.has(load(), k),
  });
}
