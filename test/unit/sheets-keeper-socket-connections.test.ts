// What a connection to the keeper's socket (server.ts) may hold of the keeper: a long poll on the
// change feed (change-feed.ts) leaves it when its connection closes, not at its timeout; a request
// that never arrives whole is closed (KEEPER_SOCKET_TIMEOUTS), one answered late is not.

import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { ChangeFeed } from '../../src/sheets/keeper/change-feed.js';
import { KEEPER_SOCKET_TIMEOUTS, KeeperServer, type KeeperHandlers, type KeeperSocketTimeouts } from '../../src/sheets/keeper/server.js';
import { captureLogger, type CapturedLogger } from '../fixtures/capture-logger.js';
import { waitFor } from '../helpers/corral.js';

describe("the keeper socket's connections", () => {
  let root: string;
  let log: CapturedLogger;
  let server: KeeperServer | undefined;
  const sockets: Socket[] = [];

  beforeEach(async () => {
    root = mkdtempSync(join(tmpdir(), 'corral-keeper-connections-'));
    log = await captureLogger();
  });
  afterEach(async () => {
    for (const s of sockets.splice(0)) s.destroy();
    await server?.close();
    server = undefined;
    log.close();
    rmSync(root, { recursive: true, force: true });
  });

  async function listen(handlers: Partial<KeeperHandlers>, timeouts?: KeeperSocketTimeouts): Promise<void> {
    server = new KeeperServer(
      join(root, 'keeper.sock'),
      {
        read: async () => undefined,
        append: async () => ({ id: 'x', rows: 1, duplicates: 0 }),
        watch: async () => ({ version: 0, epoch: 'e', sheets: [], all: false }),
        settleLogin: async () => ({ shared: false, reason: 'none' }),
        figures: () => ({}),
        ...handlers,
      },
      log.logger,
      'digest',
      timeouts,
    );
    await server.listen();
  }

  /** A connection that writes `bytes` and keeps what is answered; `closed` once the keeper closes it. */
  function open(bytes: string): { answered: () => string; closed: Promise<void>; isClosed: () => boolean } {
    const s = connect(join(root, 'keeper.sock'));
    sockets.push(s);
    let out = '';
    let isClosed = false;
    s.setEncoding('utf8');
    s.on('data', (d: string) => (out += d));
    s.on('error', () => undefined);
    const closed = new Promise<void>((resolve) =>
      s.on('close', () => {
        isClosed = true;
        resolve();
      }),
    );
    s.write(bytes);
    return { answered: () => out, closed, isClosed: () => isClosed };
  }

  it("a long poll whose connection closes (its worker recycled or killed) leaves the change feed then, not at its 25 s timeout", async () => {
    const feed = new ChangeFeed();
    let polls = 0;
    await listen({
      watch: (since, epoch, timeoutMs, signal) => {
        polls++;
        return feed.wait(since, epoch, timeoutMs, signal);
      },
    });
    const poll = `GET /watch?since=0&epoch=${feed.epoch} HTTP/1.1\r\nHost: keeper\r\n\r\n`;
    const gone = open(poll);
    const staying = open(poll);
    await waitFor(() => feed.waiters() === 2, 5000, 'both long polls waiting');
    sockets[0]?.destroy();
    await gone.closed;
    await waitFor(() => feed.waiters() === 1, 5000, "the closed connection's long poll to leave the feed (it stayed until its timeout)");
    // The one still open is answered at the next change, as before.
    feed.publish('Events');
    await waitFor(() => /"sheets":\["Events"\]/.test(staying.answered()), 5000, 'the open long poll answered');
    assert.equal(feed.waiters(), 0);
    assert.equal(polls, 2);
    assert.deepEqual(
      log.lines().filter((l) => l.event === 'keeper.request_error'),
      [],
    );
  });

  it('a poll asked with a signal already aborted is not kept, and one aborted later leaves with its timer', async () => {
    const feed = new ChangeFeed();
    const before = new AbortController();
    before.abort();
    assert.deepEqual((await feed.wait(0, feed.epoch, 60_000, before.signal)).sheets, []);
    assert.equal(feed.waiters(), 0);
    const later = new AbortController();
    const waiting = feed.wait(0, feed.epoch, 60_000, later.signal);
    assert.equal(feed.waiters(), 1);
    later.abort();
    assert.equal(feed.waiters(), 0, 'the waiter left as its signal aborted');
    // Answered at once (empty), its 60 s timer cleared: else the test's process would wait for it.
    assert.deepEqual((await waiting).sheets, []);
  });

  describe('a request that does not arrive whole', () => {
    // The bounds scaled down; the long poll and the slow append below are answered well past
    // them (three times the request bound): a keeper's poll (WATCH_TIMEOUT_MS, 25 s) is not cut
    // by its 30 s and 60 s either, however long it waits.
    const timeouts: KeeperSocketTimeouts = { headersMs: 200, requestMs: 400, checkEveryMs: 50 };
    const answerAfterMs = 1200;
    const late = <T>(value: T): Promise<T> => new Promise((resolve) => setTimeout(() => resolve(value), answerAfterMs));

    /** Resolves with what was answered once the keeper closes the connection; fails past `ms`. */
    async function closedWithin(c: { answered: () => string; closed: Promise<void> }, ms: number, what: string): Promise<string> {
      let timer: NodeJS.Timeout | undefined;
      const past = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`${what}: still open after ${ms} ms`)), ms);
      });
      try {
        await Promise.race([c.closed, past]);
        return c.answered();
      } finally {
        clearTimeout(timer);
      }
    }

    it("is bounded at every keeper: node:http's request bound is not left off", async () => {
      const s = new KeeperServer(join(root, 'unused.sock'), {} as KeeperHandlers, log.logger, 'digest');
      const http = (s as unknown as { server: { requestTimeout: number; headersTimeout: number } }).server;
      await s.close();
      assert.ok(KEEPER_SOCKET_TIMEOUTS.requestMs > 0 && KEEPER_SOCKET_TIMEOUTS.headersMs > 0);
      assert.equal(http.requestTimeout, KEEPER_SOCKET_TIMEOUTS.requestMs);
      assert.equal(http.headersTimeout, KEEPER_SOCKET_TIMEOUTS.headersMs);
    });

    it('headers cut short, or a body cut short, are answered 408 and closed; a long poll and an append answered past the bounds are not', async () => {
      await listen({ watch: () => late({ version: 1, epoch: 'e', sheets: ['Events'], all: false }), append: () => late({ id: 'x', rows: 1, duplicates: 0 }) }, timeouts);
      const poll = open('GET /watch?since=0&epoch=e HTTP/1.1\r\nHost: keeper\r\n\r\n');
      const append = open('POST /append HTTP/1.1\r\nHost: keeper\r\nContent-Length: 34\r\n\r\n{"range":"Events","rows":[["e1"]]}');
      const headers = open('GET /read?range=Events HTTP/1.1\r\nHost: keeper\r\n');
      const body = open('POST /append HTTP/1.1\r\nHost: keeper\r\nContent-Length: 34\r\n\r\n{"range":"Eve');
      const bound = timeouts.requestMs + timeouts.checkEveryMs + 4000;
      assert.match(await closedWithin(headers, bound, 'a request whose headers never end'), /^HTTP\/1\.1 408 /);
      assert.match(await closedWithin(body, bound, 'a request whose body never ends'), /^HTTP\/1\.1 408 /);
      // Both answered in full after the bounds passed, their connections kept (keep-alive).
      await waitFor(() => poll.answered().endsWith('"sheets":["Events"],"all":false}'), 5000, 'the long poll answered');
      await waitFor(() => append.answered().endsWith('"duplicates":0}'), 5000, 'the append answered');
      assert.match(poll.answered(), /^HTTP\/1\.1 200 /);
      assert.match(append.answered(), /^HTTP\/1\.1 200 /);
      assert.equal(poll.isClosed() || append.isClosed(), false, 'the answered connections stay open');
    });
  });
});
