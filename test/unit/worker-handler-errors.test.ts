// A request handler that throws or rejects (worker/server.ts): before its answer, the client gets a
// 500; during it, the connection is cut; after it (the app ended the answer, then failed), the
// answer goes out whole and the connection stays open.

import assert from 'node:assert/strict';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { connect } from 'node:net';
import { after, before, test } from 'node:test';
import { loadSettings } from '../../src/config/load.js';
import { createLogger } from '../../src/log/logger.js';
import { createWorkerServer, type WorkerServer } from '../../src/worker/server.js';

const BIG = Buffer.alloc(8 * 1024 * 1024, 97);
let worker: WorkerServer;
let port: number;

function app(req: IncomingMessage, res: ServerResponse): unknown {
  switch (req.url) {
    case '/throw':
      throw new Error('lookup failed');
    case '/reject':
      return Promise.reject(new Error('lookup rejected'));
    case '/half':
      res.writeHead(200, { 'content-length': 10 });
      res.write('12345');
      throw new Error('failed mid-answer');
    case '/ended-then-throw':
      res.writeHead(200, { 'content-length': BIG.length });
      res.end(BIG);
      throw new Error('audit failed after the answer');
    case '/ended-then-reject':
      res.writeHead(200, { 'content-length': BIG.length });
      res.end(BIG);
      return Promise.reject(new Error('audit rejected after the answer'));
    default:
      res.end('ok');
      return undefined;
  }
}

before(async () => {
  const { settings } = loadSettings({ env: { CORRAL_ENV_FILE: 'none', CORRAL_BIND: '127.0.0.1:0', CORRAL_LOG_LEVEL: 'silent' } });
  const { logger } = createLogger(settings, { role: 'worker', worker: 1, generation: 1 });
  worker = createWorkerServer(app, { settings, logger, accessLogger: undefined, workerId: 1, generation: 1, perWorkerCap: 10, onServed: () => undefined });
  port = (await worker.listen()).port;
});
after(() => worker.drain(100));

/** Sends `paths` on one kept-alive connection, read slowly at first; what came back until it closed or went quiet. */
function exchange(paths: string[]): Promise<{ bytes: number; text: string; closed: boolean }> {
  return new Promise((resolve) => {
    const s = connect(port, '127.0.0.1', () => s.write(paths.map((p) => `GET ${p} HTTP/1.1\r\nHost: x\r\n\r\n`).join('')));
    const chunks: Buffer[] = [];
    let quiet: NodeJS.Timeout | undefined;
    const done = (closed: boolean) => {
      clearTimeout(quiet);
      s.destroy();
      const all = Buffer.concat(chunks);
      resolve({ bytes: all.length, text: all.toString('latin1'), closed });
    };
    // Paused, as a slow client: the answer waits in the socket's buffers, not yet in the kernel's.
    s.pause();
    setTimeout(() => s.resume(), 200);
    s.on('data', (d: Buffer) => {
      chunks.push(d);
      clearTimeout(quiet);
      quiet = setTimeout(() => done(false), 500);
    });
    s.on('close', () => done(true));
    s.on('error', () => undefined);
  });
}

test('a handler that throws or rejects before it answers gets its client a 500', async () => {
  for (const path of ['/throw', '/reject']) {
    const { text } = await exchange([path]);
    assert.match(text, /^HTTP\/1\.1 500 /, path);
    assert.match(text, /"error":"internal_error"/, path);
  }
});

test('a handler that fails mid-answer has its connection cut, not the answer passed as whole', async () => {
  const { text, closed } = await exchange(['/half']);
  assert.equal(closed, true);
  assert.doesNotMatch(text, /\r\n\r\n12345\d/);
});

test('a handler that fails after it ended its answer: the answer goes out whole, and the connection serves on', async () => {
  for (const path of ['/ended-then-throw', '/ended-then-reject']) {
    const { bytes, text, closed } = await exchange([path, '/']);
    assert.ok(bytes > BIG.length, `${path}: ${bytes} bytes received, the body is ${BIG.length}`);
    assert.match(text, /\r\n\r\nok$/, `${path}: the next request on the connection answered`);
    assert.equal(closed, false, path);
  }
});
