// A connection socket that errs twice: ioredis listens once, and the second error was an uncaught
// exception (a TLS handshake refused, then the server's alert); through guardedConnector it is not.

import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:net';
import { after, before, test } from 'node:test';
import { Redis, type RedisOptions } from 'ioredis';
import { guardedConnector } from '../../src/redis/guarded-connector.js';
import { waitFor } from '../helpers/corral.js';

let server: Server;
let port: number;
before(async () => {
  // Accepts and says nothing: the client's socket connects and waits.
  server = createServer(() => undefined);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  port = (server.address() as { port: number }).port;
});
after(() => new Promise<void>((resolve) => server.close(() => resolve())));

async function socketOf(extra: Partial<RedisOptions>): Promise<{ client: Redis; stream: NodeJS.EventEmitter }> {
  const client = new Redis({ host: '127.0.0.1', port, lazyConnect: true, retryStrategy: () => null, maxRetriesPerRequest: 0, enableOfflineQueue: false, ...extra });
  client.on('error', () => undefined);
  void client.connect().catch(() => undefined);
  const stream = await waitFor(() => (client as unknown as { stream?: NodeJS.EventEmitter }).stream, 5000, 'the client socket');
  return { client, stream };
}

test("a socket's second error does not escape through guardedConnector; through ioredis's own connector it does", async () => {
  const guarded = await socketOf(guardedConnector);
  try {
    assert.doesNotThrow(() => {
      guarded.stream.emit('error', new Error('certificate refused'));
      guarded.stream.emit('error', new Error('alert on the way out'));
    });
  } finally {
    guarded.client.disconnect();
  }
  const plain = await socketOf({});
  try {
    plain.stream.emit('error', new Error('certificate refused'));
    assert.throws(() => plain.stream.emit('error', new Error('alert on the way out')), /alert on the way out/, 'what the guard is for');
  } finally {
    // Shown: from here the unguarded socket's real errors (a reset as it is torn down, on a loaded
    // machine) would escape the test as an uncaught exception, as they would escape a keeper.
    plain.stream.on('error', () => undefined);
    plain.client.disconnect();
  }
});
