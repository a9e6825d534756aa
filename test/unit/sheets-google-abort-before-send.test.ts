// A call its caller aborts while it waits for its access token never left this host: it fails as
// an abort before sending does (applied 'no'), not with the signal's bare reason, which the
// flusher read as an append Google may have applied (unsure rows, a read-back before resending).

import assert from 'node:assert/strict';
import { it } from 'node:test';
import { SheetsError } from '../../src/sheets/errors.js';
import { rejection, withHarness } from '../fixtures/sheets/harness.js';
import { withTokenEndpoint } from '../fixtures/sheets/token-endpoint.js';

it('an append aborted while its token is fetched fails with applied "no", nothing sent', async () => {
  // A token endpoint that never answers: the call waits for its token until the abort.
  await withTokenEndpoint(
    (req) => req.resume(),
    (tokenUri) =>
      withHarness(async (h) => {
        const b = h.backend({}, { GOOGLE_SERVICE_ACCOUNT_JSON: JSON.stringify({ ...h.key, token_uri: tokenUri }) });
        const ac = new AbortController();
        const call = b.appendValues('Events!A:A', [['evt-1', 'x']], ac.signal);
        setTimeout(() => ac.abort(new Error('keeper closing')), 50);
        const err = await rejection(call);
        assert.ok(err instanceof SheetsError, `a SheetsError, got ${String(err)}`);
        assert.equal(err.applied, 'no');
        assert.equal(err.code, 'CORRAL_ERR_SHEETS_TIMEOUT');
        assert.equal(h.emulator.counters().calls['values.append'], 0, 'nothing reached the API');
      }),
  );
});
