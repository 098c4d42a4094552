/** registry serve: berth's own registry server, in this process (no berthd needed). */
import fs from 'node:fs';
import { loadRegistryConfig } from '../../registry/config.js';
import { serveRegistry } from '../../registry/server.js';
import { RegistryStorage } from '../../registry/storage.js';
import { bool, str, type Command } from '../context.js';

const serve: Command = {
  spec: {
    path: 'registry serve', usage: 'registry serve [OPTIONS]', desc: 'Serve an OCI distribution registry from a directory',
    args: { exact: 0 },
    flags: [
      { name: 'addr', kind: 'string', desc: 'Address to listen on (HOST:PORT)', default: '0.0.0.0:5000' },
      { name: 'root', kind: 'string', desc: 'Storage directory', default: '/var/lib/berth-registry' },
      { name: 'config', kind: 'string', desc: 'Configuration file (JSON: readOnly, auth.htpasswd, tls)' },
      { name: 'read-only', kind: 'bool', desc: 'Refuse every write (push, delete)' },
      { name: 'quiet', short: 'q', kind: 'bool', desc: 'Do not log requests' },
    ],
  },
  async run(ctx, p) {
    const root = str(p, 'root');
    fs.mkdirSync(root, { recursive: true, mode: 0o755 });
    const cfg = loadRegistryConfig(str(p, 'config') || undefined);
    const storage = new RegistryStorage(root);
    await storage.init();
    const quiet = bool(p, 'quiet');
    const reg = await serveRegistry({
      storage,
      ...(cfg.auth ? { auth: cfg.auth } : {}),
      ...(cfg.tls ? { tls: cfg.tls } : {}),
      readOnly: bool(p, 'read-only') || cfg.readOnly,
      ...(quiet ? {} : { log: (l: string) => ctx.err(`${new Date().toISOString()} ${l}\n`) }),
    }, str(p, 'addr'));
    ctx.err(`berth registry listening on ${cfg.tls ? 'https' : 'http'}://${reg.address} (root ${root})\n`);
    await new Promise<void>((resolve) => {
      const stop = () => { void reg.close().then(() => storage.close()).then(resolve); };
      process.once('SIGTERM', stop);
      process.once('SIGINT', stop);
    });
    return 0;
  },
};

export const commands: Record<string, Command> = { 'registry serve': serve };
