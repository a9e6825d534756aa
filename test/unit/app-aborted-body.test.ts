// A client that goes away while its request waits before its body is read (POST /api/events waits
// for the roster first, a login for a count the master makes): the handler must end, not wait
// for the body of a request that is gone. readBodyWithin listened for 'close' only after the
// request had closed, and its promise never settled: each such request held its handler, request
// and response for the life of the worker, and was never answered nor logged.

import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { IncomingMessage } from 'node:http';
import { Socket } from 'node:net';
import { readBodyWithin } from '../../src/http/read-body.js';
import { captureLogger, type CapturedLogger } from '../fixtures/capture-logger.js';
import { postJson, startApp, type AppHarness } from '../fixtures/app-harness.js';
import { createFakeSheets, SAMPLE_EVENTS, SAMPLE_PLAYERS } from '../fixtures/fake-sheets.js';
import { waitFor } from '../helpers/corral.js';

describe('a request closed before its body is read', () => {
  it('readBodyWithin rejects at once for a request already closed', async () => {
    const req = new IncomingMessage(new Socket());
    req.destroy();
    // Its 'close' already emitted, as for a request whose client left while the handler waited.
    await new Promise((r) => req.once('close', r));
    const outcome = await Promise.race([
      readBodyWithin(req, 100, () => new Error('too large')).then(
        () => 'resolved',
        (err: Error) => `rejected: ${err.message}`,
      ),
      new Promise((resolve) => setTimeout(() => resolve('never settled'), 500)),
    ]);
    assert.match(String(outcome), /^rejected/);
  });

  describe('POST /api/events whose roster read outlasts the client', () => {
    let app: AppHarness;
    let log: CapturedLogger;
    let rosterReads = 0;
    before(async () => {
      log = await captureLogger('worker');
      const sheets = createFakeSheets({ Players: SAMPLE_PLAYERS, Events: SAMPLE_EVENTS });
      const records = sheets.records.bind(sheets);
      // The roster read of the events route waits on the keeper (its L1 copy expired).
      sheets.records = async (range) => {
        if (range === 'Players') {
          rosterReads++;
          await new Promise((r) => setTimeout(r, 300));
        }
        return records(range);
      };
      app = await startApp({ CORRAL_RATE_LIMIT: '0' }, sheets, { logger: log.logger });
    });
    after(async () => {
      await app.close();
      log.close();
    });

    it('ends its handler (logged request.aborted) instead of waiting forever for the body', async () => {
      const login = await postJson(`${app.url}/api/login`, { name: 'Alice', code: 'a-secret-1' });
      const { token } = (await login.json()) as { token: string };
      const body = '{"kind":"goal"}';
      const { port } = new URL(app.url);
      const socket = connect(Number(port), '127.0.0.1');
      socket.on('error', () => undefined);
      await new Promise((r) => socket.once('connect', r));
      socket.write(
        `POST /api/events HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${token}\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n${body}`,
      );
      // Gone while the roster is read: before the handler reads the body. Waited for as an event
      // (the roster read started), not a time: a 50 ms sleep on a loaded box could destroy the
      // socket before the handler ran, and a 700 ms one end the test before the handler did.
      const readsBefore = rosterReads;
      await waitFor(() => rosterReads > readsBefore, 10_000, "the events route's roster read");
      socket.destroy();
      await waitFor(() => log.lines().some((l) => l.event === 'request.aborted'), 10_000, 'request.aborted: the handler ended for the closed request');
      const aborted = log.lines().filter((l) => l.event === 'request.aborted');
      assert.equal(aborted.length, 1, 'the handler ended (fail() ran) once for the closed request');
    });
  });
});
