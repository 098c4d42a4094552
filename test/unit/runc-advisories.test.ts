import { test } from 'node:test';
import assert from 'node:assert/strict';
import { runcAdvisories } from '../../src/runtime/runc-advisories.js';

test('runc advisories: fixed lines, backports named in the changelog, unknown versions', () => {
  // Debian 12: 1.1.5 with the CVE-2024-21626 backport, not the 2025 fixes
  const debian = runcAdvisories('1.1.5+ds1', '* CVE-2024-21626: several container breakouts due to internally leaked fds');
  assert.equal(debian.length, 1);
  assert.match(debian[0]!, /CVE-2025-31133, CVE-2025-52565, CVE-2025-52881/);
  // the same version without the backport also has 21626
  assert.equal(runcAdvisories('1.1.5').length, 2);
  assert.deepEqual(runcAdvisories('1.2.8'), []);
  assert.deepEqual(runcAdvisories('1.3.3'), []);
  assert.deepEqual(runcAdvisories('1.4.0'), []);
  assert.equal(runcAdvisories('1.2.7').length, 1);
  assert.equal(runcAdvisories('1.3.2').length, 1);
  assert.equal(runcAdvisories('1.1.12').length, 1); // 2025 fixes never came to 1.1
  assert.equal(runcAdvisories('0.1.1').length, 4);
  assert.match(runcAdvisories('')[0]!, /cannot tell the runc version/);
});
