import type { Duplex } from 'node:stream';

/** The first n bytes of a stream; anything after them is pushed back for the next reader. */
export function readExactly(sock: Duplex, n: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let have = 0;
    const onData = (d: Buffer) => {
      chunks.push(d);
      have += d.length;
      if (have < n) return;
      cleanup();
      sock.pause();
      const all = Buffer.concat(chunks);
      if (all.length > n) sock.unshift(all.subarray(n));
      resolve(all.subarray(0, n));
    };
    const onEnd = () => { cleanup(); reject(new Error('connection closed before the request body')); };
    const cleanup = () => { sock.off('data', onData); sock.off('end', onEnd); sock.off('close', onEnd); };
    sock.on('data', onData);
    sock.on('end', onEnd);
    sock.on('close', onEnd);
  });
}
