// A body over CORRAL_LIMIT_REQUEST_BODY_BYTES is answered 413 by the worker while the app is still
// waiting on the host-wide rate limit: the app must see the request as answered, not log an error.

import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { connect } from 'node:net';
import { test } from 'node:test';
import { readLogLines, startCorral } from '../helpers/corral.js';
import { prepareWorkDir } from '../fixtures/offline-sheet.js';
import { uploadThenRead } from '../helpers/upload.js';

/** Sends `head` then `body` in chunks on a fresh connection; resolves with all it read until close. */
function chunkedPost(port: number, path: string, body: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = connect(port, '127.0.0.1');
    let answer = '';
    s.on('data', (d: Buffer) => (answer += d.toString()));
    s.on('close', () => resolve(answer));
    s.on('error', reject);
    s.setTimeout(10_000, () => s.destroy());
    s.on('connect', () => {
      s.write(`POST ${path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n`);
      for (let i = 0; i < body.length; i += 1024) {
        const chunk = body.slice(i, i + 1024);
        s.write(`${Buffer.byteLength(chunk).toString(16)}\r\n${chunk}\r\n`);
      }
      s.write('0\r\n\r\n');
    });
  });
}

test('a chunked body over the body limit gets 413, and the app logs no error for it (rate limit on)', async () => {
  const dir = prepareWorkDir();
  const c = await startCorral({ cwd: dir, workers: 1, env: { CORRAL_LIMIT_REQUEST_BODY_BYTES: '4096', CORRAL_RATE_LIMIT: '1000' } });
  try {
    const answer = await chunkedPost(Number(new URL(c.url).port), '/api/login', JSON.stringify({ name: 'x'.repeat(8192), code: 'P001' }));
    assert.match(answer, /^HTTP\/1\.1 413 /);
  } finally {
    // A graceful stop flushes every process's log: what is in the file now is all there is.
    await c.stop();
    const errors = readLogLines(c.logFile).filter((l) => l.level === 'error' || l.level === 'fatal');
    assert.deepEqual(errors.map((l) => `${String(l.event)}: ${String(l.msg)}`), []);
    rmSync(dir, { recursive: true, force: true });
  }
});

test("an answer given before the whole body was read (the app's 413, 404, 415, 401; the worker's 400 and 431 for the headers) reaches a client still uploading, not a reset", async () => {
  const dir = prepareWorkDir();
  const c = await startCorral({ cwd: dir, workers: 1, env: { CORRAL_RATE_LIMIT: '0' } });
  const port = Number(new URL(c.url).port);
  try {
    const json = 'Content-Type: application/json\r\n';
    for (const [path, headers, chunked, status, error] of [
      // Over the app's 16 KiB, under the worker's CORRAL_LIMIT_REQUEST_BODY_BYTES (1 MiB) for the declared one.
      ['/api/login', json, true, 413, 'body_too_large'],
      ['/api/login', json, false, 413, 'body_too_large'],
      ['/api/nope', json, true, 404, 'not_found'],
      ['/api/login', 'Content-Type: text/plain\r\n', false, 415, 'unsupported_media_type'],
      ['/api/events', json, true, 401, 'unauthorized'],
    ] as const) {
      const what = `POST ${path} ${chunked ? 'chunked' : 'Content-Length'} → ${status}`;
      const r = await uploadThenRead({ port, head: `POST ${path} HTTP/1.1\r\nHost: x\r\n${headers}`, bodyBytes: chunked ? 8 << 20 : 1_000_000, chunked, timeoutMs: 15_000 });
      assert.equal(r.error, undefined, `${what}: the client saw ${String(r.error)} after reading ${JSON.stringify(r.answer.slice(0, 60))}`);
      assert.match(r.answer, new RegExp(`^HTTP/1\\.1 ${status} `), what);
      assert.match(r.answer, /\r\nconnection: close\r\n/i, what);
      assert.equal((JSON.parse(r.answer.slice(r.answer.indexOf('\r\n\r\n') + 4)) as { error: string }).error, error, what);
    }
    // The worker's own refusals of the headers, before the app: the body is still on its way too.
    const fields = Array.from({ length: 101 }, (_, i) => `X-Field-${i}: 1\r\n`).join('');
    for (const [head, status, error] of [
      [`POST /api/login HTTP/1.1\r\n${json}`, 400, 'missing_host'],
      [`POST /api/login HTTP/1.1\r\nHost: x\r\nHost: y\r\n${json}`, 400, 'invalid_host'],
      [`POST /api/login HTTP/1.1\r\nHost: x\r\n${json}${fields}`, 431, 'too_many_headers'],
    ] as const) {
      const r = await uploadThenRead({ port, head, bodyBytes: 8 << 20, chunked: false, timeoutMs: 15_000 });
      assert.equal(r.error, undefined, `${error}: the client saw ${String(r.error)} after reading ${JSON.stringify(r.answer.slice(0, 60))}`);
      assert.match(r.answer, new RegExp(`^HTTP/1\\.1 ${status} `), error);
      assert.equal((JSON.parse(r.answer.slice(r.answer.indexOf('\r\n\r\n') + 4)) as { error: string }).error, error);
    }
  } finally {
    await c.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});
