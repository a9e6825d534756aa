import assert from 'node:assert/strict';
import { once } from 'node:events';
import type { ServerResponse } from 'node:http';
import { connect, type Socket } from 'node:net';
import { describe, it } from 'node:test';
import { loadSettings } from '../../src/config/load.js';
import { dropBodyAndClose, LINGER_MS } from '../../src/http/lingering-close.js';
import { createLogger } from '../../src/log/logger.js';
import { createWorkerServer } from '../../src/worker/server.js';

const GET = Buffer.from('GET / HTTP/1.1\r\nHost: x\r\n\r\n');

describe('requests pipelined behind one still being answered', () => {
  it('are not read without bound: the worker stops reading the connection until their turn, and then answers every one', async () => {
    const { settings } = loadSettings({ env: { CORRAL_ENV_FILE: 'none', CORRAL_BIND: '127.0.0.1:0', CORRAL_LOG_LEVEL: 'silent' } });
    const { logger } = createLogger(settings, { role: 'worker', worker: 1, generation: 1 });
    let held: ServerResponse | undefined;
    let handled = 0;
    const worker = createWorkerServer(
      (req, res) => {
        handled++;
        if (req.url === '/hold') held = res;
        else res.end('ok');
      },
      { settings, logger, accessLogger: undefined, workerId: 1, generation: 1, perWorkerCap: 10, onServed: () => undefined },
    );
    const { port } = await worker.listen();
    let serverSide: Socket | undefined;
    worker.server.on('connection', (s: Socket) => (serverSide = s));
    const client = connect(port, '127.0.0.1');
    client.on('error', () => undefined);
    try {
      await once(client, 'connect');
      client.write('GET /hold HTTP/1.1\r\nHost: x\r\n\r\n');
      // 40 000 requests (1.1 MB) pipelined behind the held one. node:http stops reading a connection
      // only when its answers back up; none is written while the first waits, so it read them all:
      // each a request and a response object kept until its turn (about 1.3 KB of heap per 27-byte
      // request: one client grew a worker by 436 MB in 5 s).
      const total = 40_000;
      client.write(Buffer.concat(Array<Buffer>(total).fill(GET)));
      await new Promise((r) => setTimeout(r, 1500));

      assert.ok(held, 'the first request is being handled');
      assert.ok(serverSide);
      assert.ok(serverSide.bytesRead < 128 * 1024, `the worker read ${serverSide.bytesRead} bytes of requests it cannot answer yet (${handled - 1} handed over)`);
      // Released, every request is answered, in order, none lost to the pause.
      let out = '';
      client.on('data', (d: Buffer) => (out += d.toString('latin1')));
      held.end('held');
      const deadline = Date.now() + 30_000;
      while ((out.match(/HTTP\/1\.1 200/g)?.length ?? 0) < total + 1 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      assert.equal(out.match(/HTTP\/1\.1 200/g)?.length, total + 1);
      assert.equal(handled, total + 1);
    } finally {
      client.destroy();
      await worker.drain(100);
    }
  });

  it('a few waiting are read on: a request whose head came in two reads is answered, not refused 408 past CORRAL_HEADERS_TIMEOUT while it waits unread', async () => {
    const { settings } = loadSettings({ env: { CORRAL_ENV_FILE: 'none', CORRAL_BIND: '127.0.0.1:0', CORRAL_LOG_LEVEL: 'silent', CORRAL_HEADERS_TIMEOUT: '1' } });
    const { logger } = createLogger(settings, { role: 'worker', worker: 1, generation: 1 });
    let held: ServerResponse | undefined;
    const worker = createWorkerServer(
      (req, res) => {
        if (req.url === '/hold') held = res;
        else res.end(`ok ${req.url}`);
      },
      { settings, logger, accessLogger: undefined, workerId: 1, generation: 1, perWorkerCap: 10, onServed: () => undefined },
    );
    const { port } = await worker.listen();
    const client = connect(port, '127.0.0.1');
    client.on('error', () => undefined);
    let out = '';
    client.on('data', (d: Buffer) => (out += d.toString('latin1')));
    try {
      await once(client, 'connect');
      client.write('GET /hold HTTP/1.1\r\nHost: x\r\n\r\nGET /b HTTP/1.1\r\nHost: x\r\n\r\nGET /c HTTP/1.1\r\nHo');
      while (!held) await new Promise((r) => setTimeout(r, 10));
      client.write('st: x\r\n\r\n');
      // Held past the headers timeout (1 s) and node's check of it (every second): /c, read whole,
      // waits its turn; left unread, its head was still "being received" and answered 408.
      await new Promise((r) => setTimeout(r, 2500));
      held.end('held');
      const deadline = Date.now() + 10_000;
      while ((out.match(/HTTP\/1\.1 /g)?.length ?? 0) < 3 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      assert.deepEqual(out.match(/HTTP\/1\.1 \d+/g), ['HTTP/1.1 200', 'HTTP/1.1 200', 'HTTP/1.1 200'], out);
      assert.match(out, /ok \/c$/);
    } finally {
      client.destroy();
      await worker.drain(100);
    }
  });

  it("no longer hold the connection when the answer before them refuses and closes it: the client's end is read", async () => {
    const { settings } = loadSettings({ env: { CORRAL_ENV_FILE: 'none', CORRAL_BIND: '127.0.0.1:0', CORRAL_LOG_LEVEL: 'silent' } });
    const { logger } = createLogger(settings, { role: 'worker', worker: 1, generation: 1 });
    // A refusal that closes with the body unread, after a wait (the bundled app's 401 once its token is checked).
    const worker = createWorkerServer(
      (req, res) =>
        void setTimeout(() => {
          dropBodyAndClose(req, res);
          res.writeHead(401);
          res.end('refused');
        }, 50),
      { settings, logger, accessLogger: undefined, workerId: 1, generation: 1, perWorkerCap: 10, onServed: () => undefined },
    );
    const { port } = await worker.listen();
    const serverClosed = new Promise<number>((resolve) => worker.server.once('connection', (s: Socket) => s.once('close', () => resolve(Date.now()))));
    const client = connect(port, '127.0.0.1');
    client.on('error', () => undefined);
    try {
      await once(client, 'connect');
      const started = Date.now();
      let out = '';
      client.on('data', (d: Buffer) => (out += d.toString('latin1')));
      client.write('POST /api/events HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhelloGET /next HTTP/1.1\r\nHost: x\r\n\r\n');
      // The client reads the 401 and the worker's end, and closes its side at once.
      await once(client, 'close');
      assert.match(out, /^HTTP\/1\.1 401/);
      const ms = (await serverClosed) - started;
      assert.ok(ms < LINGER_MS / 2, `the worker held the connection ${ms} ms after its client closed it`);
    } finally {
      client.destroy();
      await worker.drain(100);
    }
  });
});
