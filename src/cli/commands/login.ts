/** login and logout: credentials checked by the daemon (POST /auth), kept in config.json as docker keeps them. */
import type { Readable } from 'node:stream';
import { hostnameOf, INDEX_SERVER, type AuthConfig } from '../config-file.js';
import { str, bool, StatusError, type CliContext, type Command } from '../context.js';

/** Docker Hub's spellings all mean INDEX_SERVER; any other address is kept as its host[:port]. */
function serverAddress(arg: string | undefined): { address: string; hub: boolean } {
  if (!arg) return { address: INDEX_SERVER, hub: true };
  const host = hostnameOf(arg);
  if (['docker.io', 'index.docker.io', 'registry-1.docker.io'].includes(host)) return { address: INDEX_SERVER, hub: true };
  return { address: host, hub: false };
}

async function readAllText(s: Readable): Promise<string> {
  const parts: Buffer[] = [];
  for await (const c of s) parts.push(Buffer.from(c as Buffer));
  return Buffer.concat(parts).toString('utf8');
}

const isTty = (s: unknown): boolean => Boolean((s as { isTTY?: boolean }).isTTY);

/** One line from the terminal; with `hidden` the typed characters are not echoed. */
function prompt(ctx: CliContext, label: string, hidden: boolean): Promise<string> {
  ctx.err(label);
  const stdin = ctx.io.stdin as Readable & { setRawMode?: (on: boolean) => void };
  return new Promise((resolve) => {
    let buf = '';
    const raw = hidden && typeof stdin.setRawMode === 'function';
    if (raw) stdin.setRawMode!(true);
    const done = () => {
      stdin.off('data', onData);
      if (raw) { stdin.setRawMode!(false); ctx.err('\n'); }
      stdin.pause();
      resolve(buf);
    };
    const onData = (c: Buffer) => {
      for (const ch of c.toString('utf8')) {
        if (ch === '\r' || ch === '\n') { done(); return; }
        if (ch === '\u0003') { if (raw) stdin.setRawMode!(false); process.exit(130); }
        if (ch === '\u007f' || ch === '\b') buf = buf.slice(0, -1);
        else buf += ch;
      }
    };
    stdin.on('data', onData);
    stdin.resume();
  });
}

async function authenticate(ctx: CliContext, a: AuthConfig): Promise<AuthConfig> {
  const r = await ctx.client.json<{ Status?: string; IdentityToken?: string }>('POST', '/auth', { body: a });
  // A registry that hands out an identity token gets that token stored instead of the password.
  if (r.IdentityToken) return { ...a, password: '', identitytoken: r.IdentityToken };
  return a;
}

function store(ctx: CliContext, address: string, a: AuthConfig): void {
  const cfg = ctx.config;
  try {
    cfg.storeAuth(address, a);
  } catch (err) {
    throw new StatusError(`Error saving credentials: ${(err as Error).message}`, 1);
  }
  if (!cfg.helperFor(address) && a.password) {
    ctx.err(`WARNING! Your credentials are stored unencrypted in '${cfg.file}'.\n`
      + 'Configure a credential helper to remove this warning. See\nhttps://docs.docker.com/go/credential-store/\n\n');
  }
}

const login: Command = {
  spec: {
    path: 'login', usage: 'login [OPTIONS] [SERVER]', desc: 'Authenticate to a registry', args: { max: 1 },
    flags: [
      { name: 'username', short: 'u', kind: 'string', desc: 'Username' },
      { name: 'password', short: 'p', kind: 'string', desc: 'Password or Personal Access Token (PAT)' },
      { name: 'password-stdin', kind: 'bool', desc: 'Take the Password or Personal Access Token (PAT) from stdin' },
    ],
  },
  async run(ctx, p) {
    const { address, hub } = serverAddress(p.args[0]);
    let username = str(p, 'username').trim();
    let password = str(p, 'password');
    if (password) ctx.err('WARNING! Using --password via the CLI is insecure. Use --password-stdin.\n');
    if (bool(p, 'password-stdin')) {
      if (password) throw new StatusError('--password and --password-stdin are mutually exclusive', 1);
      if (!username) throw new StatusError('Must provide --username with --password-stdin', 1);
      password = (await readAllText(ctx.io.stdin)).replace(/\r?\n$/, '');
    }
    const serveraddress = hub ? INDEX_SERVER : address;
    if (!username && !password) {
      // As docker: stored credentials are tried first, and only a failure leads to the prompt.
      const stored = ctx.config.getAuth(address);
      if (stored) {
        ctx.out(`Authenticating with existing credentials...${stored.username ? ` [Username: ${stored.username}]` : ''}\n`);
        try {
          const a = await authenticate(ctx, { ...stored, serveraddress });
          if (a.identitytoken !== stored.identitytoken) store(ctx, address, a);
          ctx.out('Login Succeeded\n');
          return 0;
        } catch (err) {
          ctx.err(`Login did not succeed, error: ${(err as Error).message}\n`);
        }
      }
    }
    if (!username || !password) {
      if (!isTty(ctx.io.stdin)) throw new StatusError('Error: Cannot perform an interactive login from a non TTY device', 1);
      if (!username) username = (await prompt(ctx, `Username: `, false)).trim();
      if (!username) throw new StatusError('Error: Non-null Username Required', 1);
      if (!password) password = await prompt(ctx, 'Password: ', true);
      if (!password) throw new StatusError('Error: Password Required', 1);
    }
    const a = await authenticate(ctx, { username, password, serveraddress });
    store(ctx, address, a);
    ctx.out('Login Succeeded\n');
    return 0;
  },
};

const logout: Command = {
  spec: { path: 'logout', usage: 'logout [SERVER]', desc: 'Log out from a registry', args: { max: 1 }, flags: [] },
  async run(ctx, p) {
    const { address } = serverAddress(p.args[0]);
    let had: boolean;
    try {
      had = ctx.config.eraseAuth(address);
    } catch (err) {
      ctx.out(`Removing login credentials for ${address}\n`);
      ctx.err(`WARNING: could not erase credentials:\n${address}: ${(err as Error).message}\n`);
      return 0;
    }
    ctx.out(had ? `Removing login credentials for ${address}\n` : `Not logged in to ${address}\n`);
    return 0;
  },
};

export const commands: Record<string, Command> = { login, logout };
