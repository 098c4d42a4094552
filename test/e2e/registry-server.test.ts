// berth registry serve, on its own (no berthd): skopeo as a real client, then the protocol's edges and
// hostile input over plain HTTP, checking that nothing partial becomes visible in its storage.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { tarWithFile, writeLayout } from '../helpers/oci-layout.js';
import { startRegistry } from '../helpers/registry.js';

const run = promisify(execFile);
const hasSkopeo = fs.existsSync('/usr/bin/skopeo');
let tmp: string;
let root: string;
let base: string;
let proc: ChildProcess;

const sha = (b: Buffer | string) => `sha256:${createHash('sha256').update(b).digest('hex')}`;

function ingestEntries(): string[] { return fs.readdirSync(path.join(root, 'content', 'ingest')); }
function blobExists(d: string): boolean { return fs.existsSync(path.join(root, 'content', 'blobs', 'sha256', d.slice(7))); }

before(async () => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-reg-'));
  root = path.join(tmp, 'root');
  ({ proc, base } = await startRegistry(root));
});

after(() => {
  proc?.kill('SIGTERM');
  fs.rmSync(tmp, { recursive: true, force: true });
});

test('skopeo copies an OCI layout in, inspects it and lists its tags', { skip: !hasSkopeo && 'skopeo not installed' }, async () => {
  const layout = path.join(tmp, 'layout');
  const [img] = writeLayout(layout, [{ layers: [tarWithFile('a.txt', 'hello'), tarWithFile('b.txt', 'world')], ref: 'v1' }]);
  const dest = `docker://${base.slice(7)}/skopeo/img`;
  await run('skopeo', ['copy', '--dest-tls-verify=false', `oci:${layout}:v1`, `${dest}:v1`]);
  await run('skopeo', ['copy', '--src-tls-verify=false', '--dest-tls-verify=false', `${dest}:v1`, `${dest}:v2`]);
  const insp = JSON.parse((await run('skopeo', ['inspect', '--tls-verify=false', `${dest}:v1`])).stdout);
  assert.equal(insp.Digest, img!.manifestDigest);
  assert.deepEqual(insp.Layers, img!.layerDigests);
  const tags = JSON.parse((await run('skopeo', ['list-tags', '--tls-verify=false', dest])).stdout);
  assert.deepEqual(tags.Tags, ['v1', 'v2']);
  // And back out again, byte for byte.
  const back = path.join(tmp, 'back');
  await run('skopeo', ['copy', '--src-tls-verify=false', `${dest}:v1`, `oci:${back}:x`]);
  const idx = JSON.parse(fs.readFileSync(path.join(back, 'index.json'), 'utf8'));
  assert.equal(idx.manifests[0].digest, img!.manifestDigest);
});

