import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { imageRoutes } from '../../src/api/routes/images.js';
import { buildApp } from '../../src/api/server.js';
import { EventBus, type EventMessage } from '../../src/services/events.js';
import { ImageService } from '../../src/services/image-service.js';
import { Paths } from '../../src/store/paths.js';
import { LinuxSys } from '../../src/sys/linux-sys.js';

const isRoot = process.getuid?.() === 0;
const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..');

let tmp: string;
let tarPath: string;
let sock: string;
let server: http.Server;
let svc: ImageService;
const events: EventMessage[] = [];
const users = new Map<string, { id: string; running: boolean }[]>();

function request(method: string, url: string, body?: Buffer | fs.ReadStream): Promise<{ status: number; text: string; json: () => any }> {
  return new Promise((resolve, reject) => {
    const req = http.request({ socketPath: sock, method, path: url, headers: { 'Content-Type': 'application/x-tar' } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        resolve({ status: res.statusCode ?? 0, text, json: () => JSON.parse(text) });
      });
    });
    req.on('error', reject);
    if (body instanceof fs.ReadStream) body.pipe(req);
    else req.end(body);
  });
}

async function startApi(): Promise<void> {
  const paths = new Paths(path.join(tmp, 'root'), path.join(tmp, 'exec'));
  const bus = new EventBus();
  bus.subscribe((e) => events.push(e));
  svc = new ImageService({
    paths, sys: new LinuxSys(), events: bus,
    usage: { containersUsingImage: (id) => users.get(id) ?? [] },
  });
  await svc.init();
  server = http.createServer((req, res) => buildApp(imageRoutes(svc)).handle(req, res));
  await new Promise<void>((r) => server.listen(sock, r));
}

before(async () => {
  if (!isRoot) return;
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-img-e2e-'));
  sock = path.join(tmp, 'api.sock');
  tarPath = path.join(tmp, 'busybox.tar');
  execFileSync(path.join(repoRoot, 'scripts', 'make-busybox-rootfs.sh'), [tarPath]);
  await startApi();
});

after(async () => {
  if (!isRoot) return;
  await new Promise<void>((r) => server.close(() => r()));
  fs.rmSync(tmp, { recursive: true, force: true });
});

