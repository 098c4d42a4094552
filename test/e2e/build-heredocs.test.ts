// Heredocs as buildkit runs them, built with the real docker CLI (classic API) against berthd: RUN
// bodies through the shell, `#!` bodies as scripts, `<<-` tab stripping, quoted delimiters, several
// heredocs on a line, and COPY heredocs creating files; the results are read back from the image.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startDaemon, type Daemon } from '../helpers/daemon.js';
import { berth, docker, show, type CliResult } from '../helpers/cli.js';
import { busyboxTar } from '../helpers/fixtures.js';

let d: Daemon;
let root: string;
const env = () => ({ ...d.env, DOCKER_BUILDKIT: '0' });

async function ok(r: Promise<CliResult>): Promise<CliResult> {
  const x = await r;
  assert.equal(x.code, 0, show(x));
  return x;
}

function context(name: string, lines: string[]): string {
  const p = path.join(root, name);
  fs.mkdirSync(p, { recursive: true });
  fs.writeFileSync(path.join(p, 'Dockerfile'), lines.join('\n') + '\n');
  return p;
}

const build = (tag: string, ctx: string) => ok(docker(env(), ['build', '-t', tag, ctx], { timeoutMs: 120_000 }));
const cat = async (image: string, script: string) => (await ok(berth(d.env, ['run', '--rm', image, 'sh', '-c', script]))).stdout;

before(async () => {
  d = await startDaemon();
  await ok(berth(d.env, ['import', '--change', 'CMD ["sh"]', await busyboxTar(), 'busybox:local'], { timeoutMs: 60_000 }));
  root = fs.mkdtempSync(path.join(os.tmpdir(), 'bt-heredoc-'));
});

after(async () => {
  if (root) fs.rmSync(root, { recursive: true, force: true });
  if (!d) return;
  const leftovers = await d.cleanup();
  if (leftovers.length) console.error(`build-heredocs: swept leftovers: ${leftovers.join(', ')}`);
});

test('RUN heredocs: shell bodies, #! scripts, <<- tabs, quoted delimiters, several on one line', async () => {
  const ctx = context('run', [
    'FROM busybox:local',
    'ARG WHO=world',
    'RUN <<EOF',
    'echo "hello $WHO" > /hello',
    'echo "second line" >> /hello',
    'EOF',
    'RUN <<EOF',
    '#!/bin/sh -e',
    'echo "run as $0" > /script',
    'EOF',
    'RUN <<prog.awk',
    '#!/bin/awk -f',
    'BEGIN { print "awk says hi" > "/awk" }',
    'prog.awk',
    'RUN cat <<-EOF > /tabs',
    '\t\tindented',
    '\tEOF',
    'RUN cat <<"EOF" > /quoted && cat <<EOF > /unquoted',
    'literal $WHO',
    'EOF',
    'expanded $WHO',
    'EOF',
    'USER app',
    'RUN <<EOF',
    '#!/bin/sh',
    'id -u > /tmp/script-uid',
    'EOF',
  ]);
  const r = await build('hd-run', ctx);
  assert.match(r.stdout, /Successfully tagged hd-run:latest/, show(r));
  assert.equal(await cat('hd-run', 'cat /hello'), 'hello world\nsecond line\n');
  assert.equal(await cat('hd-run', 'cat /script'), 'run as /dev/pipes/EOF\n', 'the #! body ran as a script file');
  assert.equal(await cat('hd-run', 'cat /awk'), 'awk says hi\n', 'the interpreter line was honoured');
  assert.equal(await cat('hd-run', 'cat /tabs'), 'indented\n');
  assert.equal(await cat('hd-run', 'cat /quoted /unquoted'), 'literal $WHO\nexpanded world\n');
  assert.equal(await cat('hd-run', 'cat /tmp/script-uid'), '1000\n', 'a non-root USER can run the mounted script');
  assert.equal(await cat('hd-run', 'ls -A /dev/pipes 2>&1; echo rc=$?'), 'ls: /dev/pipes: No such file or directory\nrc=1\n', 'the script mount is not in the image');

  const again = await build('hd-run', ctx);
  assert.equal((again.stdout.match(/Using cache/g) ?? []).length, 8, show(again));
  // A changed script body re-runs its step though the command line (/dev/pipes/EOF) is the same.
  const changed = context('run', fs.readFileSync(path.join(ctx, 'Dockerfile'), 'utf8').replace('run as $0', 'now as $0').split('\n').slice(0, -1));
  await build('hd-run2', changed);
  assert.equal(await cat('hd-run2', 'cat /script'), 'now as /dev/pipes/EOF\n');
});

test('COPY heredocs create files: expansion unless quoted, several into a dir, --chmod and --chown', async () => {
  const ctx = context('copy', [
    'FROM busybox:local',
    'ARG WHO=world',
    'COPY <<EOF /etc/app.conf',
    'who=$WHO "quoted" ${MISSING:-dflt}',
    'EOF',
    'COPY <<"EOF" /etc/raw.conf',
    'who=$WHO',
    'EOF',
    'COPY --chmod=0600 --chown=1000:1000 <<a.txt <<b.txt /dir/',
    'first',
    'a.txt',
    'second',
    'b.txt',
  ]);
  await build('hd-copy', ctx);
  assert.equal(await cat('hd-copy', 'cat /etc/app.conf'), 'who=world "quoted" dflt\n');
  assert.equal(await cat('hd-copy', 'cat /etc/raw.conf'), 'who=$WHO\n');
  assert.equal(await cat('hd-copy', 'cat /dir/a.txt /dir/b.txt; stat -c "%a %u:%g %n" /dir/a.txt /dir/b.txt /etc/app.conf'),
    'first\nsecond\n600 1000:1000 /dir/a.txt\n600 1000:1000 /dir/b.txt\n644 0:0 /etc/app.conf\n');
});
