// The token endpoint's own 401 (invalid_client: "The OAuth client was not found.") is final: the
// client's one retry after a 401 is for an access token the API stopped accepting, and here no
// token was sent. It asked the endpoint a second time, for the same answer.

import assert from 'node:assert/strict';
import { it } from 'node:test';
import { rejection, withHarness } from '../fixtures/sheets/harness.js';
import { withTokenEndpoint } from '../fixtures/sheets/token-endpoint.js';

it("a token endpoint answering 401 invalid_client is asked once per call, not again as an API's 401 is", async () => {
  let asked = 0;
  await withTokenEndpoint(
    (req, res) => {
      asked++;
      req.resume();
      res.writeHead(401, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ error: 'invalid_client', error_description: 'The OAuth client was not found.' }));
    },
    (tokenUri) =>
      withHarness(async (h) => {
        const b = h.backend({}, { GOOGLE_SERVICE_ACCOUNT_JSON: JSON.stringify({ ...h.key, token_uri: tokenUri }) });
        const err = await rejection(b.getValues('Players!A1'));
        assert.equal(err.status, 401);
        assert.equal(err.reason, 'invalid_client');
        assert.equal(asked, 1, 'the endpoint was asked once');
        assert.equal(h.emulator.counters().calls['values.get'], 0, 'nothing reached the API');
        assert.doesNotMatch(err.message, /gave up after/);
      }),
  );
});
