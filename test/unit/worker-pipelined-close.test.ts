import assert from 'node:assert/strict';
import { once } from 'node:events';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { connect, type Socket } from 'node:net';
import { describe, it } from 'node:test';
import { loadSettings } from '../../src/config/load.js';
import { dropBodyAndClose } from '../../src/http/lingering-close.js';
import { createLogger } from '../../src/log/logger.js';
import { createWorkerServer, type WorkerServer } from '../../src/worker/server.js';

/**
 * A worker whose app records every request it is handed. /refuse answers 401 with its body unread
 * (as the bundled app refuses a POST without a token); /slow answers after 50 ms; anything else
 * once its body is read.
 */
async function start(env: Record<string, string> = {}): Promise<{ worker: WorkerServer; port: number; handled: string[] }> {
  const { settings } = loadSettings({ env: { CORRAL_ENV_FILE: 'none', CORRAL_BIND: '127.0.0.1:0', CORRAL_LOG_LEVEL: 'silent', ...env } });
  const { logger } = createLogger(settings, { role: 'worker', worker: 1, generation: 1 });
  const handled: string[] = [];
  const app = (req: IncomingMessage, res: ServerResponse) => {
    handled.push(`${req.method} ${req.url}`);
    if (req.url === '/refuse') {
      dropBodyAndClose(req, res);
      res.writeHead(401);
      res.end('refused');
      return;
    }
    req.resume();
    req.on('end', () => (req.url === '/slow' ? setTimeout(() => res.end(`answered ${req.url}`), 50) : res.end(`answered ${req.url}`)));
  };
  const worker = createWorkerServer(app, { settings, logger, accessLogger: undefined, workerId: 1, generation: 1, perWorkerCap: 10, onServed: () => undefined });
  return { worker, port: (await worker.listen()).port, handled };
}

/** Writes `payload` and collects what is answered until the worker closes the connection (or 3 s). */
async function exchange(socket: Socket, payload: string): Promise<string[]> {
  let out = '';
  socket.on('data', (d: Buffer) => (out += d.toString('latin1')));
  socket.write(payload);
  await Promise.race([once(socket, 'close'), new Promise((r) => setTimeout(r, 3000))]);
  // Status lines, wherever they start (an answer's body may end just before the next one).
  return [...out.matchAll(/HTTP\/1\.1 \d{3} [^\r]*/g)].map((m) => m[0]);
}

const POST_EVENT = 'POST /api/events HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n{}';

describe('a request pipelined behind an answer that closes the connection', () => {
  it('is never handed to the app with CORRAL_KEEPALIVE=0: only the answered request ran', async () => {
    const { worker, port, handled } = await start({ CORRAL_KEEPALIVE: '0' });
    try {
      const socket = connect(port, '127.0.0.1');
      socket.on('error', () => undefined);
      await once(socket, 'connect');
      const answers = await exchange(socket, `GET /first HTTP/1.1\r\nHost: x\r\n\r\n${POST_EVENT}`);
      assert.equal(answers.length, 1);
      assert.deepEqual(handled, ['GET /first'], 'the POST behind it was not run: its answer could never be sent');
    } finally {
      await worker.drain(100);
    }
  });

  it('is never handed to the app while the worker drains, and the drain does not wait for its answer', async () => {
    const { worker, port, handled } = await start();
    const socket = connect(port, '127.0.0.1');
    socket.on('error', () => undefined);
    await once(socket, 'connect');
    const drained = { at: 0 };
    try {
      // In flight when the drain starts: answered with Connection: close.
      socket.write('GET /slow HTTP/1.1\r\nHost: x\r\n\r\n');
      while (handled.length === 0) await new Promise((r) => setTimeout(r, 5));
      const t0 = Date.now();
      void worker.drain(5000, false).then(() => (drained.at = Date.now() - t0));
      const answers = await exchange(socket, POST_EVENT);
      assert.equal(answers.length, 1);
      assert.match(answers[0] ?? '', / 200 /);
      assert.deepEqual(handled, ['GET /slow']);
      while (drained.at === 0) await new Promise((r) => setTimeout(r, 5));
      assert.ok(drained.at < 900, `the drain ended once the connection closed (${drained.at} ms)`);
    } finally {
      socket.destroy();
      await worker.drain(100);
    }
  });

  it('is never handed to the app behind a refusal that closes the connection with the body unread', async () => {
    const { worker, port, handled } = await start();
    try {
      const socket = connect(port, '127.0.0.1');
      socket.on('error', () => undefined);
      await once(socket, 'connect');
      const body = 'x'.repeat(30_000);
      const answers = await exchange(socket, `POST /refuse HTTP/1.1\r\nHost: x\r\nContent-Length: ${body.length}\r\n\r\n${body}${POST_EVENT}`);
      assert.equal(answers.length, 1);
      assert.match(answers[0] ?? '', / 401 /);
      assert.deepEqual(handled, ['POST /refuse']);
    } finally {
      await worker.drain(100);
    }
  });

  it('is still handled, in turn, behind an answer that keeps the connection open', async () => {
    const { worker, port, handled } = await start();
    try {
      const socket = connect(port, '127.0.0.1');
      socket.on('error', () => undefined);
      await once(socket, 'connect');
      let out = '';
      socket.on('data', (d: Buffer) => (out += d.toString('latin1')));
      socket.write(`GET /slow HTTP/1.1\r\nHost: x\r\n\r\nGET /a HTTP/1.1\r\nHost: x\r\n\r\n${POST_EVENT}`);
      while ((out.match(/HTTP\/1\.1 200/g) ?? []).length < 3) await new Promise((r) => setTimeout(r, 5));
      assert.deepEqual(handled, ['GET /slow', 'GET /a', 'POST /api/events']);
      assert.match(out, /answered \/slow[^]*answered \/a[^]*answered \/api\/events/);
      socket.destroy();
    } finally {
      await worker.drain(100);
    }
  });

  it("counts toward CORRAL_LIMIT_REQUEST_BODY_BYTES the chunked body that arrived while it waited its turn", async () => {
    const { worker, port, handled } = await start({ CORRAL_LIMIT_REQUEST_BODY_BYTES: '4096' });
    try {
      const socket = connect(port, '127.0.0.1');
      socket.on('error', () => undefined);
      await once(socket, 'connect');
      const chunk = `${(3000).toString(16)}\r\n${'x'.repeat(3000)}\r\n`;
      // Both chunks (6000 bytes) arrive while /slow is being answered.
      const answers = await exchange(socket, `GET /slow HTTP/1.1\r\nHost: x\r\n\r\nPOST /upload HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n${chunk}${chunk}0\r\n\r\n`);
      assert.deepEqual(answers.map((a) => a.split(' ')[1]), ['200', '413']);
      assert.deepEqual(handled, ['GET /slow'], 'the body over the limit never reached the app');
    } finally {
      await worker.drain(100);
    }
  });
});
