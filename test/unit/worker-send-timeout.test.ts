import assert from 'node:assert/strict';
import { once } from 'node:events';
import { connect, type Socket } from 'node:net';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { loadSettings } from '../../src/config/load.js';
import { createLogger } from '../../src/log/logger.js';
import { createWorkerServer, type WorkerServer } from '../../src/worker/server.js';
import { LINGER_MS } from '../../src/http/lingering-close.js';

/** Everything the worker sends on `socket` until it closes, and when the close came (ms after `t0`). */
function readToClose(socket: Socket, t0: number): Promise<{ text: string; ms: number }> {
  return new Promise((resolve) => {
    let text = '';
    socket.on('data', (d: Buffer) => (text += d.toString('latin1')));
    socket.on('error', () => undefined);
    socket.on('close', () => resolve({ text, ms: performance.now() - t0 }));
  });
}

/** A worker answering `served`, with these settings over the defaults. */
async function startWorker(env: Record<string, string>): Promise<{ worker: WorkerServer; port: number }> {
  const { settings } = loadSettings({ env: { CORRAL_ENV_FILE: 'none', CORRAL_BIND: '127.0.0.1:0', CORRAL_LOG_LEVEL: 'silent', ...env } });
  const { logger } = createLogger(settings, { role: 'worker', worker: 1, generation: 1 });
  const worker = createWorkerServer((_req, res) => res.end('served'), { settings, logger, accessLogger: undefined, workerId: 1, generation: 1, perWorkerCap: 10, onServed: () => undefined });
  return { worker, port: (await worker.listen()).port };
}

describe('send timeout shorter than the headers timeout', () => {
  let worker: WorkerServer;
  let port: number;
  const sockets: Socket[] = [];

  beforeEach(async () => {
    ({ worker, port } = await startWorker({ CORRAL_SEND_TIMEOUT: '1', CORRAL_HEADERS_TIMEOUT: '3' }));
  });
  afterEach(async () => {
    for (const s of sockets) s.destroy();
    await worker.drain(100);
  });

  it('answers a request whose headers stall 408 at the headers timeout, rather than closing it unanswered at the send timeout', async () => {
    const socket = connect(port, '127.0.0.1');
    sockets.push(socket);
    const t0 = performance.now();
    const closed = readToClose(socket, t0);
    socket.write('GET / HTTP/1.1\r\nHost: x\r\n');
    const { text, ms } = await closed;
    assert.match(text.split('\r\n')[0] ?? '', / 408 /, `answered, not closed without a word (after ${Math.round(ms)} ms)`);
    assert.match(text, /"error":"request_timeout"/);
    assert.ok(ms >= 2900, `at the headers timeout of 3 s, not the send timeout of 1 s (${Math.round(ms)} ms)`);
  });

  it('still closes an idle keep-alive connection at its keep-alive timeout, and serves a request answered at once', async () => {
    const socket = connect(port, '127.0.0.1');
    sockets.push(socket);
    const t0 = performance.now();
    const closed = readToClose(socket, t0);
    socket.write('GET / HTTP/1.1\r\nHost: x\r\n\r\n');
    const { text } = await closed;
    assert.match(text.split('\r\n')[0] ?? '', / 200 /);
    assert.equal(text.split('HTTP/1.1 ').length - 1, 1, 'one answer, no 408 after it');
  });
});

describe('a raw answer (408) to a client that never closes its side', () => {
  let worker: WorkerServer;
  let port: number;
  const sockets: Socket[] = [];

  beforeEach(async () => {
    // The send timeout at its default (60 s): it is not what closes the connection.
    ({ worker, port } = await startWorker({ CORRAL_HEADERS_TIMEOUT: '1' }));
  });
  afterEach(async () => {
    for (const s of sockets) s.destroy();
    await worker.drain(100);
  });

  it('closes the connection within the linger after the 408, giving back its slot of the cap', async () => {
    // allowHalfOpen: the client reads the worker's end and keeps its own side open, as a script
    // that holds connections does.
    const socket = connect({ port, host: '127.0.0.1', allowHalfOpen: true });
    sockets.push(socket);
    socket.on('error', () => undefined);
    let text = '';
    socket.on('data', (d: Buffer) => (text += d.toString('latin1')));
    socket.write('GET / HTTP/1.1\r\nHost: x\r\n');
    await once(socket, 'end');
    assert.match(text.split('\r\n')[0] ?? '', / 408 /);
    const t0 = performance.now();
    while (worker.cap.active() > 0 && performance.now() - t0 < LINGER_MS + 3000) await new Promise((r) => setTimeout(r, 20));
    assert.equal(worker.cap.active(), 0, `the worker closed its side within the linger (${Math.round(performance.now() - t0)} ms), not at the send timeout of 60 s`);
  });
});
