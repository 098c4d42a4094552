/**
 * The two environment merges Docker does, which differ on purpose (docs/conventions.md):
 * - at create, the image's Env is completed with the user's: by name, the user's entry wins (moby's `merge`
 *   keeps the same set; berth lists the image's entries first);
 * - at exec (and for berthd's own additions such as HOME), overrides are applied to a finished environment
 *   (moby `ReplaceOrAppendEnvValues`): a name already there is replaced in place, a new one appended, and a
 *   bare name (the client had no value for it) removes the variable.
 */

function envKey(e: string): string {
  const i = e.indexOf('=');
  return i < 0 ? e : e.slice(0, i);
}

/**
 * Create: the image's Env with the user's laid over it, by name; a name the user gives moves to the user's
 * place (after the image's own), so a container's Env reads image defaults first, then what was asked for.
 */
export function completeEnvFromImage(imageEnv: string[], userEnv: string[]): string[] {
  const out = new Map<string, string>();
  for (const e of [...imageEnv, ...userEnv]) {
    const k = envKey(e);
    out.delete(k);
    out.set(k, e);
  }
  return [...out.values()];
}

/** Exec: overrides replace in place or append; a bare name unsets. */
export function replaceOrAppendEnv(base: string[], overrides: string[]): string[] {
  const out: (string | undefined)[] = [...base];
  const at = new Map<string, number>();
  out.forEach((e, i) => at.set(envKey(e!), i));
  for (const e of overrides) {
    const key = envKey(e);
    const i = at.get(key);
    if (!e.includes('=')) {
      if (i !== undefined) out[i] = undefined;
      continue;
    }
    if (i !== undefined && out[i] !== undefined) out[i] = e;
    else { at.set(key, out.length); out.push(e); }
  }
  return out.filter((e): e is string => e !== undefined);
}
