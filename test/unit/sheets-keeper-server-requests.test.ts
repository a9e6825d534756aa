// The keeper's socket server (server.ts) with stub handlers, on requests no worker of this build
// sends but a buggy one could: each is answered 4xx with a code, as a request's fault, not 502 as
// Google's; and the socket is never open to other users, not even between its bind and its chmod.

import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import type { Server } from 'node:http';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { NotSentError } from '../../src/errors.js';
import { KeeperLockTakenError } from '../../src/sheets/keeper/lock-fence.js';
import { KeeperServer } from '../../src/sheets/keeper/server.js';
import { KeeperLink } from '../../src/sheets/keeper-link.js';
import { captureLogger, type CapturedLogger } from '../fixtures/capture-logger.js';

describe('the keeper socket server', () => {
  let root: string;
  let log: CapturedLogger;
  let server: KeeperServer | undefined;
  let appended = 0;
  /** Thrown by the append handler, in turn, while any are left. */
  let appendErrors: Error[] = [];

  beforeEach(async () => {
    root = mkdtempSync(join(tmpdir(), 'corral-keeper-requests-'));
    log = await captureLogger();
    appended = 0;
    appendErrors = [];
  });
  afterEach(async () => {
    await server?.close();
    server = undefined;
    log.close();
    rmSync(root, { recursive: true, force: true });
  });

  function make(): KeeperServer {
    server = new KeeperServer(
      join(root, 'keeper.sock'),
      {
        read: async () => undefined,
        append: async () => {
          const refusal = appendErrors.shift();
          if (refusal) throw refusal;
          appended++;
          return { id: 'x', rows: 1, duplicates: 0 };
        },
        watch: async () => ({ version: 0, epoch: 'e', sheets: [], all: false }),
        settleLogin: async () => ({ shared: false, reason: 'none' }),
        figures: () => ({}),
      },
      log.logger,
      'digest',
    );
    return server;
  }

  /** Sends `bytes` as they are; the status line's code and the body's `code`. */
  function raw(bytes: string): Promise<[number, unknown]> {
    return new Promise((resolve, reject) => {
      const s = connect(join(root, 'keeper.sock'));
      let out = '';
      s.setEncoding('utf8');
      s.on('data', (d: string) => {
        out += d;
        const head = out.indexOf('\r\n\r\n');
        const length = /content-length: (\d+)/i.exec(out)?.[1];
        if (head === -1 || length === undefined || out.length < head + 4 + Number(length)) return;
        s.destroy();
        resolve([Number(out.slice(9, 12)), (JSON.parse(out.slice(head + 4)) as { code?: unknown }).code]);
      });
      s.on('error', reject);
      s.write(bytes);
    });
  }

  const post = (path: string, body: string) => `POST ${path} HTTP/1.1\r\nHost: keeper\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`;

  it('answers an append body that is JSON but no object (null) 400 CORRAL_ERR_APPEND_INVALID, not 502 as an upstream failure', async () => {
    await make().listen();
    assert.deepEqual(await raw(post('/append', 'null')), [400, 'CORRAL_ERR_APPEND_INVALID']);
    assert.deepEqual(await raw(post('/append', '"Events"')), [400, 'CORRAL_ERR_APPEND_INVALID']);
    assert.equal(appended, 0);
  });

  it("says of an append refused once written (its lock found another's after the write) that it was written: the worker's link does not call it not sent", async () => {
    await make().listen();
    const lock = join(root, 'keeper.lock');
    // The first try's group was written before the lock was asked again; the retry is refused before any write.
    appendErrors = [new KeeperLockTakenError(lock, 4242, true), new KeeperLockTakenError(lock, 4242)];
    const link = new KeeperLink({ socketPath: join(root, 'keeper.sock'), retryDelayMs: 10 });
    try {
      await assert.rejects(link.write('/append', '{"range":"Events","rows":[["E1"]]}'), (err: Error & { code?: string }) => {
        assert.ok(!(err instanceof NotSentError), `may have been saved: ${err.message}`);
        assert.equal(err.code, 'CORRAL_ERR_KEEPER_UNAVAILABLE');
        return true;
      });
      // Both refused before any write: nothing was saved.
      appendErrors = [new KeeperLockTakenError(lock, 4242), new KeeperLockTakenError(lock, 4242)];
      await assert.rejects(link.write('/append', '{"range":"Events","rows":[["E2"]]}'), (err: Error) => err instanceof NotSentError);
      assert.equal(appended, 0);
    } finally {
      await link.close();
    }
  });

  it('answers a request target it cannot parse 400 with a code, counted as an error, and logs no handler failure', async () => {
    await make().listen();
    assert.deepEqual(await raw('GET // HTTP/1.1\r\nHost: keeper\r\n\r\n'), [400, 'CORRAL_ERR_USAGE']);
    assert.equal(server?.stats().errors, 1);
    assert.deepEqual(
      log.lines().filter((l) => l.event === 'keeper.request_error'),
      [],
    );
  });

  it('binds its socket closed to other users whatever the umask: a connect between the bind and the chmod is not refused by the mode', async () => {
    const s = make();
    let modeAtBind: number | undefined;
    // The first moment another process could connect(): a connection accepted then stays after the chmod.
    (s as unknown as { server: Server }).server.once('listening', () => {
      modeAtBind = statSync(join(root, 'keeper.sock')).mode & 0o777;
    });
    const umask = process.umask(0o002);
    try {
      await s.listen();
    } finally {
      process.umask(umask);
    }
    assert.equal(modeAtBind?.toString(8), '600');
    assert.equal((statSync(join(root, 'keeper.sock')).mode & 0o777).toString(8), '600');
  });
});
