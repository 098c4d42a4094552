// The enforcement test for "no setting is taken and ignored": every field of the v1.45 create body
// (the spec's ContainerConfig, HostConfig, NetworkingConfig) has a rule in CREATE_FIELDS, every
// refused one is refused when set and accepted at its zero value; every daemon.json key is either
// acted on or refused. (test/e2e/settings.test.ts checks the refusals through a real berthd.)
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loadApiSchema, type SchemaNode } from '../../src/api/api-schema.js';
import { sampleValue } from '../helpers/spec-sample.js';
import { CREATE_FIELDS, refuseUnsupportedFields } from '../../src/core/create-settings.js';
import { ACCEPTED_FILE_KEYS, REFUSED_FILE_KEYS, loadConfig } from '../../src/config/daemon-config.js';

const schema = loadApiSchema();
const resolve = (n: SchemaNode): SchemaNode => (n.$ref ? resolve(schema.definitions[n.$ref]!) : n);
const createBody = resolve(schema.bodies['POST /containers/create']!);

test('every create-body field of the v1.45 spec has a rule (implemented / refused) and no rule is stale', () => {
  const groups = {
    Config: createBody.properties!,
    HostConfig: resolve(createBody.properties!.HostConfig!).properties!,
    NetworkingConfig: resolve(createBody.properties!.NetworkingConfig!).properties!,
  };
  for (const [g, props] of Object.entries(groups) as [keyof typeof CREATE_FIELDS, Record<string, SchemaNode>][]) {
    const missing = Object.keys(props).filter((k) => !(k in CREATE_FIELDS[g]));
    assert.deepEqual(missing, [], `${g} fields with no rule: decide implemented or refused`);
    const stale = Object.keys(CREATE_FIELDS[g]).filter((k) => !(k in props));
    assert.deepEqual(stale, [], `${g} rules for fields the spec does not have`);
  }
  // No field is left "in progress": each is implemented, the CLI's own, or refused when set.
  const undecided = Object.entries({ ...CREATE_FIELDS.Config, ...CREATE_FIELDS.HostConfig, ...CREATE_FIELDS.NetworkingConfig })
    .filter(([, r]) => r !== 'implemented' && r !== 'client-side' && (typeof r !== 'object' || typeof r.refused !== 'string')).map(([k]) => k);
  assert.deepEqual(undecided, []);
});

test('each refused field fails the create when set, and passes at its zero value', () => {
  const hcProps = resolve(createBody.properties!.HostConfig!).properties!;
  let n = 0;
  for (const [g, rules] of [['Config', CREATE_FIELDS.Config], ['HostConfig', CREATE_FIELDS.HostConfig]] as const) {
    for (const [k, r] of Object.entries(rules)) {
      if (typeof r === 'string') continue;
      const node = g === 'Config' ? createBody.properties![k]! : hcProps[k]!;
      const v = sampleValue(node);
      const body = g === 'Config' ? { [k]: v } : { HostConfig: { [k]: v } };
      assert.throws(() => refuseUnsupportedFields(body), (e: Error & { kind?: string }) => e.kind === 'InvalidParameter' && e.message === r.refused, `${g}.${k}=${JSON.stringify(v)}`);
      const zero = Array.isArray(v) ? [] : typeof v === 'string' ? '' : typeof v === 'number' ? 0 : typeof v === 'boolean' ? false : null;
      assert.doesNotThrow(() => refuseUnsupportedFields(g === 'Config' ? { [k]: zero } : { HostConfig: { [k]: zero } }), `${g}.${k} zero`);
      n++;
    }
  }
  assert.ok(n >= 25, `${n} refused fields`);
  assert.doesNotThrow(() => refuseUnsupportedFields({ HostConfig: { CgroupnsMode: 'private', UsernsMode: 'host', Isolation: 'default' } }));
});

test('daemon.json: every key berth accepts is acted on, the dockerd keys it cannot honour are refused', () => {
  assert.deepEqual(ACCEPTED_FILE_KEYS().sort(), ['bip', 'bridge', 'data-root', 'debug', 'default-address-pools', 'default-ulimits', 'detach-keys',
    'dns', 'dns-opts', 'dns-search', 'exec-root', 'group', 'hosts', 'live-restore', 'log-driver', 'log-level', 'log-opts', 'pidfile',
    'tls', 'tlscacert', 'tlscert', 'tlskey', 'tlsverify', 'insecure-registries', 'registry-mirrors', 'runtimes', 'default-runtime',
    'max-concurrent-downloads', 'max-download-attempts'].sort(),
  'a new accepted key needs code that acts on it (and a line here)');
  const samples: Record<string, unknown> = { 'storage-driver': 'vfs', experimental: true, features: { x: true },
    ipv6: true, 'fixed-cidr-v6': 'fd00:1::/64', ip6tables: false };
  // moby's bounds on the pull knobs
  const cfg = loadConfig({ 'config-file': '/c.json' }, () => JSON.stringify({ 'max-concurrent-downloads': 0, 'max-download-attempts': 2 }));
  assert.equal(cfg.maxConcurrentDownloads, 0);
  assert.equal(cfg.maxDownloadAttempts, 2);
  assert.throws(() => loadConfig({ 'config-file': '/c.json' }, () => '{"max-download-attempts": 0}'), /invalid max download attempts: 0/);
  assert.throws(() => loadConfig({ 'config-file': '/c.json' }, () => '{"max-concurrent-downloads": -1}'), /invalid max concurrent downloads: -1/);
  // what berth always does is accepted
  assert.doesNotThrow(() => loadConfig({ 'config-file': '/c.json' }, () => JSON.stringify({ ipv6: false, ip6tables: true })));
  for (const k of Object.keys(REFUSED_FILE_KEYS)) {
    assert.ok(k in samples, `a sample value for refused key ${k}`);
    assert.throws(() => loadConfig({ 'config-file': '/c.json' }, () => JSON.stringify({ [k]: samples[k] })), new RegExp(REFUSED_FILE_KEYS[k]!.message.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')));
  }
});
