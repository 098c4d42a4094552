import { test } from 'node:test';
import assert from 'node:assert/strict';
import { TemplateError, formatG, goStruct, renderTemplate, parseTemplate } from '../../src/core/go-template.js';
import { tabwrite, templateString, renderFormat, ellipsis, truncateId } from '../../src/cli/format.js';

const data = {
  Id: 'abc',
  State: { Status: 'exited', ExitCode: 3, Health: null },
  Config: { Env: ['A=1', 'B=2'], Labels: { z: '1', a: '2' }, Cmd: null, Empty: [] },
  HostConfig: { Memory: 67108864 },
};

test('fields, nested fields and Go value printing', () => {
  assert.equal(renderTemplate('{{.Id}}/{{.State.ExitCode}}/{{.HostConfig.Memory}}', data), 'abc/3/67108864');
  assert.equal(renderTemplate('{{.Config.Env}}', data), '[A=1 B=2]');
  assert.equal(renderTemplate('{{.Config.Labels}}', data), 'map[a:2 z:1]');
  assert.equal(renderTemplate('{{.Config.Cmd}} {{.State.Health}}', data), '[] <nil>');
  assert.equal(renderTemplate('{{.Missing}}', data), '<no value>');
  assert.throws(() => renderTemplate('{{.Missing}}', data, { missingKey: 'error' }), /map has no entry for key "Missing"/);
});

test('functions and pipelines', () => {
  assert.equal(renderTemplate('{{json .Config.Env}}', data), '["A=1","B=2"]');
  assert.equal(renderTemplate('{{.Config.Env | json}}', data), '["A=1","B=2"]');
  assert.equal(renderTemplate('{{json .}}', { a: '<b>' }), '{"a":"<b>"}');
  assert.equal(renderTemplate('{{index .Config.Labels "a"}}', data), '2');
  assert.equal(renderTemplate('{{index .Config.Env 1}}', data), 'B=2');
  assert.equal(renderTemplate('{{join .Config.Env ","}}', data), 'A=1,B=2');
  assert.equal(renderTemplate('{{printf "%s=%d|%5s|%-4s|%q" .State.Status .State.ExitCode "ab" "c" "x"}}', data), 'exited=3|   ab|c   |"x"');
  assert.equal(renderTemplate('{{lower "AbC"}} {{upper "abc"}} {{title "hello world"}}', data), 'abc ABC Hello World');
  assert.equal(renderTemplate('{{split "a:b:c" ":"}} {{len .Config.Env}} {{truncate "abcdef" 3}}', data), '[a b c] 2 abc');
  assert.equal(renderTemplate('{{.State.Status | upper | printf "<%s>"}}', data), '<EXITED>');
  assert.equal(renderTemplate('{{(index .Config.Env 0) | lower}}', data), 'a=1');
  assert.equal(renderTemplate('{{pad "x" 1 2}}|{{pad "" 1 2}}|', data), ' x  ||');
});

test('if/else if/else, range with variables, with', () => {
  const t = '{{if eq .State.ExitCode 0}}ok{{else if gt .State.ExitCode 2}}bad{{else}}meh{{end}}';
  assert.equal(renderTemplate(t, data), 'bad');
  assert.equal(renderTemplate('{{if .Config.Empty}}y{{else}}n{{end}}{{if not .Config.Cmd}}!{{end}}', data), 'n!');
  assert.equal(renderTemplate('{{range .Config.Env}}[{{.}}]{{end}}', data), '[A=1][B=2]');
  assert.equal(renderTemplate('{{range $i, $e := .Config.Env}}{{$i}}:{{$e}} {{end}}', data), '0:A=1 1:B=2 ');
  assert.equal(renderTemplate('{{range $k, $v := .Config.Labels}}{{$k}}={{$v}};{{end}}', data), 'a=2;z=1;');
  assert.equal(renderTemplate('{{range .Config.Empty}}x{{else}}none{{end}}', data), 'none');
  assert.equal(renderTemplate('{{with .State}}{{.Status}}{{end}}{{with .Nope}}x{{else}}-{{end}}', data), 'exited-');
  assert.equal(renderTemplate('{{$x := .Id}}{{range .Config.Env}}{{$x}}{{end}}', data), 'abcabc');
  assert.equal(renderTemplate('{{and 1 0}} {{or 0 "" "z"}} {{ne 1 2}}', data), '0 z true');
});

test('whitespace trimming and comments', () => {
  assert.equal(renderTemplate('a  {{- .Id -}}  b', data), 'aabcb');
  assert.equal(renderTemplate('x {{/* note */}}y', data), 'x y');
  assert.equal(renderTemplate('{{"}}"}}', data), '}}');
});

test('struct contexts: methods with arguments, unknown fields are errors', () => {
  const ctx = goStruct({ Names: () => 'web', Label: (k: string) => ({ a: 'x' } as Record<string, string>)[k] ?? '' }, '*formatter.ContainerContext');
  assert.equal(renderTemplate('{{.Names}} {{.Label "a"}}', ctx), 'web x');
  assert.throws(() => renderTemplate('{{.Foo}}', ctx), (e: Error) => e instanceof TemplateError && /1:2: executing "" at <.Foo>: can't evaluate field Foo in type \*formatter.ContainerContext/.test(e.message));
});

test('parse errors', () => {
  assert.throws(() => parseTemplate('{{.ID'), /unclosed action/);
  assert.throws(() => parseTemplate('{{nofunc .ID}}'), /function "nofunc" not defined/);
  assert.throws(() => parseTemplate('{{if .X}}a'), /unexpected EOF/);
  assert.throws(() => parseTemplate('{{end}}'), /unexpected \{\{end\}\}/);
});

test('formatG matches Go %.Ng', () => {
  assert.equal(formatG(4.26155, 3), '4.26');
  assert.equal(formatG(4.1, 3), '4.1');
  assert.equal(formatG(4, 3), '4');
  assert.equal(formatG(123.456, 3), '123');
  assert.equal(formatG(999.9, 3), '1e+03');
  assert.equal(formatG(0.000012, 3), '1.2e-05');
});

test('tabwriter aligns like Go text/tabwriter (minwidth 10, padding 3)', () => {
  assert.equal(tabwrite('A\tBB\tC\nxxxxxxxxxxxxxx\ty\tz\n'), 'A                BB        C\nxxxxxxxxxxxxxx   y         z\n');
  // a cell-less line ends the column block
  assert.equal(tabwrite('a\tb\nplain\nlonger-cell\tc\n'), 'a         b\nplain\nlonger-cell   c\n');
  assert.equal(templateString('table {{.ID}}\\t{{.Names}}'), '{{.ID}}\t{{.Names}}');
  assert.equal(templateString('json'), '{{json .}}');
});

test('renderFormat: table header via header functions, custom and json formats', () => {
  const rows = [goStruct({ ID: () => 'abc', Names: () => 'web' }), goStruct({ ID: () => 'defghi', Names: () => 'db' })];
  const header = { ID: 'CONTAINER ID', Names: 'NAMES' };
  assert.equal(renderFormat('table {{.ID}}\t{{upper .Names}}', rows, header), 'CONTAINER ID   NAMES\nabc            WEB\ndefghi         DB\n');
  assert.equal(renderFormat('{{.Names}}', rows, header), 'web\ndb\n');
  assert.equal(ellipsis('abcdefghijklmnopqrstuvwxyz', 20), 'abcdefghijklmnopqrs…');
  assert.equal(ellipsis('short', 20), 'short');
  assert.equal(truncateId('sha256:0123456789abcdef'), '0123456789ab');
});
