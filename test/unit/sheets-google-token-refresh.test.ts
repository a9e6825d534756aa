// The access token's refresh: its margin is at most half the token's lifetime (a token that lives
// a minute is not fetched again for every call), and while the current token is valid callers use
// it and the refresh runs in the background, once, rather than making them wait for it.

import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, it } from 'node:test';
import { Agent } from 'undici';
import { generateServiceAccountKey } from '../../src/sheets/emulator/index.js';
import { ServiceAccountAuth } from '../../src/sheets/google/auth.js';
import { parseServiceAccountKey } from '../../src/sheets/google/credentials.js';
import { SCOPE_READWRITE } from '../../src/sheets/google/wire.js';
import { captureLogger } from '../fixtures/capture-logger.js';
import { fakeClock, withHarness } from '../fixtures/sheets/harness.js';

describe('access token refresh', () => {
  it('with tokens of 60 s (the emulator --token-lifetime 60), one call a second for 40 s fetches 2 tokens, not one per call', async () => {
    const clock = fakeClock();
    await withHarness(
      async (h) => {
        const b = h.backend({ now: clock.now });
        for (let i = 0; i < 40; i++) {
          assert.equal((await b.getValues('Players!A1')).values?.[0]?.[0], 'name');
          await (b.auth as ServiceAccountAuth).settled();
          clock.advance(1000);
        }
        const c = h.emulator.counters();
        assert.equal(c.ok['values.get'], 40);
        // The first token, then one refresh once half its minute has passed.
        assert.equal(c.calls.token, 2, `${c.calls.token} token fetches for 40 calls`);
      },
      { now: clock.now, tokenLifetimeS: 60 },
    );
  });

  it('inside the margin, callers get the current token at once while one refresh runs in the background', async () => {
    // A token endpoint of our own: the first fetch is answered at once, the next ones are held.
    let fetches = 0;
    const held: ServerResponse[] = [];
    const server = createServer((_req: IncomingMessage, res: ServerResponse) => {
      fetches++;
      if (fetches === 1) {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ access_token: 'first', expires_in: 3600, token_type: 'Bearer' }));
        return;
      }
      held.push(res);
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/token`;
    const dispatcher = new Agent();
    const log = await captureLogger();
    let t = 1_700_000_000_000;
    try {
      const { key } = generateServiceAccountKey({ clientEmail: 'bot@corral-emulator.iam.gserviceaccount.com', tokenUri: url, modulusLength: 1024 });
      const auth = new ServiceAccountAuth({
        account: parseServiceAccountKey(key, 'test key'),
        scope: SCOPE_READWRITE,
        dispatcher,
        timeoutMs: 5000,
        logger: log.logger,
        spreadsheetId: 's',
        now: () => t,
      });
      assert.equal(await auth.getToken(), 'first');
      t += 3600_000 - 200_000; // 200 s left: inside the 5-minute margin
      const answers = await Promise.all(Array.from({ length: 20 }, () => auth.getToken()));
      assert.deepEqual(new Set(answers), new Set(['first']), 'the current token, without waiting for the refresh');
      while (held.length === 0) await new Promise((r) => setTimeout(r, 5));
      assert.equal(fetches, 2, 'one refresh for twenty callers');
      assert.equal(await auth.getToken(), 'first', 'still the current one while the refresh is in flight');
      for (const res of held.splice(0)) {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ access_token: 'second', expires_in: 3600, token_type: 'Bearer' }));
      }
      await auth.settled();
      assert.equal(await auth.getToken(), 'second');
      assert.equal(fetches, 2);
    } finally {
      for (const res of held) res.destroy();
      await dispatcher.close();
      await new Promise((r) => server.close(r));
      log.close();
    }
  });
});
