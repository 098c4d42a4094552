import { test } from 'node:test';
import assert from 'node:assert/strict';
import { applyChanges } from '../../src/core/dockerfile-change.js';
import { InvalidParameterError } from '../../src/errors.js';

test('CMD and ENTRYPOINT: exec and shell forms', () => {
  const c = applyChanges({}, ['CMD ["/bin/sh", "-c", "echo hi"]', 'ENTRYPOINT /bin/echo hello world']);
  assert.deepEqual(c.Cmd, ['/bin/sh', '-c', 'echo hi']);
  assert.deepEqual(c.Entrypoint, ['/bin/sh', '-c', '/bin/echo hello world']);
  const d = applyChanges(c, ['cmd echo "a b"']);
  assert.deepEqual(d.Cmd, ['/bin/sh', '-c', 'echo "a b"']);
  assert.deepEqual(c.Cmd, ['/bin/sh', '-c', 'echo hi'], 'input config is not mutated');
});

test('ENV: key=value pairs with quotes, legacy form, expansion, replacement', () => {
  const c = applyChanges({ Env: ['PATH=/bin'] }, [
    'ENV A=1 B="two words" C=\'$A\'',
    'ENV D=$A-${B} E=${MISSING:-dflt}',
    'ENV LEGACY hello  world',
    'ENV A=3',
  ]);
  assert.deepEqual(c.Env, ['PATH=/bin', 'B=two words', 'C=$A', 'D=1-two words', 'E=dflt', 'LEGACY=hello  world', 'A=3']);
});

test('LABEL, EXPOSE, USER, WORKDIR, VOLUME, STOPSIGNAL, ONBUILD', () => {
  const c = applyChanges({ WorkingDir: '/srv' }, [
    'LABEL a=b "c d"="e f"',
    'EXPOSE 80 53/udp 8000-8001',
    'USER app:app',
    'WORKDIR sub/../x',
    'VOLUME ["/data", "/logs"]',
    'VOLUME /cache',
    'STOPSIGNAL SIGTERM',
    'ONBUILD RUN echo hi',
  ]);
  assert.deepEqual(c.Labels, { a: 'b', 'c d': 'e f' });
  assert.deepEqual(Object.keys(c.ExposedPorts!).sort(), ['53/udp', '80/tcp', '8000/tcp', '8001/tcp']);
  assert.equal(c.User, 'app:app');
  assert.equal(c.WorkingDir, '/srv/x');
  assert.deepEqual(Object.keys(c.Volumes!).sort(), ['/cache', '/data', '/logs']);
  assert.equal(c.StopSignal, 'SIGTERM');
  assert.deepEqual(c.OnBuild, ['RUN echo hi']);
});

test('HEALTHCHECK forms', () => {
  const c = applyChanges({}, ['HEALTHCHECK --interval=5s --retries=3 CMD wget -q localhost']);
  assert.deepEqual(c.Healthcheck, { Interval: 5e9, Retries: 3, Test: ['CMD-SHELL', 'wget -q localhost'] });
  assert.deepEqual(applyChanges({}, ['HEALTHCHECK CMD ["true"]']).Healthcheck, { Test: ['CMD', 'true'] });
  assert.deepEqual(applyChanges({}, ['HEALTHCHECK NONE']).Healthcheck, { Test: ['NONE'] });
});

test('rejected changes', () => {
  const bad: [string, RegExp][] = [
    ['RUN echo hi', /^run is not a valid change command$/],
    ['FROM busybox', /^from is not a valid change command$/],
    ['USER a b', /USER requires exactly one argument/],
    ['WORKDIR', /WORKDIR requires exactly one argument/],
    ['ENV', /ENV requires at least one argument/],
    ['ENV =x', /ENV names can not be blank/],
    ['EXPOSE abc', /Invalid containerPort: abc/],
    ['EXPOSE 70000', /Invalid containerPort/],
    ['ENV A="unterminated', /double-quote/],
    ['HEALTHCHECK --bogus=1 CMD true', /Unknown flag: bogus/],
    ['ONBUILD ONBUILD RUN x', /Chaining ONBUILD/],
  ];
  for (const [chg, re] of bad) {
    assert.throws(() => applyChanges({}, [chg]), (e: unknown) => e instanceof InvalidParameterError && re.test(e.message), chg);
  }
});
