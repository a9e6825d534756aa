// A worker's first connection to a keeper socket outside the data dir (keeper/socket-path.ts):
// the directory it checks must be the one it connects through. Found absent, nothing of this
// user's is there to connect to (the keeper makes it before it listens), and whoever makes it
// between the check and the connect (another local user, in a shared temp dir) would be the keeper.

import assert from 'node:assert/strict';
import fs, { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { syncBuiltinESMExports } from 'node:module';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { describe, it } from 'node:test';
import { ConnectionPool } from '../../src/sheets/keeper-client/connection-pool.js';
import { keeperSocketPath } from '../../src/sheets/keeper/socket-path.js';

describe("the keeper socket's directory, checked by a worker", () => {
  it('found absent, no connection is made: one made in the directory that appears after the check would reach whoever made it', async () => {
    const temp = mkdtempSync(join(tmpdir(), 'corral-socket-race-'));
    const socketPath = keeperSocketPath(`/srv/${'very-long-directory-name/'.repeat(5)}data`, temp);
    const dir = dirname(socketPath);
    let reached = false;
    // Another user's stand-in: its own directory (open to others here, as this test runs as one
    // user), and a socket that answers as a keeper would.
    const impostor: Server = createServer((socket) => {
      reached = true;
      socket.end('HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}');
    });
    const mutableFs = fs as unknown as { lstatSync: typeof fs.lstatSync };
    const realLstat = fs.lstatSync;
    // The directory appears right after the worker found it absent, before its connect.
    mutableFs.lstatSync = ((path: fs.PathLike, ...rest: unknown[]) => {
      try {
        return (realLstat as (...a: unknown[]) => unknown)(path, ...rest);
      } catch (err) {
        if (path === dir && (err as NodeJS.ErrnoException).code === 'ENOENT' && !impostor.listening) {
          mkdirSync(dir, { mode: 0o755 });
          impostor.listen(socketPath);
        }
        throw err;
      }
    }) as typeof fs.lstatSync;
    syncBuiltinESMExports();
    const pool = new ConnectionPool(socketPath, 1, 60_000, true, '');
    try {
      await assert.rejects(pool.use((c) => c.request({ method: 'GET', path: '/read?range=Players', timeoutMs: 2000 })));
      assert.equal(reached, false, 'the worker connected to a socket in a directory it never checked');
      // Once there, the directory is checked and refused, as before.
      await assert.rejects(
        pool.use((c) => c.request({ method: 'GET', path: '/read?range=Players', timeoutMs: 2000 })),
        (err: Error & { code?: string }) => err.code === 'CORRAL_ERR_KEEPER_SOCKET_DIR',
      );
      assert.equal(reached, false);
    } finally {
      mutableFs.lstatSync = realLstat;
      syncBuiltinESMExports();
      pool.destroy();
      if (impostor.listening) impostor.close();
      rmSync(temp, { recursive: true, force: true });
    }
  });
});
