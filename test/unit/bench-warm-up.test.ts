// The warm-up request of the Sheets benchmarks waits for its route to answer 200; when it never
// does, the error must say what the route answered, or the operator has nothing to go on.

import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { test } from 'node:test';
import { ROUTES, warmUp } from '../../bench/lib/sheets-app.js';

test('a route that keeps answering 503: the timeout names the last answer', async () => {
  const server = createServer((_req, res) => {
    res.writeHead(503, { 'content-type': 'application/json' });
    res.end('{"error":"sheets_unavailable"}');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  try {
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    await assert.rejects(warmUp(base, ROUTES[0]!, 300), (err: Error) => {
      assert.match(err.message, /timed out/);
      assert.match(err.message, /last: 503 \{"error":"sheets_unavailable"\}/);
      return true;
    });
  } finally {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  }
});
