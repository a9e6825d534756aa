import assert from 'node:assert/strict';
import { connect, type Socket } from 'node:net';
import { test } from 'node:test';
import { startCorral, waitFor } from '../helpers/corral.js';
import { http } from '../helpers/http.js';
import { ANSWERED_GRACE_MS } from '../../src/worker/idle-connections.js';

const ADMIN_TOKEN = 'integration-admin-token-1234';

/** Sends raw bytes and returns everything the server answers until it closes. */
function raw(port: number, payload: string | undefined, opts: { holdOpen?: boolean; timeoutMs?: number } = {}): Promise<string> {
  return new Promise((resolve, reject) => {
    const s: Socket = connect(port, '127.0.0.1');
    let out = '';
    const t = setTimeout(() => {
      s.destroy();
      resolve(out);
    }, opts.timeoutMs ?? 5000);
    s.on('connect', () => {
      if (payload !== undefined) s.write(payload);
    });
    s.on('data', (d) => (out += d.toString()));
    s.on('close', () => {
      clearTimeout(t);
      resolve(out);
    });
    s.on('error', reject);
  });
}

function portOf(url: string): number {
  return Number(new URL(url).port);
}

test('connections over the per-worker cap get an immediate 503 with Retry-After, never a hang, and are counted and logged once per burst', async () => {
  const c = await startCorral({ app: 'basic.mjs', workers: 1, env: { CORRAL_WORKER_CONNECTIONS: '3', CORRAL_ADMIN_TOKEN: ADMIN_TOKEN } });
  const held: Socket[] = [];
  try {
    // Hold three connections open, each with a request the worker sleeps on for 10 s.
    for (let i = 0; i < 3; i++) {
      const s = connect(portOf(c.url), '127.0.0.1');
      await new Promise<void>((r) => s.once('connect', () => r()));
      s.write('GET /sleep?ms=10000 HTTP/1.1\r\nHost: x\r\n\r\n');
      held.push(s);
    }
    // The worker has counted the three once it runs their requests (each says fixture.sleeping):
    // waited for, not a fixed 300 ms that a loaded box may outlast (the fourth then served 200).
    await waitFor(() => c.events('fixture.sleeping').length >= 3 || undefined, 10_000, 'the three held requests in the worker');
    const t0 = Date.now();
    const answer = await raw(portOf(c.url), 'GET / HTTP/1.1\r\nHost: x\r\n\r\n');
    // At once, not queued until a slot frees (the held requests sleep 10 s): 5 s leaves room for a
    // loaded box's round trip and still tells the two apart.
    assert.ok(Date.now() - t0 < 5000, `answered quickly (${Date.now() - t0} ms)`);
    assert.match(answer, /^HTTP\/1\.1 503 /);
    assert.match(answer, /retry-after: 1/i);
    assert.match(answer, /connection: close/i);
    const body = JSON.parse(answer.slice(answer.indexOf('\r\n\r\n') + 4)) as { error: string; message: string };
    assert.equal(body.error, 'server_full');
    assert.match(body.message, /server full \(3\/3\)/);
    // The log says so once for the burst, not once per refusal.
    for (let i = 0; i < 4; i++) assert.match(await raw(portOf(c.url), 'GET / HTTP/1.1\r\nHost: x\r\n\r\n'), /^HTTP\/1\.1 503 /);
    const end = await c.waitForLog((l) => l.event === 'worker.connections_refused_end', 6000, 'the end of the burst');
    assert.equal(end.refused, 5);
    const started = c.events('worker.connections_refused');
    assert.equal(started.length, 1);
    assert.equal(started[0]?.level, 'warn');
    assert.equal(started[0]?.cap, 3);
    // No access line records a refusal: the admin stats and /metrics count them.
    const auth = { authorization: `Bearer ${ADMIN_TOKEN}` };
    const stats = await waitFor(async () => {
      const s = (await http(`${c.adminUrl}/api/admin/stats`, { headers: auth })).json() as { totals: { connections_refused: number }; workers: { connections_refused: number | null }[] };
      return s.totals.connections_refused === 5 ? s : undefined;
    }, 5000, 'the refusal in the admin stats (next heartbeat)');
    assert.equal(stats.workers[0]?.connections_refused, 5);
    assert.match((await http(`${c.adminUrl}/metrics`, { headers: auth })).text, /^corral_connections_refused_total 5$/m);
  } finally {
    for (const s of held) s.destroy();
    await c.stop();
  }
});

