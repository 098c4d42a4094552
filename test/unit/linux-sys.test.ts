import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { LinuxSys } from '../../src/sys/linux-sys.js';
import { MNT_DETACH } from '../../src/sys/sys.js';

const isRoot = process.getuid?.() === 0;
const mounted = (p: string) => fs.readFileSync('/proc/self/mountinfo', 'utf8').split('\n').some((l) => l.split(' ')[4] === p);

test('mountAsync / unmountAsync: a tmpfs comes and goes; errors carry the errno', { skip: !isRoot && 'needs root' }, async () => {
  const sys = new LinuxSys();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-sys-'));
  try {
    await sys.mountAsync({ type: 'tmpfs', source: 'tmpfs', target: dir, options: ['nosuid', 'size=1m'] });
    assert.ok(mounted(dir));
    fs.writeFileSync(path.join(dir, 'f'), 'x');
    await sys.unmountAsync(dir);
    assert.ok(!mounted(dir));
    assert.ok(!fs.existsSync(path.join(dir, 'f')), 'the file was on the tmpfs');
    await sys.unmountAsync(dir); // not mounted: ignored, as unmount() does
    await assert.rejects(sys.mountAsync({ type: 'nosuchfs', source: 'none', target: dir, options: [] }), (e: Error & { code?: string }) => e.code === 'ENODEV');
  } finally {
    try { sys.unmount(dir, MNT_DETACH); } catch { /* not mounted */ }
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('createNetns: a new namespace pinned on a file, loopback up, and berthd stays in its own', { skip: !isRoot && 'needs root' }, () => {
  const sys = new LinuxSys();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-ns-'));
  const file = path.join(dir, 'ns');
  const before = fs.readlinkSync('/proc/thread-self/ns/net');
  try {
    fs.writeFileSync(file, '');
    sys.createNetns(file);
    assert.equal(fs.readlinkSync('/proc/thread-self/ns/net'), before, 'back in the host namespace');
    const links = spawnSync('nsenter', [`--net=${file}`, 'ip', '-o', 'link', 'show'], { encoding: 'utf8' });
    assert.equal(links.status, 0, links.stderr);
    const lines = links.stdout.trim().split('\n');
    assert.equal(lines.length, 1, `only loopback in a new netns: ${links.stdout}`);
    assert.match(lines[0]!, /^1: lo: <LOOPBACK,UP,LOWER_UP>/);
    // busybox-static is one of berth's packages; its ping needs loopback up to get an answer
    const ping = spawnSync('nsenter', [`--net=${file}`, 'busybox', 'ping', '-c', '1', '-W', '2', '127.0.0.1'], { encoding: 'utf8' });
    assert.equal(ping.status, 0, `loopback answers: ${ping.stdout}${ping.stderr}`);
    // a second netns on a file that is not there fails cleanly and leaves berthd where it was
    assert.throws(() => sys.createNetns(path.join(dir, 'missing', 'ns')), /bind-mount netns/);
    assert.equal(fs.readlinkSync('/proc/thread-self/ns/net'), before);
  } finally {
    sys.unmount(file, MNT_DETACH);
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
