// COPY/ADD --chown with the classic builder's rules (moby parseChownFlag) over an image's account files.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chownIdsWith, type AccountFileReader } from '../../src/core/user.js';

const files: Record<string, string> = {
  '/etc/passwd': 'root:x:0:0:root:/root:/bin/sh\napp:x:1000:1001:app:/home/app:/bin/sh\n# comment\nweb:x:33:33::/:/bin/false\n',
  '/etc/group': 'root:x:0:\napp:x:1002:\nstaff:x:50:app\n',
};
const read: AccountFileReader = async (f) => files[f];
const none: AccountFileReader = async () => undefined;

test('names come from /etc/passwd and /etc/group; a lone user is also the group name', async () => {
  assert.deepEqual(await chownIdsWith(read, 'app:staff'), { uid: 1000, gid: 50 });
  assert.deepEqual(await chownIdsWith(read, 'app'), { uid: 1000, gid: 1002 }, 'the group named app, not the passwd gid');
  assert.deepEqual(await chownIdsWith(read, 'web:0'), { uid: 33, gid: 0 });
  assert.deepEqual(await chownIdsWith(read, '1234'), { uid: 1234, gid: 1234 });
  assert.deepEqual(await chownIdsWith(none, '7:8'), { uid: 7, gid: 8 }, 'numbers need no account files');
});

test('unknown names and bad specs fail in moby\'s words', async () => {
  await assert.rejects(chownIdsWith(read, 'bob'), { message: "can't find uid for user bob: no such user: bob" });
  await assert.rejects(chownIdsWith(read, 'web'), { message: "can't find gid for group web: no such group: web" });
  await assert.rejects(chownIdsWith(read, 'root:bob'), { message: "can't find gid for group bob: no such group: bob" });
  await assert.rejects(chownIdsWith(read, 'bob:1:555'), { message: 'invalid chown string format: bob:1:555' });
  await assert.rejects(chownIdsWith(none, 'app'), { message: "can't find uid for user app: open /etc/passwd: no such file or directory" });
});