test('at the cap an idle keep-alive connection gives way: the new client gets a 200, not a 503, and the log says so once', async () => {
  const c = await startCorral({ app: 'basic.mjs', workers: 1, env: { CORRAL_WORKER_CONNECTIONS: '3', CORRAL_KEEPALIVE: '60' } });
  const idle: Socket[] = [];
  try {
    // Three keep-alive connections, each answered once and left open, as browsers leave theirs.
    for (let i = 0; i < 3; i++) {
      const s = connect(portOf(c.url), '127.0.0.1');
      s.on('error', () => undefined);
      idle.push(s);
      const answered = new Promise<string>((r) => s.once('data', (d: Buffer) => r(d.toString())));
      s.write('GET / HTTP/1.1\r\nHost: x\r\n\r\n');
      assert.match(await answered, /^HTTP\/1\.1 200 [^]*keep-alive/i);
    }
    // Idle once ANSWERED_GRACE_MS has passed since their answers (counted from before the client read them).
    await new Promise((r) => setTimeout(r, ANSWERED_GRACE_MS + 100));
    const closed = new Promise<void>((r) => (idle[0] as Socket).once('close', () => r()));
    assert.match(await raw(portOf(c.url), 'GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n'), /^HTTP\/1\.1 200 /);
    await closed;
    const line = await c.waitForLog((l) => l.event === 'worker.idle_connections_closed', 5000, 'the idle connection closed');
    assert.equal(line.level, 'warn');
    assert.equal(line.cap, 3);
    assert.equal(c.events('worker.connections_refused').length, 0);
  } finally {
    for (const s of idle) s.destroy();
    await c.stop();
  }
});

test('request limits answer with clear JSON errors: 414, 431, 413, 400, 408', async () => {
  const c = await startCorral({
    app: 'basic.mjs',
    workers: 1,
    env: { CORRAL_LIMIT_REQUEST_FIELDS: '20', CORRAL_LIMIT_REQUEST_HEADER_BYTES: '4096', CORRAL_LIMIT_REQUEST_BODY_BYTES: '1000', CORRAL_HEADERS_TIMEOUT: '1' },
  });
  try {
    const many: Record<string, string> = {};
    for (let i = 0; i < 30; i++) many[`x-h${i}`] = 'v';
    const tooMany = await http(c.url, { headers: many });
    assert.equal(tooMany.status, 431);
    assert.equal(tooMany.json().error, 'too_many_headers');

    const huge = await raw(portOf(c.url), `GET / HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(8000)}\r\n\r\n`);
    assert.match(huge, /^HTTP\/1\.1 431 /);
    assert.match(huge, /headers_too_large/);

    // node:http counts the request line in the same limit: a URL over it is a 414, as nginx answers.
    const longUrl = await raw(portOf(c.url), `GET /${'u'.repeat(8000)} HTTP/1.1\r\nHost: x\r\n\r\n`);
    assert.match(longUrl, /^HTTP\/1\.1 414 /);
    assert.match(longUrl, /uri_too_long/);
    // It has an access line, as the 431 for too many headers has: a 20 KB URL left no trace.
    const longLine = await c.waitForLog((l) => l.event === 'access' && l.status === 414, 5000, 'the 414 access line');
    assert.equal(longLine.method, 'GET');
    assert.equal(longLine.path, `/${'u'.repeat(1023)}`);

    const bigBody = await http(`${c.url}/echo`, { method: 'POST', body: 'x'.repeat(5000) });
    assert.equal(bigBody.status, 413);
    assert.equal(bigBody.json().error, 'body_too_large');

    const chunked = await raw(portOf(c.url), `POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n${'800\r\n' + 'y'.repeat(0x800) + '\r\n'}0\r\n\r\n`);
    assert.match(chunked, /^HTTP\/1\.1 413 /);

    const okBody = await http(`${c.url}/echo`, { method: 'POST', body: 'x'.repeat(500) });
    assert.equal(okBody.json().bytes, 500);

    const garbage = await raw(portOf(c.url), 'THIS IS NOT HTTP\r\n\r\n');
    assert.match(garbage, /^HTTP\/1\.1 400 /);
    assert.match(garbage, /bad_request/);

    const t0 = Date.now();
    const slow = await raw(portOf(c.url), 'GET / HTTP/1.1\r\nHost: x\r\n', { timeoutMs: 8000 });
    assert.match(slow, /^HTTP\/1\.1 408 /);
    assert.ok(Date.now() - t0 < 6000);
  } finally {
    await c.stop();
  }
});

test('a whole pipelined request still being handled gets its own answer when the request after it is malformed; the 400 follows it', async () => {
  const c = await startCorral({ app: 'basic.mjs', workers: 1, env: { CORRAL_ACCESS_LOG: '1' } });
  try {
    // /echo answers once its body has ended, a turn of the loop after node:http parsed it: the
    // garbage after it is parsed (and refused) while that answer is still to come.
    const answer = await raw(portOf(c.url), 'POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhelloBAD\r\n\r\n');
    assert.match(answer, /^HTTP\/1\.1 200 [^]*\{"bytes":5\}[^]*HTTP\/1\.1 400 [^]*"error":"bad_request"/);
    const line = await c.waitForLog((l) => l.event === 'access' && l.path === '/echo', 5000, 'the access line');
    assert.equal(line.status, 200, 'the access line says what the client of /echo got');
  } finally {
    await c.stop();
  }
});

