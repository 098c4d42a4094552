// Why a container's or an exec's process could not be started, classified once where the runtime
// reports runc's error (moby translateContainerdStartErr); services read the kind, never the text.
import { SystemError } from '../errors.js';

export type StartFailureKind = 'not-found' | 'not-executable' | 'other';

/** runc's text for a failed exec of the process: the only place that reads it. */
export function classifyStartFailure(text: string): StartFailureKind {
  if (/executable file not found|no such file or directory|system cannot find the file specified/i.test(text)) return 'not-found';
  if (/permission denied|is a directory/i.test(text)) return 'not-executable';
  return 'other';
}

/** The runtime could not start the process; `failure` says why. */
export class StartFailedError extends SystemError {
  constructor(message: string, readonly failure: StartFailureKind = classifyStartFailure(message), options?: { cause?: unknown }) {
    super(message, options);
  }
}

/**
 * The kind of a start's failure: the runtime's classification, or for an error of berthd's own
 * preparation (a missing device node, a bind source) its errno, along the cause chain. A string is
 * runc's own text (as the runtime sees it).
 */
export function startFailureOf(err: unknown): StartFailureKind {
  if (typeof err === 'string') return classifyStartFailure(err);
  for (let e: unknown = err, depth = 0; e && depth < 8; e = (e as { cause?: unknown }).cause, depth++) {
    if (e instanceof StartFailedError) return e.failure;
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return 'not-found';
    if (code === 'EACCES' || code === 'EISDIR') return 'not-executable';
  }
  return 'other';
}