test('/v2/, monolithic and chunked uploads, HEAD/GET/Range of blobs', async () => {
  const v2 = await fetch(`${base}/v2/`);
  assert.equal(v2.status, 200);
  assert.equal(v2.headers.get('docker-distribution-api-version'), 'registry/2.0');

  const a = Buffer.from('monolithic blob');
  const mono = await fetch(`${base}/v2/t/one/blobs/uploads/?digest=${sha(a)}`, { method: 'POST', body: a });
  assert.equal(mono.status, 201);
  assert.equal(mono.headers.get('docker-content-digest'), sha(a));

  const b = Buffer.alloc(300_000, 7);
  const start = await fetch(`${base}/v2/t/one/blobs/uploads/`, { method: 'POST' });
  assert.equal(start.status, 202);
  const uuid = start.headers.get('docker-upload-uuid')!;
  let loc = start.headers.get('location')!;
  assert.equal(loc, `/v2/t/one/blobs/uploads/${uuid}`);
  assert.equal(start.headers.get('range'), '0-0');
  const p1 = await fetch(`${base}${loc}`, { method: 'PATCH', body: b.subarray(0, 100_000), headers: { 'Content-Range': '0-99999' } });
  assert.equal(p1.status, 202);
  assert.equal(p1.headers.get('range'), '0-99999');
  // A chunk that does not start where the upload stands is refused, and the upload goes on.
  const wrong = await fetch(`${base}${loc}`, { method: 'PATCH', body: b.subarray(0, 10), headers: { 'Content-Range': '5-14' } });
  assert.equal(wrong.status, 416);
  loc = p1.headers.get('location')!;
  const p2 = await fetch(`${base}${loc}`, { method: 'PATCH', body: b.subarray(100_000, 250_000) });
  assert.equal(p2.status, 202);
  const status = await fetch(`${base}${loc}`);
  assert.equal(status.status, 204);
  assert.equal(status.headers.get('range'), '0-249999');
  const fin = await fetch(`${base}${loc}?digest=${sha(b)}`, { method: 'PUT', body: b.subarray(250_000) });
  assert.equal(fin.status, 201, await fin.text());

  const head = await fetch(`${base}/v2/t/one/blobs/${sha(b)}`, { method: 'HEAD' });
  assert.equal(head.status, 200);
  assert.equal(head.headers.get('content-length'), String(b.length));
  const got = Buffer.from(await (await fetch(`${base}/v2/t/one/blobs/${sha(b)}`)).arrayBuffer());
  assert.ok(got.equals(b));
  const part = await fetch(`${base}/v2/t/one/blobs/${sha(b)}`, { headers: { Range: 'bytes=10-19' } });
  assert.equal(part.status, 206);
  assert.equal(part.headers.get('content-range'), `bytes 10-19/${b.length}`);
  assert.equal((await part.arrayBuffer()).byteLength, 10);
  // Another repository cannot read it until it is mounted there.
  assert.equal((await fetch(`${base}/v2/t/two/blobs/${sha(b)}`, { method: 'HEAD' })).status, 404);
  const mount = await fetch(`${base}/v2/t/two/blobs/uploads/?mount=${sha(b)}&from=t/one`, { method: 'POST' });
  assert.equal(mount.status, 201);
  assert.equal((await fetch(`${base}/v2/t/two/blobs/${sha(b)}`, { method: 'HEAD' })).status, 200);
  // A mount from a repository that lacks the blob falls back to an upload session.
  const noMount = await fetch(`${base}/v2/t/three/blobs/uploads/?mount=${sha('nope')}&from=t/one`, { method: 'POST' });
  assert.equal(noMount.status, 202);
  assert.equal((await fetch(`${base}${noMount.headers.get('location')}`, { method: 'DELETE' })).status, 204);
  // Blob delete unlinks it from that repository only.
  assert.equal((await fetch(`${base}/v2/t/two/blobs/${sha(b)}`, { method: 'DELETE' })).status, 202);
  assert.equal((await fetch(`${base}/v2/t/two/blobs/${sha(b)}`, { method: 'HEAD' })).status, 404);
  assert.equal((await fetch(`${base}/v2/t/one/blobs/${sha(b)}`, { method: 'HEAD' })).status, 200);
  assert.deepEqual(ingestEntries(), []);
});

test('bad uploads: digest mismatch and a cut connection store nothing', async () => {
  const data = Buffer.from('the real content');
  const bad = await fetch(`${base}/v2/t/bad/blobs/uploads/?digest=${sha('something else')}`, { method: 'POST', body: data });
  assert.equal(bad.status, 400);
  assert.equal((await bad.json() as any).errors[0].code, 'DIGEST_INVALID');
  assert.ok(!blobExists(sha('something else')) && !blobExists(sha(data)));
  assert.equal((await fetch(`${base}/v2/t/bad/blobs/${sha(data)}`, { method: 'HEAD' })).status, 404);

  const baddigest = await fetch(`${base}/v2/t/bad/blobs/uploads/?digest=sha256:xyz`, { method: 'POST', body: data });
  assert.equal(baddigest.status, 400);

  // Truncated: a declared length the client never sends, then the socket closes.
  const big = Buffer.alloc(1_000_000, 1);
  const u = await fetch(`${base}/v2/t/bad/blobs/uploads/`, { method: 'POST' });
  const loc = new URL(`${base}${u.headers.get('location')}`);
  await new Promise<void>((resolve) => {
    const s = net.connect(Number(loc.port), '127.0.0.1', () => {
      s.write(`PUT ${loc.pathname}?digest=${sha(big)} HTTP/1.1\r\nHost: x\r\nContent-Length: ${big.length}\r\n\r\n`);
      s.write(big.subarray(0, 200_000), () => setTimeout(() => { s.destroy(); resolve(); }, 100));
    });
  });
  await new Promise((r) => setTimeout(r, 200));
  assert.ok(!blobExists(sha(big)));
  assert.deepEqual(ingestEntries(), [], 'the cut upload left no ingest');
  assert.equal((await fetch(`${base}${loc.pathname}`)).status, 404, 'and no upload session');
});

