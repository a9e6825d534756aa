// A handler's misuse of its response (worker/server.ts) is that request's failure, not the
// worker's: an answer ended twice (a missing `return` after an early res.end), headers the app set
// before it threw (a gzip Content-Encoding, a chunked Transfer-Encoding, a cookie) kept off the
// 500 that replaces its answer but its CORS headers kept, and an answer cut for a throw mid-way said as the worker's cut.

import assert from 'node:assert/strict';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { connect } from 'node:net';
import { after, before, test } from 'node:test';
import { loadSettings } from '../../src/config/load.js';
import type { Logger } from '../../src/log/logger.js';
import { createWorkerServer, type WorkerServer } from '../../src/worker/server.js';
import { captureLogger, type CapturedLogger } from '../fixtures/capture-logger.js';

let worker: WorkerServer;
let port: number;
let log: CapturedLogger;
const access: Record<string, unknown>[] = [];

function app(req: IncomingMessage, res: ServerResponse): void {
  switch (req.url) {
    case '/twice':
      // if (!ok) { res.statusCode = 400; res.end('bad'); }  <- no return
      res.statusCode = 400;
      res.end('bad');
      res.end('ok');
      return;
    case '/headers-then-throw':
      res.setHeader('Content-Encoding', 'gzip');
      res.setHeader('Transfer-Encoding', 'chunked');
      res.setHeader('Set-Cookie', 'session=abc; HttpOnly');
      res.setHeader('Access-Control-Allow-Origin', 'https://app.example');
      res.setHeader('Vary', 'Origin');
      throw new Error('failed before the body');
    case '/half':
      res.writeHead(200, { 'content-length': 10 });
      res.write('12345');
      throw new Error('failed mid-answer');
    default:
      res.end('ok');
  }
}

before(async () => {
  log = await captureLogger('worker');
  const { settings } = loadSettings({ env: { CORRAL_ENV_FILE: 'none', CORRAL_BIND: '127.0.0.1:0', CORRAL_LOG_LEVEL: 'silent' } });
  const accessLogger = { info: (line: Record<string, unknown>) => void access.push(line) } as unknown as Logger;
  worker = createWorkerServer(app, { settings, logger: log.logger, accessLogger, workerId: 1, generation: 1, perWorkerCap: 10, onServed: () => undefined });
  port = (await worker.listen()).port;
});
after(async () => {
  await worker.drain(100);
  log.close();
});

/** Sends `paths` on one kept-alive connection; what came back until it closed or went quiet. */
function exchange(paths: string[]): Promise<{ text: string; closed: boolean }> {
  return new Promise((resolve) => {
    const s = connect(port, '127.0.0.1', () => s.write(paths.map((p) => `GET ${p} HTTP/1.1\r\nHost: x\r\n\r\n`).join('')));
    let text = '';
    let quiet: NodeJS.Timeout | undefined;
    const done = (closed: boolean) => {
      clearTimeout(quiet);
      s.destroy();
      resolve({ text, closed });
    };
    s.on('data', (d: Buffer) => {
      text += d.toString('latin1');
      clearTimeout(quiet);
      quiet = setTimeout(() => done(false), 300);
    });
    s.on('close', () => done(true));
    s.on('error', () => undefined);
  });
}

test('an answer ended twice is a request error said with its path, not an uncaught exception that retires the worker', async () => {
  let uncaught: unknown;
  const onUncaught = (err: unknown) => void (uncaught = err);
  // node:test's own listener would fail the test too; this one says what was thrown.
  process.prependListener('uncaughtException', onUncaught);
  try {
    const { text, closed } = await exchange(['/twice', '/']);
    await new Promise((r) => setTimeout(r, 50));
    assert.equal(uncaught, undefined, `uncaught: ${String(uncaught)}`);
    assert.match(text, /^HTTP\/1\.1 400 /, 'the first answer goes out');
    assert.match(text, /\r\n\r\nok$/, 'the connection serves on');
    assert.equal(closed, false);
    const line = log.lines().find((l) => l.event === 'request.error' && l.path === '/twice');
    assert.ok(line, 'request.error names the request');
    assert.equal((line.err as { code?: string }).code, 'ERR_STREAM_WRITE_AFTER_END');
  } finally {
    process.removeListener('uncaughtException', onUncaught);
  }
});

test("the 500 for a handler that threw before answering carries none of the headers the app set for its own answer", async () => {
  const { text } = await exchange(['/headers-then-throw']);
  const head = text.split('\r\n\r\n')[0] ?? '';
  assert.match(head, /^HTTP\/1\.1 500 /);
  assert.doesNotMatch(head, /content-encoding/i, 'a JSON body said to be gzip cannot be read');
  assert.doesNotMatch(head, /transfer-encoding/i, 'Content-Length and Transfer-Encoding together frame the answer two ways');
  assert.doesNotMatch(head, /set-cookie/i);
  // A page of another origin reads the 500 only with the app's CORS headers.
  assert.match(head, /\r\naccess-control-allow-origin: https:\/\/app\.example\r\n/i);
  assert.match(head, /\r\nvary: Origin\r\n/i);
});

test("an answer cut because its handler threw mid-way is said as the worker's cut in its access line, not as the client's 499", async () => {
  await exchange(['/half']);
  await new Promise((r) => setTimeout(r, 50));
  const line = access.find((l) => l.path === '/half');
  assert.equal(line?.status, 499);
  assert.equal(line?.cut, 'handler_error');
});
