/** How an error reads on the terminal (docker's wording). */
import { DaemonUnreachableError, EngineApiError } from '../client/engine-client.js';

export function reportErrorText(e: unknown): string {
  if (e instanceof EngineApiError) return `Error response from daemon: ${e.message}`;
  if (e instanceof DaemonUnreachableError) return e.message;
  return (e as Error)?.message ?? String(e);
}
