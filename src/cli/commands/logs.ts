/** logs: GET /containers/{id}/logs, demuxed unless the container has a tty. */
import { STDERR, STDOUT, demux } from '../../client/engine-client.js';
import { bool, str, type Command } from '../context.js';
import { toUnix } from './system.js';

const logs: Command = {
  spec: {
    path: 'logs', usage: 'logs [OPTIONS] CONTAINER', desc: 'Fetch the logs of a container',
    aliases: ['container logs', 'logs'], args: { exact: 1 },
    flags: [
      { name: 'details', kind: 'bool', desc: 'Show extra details provided to logs' },
      { name: 'follow', short: 'f', kind: 'bool', desc: 'Follow log output' },
      { name: 'since', kind: 'string', desc: 'Show logs since timestamp (e.g. "2013-01-02T13:23:37Z") or relative (e.g. "42m" for 42 minutes)' },
      { name: 'tail', short: 'n', kind: 'string', desc: 'Number of lines to show from the end of the logs', default: 'all' },
      { name: 'timestamps', short: 't', kind: 'bool', desc: 'Show timestamps' },
      { name: 'until', kind: 'string', desc: 'Show logs before a timestamp (e.g. "2013-01-02T13:23:37Z") or relative (e.g. "42m" for 42 minutes)' },
    ],
  },
  async run(ctx, p) {
    const id = p.args[0]!;
    const info = await ctx.client.containers.inspect(id);
    const res = await ctx.client.containers.logs(id, {
      stdout: true, stderr: true,
      since: toUnix(str(p, 'since')), until: toUnix(str(p, 'until')),
      timestamps: bool(p, 'timestamps') || undefined, follow: bool(p, 'follow') || undefined,
      tail: str(p, 'tail'), details: bool(p, 'details') || undefined,
    });
    if (info.Config?.Tty) {
      for await (const c of res) ctx.io.stdout.write(c as Buffer);
      return 0;
    }
    await demux(res, (t, b) => {
      if (t === STDOUT) ctx.io.stdout.write(b);
      else if (t === STDERR) ctx.io.stderr.write(b);
    });
    return 0;
  },
};

export const commands: Record<string, Command> = { logs };
