// A registry that misbehaves on cue (loopback only): it serves manifests and blobs from memory, and each
// blob can be given a behaviour: cut the connection part-way (a number of times), ignore Range, stall after
// the headers, end early, or be missing. Every request is recorded with its Range header.
import http from 'node:http';
import { createHash } from 'node:crypto';
import type { AddressInfo } from 'node:net';

export type BlobMisbehaviour =
  | { kind: 'cut'; times: number; at: number; ignoreRange?: boolean }
  | { kind: 'stall'; after: number }
  | { kind: 'short'; bytes: number }
  | { kind: 'missing' };

export interface HostileRegistry {
  host: string;
  base: string;
  requests: { method: string; path: string; range?: string }[];
  /** Add a blob (returns its digest). */
  blob(data: Buffer, how?: BlobMisbehaviour): string;
  manifest(repo: string, ref: string, body: Buffer, mediaType: string): string;
  /** Sockets of stalled responses still open. */
  stalled(): number;
  stop(): Promise<void>;
}

const sha = (b: Buffer) => `sha256:${createHash('sha256').update(b).digest('hex')}`;

export async function startHostileRegistry(): Promise<HostileRegistry> {
  const blobs = new Map<string, { data: Buffer; how?: BlobMisbehaviour; served: number }>();
  const manifests = new Map<string, { body: Buffer; type: string }>();
  const requests: HostileRegistry['requests'] = [];
  const open = new Set<http.ServerResponse>();
  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    const range = req.headers.range;
    requests.push({ method: req.method ?? 'GET', path: url.pathname, ...(range ? { range } : {}) });
    if (url.pathname === '/v2/') { res.writeHead(200, { 'Content-Type': 'application/json' }).end('{}'); return; }
    const m = /^\/v2\/(.+)\/manifests\/([^/]+)$/.exec(url.pathname);
    if (m) {
      const man = manifests.get(`${m[1]}@${m[2]}`);
      if (!man) { res.writeHead(404, { 'Content-Type': 'application/json' }).end('{"errors":[{"code":"MANIFEST_UNKNOWN","message":"manifest unknown"}]}'); return; }
      res.writeHead(200, { 'Content-Type': man.type, 'Content-Length': man.body.length, 'Docker-Content-Digest': sha(man.body) });
      res.end(req.method === 'HEAD' ? undefined : man.body);
      return;
    }
    const b = /^\/v2\/(.+)\/blobs\/(sha256:[a-f0-9]{64})$/.exec(url.pathname);
    const entry = b ? blobs.get(b[2]!) : undefined;
    if (!entry || entry.how?.kind === 'missing') {
      res.writeHead(404, { 'Content-Type': 'application/json' }).end('{"errors":[{"code":"BLOB_UNKNOWN","message":"blob unknown to registry"}]}');
      return;
    }
    const { data, how } = entry;
    entry.served++;
    let from = 0;
    const r = /^bytes=(\d+)-$/.exec(range ?? '');
    if (r && !(how?.kind === 'cut' && how.ignoreRange)) from = Number(r[1]);
    const body = data.subarray(from);
    const headers: http.OutgoingHttpHeaders = { 'Content-Type': 'application/octet-stream', 'Docker-Content-Digest': b![2] };
    if (how?.kind === 'short') {
      // chunked, ended cleanly, fewer bytes than the blob has
      res.writeHead(200, headers);
      res.end(body.subarray(0, how.bytes));
      return;
    }
    headers['Content-Length'] = body.length;
    if (from > 0) headers['Content-Range'] = `bytes ${from}-${data.length - 1}/${data.length}`;
    res.writeHead(from > 0 ? 206 : 200, headers);
    if (how?.kind === 'cut' && entry.served <= how.times) {
      res.write(body.subarray(0, Math.max(0, how.at - from)), () => setTimeout(() => res.socket?.destroy(), 20));
      return;
    }
    if (how?.kind === 'stall') {
      open.add(res);
      res.on('close', () => open.delete(res));
      res.write(body.subarray(0, how.after));
      return;
    }
    res.end(body);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    host: `127.0.0.1:${port}`,
    base: `http://127.0.0.1:${port}`,
    requests,
    blob(data, how) { const d = sha(data); blobs.set(d, { data, ...(how ? { how } : {}), served: 0 }); return d; },
    manifest(repo, ref, body, mediaType) {
      const d = sha(body);
      manifests.set(`${repo}@${ref}`, { body, type: mediaType });
      manifests.set(`${repo}@${d}`, { body, type: mediaType });
      return d;
    },
    stalled: () => open.size,
    async stop() {
      for (const r of open) r.socket?.destroy();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** An OCI image of the given layer blobs (already added) and diffIDs, under repo:ref. */
export function hostileImage(reg: HostileRegistry, repo: string, ref: string, layers: { digest: string; size: number; diffId: string; mediaType?: string }[], cmd?: string[]): { manifestDigest: string; configDigest: string } {
  const config = Buffer.from(JSON.stringify({
    architecture: 'amd64', os: 'linux', config: cmd ? { Cmd: cmd } : {},
    rootfs: { type: 'layers', diff_ids: layers.map((l) => l.diffId) },
  }));
  const configDigest = reg.blob(config);
  const manifest = Buffer.from(JSON.stringify({
    schemaVersion: 2, mediaType: 'application/vnd.oci.image.manifest.v1+json',
    config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: configDigest, size: config.length },
    layers: layers.map((l) => ({ mediaType: l.mediaType ?? 'application/vnd.oci.image.layer.v1.tar+gzip', digest: l.digest, size: l.size })),
  }));
  return { manifestDigest: reg.manifest(repo, ref, manifest, 'application/vnd.oci.image.manifest.v1+json'), configDigest };
}
