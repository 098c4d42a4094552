/**
 * docker's formatter: `--format` strings (`table`, `table TEMPLATE`, `json`, `TEMPLATE`) rendered over
 * per-row contexts, with table output aligned by an elastic-tabstop writer configured like docker's
 * (minwidth 10, tabwidth 1, padding 3, pad with spaces).
 */
import { HEADER_FUNCS, TemplateError, parseTemplate } from '../core/go-template.js';
import { StatusError } from './context.js';
import { formatGoTime, localGoTime } from '../core/go-time.js';

/** Go text/tabwriter (elastic tabstops): cells end at '\t'; the last cell of a line is not aligned. */
export function tabwrite(text: string, minwidth = 10, padding = 3): string {
  const out: string[] = [];
  let block: string[][] = [];
  const flush = () => {
    if (block.length) out.push(formatBlock(block, minwidth, padding));
    block = [];
  };
  const lines = text.split('\n');
  const trailingNewline = text.endsWith('\n');
  if (trailingNewline) lines.pop();
  for (const line of lines) {
    const cells = line.split('\t');
    block.push(cells);
    // a line without tabs ends the column block (Go flushes on single-cell lines)
    if (cells.length === 1) flush();
  }
  flush();
  const joined = out.join('\n');
  return trailingNewline ? joined + '\n' : joined;
}

function width(s: string): number {
  return [...s].length;
}

function formatBlock(lines: string[][], minwidth: number, padding: number): string {
  const rendered: string[] = lines.map(() => '');
  const widths: number[] = [];
  const format = (line0: number, line1: number) => {
    const column = widths.length;
    for (let l = line0; l < line1; l++) {
      if (column >= lines[l]!.length - 1) continue;
      // a column block starts here: lines [line0, l) are written with the current widths
      writeLines(line0, l);
      line0 = l;
      let w = minwidth;
      for (; l < line1; l++) {
        const cells = lines[l]!;
        if (column >= cells.length - 1) break;
        w = Math.max(w, width(cells[column]!) + padding);
      }
      widths.push(w);
      format(line0, l);
      widths.pop();
      line0 = l;
      l--;
    }
    writeLines(line0, line1);
  };
  const written = new Set<number>();
  const writeLines = (a: number, b: number) => {
    for (let l = a; l < b; l++) {
      if (written.has(l)) continue;
      written.add(l);
      const cells = lines[l]!;
      let s = '';
      cells.forEach((c, j) => {
        if (j < widths.length && j < cells.length - 1) s += c + ' '.repeat(Math.max(0, widths[j]! - width(c)));
        else s += c;
      });
      rendered[l] = s;
    }
  };
  format(0, lines.length);
  return rendered.join('\n');
}

/** docker's Format.templateString: strip `table`, trim spaces, turn literal \t \n into characters. */
export function templateString(format: string): string {
  if (format === 'table') return '';
  if (format === 'json') return '{{json .}}';
  let s = format.startsWith('table') ? format.slice(5) : format;
  s = s.replace(/^ +| +$/g, '');
  return s.replace(/\\t/g, '\t').replace(/\\n/g, '\n');
}

/**
 * Renders rows with a docker format; `header` maps context field names to column titles.
 * Returns the text to print (empty when there are no rows and no table).
 */
export function renderFormat(format: string, rows: object[], header: Record<string, string>): string {
  const src = templateString(format);
  let tmpl;
  try {
    tmpl = parseTemplate(src);
  } catch (e) {
    throw new StatusError(`template parsing error: ${(e as Error).message}`, 1);
  }
  let body = '';
  for (const r of rows) {
    try {
      body += tmpl.execute(r) + '\n';
    } catch (e) {
      if (e instanceof TemplateError) throw new StatusError(`template parsing error: ${e.message}`, 1);
      throw e;
    }
  }
  if (!format.startsWith('table')) return body;
  let head = '';
  try {
    head = tmpl.execute(headerContext(header), { funcs: HEADER_FUNCS });
  } catch {
    head = '';
  }
  return tabwrite(head + '\n' + body);
}

/** The header row is the template executed over {Field: "TITLE"}; methods with arguments too. */
function headerContext(header: Record<string, string>): object {
  const ctx: Record<string, unknown> = { ...header };
  if (header.Label !== undefined) ctx.Label = header.Label;
  return ctx;
}

/** Docker's stringid.TruncateID: strip the algorithm, keep 12 characters. */
export function truncateId(id: string): string {
  const i = id.indexOf(':');
  const s = i >= 0 ? id.slice(i + 1) : id;
  return s.length > 12 ? s.slice(0, 12) : s;
}

/** Docker's formatter.Ellipsis: cut to `max` display characters, ending with "…". */
export function ellipsis(s: string, max: number): string {
  const chars = [...s];
  if (chars.length <= max) return s;
  if (max <= 1) return chars.slice(0, max).join('');
  return chars.slice(0, max - 1).join('') + '…';
}

/** Go's time.Time.String() for a unix time (ms) in the local zone: "2024-05-01 10:00:00 +0200 CEST". */
export function goTimeString(ms: number): string {
  return formatGoTime(localGoTime(BigInt(Math.trunc(ms)) * 1_000_000n), 'String');
}
