/**
 * RELIABILITY S10: runc versions with known container breakouts. Refusing them would leave berth unusable
 * where the distribution ships no fixed runc (Debian 12's 1.1.5 carries the CVE-2024-21626 fix as a
 * backport, not the 2025 ones), so berthd warns at start and in `info` instead.
 * A distribution's backports count: a CVE named in the package changelog is taken as fixed.
 */
interface Advisory { cves: string[]; fixedIn: Array<[number, number, number]>; what: string }

const ADVISORIES: Advisory[] = [
  { cves: ['CVE-2019-5736'], fixedIn: [[1, 0, 0]], what: '/proc/self/exe overwrite' },
  { cves: ['CVE-2021-30465'], fixedIn: [[1, 0, 0]], what: 'mount destination symlink race' },
  { cves: ['CVE-2024-21626'], fixedIn: [[1, 1, 12]], what: 'leaked fd / working directory breakout' },
  { cves: ['CVE-2025-31133', 'CVE-2025-52565', 'CVE-2025-52881'], fixedIn: [[1, 2, 8], [1, 3, 3]], what: 'masked-path /dev/null races' },
];

function parse(v: string): [number, number, number] | undefined {
  const m = /^(\d+)\.(\d+)\.(\d+)/.exec(v);
  return m ? [Number(m[1]), Number(m[2]), Number(m[3])] : undefined;
}

function cmp(a: [number, number, number], b: [number, number, number]): number {
  return a[0] - b[0] || a[1] - b[1] || a[2] - b[2];
}

/** Fixed when `v`'s release line has the fix and `v` is at or past it, or its line is newer than every fixed one. */
function fixed(v: [number, number, number], fixedIn: Array<[number, number, number]>): boolean {
  const sameLine = fixedIn.find((f) => f[0] === v[0] && f[1] === v[1]);
  if (sameLine) return cmp(v, sameLine) >= 0;
  return fixedIn.every((f) => v[0] > f[0] || (v[0] === f[0] && v[1] > f[1]));
}

/** Warnings for a runc version (e.g. "1.1.5+ds1"), given the package's changelog text when there is one. */
export function runcAdvisories(version: string, changelog = ''): string[] {
  const v = parse(version);
  if (!v) return [`cannot tell the runc version (${version || 'none'}): known runc vulnerabilities are not checked`];
  const out: string[] = [];
  for (const a of ADVISORIES) {
    if (fixed(v, a.fixedIn)) continue;
    const open = a.cves.filter((c) => !changelog.includes(c));
    if (open.length) out.push(`runc ${version} is affected by ${open.join(', ')} (${a.what}): upgrade runc`);
  }
  return out;
}
