// The HTTP client (a connection per user) and the virtual user loop: outcomes are classified (ok,
// http, timeout, connection, aborted), the deadline is kept even by a late timer, and users log in
// once, follow the mix, log in again after a 401, wait before trying a refused login again, stop
// when told, and close their connection as they leave.

import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { failureOutcome, parseRetryAfter, TargetClient, type Reply, type SendRequest } from '../../src/loadtest/client.js';
import { parseMix } from '../../src/loadtest/mix.js';
import { ActionPacer, ThinkTimePacer, type Pacer } from '../../src/loadtest/pacing.js';
import { VirtualUser } from '../../src/loadtest/vuser.js';

describe('TargetClient', () => {
  let server: Server;
  let url: URL;
  let hits = 0;
  before(async () => {
    server = createServer((req, res) => {
      hits++;
      if (req.url === '/hang') return; // never answers
      if (req.url === '/login') {
        res.writeHead(200, { 'content-type': 'application/json' });
        return res.end('{"token":"abc"}');
      }
      res.writeHead(req.url?.startsWith('/boom') ? 503 : 200);
      res.end('x'.repeat(1000));
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    url = new URL(`http://127.0.0.1:${(server.address() as AddressInfo).port}`);
  });
  after(async () => {
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
  });

  const client = (o: { timeoutMs?: number; deadlineMs?: number; unansweredAfterMs?: number; signal?: AbortSignal; clock?: () => number } = {}): TargetClient =>
    new TargetClient(url, {
      timeoutMs: o.timeoutMs ?? 5000,
      signal: o.signal ?? new AbortController().signal,
      clock: o.clock ?? (() => 0),
      ...(o.deadlineMs === undefined ? {} : { deadlineMs: o.deadlineMs }),
      ...(o.unansweredAfterMs === undefined ? {} : { unansweredAfterMs: o.unansweredAfterMs }),
    });

  /** Sends GET /hang, waits until the server has it, ends the run, and returns the outcome. */
  async function hangThenEndRun(unansweredAfterMs: number): Promise<string> {
    const run = new AbortController();
    const c = client({ signal: run.signal, unansweredAfterMs });
    try {
      const before = hits;
      const pending = c.send({ kind: 'read', method: 'GET', path: '/hang' });
      while (hits === before) await new Promise((r) => setTimeout(r, 5));
      run.abort();
      return (await pending).sample.outcome;
    } finally {
      await c.close();
    }
  }

  it('connects to the pinned addresses only, never resolving the name again', async () => {
    // A name that resolves nowhere: only the pinned address can make this work.
    const named = new URL(`http://pinned.invalid:${url.port}`);
    const c = new TargetClient(named, { timeoutMs: 2000, signal: new AbortController().signal, clock: () => 0, pinned: [{ address: '127.0.0.1', family: 4 }] });
    try {
      const r = await c.send({ kind: 'read', method: 'GET', path: '/players' });
      assert.equal(r.sample.outcome, 'ok');
    } finally {
      await c.close();
    }
  });

  it('classifies answers and reads bodies', async () => {
    const c = client();
    try {
      const ok = await c.send({ kind: 'read', method: 'GET', path: '/players' });
      assert.equal(ok.sample.outcome, 'ok');
      assert.equal(ok.sample.status, 200);
      assert.equal(ok.sample.bytes, 1000);
      assert.equal(ok.sample.route, 'GET /players');
      assert.ok(ok.sample.latencyUs > 0);
      const bad = await c.send({ kind: 'read', method: 'GET', path: '/boom?x=1' });
      assert.equal(bad.sample.outcome, 'http');
      assert.equal(bad.sample.status, 503);
      assert.equal(bad.sample.route, 'GET /boom');
      const login = await c.send({ kind: 'login', method: 'POST', path: '/login', json: { name: 'a', code: 'b' }, parseJson: true });
      assert.deepEqual(login.json, { token: 'abc' });
    } finally {
      await c.close();
    }
  });

  it("gives each user a connection of its own, kept between its requests and closed when it leaves", async () => {
    // Which client socket (its port) each request came on, as the server sees it.
    const ports: number[] = [];
    const closed: number[] = [];
    const s = createServer((req, res) => {
      ports.push(req.socket.remotePort ?? 0);
      res.end('ok');
    });
    s.on('connection', (sock) => sock.on('close', () => closed.push(sock.remotePort ?? 0)));
    await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
    const c = new TargetClient(new URL(`http://127.0.0.1:${(s.address() as AddressInfo).port}`), { timeoutMs: 2000, signal: new AbortController().signal, clock: () => 0 });
    try {
      const users = [c.connect(), c.connect(), c.connect()];
      // One request at a time in all: a shared pool would have sent every one on one connection.
      for (let round = 0; round < 2; round++) for (const u of users) assert.equal((await u.send({ kind: 'read', method: 'GET', path: '/' })).sample.outcome, 'ok');
      assert.equal(new Set(ports).size, 3, `ports ${ports.join(', ')}`);
      assert.deepEqual(ports.slice(3), ports.slice(0, 3), 'each user kept its connection between its requests');
      const first = users[0]!;
      await first.close();
      await first.close();
      while (!closed.includes(ports[0]!)) await new Promise((r) => setTimeout(r, 5));
      assert.equal(closed.length, 1, 'only the user that left closed its connection');
      await c.close();
      while (closed.length < 3) await new Promise((r) => setTimeout(r, 5));
      // A connection asked for after the client closed is closed at once: it sends nothing.
      const late = c.connect();
      assert.equal((await late.send({ kind: 'read', method: 'GET', path: '/' })).sample.outcome, 'connection');
      assert.equal(ports.length, 6);
    } finally {
      await c.close();
      await new Promise((r) => s.close(r));
    }
  });

  it('times out a request that gets no answer', async () => {
    const c = client({ timeoutMs: 100 });
    try {
      const r = await c.send({ kind: 'read', method: 'GET', path: '/hang' });
      assert.equal(r.sample.outcome, 'timeout');
    } finally {
      await c.close();
    }
  });

  it('aborts requests in flight when the run ends, without calling it a timeout', async () => {
    const run = new AbortController();
    const c = client({ signal: run.signal });
    try {
      const pending = c.send({ kind: 'read', method: 'GET', path: '/hang' });
      const before = hits;
      while (hits === before) await new Promise((r) => setTimeout(r, 5));
      run.abort();
      assert.equal((await pending).sample.outcome, 'aborted');
      assert.equal((await c.send({ kind: 'read', method: 'GET', path: '/players' })).sample.outcome, 'aborted');
    } finally {
      await c.close();
    }
  });

  it('calls a request the end of the run cancels "unanswered" once it waited unansweredAfterMs, "aborted" before', async () => {
    // 0: any wait is long enough; 60 s: no wait in this test is. No timing race either way.
    assert.equal(await hangThenEndRun(0), 'unanswered');
    assert.equal(await hangThenEndRun(60_000), 'aborted');
  });

  it('starts nothing at or past the deadline, even before the deadline timer fires', async () => {
    let now = 0;
    const c = client({ deadlineMs: 1000, clock: () => now });
    try {
      assert.equal((await c.send({ kind: 'read', method: 'GET', path: '/players' })).sample.outcome, 'ok');
      now = 1000;
      const before = hits;
      assert.equal((await c.send({ kind: 'read', method: 'GET', path: '/players' })).sample.outcome, 'aborted');
      assert.equal(hits, before, 'nothing was sent');
    } finally {
      await c.close();
    }
  });

  it("reads a 429's Retry-After, in seconds or as a date, and nothing else", async () => {
    const s = createServer((req, res) => {
      const status = Number(req.url?.slice(1));
      res.writeHead(status, { 'retry-after': '7' });
      res.end();
    });
    await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
    const c = new TargetClient(new URL(`http://127.0.0.1:${(s.address() as AddressInfo).port}`), { timeoutMs: 2000, signal: new AbortController().signal, clock: () => 0 });
    try {
      assert.equal((await c.send({ kind: 'login', method: 'POST', path: '/429' })).retryAfterMs, 7000);
      assert.equal((await c.send({ kind: 'read', method: 'GET', path: '/503' })).retryAfterMs, 7000);
      assert.equal((await c.send({ kind: 'read', method: 'GET', path: '/200' })).retryAfterMs, undefined, 'only a refusal says when to come back');
    } finally {
      await c.close();
      await new Promise((r) => s.close(r));
    }
    assert.equal(parseRetryAfter('Wed, 25 Nov 2026 12:00:30 GMT', Date.parse('Wed, 25 Nov 2026 12:00:00 GMT')), 30_000);
    assert.equal(parseRetryAfter('Wed, 25 Nov 2026 11:00:00 GMT', Date.parse('Wed, 25 Nov 2026 12:00:00 GMT')), 0, 'a date past is now');
    assert.equal(parseRetryAfter('86400'), 3_600_000, 'at most an hour');
    assert.equal(parseRetryAfter('soon'), undefined);
    assert.equal(parseRetryAfter('-5'), undefined);
    assert.equal(parseRetryAfter(undefined), undefined);
  });

  it("calls a failure of this machine (EMFILE, ENFILE, EADDRNOTAVAIL, ENOBUFS) the generator's, not the target's", () => {
    assert.equal(failureOutcome('EMFILE'), 'generator');
    assert.equal(failureOutcome('EADDRNOTAVAIL'), 'generator');
    assert.equal(failureOutcome('ECONNREFUSED'), 'connection');
    assert.equal(failureOutcome('UND_ERR_CONNECT_TIMEOUT'), 'timeout');
  });

  it('reports a refused connection by its code', async () => {
    const s = createServer();
    await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
    const port = (s.address() as AddressInfo).port;
    await new Promise((r) => s.close(r));
    const c = new TargetClient(new URL(`http://127.0.0.1:${port}`), { timeoutMs: 2000, signal: new AbortController().signal, clock: () => 0 });
    try {
      const r = await c.send({ kind: 'read', method: 'GET', path: '/' });
      assert.equal(r.sample.outcome, 'connection');
      assert.equal(r.sample.error, 'ECONNREFUSED');
    } finally {
      await c.close();
    }
  });
});

describe('VirtualUser', () => {
  /** A fake target: answers from a script, records what was asked. */
  function fakeSend(statusFor: (req: SendRequest, n: number) => number, asked: SendRequest[], retryAfterMs?: number): (req: SendRequest) => Promise<Reply> {
    return async (req) => {
      asked.push(req);
      const status = statusFor(req, asked.length);
      const outcome = status === 0 ? 'aborted' : status < 300 ? 'ok' : 'http';
      await new Promise((r) => setImmediate(r));
      return {
        sample: { kind: req.kind, route: `${req.method} ${req.path}`, status, outcome, latencyUs: 10, startMs: 0, endMs: 0, bytes: 0 },
        json: req.kind === 'login' && status === 200 ? { token: `tok${asked.length}` } : undefined,
        ...(status === 429 && retryAfterMs !== undefined ? { retryAfterMs } : {}),
      };
    };
  }

  function seeded(): () => number {
    let seed = 1;
    return () => (seed = (seed * 16807) % 2147483647) / 2147483647;
  }

  function user(send: (req: SendRequest) => Promise<Reply>, mix = 'read=0.5,write=0.3,export=0.2', run = new AbortController(), pacer?: Pacer): VirtualUser {
    const random = seeded();
    return new VirtualUser(7, { target: new URL('http://127.0.0.1:1/base/'), send, onReply: () => {}, onAction: () => {}, mix: parseMix(mix), exportToken: 'adm', runSignal: run.signal, random }, { name: 'Alice', code: 'P1' }, pacer ?? new ThinkTimePacer(0, random));
  }

  /** Logins a user sent in `ms` against a target that refuses them all with 429. */
  async function refusedLoginsWithin(ms: number, pacer: Pacer | undefined, retryAfterMs?: number): Promise<number> {
    const asked: SendRequest[] = [];
    const vu = user(fakeSend(() => 429, asked, retryAfterMs), 'read=1', new AbortController(), pacer);
    const done = vu.start();
    await new Promise((r) => setTimeout(r, ms));
    vu.stop();
    await done;
    return asked.length;
  }

  it('logs in once, then follows the mix with the session token', async () => {
    const asked: SendRequest[] = [];
    const vu = user(fakeSend(() => 200, asked));
    const done = vu.start();
    while (asked.length < 200) await new Promise((r) => setImmediate(r));
    vu.stop();
    await done;
    assert.equal(asked[0]?.kind, 'login');
    assert.deepEqual(asked[0]?.json, { name: 'Alice', code: 'P1' });
    assert.equal(asked[0]?.path, '/base/api/login', 'the target base path is kept');
    assert.equal(asked.filter((r) => r.kind === 'login').length, 1);
    const kinds = new Set(asked.slice(1).map((r) => r.kind));
    assert.deepEqual([...kinds].sort(), ['export', 'read', 'write']);
    const write = asked.find((r) => r.kind === 'write');
    assert.equal(write?.headers?.authorization, 'Bearer tok1');
    assert.equal((write?.json as { kind?: string })?.kind, 'loadtest');
    assert.equal(asked.find((r) => r.kind === 'export')?.headers?.authorization, 'Bearer adm');
    assert.ok(asked.some((r) => r.path === '/base/api/players') && asked.some((r) => r.path === '/base/api/me'));
  });

  it('logs in again after its session is refused', async () => {
    const asked: SendRequest[] = [];
    const vu = user(fakeSend((req, n) => (req.kind === 'write' && n < 10 ? 401 : req.kind === 'write' ? 201 : 200), asked), 'write=1');
    const done = vu.start();
    while (asked.length < 12) await new Promise((r) => setImmediate(r));
    vu.stop();
    await done;
    assert.deepEqual(asked.slice(0, 4).map((r) => r.kind), ['login', 'write', 'login', 'write']);
  });

  it("tries a refused login again only after the server's Retry-After", async () => {
    // No think time: without the Retry-After the user tries again at once, login after login
    // (counted, not timed: a busy machine runs fewer turns in a given time).
    const asked: SendRequest[] = [];
    const vu = user(fakeSend(() => 429, asked), 'read=1');
    const done = vu.start();
    while (asked.length <= 20) await new Promise((r) => setImmediate(r));
    vu.stop();
    await done;
    assert.ok(asked.every((r) => r.kind === 'login'));
    // With one, a single login in the 300 ms watched, well inside a minute's Retry-After.
    assert.equal(await refusedLoginsWithin(300, undefined, 60_000), 1, 'one login, then the Retry-After');
  });

  it("a profile's user whose login is refused waits an action's pace before trying again, not a turn of the event loop", async () => {
    const actions = [{ name: 'view_data', durationMs: 60_000, requests: 3, perHour: 200 }];
    // Its pace is 20 s ±50 %: one login in the 300 ms watched. It sent hundreds before.
    assert.equal(await refusedLoginsWithin(300, new ActionPacer(actions, seeded())), 1);
  });

  it('leaves as soon as a request is aborted (the run is over)', async () => {
    const asked: SendRequest[] = [];
    const vu = user(fakeSend((_r, n) => (n >= 3 ? 0 : 200), asked), 'read=1');
    await vu.start();
    assert.equal(asked.length, 3);
  });

  it('closes its connection once, when its loop ends, stopped or at the end of the run', async () => {
    for (const end of ['stop', 'run over'] as const) {
      let leaves = 0;
      const asked: SendRequest[] = [];
      const run = new AbortController();
      const random = seeded();
      const send = fakeSend(() => 200, asked);
      const env = { target: new URL('http://127.0.0.1:1/'), send, leave: async () => void leaves++, onReply: () => {}, onAction: () => {}, mix: parseMix('read=1'), exportToken: undefined, runSignal: run.signal, random };
      const vu = new VirtualUser(1, env, { name: 'Alice', code: 'P1' }, new ThinkTimePacer(0, random));
      const done = vu.start();
      while (asked.length < 5) await new Promise((r) => setImmediate(r));
      assert.equal(leaves, 0, 'not while it is still a user');
      if (end === 'stop') vu.stop();
      else run.abort();
      await done;
      await vu.start();
      assert.equal(leaves, 1, end);
    }
  });
});
