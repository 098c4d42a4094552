import { createRequire } from 'node:module';

/**
 * Loads a CommonJS package with require(). Why not `import`: the first ESM import of a CommonJS package
 * makes Node instantiate cjs-module-lexer (WebAssembly) to find its named exports, ~9 MB of RSS kept for
 * the daemon's lifetime (measured: 67 → 58 MB for berthd's packages). Types come from `typeof import()`.
 */
export const requireCjs = createRequire(import.meta.url);
