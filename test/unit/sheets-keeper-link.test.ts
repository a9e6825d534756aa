// The worker's link to the keeper (keeper-link.ts, keeper-client/): HTTP/1.1 answers as node:http
// sends them, byte by byte or whole, keep-alive reuse, the pool limit, and what each failure
// becomes (a keeper error keeps its code; an unreachable keeper is retried once, then
// CORRAL_ERR_KEEPER_UNAVAILABLE; during a restart the master announced, until the new keeper answers).

import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer as createHttpServer, type Server as HttpServer, type ServerResponse } from 'node:http';
import { createServer as createNetServer, type Server as NetServer, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { ResponseParser } from '../../src/sheets/keeper-client/response-parser.js';
import { ConnectionPool } from '../../src/sheets/keeper-client/connection-pool.js';
import { NotSentError } from '../../src/errors.js';
import { KeeperLink } from '../../src/sheets/keeper-link.js';
import { KeeperRestartWindow } from '../../src/sheets/keeper-restart-window.js';

function feed(parser: ResponseParser, text: string, step: number) {
  const bytes = Buffer.from(text);
  let out;
  for (let i = 0; i < bytes.length; i += step) {
    assert.equal(out, undefined, 'no answer before its last byte');
    out = parser.push(bytes.subarray(i, i + step));
  }
  return out;
}

describe('keeper answer parser', () => {
  /** Feeds `text` whole and in pieces of each size of `steps`; every way gives the same answer. */
  function assertAnswer(text: string, steps: readonly number[], expected: { status: number; body: string; close: boolean }) {
    for (const step of [...steps, text.length]) {
      const r = feed(new ResponseParser(), text, step);
      assert.deepEqual(r && { status: r.status, body: r.body.toString('utf8'), close: r.close }, expected, `in pieces of ${step}`);
    }
  }

  it('reads a Content-Length answer, whole or one byte at a time', () => {
    assertAnswer('HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 11\r\n\r\n{"a":"é!"}', [1, 7], { status: 200, body: '{"a":"é!"}', close: false });
  });

  it('reads a chunked answer, whole or one byte at a time, and Connection: close', () => {
    assertAnswer('HTTP/1.1 503 Service Unavailable\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n4\r\n{"co\r\n9;ext=1\r\nde":"x"} \r\n0\r\n\r\n', [1, 5], {
      status: 503,
      body: '{"code":"x"} ',
      close: true,
    });
  });

  it('keeps nothing of the bytes pushed: the socket reads them into one buffer it reuses', () => {
    const body = Buffer.from(JSON.stringify({ values: Array.from({ length: 2000 }, (_, i) => [`E${i}`, 'x'.repeat(i % 13)]) }));
    const framings = [
      Buffer.concat([Buffer.from(`HTTP/1.1 200 OK\r\nContent-Length: ${body.length}\r\n\r\n`), body]),
      Buffer.concat([Buffer.from(`HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n${body.length.toString(16)}\r\n`), body, Buffer.from('\r\n0\r\n\r\n')]),
    ];
    for (const bytes of framings) {
      const shared = Buffer.alloc(4096);
      const parser = new ResponseParser();
      let out;
      for (let i = 0; i < bytes.length; i += shared.length) {
        const n = bytes.copy(shared, 0, i, i + shared.length);
        out = parser.push(shared.subarray(0, n));
        shared.fill(0x21);
      }
      assert.equal(out?.body.toString('utf8'), body.toString('utf8'));
    }
  });

  it('reads a body of several megabytes arriving in 64 KiB reads, framed either way', () => {
    const body = Buffer.alloc(3 * 1024 * 1024 + 17, 'x');
    const framings = [
      Buffer.concat([Buffer.from(`HTTP/1.1 200 OK\r\nContent-Length: ${body.length}\r\n\r\n`), body]),
      Buffer.concat([Buffer.from(`HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n${body.length.toString(16)}\r\n`), body, Buffer.from('\r\n0\r\n\r\n')]),
    ];
    for (const bytes of framings) {
      const parser = new ResponseParser();
      let out;
      for (let i = 0; i < bytes.length; i += 65536) {
        assert.equal(out, undefined);
        out = parser.push(bytes.subarray(i, i + 65536));
      }
      assert.equal(out?.body.length, body.length);
      assert.ok(out?.body.equals(body));
    }
  });

  it('refuses what is not a keeper answer', () => {
    const bad: Array<[string, RegExp]> = [
      ['SSH-2.0-OpenSSH\r\n\r\n', /not an HTTP\/1.1 answer/],
      ['HTTP/1.1 200 OK\r\n\r\n', /without Content-Length/],
      ['HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}x', /after the end/],
      ['HTTP/1.1 200 OK\r\nContent-Length: 1x\r\n\r\n', /bad Content-Length/],
      ['HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n', /unsupported Transfer-Encoding/],
      ['HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n', /malformed chunk size/],
      ['HTTP/1.1 100 Continue\r\n\r\n', /interim/],
      ['HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n{}0\r\n', /chunk not followed by CRLF/],
      ['HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nX-Trailer: 1\r\n\r\n', /trailers/],
    ];
    for (const [text, error] of bad) assert.throws(() => new ResponseParser().push(Buffer.from(text)), error, text);
    assert.throws(() => new ResponseParser().push(Buffer.alloc(70 * 1024, 'a')), /head over/);
  });
});

describe('keeper link', () => {
  let dir: string;
  let socketPath: string;
  let servers: Array<HttpServer | NetServer>;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'corral-link-'));
    socketPath = join(dir, 'keeper.sock');
    servers = [];
  });
  afterEach(async () => {
    for (const s of servers) {
      if ('closeAllConnections' in s) s.closeAllConnections();
      await new Promise<void>((resolve) => s.close(() => resolve()));
    }
    rmSync(dir, { recursive: true, force: true });
  });

  async function listen<T extends HttpServer | NetServer>(server: T): Promise<T> {
    servers.push(server);
    await new Promise<void>((resolve) => server.listen(socketPath, resolve));
    return server;
  }

  it('answers JSON, keeps the connection for the next call, and passes a keeper error on with its code', async () => {
    const sockets = new Set<Socket>();
    const seen: string[] = [];
    await listen(
      createHttpServer((req, res) => {
        sockets.add(req.socket);
        let body = '';
        req.on('data', (c: Buffer) => (body += c.toString()));
        req.on('end', () => {
          seen.push(`${req.method} ${req.url} ${body}`);
          if (req.url === '/bad') {
            res.writeHead(422, { 'content-type': 'application/json' });
            res.end(JSON.stringify({ code: 'CORRAL_ERR_APPEND_INVALID', message: 'append needs a range' }));
            return;
          }
          // No Content-Length: node:http sends this one chunked.
          res.writeHead(200, { 'content-type': 'application/json' });
          res.end(JSON.stringify({ ok: req.url, body }));
        });
      }),
    );
    const link = new KeeperLink({ socketPath, retryDelayMs: 10 });
    try {
      assert.deepEqual(await link.call('GET', '/read?range=Players'), { ok: '/read?range=Players', body: '' });
      assert.deepEqual(await link.call('POST', '/append', '{"range":"Events","rows":[["é"]]}'), { ok: '/append', body: '{"range":"Events","rows":[["é"]]}' });
      await assert.rejects(link.call('GET', '/bad'), (err: Error & { code?: string }) => err.code === 'CORRAL_ERR_APPEND_INVALID' && /append needs a range/.test(err.message));
      assert.equal(sockets.size, 1, 'one keep-alive connection carried the three calls');
      assert.equal(link.retries, 0);
    } finally {
      await link.close();
    }
  });

  it('opens at most `connections` at once; the calls beyond wait their turn', async () => {
    const open = new Set<Socket>();
    let inFlight = 0;
    let most = 0;
    await listen(
      createHttpServer((req, res) => {
        open.add(req.socket);
        inFlight++;
        most = Math.max(most, inFlight);
        setTimeout(() => {
          inFlight--;
          res.writeHead(200, { 'content-type': 'application/json', 'content-length': 2 });
          res.end('{}');
        }, 20);
      }),
    );
    const link = new KeeperLink({ socketPath, connections: 3 });
    try {
      const answers = await Promise.all(Array.from({ length: 10 }, () => link.call('GET', '/read?range=Players')));
      assert.equal(answers.length, 10);
      assert.equal(most, 3);
      assert.equal(open.size, 3);
    } finally {
      await link.close();
    }
  });

  it('first fills have connections of their own: while they wait for Google, reads of held ranges and appends still go', async () => {
    const held: ServerResponse[] = [];
    await listen(
      createHttpServer((req, res) => {
        req.resume();
        req.on('end', () => {
          if (req.url?.startsWith('/read?range=Tab')) {
            held.push(res);
            return;
          }
          res.writeHead(200, { 'content-type': 'application/json', 'content-length': 2 });
          res.end('{}');
        });
      }),
    );
    const link = new KeeperLink({ socketPath, connections: 2, retryDelayMs: 10 });
    try {
      const fills = [1, 2, 3].map((i) => link.firstFill(`/read?range=Tab${i}`));
      while (held.length < 2) await new Promise((r) => setTimeout(r, 10));
      // Bounded only so that a call stuck behind the first fills fails the test rather than hang it.
      const soon = <T>(p: Promise<T>) => Promise.race([p, new Promise<string>((r) => setTimeout(() => r('still waiting for a connection'), 5000).unref())]);
      assert.deepEqual(await soon(link.call('GET', '/read?range=Players')), {});
      assert.deepEqual(await soon(link.write('/append', '{}')), {});
      assert.equal(held.length, 2, 'the third first fill waits for one of their two connections');
      for (const res of held.splice(0)) res.writeHead(200, { 'content-length': 2 }).end('{}');
      while (held.length < 1) await new Promise((r) => setTimeout(r, 10));
      held[0]?.writeHead(200, { 'content-length': 2 }).end('{}');
      assert.deepEqual(await Promise.all(fills), [{}, {}, {}]);
    } finally {
      await link.close();
    }
  });

  it('appends have connections of their own: while reads of held ranges wait at the keeper for Google on every connection, an append is answered', async () => {
    const held: ServerResponse[] = [];
    const appends: string[] = [];
    await listen(
      createHttpServer((req, res) => {
        let body = '';
        req.on('data', (c: Buffer) => (body += c.toString()));
        req.on('end', () => {
          if (req.url?.startsWith('/read')) {
            held.push(res);
            return;
          }
          appends.push(body);
          res.writeHead(200, { 'content-type': 'application/json' });
          res.end(JSON.stringify({ id: 'entry-1', rows: 1 }));
        });
      }),
    );
    const link = new KeeperLink({ socketPath, connections: 2, retryDelayMs: 10 });
    try {
      // After a keeper crash with the read quota spent: the reads of ranges the worker holds wait
      // at the keeper for its refill, on both connections, and a third waits for one of them.
      const reads = [1, 2, 3].map((i) => link.call(`GET`, `/read?range=Tab${i}`));
      while (held.length < 2) await new Promise((r) => setTimeout(r, 10));
      // Bounded only so that an append stuck behind the reads fails the test rather than hang it.
      const soon = <T>(p: Promise<T>) => Promise.race([p, new Promise<string>((r) => setTimeout(() => r('still waiting for a connection'), 5000).unref())]);
      const started = Date.now();
      assert.deepEqual(await soon(Promise.all([1, 2, 3].map((i) => link.write('/append', `{"n":${i}}`)))), Array(3).fill({ id: 'entry-1', rows: 1 }));
      assert.ok(Date.now() - started < 2000, 'answered without waiting for the reads');
      assert.deepEqual(appends.sort(), ['{"n":1}', '{"n":2}', '{"n":3}'], 'each sent once');
      assert.equal(held.length, 2, 'the reads still wait');
      for (const res of held.splice(0)) res.writeHead(200, { 'content-length': 2 }).end('{}');
      while (held.length < 1) await new Promise((r) => setTimeout(r, 10));
      held[0]?.writeHead(200, { 'content-length': 2 }).end('{}');
      assert.deepEqual(await Promise.all(reads), [{}, {}, {}]);
    } finally {
      await link.close();
    }
  });

  it('close() ends the calls on their way and those waiting for a connection', async () => {
    // The keeper holds every answer: the first call is on its way (arrived), the others wait.
    const arrived: ServerResponse[] = [];
    await listen(createHttpServer((_req, res) => void arrived.push(res)));
    const link = new KeeperLink({ socketPath, connections: 1, retryDelayMs: 10 });
    const calls = [1, 2, 3].map(() => link.call('GET', '/read?range=A'));
    while (arrived.length < 1) await new Promise((r) => setTimeout(r, 10));
    await link.close();
    const settled = await Promise.allSettled(calls);
    for (const s of settled) {
      assert.equal(s.status, 'rejected');
      assert.equal((s as PromiseRejectedResult).reason.code, 'CORRAL_ERR_KEEPER_UNAVAILABLE');
    }
  });

  it('closes a connection left idle for idleCloseMs itself, and opens a new one for the next call', async () => {
    const closed: Socket[] = [];
    const opened = new Set<Socket>();
    const keeper = createHttpServer((req, res) => {
      if (!opened.has(req.socket)) {
        opened.add(req.socket);
        req.socket.once('close', () => closed.push(req.socket));
      }
      res.writeHead(200, { 'content-length': 2 }).end('{}');
    });
    // The keeper keeps idle connections far longer than the link: a close is the link's.
    keeper.keepAliveTimeout = 60_000;
    await listen(keeper);
    // An idle time a busy machine does not pass between two calls in a row; the close waited for.
    const link = new KeeperLink({ socketPath, idleCloseMs: 1000 });
    try {
      await link.call('GET', '/read?range=A');
      await link.call('GET', '/read?range=A');
      assert.equal(opened.size, 1, 'reused while busy enough');
      const deadline = Date.now() + 10_000;
      while (closed.length < 1 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      assert.equal(closed.length, 1, 'the link closed its idle connection');
      await link.call('GET', '/read?range=A');
      assert.equal(opened.size, 2);
      assert.equal(link.retries, 0);
    } finally {
      await link.close();
    }
  });

  it('replaces a connection the keeper closed while it was idle', async () => {
    const server = await listen(
      createHttpServer((_req, res) => {
        res.writeHead(200, { 'content-type': 'application/json', 'content-length': 2 });
        res.end('{}');
      }),
    );
    const link = new KeeperLink({ socketPath, retryDelayMs: 10 });
    try {
      await link.call('GET', '/read?range=A');
      server.closeIdleConnections();
      await new Promise((r) => setTimeout(r, 50));
      assert.deepEqual(await link.call('GET', '/read?range=A'), {});
      assert.equal(link.retries, 0, 'the closed connection was dropped, not tried');
    } finally {
      await link.close();
    }
  });

  it('an unreachable keeper is retried once, then CORRAL_ERR_KEEPER_UNAVAILABLE', async () => {
    const link = new KeeperLink({ socketPath: join(dir, 'missing.sock'), retryDelayMs: 10 });
    await assert.rejects(link.call('GET', '/read?range=A'), (err: Error & { code?: string }) => err.code === 'CORRAL_ERR_KEEPER_UNAVAILABLE');
    assert.equal(link.retries, 1);
    assert.equal(link.failures, 1);
    await link.close();
  });

  it('an append that reached no keeper (its socket gone, or not listening) fails as not sent; one cut after it connected may have arrived', async () => {
    // No connection made, at either try: nothing left the worker, so the event cannot have been
    // saved. Said "unreachable" alone, the app told the client it may have been saved, and that a
    // retry without a key may save it twice (a keeper down outside a restart, its socket removed).
    const missing = new KeeperLink({ socketPath: join(dir, 'missing.sock'), retryDelayMs: 10 });
    writeFileSync(socketPath, '');
    const refusing = new KeeperLink({ socketPath, retryDelayMs: 10 });
    try {
      for (const [link, errno] of [[missing, 'ENOENT'], [refusing, 'ECONNREFUSED']] as const) {
        await assert.rejects(link.write('/append', '{"range":"Events","rows":[["E1"]]}'), (err: Error & { code?: string }) => {
          assert.ok(err instanceof NotSentError, `${errno}: ${err.name}: ${err.message}`);
          assert.equal(err.code, 'CORRAL_ERR_KEEPER_UNAVAILABLE');
          assert.match(err.message, new RegExp(`keeper unreachable: connect ${errno} .*not sent`));
          return true;
        });
        assert.equal(link.retries, 1, `${errno}: tried twice`);
        assert.equal(link.failures, 1);
      }
    } finally {
      await missing.close();
      await refusing.close();
      rmSync(socketPath, { force: true });
    }
    // A keeper that took the connection and closed it unanswered may have journaled the rows.
    await listen(createNetServer((socket) => socket.once('data', () => socket.destroy())));
    const cut = new KeeperLink({ socketPath, retryDelayMs: 10 });
    try {
      await assert.rejects(cut.write('/append', '{"range":"Events","rows":[["E1"]]}'), (err: Error & { code?: string }) => {
        assert.ok(!(err instanceof NotSentError), err.message);
        assert.equal(err.code, 'CORRAL_ERR_KEEPER_UNAVAILABLE');
        assert.match(err.message, /keeper unreachable: the keeper closed the connection before answering/);
        return true;
      });
    } finally {
      await cut.close();
    }
  });

  it('an append the keeper refused once it was written (its lock found taken after the write) may have been saved: not failed as not sent', async () => {
    // The first try's rows reached the journal before the keeper found its lock another's (that
    // keeper may have read them, and sends them); the retry is refused before anything is written.
    let calls = 0;
    await listen(
      createHttpServer((req, res) => {
        req.resume();
        req.on('end', () => {
          calls++;
          res.writeHead(503, { 'content-type': 'application/json' });
          res.end(JSON.stringify({ code: 'CORRAL_ERR_KEEPER_UNAVAILABLE', message: "another keeper holds the data dir's lock", ...(calls === 1 ? { written: true } : {}) }));
        });
      }),
    );
    const link = new KeeperLink({ socketPath, retryDelayMs: 10 });
    try {
      await assert.rejects(link.write('/append', '{"range":"Events","rows":[["E1"]]}'), (err: Error & { code?: string }) => {
        assert.ok(!(err instanceof NotSentError), 'the first try may have been saved');
        assert.equal(err.code, 'CORRAL_ERR_KEEPER_UNAVAILABLE');
        return true;
      });
      assert.equal(calls, 2);
    } finally {
      await link.close();
    }
  });

  /** A keeper that drains: it refuses appends, before journaling them, as keeper/server.ts does. */
  const drainingKeeper = (seen: string[]) =>
    createHttpServer((req, res) => {
      req.resume();
      req.on('end', () => {
        seen.push(`draining ${req.url}`);
        res.writeHead(503, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ code: 'CORRAL_ERR_KEEPER_UNAVAILABLE', message: 'the keeper is draining' }));
      });
    });

  it('while the master restarts the keeper, an append the old one refuses waits through its exit for the new one, and is sent to it once', async () => {
    const seen: string[] = [];
    const old = await listen(drainingKeeper(seen));
    const window = new KeeperRestartWindow();
    const link = new KeeperLink({ socketPath, retryDelayMs: 10, restartWindow: window });
    try {
      // A window far longer than the test: the append must be sent when it closes, not at its end.
      window.open(60_000);
      const append = link.call<{ id: string }>('POST', '/append', '{"range":"Events","rows":[["E1"]]}');
      // Refused by the old keeper and tried again (counted, not timed: a busy box retries later).
      while (seen.filter((s) => s.startsWith('draining')).length < 2) await new Promise((r) => setTimeout(r, 20));
      // The old keeper exits; nothing listens for a while (connects refused), then the new one does.
      old.closeAllConnections();
      await new Promise<void>((resolve) => old.close(() => resolve()));
      rmSync(socketPath, { force: true });
      await new Promise((r) => setTimeout(r, 500));
      await listen(
        createHttpServer((req, res) => {
          let body = '';
          req.on('data', (c: Buffer) => (body += c.toString()));
          req.on('end', () => {
            seen.push(`new ${req.url} ${body}`);
            res.writeHead(200, { 'content-type': 'application/json' });
            res.end(JSON.stringify({ id: 'entry-1', rows: 1 }));
          });
        }),
      );
      window.close();
      // Sent once the master says the new keeper is ready, not held to the window's 60 s.
      const guard = new Promise<never>((_, reject) => setTimeout(() => reject(new Error('the append waited on after the window closed')), 10_000).unref());
      assert.deepEqual(await Promise.race([append, guard]), { id: 'entry-1', rows: 1 });
      assert.deepEqual(seen.filter((s) => s.startsWith('new')), ['new /append {"range":"Events","rows":[["E1"]]}']);
      assert.equal(link.failures, 0);
    } finally {
      await link.close();
    }
  });

  it('without a restart under way, a draining keeper is retried once, then CORRAL_ERR_KEEPER_UNAVAILABLE; with one, until its deadline', async () => {
    const seen: string[] = [];
    await listen(drainingKeeper(seen));
    const link = new KeeperLink({ socketPath, retryDelayMs: 10 });
    await assert.rejects(link.call('POST', '/append', '{}'), (err: Error & { code?: string }) => err.code === 'CORRAL_ERR_KEEPER_UNAVAILABLE' && /draining/.test(err.message));
    assert.equal(seen.length, 2);
    await link.close();

    const window = new KeeperRestartWindow();
    const waiting = new KeeperLink({ socketPath: join(dir, 'missing.sock'), retryDelayMs: 10, restartWindow: window });
    window.open(600);
    const started = Date.now();
    await assert.rejects(waiting.call('GET', '/read?range=A'), (err: Error & { code?: string }) => err.code === 'CORRAL_ERR_KEEPER_UNAVAILABLE');
    const waited = Date.now() - started;
    assert.ok(waited >= 600 && waited < 2000, `waited for the window, then gave up (${waited} ms)`);
    assert.equal(waiting.failures, 1);
    await waiting.close();
  });

  it('a keeper that cuts the connection mid-answer, or sends garbage, is unreachable, not an answer', async () => {
    let calls = 0;
    await listen(
      createNetServer((socket) => {
        socket.once('data', () => {
          calls++;
          if (calls === 1) socket.end('HTTP/1.1 200 OK\r\nContent-Length: 50\r\n\r\n{"cut":');
          else socket.end('garbage\r\n\r\n');
        });
      }),
    );
    const link = new KeeperLink({ socketPath, retryDelayMs: 10 });
    try {
      await assert.rejects(link.call('GET', '/read?range=A'), (err: Error & { code?: string }) => {
        assert.equal(err.code, 'CORRAL_ERR_KEEPER_UNAVAILABLE');
        assert.match(err.message, /malformed answer from the keeper: not an HTTP\/1.1 answer/);
        return true;
      });
      assert.equal(calls, 2, 'the cut answer was retried once');
    } finally {
      await link.close();
    }
  });

  it('a silent keeper times out; a watch is cut at once by its abort signal', async () => {
    // It reads what it is sent (so it sees the link close its end) and never answers.
    await listen(createNetServer((socket) => socket.resume()));
    const link = new KeeperLink({ socketPath, retryDelayMs: 10, timeoutMs: 100 });
    try {
      const started = Date.now();
      await assert.rejects(link.call('GET', '/read?range=A'), /keeper unreachable: no answer from the keeper in 100 ms/);
      assert.ok(Date.now() - started >= 200, 'two attempts of 100 ms');
      const abort = new AbortController();
      const watching = link.watch('/watch?since=0&epoch=', abort.signal);
      setTimeout(() => abort.abort(), 20);
      await assert.rejects(watching, (err: Error & { code?: string }) => err.code === 'CORRAL_ERR_KEEPER_UNAVAILABLE');
    } finally {
      await link.close();
    }
  });

  it("an append's bound on the keeper's silence is its own, shorter than a read's", async () => {
    // A keeper that reads every request and answers none (its journal's write hangs).
    await listen(createNetServer((socket) => socket.resume()));
    const link = new KeeperLink({ socketPath, retryDelayMs: 10, timeoutMs: 60_000, writeTimeoutMs: 150 });
    try {
      const started = Date.now();
      await assert.rejects(link.write('/append', '{}'), /keeper unreachable: no answer from the keeper in 150 ms/);
      const took = Date.now() - started;
      assert.ok(took >= 300 && took < 10_000, `two attempts of 150 ms, not the read's 60 s: ${took} ms`);
    } finally {
      await link.close();
    }
  });

  it('a call that waits for a connection longer than its bound fails, not sent; the others wait their turn', async () => {
    const pool = new ConnectionPool(socketPath, 1, 60_000, false, '');
    let release: () => void = () => undefined;
    const holding = pool.use(() => new Promise<void>((r) => (release = r)));
    let sent = false;
    const started = Date.now();
    await assert.rejects(
      pool.use(async () => void (sent = true), 100),
      (err: Error & { code?: string }) => err.code === 'CORRAL_ERR_KEEPER_UNAVAILABLE' && /no connection to the keeper came free within 100 ms \(each of the 1 waits for an answer\): not sent/.test(err.message),
    );
    assert.ok(Date.now() - started >= 95);
    assert.equal(sent, false);
    // Without a bound, a call waits for the connection to come free.
    const patient = pool.use(async () => 'went');
    release();
    await holding;
    assert.equal(await patient, 'went');
    pool.destroy();
  });
});
