// POST /api/events whose append never reached the keeper: every write connection of the worker
// was busy for the whole of both attempts (keeper-link.ts WRITE_TIMEOUT_MS, connection-pool.ts
// "not sent"), as when the journal's disk hangs and more events come to one worker than it has
// write connections. Nothing was sent, so nothing can have been saved: the client must be told so
// (503 not_saved, "nothing was recorded: retry"), not that the event "may or may not have been
// saved" and that "a retry may save it twice", which tells a client without a key not to retry an
// event the server knows it never had.

import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { CorralError } from '../../src/errors.js';
import { KeeperLink } from '../../src/sheets/keeper-link.js';
import { postJson, startApp, type AppHarness } from '../fixtures/app-harness.js';
import { createFakeSheets, SAMPLE_EVENTS, SAMPLE_PLAYERS, type FakeSheets } from '../fixtures/fake-sheets.js';

/**
 * A keeper that takes each connection's request and answers it a byte of its head at a time,
 * never finishing: the connection is busy (not silent, so no timeout ends it) for as long as it lives.
 */
async function busyKeeper(socketPath: string): Promise<{ server: Server; sockets: Set<Socket> }> {
  const sockets = new Set<Socket>();
  const server = createServer((socket) => {
    sockets.add(socket);
    socket.resume();
    socket.write('HTTP/1.1 200 OK\r\n');
    const timer = setInterval(() => socket.write('X'), 20);
    socket.on('close', () => clearInterval(timer));
    socket.on('error', () => clearInterval(timer));
  });
  await new Promise<void>((resolve) => server.listen(socketPath, resolve));
  return { server, sockets };
}

/**
 * What a 503 not_saved says of the event. Without a key, that nothing was recorded. With one, this
 * request may be the retry of an earlier one with the key that the keeper saved before it became
 * unreachable: "nothing was recorded" took a recorded event for a lost one, and a client that gave
 * up on it never learnt its id.
 */
function assertNotSavedSays(message: string, headers: Record<string, string>): void {
  if (headers['idempotency-key'] === undefined) {
    assert.match(message, /nothing was recorded/);
    return;
  }
  assert.doesNotMatch(message, /nothing was recorded/, 'an earlier request with the key may have been');
  assert.match(message, /this request recorded nothing, but an earlier request with this Idempotency-Key may have been saved/);
  assert.match(message, /retry with the same key and body/);
}

describe('POST /api/events when its append was never sent to the keeper', () => {
  let dir: string;
  let app: AppHarness;
  let sheets: FakeSheets;
  let auth: Record<string, string>;
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'corral-not-sent-'));
    sheets = createFakeSheets({ Players: SAMPLE_PLAYERS, Events: SAMPLE_EVENTS });
    app = await startApp({ CORRAL_RATE_LIMIT: '0' }, sheets);
    const res = await postJson(`${app.url}/api/login`, { name: 'Bob', code: 'b-secret-2' });
    auth = { authorization: `Bearer ${((await res.json()) as { token: string }).token}` };
  });
  after(async () => {
    await app.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('answers 503 not_saved (nothing was recorded), not "may or may not have been saved"', async () => {
    const socketPath = join(dir, 'keeper.sock');
    const { server, sockets } = await busyKeeper(socketPath);
    // One write connection, as if the worker's 8 were all taken by appends waiting in a hung journal write.
    // The bound on a write's wait is 30 times the keeper's byte interval: a loaded box that delays
    // the interval past it frees the connection, and the second append is sent after all.
    const link = new KeeperLink({ socketPath, connections: 1, writeTimeoutMs: 600, retryDelayMs: 10 });
    try {
      const holding = link.write('/append', '{"range":"Events","rows":[["held"]]}').catch(() => undefined);
      // The first append holds the one connection once the keeper has it.
      while (sockets.size === 0) await new Promise((r) => setTimeout(r, 5));
      // This append waits for a connection in both its attempts and is never sent.
      const err = (await link.write('/append', '{"range":"Events","rows":[["never-sent"]]}').then(
        () => assert.fail('the keeper never answers'),
        (e: unknown) => e,
      )) as CorralError;
      assert.match(err.message, /not sent/, 'the link knows nothing was sent');
      assert.equal(sockets.size, 1, 'only the first append reached the keeper');

      // What the app makes of that error (the worker client passes the link's error on as it is).
      sheets.appendError = err;
      for (const headers of [auth, { ...auth, 'idempotency-key': 'k-never-sent' }]) {
        const res = await postJson(`${app.url}/api/events`, { kind: 'tag' }, headers);
        assert.equal(res.status, 503);
        const body = (await res.json()) as { error: string; message: string };
        assert.doesNotMatch(body.message, /may or may not have been saved/, 'nothing was sent: it was certainly not saved');
        assert.equal(body.error, 'not_saved');
        assertNotSavedSays(body.message, headers);
      }
      await link.close();
      await holding;
    } finally {
      sheets.appendError = undefined;
      await link.close();
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });

  it('answers 503 not_saved when no keeper listens on its socket (gone, or the keeper down outside a restart)', async () => {
    // Both tries' connects failed (ENOENT, as when the socket was removed under the keeper or the
    // keeper is down with no restart announced): nothing was sent.
    const link = new KeeperLink({ socketPath: join(dir, 'gone.sock'), retryDelayMs: 10 });
    try {
      const err = (await link.write('/append', '{"range":"Events","rows":[["never-sent"]]}').then(
        () => assert.fail('no keeper listens'),
        (e: unknown) => e,
      )) as CorralError;
      sheets.appendError = err;
      for (const headers of [auth, { ...auth, 'idempotency-key': 'k-no-keeper' }]) {
        const res = await postJson(`${app.url}/api/events`, { kind: 'tag' }, headers);
        assert.equal(res.status, 503);
        assert.equal(res.headers.get('retry-after'), '5');
        const body = (await res.json()) as { error: string; message: string };
        assert.doesNotMatch(body.message, /may or may not have been saved/, 'nothing was sent: it was certainly not saved');
        assert.equal(body.error, 'not_saved');
        assertNotSavedSays(body.message, headers);
      }
    } finally {
      sheets.appendError = undefined;
      await link.close();
    }
  });
});
