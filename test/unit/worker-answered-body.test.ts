// A request the app answered before its body had arrived (it never read it), its connection kept
// alive: node:http reads the rest of the body and drops it. If that rest then fails (it comes too
// slowly for CORRAL_REQUEST_TIMEOUT, or its chunks are malformed), the request has had its answer:
// a second one (408, 400) written after it is an answer to no request, which a client reusing the
// connection reads as the answer to its next one.

import assert from 'node:assert/strict';
import { connect, type Socket } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { loadSettings } from '../../src/config/load.js';
import { createLogger } from '../../src/log/logger.js';
import { createWorkerServer, type WorkerServer } from '../../src/worker/server.js';

/** Everything the worker sends on `socket` until it closes (or `ms` passes). */
function readToClose(socket: Socket, ms: number): Promise<string> {
  return new Promise((resolve) => {
    let text = '';
    const done = () => resolve(text);
    socket.on('data', (d: Buffer) => (text += d.toString('latin1')));
    socket.on('error', () => undefined);
    socket.on('close', done);
    setTimeout(done, ms).unref();
  });
}

const answers = (text: string): string[] => text.match(/HTTP\/1\.1 \d{3}/g) ?? [];

describe('a request answered before its body arrived, whose body then fails', () => {
  let worker: WorkerServer;
  let port: number;
  const sockets: Socket[] = [];
  before(async () => {
    const { settings } = loadSettings({
      env: { CORRAL_ENV_FILE: 'none', CORRAL_BIND: '127.0.0.1:0', CORRAL_LOG_LEVEL: 'silent', CORRAL_HEADERS_TIMEOUT: '1', CORRAL_REQUEST_TIMEOUT: '2' },
    });
    const { logger } = createLogger(settings, { role: 'worker', worker: 1, generation: 1 });
    // Answers at once, without reading the body (a route that takes none, a refusal of the app's own).
    const app = (_req: unknown, res: import('node:http').ServerResponse) => {
      res.writeHead(401, { 'content-type': 'text/plain', 'content-length': '4' });
      res.end('nope');
    };
    worker = createWorkerServer(app, { settings, logger, accessLogger: undefined, workerId: 1, generation: 1, perWorkerCap: 10, onServed: () => undefined });
    port = (await worker.listen()).port;
  });
  after(async () => {
    for (const s of sockets) s.destroy();
    await worker.drain(100);
  });

  it('a body that does not arrive within the request timeout: the connection closes, with no 408 after the answer', async () => {
    const socket = connect(port, '127.0.0.1');
    sockets.push(socket);
    const read = readToClose(socket, 6000);
    socket.write('POST /x HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nabc');
    const text = await read;
    assert.deepEqual(answers(text), ['HTTP/1.1 401'], text);
    assert.ok(socket.destroyed || socket.readableEnded, 'the connection was closed');
  });

  it('a chunked body malformed in the same read as the head, after a synchronous answer: no 400 after the answer', async () => {
    // The app ends its answer while node:http parses the head; the parser reads on into the body
    // in the same read, before the answer's 'finish', and fails there: the answer is whole, not
    // one the 400 may replace.
    const socket = connect(port, '127.0.0.1');
    sockets.push(socket);
    const read = readToClose(socket, 4000);
    socket.write('POST /x HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nZZZ\r\n');
    const text = await read;
    assert.deepEqual(answers(text), ['HTTP/1.1 401'], text);
    assert.ok(socket.destroyed || socket.readableEnded, 'the connection was closed');
  });

  it('a chunked body malformed after the answer: the connection closes, with no 400 after the answer', async () => {
    const socket = connect(port, '127.0.0.1');
    sockets.push(socket);
    const read = readToClose(socket, 4000);
    socket.write('POST /x HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nab');
    await new Promise((r) => setTimeout(r, 200));
    socket.write('cde\r\nZZZ\r\n');
    const text = await read;
    assert.deepEqual(answers(text), ['HTTP/1.1 401'], text);
    assert.ok(socket.destroyed || socket.readableEnded, 'the connection was closed');
  });
});

describe('a request answered whole but not yet taken by its client, whose body then does not arrive', () => {
  let worker: WorkerServer;
  let port: number;
  const sockets: Socket[] = [];
  before(async () => {
    const { settings } = loadSettings({
      env: { CORRAL_ENV_FILE: 'none', CORRAL_BIND: '127.0.0.1:0', CORRAL_LOG_LEVEL: 'silent', CORRAL_HEADERS_TIMEOUT: '1', CORRAL_REQUEST_TIMEOUT: '1' },
    });
    const { logger } = createLogger(settings, { role: 'worker', worker: 1, generation: 1 });
    // An answer larger than the socket buffers, ended at once: node:http has it all, the client
    // has not read it yet, and the response stays the connection's current one until it has.
    const big = Buffer.alloc(16 * 1024 * 1024, 'a');
    const app = (_req: unknown, res: import('node:http').ServerResponse) => {
      res.writeHead(200, { 'content-type': 'text/plain', 'content-length': String(big.length) });
      res.end(big);
    };
    worker = createWorkerServer(app, { settings, logger, accessLogger: undefined, workerId: 1, generation: 1, perWorkerCap: 10, onServed: () => undefined });
    port = (await worker.listen()).port;
  });
  after(async () => {
    for (const s of sockets) s.destroy();
    await worker.drain(100);
  });

  it('the request timeout passes while the answer waits for the client: no 408 after the answer', async () => {
    const socket = connect(port, '127.0.0.1');
    sockets.push(socket);
    socket.pause();
    socket.write('POST /x HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nabc');
    // Past the request timeout and node:http's check of it (every second), without reading.
    await new Promise((r) => setTimeout(r, 3000));
    const read = readToClose(socket, 8000);
    socket.resume();
    const text = await read;
    assert.deepEqual(answers(text), ['HTTP/1.1 200'], `${text.slice(0, 200)}…${text.slice(-400)}`);
  });

  it('and a client that then reads that answer slowly gets all of it: the close waits for it to leave', async () => {
    const socket = connect(port, '127.0.0.1');
    sockets.push(socket);
    socket.pause();
    socket.write('POST /x HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nabc');
    await new Promise((r) => setTimeout(r, 3000));
    // About 2 MB a second: the 16 MB take longer than the 5 s a closed connection lingers.
    let body = 0;
    let head = '';
    const closed = new Promise<void>((resolve) => socket.on('close', () => resolve()));
    socket.on('error', () => undefined);
    socket.on('data', (d: Buffer) => {
      if (head === '') head = d.subarray(0, 64).toString('latin1');
      body += d.length;
      socket.pause();
      setTimeout(() => socket.resume(), 30).unref();
    });
    socket.resume();
    await closed;
    assert.match(head, /^HTTP\/1\.1 200 /);
    const headBytes = 'HTTP/1.1 200 OK\r\n'.length;
    assert.ok(body >= 16 * 1024 * 1024 + headBytes, `the answer's 16 MiB were cut at ${body} bytes`);
  });
});
