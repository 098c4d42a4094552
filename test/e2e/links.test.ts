// Issue 8's legacy links with the REAL docker CLI against a private berthd: `--link name:alias` on the default
// bridge gives Docker's ALIAS_* variables and a hosts entry (alias, id prefix, name), inspect shows the link as
// "/child:/parent/alias", `docker rm --link` removes it, links to missing or stopped containers are refused in
// moby's words, and on a user-defined network the link is a DNS alias only the linking container resolves.
// Uses the host-wide default bridge: run under the e2e lock.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startDaemon, type Daemon } from '../helpers/daemon.js';
import { berth, dockerChecks, show } from '../helpers/cli.js';
import { busyboxTar } from '../helpers/fixtures.js';

const IMG = 'busybox:links';
let d: Daemon;
const { run: dk, ok, fails, inspect } = dockerChecks(() => d.env);

before(async () => {
  d = await startDaemon();
  const tar = await busyboxTar();
  await ok(['import', '--change', 'CMD ["sh"]', tar, IMG], { timeoutMs: 60_000 });
  await ok(['run', '-d', '--name', 'web', '-e', 'FOO=bar baz', '--expose', '80', '--expose', '81', IMG, 'sleep', '1000']);
});

after(async () => {
  if (!d) return;
  const ids = (await dk(['ps', '-aq'])).stdout.split('\n').filter(Boolean);
  if (ids.length) await dk(['rm', '-f', ...ids], { timeoutMs: 60_000 });
  await dk(['network', 'prune', '-f']);
  const leftovers = await d.cleanup();
  if (leftovers.length) console.error(`links: swept leftovers: ${leftovers.join(', ')}`);
});

test('--link web:w on the default bridge: ALIAS_* env vars, a hosts line, reachable by alias, shown in inspect', async () => {
  const webIp = await inspect('web', '{{.NetworkSettings.IPAddress}}');
  const webId = await inspect('web', '{{.Id}}');
  assert.match(webIp, /^\d+\.\d+\.\d+\.\d+$/);
  const r = await ok(['run', '--name', 'ctr', '--link', 'web:w', '-e', 'W_ENV_FOO=mine', IMG, 'sh', '-c', 'env; echo ---; cat /etc/hosts; echo ---; ping -c1 -W2 w >/dev/null && echo pinged']);
  const [envText, hosts, tail] = r.stdout.split('---\n');
  const env = envText!.split('\n');
  for (const v of [`W_PORT=tcp://${webIp}:80`, `W_PORT_80_TCP=tcp://${webIp}:80`, `W_PORT_80_TCP_ADDR=${webIp}`, 'W_PORT_80_TCP_PORT=80',
    'W_PORT_80_TCP_PROTO=tcp', `W_PORT_81_TCP=tcp://${webIp}:81`, `W_PORT_80_TCP_START=tcp://${webIp}:80`, `W_PORT_80_TCP_END=tcp://${webIp}:81`,
    'W_NAME=/ctr/w']) {
    assert.ok(env.includes(v), `${v} in:\n${envText}`);
  }
  // the container's own Env wins over a link variable of the same name
  assert.ok(env.includes('W_ENV_FOO=mine'), envText);
  assert.ok(!env.some((e) => e.startsWith('W_ENV_PATH=') || e.startsWith('W_ENV_HOME=')), envText);
  assert.ok(hosts!.split('\n').includes(`${webIp}\tw ${webId.slice(0, 12)} web`), hosts);
  assert.equal(tail!.trim(), 'pinged');
  assert.equal(await inspect('ctr', '{{json .HostConfig.Links}}'), '["/web:/ctr/w"]');
  // Config.Env is what the user gave: the link variables are the runtime's, as in Docker
  assert.doesNotMatch(await inspect('ctr', '{{json .Config.Env}}'), /W_PORT/);
  // the env of the linked container, without the parent's override
  const r2 = await ok(['run', '--rm', '--link', 'web', IMG, 'sh', '-c', 'echo "$WEB_ENV_FOO|$WEB_NAME"; grep -c "web$" /etc/hosts || true']);
  assert.match(r2.stdout, /^bar baz\|\/[a-z_]+\/web\n/);
});