test('manifests: put/get by tag and digest, refusals, index, delete; tags and catalog paginate', async () => {
  const cfg = Buffer.from('{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}');
  const layer = Buffer.from('layer bytes');
  for (const blob of [cfg, layer]) {
    assert.equal((await fetch(`${base}/v2/m/img/blobs/uploads/?digest=${sha(blob)}`, { method: 'POST', body: blob })).status, 201);
  }
  const manifest = (layers: { digest: string; size: number }[]) => JSON.stringify({
    schemaVersion: 2, mediaType: 'application/vnd.docker.distribution.manifest.v2+json',
    config: { mediaType: 'application/vnd.docker.container.image.v1+json', digest: sha(cfg), size: cfg.length },
    layers: layers.map((l) => ({ mediaType: 'application/vnd.docker.image.rootfs.diff.tar.gzip', ...l })),
  });
  const DOCKER = 'application/vnd.docker.distribution.manifest.v2+json';
  const good = manifest([{ digest: sha(layer), size: layer.length }]);
  const put = (ref: string, body: string, type = DOCKER) => fetch(`${base}/v2/m/img/manifests/${ref}`, { method: 'PUT', body, headers: { 'Content-Type': type } });

  // Refusals first: nothing of them may become visible.
  const missing = await put('bad', manifest([{ digest: sha('absent'), size: 6 }]));
  assert.equal(missing.status, 400);
  assert.equal((await missing.json() as any).errors[0].code, 'MANIFEST_BLOB_UNKNOWN');
  const wrongSize = await put('bad', manifest([{ digest: sha(layer), size: 1 }]));
  assert.equal(wrongSize.status, 400);
  const wrongType = await put('bad', good, 'application/vnd.oci.image.manifest.v1+json');
  assert.equal(wrongType.status, 400);
  assert.equal((await wrongType.json() as any).errors[0].code, 'MANIFEST_INVALID');
  const oddType = await put('bad', good, 'text/plain');
  assert.equal(oddType.status, 400);
  const notJson = await put('bad', '{nope');
  assert.equal(notJson.status, 400);
  const wrongDigest = await put(sha('other'), good);
  assert.equal(wrongDigest.status, 400);
  assert.equal((await wrongDigest.json() as any).errors[0].code, 'DIGEST_INVALID');
  assert.equal((await fetch(`${base}/v2/m/img/manifests/bad`)).status, 404);
  assert.ok(!blobExists(sha(good)), 'no refused manifest stored');

  const ok = await put('v1', good);
  assert.equal(ok.status, 201, await ok.text());
  assert.equal(ok.headers.get('docker-content-digest'), sha(good));
  for (const ref of ['v1', sha(good)]) {
    const g = await fetch(`${base}/v2/m/img/manifests/${ref}`);
    assert.equal(g.status, 200);
    assert.equal(g.headers.get('content-type'), DOCKER);
    assert.equal(await g.text(), good);
  }
  assert.equal((await fetch(`${base}/v2/m/img/manifests/v1`, { method: 'HEAD' })).headers.get('docker-content-digest'), sha(good));

  const index = JSON.stringify({
    schemaVersion: 2, mediaType: 'application/vnd.oci.image.index.v1+json',
    manifests: [{ mediaType: DOCKER, digest: sha(good), size: good.length, platform: { os: 'linux', architecture: 'amd64' } }],
  });
  assert.equal((await put('multi', index, 'application/vnd.oci.image.index.v1+json')).status, 201);
  const badIndex = index.replace(sha(good).slice(7), sha('x').slice(7));
  assert.equal((await put('multi2', badIndex, 'application/vnd.oci.image.index.v1+json')).status, 400);

  for (const t of ['a', 'b', 'c', 'd']) assert.equal((await put(t, good)).status, 201);
  const p1 = await fetch(`${base}/v2/m/img/tags/list?n=2`);
  assert.deepEqual((await p1.json() as any).tags, ['a', 'b']);
  assert.equal(p1.headers.get('link'), '</v2/m/img/tags/list?n=2&last=b>; rel="next"');
  const p2 = await fetch(`${base}/v2/m/img/tags/list?n=2&last=b`);
  assert.deepEqual((await p2.json() as any).tags, ['c', 'd']);
  const all = await (await fetch(`${base}/v2/m/img/tags/list`)).json() as any;
  assert.deepEqual(all, { name: 'm/img', tags: ['a', 'b', 'c', 'd', 'multi', 'v1'] });
  assert.equal((await fetch(`${base}/v2/m/none/tags/list`)).status, 404);
  const cat = await (await fetch(`${base}/v2/_catalog`)).json() as any;
  assert.ok(cat.repositories.includes('m/img'));
  const c1 = await fetch(`${base}/v2/_catalog?n=1`);
  assert.equal((await c1.json() as any).repositories.length, 1);
  assert.match(c1.headers.get('link')!, /rel="next"/);
  assert.equal((await fetch(`${base}/v2/_catalog?n=x`)).status, 400);

  // Delete a tag, then the manifest (and with it every tag on it).
  assert.equal((await fetch(`${base}/v2/m/img/manifests/a`, { method: 'DELETE' })).status, 202);
  assert.equal((await fetch(`${base}/v2/m/img/manifests/a`)).status, 404);
  assert.equal((await fetch(`${base}/v2/m/img/manifests/${sha(good)}`, { method: 'DELETE' })).status, 202);
  assert.equal((await fetch(`${base}/v2/m/img/manifests/v1`)).status, 404);
  assert.deepEqual((await (await fetch(`${base}/v2/m/img/tags/list`)).json() as any).tags, ['multi']);
  // Names and references that do not parse.
  assert.equal((await fetch(`${base}/v2/Bad/img/manifests/v1`)).status, 400);
  assert.equal((await fetch(`${base}/v2/m/img/manifests/sha256:zz`)).status, 400);
});

