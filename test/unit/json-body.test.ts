import { test } from 'node:test';
import assert from 'node:assert/strict';
import { bodyDecoderFor, loadApiSchema } from '../../src/api/api-schema.js';

const create = bodyDecoderFor('POST', '/containers/create')!;
const refused = (fn: () => unknown, msg: string) => assert.throws(fn, (e: Error) => { assert.equal(e.message, msg); return true; });

test('every body berth serves as JSON has a schema', () => {
  for (const [m, p] of [['POST', '/containers/create'], ['POST', '/containers/{id}/update'], ['POST', '/containers/{id}/exec'],
    ['POST', '/exec/{id}/start'], ['POST', '/networks/create'], ['POST', '/networks/{id}/connect'], ['POST', '/networks/{id}/disconnect']] as const) {
    assert.ok(bodyDecoderFor(m, p), `${m} ${p}`);
  }
  assert.equal(bodyDecoderFor('POST', '/images/{name:.*}/tag'), undefined, 'no body');
  assert.ok(loadApiSchema().definitions.HostConfig?.properties?.Memory);
});

test('null is unset: struct fields dropped, map values and list items get their zero value', () => {
  assert.deepEqual(create({
    Image: 'busybox', Cmd: null, Env: [null, 'A=1'], Labels: { a: null }, ExposedPorts: { '80/tcp': null },
    Healthcheck: { Test: ['CMD', 'true'], StartPeriod: null, Interval: null },
    HostConfig: { LogConfig: { Type: null, Config: null }, RestartPolicy: null, Memory: null },
  }), {
    Image: 'busybox', Env: ['', 'A=1'], Labels: { a: '' }, ExposedPorts: { '80/tcp': {} },
    Healthcheck: { Test: ['CMD', 'true'] }, HostConfig: { LogConfig: {} },
  });
  assert.equal(create(null), undefined);
  assert.deepEqual(bodyDecoderFor('POST', '/networks/create')!({ Name: 'n', IPAM: null, Options: null, Labels: null }), { Name: 'n' });
  assert.deepEqual(bodyDecoderFor('POST', '/containers/{id}/exec')!({ Cmd: ['ls'], User: null, Env: null, ConsoleSize: null }), { Cmd: ['ls'] });
});

test('wrong JSON types are refused with Go json wording', () => {
  refused(() => create({ Cmd: 42 }), 'invalid JSON: json: cannot unmarshal number into Go struct field ContainerConfigWrapper.Cmd of type string');
  refused(() => create({ Tty: 'yes' }), 'invalid JSON: json: cannot unmarshal string into Go struct field ContainerConfigWrapper.Tty of type bool');
  refused(() => create({ HostConfig: { Memory: '1g' } }), 'invalid JSON: json: cannot unmarshal string into Go struct field HostConfig.HostConfig.Memory of type int64');
  refused(() => create({ HostConfig: { Memory: 1.5 } }), 'invalid JSON: json: cannot unmarshal number 1.5 into Go struct field HostConfig.HostConfig.Memory of type int64');
  refused(() => create({ Env: 'A=1' }), 'invalid JSON: json: cannot unmarshal string into Go struct field ContainerConfigWrapper.Env of type []string');
  refused(() => create({ Labels: { a: 1 } }), 'invalid JSON: json: cannot unmarshal number into Go struct field ContainerConfigWrapper.Labels of type string');
  refused(() => create([]), 'invalid JSON: json: cannot unmarshal array into Go value of type ContainerConfigWrapper');
  refused(() => bodyDecoderFor('POST', '/containers/{id}/exec')!({ Cmd: 'ls' }),
    'invalid JSON: json: cannot unmarshal string into Go struct field ExecOptions.Cmd of type []string');
  refused(() => bodyDecoderFor('POST', '/networks/{id}/connect')!({ Container: 'c', EndpointConfig: { Aliases: 'a' } }),
    'invalid JSON: json: cannot unmarshal string into Go struct field EndpointSettings.EndpointConfig.Aliases of type []string');
});

test('Go specifics: strslice takes a string, names fold case, unknown fields pass', () => {
  assert.deepEqual(create({ Cmd: 'sh', Entrypoint: ['a'] }), { Cmd: ['sh'], Entrypoint: ['a'] });
  assert.deepEqual(create({ image: 'busybox', hostconfig: { memory: 5 } }), { Image: 'busybox', HostConfig: { Memory: 5 } });
  assert.deepEqual(create({ Image: 'a', image: 'b' }), { Image: 'a' });
  assert.deepEqual(create({ Whatever: { x: null }, HostConfig: { KernelMemory: 1 } }), { Whatever: { x: null }, HostConfig: { KernelMemory: 1 } });
});
