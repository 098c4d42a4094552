// What a RUN with heredocs runs, as buildkit's dockerfile2llb does it: a RUN that is only `<<EOF`
// runs the body through the shell, or, when the body starts with `#!`, as a script file mounted at
// /dev/pipes/<name> (so its interpreter line counts); any other RUN with heredocs hands the shell the
// line and the bodies with their terminators, and the shell does the heredocs itself. Pure.
import type { Heredoc } from './parser.js';
import type { EnvLookup } from './shell-lex.js';
import { processWord } from './shell-lex.js';

/** Where a `#!` heredoc script is mounted inside the RUN container (buildkit's path). */
export const PIPES_DIR = '/dev/pipes';

export interface HeredocRun {
  /** The argument after the shell (`sh -c <arg>`). */
  arg: string;
  /** A script to mount at PIPES_DIR/<name> with mode 0755, for a `#!` body. */
  script?: { name: string; data: string };
}

/** buildkit's ParseHeredoc on one word: the word is exactly `[n]<<[-]NAME`, NAME a single word. */
function soleHeredocName(command: string): string | undefined {
  const m = /^(\d*)<<(-?)([^<]*)$/.exec(command.trim());
  if (!m || m[3] === '' || /\s/.test(m[3].replace(/"[^"]*"|'[^']*'/g, 'x'))) return undefined;
  return m[3].replace(/["'\\]/g, '');
}

/** The shell argument for a shell-form RUN with heredocs (bodies already tab-stripped for `<<-`). */
export function heredocRun(command: string, heredocs: readonly Heredoc[]): HeredocRun {
  const sole = heredocs.length >= 1 ? soleHeredocName(command) : undefined;
  const first = heredocs[0];
  if (sole !== undefined && first && first.name === sole) {
    if (first.content.startsWith('#!')) return { arg: `${PIPES_DIR}/${first.name}`, script: { name: first.name, data: first.content } };
    return { arg: first.content };
  }
  let full = command;
  for (const h of heredocs) full += `\n${h.content}${h.name}`;
  return { arg: full };
}

/**
 * A COPY/ADD heredoc body with the build's variables expanded, unless its delimiter was quoted.
 * Quotes in the body are plain text; only `$` forms and the escape character act (buildkit's
 * ExpandRaw with SkipProcessQuotes).
 */
export function heredocFileContent(h: { content: string; expand: boolean }, env: EnvLookup, escape = '\\'): string {
  return h.expand ? processWord(h.content, env, { skipProcessQuotes: true, escape }) : h.content;
}
