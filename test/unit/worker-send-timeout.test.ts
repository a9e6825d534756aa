import assert from 'node:assert/strict';
import { once } from 'node:events';
import type { RequestListener } from 'node:http';
import { connect, type Socket } from 'node:net';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { loadSettings } from '../../src/config/load.js';
import { createLogger, type Logger } from '../../src/log/logger.js';
import { createWorkerServer, type WorkerServer } from '../../src/worker/server.js';
import { LINGER_MS } from '../../src/http/lingering-close.js';
import { readPaced } from '../helpers/paced-reader.js';

/** Everything the worker sends on `socket` until it closes, and when the close came (ms after `t0`). */
function readToClose(socket: Socket, t0: number): Promise<{ text: string; ms: number }> {
  return new Promise((resolve) => {
    let text = '';
    socket.on('data', (d: Buffer) => (text += d.toString('latin1')));
    socket.on('error', () => undefined);
    socket.on('close', () => resolve({ text, ms: performance.now() - t0 }));
  });
}

/** A worker answering `served` (or as `app` answers), with these settings over the defaults; `access` gets its access lines. */
async function startWorker(env: Record<string, string>, app: RequestListener = (_req, res) => res.end('served'), access?: Record<string, unknown>[]): Promise<{ worker: WorkerServer; port: number }> {
  const { settings } = loadSettings({ env: { CORRAL_ENV_FILE: 'none', CORRAL_BIND: '127.0.0.1:0', CORRAL_LOG_LEVEL: 'silent', ...env } });
  const { logger } = createLogger(settings, { role: 'worker', worker: 1, generation: 1 });
  const accessLogger = access ? ({ info: (line: Record<string, unknown>) => void access.push(line) } as unknown as Logger) : undefined;
  const worker = createWorkerServer(app, { settings, logger, accessLogger, workerId: 1, generation: 1, perWorkerCap: 10, onServed: () => undefined });
  return { worker, port: (await worker.listen()).port };
}

/** A body of `mib` MiB, far more than loopback's socket buffers hold for a client that reads none of it. */
function bigBody(mib: number): Buffer {
  return Buffer.alloc(mib * 1024 * 1024, 'x');
}

/** Waits until `check` holds, for `ms` at most. */
async function until(check: () => boolean, ms: number): Promise<void> {
  const deadline = performance.now() + ms;
  while (!check() && performance.now() < deadline) await new Promise((r) => setTimeout(r, 20));
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

describe('the send timeout', () => {
  const sockets: Socket[] = [];
  let worker: WorkerServer | undefined;
  afterEach(async () => {
    for (const s of sockets) s.destroy();
    sockets.length = 0;
    await worker?.drain(100);
    worker = undefined;
  });

  it('cuts a client that reads none of its answer between one and one and a half CORRAL_SEND_TIMEOUTs after it stalled, its access line a 499 the worker caused', async () => {
    const access: Record<string, unknown>[] = [];
    const body = bigBody(32);
    let port: number;
    ({ worker, port } = await startWorker({ CORRAL_SEND_TIMEOUT: '1' }, (_req, res) => res.end(body), access));
    const socket = connect(port, '127.0.0.1');
    sockets.push(socket);
    socket.on('error', () => undefined);
    socket.pause();
    const t0 = performance.now();
    const closed = once(socket, 'close');
    socket.write('GET /big HTTP/1.1\r\nHost: x\r\n\r\n');
    await until(() => access.length > 0, 6000);
    const ms = performance.now() - t0;
    assert.equal(access[0]?.status, 499, JSON.stringify(access[0]));
    assert.equal(access[0]?.cut, 'send_timeout');
    // The kernel's buffers fill within a few ms of the answer: the client stalled about then.
    assert.ok(ms >= 1000 && ms < 1500 + 1000, `cut after ${Math.round(ms)} ms`);
    socket.resume();
    await closed;
  });

  it('does not cut a client that reads its answer slowly, though one write of it takes far longer than CORRAL_SEND_TIMEOUT to go out', { timeout: 30_000 }, async () => {
    // One write of 20 MiB, read 512 KiB every 100 ms: about 4 s against a timeout of 1 s. The app
    // hands it over once, so only the kernel's taking of that one write says the client reads.
    const body = bigBody(20);
    let port: number;
    ({ worker, port } = await startWorker({ CORRAL_SEND_TIMEOUT: '1' }, (_req, res) => res.end(body)));
    const socket = connect(port, '127.0.0.1');
    sockets.push(socket);
    const reader = readPaced(socket);
    try {
      socket.on('error', () => undefined);
      const t0 = performance.now();
      socket.write('GET /big HTTP/1.1\r\nHost: x\r\n\r\n');
      await until(() => reader.received() >= body.length || socket.destroyed, 25_000);
      assert.equal(socket.destroyed, false, `cut after ${reader.received()} bytes`);
      assert.ok(reader.received() >= body.length, `received ${reader.received()} bytes`);
      assert.ok(performance.now() - t0 > 2000, 'the answer took longer than the send timeout to go out');
    } finally {
      reader.stop();
    }
  });

  it('does not cut a handler slower than CORRAL_SEND_TIMEOUT: its answer had nothing waiting for the client', async () => {
    let port: number;
    ({ worker, port } = await startWorker({ CORRAL_SEND_TIMEOUT: '1' }, (_req, res) => void setTimeout(() => res.end('late'), 1800)));
    const socket = connect(port, '127.0.0.1');
    sockets.push(socket);
    let text = '';
    socket.on('data', (d: Buffer) => (text += d.toString('latin1')));
    socket.write('GET / HTTP/1.1\r\nHost: x\r\n\r\n');
    await until(() => text.endsWith('late') || socket.destroyed, 5000);
    assert.match(text, /^HTTP\/1\.1 200 [^]*late$/);
  });

  it('arms no timer on a connection for its requests: the worker looks at its connections on its own', async () => {
    // node:http's server.timeout armed one at every request and moved it at every read and write,
    // the largest single cost corral added to a cached GET (about 0.6 µs of CPU).
    const timeouts: unknown[] = [];
    let port: number;
    ({ worker, port } = await startWorker({}, (req, res) => {
      timeouts.push(req.socket.timeout ?? 0);
      res.end('served');
    }));
    const socket = connect(port, '127.0.0.1');
    sockets.push(socket);
    let text = '';
    socket.on('data', (d: Buffer) => (text += d.toString('latin1')));
    socket.write('GET / HTTP/1.1\r\nHost: x\r\n\r\n');
    await until(() => text.split('served').length === 2, 3000);
    socket.write('GET / HTTP/1.1\r\nHost: x\r\n\r\n');
    await until(() => text.split('served').length === 3, 3000);
    assert.deepEqual(timeouts, [0, 0]);
  });
});