test('import, inspect, tag, list, history, overlay mount, remove', { skip: !isRoot && 'needs root' }, async () => {
  const changes = ['CMD ["/bin/sh"]', 'ENV A=1', 'LABEL org.example=yes', 'WORKDIR /srv'].map((c) => `changes=${encodeURIComponent(c)}`).join('&');
  const imp = await request('POST', `/v1.45/images/create?fromSrc=-&repo=busybox:local&message=&${changes}`, fs.createReadStream(tarPath));
  assert.equal(imp.status, 200, imp.text);
  const id = /\{"status":"(sha256:[a-f0-9]{64})"\}\r\n$/.exec(imp.text)?.[1];
  assert.ok(id, imp.text);

  // diffID = sha256 of the tar as sent
  const diffId = `sha256:${createHash('sha256').update(fs.readFileSync(tarPath)).digest('hex')}`;
  const insp = (await request('GET', '/images/busybox:local/json')).json();
  assert.equal(insp.Id, id);
  assert.deepEqual(insp.RepoTags, ['busybox:local']);
  assert.deepEqual(insp.RootFS, { Type: 'layers', Layers: [diffId] });
  assert.equal(insp.Comment, 'Imported from -');
  assert.deepEqual(insp.Config.Cmd, ['/bin/sh']);
  assert.deepEqual(insp.Config.Env, ['A=1']);
  assert.deepEqual(insp.Config.Labels, { 'org.example': 'yes' });
  assert.equal(insp.Config.WorkingDir, '/srv');
  assert.equal(insp.Os, 'linux');
  assert.ok(insp.Size > 500_000, 'busybox binary counted');
  assert.ok(fs.existsSync(path.join(insp.GraphDriver.Data.UpperDir, 'bin', 'busybox')));
  // The id is the digest of the stored config blob.
  const cfgBlob = fs.readFileSync(path.join(tmp, 'root', 'content', 'blobs', 'sha256', id.slice(7)));
  assert.equal(`sha256:${createHash('sha256').update(cfgBlob).digest('hex')}`, id);

  // Lookups: full id, short prefix, full ref
  for (const name of [id, id.slice(7), id.slice(7, 11), 'docker.io/library/busybox:local']) {
    assert.equal((await request('GET', `/images/${name}/json`)).json().Id, id, name);
  }
  const missing = await request('GET', '/images/nosuch/json');
  assert.equal(missing.status, 404);
  assert.equal(missing.json().message, 'No such image: nosuch:latest');
  const bad = await request('GET', '/images/Bad/json');
  assert.equal(bad.status, 400);

  // Tag, list filters
  assert.equal((await request('POST', `/images/${id.slice(7, 19)}/tag?repo=localhost:5000/team/bb&tag=v1`)).status, 201);
  assert.equal((await request('POST', `/images/busybox:local/tag?repo=Upper`)).status, 400);
  const all = (await request('GET', '/images/json')).json();
  assert.equal(all.length, 1);
  assert.deepEqual(all[0].RepoTags.sort(), ['busybox:local', 'localhost:5000/team/bb:v1']);
  const byRef = (await request('GET', `/images/json?filters=${encodeURIComponent('{"reference":["busy*"]}')}`)).json();
  assert.deepEqual(byRef[0].RepoTags, ['busybox:local']);
  assert.equal((await request('GET', `/images/json?filters=${encodeURIComponent('{"reference":["alpine"]}')}`)).json().length, 0);
  assert.equal((await request('GET', `/images/json?filters=${encodeURIComponent('{"dangling":["true"]}')}`)).json().length, 0);
  assert.equal((await request('GET', `/images/json?filters=${encodeURIComponent('{"label":["org.example=yes"]}')}`)).json().length, 1);
  assert.equal((await request('GET', `/images/json?filters=${encodeURIComponent('{"bogus":["x"]}')}`)).status, 400);

  const hist = (await request('GET', '/images/busybox:local/history')).json();
  assert.equal(hist.length, 1);
  assert.equal(hist[0].Id, id);
  assert.equal(hist[0].Comment, 'Imported from -');
  assert.equal(hist[0].Size, insp.Size);

  // Real overlay mount of a rootfs on the image
  const ctr = path.join(tmp, 'ctr');
  for (const d of ['upper', 'work', 'merged']) fs.mkdirSync(path.join(ctr, d), { recursive: true });
  const m = svc.rootfsMount(id, path.join(ctr, 'upper'), path.join(ctr, 'work'), path.join(ctr, 'merged'));
  const sys = new LinuxSys();
  sys.mount(m);
  try {
    assert.ok(fs.lstatSync(path.join(ctr, 'merged', 'bin', 'sh')).isSymbolicLink());
    assert.match(fs.readFileSync(path.join(ctr, 'merged', 'etc', 'passwd'), 'utf8'), /^root:x:0:0/);
    fs.writeFileSync(path.join(ctr, 'merged', 'new-file'), 'x');
    assert.ok(fs.existsSync(path.join(ctr, 'upper', 'new-file')), 'writes land in the upper dir');
  } finally {
    sys.unmount(path.join(ctr, 'merged'));
  }

  // Remove semantics: by id while tagged in two repositories, untag while other tags remain,
  // container conflicts, then delete
  const multi = await request('DELETE', `/images/${id.slice(7)}`);
  assert.equal(multi.status, 409);
  assert.equal(multi.json().message, `conflict: unable to delete ${id.slice(7, 19)} (must be forced) - image is referenced in multiple repositories`);
  const untag = await request('DELETE', '/images/localhost:5000/team/bb:v1');
  assert.deepEqual(untag.json(), [{ Untagged: 'localhost:5000/team/bb:v1' }]);
  users.set(id, [{ id: 'c'.repeat(64), running: false }]);
  const soft = await request('DELETE', `/images/${id.slice(7)}`);
  assert.equal(soft.status, 409);
  assert.equal(soft.json().message, `conflict: unable to delete ${id.slice(7, 19)} (must be forced) - image is being used by stopped container cccccccccccc`);
  users.set(id, [{ id: 'd'.repeat(64), running: true }]);
  const hard = await request('DELETE', `/images/${id.slice(7)}?force=1`);
  assert.equal(hard.status, 409);
  assert.equal(hard.json().message, `conflict: unable to delete ${id.slice(7, 19)} (cannot be forced) - image is being used by running container dddddddddddd`);
  const lastRef = await request('DELETE', '/images/busybox:local');
  assert.equal(lastRef.status, 409);
  assert.equal(lastRef.json().message, `conflict: unable to remove repository reference "busybox:local" (must force) - container dddddddddddd is using its referenced image ${id.slice(7, 19)}`);
  users.delete(id);

  // The daemon restarts: state comes back from disk
  await new Promise<void>((r) => server.close(() => r()));
  await startApi();
  assert.equal((await request('GET', '/images/busybox:local/json')).json().Id, id);

  const del = await request('DELETE', '/images/busybox:local');
  assert.equal(del.status, 200, del.text);
  assert.deepEqual(del.json(), [{ Untagged: 'busybox:local' }, { Deleted: id }, { Deleted: diffId }]);
  assert.equal((await request('GET', `/images/${id}/json`)).status, 404);
  assert.deepEqual(fs.readdirSync(path.join(tmp, 'root', 'layers')).sort(), ['empty']);
  assert.deepEqual(fs.readdirSync(path.join(tmp, 'root', 'l')), []);
  assert.deepEqual(fs.readdirSync(path.join(tmp, 'root', 'images')), []);
  const actions = events.filter((e) => e.Type === 'image').map((e) => e.Action);
  for (const a of ['tag', 'import', 'untag', 'delete']) assert.ok(actions.includes(a), a);
});

