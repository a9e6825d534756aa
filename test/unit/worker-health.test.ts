import assert from 'node:assert/strict';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { connect, type Socket } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { loadSettings } from '../../src/config/load.js';
import { createLogger } from '../../src/log/logger.js';
import { createWorkerServer, type WorkerServer } from '../../src/worker/server.js';

/** A connection that had one request answered and stays open (keep-alive): a drain does not close it. */
async function keptConnection(port: number): Promise<Socket> {
  const socket = connect(port, '127.0.0.1');
  socket.on('error', () => undefined);
  let out = '';
  await new Promise<void>((resolve, reject) => {
    socket.on('data', function first(d: Buffer) {
      out += d.toString();
      const head = out.indexOf('\r\n\r\n');
      const length = Number(/content-length: (\d+)/i.exec(out)?.[1] ?? NaN);
      if (head === -1 || out.length < head + 4 + length) return;
      socket.off('data', first);
      resolve();
    });
    socket.once('close', () => reject(new Error(`closed before its first answer: ${out}`)));
    socket.write('GET /first HTTP/1.1\r\nHost: x\r\n\r\n');
  });
  socket.removeAllListeners('close');
  return socket;
}

/** Sends one request on `socket` and resolves with all it reads until the server closes it (every answer of a draining worker does). */
function lastAnswer(socket: Socket, method: string, target: string): Promise<string> {
  return new Promise((resolve) => {
    let out = '';
    socket.on('data', (d: Buffer) => (out += d.toString()));
    socket.once('close', () => resolve(out));
    socket.write(`${method} ${target} HTTP/1.1\r\nHost: x\r\n\r\n`);
  });
}

describe('worker health while the host stops', () => {
  let worker: WorkerServer;
  let port: number;
  before(async () => {
    const { settings } = loadSettings({ env: { CORRAL_ENV_FILE: 'none', CORRAL_BIND: '127.0.0.1:0', CORRAL_LOG_LEVEL: 'silent', CORRAL_KEEPALIVE: '30' } });
    const { logger } = createLogger(settings, { role: 'worker', worker: 1, generation: 1 });
    // An app with a health route of its own, as the bundled one has: it knows nothing of a drain.
    const app = (_req: IncomingMessage, res: ServerResponse) => {
      const body = JSON.stringify({ status: 'ok', from: 'app' });
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
      res.end(body);
    };
    worker = createWorkerServer(app, { settings, logger, accessLogger: undefined, workerId: 1, generation: 1, perWorkerCap: 50, onServed: () => undefined });
    port = (await worker.listen()).port;
  });
  after(() => worker.drain(0));

  it("answers every spelling the app would route to its health itself, while serving too: the app's own route is never reached", async () => {
    for (const target of ['/api/admin/health', '/api/admin/./health', '/api/x/../admin/health', 'http://x/api/admin/health']) {
      const socket = connect(port, '127.0.0.1');
      const answer = await new Promise<string>((resolve) => {
        let out = '';
        socket.on('data', (d: Buffer) => (out += d.toString()));
        socket.once('close', () => resolve(out));
        socket.write(`GET ${target} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`);
      });
      assert.match(answer, /^HTTP\/1\.1 200 [^]*"status":"ok","worker":1,"generation":1/, target);
      assert.doesNotMatch(answer, /"from":"app"/, target);
    }
  });

  it('answers 503 draining whatever the query, a trailing slash or the spelling the app would route to its health; other paths go to the app', async () => {
    const health = [
      ['GET', '/api/admin/health'],
      ['GET', '/api/admin/health?lb=1'],
      ['GET', '/api/admin/health/'],
      ['GET', '/api/admin/health/?lb=1'],
      ['HEAD', '/api/admin/health?lb=1'],
      ['GET', '/api/admin/./health'],
      ['GET', 'http://x/api/admin/health?lb=1'],
    ] as const;
    const others = ['/api/admin/healthz', '/api/admin/health//', '/api/admin/health/x'] as const;
    const sockets = await Promise.all([...health, ...others].map(() => keptConnection(port)));
    const drained = worker.drain(30_000, true);
    try {
      for (const [i, [method, target]] of health.entries()) {
        const answer = await lastAnswer(sockets[i] as Socket, method, target);
        assert.match(answer, /^HTTP\/1\.1 503 /, `${method} ${target}`);
        if (method === 'GET') assert.match(answer, /"status":"draining"/, `${method} ${target}`);
      }
      for (const [i, target] of others.entries()) {
        const answer = await lastAnswer(sockets[health.length + i] as Socket, 'GET', target);
        assert.match(answer, /^HTTP\/1\.1 200 [^]*"from":"app"/, target);
      }
    } finally {
      for (const s of sockets) s.destroy();
    }
    await drained;
  });
});

describe('worker health carries the host capacity the master last told', () => {
  it('none before the first word, then capacity.status and percent_used, as a monitor of the old app checked them', async () => {
    const { settings } = loadSettings({ env: { CORRAL_ENV_FILE: 'none', CORRAL_BIND: '127.0.0.1:0', CORRAL_LOG_LEVEL: 'silent' } });
    const { logger } = createLogger(settings, { role: 'worker', worker: 1, generation: 1 });
    let told: { status: string; percent_used: number } | undefined;
    const app = (_req: IncomingMessage, res: ServerResponse) => res.end();
    const worker = createWorkerServer(app, { settings, logger, accessLogger: undefined, workerId: 1, generation: 1, perWorkerCap: 50, onServed: () => undefined, hostCapacity: () => told });
    const { port } = await worker.listen();
    try {
      const health = async () => (await (await fetch(`http://127.0.0.1:${port}/api/admin/health`)).json()) as Record<string, unknown>;
      assert.deepEqual(await health(), { status: 'ok', worker: 1, generation: 1 });
      told = { status: 'WARNING', percent_used: 91.5 };
      assert.deepEqual(await health(), { status: 'ok', worker: 1, generation: 1, capacity: { status: 'WARNING', percent_used: 91.5 } });
    } finally {
      await worker.drain(0);
    }
  });
});
