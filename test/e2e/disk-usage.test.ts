// Sizes with the real docker CLI and bin/berth against a private berthd: GET /system/df (docker system df,
// -v, --format), GET /containers/json?size=1 (docker ps -s) and GET /containers/{id}/json?size=1 (docker
// inspect --size), the shapes checked against the v1.45 spec.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { loadApiSchema, type SchemaNode } from '../../src/api/api-schema.js';
import { humanSize, humanSizeWithPrecision } from '../../src/core/human.js';
import { api, startDaemon, waitFor, type Daemon } from '../helpers/daemon.js';
import { berth, docker, show, type CliResult } from '../helpers/cli.js';
import { busyboxTar } from '../helpers/fixtures.js';

const IMG = 'busybox:df';
let d: Daemon;
const schema = loadApiSchema();
const def = (name: string): SchemaNode => schema.definitions[name]!;

async function ok(cli: 'docker' | 'berth', args: string[]): Promise<CliResult> {
  const r = await (cli === 'docker' ? docker : berth)(d.env, args);
  assert.equal(r.code, 0, `${cli} ${args.join(' ')} failed: ${show(r)}`);
  return r;
}

async function df(query = '', version = '1.45'): Promise<any> {
  const r = await api(d.socket, 'GET', `/v${version}/system/df${query}`);
  assert.equal(r.status, 200, r.body);
  return JSON.parse(r.body);
}

/** Every key is a property of the spec's definition, with the spec's JSON type; `required` are all there. */
function checkShape(obj: Record<string, unknown>, name: string, required: string[]): void {
  const props = def(name).properties!;
  for (const [k, v] of Object.entries(obj)) {
    const p = props[k];
    assert.ok(p, `${name}.${k} is not in the spec`);
    const t = (p.$ref ? def(p.$ref) : p).type;
    if (v === null) continue;
    if (t === 'integer') assert.ok(Number.isInteger(v), `${name}.${k} = ${JSON.stringify(v)} is not an integer`);
    else if (t === 'string') assert.equal(typeof v, 'string', `${name}.${k}`);
    else if (t === 'array') assert.ok(Array.isArray(v), `${name}.${k}`);
    else if (t === 'object') assert.equal(typeof v, 'object', `${name}.${k}`);
  }
  for (const k of required) assert.ok(k in obj, `${name}.${k} (required by the spec) is missing`);
}

/** The ages and "Up ..." texts move between two commands; the columns' widths with them. */
function normalized(s: string): string {
  return s.replace(/(Less than a second|About a minute|\d+ seconds?|\d+ minutes)( ago)?/g, 'T').replace(/ {2,}/g, '  ');
}

before(async () => {
  assert.ok(spawnSync('docker', ['--version']).status === 0, 'the docker CLI must be on PATH');
  d = await startDaemon();
});

after(async () => {
  if (!d) return;
  const leftovers = await d.cleanup();
  if (leftovers.length) console.error(`disk-usage: swept leftovers: ${leftovers.join(', ')}`);
});

test('system df on an empty daemon: docker and berth print the same', async () => {
  const body = await df();
  assert.deepEqual(body, { Images: [], Containers: [], Volumes: [], BuildCache: [] });
  for (const args of [['system', 'df'], ['system', 'df', '-v'], ['system', 'df', '--format', 'json']]) {
    assert.equal((await ok('berth', args)).stdout, (await ok('docker', args)).stdout, args.join(' '));
  }
});

