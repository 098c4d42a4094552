// Starts `berth registry serve` on a free loopback port, and pushes test images to it over plain HTTP.
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { repoRoot } from './daemon.js';
import type { WrittenImage } from './oci-layout.js';

export interface TestRegistry { proc: ChildProcess; base: string; port: number; host: string; stop(): void }

/** `ip` is the address to listen on (a free port is taken); `base` is plain http (TLS servers: build it from `host`). */
export async function startRegistry(rootDir: string, extra: string[] = [], ip = '127.0.0.1'): Promise<TestRegistry> {
  const p = spawn(path.join(repoRoot, 'bin', 'berth'), ['registry', 'serve', '--addr', `${ip}:0`, '--root', rootDir, '-q', ...extra], { stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  const port = await new Promise<number>((resolve, reject) => {
    p.stderr!.on('data', (c: Buffer) => {
      err += c.toString();
      const m = /listening on [^ ]*:(\d+)/.exec(err);
      if (m) resolve(Number(m[1]));
    });
    p.on('exit', (code) => reject(new Error(`registry exited ${code}: ${err}`)));
  });
  return { proc: p, base: `http://${ip}:${port}`, port, host: `${ip}:${port}`, stop: () => { p.kill('SIGTERM'); } };
}

const sha = (b: Buffer | string) => `sha256:${createHash('sha256').update(b).digest('hex')}`;

/** Monolithic upload of each blob of `img` (read from layout `dir`), then its manifest under `ref`. */
export async function pushWritten(base: string, repo: string, ref: string, dir: string, img: WrittenImage): Promise<void> {
  for (const d of [img.configDigest, ...img.layerDigests]) {
    const body = fs.readFileSync(path.join(dir, 'blobs', 'sha256', d.slice(7)));
    const r = await fetch(`${base}/v2/${repo}/blobs/uploads/?digest=${d}`, { method: 'POST', body });
    if (r.status !== 201) throw new Error(`upload ${d}: ${r.status} ${await r.text()}`);
  }
  await putManifest(base, repo, ref, img.manifest, JSON.parse(img.manifest.toString()).mediaType);
}

export async function putManifest(base: string, repo: string, ref: string, body: Buffer, type: string): Promise<string> {
  const r = await fetch(`${base}/v2/${repo}/manifests/${ref}`, { method: "PUT", body: new Uint8Array(body), headers: { "Content-Type": type } });
  if (r.status !== 201) throw new Error(`manifest ${ref}: ${r.status} ${await r.text()}`);
  return sha(body);
}
