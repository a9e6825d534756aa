// A token fetch that fails fails every call waiting for it with one and the same error: each call
// must say its own attempts on a copy of its own. Mutated in place, the message of every call
// carried each call's "(gave up after N attempts)", one after the other.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { SheetsError } from '../../src/sheets/errors.js';
import { withHarness } from '../fixtures/sheets/harness.js';

describe('a token fetch failure shared by concurrent calls', () => {
  it('each call says "(gave up after N attempts)" once, on an error of its own', async () => {
    await withHarness(async (h) => {
      const b = h.backend({ retry: { maxAttempts: 5, baseDelayMs: 1000, jitterMs: 1000, maxDelayMs: 32_000 } });
      await b.getValues('Players!A1');
      // The account's key is replaced (the old one no longer signs: invalid_grant) and Google drops
      // its access tokens: every call in flight gets 401, then the one refresh they share fails.
      h.emulator.registerServiceAccount({ clientEmail: h.key.client_email });
      h.emulator.revokeTokens();
      const ranges = ['Players!A1', 'Events!A1', 'Players!A:B', 'Events!A:E'];
      const settled = await Promise.allSettled(ranges.map((r) => b.getValues(r)));
      const errors = settled.map((s) => {
        assert.equal(s.status, 'rejected');
        const err = (s as PromiseRejectedResult).reason as unknown;
        assert.ok(err instanceof SheetsError);
        return err;
      });
      for (const err of errors) {
        assert.equal(err.reason, 'invalid_grant');
        assert.equal(err.attempts, 2);
        assert.equal(err.message.split('(gave up after').length - 1, 1, err.message);
      }
      assert.equal(new Set(errors).size, errors.length, 'each call rejects with an error of its own');
    });
  });
});
