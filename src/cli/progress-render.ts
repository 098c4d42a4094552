/**
 * Draws a JSON-message stream (pull, push, load) as the docker CLI's jsonmessage does: on a terminal one
 * line per layer id, rewritten in place (cursor up, clear line) as its status and progress bar change;
 * otherwise plain lines, progress updates left out. An in-band error ends it with a StatusError.
 */
import type { Readable, Writable } from 'node:stream';
import { jsonMessages } from '../client/engine-client.js';
import { StatusError } from './context.js';

interface Message {
  status?: string; id?: string; progress?: string; progressDetail?: { current?: number; total?: number };
  stream?: string; aux?: unknown; error?: string; errorDetail?: { message?: string };
}

function lineOf(m: Message, withProgress: boolean): string {
  let line = m.id ? `${m.id}: ` : '';
  if (m.status) line += m.status;
  if (withProgress && m.progress) line += ` ${m.progress}`;
  return line;
}

/** Render `src` to `out`; `tty` selects the in-place layout. Resolves with the aux values seen. */
export async function renderJsonMessages(src: Readable, out: Writable, tty: boolean): Promise<unknown[]> {
  const aux: unknown[] = [];
  const rows = new Map<string, number>();
  let total = 0;
  for await (const m of jsonMessages<Message>(src)) {
    if (m.errorDetail || m.error) throw new StatusError(m.errorDetail?.message ?? m.error ?? 'unknown error', 1);
    if (m.aux !== undefined) { aux.push(m.aux); if (!m.status) continue; }
    if (m.stream !== undefined) { out.write(m.stream); continue; }
    const isProgress = m.progressDetail !== undefined && m.progress !== undefined;
    if (!tty) {
      if (!isProgress && (m.status || m.id)) out.write(`${lineOf(m, false)}\n`);
      continue;
    }
    if (!m.id) { out.write(`${lineOf(m, true)}\n`); total++; continue; }
    let row = rows.get(m.id);
    if (row === undefined) {
      row = total++;
      rows.set(m.id, row);
      out.write(`${lineOf(m, true)}\n`);
      continue;
    }
    const up = total - row;
    out.write(`\x1b[${up}A\x1b[2K\r${lineOf(m, true)}\r\x1b[${up}B`);
  }
  return aux;
}
