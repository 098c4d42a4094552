/**
 * inspect (containers, then images, like docker's generic inspect), container inspect, image inspect.
 * Output: a 4-space indented JSON array, or one line per object rendered with -f over the raw JSON
 * (missing keys are errors, as in docker's raw fallback).
 */
import { isNotFound } from '../../client/engine-client.js';
import { parseTemplate, type Template } from '../../core/go-template.js';
import { StatusError, bool, str, type CliContext, type Command } from '../context.js';
import { reportErrorText } from '../errors.js';
import { templateString } from '../format.js';

const INSPECT_FORMAT_DESC = "Format output using a custom template:\n'json':             Print in JSON format\n'TEMPLATE':         Print output using the given Go template.\nRefer to https://docs.docker.com/go/formatting/ for more information about formatting output with templates";

type Getter = (ctx: CliContext, ref: string, size: boolean) => Promise<unknown>;

const getContainer: Getter = (ctx, ref, size) => ctx.client.containers.inspect(ref, size);
const getImage: Getter = (ctx, ref) => ctx.client.images.inspect(ref);

export async function inspectAll(ctx: CliContext, refs: string[], format: string, lookup: (ref: string) => Promise<unknown>): Promise<number> {
  let tmpl: Template | null = null;
  if (format && format !== 'json') {
    try {
      tmpl = parseTemplate(templateString(format));
    } catch (e) {
      throw new StatusError(`template parsing error: ${(e as Error).message}`, 1);
    }
  }
  const found: unknown[] = [];
  const errs: string[] = [];
  let out = '';
  for (const ref of refs) {
    let obj: unknown;
    try {
      obj = await lookup(ref);
    } catch (e) {
      errs.push(e instanceof StatusError ? e.message : reportErrorText(e));
      continue;
    }
    if (tmpl) {
      try {
        out += tmpl.execute(obj, { missingKey: 'error' }) + '\n';
      } catch (e) {
        ctx.out(out);
        throw new StatusError(`template parsing error: ${(e as Error).message}`, 1);
      }
    } else found.push(obj);
  }
  if (tmpl) ctx.out(out);
  else ctx.out((found.length ? JSON.stringify(found, null, 4) : '[]') + '\n');
  if (errs.length) {
    ctx.err(errs.join('\n') + '\n');
    return 1;
  }
  return 0;
}

const inspect: Command = {
  spec: {
    path: 'inspect', usage: 'inspect [OPTIONS] NAME|ID [NAME|ID...]', desc: 'Return low-level information on berth objects', args: { min: 1 },
    flags: [
      { name: 'format', short: 'f', kind: 'string', desc: INSPECT_FORMAT_DESC },
      { name: 'size', short: 's', kind: 'bool', desc: 'Display total file sizes if the type is container' },
      { name: 'type', kind: 'string', desc: 'Only inspect objects of the given type' },
    ],
  },
  run(ctx, p) {
    const type = str(p, 'type');
    const size = bool(p, 'size');
    if (type && !['container', 'image'].includes(type)) {
      throw new StatusError(`"${type}" is not a valid value for --type`, 1);
    }
    const getters: Getter[] = type === 'container' ? [getContainer] : type === 'image' ? [getImage] : [getContainer, getImage];
    return inspectAll(ctx, p.args, str(p, 'format'), async (ref) => {
      for (const g of getters) {
        try {
          return await g(ctx, ref, size);
        } catch (e) {
          if (!isNotFound(e)) throw e;
        }
      }
      throw new StatusError(`Error: No such ${type || 'object'}: ${ref}`, 1);
    });
  },
};

const containerInspect: Command = {
  spec: {
    path: 'container inspect', usage: 'container inspect [OPTIONS] CONTAINER [CONTAINER...]', desc: 'Display detailed information on one or more containers', args: { min: 1 },
    flags: [
      { name: 'format', short: 'f', kind: 'string', desc: INSPECT_FORMAT_DESC },
      { name: 'size', short: 's', kind: 'bool', desc: 'Display total file sizes' },
    ],
  },
  run: (ctx, p) => inspectAll(ctx, p.args, str(p, 'format'), (ref) => getContainer(ctx, ref, bool(p, 'size'))),
};

const imageInspect: Command = {
  spec: {
    path: 'image inspect', usage: 'image inspect [OPTIONS] IMAGE [IMAGE...]', desc: 'Display detailed information on one or more images', args: { min: 1 },
    flags: [
      { name: 'format', short: 'f', kind: 'string', desc: INSPECT_FORMAT_DESC },
      { name: 'platform', kind: 'string', desc: 'Inspect a specific platform of the multi-platform image.' },
    ],
  },
  run: (ctx, p) => inspectAll(ctx, p.args, str(p, 'format'), (ref) => getImage(ctx, ref, false)),
};

export const commands: Record<string, Command> = {
  inspect, 'container inspect': containerInspect, 'image inspect': imageInspect,
};