test('read-only mode refuses writes', async () => {
  const ro = await startRegistry(path.join(tmp, 'ro'), ['--read-only']);
  try {
    assert.equal((await fetch(`${ro.base}/v2/`)).status, 200);
    const r = await fetch(`${ro.base}/v2/x/blobs/uploads/`, { method: 'POST' });
    assert.equal(r.status, 405);
    assert.equal((await r.json() as any).errors[0].code, 'UNSUPPORTED');
  } finally {
    ro.proc.kill('SIGTERM');
  }
});

test('referrers: manifests with a subject are listed under it, filtered by artifactType, and answered with OCI-Subject', async () => {
  const OCI = 'application/vnd.oci.image.manifest.v1+json';
  const INDEX = 'application/vnd.oci.image.index.v1+json';
  const repo = 'ref/app';
  const blob = async (b: Buffer) => {
    const r = await fetch(`${base}/v2/${repo}/blobs/uploads/?digest=${sha(b)}`, { method: 'POST', body: new Uint8Array(b) });
    assert.equal(r.status, 201);
    return { digest: sha(b), size: b.length };
  };
  const put = (ref: string, body: string, type = OCI) => fetch(`${base}/v2/${repo}/manifests/${ref}`, { method: 'PUT', body, headers: { 'Content-Type': type } });
  const cfg = await blob(Buffer.from('{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}'));
  const layer = await blob(Buffer.from('subject layer'));
  const subjectBody = JSON.stringify({ schemaVersion: 2, mediaType: OCI, config: { mediaType: 'application/vnd.oci.image.config.v1+json', ...cfg }, layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar', ...layer }] });
  const plain = await put('v1', subjectBody);
  assert.equal(plain.status, 201);
  assert.equal(plain.headers.get('oci-subject'), null, 'no subject, no OCI-Subject');
  const subject = { mediaType: OCI, digest: sha(subjectBody), size: Buffer.byteLength(subjectBody) };

  const empty = await blob(Buffer.from('{}'));
  const sbomData = await blob(Buffer.from('{"sbom":true}'));
  const sbom = JSON.stringify({
    schemaVersion: 2, mediaType: OCI, artifactType: 'application/vnd.example.sbom',
    config: { mediaType: 'application/vnd.oci.empty.v1+json', ...empty }, layers: [{ mediaType: 'application/json', ...sbomData }],
    subject, annotations: { 'org.example.kind': 'sbom' },
  });
  const sigCfg = await blob(Buffer.from('{"sig":1}'));
  const sig = JSON.stringify({ schemaVersion: 2, mediaType: OCI, config: { mediaType: 'application/vnd.example.sig.config+json', ...sigCfg }, layers: [], subject });
  const bundle = JSON.stringify({ schemaVersion: 2, mediaType: INDEX, artifactType: 'application/vnd.example.bundle', manifests: [subject], subject });

  const r1 = await put(sha(sbom), sbom);
  assert.equal(r1.status, 201, await r1.text());
  assert.equal(r1.headers.get('oci-subject'), subject.digest);
  assert.equal((await put(sha(sig), sig)).headers.get('oci-subject'), subject.digest);
  assert.equal((await put('bundle', bundle, INDEX)).status, 201);
  // A subject that is not in the registry (yet) is fine, as the spec wants.
  const orphanSubject = { mediaType: OCI, digest: sha('not pushed'), size: 10 };
  const orphan = JSON.stringify({ schemaVersion: 2, mediaType: OCI, artifactType: 'application/vnd.example.sbom', config: { mediaType: 'application/vnd.oci.empty.v1+json', ...empty }, layers: [], subject: orphanSubject });
  assert.equal((await put(sha(orphan), orphan)).headers.get('oci-subject'), orphanSubject.digest);
  // A malformed subject is a malformed manifest.
  const badSubject = await put('bad', JSON.stringify({ ...JSON.parse(sig), subject: { mediaType: OCI, digest: 'sha256:nope', size: 1 } }));
  assert.equal(badSubject.status, 400);
  assert.equal((await badSubject.json() as any).errors[0].code, 'MANIFEST_INVALID');

  const list = async (digest: string, q = '') => {
    const r = await fetch(`${base}/v2/${repo}/referrers/${digest}${q}`);
    assert.equal(r.status, 200);
    assert.equal(r.headers.get('content-type'), INDEX);
    return { filters: r.headers.get('oci-filters-applied'), body: await r.json() as any };
  };
  const all = await list(subject.digest);
  assert.equal(all.filters, null);
  assert.equal(all.body.schemaVersion, 2);
  assert.equal(all.body.mediaType, INDEX);
  const byDigest = new Map((all.body.manifests as any[]).map((m) => [m.digest, m]));
  assert.deepEqual([...byDigest.keys()].sort(), [sha(sbom), sha(sig), sha(bundle)].sort());
  assert.deepEqual(byDigest.get(sha(sbom)), { mediaType: OCI, digest: sha(sbom), size: Buffer.byteLength(sbom), artifactType: 'application/vnd.example.sbom', annotations: { 'org.example.kind': 'sbom' } });
  assert.equal(byDigest.get(sha(sig)).artifactType, 'application/vnd.example.sig.config+json', 'no artifactType: the config media type');
  assert.deepEqual(byDigest.get(sha(bundle)), { mediaType: INDEX, digest: sha(bundle), size: Buffer.byteLength(bundle), artifactType: 'application/vnd.example.bundle' });

  const filtered = await list(subject.digest, '?artifactType=application/vnd.example.sbom');
  assert.equal(filtered.filters, 'artifactType');
  assert.deepEqual(filtered.body.manifests.map((m: any) => m.digest), [sha(sbom)]);
  assert.deepEqual((await list(subject.digest, '?artifactType=application/x-none')).body.manifests, []);
  assert.deepEqual((await list(orphanSubject.digest)).body.manifests.map((m: any) => m.digest), [sha(orphan)]);
  assert.deepEqual((await list(sha('nothing refers to this'))).body.manifests, [], 'an unknown digest is an empty list, not a 404');
  assert.equal((await fetch(`${base}/v2/${repo}/referrers/sha256:zz`)).status, 400);
  const unknownRepo = await fetch(`${base}/v2/ref/none/referrers/${subject.digest}`);
  assert.equal(unknownRepo.status, 404);
  assert.equal((await unknownRepo.json() as any).errors[0].code, 'NAME_UNKNOWN');
  // Other repositories do not see them.
  assert.equal((await fetch(`${base}/v2/m/img/referrers/${subject.digest}`)).status, 200);
  assert.deepEqual((await (await fetch(`${base}/v2/m/img/referrers/${subject.digest}`)).json() as any).manifests, []);

  // Deleting a referrer takes it off the list; deleting the subject leaves its referrers listed.
  assert.equal((await fetch(`${base}/v2/${repo}/manifests/${sha(sig)}`, { method: 'DELETE' })).status, 202);
  assert.deepEqual((await list(subject.digest)).body.manifests.map((m: any) => m.digest).sort(), [sha(sbom), sha(bundle)].sort());
  assert.equal((await fetch(`${base}/v2/${repo}/referrers/${subject.digest}`, { method: 'DELETE' })).status, 405);
});

test('hostile uploads: a cut chunk of a chunked upload, and oversized manifests, leave storage as it was', async () => {
  const data = Buffer.alloc(400_000, 3);
  const u = await fetch(`${base}/v2/t/hostile/blobs/uploads/`, { method: 'POST' });
  const loc = new URL(`${base}${u.headers.get('location')}`);
  const first = await fetch(loc, { method: 'PATCH', body: data.subarray(0, 100_000), headers: { 'Content-Range': '0-99999' } });
  assert.equal(first.status, 202);
  // The second chunk declares 300000 bytes and sends a third of them, then the connection dies.
  await new Promise<void>((resolve) => {
    const s = net.connect(Number(loc.port), '127.0.0.1', () => {
      s.write(`PATCH ${loc.pathname} HTTP/1.1\r\nHost: x\r\nContent-Range: 100000-399999\r\nContent-Length: 300000\r\n\r\n`);
      s.write(data.subarray(100_000, 200_000), () => setTimeout(() => { s.destroy(); resolve(); }, 100));
    });
  });
  await new Promise((r) => setTimeout(r, 200));
  assert.equal((await fetch(loc)).status, 404, 'the upload is gone: its bytes are unknown to the client');
  const late = await fetch(`${loc}?digest=${sha(data)}`, { method: 'PUT', body: data.subarray(200_000) });
  assert.equal(late.status, 404);
  assert.equal((await late.json() as any).errors[0].code, 'BLOB_UPLOAD_UNKNOWN');
  assert.ok(!blobExists(sha(data)));
  assert.deepEqual(ingestEntries(), []);

  const huge = Buffer.alloc(5 * 1024 * 1024, 0x20);
  huge.write('{"schemaVersion":2,"layers":[],"x":"');
  // The server answers before the body is in and closes the connection, so a write may then fail (EPIPE):
  // only the answer counts.
  const send = (declare: boolean) => new Promise<{ status: number; body: string }>((resolve, reject) => {
    const headers: Record<string, string | number> = { 'Content-Type': 'application/vnd.oci.image.manifest.v1+json' };
    if (declare) headers['Content-Length'] = huge.length;
    let answered = false;
    const req = http.request(`${base}/v2/t/hostile/manifests/big`, { method: 'PUT', headers }, (res) => {
      answered = true;
      let body = '';
      res.on('data', (c: Buffer) => { body += c.toString(); });
      res.on('end', () => resolve({ status: res.statusCode!, body }));
    });
    req.on('error', (err) => { if (!answered) reject(err); });
    const piece = huge.subarray(0, 256 * 1024);
    let sent = 0;
    const pump = () => {
      while (!answered && sent < 20 && req.write(piece)) sent++;
      if (answered) return;
      if (sent < 20) req.once('drain', () => { sent++; pump(); }); else req.end();
    };
    pump();
  });
  for (const declare of [true, false]) {
    // Declared: refused from Content-Length; chunked transfer: cut off at the limit as it streams.
    const r = await send(declare);
    assert.equal(r.status, 400, r.body);
    assert.equal(JSON.parse(r.body).errors[0].code, 'SIZE_INVALID');
  }
  assert.equal((await fetch(`${base}/v2/t/hostile/manifests/big`)).status, 404);
  assert.deepEqual(ingestEntries(), []);
});
