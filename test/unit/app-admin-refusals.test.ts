// The app's refusals of CORRAL_ADMIN_TOKEN (GET /api/export on the public port) are logged as the
// admin API's are: app.admin_unauthorized at the first, then at most once a minute with a count.

import assert from 'node:assert/strict';
import type { IncomingMessage } from 'node:http';
import { after, before, describe, it } from 'node:test';
import { createAdminRefusalLog } from '../../src/app/admin-refusals.js';
import { captureLogger, type CapturedLogger } from '../fixtures/capture-logger.js';
import { createFakeSheets } from '../fixtures/fake-sheets.js';
import { startApp, type AppHarness } from '../fixtures/app-harness.js';

const TOKEN = 'admin-token-0123456789-abcdefghij';
const GUESS = 'guessed-admin-token-zz9';

const refusals = (log: CapturedLogger) => log.lines().filter((l) => l.event === 'app.admin_unauthorized');

describe('app.admin_unauthorized', () => {
  it('is said at the first refusal, then at most once a minute with the count since the line before', async () => {
    const log = await captureLogger('worker');
    try {
      let now = 1_000_000;
      const refused = createAdminRefusalLog(log.logger, () => '198.51.100.7', () => now);
      const req = { url: '/api/export?sheet=Players', headers: { authorization: `Bearer ${GUESS}` } } as unknown as IncomingMessage;
      for (let i = 0; i < 5; i++) refused(req);
      now += 30_000;
      refused(req);
      assert.equal(refusals(log).length, 1, 'one line for 6 refusals within a minute');
      now += 31_000;
      refused(req);
      const lines = refusals(log);
      assert.deepEqual(
        lines.map((l) => ({ level: l.level, remote: l.remote, path: l.path, token: l.token, requests: l.requests })),
        [
          { level: 'warn', remote: '198.51.100.7', path: '/api/export', token: 'wrong', requests: 1 },
          { level: 'warn', remote: '198.51.100.7', path: '/api/export', token: 'wrong', requests: 6 },
        ],
      );
      assert.ok(!JSON.stringify(log.lines()).includes(GUESS), 'the token sent is never logged');
    } finally {
      log.close();
    }
  });

  describe('from GET /api/export', () => {
    let app: AppHarness;
    let log: CapturedLogger;
    before(async () => {
      log = await captureLogger('worker');
      // CORRAL_RATE_LIMIT=0, as behind nginx: nothing else slows or reports the guesses.
      app = await startApp({ CORRAL_ADMIN_TOKEN: TOKEN, CORRAL_RATE_LIMIT: '0', CORRAL_TRUSTED_PROXIES: '127.0.0.1' }, createFakeSheets({ Players: [['name'], ['Alice']] }), { logger: log.logger });
    });
    after(async () => {
      await app.close();
      log.close();
    });

    it('names the client (as the proxy forwarded it), the path without its query and whether a token came, never the token', async () => {
      const guess = (headers: Record<string, string>) => fetch(`${app.url}/api/export?sheet=Players&token=${GUESS}`, { headers: { 'x-forwarded-for': '203.0.113.9', ...headers } });
      assert.equal((await guess({})).status, 401);
      for (let i = 0; i < 4; i++) assert.equal((await guess({ authorization: `Bearer ${GUESS}${i}` })).status, 401);
      const lines = refusals(log);
      assert.equal(lines.length, 1, 'five refusals in a minute are one line');
      assert.deepEqual({ remote: lines[0]?.remote, path: lines[0]?.path, token: lines[0]?.token, requests: lines[0]?.requests }, { remote: '203.0.113.9', path: '/api/export', token: 'missing', requests: 1 });
      assert.match(String(lines[0]?.msg), /refused 401 \(no or wrong CORRAL_ADMIN_TOKEN\), the last from 203\.0\.113\.9 for \/api\/export/);
      assert.ok(!JSON.stringify(log.lines()).includes(GUESS), 'the token sent is never logged');
      // The right token is no refusal.
      assert.equal((await fetch(`${app.url}/api/export?sheet=Players`, { headers: { authorization: `Bearer ${TOKEN}` } })).status, 200);
      assert.equal(refusals(log).length, 1);
    });
  });
});
