// Raw answers the worker writes itself, with no request object of node:http's (limits.ts): each has
// its access line and is counted among the worker's requests (a 5xx among its errors), as the 414
// was alone before; a connection closed without an answer has neither.

import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { after, before, beforeEach, describe, it } from 'node:test';
import { loadSettings } from '../../src/config/load.js';
import { createLogger, type Logger } from '../../src/log/logger.js';
import { createWorkerServer, type WorkerServer } from '../../src/worker/server.js';
import { exchange } from '../helpers/raw-exchange.js';

type Line = Record<string, unknown>;


describe('worker server: an access line and a count for every raw answer', () => {
  let worker: WorkerServer;
  let port: number;
  const lines: Line[] = [];
  let servedReported = 0;
  before(async () => {
    const { settings } = loadSettings({
      env: { CORRAL_ENV_FILE: 'none', CORRAL_BIND: '127.0.0.1:0', CORRAL_LOG_LEVEL: 'silent', CORRAL_HEADERS_TIMEOUT: '1', CORRAL_LIMIT_REQUEST_HEADER_BYTES: '2048' },
    });
    const { logger } = createLogger(settings, { role: 'worker', worker: 1, generation: 1 });
    const accessLogger = { info: (l: Line) => void lines.push(l) } as unknown as Logger;
    const app = (_req: import('node:http').IncomingMessage, res: import('node:http').ServerResponse) => res.end('app answered');
    worker = createWorkerServer(app, { settings, logger, accessLogger, workerId: 1, generation: 1, perWorkerCap: 10, onServed: (n) => (servedReported = n) });
    port = (await worker.listen()).port;
  });
  after(() => worker.drain(1000));
  beforeEach(() => void (lines.length = 0));

  /** The access lines once `n` are written (the raw answer's comes as it is written, before the close). */
  async function accessLines(n: number): Promise<Line[]> {
    for (let i = 0; i < 100 && lines.length < n; i++) await new Promise((r) => setTimeout(r, 10));
    await new Promise((r) => setTimeout(r, 50));
    return lines.filter((l) => l.event === 'access');
  }

  /** Sends `payload`, checks the answer's status, and returns the one access line with the counts it moved. */
  async function oneLine(payload: string, status: number): Promise<{ line: Line; served: number; errors: number }> {
    const served = worker.stats.served();
    const errors = worker.stats.errors();
    lines.length = 0;
    const answer = await exchange(port, payload);
    assert.match(answer, new RegExp(`^HTTP/1\\.1 ${status} `));
    const got = await accessLines(1);
    assert.equal(got.length, 1, JSON.stringify(got));
    return { line: got[0]!, served: worker.stats.served() - served, errors: worker.stats.errors() - errors };
  }

  it('logs the 431 for header bytes over the limit, with the method and path of its request line', async () => {
    const r = await oneLine(`GET /big?token=s3cret HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(4000)}\r\n\r\n`, 431);
    assert.equal(r.line.status, 431);
    assert.equal(r.line.method, 'GET');
    assert.equal(r.line.path, '/big?token=[REDACTED]');
    assert.equal(r.line.ms, 0);
    assert.equal(r.line.bytes, 0);
    assert.equal(r.line.remote, '127.0.0.1');
    assert.deepEqual([r.served, r.errors], [1, 0]);
    assert.equal(servedReported, worker.stats.served());
  });

  it('logs the 400 for a malformed request, with its method and path when its request line was whole', async () => {
    const header = await oneLine('GET /bad HTTP/1.1\r\nHost: x\r\nBad Header: v\r\n\r\n', 400);
    assert.deepEqual([header.line.status, header.line.method, header.line.path], [400, 'GET', '/bad']);
    assert.deepEqual([header.served, header.errors], [1, 0]);
    // Bytes that are no request line: nothing was parsed, and the line says so.
    const garbage = await oneLine('\x16\x03\x01 hello\r\n\r\n', 400);
    assert.deepEqual([garbage.line.status, garbage.line.method, garbage.line.path], [400, '', '']);
  });

  it('logs the 501 for an unknown method with that method and its target, and counts it as a 5xx', async () => {
    const r = await oneLine('BREW /pot HTTP/1.1\r\nHost: x\r\n\r\n', 501);
    assert.deepEqual([r.line.status, r.line.method, r.line.path], [501, 'BREW', '/pot']);
    assert.deepEqual([r.served, r.errors], [1, 1]);
  });

  it('logs the 405 to CONNECT with its target', async () => {
    const r = await oneLine('CONNECT a.example:443 HTTP/1.1\r\nHost: a.example:443\r\n\r\n', 405);
    assert.deepEqual([r.line.status, r.line.method, r.line.path], [405, 'CONNECT', 'a.example:443']);
    assert.deepEqual([r.served, r.errors], [1, 0]);
  });

  it('logs the 408 to headers that did not come in CORRAL_HEADERS_TIMEOUT (a slowloris), method and path empty', async () => {
    const r = await oneLine('GET /slow HTTP/1.1\r\nHost: x\r\nX-A: ', 408);
    assert.deepEqual([r.line.status, r.line.method, r.line.path], [408, '', '']);
    assert.deepEqual([r.served, r.errors], [1, 0]);
  });

  it('keeps the 414 line as it was, now counted too', async () => {
    const r = await oneLine(`GET /${'u'.repeat(3000)} HTTP/1.1\r\nHost: x\r\n\r\n`, 414);
    assert.equal(r.line.method, 'GET');
    assert.equal((r.line.path as string).length, 1024);
    assert.deepEqual([r.served, r.errors], [1, 0]);
  });

  it('writes no password of an absolute-form target cut before its @: the authority left of the cut is replaced', async () => {
    // The access line keeps the first 1024 characters of a target too long to parse: a user and
    // password longer than that lose the '@' that marks them, and were written as sent.
    const password = 'p'.repeat(3000);
    const uri = await oneLine(`GET http://alice:${password}@a.example/ HTTP/1.1\r\nHost: x\r\n\r\n`, 414);
    assert.equal(uri.line.path, 'http://[REDACTED]');
    // A 400 whose whole request line was read, its target cut all the same; an unknown method's 501.
    const shorter = 'p'.repeat(1030);
    const bad = await oneLine(`GET http://alice:${shorter}@a.example/ HTTP/1.1\r\nHost: x\r\nBad Header: v\r\n\r\n`, 400);
    assert.equal(bad.line.path, 'http://[REDACTED]');
    const brew = await oneLine(`BREW http://alice:${password}@a.example/ HTTP/1.1\r\nHost: x\r\n\r\n`, 501);
    assert.equal(brew.line.path, 'http://[REDACTED]');
    // CONNECT's target is an authority alone (host:port), which holds no '@' but a user's.
    const connect = await oneLine('CONNECT alice:s3cret@a.example:443 HTTP/1.1\r\nHost: a.example:443\r\n\r\n', 405);
    assert.equal(connect.line.path, '[REDACTED]@a.example:443');
    // A long path after a whole authority is cut as before, its userinfo replaced as ever.
    const path = await oneLine(`GET http://alice:pw@a.example/${'u'.repeat(3000)} HTTP/1.1\r\nHost: x\r\n\r\n`, 414);
    assert.match(path.line.path as string, /^http:\/\/\[REDACTED\]@a\.example\/u+$/);
  });

  it('logs a raw answer pipelined behind a request the app answered: one line each', async () => {
    const answer = await exchange(port, 'GET /ok HTTP/1.1\r\nHost: x\r\n\r\nBREW /pot HTTP/1.1\r\nHost: x\r\n\r\n');
    assert.match(answer, /^HTTP\/1\.1 200 [^]*HTTP\/1\.1 501 /);
    const got = await accessLines(2);
    assert.deepEqual(got.map((l) => [l.status, l.method, l.path]), [[200, 'GET', '/ok'], [501, 'BREW', '/pot']]);
  });

  it('says in the access line of each answer the worker refuses itself why: its error, and the parser\'s code for a request that does not parse', async () => {
    // A flood of 400s must be told apart (a proxy smuggling CL and TE, a scanner's garbage, a bad
    // header) from the access log, at info, without the body the client read.
    const refusals: [string, number, string, string | undefined][] = [
      ['GET /bad HTTP/1.1\r\nHost: x\r\nBad Header: v\r\n\r\n', 400, 'bad_request', 'HPE_INVALID_HEADER_TOKEN'],
      ['POST /s HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n', 400, 'bad_request', 'HPE_INVALID_TRANSFER_ENCODING'],
      ['GET /slow HTTP/1.1\r\nHost: x\r\nX-A: ', 408, 'request_timeout', undefined],
      [`GET / HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(4000)}\r\n\r\n`, 431, 'headers_too_large', undefined],
      [`GET /${'u'.repeat(3000)} HTTP/1.1\r\nHost: x\r\n\r\n`, 414, 'uri_too_long', undefined],
      ['BREW /pot HTTP/1.1\r\nHost: x\r\n\r\n', 501, 'method_not_implemented', undefined],
      ['CONNECT a.example:443 HTTP/1.1\r\nHost: a.example:443\r\n\r\n', 405, 'method_not_allowed', undefined],
      // Refused before the app, with a request object of node:http's.
      ['GET / HTTP/1.1\r\n\r\n', 400, 'missing_host', undefined],
      ['GET / HTTP/1.1\r\nHost: a/b\r\n\r\n', 400, 'invalid_host', undefined],
      [`GET / HTTP/1.1\r\nHost: x\r\n${'X-F: v\r\n'.repeat(120)}\r\n`, 431, 'too_many_headers', undefined],
      ['POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999\r\n\r\n', 413, 'body_too_large', undefined],
      ['POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n', 501, 'unsupported_transfer_encoding', undefined],
      ['GET / HTTP/2.0\r\nHost: x\r\n\r\n', 505, 'http_version_not_supported', undefined],
      ['POST / HTTP/1.1\r\nHost: x\r\nExpect: 200-ok\r\nContent-Length: 0\r\n\r\n', 417, 'expectation_failed', undefined],
    ];
    for (const [payload, status, error, parserCode] of refusals) {
      const { line } = await oneLine(payload, status);
      assert.deepEqual([line.status, line.error, line.parser_code], [status, error, parserCode], `${JSON.stringify(payload.slice(0, 60))}: ${JSON.stringify(line)}`);
    }
    // The app's own answers are the app's to explain: no error of the worker's on them.
    const { line } = await oneLine('GET /ok HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n', 200);
    assert.deepEqual([line.error, line.parser_code], [undefined, undefined]);
  });

  it('writes no line for a connection closed without an answer: silent, or gone in the middle of its headers', async () => {
    const served = worker.stats.served();
    await new Promise<void>((resolve) => {
      const s = connect(port, '127.0.0.1', () => setTimeout(() => s.end(), 100));
      s.on('close', () => resolve());
      s.resume();
    });
    await new Promise<void>((resolve) => {
      const s = connect(port, '127.0.0.1', () => s.write('GET /half HTTP/1.1\r\nHo', () => setTimeout(() => s.destroy(), 100)));
      s.on('close', () => resolve());
    });
    await new Promise((r) => setTimeout(r, 200));
    assert.deepEqual(lines, []);
    assert.equal(worker.stats.served(), served);
  });
});
