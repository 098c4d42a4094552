// Pure helpers over package-lock.json (v3): which optionalDependencies have no entry of their own.
// Used by scripts/fix-lock.mjs and by test/unit/lockfile.test.ts.

/** @returns {{key: string, name: string, version: string}[]} */
export function missingOptionalEntries(lock) {
  const out = [];
  for (const [key, entry] of Object.entries(lock.packages ?? {})) {
    for (const [name, version] of Object.entries(entry.optionalDependencies ?? {})) {
      // npm resolves a dependency from the nearest node_modules upwards; the flat layout is all we use.
      const nested = `${key ? key + '/' : ''}node_modules/${name}`;
      const top = `node_modules/${name}`;
      if (!lock.packages[nested] && !lock.packages[top]) out.push({ key: top, name, version });
    }
  }
  return out;
}

/** The os/cpu/libc an napi-rs style platform package name implies (`foo-linux-arm64-musl`), or undefined. */
export function platformOf(name) {
  const m = /-(darwin|linux|win32|freebsd|android)-(x64|ia32|arm64|arm|riscv64|s390x|ppc64)(?:-(gnu|musl|gnueabihf|msvc|eabi))?$/.exec(name);
  if (!m) return undefined;
  const r = { os: [m[1]], cpu: [m[2]] };
  if (m[3] === 'musl') r.libc = ['musl'];
  else if (m[3] === 'gnu' || m[3] === 'gnueabihf') r.libc = ['glibc'];
  return r;
}
