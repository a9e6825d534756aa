import assert from 'node:assert/strict';
import { connect, type Socket } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { loadSettings } from '../../src/config/load.js';
import { createLogger } from '../../src/log/logger.js';
import { createWorkerServer, type WorkerServer } from '../../src/worker/server.js';
import { exchange } from '../helpers/raw-exchange.js';


function jsonBody(answer: string): { error: string; message: string } {
  return JSON.parse(answer.slice(answer.indexOf('\r\n\r\n') + 4)) as { error: string; message: string };
}

describe('worker server: protocol errors node:http would answer without a body', () => {
  let worker: WorkerServer;
  let port: number;
  before(async () => {
    const { settings } = loadSettings({ env: { CORRAL_ENV_FILE: 'none', CORRAL_BIND: '127.0.0.1:0', CORRAL_LOG_LEVEL: 'silent' } });
    const { logger } = createLogger(settings, { role: 'worker', worker: 1, generation: 1 });
    const app = (req: import('node:http').IncomingMessage, res: import('node:http').ServerResponse) => {
      const answer = () => {
        res.writeHead(200, { 'content-type': 'text/plain' });
        res.end(`app answered ${req.url ?? ''}`);
      };
      // /later answers after node:http has parsed what follows the request in the same read.
      if (req.url?.startsWith('/later')) setImmediate(answer);
      // /read reads the body first, as a route that takes one does.
      else if (req.url?.startsWith('/read')) req.on('data', () => undefined).on('end', answer);
      else answer();
    };
    worker = createWorkerServer(app, { settings, logger, accessLogger: undefined, workerId: 1, generation: 1, perWorkerCap: 10, onServed: () => undefined });
    worker.server.on('connection', (s: Socket) => (lastConnection = s));
    port = (await worker.listen()).port;
  });
  after(() => worker.drain(1000));
  /** The worker's side of the newest connection. */
  let lastConnection: Socket | undefined;

  it('answers an HTTP/1.1 request without Host with 400 JSON missing_host, before the app', async () => {
    const answer = await exchange(port, 'GET /anything HTTP/1.1\r\n\r\n');
    assert.match(answer, /^HTTP\/1\.1 400 /);
    assert.match(answer, /content-type: application\/json/i);
    assert.equal(jsonBody(answer).error, 'missing_host');
    assert.doesNotMatch(answer, /app answered/);
  });

  it('answers two Host headers, or a Host that is not host[:port], with 400 JSON invalid_host, before the app', async () => {
    for (const hosts of ['Host: a.example\r\nHost: b.example', 'Host: a.example\r\nhost: a.example', 'Host: a.example/admin', 'Host: a.example b.example', 'Host: a.example:80:80']) {
      for (const version of ['1.1', '1.0']) {
        const answer = await exchange(port, `GET / HTTP/${version}\r\n${hosts}\r\nConnection: close\r\n\r\n`);
        assert.match(answer, /^HTTP\/1\.1 400 /, `${hosts} over HTTP/${version}`);
        assert.equal(jsonBody(answer).error, 'invalid_host');
        assert.doesNotMatch(answer, /app answered/);
      }
    }
  });

  it('answers more header fields than CORRAL_LIMIT_REQUEST_FIELDS with 431 too_many_headers, whichever field comes last', async () => {
    // node:http keeps the first fields up to its count and drops the rest: a Host sent after them
    // was dropped too, and the request was refused as one without Host (400 missing_host).
    const many = Array.from({ length: 150 }, (_, i) => `X-Field-${i}: v\r\n`).join('');
    for (const head of [`Host: x\r\n${many}`, `${many}Host: x\r\n`]) {
      const answer = await exchange(port, `GET / HTTP/1.1\r\n${head}Connection: close\r\n\r\n`);
      assert.match(answer, /^HTTP\/1\.1 431 /);
      assert.equal(jsonBody(answer).error, 'too_many_headers');
      assert.doesNotMatch(answer, /app answered/);
    }
  });

  it('serves the Host forms RFC 9110 allows: a name, an IPv4 or bracketed IPv6 address, a port, empty', async () => {
    for (const host of ['a.example', 'a.example:8080', '127.0.0.1:80', '[::1]:8080', '[2001:db8::1]', 'xn--bcher-kva.example', '']) {
      const answer = await exchange(port, `GET / HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n\r\n`);
      assert.match(answer, /^HTTP\/1\.1 200 [^]*app answered/, `Host: ${host}`);
    }
  });

  it('serves HTTP/1.0 without Host, and HTTP/1.1 with one', async () => {
    assert.match(await exchange(port, 'GET / HTTP/1.0\r\n\r\n'), /^HTTP\/1\.1 200 [^]*app answered/);
    assert.match(await exchange(port, 'GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n'), /^HTTP\/1\.1 200 [^]*app answered/);
  });

  it('answers CONNECT with 405 JSON method_not_allowed and closes, rather than dropping the connection unanswered', async () => {
    const answer = await exchange(port, 'CONNECT a.example:443 HTTP/1.1\r\nHost: a.example:443\r\n\r\n');
    assert.match(answer, /^HTTP\/1\.1 405 /);
    assert.match(answer, /connection: close/i);
    assert.equal(jsonBody(answer).error, 'method_not_allowed');
    // RFC 9110 §15.5.6: a 405 carries Allow, here the methods the worker serves at all.
    assert.match(answer, /\r\nallow: GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS\r\n/i);
  });

  it('answers a transfer coding other than chunked (gzip, chunked; two lines) with 501 JSON, before the app', async () => {
    for (const codings of ['Transfer-Encoding: gzip, chunked', 'Transfer-Encoding: gzip\r\nTransfer-Encoding: chunked']) {
      const answer = await exchange(port, `POST / HTTP/1.1\r\nHost: x\r\n${codings}\r\n\r\n3\r\nabc\r\n0\r\n\r\n`);
      assert.match(answer, /^HTTP\/1\.1 501 /, codings);
      assert.match(answer, /connection: close/i);
      assert.equal(jsonBody(answer).error, 'unsupported_transfer_encoding');
      assert.doesNotMatch(answer, /app answered/);
    }
    const chunked = await exchange(port, 'POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: Chunked\r\nConnection: close\r\n\r\n3\r\nabc\r\n0\r\n\r\n');
    assert.match(chunked, /^HTTP\/1\.1 200 [^]*app answered/);
  });

  it('answers a method node:http does not know (BREW, or get: methods are case-sensitive) with 501 JSON method_not_implemented, no parser code', async () => {
    for (const method of ['BREW', 'get', 'GETX']) {
      const answer = await exchange(port, `${method} /api/players HTTP/1.1\r\nHost: x\r\n\r\n`);
      assert.match(answer, /^HTTP\/1\.1 501 Not Implemented\r\n/, method);
      assert.match(answer, /connection: close/i);
      const body = jsonBody(answer);
      assert.equal(body.error, 'method_not_implemented', method);
      assert.ok(body.message.includes(method), body.message);
      assert.doesNotMatch(answer, /HPE_|app answered/);
    }
    // Behind a whole request, pipelined: after its answer.
    const pipelined = await exchange(port, 'GET /later HTTP/1.1\r\nHost: x\r\n\r\nBREW / HTTP/1.1\r\nHost: x\r\n\r\n');
    assert.match(pipelined, /^HTTP\/1\.1 200 [^]*app answered \/later[^]*HTTP\/1\.1 501 [^]*method_not_implemented/);
  });

  it("gives its own answers (raw refusals, refusals before the app, health) the JSON headers of every other answer, and a Date", async () => {
    for (const request of [
      'THIS IS NOT HTTP\r\n\r\n',
      'BREW / HTTP/1.1\r\nHost: x\r\n\r\n',
      'GET /anything HTTP/1.1\r\n\r\n',
      'POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n',
      'GET /api/admin/health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n',
    ]) {
      const answer = await exchange(port, request);
      const head = answer.slice(0, answer.indexOf('\r\n\r\n'));
      const what = `${request.split('\r\n')[0] ?? ''} → ${head.split('\r\n')[0] ?? ''}`;
      assert.match(head, /\r\ncontent-type: application\/json; charset=utf-8\r\n/i, what);
      assert.match(head, /\r\ncache-control: no-store\r\n/i, what);
      assert.match(head, /\r\nx-content-type-options: nosniff\r\n/i, what);
      // RFC 9110 §6.6.1: node:http sends one on its answers, and the raw refusals lacked it.
      assert.match(head, /\r\ndate: \w{3}, \d{2} \w{3} \d{4} \d{2}:\d{2}:\d{2} GMT(\r\n|$)/i, what);
    }
  });

  it('answers a request line of another HTTP version than 1.0 or 1.1 with 505 JSON http_version_not_supported, before the app', async () => {
    // node:http's parser takes 2.0 (other versions it refuses itself, 400 HPE_INVALID_VERSION).
    for (const version of ['2.0']) {
      const answer = await exchange(port, `GET /x HTTP/${version}\r\nHost: x\r\n\r\n`);
      assert.match(answer, /^HTTP\/1\.1 505 /, version);
      assert.deepEqual(jsonBody(answer), { error: 'http_version_not_supported', message: `HTTP/${version} is not supported here; send HTTP/1.1` });
      assert.doesNotMatch(answer, /app answered/);
    }
    for (const version of ['1.0', '1.1']) assert.match(await exchange(port, `GET /x HTTP/${version}\r\nHost: x\r\nConnection: close\r\n\r\n`), /^HTTP\/1\.1 200 [^]*app answered \/x/, version);
  });

  it('an upgrade no one takes is answered and its connection closed, so the requests pipelined behind it (which node:http drops) are sent again', async () => {
    const answer = await exchange(port, 'GET /first HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\nGET /second HTTP/1.1\r\nHost: x\r\n\r\n');
    assert.match(answer, /^HTTP\/1\.1 200 /);
    assert.match(answer, /\r\nconnection: close\r\n/i, 'closed after the answer: the client sends /second again');
    assert.match(answer, /app answered \/first/);
    assert.doesNotMatch(answer, /second/);
    // Either header alone is no upgrade: both answered on the connection as usual.
    const both = await exchange(port, 'GET /first HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n\r\nGET /second HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
    assert.equal(both.split('HTTP/1.1 200 ').length - 1, 2);
  });

  it('answers an Expect other than 100-continue with 417 JSON expectation_failed', async () => {
    const answer = await exchange(port, 'POST / HTTP/1.1\r\nHost: x\r\nExpect: 200-ok\r\nContent-Length: 2\r\n\r\n{}');
    assert.match(answer, /^HTTP\/1\.1 417 /);
    assert.match(answer, /content-type: application\/json/i);
    const body = jsonBody(answer);
    assert.equal(body.error, 'expectation_failed');
    assert.match(body.message, /200-ok/);
  });

  it('answers Expect: 100-continue with 413 and no 100 when the declared body is over the limit', async () => {
    const answer = await exchange(port, 'POST / HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 2000000\r\n\r\n');
    assert.match(answer, /^HTTP\/1\.1 413 /, 'the final answer comes first: the client never sends the body');
    assert.doesNotMatch(answer, /100 Continue/);
    assert.equal(jsonBody(answer).error, 'body_too_large');
    assert.match(String(jsonBody(answer).message), /^the body is over \d+ bytes, this server's limit for any request$/);
  });

  it('answers Expect: 100-continue with the refusal and no 100 when the headers are refused', async () => {
    for (const [headers, status] of [
      ['Host: a.example/admin\r\nContent-Length: 2', 400],
      ['Host: x\r\nTransfer-Encoding: gzip, chunked', 501],
    ] as const) {
      const answer = await exchange(port, `POST / HTTP/1.1\r\n${headers}\r\nExpect: 100-continue\r\n\r\n`);
      assert.match(answer, new RegExp(`^HTTP/1\\.1 ${status} `), headers);
      assert.doesNotMatch(answer, /100 Continue/, 'the client is not invited to send a body that is refused');
    }
  });

  it('answers Expect: 100-continue with 100 once the app reads the body, and then the app', async () => {
    const answer = await new Promise<string>((resolve, reject) => {
      // The body only once the 100 came, as curl sends it.
      const socket = connect(port, '127.0.0.1', () => socket.write('POST /read HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 2\r\nConnection: close\r\n\r\n'));
      let out = '';
      socket.on('data', (d: Buffer) => {
        out += d.toString();
        if (out === 'HTTP/1.1 100 Continue\r\n\r\n') socket.write('{}');
      });
      socket.on('close', () => resolve(out));
      socket.on('error', reject);
    });
    assert.match(answer, /^HTTP\/1\.1 100 Continue\r\n\r\nHTTP\/1\.1 200 [^]*app answered \/read/);
  });

  it('sends no 100 to a request the app answers without reading its body (a 401, a 404): the client never uploads it', async () => {
    const answer = await exchange(port, 'POST /no-body-wanted HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 500000\r\nConnection: close\r\n\r\n');
    assert.match(answer, /^HTTP\/1\.1 200 [^]*app answered \/no-body-wanted/);
    assert.doesNotMatch(answer, /100 Continue/);
  });

  // CORRAL_LIMIT_REQUEST_HEADER_BYTES is 16384 here.
  const longUrl = `/${'u'.repeat(20000)}`;

  it('answers a request line over the header limit with 414 JSON uri_too_long, not 431', async () => {
    for (const lead of ['', '\r\n']) {
      const answer = await exchange(port, `${lead}GET ${longUrl} HTTP/1.1\r\nHost: x\r\n\r\n`);
      assert.match(answer, /^HTTP\/1\.1 414 URI Too Long\r\n/, JSON.stringify(lead));
      assert.match(answer, /connection: close/i);
      assert.equal(jsonBody(answer).error, 'uri_too_long');
    }
  });

  it('answers a HEAD whose request line is over the limit with the 414 head alone: an answer to HEAD has no body (RFC 9110 §9.3.2)', async () => {
    const answer = await exchange(port, `HEAD ${longUrl} HTTP/1.1\r\nHost: x\r\n\r\n`);
    assert.match(answer, /^HTTP\/1\.1 414 URI Too Long\r\n/);
    assert.match(answer, /connection: close/i);
    assert.ok(answer.endsWith('\r\n\r\n'), `no body after the head: ${JSON.stringify(answer.slice(answer.indexOf('\r\n\r\n')))}`);
  });

  it('takes a head of exactly CORRAL_LIMIT_REQUEST_HEADER_BYTES as node:http counts it (the target, the names, the values) and refuses one byte more', async () => {
    // "Host" and "x" are 5 counted bytes: the target makes up the rest.
    const at = (counted: number) => `GET /${'u'.repeat(counted - 5 - 1)} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`;
    // Connection and close are counted too (15 bytes).
    assert.match(await exchange(port, at(16384 - 15)), /^HTTP\/1\.1 200 /);
    assert.match(await exchange(port, at(16384 - 15 + 1)), /^HTTP\/1\.1 431 /);
  });

  it('still answers headers over the limit after a short request line with 431 headers_too_large', async () => {
    const answer = await exchange(port, `GET / HTTP/1.1\r\nHost: x\r\nX-Big: ${'h'.repeat(20000)}\r\n\r\n`);
    assert.match(answer, /^HTTP\/1\.1 431 /);
    assert.equal(jsonBody(answer).error, 'headers_too_large');
  });

  it('answers a HEAD whose headers are over the limit with the 431 head alone, as the 414 to a HEAD', async () => {
    const answer = await exchange(port, `HEAD / HTTP/1.1\r\nHost: x\r\nX-Big: ${'h'.repeat(20000)}\r\n\r\n`);
    assert.match(answer, /^HTTP\/1\.1 431 /);
    assert.ok(answer.endsWith('\r\n\r\n'), `no body after the head: ${JSON.stringify(answer.slice(answer.indexOf('\r\n\r\n')))}`);
    // Behind a whole request in the same read: its own line is found after that request's end.
    const behind = await exchange(port, `GET / HTTP/1.1\r\nHost: x\r\n\r\nHEAD / HTTP/1.1\r\nHost: x\r\nX-Big: ${'h'.repeat(20000)}\r\n\r\n`);
    assert.match(behind, /HTTP\/1\.1 431 /);
    assert.ok(behind.endsWith('\r\n\r\n'), behind.slice(-200));
  });

  it('answers a HEAD with a header that does not parse with the 400 head alone, as the 414 and the 431 to a HEAD', async () => {
    const answer = await exchange(port, 'HEAD / HTTP/1.1\r\nHost: x\r\nBad Header: y\r\n\r\n');
    assert.match(answer, /^HTTP\/1\.1 400 /);
    assert.match(answer, /connection: close/i);
    assert.ok(answer.endsWith('\r\n\r\n'), `no body after the head: ${JSON.stringify(answer.slice(answer.indexOf('\r\n\r\n')))}`);
  });

  it('answers 431 for a long header that reaches the worker in a read of its own, without the request line', async () => {
    const answer = new Promise<string>((resolve, reject) => {
      const socket = connect(port, '127.0.0.1', () => {
        socket.write('GET / HTTP/1.1\r\nHost: x\r\nX-Big: ');
        void (async () => {
          // Once the worker has read the request line, the rest comes in later reads.
          const ours = () => lastConnection !== undefined && lastConnection.remotePort === socket.localPort && lastConnection.bytesRead > 0;
          while (!ours()) await new Promise((r) => setTimeout(r, 5));
          socket.write(`${'h'.repeat(20000)}\r\n\r\n`);
        })();
      });
      let out = '';
      socket.on('data', (d) => (out += d.toString()));
      socket.on('close', () => resolve(out));
      socket.on('error', reject);
    });
    assert.match(await answer, /^HTTP\/1\.1 431 /);
  });

  it('answers 414 to a long request line that follows an answered request on a keep-alive connection', async () => {
    const later = await new Promise<string>((resolve, reject) => {
      const socket = connect(port, '127.0.0.1', () => socket.write('GET / HTTP/1.1\r\nHost: x\r\n\r\n'));
      let out = '';
      let sent = false;
      socket.on('data', (d) => {
        out += d.toString();
        // The first answer is whole (chunked, its last chunk in): the long request line follows.
        if (!sent && out.endsWith('0\r\n\r\n')) {
          sent = true;
          socket.write(`GET ${longUrl} HTTP/1.1\r\nHost: x\r\n\r\n`);
        }
      });
      socket.on('close', () => resolve(out));
      socket.on('error', reject);
    });
    assert.match(later, /^HTTP\/1\.1 200 [^]*app answered[^]*HTTP\/1\.1 414 /);
  });

  it('answers a malformed pipelined request after the answer before it is whole, instead of cutting the connection', async () => {
    const tooLong = await exchange(port, `GET / HTTP/1.1\r\nHost: x\r\n\r\nGET ${longUrl} HTTP/1.1\r\nHost: x\r\n\r\n`);
    assert.match(tooLong, /^HTTP\/1\.1 200 [^]*app answered[^]*HTTP\/1\.1 414 [^]*uri_too_long/);
    const garbage = await exchange(port, 'GET / HTTP/1.1\r\nHost: x\r\n\r\nTHIS IS NOT HTTP\r\n\r\n');
    assert.match(garbage, /^HTTP\/1\.1 200 [^]*app answered[^]*HTTP\/1\.1 400 [^]*bad_request/);
  });

  it('answers whole pipelined requests still being handled first, in order, and the malformed one after them', async () => {
    const answer = await exchange(port, 'GET /later/1 HTTP/1.1\r\nHost: x\r\n\r\nGET /later/2 HTTP/1.1\r\nHost: x\r\n\r\nTHIS IS NOT HTTP\r\n\r\n');
    assert.match(answer, /^HTTP\/1\.1 200 [^]*app answered \/later\/1[^]*HTTP\/1\.1 200 [^]*app answered \/later\/2[^]*HTTP\/1\.1 400 [^]*bad_request/);
    assert.equal(answer.match(/HTTP\/1\.1 /g)?.length, 3, 'one answer each, none replaced');
  });
});

// An upload handler reads the whole body before it answers: the worker's 413 comes first.
describe('worker server: a body over the limit while the client is still sending it', () => {
  let worker: WorkerServer;
  let uploadPort: number;
  before(async () => {
    const { settings } = loadSettings({ env: { CORRAL_ENV_FILE: 'none', CORRAL_BIND: '127.0.0.1:0', CORRAL_LOG_LEVEL: 'silent', CORRAL_LIMIT_REQUEST_BODY_BYTES: '4096' } });
    const { logger } = createLogger(settings, { role: 'worker', worker: 1, generation: 1 });
    const app = (req: import('node:http').IncomingMessage, res: import('node:http').ServerResponse) => {
      req.resume();
      req.on('end', () => res.end('stored'));
    };
    worker = createWorkerServer(app, { settings, logger, accessLogger: undefined, workerId: 1, generation: 1, perWorkerCap: 10, onServed: () => undefined });
    uploadPort = (await worker.listen()).port;
  });
  after(() => worker.drain(1000));

  for (const framing of ['chunked', 'content-length', 'gzip, chunked'] as const) {
    it(`a client still uploading a body the worker refuses (${framing}) reads its answer, not a reset`, async () => {
      // Closing at once with the upload's bytes unread makes the kernel send a reset: a client
      // still writing gets EPIPE or ECONNRESET, and may never read the answer waiting for it.
      const chunk = 'x'.repeat(64 * 1024);
      const result = await new Promise<{ answer: string; error?: string }>((resolve) => {
        const socket = connect(uploadPort, '127.0.0.1');
        let answer = '';
        let timer: NodeJS.Timeout | undefined;
        const deadline = setTimeout(() => done('no answer within 10 s'), 10_000);
        const done = (error?: string) => {
          clearTimeout(deadline);
          clearInterval(timer);
          socket.destroy();
          resolve({ answer, ...(error ? { error } : {}) });
        };
        socket.on('data', (d: Buffer) => {
          answer += d.toString();
          if (/body_too_large|unsupported_transfer_encoding/.test(answer)) done();
        });
        socket.on('error', (err: NodeJS.ErrnoException) => done(err.code));
        socket.on('connect', () => {
          const head = framing === 'content-length' ? `Content-Length: ${64 * 1024 * 64}` : `Transfer-Encoding: ${framing}`;
          socket.write(`POST /upload HTTP/1.1\r\nHost: x\r\nContent-Type: text/plain\r\n${head}\r\n\r\n`);
          // An upload in steps, as a client on a network sends one: the answer comes mid-way.
          let sent = 0;
          timer = setInterval(() => {
            if (sent++ >= 64) return clearInterval(timer);
            socket.write(framing === 'content-length' ? chunk : `${(64 * 1024).toString(16)}\r\n${chunk}\r\n`);
          }, 2);
        });
      });
      assert.equal(result.error, undefined, `the client saw ${String(result.error)}; it had read: ${JSON.stringify(result.answer.slice(0, 40))}`);
      assert.match(result.answer, framing === 'gzip, chunked' ? /^HTTP\/1\.1 501 / : /^HTTP\/1\.1 413 /);
    });
  }

  // A client that sends its whole request before it reads (Python's http.client, curl uploading):
  // refused by the parser (or for its coding) at the head, it must still find the answer, one
  // answer, and no reset, as the lingering close promises.
  for (const [what, head, status] of [
    ['an unknown method (501)', `BREW /pot HTTP/1.1\r\nHost: x\r\nContent-Length: ${4 * 1024 * 1024}\r\n\r\n`, 501],
    ['headers over the limit (431)', `POST /upload HTTP/1.1\r\nHost: x\r\nX-Big: ${'y'.repeat(20 * 1024)}\r\nContent-Length: ${4 * 1024 * 1024}\r\n\r\n`, 431],
    ['a refused coding whose body is no chunks (501)', 'POST /upload HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip, chunked\r\n\r\n', 501],
    ['an Expect other than 100-continue (417)', `POST /upload HTTP/1.1\r\nHost: x\r\nExpect: foo\r\nContent-Length: ${4 * 1024 * 1024}\r\n\r\n`, 417],
  ] as const) {
    it(`a client that sends its whole request first gets one answer for ${what}, not a reset`, async () => {
      const result = await new Promise<{ answer: string; error?: string }>((resolve) => {
        const socket = connect(uploadPort, '127.0.0.1');
        let answer = '';
        const deadline = setTimeout(() => done(), 4000);
        const done = (error?: string) => {
          clearTimeout(deadline);
          socket.destroy();
          resolve({ answer, ...(error ? { error } : {}) });
        };
        socket.on('data', (d: Buffer) => (answer += d.toString('latin1')));
        socket.on('error', (err: NodeJS.ErrnoException) => done(err.code));
        socket.on('close', () => done());
        // Everything written at once, then (the kernel's buffers full) as the server reads it.
        socket.on('connect', () => socket.write(Buffer.concat([Buffer.from(head), Buffer.alloc(4 * 1024 * 1024, 0x7a)])));
      });
      assert.equal(result.error, undefined, `the client saw ${String(result.error)}; it had read: ${JSON.stringify(result.answer.slice(0, 60))}`);
      assert.match(result.answer, new RegExp(`^HTTP/1\\.1 ${status} `));
      assert.equal(result.answer.match(/HTTP\/1\.1 \d{3} /g)?.length, 1, `one answer: ${JSON.stringify(result.answer.slice(0, 400))}`);
    });
  }

});
