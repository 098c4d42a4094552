import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { buildHosts, extraHostLines } from '../../src/core/hosts-file.js';
import { writeEtcFiles } from '../../src/services/containers/etc-files.js';
import type { ContainerRecord } from '../../src/services/containers/types.js';

const DEFAULTS = '127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\nfe00::\tip6-localnet\nff00::\tip6-mcastprefix\nff02::1\tip6-allnodes\nff02::2\tip6-allrouters\n';

test('buildHosts: defaults, then --add-host, then the container\'s addresses (moby etchosts order)', () => {
  assert.equal(buildHosts({ hostname: 'h', ips: [] }), DEFAULTS);
  assert.equal(buildHosts({ hostname: 'h', domainname: 'example.org', ips: ['10.0.0.2'], extraHosts: ['db:10.1.1.1', 'gw:host-gateway'], hostGatewayIp: '10.0.0.1' }),
    `${DEFAULTS}10.1.1.1\tdb\n10.0.0.1\tgw\n10.0.0.2\th.example.org h\n`);
  assert.deepEqual(extraHostLines(['v6:[::1]', 'eq=1.2.3.4', 'bad', ':x']), ['::1\tv6', '1.2.3.4\teq']);
});

test('a container without a network gets the same hosts text as one with (one builder)', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hosts-'));
  const rec = {
    Config: { Domainname: 'example.org' }, HostConfig: { ExtraHosts: ['db:10.1.1.1', 'v6:[fd00::1]'] },
    HostnamePath: path.join(dir, 'hostname'), HostsPath: path.join(dir, 'hosts'), ResolvConfPath: path.join(dir, 'resolv.conf'),
  } as unknown as ContainerRecord;
  await writeEtcFiles(rec, 'h', false);
  assert.equal(fs.readFileSync(rec.HostsPath, 'utf8'), buildHosts({ hostname: 'h', domainname: 'example.org', ips: [], extraHosts: ['db:10.1.1.1', 'v6:[fd00::1]'] }));
  assert.equal(fs.readFileSync(rec.HostsPath, 'utf8'), `${DEFAULTS}10.1.1.1\tdb\nfd00::1\tv6\n`);
  await writeEtcFiles(rec, 'h', true);
  assert.ok(fs.readFileSync(rec.HostsPath, 'utf8').endsWith('\n10.1.1.1\tdb\nfd00::1\tv6\n'));
  fs.rmSync(dir, { recursive: true, force: true });
});
