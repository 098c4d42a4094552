import { InvalidParameterError } from '../errors.js';

/** Docker's detach key spec ("ctrl-p,ctrl-q", "a,ctrl-@") → bytes. */
export function parseDetachKeys(spec: string | undefined | null): Buffer {
  const s = (spec ?? '').trim() || 'ctrl-p,ctrl-q';
  const out: number[] = [];
  for (const part of s.split(',')) {
    const k = part.trim().toLowerCase();
    if (k.length === 1) { out.push(k.charCodeAt(0)); continue; }
    const m = /^ctrl-(.)$/.exec(k);
    if (m) {
      const c = m[1]!;
      if (c >= 'a' && c <= 'z') { out.push(c.charCodeAt(0) - 96); continue; }
      const specials: Record<string, number> = { '@': 0, '[': 27, '\\': 28, ']': 29, '^': 30, '_': 31 };
      if (c in specials) { out.push(specials[c]!); continue; }
    }
    throw new InvalidParameterError(`Invalid detach keys (${s}) provided`);
  }
  return Buffer.from(out);
}

/**
 * Watches a stdin byte stream for the detach sequence. Bytes that might start the sequence are held
 * back; on a mismatch they are released, so the container sees exactly what the user typed.
 */
export class DetachScanner {
  private held: number[] = [];
  constructor(private readonly keys: Buffer) {}

  /** Returns the bytes to forward and whether the sequence completed (forwarding must stop then). */
  push(chunk: Buffer): { forward: Buffer; detached: boolean } {
    const out: number[] = [];
    for (let i = 0; i < chunk.length; i++) {
      const b = chunk[i]!;
      if (b === this.keys[this.held.length]) {
        this.held.push(b);
        if (this.held.length === this.keys.length) {
          this.held = [];
          return { forward: Buffer.from(out), detached: true };
        }
        continue;
      }
      out.push(...this.held);
      this.held = [];
      if (b === this.keys[0]) this.held.push(b); else out.push(b);
    }
    return { forward: Buffer.from(out), detached: false };
  }
}
