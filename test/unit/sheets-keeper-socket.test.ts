// The keeper's socket file removed while it runs (an rm of the data dir): the bound socket took no
// new connection, and every worker that reconnected failed until a restart. relistenIfRemoved()
// binds the path again, handing the new connections to the same server; a file at the path that is
// not its socket is left alone.

import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { KeeperServer } from '../../src/sheets/keeper/server.js';
import { captureLogger, type CapturedLogger } from '../fixtures/capture-logger.js';

/** GET /read over the socket at `path`, on a new connection: the status, or the connection's error code. */
function read(path: string): Promise<number | string> {
  return new Promise((resolve) => {
    const req = request({ socketPath: path, path: '/read?range=Players', agent: false }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('error', (err: NodeJS.ErrnoException) => resolve(err.code ?? err.message));
    req.end();
  });
}

describe('keeper socket removed while the keeper runs', () => {
  let root: string;
  let log: CapturedLogger;
  let server: KeeperServer;
  let socket: string;

  beforeEach(async () => {
    root = mkdtempSync(join(tmpdir(), 'corral-keeper-socket-'));
    socket = join(root, 'data', 'keeper.sock');
    log = await captureLogger();
    const values = Buffer.from(JSON.stringify({ range: 'Players', values: [['name']] }));
    server = new KeeperServer(
      socket,
      { read: async () => [values], append: async () => ({ id: 'e1', rows: 1, duplicates: 0 }), watch: async () => ({ version: 0, epoch: 'e', sheets: [], all: false }), settleLogin: async () => ({ shared: false, reason: 'none' }), figures: () => ({}) },
      log.logger,
      'digest',
    );
    mkdirSync(join(root, 'data'));
    await server.listen();
  });
  afterEach(async () => {
    await server.close();
    log.close();
    rmSync(root, { recursive: true, force: true });
  });

  it('is in place: nothing is done', async () => {
    assert.equal(await server.relistenIfRemoved(), undefined);
    assert.equal(await read(socket), 200);
  });

  it('removed with its data dir: new connections fail until it is bound again, then are served', async () => {
    rmSync(join(root, 'data'), { recursive: true });
    assert.equal(await read(socket), 'ENOENT');
    assert.equal(await server.relistenIfRemoved(), 'rebound');
    assert.equal(await read(socket), 200);
    assert.equal(await server.relistenIfRemoved(), undefined, 'the new socket is its own');
  });

  it('a check in flight when the keeper closes binds nothing that outlives close()', async () => {
    rmSync(join(root, 'data'), { recursive: true });
    // The check has begun (its stat is on its way) when close() runs: the listener it would bind
    // was not close()'s to close, and held the path and the process open.
    const checking = server.relistenIfRemoved();
    await server.close();
    assert.equal(await checking, undefined);
    assert.notEqual(await read(socket), 200, 'nobody answers at the path once closed');
  });

  it('another file at its path is not taken over', async () => {
    rmSync(socket);
    writeFileSync(socket, 'someone else');
    assert.equal(await server.relistenIfRemoved(), 'foreign');
  });
});