test('GET /system/df: layer, image, container and volume sizes; type=; the spec\'s shapes', async () => {
  await ok('docker', ['import', '--change', 'CMD ["sh"]', await busyboxTar(), IMG]);
  await ok('docker', ['volume', 'create', 'dfvol']);
  await ok('docker', ['volume', 'create', 'idle']);
  await ok('docker', ['run', '--name', 'writer', '-v', 'dfvol:/data', IMG, 'sh', '-c',
    'head -c 100000 /dev/zero > /data/z && head -c 5000 /dev/zero > /five && ln /five /five-again && ln -s /five /link']);
  await ok('docker', ['commit', 'writer', 'busybox:child']);
  await ok('docker', ['run', '-d', '--name', 'sleeper', IMG, 'sleep', '600']);

  const body = await df();
  assert.deepEqual(Object.keys(body), ['LayersSize', 'Images', 'Containers', 'Volumes', 'BuildCache'], 'moby\'s DiskUsage field order');
  const base = JSON.parse((await ok('docker', ['image', 'inspect', IMG])).stdout)[0];
  const child = JSON.parse((await ok('docker', ['image', 'inspect', 'busybox:child'])).stdout)[0];
  assert.ok(child.Size > base.Size, `the commit added a layer: ${child.Size} > ${base.Size}`);
  assert.equal(body.LayersSize, child.Size, 'two images on one chain: its layers, each once');

  const imgs = new Map<string, any>(body.Images.map((i: any) => [i.Id, i]));
  assert.equal(imgs.size, 2);
  for (const i of imgs.values()) checkShape(i, 'ImageSummary', ['Id', 'ParentId', 'RepoTags', 'RepoDigests', 'Created', 'Size', 'SharedSize', 'Labels', 'Containers']);
  assert.equal(imgs.get(base.Id).SharedSize, base.Size, 'the base layer is shared with the child');
  assert.equal(imgs.get(child.Id).SharedSize, base.Size);
  assert.equal(imgs.get(base.Id).Containers, 2, 'writer and sleeper');
  assert.equal(imgs.get(child.Id).Containers, 0);
  assert.equal(imgs.get(base.Id).VirtualSize, undefined, 'no VirtualSize from API 1.44 on');

  const ctrs = new Map<string, any>(body.Containers.map((c: any) => [c.Names[0], c]));
  for (const c of ctrs.values()) checkShape(c, 'ContainerSummary', ['Id', 'Names', 'Image', 'ImageID', 'Command', 'Created', 'State', 'Status']);
  const writer = ctrs.get('/writer');
  // 5000 bytes once (the hard link is the same inode), plus the symlink's own size (its target's length)
  assert.equal(writer.SizeRw, 5000 + '/five'.length, 'SizeRw is the upper dir: a hard link counted once, the volume not at all');
  assert.equal(writer.SizeRootFs, writer.SizeRw + base.Size);
  assert.equal(ctrs.get('/sleeper').SizeRw, 0);
  assert.equal(ctrs.get('/sleeper').SizeRootFs, base.Size);

  const vols = new Map<string, any>(body.Volumes.map((v: any) => [v.Name, v]));
  for (const v of vols.values()) checkShape(v, 'Volume', ['Name', 'Driver', 'Mountpoint', 'Labels', 'Scope', 'Options']);
  assert.deepEqual(vols.get('dfvol').UsageData, { Size: 100000, RefCount: 1 });
  assert.deepEqual(vols.get('idle').UsageData, { Size: 0, RefCount: 0 });
  assert.deepEqual(body.BuildCache, []);

  const onlyVolumes = await df('?type=volume&type=build-cache');
  assert.deepEqual(Object.keys(onlyVolumes), ['Images', 'Containers', 'Volumes', 'BuildCache']);
  assert.equal(onlyVolumes.Images, null);
  assert.equal(onlyVolumes.Containers, null);
  assert.equal(onlyVolumes.Volumes.length, 2);
  assert.deepEqual(onlyVolumes.BuildCache, []);
  const bad = await api(d.socket, 'GET', '/v1.45/system/df?type=bogus');
  assert.equal(bad.status, 400);
  assert.equal(JSON.parse(bad.body).message, 'unknown object type: bogus');
  const old = await df('?type=volume', '1.41');
  assert.ok(old.Images && old.Containers, 'before API 1.42 type= is not read: everything');
  assert.equal(old.Images[0].VirtualSize, old.Images[0].Size, 'VirtualSize before 1.44');

  // /images/json computes SharedSize and counts containers only when asked
  const plain = JSON.parse((await api(d.socket, 'GET', '/v1.45/images/json')).body);
  assert.ok(plain.every((i: any) => i.SharedSize === -1 && i.Containers === -1));
  const shared = JSON.parse((await api(d.socket, 'GET', '/v1.45/images/json?shared-size=1')).body);
  assert.ok(shared.every((i: any) => i.SharedSize === base.Size), JSON.stringify(shared));
});

