// What a RUN with heredocs runs and what a COPY heredoc writes (buildkit's dockerfile2llb rules).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { heredocFileContent, heredocRun } from '../../src/builder/heredoc.js';
import { parseDockerfileInstructions, type InstructionOf } from '../../src/builder/instructions.js';
import { envLookup } from '../../src/builder/shell-lex.js';

function runs(text: string): InstructionOf<'RUN'>[] {
  return parseDockerfileInstructions(text).stages[0]!.instructions.filter((i): i is InstructionOf<'RUN'> => i.kind === 'RUN');
}
function arg(r: InstructionOf<'RUN'>) {
  assert.equal(r.form, 'shell');
  return heredocRun(r.form === 'shell' ? r.command : '', r.heredocs);
}

test('a RUN that is only a heredoc runs its body through the shell', () => {
  const [r] = runs('FROM x\nRUN <<EOF\necho one\n  echo two\nEOF\n');
  assert.deepEqual(arg(r!), { arg: 'echo one\n  echo two\n' });
});

test('a #! body becomes a script under /dev/pipes named after the delimiter', () => {
  const [r] = runs('FROM x\nRUN <<run.sh\n#!/bin/awk -f\nBEGIN { print 1 }\nrun.sh\n');
  assert.deepEqual(arg(r!), { arg: '/dev/pipes/run.sh', script: { name: 'run.sh', data: '#!/bin/awk -f\nBEGIN { print 1 }\n' } });
  const [q] = runs('FROM x\nRUN <<"EOF"\n#!/bin/sh\necho $0\nEOF\n');
  assert.equal(arg(q!).arg, '/dev/pipes/EOF', 'a quoted delimiter still names the script');
});

test('<<- strips leading tabs from the body and the terminator', () => {
  const [r] = runs('FROM x\nRUN <<-EOF\n\t\techo tabbed\n\t  kept\n\tEOF\n');
  assert.deepEqual(arg(r!), { arg: 'echo tabbed\n  kept\n' });
});

test('other RUNs get the line and every body with its terminator: the shell does the heredocs', () => {
  const [a, b] = runs("FROM x\nRUN cat <<A >/a && cat <<'B' >/b\nfirst $X\nA\nsecond $Y\nB\nRUN <<-\"EOT\" bash\n\techo $HOME\n\tEOT\n");
  assert.deepEqual(arg(a!), { arg: "cat <<A >/a && cat <<'B' >/b\nfirst $X\nA\nsecond $Y\nB" });
  assert.deepEqual(arg(b!), { arg: '<<-"EOT" bash\necho $HOME\nEOT' });
});

test('COPY heredoc bodies expand variables unless the delimiter is quoted; quotes in the body stay', () => {
  const env = envLookup(['WHO=world']);
  assert.equal(heredocFileContent({ content: 'key=$WHO "${WHO}" \'$WHO\' \\$WHO ${NONE:-d}\n', expand: true }, env), 'key=world "world" \'world\' $WHO d\n');
  assert.equal(heredocFileContent({ content: 'key=$WHO\n', expand: false }, env), 'key=$WHO\n');
});
