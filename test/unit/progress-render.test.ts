import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PassThrough, Readable } from 'node:stream';
import { renderJsonMessages } from '../../src/cli/progress-render.js';
import { StatusError } from '../../src/cli/context.js';

const msgs = [
  { status: 'Pulling from e2e/x', id: 'v1' },
  { status: 'Pulling fs layer', id: 'aaa' },
  { status: 'Pulling fs layer', id: 'bbb' },
  { status: 'Downloading', id: 'aaa', progressDetail: { current: 5, total: 10 }, progress: '[=====>    ]' },
  { status: 'Download complete', id: 'aaa' },
  { status: 'Digest: sha256:x' },
  { aux: { Tag: 'v1' } },
];
const src = (m: unknown[]) => Readable.from([m.map((x) => JSON.stringify(x)).join('\r\n')]);

async function render(m: unknown[], tty: boolean): Promise<{ text: string; aux: unknown[] }> {
  const out = new PassThrough();
  let text = '';
  out.on('data', (c: Buffer) => { text += c.toString(); });
  const aux = await renderJsonMessages(src(m), out, tty);
  return { text, aux };
}

test('renderJsonMessages: plain lines without progress off a terminal; aux collected', async () => {
  const r = await render(msgs, false);
  assert.equal(r.text, 'v1: Pulling from e2e/x\naaa: Pulling fs layer\nbbb: Pulling fs layer\naaa: Download complete\nDigest: sha256:x\n');
  assert.deepEqual(r.aux, [{ Tag: 'v1' }]);
});

test('renderJsonMessages: on a terminal a layer\'s line is rewritten in place with its bar', async () => {
  const r = await render(msgs, true);
  // aaa is row 1 of 3: up 2 lines, clear, redraw, back down 2.
  assert.ok(r.text.includes('\x1b[2A\x1b[2K\raaa: Downloading [=====>    ]\r\x1b[2B'), JSON.stringify(r.text));
  assert.ok(r.text.includes('\x1b[2A\x1b[2K\raaa: Download complete\r\x1b[2B'));
  assert.ok(r.text.endsWith('Digest: sha256:x\n'));
});

test('renderJsonMessages: an in-band error is a StatusError with its message', async () => {
  await assert.rejects(render([{ status: 'x' }, { errorDetail: { message: 'boom' }, error: 'boom' }], false), (e: unknown) => e instanceof StatusError && /boom/.test((e as Error).message));
});