test('failed import leaves no layer; prune removes dangling images', { skip: !isRoot && 'needs root' }, async () => {
  const layersDir = path.join(tmp, 'root', 'layers');
  const layersBefore = fs.readdirSync(layersDir).sort();
  const truncated = await request('POST', '/images/create?fromSrc=-', fs.readFileSync(tarPath).subarray(0, 100_000));
  assert.equal(truncated.status, 400, truncated.text);
  assert.match(truncated.json().message, /invalid tar archive/);
  assert.deepEqual(fs.readdirSync(layersDir).sort(), layersBefore, 'no half-built layer');
  assert.deepEqual(fs.readdirSync(path.join(tmp, 'root', 'content', 'ingest')), []);

  const pull = await request('POST', '/images/create?fromImage=busybox&tag=latest');
  assert.equal(pull.status, 501);

  const imp = await request('POST', '/images/create?fromSrc=-', fs.createReadStream(tarPath));
  assert.equal(imp.status, 200, imp.text);
  const list = (await request('GET', `/images/json?filters=${encodeURIComponent('{"dangling":["true"]}')}`)).json();
  assert.equal(list.length, 1);
  assert.deepEqual(list[0].RepoTags, []);
  // A crash leftover in layers/ is removed at init.
  fs.mkdirSync(path.join(layersDir, 'tmp-deadbeef', 'diff'), { recursive: true });
  await svc.layers.init();
  assert.ok(!fs.existsSync(path.join(layersDir, 'tmp-deadbeef')));

  const pr = await request('POST', '/images/prune');
  assert.equal(pr.status, 200);
  const body = pr.json();
  assert.equal(body.ImagesDeleted.filter((d: { Deleted?: string }) => d.Deleted).length, 2);
  assert.ok(body.SpaceReclaimed > 500_000);
  assert.equal((await request('GET', '/images/json')).json().length, 0);
});
