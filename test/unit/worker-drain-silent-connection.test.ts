// A connection that has sent nothing since it was accepted (a browser's preconnect, a client that
// connected and went quiet) is closed by a draining worker once past its grace: it held the drain
// until CORRAL_HEADERS_TIMEOUT (10 s by default), and was then answered 408 for a request it never
// sent. One that sends its request within the grace is answered.

import assert from 'node:assert/strict';
import { once } from 'node:events';
import { connect } from 'node:net';
import { it } from 'node:test';
import { loadSettings } from '../../src/config/load.js';
import { createLogger } from '../../src/log/logger.js';
import { createWorkerServer } from '../../src/worker/server.js';

/** A worker on an ephemeral port, and a client connected to it that has sent nothing yet. */
async function connectedWorker(env: Record<string, string> = {}) {
  const { settings } = loadSettings({ env: { CORRAL_ENV_FILE: 'none', CORRAL_BIND: '127.0.0.1:0', CORRAL_LOG_LEVEL: 'silent', ...env } });
  const { logger } = createLogger(settings, { role: 'worker', worker: 1, generation: 1 });
  const worker = createWorkerServer((_req, res) => res.end('ok'), { settings, logger, accessLogger: undefined, workerId: 1, generation: 1, perWorkerCap: 10, onServed: () => undefined });
  const { port } = await worker.listen();
  const socket = connect(port, '127.0.0.1');
  socket.on('error', () => undefined);
  const client = { socket, out: '' };
  socket.on('data', (d: Buffer) => (client.out += d.toString()));
  await once(socket, 'connect');
  return { worker, client };
}

it('a connection silent since it was accepted does not hold the drain until the headers timeout, nor get a 408 for a request it never sent', async () => {
  const { worker, client } = await connectedWorker({ CORRAL_HEADERS_TIMEOUT: '6' });
  try {
    // Silent past the grace a new connection gets at the cap (idle-connections.ts SILENT_GRACE_MS);
    // the drain must end well before the headers timeout (6 s) would have ended it.
    await new Promise((r) => setTimeout(r, 1200));
    const t0 = Date.now();
    const drainedIn = await Promise.race([worker.drain(20_000, true).then(() => Date.now() - t0), new Promise<number>((r) => setTimeout(() => r(Infinity), 8000))]);
    assert.ok(drainedIn < 4500, `the drain took ${drainedIn} ms: held by a connection that never sent a byte until CORRAL_HEADERS_TIMEOUT`);
    assert.doesNotMatch(client.out, / 408 /, 'no 408 for a request never sent');
  } finally {
    client.socket.destroy();
    await worker.drain(0);
  }
});

it('a connection accepted just before the drain that sends its request within the grace is answered', async () => {
  const { worker, client } = await connectedWorker();
  const { socket } = client;
  try {
    const drained = worker.drain(20_000, true);
    // Within the grace (SILENT_GRACE_MS, 1 s), past a sweep or two.
    await new Promise((r) => setTimeout(r, 600));
    socket.write('GET / HTTP/1.1\r\nHost: x\r\n\r\n');
    await once(socket, 'close');
    assert.match(client.out, /^HTTP\/1\.1 200 /);
    assert.match(client.out, /connection: close/i);
    await drained;
  } finally {
    socket.destroy();
    await worker.drain(0);
  }
});

it("a connection whose request waits unread in the kernel while the worker's loop was held past the grace is answered, not closed as silent", async () => {
  const { worker, client } = await connectedWorker();
  const { socket } = client;
  try {
    // Accepted: counted by the worker, silent so far.
    while (worker.cap.active() === 0) await new Promise((r) => setImmediate(r));
    socket.write('GET / HTTP/1.1\r\nHost: x\r\n\r\n');
    // The request is in the worker's socket buffer (same process: the write went to the kernel
    // at once), unread: the loop is held past the grace, as a loaded machine holds a worker's.
    const heldUntil = performance.now() + 1100;
    while (performance.now() < heldUntil);
    // The drain begins before the loop reads anything: the connection's bytesRead is still 0.
    const drained = worker.drain(20_000, true);
    await once(socket, 'close');
    assert.match(client.out, /^HTTP\/1\.1 200 /, 'the request the client sent within its grace is answered');
    await drained;
  } finally {
    socket.destroy();
    await worker.drain(0);
  }
});
