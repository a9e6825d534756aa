// The quota token is taken once the call's credential is in hand, right before the request leaves:
// a key the token endpoint refuses (revoked) or a token endpoint that fails costs no quota, so the
// read quota, its ledger and the shared window count exactly the calls Google received.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { generateServiceAccountKey } from '../../src/sheets/emulator/index.js';
import { pacer } from '../../src/sheets/keeper/pacing.js';
import { QuotaBucket } from '../../src/sheets/keeper/quota.js';
import { UpstreamMeter } from '../../src/sheets/keeper/upstream-meter.js';
import { rejection, withHarness } from '../fixtures/sheets/harness.js';

function buckets(): { reads: QuotaBucket; writes: QuotaBucket; meter: UpstreamMeter } {
  return {
    reads: new QuotaBucket({ name: 'sheets reads', perMinute: 60, maxQueue: 60 }),
    writes: new QuotaBucket({ name: 'sheets writes', perMinute: 60, maxQueue: 16 }),
    meter: new UpstreamMeter(),
  };
}

describe('Google client: the quota is paid only for calls sent', () => {
  it('a key the token endpoint refuses (invalid_grant) spends no read token: nothing reached the Sheets API', () =>
    withHarness(async (h) => {
      // A key Google does not know (deleted or revoked): the token endpoint answers invalid_grant.
      const revoked = generateServiceAccountKey({ clientEmail: 'gone@corral-emulator.iam.gserviceaccount.com', tokenUri: h.emulator.tokenUri }).key;
      const q = buckets();
      const b = h.backend({ beforeAttempt: pacer(q.reads, q.writes, q.meter) }, { GOOGLE_SERVICE_ACCOUNT_JSON: JSON.stringify(revoked) });
      for (let i = 0; i < 10; i++) assert.equal((await rejection(b.getValues(`Tab${i}!A:E`))).code, 'CORRAL_ERR_SHEETS_AUTH');
      const c = h.emulator.counters();
      assert.equal(c.calls.token, 10);
      assert.equal(c.calls['values.get'], 0);
      assert.equal(q.reads.stats().granted, 0, 'no read token for a call that never left');
      assert.equal(q.reads.tokensLeft(), 60);
      assert.equal(q.meter.total('read'), 0);
      assert.equal(b.stats().attempts['values.get'], 0);
    }));

  it('a token endpoint outage retried within the call: one read token, for the one request sent', () =>
    withHarness(async (h) => {
      h.emulator.setFaults({ tokenErrorRate: 1 });
      const q = buckets();
      const b = h.backend({ beforeAttempt: pacer(q.reads, q.writes, q.meter) });
      // The token endpoint recovers while the call waits out its first backoff.
      const got = await b.getValues('Players!A1', undefined, () => h.emulator.setFaults({ tokenErrorRate: 0 }));
      assert.equal(got.values?.[0]?.[0], 'name');
      const c = h.emulator.counters();
      assert.equal(c.calls.token, 2);
      assert.equal(c.calls['values.get'], 1);
      assert.equal(q.reads.stats().granted, 1, 'one token per request Google received');
      assert.equal(q.meter.total('read'), 1);
    }));
});