test('a client that stalls its body is answered 408 after CORRAL_REQUEST_TIMEOUT instead of holding a slot', async () => {
  const c = await startCorral({ app: 'basic.mjs', workers: 1, env: { CORRAL_REQUEST_TIMEOUT: '2', CORRAL_ACCESS_LOG: '1' } });
  try {
    const t0 = Date.now();
    const answer = await raw(portOf(c.url), 'POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nonly a few bytes', { timeoutMs: 10000 });
    assert.match(answer, /^HTTP\/1\.1 408 /);
    assert.match(answer, /the request body was not received in time/);
    assert.ok(Date.now() - t0 < 8000, 'closed well before the test gave up');
    // The server cut it with a 408: not a client that went away (499).
    const line = await c.waitForLog((l) => l.event === 'access' && l.path === '/echo', 5000, 'the access line');
    assert.equal(line.status, 408);
    assert.equal(line.remote, '127.0.0.1');
  } finally {
    await c.stop();
  }
});

test('a stalled body whose answer is already streaming is cut after CORRAL_REQUEST_TIMEOUT, with no raw 408 inside that answer', async () => {
  const c = await startCorral({ app: 'basic.mjs', workers: 1, env: { CORRAL_REQUEST_TIMEOUT: '2', CORRAL_ACCESS_LOG: '1' } });
  try {
    const t0 = Date.now();
    const answer = await raw(portOf(c.url), 'POST /stream-echo HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nonly a few bytes', { timeoutMs: 10000 });
    assert.ok(Date.now() - t0 < 8000, 'closed well before the test gave up');
    assert.match(answer, /^HTTP\/1\.1 200 /);
    assert.match(answer, /only a few bytes/);
    assert.doesNotMatch(answer, /408|request_timeout/, 'no second status line in the middle of the body');
    const line = await c.waitForLog((l) => l.event === 'access' && l.path === '/stream-echo', 5000, 'the access line');
    assert.equal(line.status, 408, 'the access line says why the server cut it');
  } finally {
    await c.stop();
  }
});

test('CORRAL_KEEPALIVE=0 means no keep-alive: every response closes its connection', async () => {
  const c = await startCorral({ app: 'basic.mjs', workers: 1, env: { CORRAL_KEEPALIVE: '0' } });
  try {
    const answer = await raw(portOf(c.url), 'GET / HTTP/1.1\r\nHost: x\r\n\r\n', { timeoutMs: 5000 });
    assert.match(answer, /^HTTP\/1\.1 200 /);
    assert.match(answer, /connection: close/i);
  } finally {
    await c.stop();
  }
});

test('a keep-alive request sent while the worker was blocked past CORRAL_KEEPALIVE is answered, not reset: the idle timer fires first, before the loop reads it, and no longer closes the connection under it', async () => {
  // The block must begin before the kept connection's idle timer runs out (counted from its first
  // answer), and the second request must be sent after that and before the block ends. At a 1 s
  // keep-alive, 1.5 s into a 3 s block, a loaded box that took a second to start the /work request
  // closed the idle connection before the block (the normal close, and a failure here). A 3 s
  // keep-alive, 4.5 s into an 8 s block, leaves seconds on each side.
  const c = await startCorral({ app: 'basic.mjs', workers: 1, env: { CORRAL_KEEPALIVE: '3' } });
  const client = connect(portOf(c.url), '127.0.0.1');
  try {
    let received = '';
    let failure: string | undefined;
    client.on('data', (d: Buffer) => (received += d.toString()));
    client.on('error', (err: NodeJS.ErrnoException) => (failure = err.code ?? err.message));
    client.on('close', () => (failure ??= 'closed'));
    await new Promise<void>((resolve) => client.once('connect', () => resolve()));
    client.write('GET /?first=1 HTTP/1.1\r\nHost: x\r\n\r\n');
    // (Its body may come chunked: the answer is whole once its JSON closed.)
    await waitFor(() => /^HTTP\/1\.1 200 [\s\S]*\}/.test(received) || failure, 5000, 'the first answer');
    assert.equal(failure, undefined);
    received = '';
    // The worker's loop blocked for 8 s, past the keep-alive timeout; the kept-alive client sends
    // its next request once that timeout has run out, in the middle of the block.
    const blocked = http(`${c.url}/work?ms=8000`, { headers: { connection: 'close' }, timeoutMs: 30_000 });
    await new Promise((r) => setTimeout(r, 4500));
    client.write('GET /?second=1 HTTP/1.1\r\nHost: x\r\n\r\n');
    assert.equal((await blocked).status, 200);
    await waitFor(() => /^HTTP\/1\.1 200 /.test(received) || failure, 10_000, 'the second answer, or the connection failing');
    assert.equal(failure, undefined, `the request sent during the block: ${failure ?? ''}; received ${JSON.stringify(received)}`);
    assert.match(received, /^HTTP\/1\.1 200 /);
    // Idle afterwards, it is closed at the keep-alive timeout as before.
    await waitFor(() => failure, 10_000, 'the idle connection closed');
    assert.equal(failure, 'closed');
  } finally {
    client.destroy();
    await c.stop();
  }
});
