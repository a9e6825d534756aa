// What corral writes into CORRAL_DATA_DIR is readable by the service's user only, whatever the
// umask it was started with: the offline sheet holds every player's login code, the journal their
// events, session-secret the key that signs every session token.

import assert from 'node:assert/strict';
import { lstatSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { startCorral, waitFor } from '../helpers/corral.js';
import { http } from '../helpers/http.js';

/** Every path under `dir` (itself included) whose mode gives group or others any access. */
function openToOthers(dir: string): string[] {
  const found: string[] = [];
  const visit = (path: string) => {
    const st = lstatSync(path);
    if ((st.mode & 0o077) !== 0) found.push(`${path} ${(st.mode & 0o777).toString(8)}`);
    if (st.isDirectory()) for (const name of readdirSync(path)) visit(join(path, name));
  };
  visit(dir);
  return found;
}

describe('data dir modes', () => {
  it('keeps the data dir, the offline sheet, the journal, the secret and the keeper socket private under umask 022', async () => {
    // A shell's usual umask: files it leaves to the umask are readable by every local user.
    const previous = process.umask(0o022);
    const c = await startCorral();
    process.umask(previous);
    try {
      const login = await http(`${c.url}/api/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ name: 'Alice Martin', code: 'P001' }) });
      assert.equal(login.status, 200, login.text);
      const { token } = login.json<{ token: string }>();
      const posted = await http(`${c.url}/api/events`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
        body: JSON.stringify({ kind: 'goal', detail: 'modes' }),
      });
      assert.equal(posted.status, 201, posted.text);
      const events = join(c.dataDir, 'sheet', 'Events.csv');
      // The flusher rewrites the tab (temp file, rename) once it sends the journaled row.
      await waitFor(() => readFileSync(events, 'utf8').includes(',modes,'), 10_000, 'the event in the offline Events tab');

      const names = readdirSync(c.dataDir);
      for (const expected of ['sheet', 'sheets.journal', 'session-secret', 'keeper.lock', 'keeper.sock', 'quota.json']) {
        assert.ok(names.includes(expected), `${expected} in the data dir (${names.join(', ')})`);
      }
      assert.deepEqual(openToOthers(c.dataDir), []);
    } finally {
      await c.stop();
    }
  });
});
