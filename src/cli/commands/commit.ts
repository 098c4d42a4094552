/** diff and commit: a container's filesystem changes, and a new image from them (docker's output). */
import { bool, list, str, type Command } from '../context.js';

const KIND = ['C', 'A', 'D'];

const diff: Command = {
  spec: {
    path: 'diff', usage: 'diff CONTAINER', desc: "Inspect changes to files or directories on a container's filesystem",
    aliases: ['container diff', 'diff'], args: { exact: 1 }, flags: [],
  },
  async run(ctx, p) {
    const changes = await ctx.client.json<{ Path: string; Kind: number }[] | null>('GET', `/containers/${encodeURIComponent(p.args[0]!)}/changes`);
    let out = '';
    for (const c of changes ?? []) out += `${KIND[c.Kind] ?? '?'} ${c.Path}\n`;
    ctx.out(out);
    return 0;
  },
};

const commit: Command = {
  spec: {
    path: 'commit', usage: 'commit [OPTIONS] CONTAINER [REPOSITORY[:TAG]]', desc: "Create a new image from a container's changes",
    aliases: ['container commit', 'commit'], args: { min: 1, max: 2 },
    flags: [
      { name: 'author', short: 'a', kind: 'string', desc: 'Author (e.g., "John Hannibal Smith <hannibal@a-team.com>")' },
      { name: 'change', short: 'c', kind: 'list', desc: 'Apply Dockerfile instruction to the created image' },
      { name: 'message', short: 'm', kind: 'string', desc: 'Commit message' },
      { name: 'pause', short: 'p', kind: 'bool', desc: 'Pause container during commit', default: true },
    ],
  },
  async run(ctx, p) {
    const [container, ref] = p.args as [string, string | undefined];
    let repo: string | undefined;
    let tag: string | undefined;
    if (ref) {
      const colon = ref.lastIndexOf(':');
      if (colon > ref.lastIndexOf('/')) { repo = ref.slice(0, colon); tag = ref.slice(colon + 1); } else repo = ref;
    }
    const res = await ctx.client.json<{ Id: string }>('POST', '/commit', {
      query: {
        container, repo, tag, author: str(p, 'author') || undefined, comment: str(p, 'message') || undefined,
        changes: list(p, 'change'), pause: bool(p, 'pause'),
      },
    });
    ctx.out(`${res.Id}\n`);
    return 0;
  },
};

export const commands: Record<string, Command> = { diff, commit };
