// A route that fails with an unexpected error (a bug) fails for every request to it: what the log
// shows when a client keeps asking.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createFakeSheets, SAMPLE_EVENTS, SAMPLE_PLAYERS } from '../fixtures/fake-sheets.js';
import { captureLogger } from '../fixtures/capture-logger.js';
import { startApp } from '../fixtures/app-harness.js';

/** The app over a sheet whose every read throws (a bug behind GET /api/players), its log captured. */
async function failingApp() {
  const sheets = createFakeSheets({ Players: SAMPLE_PLAYERS, Events: SAMPLE_EVENTS });
  sheets.cachedRecords = () => {
    throw new TypeError("Cannot read properties of undefined (reading 'records')");
  };
  const log = await captureLogger('worker');
  const app = await startApp({ CORRAL_RATE_LIMIT: '0' }, sheets, { logger: log.logger });
  return { app, log };
}

describe('app handler errors', () => {
  it('a route failing at every request is one app.error line with the stack, then a count at most once a minute', async () => {
    const { app, log } = await failingApp();
    try {
      for (let i = 0; i < 30; i++) {
        const r = await fetch(`${app.url}/api/players?page=${i}`);
        assert.equal(r.status, 500);
        await r.arrayBuffer();
      }
      const lines = log.lines().filter((l) => l.event === 'app.error');
      assert.equal(lines.length, 1, `${lines.length} app.error lines for 30 failed requests`);
      assert.match(String((lines[0]!.err as { stack?: string }).stack), /TypeError/);
      assert.equal(lines[0]!.requests, 1);
    } finally {
      await app.close();
      log.close();
    }
  });

  it('app.error names the path without its query, which may hold a secret sent there by mistake', async () => {
    const { app, log } = await failingApp();
    try {
      const r = await fetch(`${app.url}/api/players?token=v1.s3cret-session-token`);
      assert.equal(r.status, 500);
      await r.arrayBuffer();
      const line = log.lines().find((l) => l.event === 'app.error');
      assert.equal(line?.path, '/api/players');
      assert.equal(line?.method, 'GET');
      for (const l of log.lines()) assert.doesNotMatch(JSON.stringify(l), /s3cret/, `${String(l.event)} has the secret`);
    } finally {
      await app.close();
      log.close();
    }
  });
});
