// What a connection to the keeper's socket (server.ts) may hold of the keeper: a long poll on the
// change feed (change-feed.ts) leaves it when its connection closes, not at its timeout.

import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { ChangeFeed } from '../../src/sheets/keeper/change-feed.js';
import { KeeperServer, type KeeperHandlers } from '../../src/sheets/keeper/server.js';
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

  async function listen(handlers: Partial<KeeperHandlers>): Promise<void> {
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
    );
    await server.listen();
  }

  /** A connection that writes `bytes` and keeps what is answered; `closed` once the keeper closes it. */
  function open(bytes: string): { answered: () => string; closed: Promise<void> } {
    const s = connect(join(root, 'keeper.sock'));
    sockets.push(s);
    let out = '';
    s.setEncoding('utf8');
    s.on('data', (d: string) => (out += d));
    s.on('error', () => undefined);
    const closed = new Promise<void>((resolve) => s.on('close', () => resolve()));
    s.write(bytes);
    return { answered: () => out, closed };
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
});
