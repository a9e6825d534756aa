// A call made with a signal already aborted (the flusher's append after the keeper began closing,
// during its send record's fsync) while no token is usable: the token fetch it started was left
// with nobody listening, and when the token endpoint failed its rejection went unhandled, which in
// the keeper is an uncaught exception (keeper.uncaught, exit UNCAUGHT) in the middle of a drain.
// Such a call asks for no token at all: it fails as an abort before sending, nothing started.

import assert from 'node:assert/strict';
import { it } from 'node:test';
import { rejection, withHarness } from '../fixtures/sheets/harness.js';
import { withTokenEndpoint } from '../fixtures/sheets/token-endpoint.js';

it('an append whose signal is already aborted starts no token fetch, and leaves no unhandled rejection', async () => {
  const unhandled: unknown[] = [];
  const onUnhandled = (err: unknown) => unhandled.push(err);
  process.on('unhandledRejection', onUnhandled);
  let asked = 0;
  try {
    await withTokenEndpoint(
      (req, res) => {
        asked++;
        req.resume();
        res.writeHead(503, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ error: 'temporarily_unavailable' }));
      },
      (tokenUri) =>
        withHarness(async (h) => {
          const b = h.backend({}, { GOOGLE_SERVICE_ACCOUNT_JSON: JSON.stringify({ ...h.key, token_uri: tokenUri }) });
          const ac = new AbortController();
          ac.abort(new Error('keeper closing'));
          const err = await rejection(b.appendValues('Events!A:A', [['evt-1', 'x']], ac.signal));
          assert.equal(err.applied, 'no');
          assert.equal(err.code, 'CORRAL_ERR_SHEETS_TIMEOUT');
          // Time for a fetch it started to fail (not settled(): its catch would handle the rejection).
          await new Promise((r) => setTimeout(r, 300));
          assert.equal(h.emulator.counters().calls['values.append'], 0, 'nothing reached the API');
        }),
    );
    assert.deepEqual(
      unhandled.map((e) => String((e as Error).message ?? e)),
      [],
      'the token fetch nobody waited for rejected unhandled (the keeper exits on it)',
    );
    assert.equal(asked, 0, 'a caller that already gave up asks for no token');
  } finally {
    process.off('unhandledRejection', onUnhandled);
  }
});
