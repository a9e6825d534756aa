// The Google client against a local server that answers 429 with a Retry-After: within one call
// it waits what Google asked, and never retries sooner than that.

import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, beforeEach, describe, it } from 'node:test';
import { Agent } from 'undici';
import { ApiKeyAuth } from '../../src/sheets/google/auth.js';
import { SheetsApiClient } from '../../src/sheets/google/client.js';
import { GOOGLE_BACKOFF, parseRetryAfter, RETRY_AFTER_MAX_MS } from '../../src/sheets/google/retry.js';
import { isSheetsError } from '../../src/sheets/errors.js';
import { captureLogger, type CapturedLogger } from '../fixtures/capture-logger.js';

const QUOTA = JSON.stringify({ error: { code: 429, message: "Quota exceeded for quota metric 'Read requests'", status: 'RESOURCE_EXHAUSTED' } });

describe('Google client and Retry-After', () => {
  let server: Server;
  let url = '';
  let dispatcher: Agent;
  let log: CapturedLogger;
  /** Retry-After of the first answer; the next ones are 200. */
  let retryAfter = '';
  let requests = 0;
  let slept: number[];
  let client: SheetsApiClient;

  before(async () => {
    server = createServer((_req, res) => {
      requests++;
      if (requests === 1) {
        res.writeHead(429, { 'content-type': 'application/json', 'retry-after': retryAfter });
        res.end(QUOTA);
        return;
      }
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ range: 'Players!A1:B2', majorDimension: 'ROWS', values: [['name'], ['Ana']] }));
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    dispatcher = new Agent();
    log = await captureLogger();
  });
  after(async () => {
    await dispatcher.close();
    await new Promise((r) => server.close(r));
    log.close();
  });
  beforeEach(() => {
    requests = 0;
    slept = [];
    client = new SheetsApiClient({
      spreadsheetId: 'sheet1',
      apiUrl: url,
      auth: new ApiKeyAuth('key'),
      dispatcher,
      timeoutMs: 5000,
      retry: GOOGLE_BACKOFF,
      logger: log.logger,
      random: () => 0,
      // Records the waits instead of waiting them.
      sleep: async (ms) => {
        slept.push(ms);
      },
    });
  });

  it('a Retry-After within the backoff truncation is waited in full, then the call is retried', async () => {
    retryAfter = '20';
    // The caller is told of the failed attempt before the wait (the read tier answers its readers then).
    const told: string[] = [];
    const read = await client.getValues('Players', undefined, 'ROWS', (err) => told.push(`${isSheetsError(err) ? err.code : '?'} after ${slept.length} waits`));
    assert.deepEqual(read.values, [['name'], ['Ana']]);
    assert.deepEqual(slept, [20_000]);
    assert.equal(requests, 2);
    assert.deepEqual(told, ['CORRAL_ERR_SHEETS_QUOTA after 0 waits']);
  });

  it('a Retry-After past the truncation is not cut to 32 s: the call ends with Google\'s wait for the caller', async () => {
    retryAfter = '60';
    const told: unknown[] = [];
    await assert.rejects(client.getValues('Players', undefined, 'ROWS', (err) => told.push(err)), (err: unknown) => {
      assert.ok(isSheetsError(err));
      assert.equal(err.code, 'CORRAL_ERR_SHEETS_QUOTA');
      assert.equal(err.retryAfterMs, 60_000);
      assert.match(err.message, /Google asked to retry in 60 s/);
      return true;
    });
    assert.deepEqual(slept, [], 'no retry before the 60 s Google asked for');
    assert.equal(requests, 1);
    assert.deepEqual(told, [], 'no retry, nothing told: the call ends with the error');
  });

  it('an absurd Retry-After is honoured up to 10 minutes', () => {
    assert.equal(RETRY_AFTER_MAX_MS, 600_000);
    assert.equal(parseRetryAfter('86400'), 600_000);
    assert.equal(parseRetryAfter(new Date(10_000 + 3_600_000).toUTCString(), 10_000), 600_000);
    assert.equal(parseRetryAfter('120'), 120_000);
  });
});
