import { InvalidParameterError } from '../errors.js';

/**
 * `--user` / USER resolution against the image's /etc/passwd and /etc/group, with the semantics of
 * moby/sys/user GetExecUser. Pure: the files come through `read`; store/rootfs-files.ts reads them from
 * the untrusted rootfs (symlinks kept inside it, no non-regular files).
 */

export interface ResolvedUser { uid: number; gid: number; additionalGids: number[]; home: string }

/** runc and containerd cap ids at MaxInt32 (CVE-2024-40635). */
export const MAX_ID = 2147483647;

interface PasswdEntry { name: string; uid: number; gid: number; home: string }
interface GroupEntry { name: string; gid: number; members: string[] }

// Lines with an unparsable id are skipped, like moby/sys/user does.
function parsePasswd(text: string): PasswdEntry[] {
  const out: PasswdEntry[] = [];
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    const f = line.split(':');
    const uid = toId(f[2] ?? '');
    const gid = toId(f[3] ?? '');
    if (uid === undefined || gid === undefined) continue;
    out.push({ name: f[0] ?? '', uid, gid, home: f[5] ?? '' });
  }
  return out;
}

function parseGroup(text: string): GroupEntry[] {
  const out: GroupEntry[] = [];
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    const f = line.split(':');
    const gid = toId(f[2] ?? '');
    if (gid === undefined) continue;
    out.push({ name: f[0] ?? '', gid, members: (f[3] ?? '').split(',').map((m) => m.trim()).filter(Boolean) });
  }
  return out;
}

function toId(s: string): number | undefined {
  if (!/^\d+$/.test(s)) return undefined;
  const n = Number(s);
  return n <= MAX_ID ? n : undefined;
}

/**
 * Numeric form of a user/group argument, or undefined for a name. Any all-digit string (or a
 * negative number) is numeric: an out-of-range number is an error, never a name to look up (A14).
 */
function numericArg(s: string): number | undefined {
  if (!/^-?\d+$/.test(s)) return undefined;
  // Compare as a bigint: Number() of a 20-digit string loses precision.
  const n = BigInt(s);
  if (n < 0n || n > BigInt(MAX_ID)) throw new InvalidParameterError(`uids and gids must be in range 0-${MAX_ID}`);
  return Number(n);
}

/**
 * The syntactic check of a `user[:group]` spec that needs no image: an all-digit (or negative) part must be a
 * valid id. For create time, so an out-of-range id is a 400 before anything runs (A14).
 */
export function validateUserSpec(user: string | undefined): void {
  const spec = (user ?? '').trim();
  const colon = spec.indexOf(':');
  numericArg(colon < 0 ? spec : spec.slice(0, colon));
  if (colon >= 0) numericArg(spec.slice(colon + 1));
}

/** Reads one of the image's account files (/etc/passwd, /etc/group); undefined when it has none. */
export type AccountFileReader = (file: '/etc/passwd' | '/etc/group') => Promise<string | undefined>;

export async function resolveUserWith(read: AccountFileReader, user: string | undefined): Promise<ResolvedUser> {
  const spec = (user ?? '').trim();
  const colon = spec.indexOf(':');
  const userArg = colon < 0 ? spec : spec.slice(0, colon);
  const groupArg = colon < 0 ? '' : spec.slice(colon + 1);
  const uidArg = numericArg(userArg);
  const gidArg = numericArg(groupArg);

  const passwdText = await read('/etc/passwd');
  const passwd = passwdText === undefined ? [] : parsePasswd(passwdText);

  const result: ResolvedUser = { uid: 0, gid: 0, additionalGids: [], home: '/' };
  const match = passwd.find((u) => (userArg === '' ? u.uid === 0 : uidArg !== undefined ? u.uid === uidArg : u.name === userArg));
  let matchedName = '';
  if (match) {
    matchedName = match.name;
    result.uid = match.uid;
    result.gid = match.gid;
    result.home = match.home || '/';
  } else if (userArg !== '') {
    if (uidArg === undefined) {
      throw new InvalidParameterError(`unable to find user ${userArg}: no matching entries in passwd file`);
    }
    result.uid = uidArg;
  }

  if (groupArg !== '' || matchedName !== '') {
    const groupText = await read('/etc/group');
    const groups = groupText === undefined ? [] : parseGroup(groupText);
    if (groupArg !== '') {
      const g = groups.find((x) => (gidArg !== undefined ? x.gid === gidArg : x.name === groupArg));
      if (g) result.gid = g.gid;
      else if (gidArg !== undefined) result.gid = gidArg;
      else throw new InvalidParameterError(`unable to find group ${groupArg}: no matching entries in group file`);
    } else {
      // Supplementary groups only in the implicit form, as GetExecUser does.
      result.additionalGids = groups.filter((g) => g.members.includes(matchedName)).map((g) => g.gid);
    }
  }
  return result;
}

/**
 * COPY/ADD `--chown=user[:group]` with the classic builder's rules and words (moby parseChownFlag):
 * numbers are taken as they are, names are looked up in the destination image's /etc/passwd and
 * /etc/group, and a lone user is also the group name (`--chown=app` is app:app).
 */
export async function chownIdsWith(read: AccountFileReader, chown: string): Promise<{ uid: number; gid: number }> {
  const parts = chown.split(':');
  if (parts.length > 2) throw new InvalidParameterError(`invalid chown string format: ${chown}`);
  const userStr = parts[0]!;
  const groupStr = parts.length === 1 ? userStr : parts[1]!;
  const lookup = async (kind: 'user' | 'group', name: string): Promise<number> => {
    const n = numericArg(name.replace(/^\+/, ''));
    if (n !== undefined) return n;
    const file = kind === 'user' ? '/etc/passwd' : '/etc/group';
    const prefix = kind === 'user' ? `can't find uid for user ${name}` : `can't find gid for group ${name}`;
    const text = await read(file);
    if (text === undefined) throw new InvalidParameterError(`${prefix}: open ${file}: no such file or directory`);
    const id = kind === 'user' ? parsePasswd(text).find((u) => u.name === name)?.uid : parseGroup(text).find((g) => g.name === name)?.gid;
    if (id === undefined) throw new InvalidParameterError(`${prefix}: no such ${kind}: ${name}`);
    return id;
  };
  return { uid: await lookup('user', userStr), gid: await lookup('group', groupStr) };
}
