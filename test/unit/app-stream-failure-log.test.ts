// Answers that fail after their headers were sent (an export whose rows the thread pool cannot
// take): what the log shows when a client keeps asking, and when such answers go through again.

import assert from 'node:assert/strict';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { describe, it } from 'node:test';
import { CHUNK_ROWS } from '../../src/app/export/stream.js';
import { StreamFailureLog } from '../../src/app/stream-failure-log.js';
import { captureLogger } from '../fixtures/capture-logger.js';
import { createFakeSheets } from '../fixtures/fake-sheets.js';
import { startApp } from '../fixtures/app-harness.js';

const TOKEN = 'admin-token-0123456789';

describe('answers that fail after their headers', () => {
  it('exports failing mid-stream are one app.stream_failed line with the error, and one app.stream_recovered once an export goes through', async () => {
    // A cell the export threads cannot be handed (not cloneable), past the first chunk of rows
    // (which is formatted before the headers): every export of this tab fails after its 200 went out.
    const good = Array.from({ length: CHUNK_ROWS }, (_, i) => [`P${i}`, `C${i}`]);
    const broken = [['name', 'code'], ...good, ['Alice', Symbol('not a cell') as unknown as string]];
    const sheets = createFakeSheets({ Broken: broken, Players: [['name', 'code'], ['Bob', 'P002']] });
    const log = await captureLogger('worker');
    const app = await startApp({ CORRAL_RATE_LIMIT: '0', CORRAL_ADMIN_TOKEN: TOKEN }, sheets, { logger: log.logger });
    // The connection is cut: before the headers left the socket, or in the body.
    const exportOf = (sheet: string) =>
      fetch(`${app.url}/api/export?sheet=${sheet}`, { headers: { authorization: `Bearer ${TOKEN}` } })
        .then((r) => (r.status === 200 ? r.text() : Promise.reject(new Error(`status ${r.status}`))))
        .then(
          () => 'complete',
          () => 'cut',
        );
    const lines = () => log.lines().filter((l) => String(l.event).startsWith('app.stream_'));
    try {
      for (let i = 0; i < 10; i++) assert.equal(await exportOf('Broken'), 'cut');
      assert.deepEqual(
        lines().map((l) => [l.event, l.level, l.route, l.failed]),
        [['app.stream_failed', 'error', 'GET /api/export', 1]],
        'one line for ten failed exports',
      );
      assert.match(String((lines()[0]?.err as { message?: string }).message), /clone/i, 'the first line carries the error');
      assert.equal(await exportOf('Players'), 'complete');
      assert.equal(await exportOf('Players'), 'complete');
      assert.deepEqual(
        lines().map((l) => [l.event, l.level, l.failed]),
        [
          ['app.stream_failed', 'error', 1],
          ['app.stream_recovered', 'info', 10],
        ],
      );
    } finally {
      await app.close();
      log.close();
    }
  });

  it('an export whose first rows fail (before its headers) is answered 500 as the handler\'s error, not a 200 cut short', async () => {
    const sheets = createFakeSheets({ Broken: [['name', 'code'], ['Alice', Symbol('not a cell') as unknown as string]] });
    const log = await captureLogger('worker');
    const app = await startApp({ CORRAL_RATE_LIMIT: '0', CORRAL_ADMIN_TOKEN: TOKEN }, sheets, { logger: log.logger });
    try {
      const r = await fetch(`${app.url}/api/export?sheet=Broken`, { headers: { authorization: `Bearer ${TOKEN}` } });
      assert.equal(r.status, 500);
      assert.equal(((await r.json()) as { error: string }).error, 'internal_error');
      assert.deepEqual(log.lines().filter((l) => String(l.event).startsWith('app.stream_') || l.event === 'app.export_failed'), []);
    } finally {
      await app.close();
      log.close();
    }
  });

  it('while answers on a path keep failing, a count at most once a minute', async () => {
    let now = 0;
    const log = await captureLogger('worker');
    const failures = new StreamFailureLog(log.logger, () => now);
    const req = { method: 'GET', url: '/api/export?sheet=Broken' } as IncomingMessage;
    const other = { method: 'GET', url: '/api/report' } as IncomingMessage;
    try {
      // An export failing every second for two and a half minutes, and once another path.
      for (; now < 150_000; now += 1000) failures.failed(req, new Error('export pool is closed'));
      failures.failed(other, new Error('export pool is closed'));
      assert.deepEqual(
        log.lines().map((l) => [l.event, l.route, l.failed, l.failed_total]),
        [
          ['app.stream_failed', 'GET /api/export', 1, 1],
          ['app.stream_failed', 'GET /api/export', 60, 61],
          ['app.stream_failed', 'GET /api/export', 60, 121],
          ['app.stream_failed', 'GET /api/report', 1, 1],
        ],
      );
      // An answer not sent whole (the client left) ends nothing; one sent whole ends its path only.
      failures.answered(req, { writableFinished: false } as ServerResponse);
      failures.answered(req, { writableFinished: true } as ServerResponse);
      failures.answered(req, { writableFinished: true } as ServerResponse);
      assert.deepEqual(
        log.lines().slice(4).map((l) => [l.event, l.route, l.failed]),
        [['app.stream_recovered', 'GET /api/export', 150]],
      );
    } finally {
      log.close();
    }
  });
});
