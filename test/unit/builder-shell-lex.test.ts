import { test } from 'node:test';
import assert from 'node:assert/strict';
import { envLookup, lex, processWord, processWords, ShellLexError } from '../../src/builder/shell-lex.js';
import { InvalidParameterError } from '../../src/errors.js';

const env = envLookup(['A=apple', 'EMPTY=', 'SP=a b', 'PATHV=/usr/local/bin:/usr/bin:/bin', 'F=file.tar.gz']);
const w = (s: string, esc?: string): string => processWord(s, env, esc ? { escape: esc } : {});

test('plain and braced variables, unset is empty, $ alone stays', () => {
  assert.equal(w('$A-${A}_$A_x'), 'apple-apple_');
  assert.equal(w('${MISSING}x$MISSING'), 'x');
  assert.equal(w('cost: $ 5 $'), 'cost: $ 5 $');
  assert.equal(w('$1$@x'), 'x', 'positional and special parameters are never set');
});

test('modifiers: :- - :+ + :? ?', () => {
  assert.equal(w('${EMPTY:-d} ${EMPTY-d} ${MISSING-d} ${A:-d}'), 'd  d apple');
  assert.equal(w('${EMPTY:+s}|${EMPTY+s}|${MISSING+s}|${A:+s}'), '|s||s');
  assert.equal(w('${A:-$EMPTY${A}}'), 'apple');
  assert.equal(w('${MISSING:-"quoted $A"}'), 'quoted apple');
  assert.equal(w('${A?}'), 'apple');
  assert.throws(() => w('${MISSING:?must be set}'), /^ShellLexError: MISSING: must be set$/);
  assert.throws(() => w('${EMPTY:?}'), /EMPTY: is not allowed to be empty/);
  assert.throws(() => w('${MISSING?}'), /MISSING: is not allowed to be unset/);
  assert.equal(w('${EMPTY?}'), '');
});

test('pattern removal and substitution', () => {
  assert.equal(w('${F#*.}|${F##*.}|${F%.*}|${F%%.*}'), 'tar.gz|gz|file.tar|file');
  assert.equal(w('${PATHV/bin/BIN}|${PATHV//bin/BIN}|${PATHV//\\/usr}'), '/usr/local/BIN:/usr/bin:/bin|/usr/local/BIN:/usr/BIN:/BIN|/local/bin:/bin:/bin');
  assert.equal(w('${F/tar}'), 'file..gz');
  assert.throws(() => w('${F:#x}'), /unsupported modifier \(:#\) in substitution/);
});

test('quotes and escapes', () => {
  assert.equal(w(`'$A "x"' "$A 'y'" \\$A a\\ b`), `$A "x" apple 'y' $A a b`);
  assert.equal(w('"a\\"b\\$c\\\\d\\ne"'), 'a"b$c\\d\\ne', 'double quotes escape only " $ and the escape char');
  assert.equal(w('trailing\\'), 'trailing');
  assert.equal(w('C:\\path `$A` "q`"uote"', '`'), 'C:\\path $A q"uote', 'backtick escape leaves backslashes alone');
});

test('syntax errors', () => {
  for (const [s, msg] of [['${A', "syntax error: missing '}'"], ['${}', 'syntax error: bad substitution'], ['${:x}', 'syntax error: bad substitution'],
    ["'open", 'unexpected end of statement while looking for matching single-quote'],
    ['"open', 'unexpected end of statement while looking for matching double-quote'], ['${A:-x', "syntax error: missing '}'"], ['${A!}', 'unsupported modifier (!) in substitution']]) {
    assert.throws(() => w(s), (e: unknown) => e instanceof ShellLexError && e instanceof InvalidParameterError && e.message === msg, s);
  }
});

test('words: unquoted whitespace and unquoted expansions split, quoted ones do not', () => {
  assert.deepEqual(processWords('a  $SP "$SP" \'c d\'', env), ['a', 'a', 'b', 'a b', 'c d']);
});

test('matched and unmatched names, skipUnsetEnv keeps unset variables as written', () => {
  const r = lex('$A ${B:-x} ${EMPTY}', env);
  assert.deepEqual([...r.matched].sort(), ['A', 'EMPTY']);
  assert.deepEqual([...r.unmatched], ['B']);
  assert.equal(processWord('$A $B ${C} ${D:-x}', env, { skipUnsetEnv: true }), 'apple $B ${C} ${D:-x}');
});
