// Issue 3's pty-driven acceptance test: `run -it`, detach keys, `attach`, resize, `exec -it`, `start -ai`, with
// the REAL docker CLI and with bin/berth, each given a real terminal (test/helpers/pty.ts) against a private berthd.
import { test, before, after, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { startDaemon, waitFor, type Daemon } from '../helpers/daemon.js';
import { berthBin, docker, show, type CliOptions, type CliResult } from '../helpers/cli.js';
import { busyboxTar } from '../helpers/fixtures.js';
import { ptyAvailable, spawnPty, type PtyProcess } from '../helpers/pty.js';

const IMG = 'busybox:tty';
let d: Daemon;
const open: PtyProcess[] = [];
const dk = (args: string[], opts?: CliOptions) => docker(d.env, args, { timeoutMs: 30_000, ...opts });
const skip = !ptyAvailable() && 'python3 with the pty module is needed';

async function ok(args: string[], opts?: CliOptions): Promise<CliResult> {
  const r = await dk(args, opts);
  assert.equal(r.code, 0, `docker ${args.join(' ')} failed: ${show(r)}`);
  return r;
}

const state = async (name: string) => (await ok(['inspect', '-f', '{{.State.Status}} {{.State.ExitCode}}', name])).stdout.trim();

type Cli = 'docker' | 'berth';
function term(cli: Cli, args: string[], rows = 24, cols = 80): PtyProcess {
  const p = spawnPty([cli === 'docker' ? 'docker' : berthBin, ...args], { rows, cols, env: d.env });
  open.push(p);
  return p;
}

/** Types a command whose output cannot be confused with its echo (`echo mar""ker` prints `marker`). */
async function roundTrip(p: PtyProcess, word: string): Promise<void> {
  const half = Math.floor(word.length / 2);
  const from = p.output.length;
  p.write(`echo ${word.slice(0, half)}""${word.slice(half)}\r`);
  await p.expect(new RegExp(`(^|\\n)${word}\\r*\\n`), { from, timeoutMs: 10_000 });
}

/** `stty size` inside until it prints `rows cols` (a resize travels CLI → API → monitor → pty asynchronously). */
async function sttySizeBecomes(p: PtyProcess, rows: number, cols: number): Promise<void> {
  let last = '';
  for (let i = 0; i < 5; i++) {
    const from = p.output.length;
    p.write('stty size\r');
    try {
      await p.expect(new RegExp(`(^|\\n)${rows} ${cols}\\r*\\n`), { from, timeoutMs: 2000 });
      return;
    } catch {
      last = p.output.slice(from);
    }
  }
  assert.fail(`stty size never printed "${rows} ${cols}"; last answer ${JSON.stringify(last)}; ${p.describe()}`);
}

before(async () => {
  if (skip) return;
  d = await startDaemon();
  await ok(['import', '--change', 'CMD ["sh"]', await busyboxTar(), IMG], { timeoutMs: 60_000 });
});

afterEach(() => { for (const p of open.splice(0)) p.kill(); });

after(async () => {
  if (!d) return;
  const leftovers = await d.cleanup();
  if (leftovers.length) console.error(`interactive: swept leftovers: ${leftovers.join(', ')}`);
});

for (const cli of ['docker', 'berth'] as const) {
  const n = (s: string) => `${cli}-${s}`;

  test(`${cli}: run -it, Ctrl-P Ctrl-Q detaches, attach resumes, resize reaches stty, exit stops it`, { skip }, async () => {
    const t1 = n('t1');
    const run = term(cli, ['run', '-it', '--name', t1, IMG, 'sh'], 30, 100);
    await run.waitRaw();
    await roundTrip(run, 'hello');
    // The container's terminal starts at the client's size.
    await sttySizeBecomes(run, 30, 100);

    run.write('\x10\x11');
    const det = await run.wait(10_000);
    assert.equal(det.code, 0, `detaching should end ${cli} run with 0: ${run.describe()}`);
    assert.equal(await state(t1), 'running 0', 'the container keeps running after a detach');

    const att = term(cli, ['attach', t1], 24, 80);
    await att.waitRaw();
    await roundTrip(att, 'again');
    att.resize(33, 111);
    await sttySizeBecomes(att, 33, 111);
    att.write('exit\r');
    const ex = await att.wait(10_000);
    assert.equal(ex.code, 0, `attach should end with the shell's exit code 0: ${att.describe()}`);
    assert.ok(await waitFor(async () => (await state(t1)) === 'exited 0', 5000), `after exit: ${await state(t1)}`);

    const stopped = await dk(['attach', t1]);
    assert.notEqual(stopped.code, 0, show(stopped));
    assert.match(stopped.stderr, /cannot attach to a stopped container, start it first/i, show(stopped));
  });

  test(`${cli}: exec -it runs a second shell; its exit code comes back and the container keeps running`, { skip }, async () => {
    const t2 = n('t2');
    await ok(['run', '-d', '--name', t2, IMG, 'sleep', '1000']);
    const ex = term(cli, ['exec', '-it', t2, 'sh'], 27, 91);
    await ex.waitRaw();
    await roundTrip(ex, 'inexec');
    await sttySizeBecomes(ex, 27, 91);
    ex.resize(40, 120);
    await sttySizeBecomes(ex, 40, 120);
    ex.write('exit 3\r');
    const r = await ex.wait(10_000);
    assert.equal(r.code, 3, `exec -it should return the shell's exit code: ${ex.describe()}`);
    assert.equal(await state(t2), 'running 0');

    const again = term(cli, ['exec', '-it', t2, 'sh']);
    await again.waitRaw();
    again.write('exit\r');
    assert.equal((await again.wait(10_000)).code, 0, again.describe());
    assert.equal(await state(t2), 'running 0');
    await ok(['rm', '-f', t2]);
  });

  test(`${cli}: --detach-keys ctrl-a,a detaches; Ctrl-P Ctrl-Q then reaches the shell`, { skip }, async () => {
    const t3 = n('t3');
    const run = term(cli, ['run', '-it', '--detach-keys', 'ctrl-a,a', '--name', t3, IMG, 'sh']);
    await run.waitRaw();
    await roundTrip(run, 'custom');
    // With other detach keys, the default sequence is ordinary input: the CLI stays attached.
    run.write('\x10\x11');
    await new Promise((r) => setTimeout(r, 700));
    assert.ok(run.running, `Ctrl-P Ctrl-Q must not detach when --detach-keys is set: ${run.describe()}`);
    run.write('\x05\x15'); // the bytes did reach ash (Ctrl-P recalls history): end-of-line, kill the line
    await roundTrip(run, 'still');
    run.write('\x01a');
    const r = await run.wait(10_000);
    assert.equal(r.code, 0, run.describe());
    assert.equal(await state(t3), 'running 0');
    await ok(['rm', '-f', t3]);
  });

  test(`${cli}: create -it then start -ai`, { skip }, async () => {
    const t4 = n('t4');
    await ok(['create', '-it', '--name', t4, IMG, 'sh']);
    const s = term(cli, ['start', '-ai', t4]);
    await s.waitRaw();
    await roundTrip(s, 'started');
    s.write('exit 4\r');
    const r = await s.wait(10_000);
    assert.equal(r.code, 4, s.describe());
    assert.equal(await state(t4), 'exited 4');
    await ok(['rm', t4]);
  });
}