test('docker and berth system df (and -v, --format) print the same, with the daemon\'s numbers', async () => {
  const body = await df();
  const sum = await ok('docker', ['system', 'df']);
  const lines = sum.stdout.split('\n');
  assert.match(lines[0]!, /^TYPE +TOTAL +ACTIVE +SIZE +RECLAIMABLE$/);
  assert.match(lines[1]!, new RegExp(`^Images +2 +1 +${humanSize(body.LayersSize).replace('.', '\\.')} `), sum.stdout);
  const ctrSize = body.Containers.reduce((n: number, c: any) => n + c.SizeRw, 0);
  assert.match(lines[2]!, new RegExp(`^Containers +2 +1 +${humanSize(ctrSize).replace('.', '\\.')} +${humanSize(ctrSize).replace('.', '\\.')} \\(100%\\)$`), sum.stdout);
  assert.match(lines[3]!, /^Local Volumes +2 +1 +100kB +0B \(0%\)$/, sum.stdout);
  assert.match(lines[4]!, /^Build Cache +0 +0 +0B +0B$/, sum.stdout);
  assert.equal((await ok('berth', ['system', 'df'])).stdout, sum.stdout);
  for (const args of [['system', 'df', '--format', 'json'], ['system', 'df', '--format', 'raw'], ['system', 'df', '--format', 'table {{.Type}}\t{{.Reclaimable}}'], ['system', 'df', '--format', '{{.Type}}={{.Size}}']]) {
    assert.equal((await ok('berth', args)).stdout, (await ok('docker', args)).stdout, args.join(' '));
  }
  const v = await ok('docker', ['system', 'df', '-v']);
  assert.match(v.stdout, /Images space usage:\n\nREPOSITORY +TAG +IMAGE ID +CREATED +SIZE +SHARED SIZE +UNIQUE SIZE +CONTAINERS\n/);
  assert.match(v.stdout, /\nLocal Volumes space usage:\n\nVOLUME NAME +LINKS +SIZE\ndfvol +1 +100kB\nidle +0 +0B\n/);
  assert.equal(normalized((await ok('berth', ['system', 'df', '-v'])).stdout), normalized(v.stdout));
  // docker 28 takes -v with a format: one execution over {Images, Containers, Volumes, BuildCache}, IDs whole
  for (const args of [['system', 'df', '-v', '--format', 'json'], ['system', 'df', '-v', '--format', '{{range .Images}}{{.ID}} {{.UniqueSize}} {{end}}|{{len .Volumes}}']]) {
    const want = await ok('docker', args);
    assert.equal(normalized((await ok('berth', args)).stdout), normalized(want.stdout), args.join(' '));
  }
  const j = JSON.parse((await ok('berth', ['system', 'df', '-v', '--format', 'json'])).stdout);
  assert.deepEqual(Object.keys(j), ['Images', 'Containers', 'Volumes', 'BuildCache']);
  assert.match(j.Images[0].ID, /^sha256:[0-9a-f]{64}$/);
  const raw = await berth(d.env, ['system', 'df', '-v', '--format', 'raw']);
  assert.equal(raw.code, 125, 'refused, not drawn wrong');
  assert.match(raw.stderr, /does not support --format raw/, show(raw));
});

test('docker ps -s and inspect --size show SizeRw and SizeRootFs; berth prints the same', async () => {
  const w = JSON.parse((await api(d.socket, 'GET', '/v1.45/containers/writer/json?size=1')).body);
  assert.ok(w.SizeRw > 5000 && w.SizeRootFs > w.SizeRw, JSON.stringify({ SizeRw: w.SizeRw, SizeRootFs: w.SizeRootFs }));
  const noSize = JSON.parse((await api(d.socket, 'GET', '/v1.45/containers/writer/json')).body);
  assert.equal(noSize.SizeRw, undefined);
  for (const cli of ['docker', 'berth'] as const) {
    assert.equal((await ok(cli, ['inspect', '--size', '-f', '{{.SizeRw}} {{.SizeRootFs}}', 'writer'])).stdout.trim(), `${w.SizeRw} ${w.SizeRootFs}`);
  }
  const ps = await ok('docker', ['ps', '-as', '--format', '{{.Names}} {{.Size}}']);
  assert.ok(ps.stdout.split('\n').includes(`writer ${humanSizeWithPrecision(w.SizeRw, 3)} (virtual ${humanSizeWithPrecision(w.SizeRootFs, 3)})`), ps.stdout);
  assert.equal((await ok('berth', ['ps', '-as', '--format', '{{.Names}} {{.Size}}'])).stdout, ps.stdout);
  const table = await ok('docker', ['ps', '-as']);
  assert.match(table.stdout.split('\n')[0]!, /NAMES +SIZE$/);
  assert.equal(normalized((await ok('berth', ['ps', '-as'])).stdout), normalized(table.stdout));
  // a container's writes move its numbers
  await ok('docker', ['exec', 'sleeper', 'sh', '-c', 'head -c 20000 /dev/zero > /grown']);
  const grown = await waitFor(async () => {
    const c = JSON.parse((await api(d.socket, 'GET', '/v1.45/containers/json?size=1&filters=%7B%22name%22%3A%5B%22sleeper%22%5D%7D')).body)[0];
    return c.SizeRw >= 20000 ? c : undefined;
  });
  assert.ok(grown, 'SizeRw follows the running container\'s upper dir');
  await ok('docker', ['rm', '-f', 'sleeper', 'writer']);
  const after = await df('?type=container&type=image');
  assert.deepEqual(after.Containers, []);
  assert.ok(after.Images.every((i: any) => i.Containers === 0));
});
