// Golden files for the Dockerfile parser (STYLE.md habit 11): each test/fixtures/dockerfile/<case>/
// holds a Dockerfile and the expected.json of its typed instructions, or {"error": "..."} for a
// Dockerfile that must be refused. BERTH_UPDATE_GOLDEN=1 rewrites expected.json from the parser.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseDockerfileInstructions } from '../../src/builder/instructions.js';
import { DockerfileParseError } from '../../src/builder/parser.js';
import { InvalidParameterError } from '../../src/errors.js';

// Compiled to dist/test/unit: the fixtures stay in the source tree.
const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const dir = path.join(root, 'test', 'fixtures', 'dockerfile');
const update = process.env.BERTH_UPDATE_GOLDEN === '1';

function result(text: string): unknown {
  try {
    return parseDockerfileInstructions(text);
  } catch (err) {
    if (!(err instanceof DockerfileParseError)) throw err;
    assert.ok(err instanceof InvalidParameterError, 'parse errors are InvalidParameter (400)');
    return { error: err.message, line: err.line };
  }
}

const cases = fs.readdirSync(dir).filter((c) => fs.existsSync(path.join(dir, c, 'Dockerfile'))).sort();

test('there are golden cases', () => { assert.ok(cases.length >= 20, `${cases.length} cases`); });

for (const c of cases) {
  test(`golden: ${c}`, () => {
    const text = fs.readFileSync(path.join(dir, c, 'Dockerfile'), 'utf8');
    const got = JSON.parse(JSON.stringify(result(text)));
    const file = path.join(dir, c, 'expected.json');
    if (update) fs.writeFileSync(file, JSON.stringify(got, null, 2) + '\n');
    assert.deepEqual(got, JSON.parse(fs.readFileSync(file, 'utf8')));
    if (c.startsWith('err-')) assert.ok((got as { error?: string }).error, 'an err- case must fail');
    else assert.equal((got as { error?: string }).error, undefined, 'only err- cases may fail');
  });
}
