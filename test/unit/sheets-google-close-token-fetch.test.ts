// Closing the Google backend while a token fetch hangs (the token endpoint unreachable, its
// connection open): the fetch is nobody's call, so no caller's signal ended it, and close() waited
// for it until SHEETS_TIMEOUT, holding the keeper's drain (and the data dir's lock the next keeper
// waits for) that long. A closing backend gives it up at once.

import assert from 'node:assert/strict';
import { it } from 'node:test';
import type { ServiceAccountAuth } from '../../src/sheets/google/auth.js';
import { fakeClock, withHarness } from '../fixtures/sheets/harness.js';
import { withTokenEndpoint } from '../fixtures/sheets/token-endpoint.js';

it('close() does not wait out SHEETS_TIMEOUT for a background token refresh that hangs, and says no refresh failure', async () => {
  let asked = 0;
  await withTokenEndpoint(
    (req, res) => {
      req.resume();
      if (++asked > 1) return; // the refresh: never answered
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ access_token: 'first', expires_in: 3600, token_type: 'Bearer' }));
    },
    (tokenUri) =>
      withHarness(async (h) => {
        const clock = fakeClock();
        const b = h.backend({ now: clock.now, timeoutMs: 8000 }, { GOOGLE_SERVICE_ACCOUNT_JSON: JSON.stringify({ ...h.key, token_uri: tokenUri }) });
        const auth = b.auth as ServiceAccountAuth;
        assert.equal(await auth.getToken(), 'first');
        clock.advance(3600_000 - 200_000); // inside the 5-minute margin: a background refresh starts
        assert.equal(await auth.getToken(), 'first');
        while (asked < 2) await new Promise((r) => setTimeout(r, 5));
        const started = Date.now();
        await b.close();
        const took = Date.now() - started;
        assert.ok(took < 2000, `close() took ${took} ms: it waited for the hung token fetch`);
        const lines = await h.logLines();
        assert.deepEqual(
          lines.filter((l) => l.event === 'sheets.token_refresh_failed'),
          [],
          'a refresh given up because the backend closed is no refresh failure',
        );
      }),
  );
});
