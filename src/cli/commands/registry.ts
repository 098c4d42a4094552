/** registry serve / garbage-collect: berth's own registry server, in this process (no berthd needed). */
import fs from 'node:fs';
import { loadRegistryConfig } from '../../registry/config.js';
import { garbageCollect, recordServer } from '../../registry/gc.js';
import { serveRegistry } from '../../registry/server.js';
import { RegistryStorage } from '../../registry/storage.js';
import { bool, str, type Command } from '../context.js';
import type { ParsedArgs } from '../flags.js';

const DEFAULT_ROOT = '/var/lib/berth-registry';

/** `--root` when given, else the config file's `root`, else the default. */
function rootOf(p: ParsedArgs, cfgRoot: string | undefined): string {
  return p.changed.has('root') ? str(p, 'root') : cfgRoot ?? DEFAULT_ROOT;
}

const serve: Command = {
  spec: {
    path: 'registry serve', usage: 'registry serve [OPTIONS]', desc: 'Serve an OCI distribution registry from a directory',
    args: { exact: 0 },
    flags: [
      { name: 'addr', kind: 'string', desc: 'Address to listen on (HOST:PORT)', default: '0.0.0.0:5000' },
      { name: 'root', kind: 'string', desc: 'Storage directory (default: the config file\'s root, else /var/lib/berth-registry)' },
      { name: 'config', kind: 'string', desc: 'Configuration file (JSON: root, readOnly, auth.htpasswd or auth.token, tls)' },
      { name: 'read-only', kind: 'bool', desc: 'Refuse every write (push, delete)' },
      { name: 'quiet', short: 'q', kind: 'bool', desc: 'Do not log requests' },
    ],
  },
  async run(ctx, p) {
    const cfg = loadRegistryConfig(str(p, 'config') || undefined);
    const root = rootOf(p, cfg.root);
    fs.mkdirSync(root, { recursive: true, mode: 0o755 });
    const storage = new RegistryStorage(root);
    await storage.init();
    const quiet = bool(p, 'quiet');
    const readOnly = bool(p, 'read-only') || cfg.readOnly;
    const reg = await serveRegistry({
      storage,
      ...(cfg.auth ? { auth: cfg.auth } : {}),
      ...(cfg.tls ? { tls: cfg.tls } : {}),
      readOnly,
      ...(quiet ? {} : { log: (l: string) => ctx.err(`${new Date().toISOString()} ${l}\n`) }),
    }, str(p, 'addr'));
    const release = await recordServer(storage, readOnly);
    ctx.err(`berth registry listening on ${cfg.tls ? 'https' : 'http'}://${reg.address} (root ${root})\n`);
    await new Promise<void>((resolve) => {
      const stop = () => { release(); void reg.close().then(() => storage.close()).then(resolve); };
      process.once('SIGTERM', stop);
      process.once('SIGINT', stop);
    });
    return 0;
  },
};

const garbageCollectCmd: Command = {
  spec: {
    path: 'registry garbage-collect', usage: 'registry garbage-collect [OPTIONS] [CONFIG]',
    desc: 'Delete blobs no manifest references (the registry stopped or read-only)',
    args: { max: 1 },
    flags: [
      { name: 'root', kind: 'string', desc: 'Storage directory (default: CONFIG\'s root, else /var/lib/berth-registry)' },
      { name: 'dry-run', short: 'd', kind: 'bool', desc: 'Do everything except remove the blobs' },
      { name: 'delete-untagged', short: 'm', kind: 'bool', desc: 'Delete manifests that are not currently referenced via tag' },
      { name: 'quiet', short: 'q', kind: 'bool', desc: 'Silence output' },
    ],
  },
  async run(ctx, p) {
    const cfg = loadRegistryConfig(p.args[0]);
    const root = rootOf(p, cfg.root);
    if (!fs.existsSync(root)) throw new Error(`registry root ${root}: no such directory`);
    const storage = new RegistryStorage(root);
    const opts = { dryRun: bool(p, 'dry-run'), deleteUntagged: bool(p, 'delete-untagged'), quiet: bool(p, 'quiet') };
    try {
      await garbageCollect(storage, opts, (l) => ctx.out(`${l}\n`));
    } catch (err) {
      throw new Error(`failed to garbage collect: ${(err as Error).message}`);
    }
    return 0;
  },
};

export const commands: Record<string, Command> = { 'registry serve': serve, 'registry garbage-collect': garbageCollectCmd };