test('docker rm --link /ctr/w removes the link and keeps both containers; a renamed parent keeps its link', async () => {
  await ok(['create', '--name', 'ctr2', '--link', 'web:w2', IMG, 'true']);
  await ok(['rename', 'ctr2', 'ctr3']);
  assert.equal(await inspect('ctr3', '{{json .HostConfig.Links}}'), '["/web:/ctr3/w2"]');
  await fails(['rm', '--link', '/ctr3/nope'], /No such container: \/?ctr3\/nope/);
  await fails(['rm', '--link', '/web'], /cannot remove the default link name of the container/);
  const r = await ok(['rm', '--link', '/ctr3/w2']);
  assert.match(r.stdout, /\/ctr3\/w2/);
  assert.equal(await inspect('ctr3', '{{json .HostConfig.Links}}'), 'null');
  assert.equal(await inspect('web', '{{.State.Running}}'), 'true');
  // the link is gone for good: the next start has no W2_* variables
  const out = await ok(['start', '-a', 'ctr3']);
  assert.equal(out.code, 0);
  // the berth CLI removes links too (it sends the name URL-encoded)
  await ok(['create', '--name', 'ctr4', '--link', 'web:w4', IMG, 'true']);
  const b = await berth(d.env, ['rm', '--link', '/ctr4/w4']);
  assert.equal(b.code, 0, show(b));
  assert.equal(await inspect('ctr4', '{{json .HostConfig.Links}}'), 'null');
});

test('links to a missing or stopped container, or with host networking, are refused in moby\'s words', async () => {
  const missing = await fails(['run', '--rm', '--link', 'nosuch:n', IMG, 'true'], /could not get container for nosuch: No such container: nosuch/);
  assert.doesNotMatch(missing.stderr, /Unable to find image|pull/i, 'a missing link is a 400, not a 404 that makes the CLI pull');
  await ok(['create', '--name', 'stopped', IMG, 'true']);
  await fails(['run', '--name', 'p1', '--link', 'stopped:s', IMG, 'true'], /Cannot link to a non running container: \/stopped AS \/p1\/s/);
  assert.equal(await inspect('p1', '{{.State.Running}}'), 'false');
  await fails(['run', '--rm', '--network', 'host', '--link', 'web:w', IMG, 'true'], /host type networking can't be used with links/);
  await fails(['run', '--rm', '--network', 'container:web', '--link', 'web:w', IMG, 'true'], /container type network can't be used with links/);
});

test('on a user-defined network --link is a DNS alias for the linking container only; no legacy link is registered', async () => {
  await ok(['network', 'create', '--subnet', '10.231.60.0/24', 'lnet']);
  await ok(['run', '-d', '--name', 'udb', '--network', 'lnet', IMG, 'sleep', '1000']);
  const ip = await inspect('udb', '{{(index .NetworkSettings.Networks "lnet").IPAddress}}');
  await ok(['run', '-d', '--name', 'uapp', '--network', 'lnet', '--link', 'udb:dbalias', IMG, 'sleep', '1000']);
  const r = await ok(['exec', 'uapp', 'nslookup', 'dbalias']);
  assert.match(r.stdout, new RegExp(`Address: ${ip.replaceAll('.', '\\.')}`), show(r));
  const other = await dk(['run', '--rm', '--network', 'lnet', IMG, 'nslookup', 'dbalias']);
  assert.notEqual(other.code, 0, `another container must not resolve the alias: ${show(other)}`);
  assert.equal(await inspect('uapp', '{{json .HostConfig.Links}}'), 'null');
  assert.equal(await inspect('uapp', '{{json (index .NetworkSettings.Networks "lnet").Links}}'), '["udb:dbalias"]');
  const env = await ok(['exec', 'uapp', 'env']);
  assert.doesNotMatch(env.stdout, /DBALIAS_/);
  await ok(['rm', '-f', 'uapp', 'udb']);
  await ok(['network', 'rm', 'lnet']);
});
