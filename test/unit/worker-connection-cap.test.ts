import assert from 'node:assert/strict';
import { once } from 'node:events';
import { closeSync } from 'node:fs';
import type { ServerResponse } from 'node:http';
import { connect, type Socket } from 'node:net';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { loadSettings } from '../../src/config/load.js';
import { createLogger } from '../../src/log/logger.js';
import { memoryLogger } from '../fixtures/memory-logger.js';
import { createCounterTable, openCounterTable } from '../../src/counter-table.js';
import { hostConnectionGauge } from '../../src/worker/connection-gauge.js';
import { ANSWERED_GRACE_MS, SILENT_GRACE_MS } from '../../src/worker/idle-connections.js';
import { createWorkerServer, type WorkerServer } from '../../src/worker/server.js';
import { OVER_CAP_IDLE_MS } from '../../src/worker/connection-cap.js';
import { uploadThenRead } from '../helpers/upload.js';

/** One request on a new connection: its status line. */
function statusOf(port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1', () => socket.write('GET /now HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n'));
    let out = '';
    socket.on('data', (d: Buffer) => {
      out += d.toString();
      const line = out.indexOf('\r\n');
      if (line === -1) return;
      resolve(out.slice(0, line));
      socket.destroy();
    });
    socket.on('error', reject);
  });
}

/** How a connection's close reached its client: an end (FIN) first, or a reset. */
function howClosed(socket: Socket): Promise<string> {
  return new Promise<string>((resolve) => {
    socket.once('end', () => resolve('end'));
    socket.once('error', (err: NodeJS.ErrnoException) => resolve(err.code ?? 'error'));
  });
}

describe('connection cap while the master says the host is FULL', () => {
  let worker: WorkerServer;
  let port: number;
  let held: Socket[];
  /** Answers of the /hold requests, released by the test. */
  let holding: ServerResponse[];

  beforeEach(async () => {
    const { settings } = loadSettings({ env: { CORRAL_ENV_FILE: 'none', CORRAL_BIND: '127.0.0.1:0', CORRAL_LOG_LEVEL: 'silent' } });
    const { logger } = createLogger(settings, { role: 'worker', worker: 1, generation: 1 });
    held = [];
    holding = [];
    worker = createWorkerServer(
      (req, res) => {
        if (req.url === '/hold') holding.push(res);
        else res.end('served');
      },
      { settings, logger, accessLogger: undefined, workerId: 1, generation: 1, perWorkerCap: 3, onServed: () => undefined },
    );
    port = (await worker.listen()).port;
  });
  afterEach(async () => {
    for (const s of held) s.destroy();
    await worker.drain(100);
  });

  /** Opens `n` connections whose requests the app holds, and waits until it has them all. */
  async function hold(n: number): Promise<void> {
    const before = holding.length;
    for (let i = 0; i < n; i++) {
      const s = connect(port, '127.0.0.1', () => s.write('GET /hold HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n'));
      s.on('error', () => undefined);
      held.push(s);
    }
    while (holding.length < before + n) await new Promise((r) => setTimeout(r, 5));
  }

  it('serves a new connection in a slot this worker freed itself, without waiting for the master', async () => {
    await hold(3);
    worker.cap.setHostFull(true, 3, 3);
    assert.match(await statusOf(port), / 503 /);
    // One of this worker's connections ends: its slot is the worker's to give again.
    const leaving = held[0] as Socket;
    leaving.resume();
    (holding[0] as ServerResponse).end('done');
    await once(leaving, 'close');
    while (worker.cap.active() > 2) await new Promise((r) => setTimeout(r, 5));
    assert.match(await statusOf(port), / 200 /);
  });

  it('answers 503 to an over-cap connection that trickles its headers (a slowloris) at its deadline, not 408 at the headers timeout', async () => {
    await hold(3);
    const slow = connect(port, '127.0.0.1');
    held.push(slow);
    slow.on('error', () => undefined);
    await once(slow, 'connect');
    const t0 = performance.now();
    slow.write('GET /now HTTP/1.1\r\nHost: x\r\n');
    // One header line every 200 ms: each byte pushed back an inactivity timeout.
    let n = 0;
    const trickle = setInterval(() => slow.writable && slow.write(`X-Slow-${n++}: y\r\n`), 200);
    try {
      const [first] = (await once(slow, 'data')) as [Buffer];
      const ms = performance.now() - t0;
      assert.match(first.toString('latin1').split('\r\n')[0] ?? '', / 503 /);
      assert.match(first.toString('latin1'), /"error":"server_full"/);
      assert.ok(ms >= OVER_CAP_IDLE_MS - 50 && ms < OVER_CAP_IDLE_MS + 1000, `answered at the over-cap deadline, not at the headers timeout (${Math.round(ms)} ms)`);
      await once(slow, 'close');
    } finally {
      clearInterval(trickle);
    }
    assert.equal(worker.cap.refused(), 1, 'counted as a refusal');
    assert.equal(worker.cap.active(), 3, 'the held connections keep their slots');
  });

  it('answers an over-cap request with Expect: 100-continue with the 503 alone, so its body is never sent', async () => {
    await hold(3);
    const answer = await new Promise<string>((resolve, reject) => {
      const s = connect(port, '127.0.0.1', () => s.write('POST /upload HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 100\r\n\r\n'));
      let out = '';
      s.on('data', (d: Buffer) => (out += d.toString()));
      s.on('close', () => resolve(out));
      s.on('error', reject);
    });
    assert.match(answer, /^HTTP\/1\.1 503 /);
    assert.doesNotMatch(answer, /100 Continue/);
  });

  it('answers an over-cap request whose large body is still arriving with the 503 its client reads, not a reset', async () => {
    await hold(3);
    for (const chunked of [true, false]) {
      // Python's http.client sends the whole body before it reads the answer.
      const r = await uploadThenRead({ port, head: 'POST /upload HTTP/1.1\r\nHost: x\r\n', bodyBytes: 8 << 20, chunked, timeoutMs: 15_000 });
      assert.equal(r.error, undefined, `${chunked ? 'chunked' : 'Content-Length'}: the client saw ${String(r.error)} after reading ${JSON.stringify(r.answer.slice(0, 60))}`);
      assert.match(r.answer, /^HTTP\/1\.1 503 [^]*"error":"server_full"/);
    }
  });

  it('gives its 503 the JSON headers of every other answer', async () => {
    await hold(3);
    const answer = await new Promise<string>((resolve, reject) => {
      const s = connect(port, '127.0.0.1', () => s.write('GET / HTTP/1.1\r\nHost: x\r\n\r\n'));
      let out = '';
      s.on('data', (d: Buffer) => (out += d.toString()));
      s.on('close', () => resolve(out));
      s.on('error', reject);
    });
    assert.match(answer, /^HTTP\/1\.1 503 /);
    assert.match(answer, /\r\ncontent-type: application\/json; charset=utf-8\r\n/i);
    assert.match(answer, /\r\ncache-control: no-store\r\n/i);
    assert.match(answer, /\r\nx-content-type-options: nosniff\r\n/i);
    assert.match(answer, /\r\ndate: \w{3}, \d{2} \w{3} \d{4} \d{2}:\d{2}:\d{2} GMT\r\n/i);
  });

  it('never takes more connections than it had when told the host is FULL, even under its own cap', async () => {
    await hold(2);
    worker.cap.setHostFull(true, 3, 3);
    assert.match(await statusOf(port), / 503 /, 'the third slot belongs to another worker now');
    worker.cap.setHostFull(false, 2, 3);
    assert.match(await statusOf(port), / 200 /);
  });
});

describe('connection cap: what each heartbeat reports of its interval', () => {
  let worker: WorkerServer;
  let port: number;
  let sockets: Socket[];
  let holding: ServerResponse[];

  beforeEach(async () => {
    const { settings } = loadSettings({ env: { CORRAL_ENV_FILE: 'none', CORRAL_BIND: '127.0.0.1:0', CORRAL_LOG_LEVEL: 'silent', CORRAL_KEEPALIVE: '60' } });
    const { logger } = createLogger(settings, { role: 'worker', worker: 1, generation: 1 });
    sockets = [];
    holding = [];
    worker = createWorkerServer(
      (req, res) => {
        if (req.url === '/hold') holding.push(res);
        else res.end('served');
      },
      { settings, logger, accessLogger: undefined, workerId: 1, generation: 1, perWorkerCap: 3, onServed: () => undefined },
    );
    port = (await worker.listen()).port;
  });
  afterEach(async () => {
    for (const s of sockets) s.destroy();
    for (const r of holding) r.end();
    await worker.drain(100);
  });

  it('reports the most busy connections at once and the refusals since the last beat, though the burst ended before it', async () => {
    assert.deepEqual(worker.cap.takeInterval(), { active: 0, idle: 0, peakBusy: 0, refused: 0, idleClosed: 0 });
    for (let i = 0; i < 3; i++) {
      const s = connect(port, '127.0.0.1', () => s.write('GET /hold HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n'));
      s.on('error', () => undefined);
      sockets.push(s);
    }
    while (holding.length < 3) await new Promise((r) => setTimeout(r, 5));
    assert.match(await statusOf(port), / 503 /);
    assert.match(await statusOf(port), / 503 /);
    for (const r of holding.splice(0)) r.end();
    while (worker.cap.active() > 0) await new Promise((r) => setTimeout(r, 5));
    // A sample now says nothing of it; the interval does.
    assert.deepEqual(worker.cap.takeInterval(), { active: 0, idle: 0, peakBusy: 3, refused: 2, idleClosed: 0 });
    // The next interval starts from now.
    assert.deepEqual(worker.cap.takeInterval(), { active: 0, idle: 0, peakBusy: 0, refused: 0, idleClosed: 0 });
  });

  it('counts keep-alive connections as busy for ANSWERED_GRACE_MS after their answer, then idle', async () => {
    const clients: Client[] = [];
    try {
      // Before the last request is sent, so before its answer left: the last connection's grace
      // ends ANSWERED_GRACE_MS after t0 at the earliest, however late this test reads the answer.
      let t0 = 0;
      for (let i = 0; i < 3; i++) {
        const c = await keepAliveClient(port);
        clients.push(c);
        t0 = performance.now();
        assert.match(await c.get('/now'), / 200 /);
      }
      // Just answered: a client that sends its next request at once may have it waiting unread
      // (the worker reads it a turn of its loop later). Busy, not idle.
      const first = worker.cap.takeInterval();
      if (performance.now() - t0 < ANSWERED_GRACE_MS) {
        assert.equal(first.active, 3);
        assert.equal(first.idle, 0, 'answered within the grace: not idle');
        assert.equal(first.peakBusy, 3);
      }
      while (worker.cap.idleNow() < 3) await new Promise((r) => setTimeout(r, 50));
      assert.ok(performance.now() - t0 >= ANSWERED_GRACE_MS, 'idle only after the grace');
      worker.cap.takeInterval();
      assert.deepEqual(worker.cap.takeInterval(), { active: 3, idle: 3, peakBusy: 0, refused: 0, idleClosed: 0 });
    } finally {
      for (const c of clients) c.socket.destroy();
    }
  });
});

describe('connection cap: learning that an answer went out', () => {
  it("adds no listener of its own to a response: node:http's 'finish' listener is its only one, and the connection still turns idle after its answer", async () => {
    const { settings } = loadSettings({ env: { CORRAL_ENV_FILE: 'none', CORRAL_BIND: '127.0.0.1:0', CORRAL_LOG_LEVEL: 'silent', CORRAL_KEEPALIVE: '60' } });
    const { logger } = createLogger(settings, { role: 'worker', worker: 1, generation: 1 });
    // A second 'finish' listener made node's emit copy the listener array of every response.
    const finishListeners: number[] = [];
    const worker = createWorkerServer(
      (_req, res) => {
        finishListeners.push(res.listenerCount('finish'));
        res.end('served');
      },
      { settings, logger, accessLogger: undefined, workerId: 1, generation: 1, perWorkerCap: 3, onServed: () => undefined },
    );
    const { port } = await worker.listen();
    const c = await keepAliveClient(port);
    try {
      const t0 = performance.now();
      assert.match(await c.get('/now'), / 200 /);
      assert.match(await c.get('/now'), / 200 /);
      assert.deepEqual(finishListeners, [1, 1]);
      while (worker.cap.idleNow() < 1 && performance.now() - t0 < 5000) await new Promise((r) => setTimeout(r, 50));
      assert.equal(worker.cap.idleNow(), 1, 'idle once its grace after the answer passed');
    } finally {
      c.socket.destroy();
      await worker.drain(100);
    }
  });
});

/** A keep-alive client: one connection, one request at a time. */
interface Client {
  readonly socket: Socket;
  /** Sends a GET and resolves with the status line once the whole answer is in. */
  get(path: string): Promise<string>;
  closed(): boolean;
  /** Resolves when the connection has closed (at once if it has). */
  readonly whenClosed: Promise<void>;
}

function keepAliveClient(port: number): Promise<Client> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    let closed = false;
    let buffered = '';
    let waiting: ((answer: string) => void) | undefined;
    const whenClosed = new Promise<void>((done) =>
      socket.on('close', () => {
        closed = true;
        done();
      }),
    );
    socket.on('error', () => undefined);
    socket.on('data', (d: Buffer) => {
      buffered += d.toString();
      // Every answer here has a Content-Length; an answer is whole once that many body bytes are in.
      const end = buffered.indexOf('\r\n\r\n');
      const length = /content-length: (\d+)/i.exec(buffered);
      if (end === -1 || !length || buffered.length < end + 4 + Number(length[1])) return;
      const answer = buffered.slice(0, end + 4 + Number(length[1]));
      buffered = buffered.slice(answer.length);
      waiting?.(answer.slice(0, answer.indexOf('\r\n')));
    });
    socket.once('connect', () =>
      resolve({
        socket,
        get(path) {
          return new Promise((done) => {
            waiting = done;
            socket.write(`GET ${path} HTTP/1.1\r\nHost: x\r\n\r\n`);
          });
        },
        closed: () => closed,
        whenClosed,
      }),
    );
    socket.once('error', reject);
  });
}

/**
 * A client that pipelines: its first request and the first bytes of its second go out in one
 * write, before the first answer. The rest of the second request is sent by `finish()`.
 */
interface PipeliningClient {
  readonly socket: Socket;
  /** Everything written so far. */
  readonly written: number;
  /** Whole answers received so far (each has a Content-Length), their status lines. */
  answers(): string[];
  /** Sends the rest of the second request. */
  finish(): void;
}

async function pipeliningClient(port: number, first: string): Promise<PipeliningClient> {
  const socket = connect(port, '127.0.0.1');
  socket.on('error', () => undefined);
  await once(socket, 'connect');
  const statuses: string[] = [];
  let buffered = '';
  socket.on('data', (d: Buffer) => {
    buffered += d.toString();
    for (;;) {
      const end = buffered.indexOf('\r\n\r\n');
      const length = /content-length: (\d+)/i.exec(buffered);
      if (end === -1 || !length || buffered.length < end + 4 + Number(length[1])) return;
      statuses.push(buffered.slice(0, buffered.indexOf('\r\n')));
      buffered = buffered.slice(end + 4 + Number(length[1]));
    }
  });
  const start = `GET ${first} HTTP/1.1\r\nHost: x\r\n\r\nGET /second HTTP/1.1\r\nHost: x\r\n`;
  socket.write(start);
  return {
    socket,
    written: Buffer.byteLength(start),
    answers: () => statuses,
    finish: () => socket.write('\r\n'),
  };
}

describe('connection cap: idle keep-alive connections give way to new ones', () => {
  let worker: WorkerServer;
  let port: number;
  let clients: Client[];
  /** Connections that send no whole request. */
  let sockets: Socket[];
  /** The worker's side of each connection, in the order they came. */
  let serverSides: Socket[];
  let holding: ServerResponse[];

  beforeEach(async () => {
    const { settings } = loadSettings({ env: { CORRAL_ENV_FILE: 'none', CORRAL_BIND: '127.0.0.1:0', CORRAL_LOG_LEVEL: 'silent', CORRAL_KEEPALIVE: '60' } });
    const { logger } = createLogger(settings, { role: 'worker', worker: 1, generation: 1 });
    clients = [];
    sockets = [];
    serverSides = [];
    holding = [];
    worker = createWorkerServer(
      (req, res) => {
        if (req.url === '/hold') holding.push(res);
        else res.end('served');
      },
      { settings, logger, accessLogger: undefined, workerId: 1, generation: 1, perWorkerCap: 3, onServed: () => undefined },
    );
    worker.server.on('connection', (s: Socket) => serverSides.push(s));
    port = (await worker.listen()).port;
  });
  afterEach(async () => {
    for (const c of clients) c.socket.destroy();
    for (const s of sockets) s.destroy();
    for (const r of holding) r.end();
    await worker.drain(100);
  });

  /** `n` keep-alive connections that have each been answered once and now wait, oldest first. */
  async function idleClients(n: number): Promise<Client[]> {
    const made: Client[] = [];
    const idleBefore = worker.cap.idleNow();
    for (let i = 0; i < n; i++) {
      const c = await keepAliveClient(port);
      clients.push(c);
      made.push(c);
      assert.match(await c.get('/now'), / 200 /);
    }
    // Idle once ANSWERED_GRACE_MS passed since its answer with nothing read.
    while (worker.cap.idleNow() < idleBefore + n) await new Promise((r) => setTimeout(r, 50));
    return made;
  }

  it('admits a new connection at the cap by closing the longest-idle keep-alive connection', async () => {
    const [a, b, c] = (await idleClients(3)) as [Client, Client, Client];
    // a is used again: b has now waited longest.
    assert.match(await a.get('/again'), / 200 /);
    assert.match(await statusOf(port), / 200 /, 'the new client is served, not refused');
    await b.whenClosed;
    assert.equal(a.closed(), false);
    assert.equal(c.closed(), false);
    assert.match(await a.get('/still-open'), / 200 /);
    assert.match(await c.get('/still-open'), / 200 /);
    assert.equal(worker.cap.refused(), 0);
    assert.equal(worker.cap.idleClosed(), 1, 'counted for the heartbeat: the admin stats and /metrics');
  });

  it('closes an idle connection that gives way with a FIN, not a reset: its client sent nothing and may retry', async () => {
    const [a, b, c] = (await idleClients(3)) as [Client, Client, Client];
    const aClosed = howClosed(a.socket);
    assert.match(await statusOf(port), / 200 /, 'the new client is served');
    assert.equal(await aClosed, 'end', 'the idle keep-alive connection');
    // The new client has gone too: b, c and a connection that sends nothing fill the cap.
    while (worker.cap.active() > 2) await new Promise((r) => setTimeout(r, 5));
    const silent = connect(port, '127.0.0.1');
    sockets.push(silent);
    const silentClosed = howClosed(silent);
    await once(silent, 'connect');
    void b.get('/hold');
    void c.get('/hold');
    while (holding.length < 2) await new Promise((r) => setTimeout(r, 5));
    // Idle once it has sent nothing for SILENT_GRACE_MS.
    while (worker.cap.idleNow() < 1) await new Promise((r) => setTimeout(r, 50));
    assert.match(await statusOf(port), / 200 /, 'the new client is served in the slot of the silent one');
    assert.equal(await silentClosed, 'end', 'the silent connection');
  });

  it('still answers 503 at once when every connection has a request in flight', async () => {
    await idleClients(1);
    for (let i = 0; i < 2; i++) {
      const c = await keepAliveClient(port);
      clients.push(c);
      void c.get('/hold');
    }
    while (holding.length < 2) await new Promise((r) => setTimeout(r, 5));
    // The idle one gives way once; then all three are busy.
    assert.match(await statusOf(port), / 200 /);
    const busy = await keepAliveClient(port);
    clients.push(busy);
    void busy.get('/hold');
    while (holding.length < 3) await new Promise((r) => setTimeout(r, 5));
    const t0 = Date.now();
    assert.match(await statusOf(port), / 503 /);
    assert.ok(Date.now() - t0 < 1000, 'refused at once');
    assert.equal(worker.cap.active(), 3);
  });

  it('never closes a connection on which the next request has begun to arrive', async () => {
    const [a, b] = (await idleClients(3)) as [Client, Client, Client];
    // a, the longest idle, sends the first bytes of its next request; the worker reads them.
    const sideA = serverSides[0] as Socket;
    const readBefore = sideA.bytesRead;
    a.socket.write('GET /late HT');
    while (sideA.bytesRead === readBefore) await new Promise((r) => setTimeout(r, 5));
    assert.match(await statusOf(port), / 200 /);
    await b.whenClosed;
    assert.equal(a.closed(), false);
    // The rest of a's request: answered on the connection it came on.
    const answer = new Promise<string>((done) => a.socket.once('data', (d: Buffer) => done(d.toString())));
    a.socket.write('TP/1.1\r\nHost: x\r\n\r\n');
    assert.match(await answer, /^HTTP\/1\.1 200 /);
  });

  it('never closes a connection whose next request came pipelined before its answer was sent', async () => {
    // a sends its first request and the start of its second at once; the app holds the first
    // until the worker has read every byte of both.
    const a = await pipeliningClient(port, '/hold');
    sockets.push(a.socket);
    while (holding.length < 1 || (serverSides[0]?.bytesRead ?? 0) < a.written) await new Promise((r) => setTimeout(r, 5));
    const first = holding[0] as ServerResponse;
    first.end();
    // Its answer has left ('finish'): the worker's bookkeeping of it is done.
    while (!first.writableFinished) await new Promise((r) => setTimeout(r, 5));
    // b and c are idle after a: a, were it idle, would be the one to give way.
    const [b, c] = (await idleClients(2)) as [Client, Client];
    const aClosed = once(a.socket, 'close');
    assert.match(await statusOf(port), / 200 /, 'an idle connection gave way');
    await Promise.race([b.whenClosed, aClosed]);
    assert.equal(a.socket.destroyed, false, 'the second request a had begun to send keeps its connection');
    assert.equal(b.closed(), true, 'b, the longest idle, gave way');
    assert.equal(c.closed(), false);
    a.finish();
    while (a.answers().length < 2 && !a.socket.destroyed) await new Promise((r) => setTimeout(r, 5));
    assert.deepEqual(a.answers().map((line) => line.split(' ')[1]), ['200', '200'], 'both pipelined requests answered');
  });

  it('admits a new connection at the cap by closing one that has sent nothing for a second', async () => {
    // Connected, silent: a browser's preconnect. Without giving way it held its slot until the
    // headers timeout (60 s here) while new clients got the 503.
    const silent: Socket[] = [];
    for (let i = 0; i < 3; i++) {
      const s = connect(port, '127.0.0.1');
      s.on('error', () => undefined);
      await once(s, 'connect');
      silent.push(s);
      sockets.push(s);
    }
    while (worker.cap.active() < 3) await new Promise((r) => setTimeout(r, 5));
    const closed = once(silent[0] as Socket, 'close');
    // Within the grace its first request may be on its way: it keeps its slot.
    const t0 = Date.now();
    assert.match(await statusOf(port), / 503 /, 'silent for less than the grace');
    assert.ok(Date.now() - t0 < SILENT_GRACE_MS, 'answered before the grace ended');
    await new Promise((r) => setTimeout(r, SILENT_GRACE_MS + 100 - (Date.now() - t0)));
    assert.match(await statusOf(port), / 200 /, 'the new client is served, not refused');
    await closed;
    assert.equal(silent[1]?.destroyed, false);
    assert.equal(worker.cap.idleClosed(), 1);
  });

  it('never closes a connection whose first request has begun to arrive, however slowly', async () => {
    const slow: Socket[] = [];
    for (let i = 0; i < 3; i++) {
      const s = connect(port, '127.0.0.1');
      s.on('error', () => undefined);
      await once(s, 'connect');
      s.write('GET /slow HT');
      slow.push(s);
      sockets.push(s);
    }
    while (worker.cap.active() < 3 || serverSides.some((side) => side.bytesRead === 0)) await new Promise((r) => setTimeout(r, 5));
    await new Promise((r) => setTimeout(r, SILENT_GRACE_MS + 100));
    assert.match(await statusOf(port), / 503 /);
    assert.ok(slow.every((s) => !s.destroyed));
  });

  it('gives way within the slots this worker holds while the host is FULL, keeping its count', async () => {
    const [a, b] = (await idleClients(2)) as [Client, Client];
    worker.cap.setHostFull(true, 3, 3);
    const newcomer = await keepAliveClient(port);
    clients.push(newcomer);
    assert.match(await newcomer.get('/now'), / 200 /);
    await a.whenClosed;
    assert.equal(b.closed(), false);
    assert.equal(worker.cap.active(), 2, 'the idle connection gave its slot to the new one');
  });
});

// With shared accept a worker is held to the host's count in its gauge (connection-gauge.ts), and
// an idle connection's slot passes to the new connection in the gauge as in the worker's count.
describe('connection cap with a host gauge', { skip: process.arch !== 'x64' && 'the host_counters addon is built on x86-64 only' }, () => {
  it('at the host cap an idle connection gives its slot to a new one, and the host count neither leaks nor drops', async () => {
    const fd = createCounterTable(64, 4);
    const table = openCounterTable(fd);
    const hostTotal = () => table.addConnections(0, 0);
    // Another worker holds 1 of the host's 3: this one may hold 2, under its own cap of 10.
    table.addConnections(1, 1);
    const { settings } = loadSettings({ env: { CORRAL_ENV_FILE: 'none', CORRAL_BIND: '127.0.0.1:0', CORRAL_LOG_LEVEL: 'silent', CORRAL_KEEPALIVE: '60' } });
    const { logger } = createLogger(settings, { role: 'worker', worker: 1, generation: 1 });
    const holding: ServerResponse[] = [];
    const worker = createWorkerServer(
      (req, res) => {
        if (req.url === '/hold') holding.push(res);
        else res.end('served');
      },
      { settings, logger, accessLogger: undefined, workerId: 1, generation: 1, perWorkerCap: 10, hostGauge: { gauge: hostConnectionGauge(table, 2), max: 3 }, onServed: () => undefined },
    );
    const port = (await worker.listen()).port;
    const clients: Client[] = [];
    try {
      for (let i = 0; i < 2; i++) {
        const c = await keepAliveClient(port);
        clients.push(c);
        assert.match(await c.get('/now'), / 200 /);
      }
      // Idle once ANSWERED_GRACE_MS passed since their answers.
      while (worker.cap.idleNow() < 2) await new Promise((r) => setTimeout(r, 50));
      assert.equal(hostTotal(), 3);
      // The host is full, both of this worker's connections idle: the longest idle gives way.
      const newcomer = await keepAliveClient(port);
      clients.push(newcomer);
      void newcomer.get('/hold');
      await (clients[0] as Client).whenClosed;
      while (holding.length < 1) await new Promise((r) => setTimeout(r, 5));
      assert.equal(hostTotal(), 3, 'the slot passed over: counted once, released once');
      void (clients[1] as Client).get('/hold');
      while (holding.length < 2) await new Promise((r) => setTimeout(r, 5));
      assert.match(await statusOf(port), / 503 /, 'nothing idle: refused');
      for (const r of holding.splice(0)) r.end();
      for (const c of clients) c.socket.destroy();
      while (worker.cap.active() > 0) await new Promise((r) => setTimeout(r, 5));
      assert.equal(hostTotal(), 1, "only the other worker's connection is left counted");
    } finally {
      for (const c of clients) c.socket.destroy();
      for (const r of holding) r.end();
      await worker.drain(100);
      closeSync(fd);
    }
  });

  it('a refusal at the host cap says so, in its 503 and its log line, though other connections moved the counts before its request was read', async () => {
    const fd = createCounterTable(64, 4);
    const table = openCounterTable(fd);
    // Other workers hold the host's 3.
    table.addConnections(1, 3);
    const { settings } = loadSettings({ env: { CORRAL_ENV_FILE: 'none', CORRAL_BIND: '127.0.0.1:0', CORRAL_LOG_LEVEL: 'silent' } });
    const { logger, lines } = memoryLogger();
    const worker = createWorkerServer(
      (_req, res) => res.end('served'),
      { settings, logger, accessLogger: undefined, workerId: 1, generation: 1, perWorkerCap: 20, hostGauge: { gauge: hostConnectionGauge(table, 2), max: 3 }, onServed: () => undefined },
    );
    const accepted: Socket[] = [];
    worker.server.on('connection', (s: Socket) => accepted.push(s));
    const port = (await worker.listen()).port;
    const over = connect(port, '127.0.0.1');
    over.on('error', () => undefined);
    try {
      // Refused at the host's cap as it arrives; its request comes later.
      await once(over, 'connect');
      while (accepted.length < 1) await new Promise((r) => setTimeout(r, 5));
      // Meanwhile another worker frees a slot, and this worker takes a connection in it.
      table.addConnections(1, -1);
      assert.match(await statusOf(port), / 200 /);
      const answer = new Promise<string>((resolve) => {
        let out = '';
        over.on('data', (d: Buffer) => (out += d.toString()));
        over.on('close', () => resolve(out));
      });
      over.write('GET /now HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
      const text = await answer;
      assert.match(text, / 503 /);
      assert.match(text, /server full \(3\/3\)/, 'the count that refused it');
      const line = lines.find((l) => l.event === 'worker.connections_refused');
      assert.ok(line, 'the refusal is logged');
      assert.equal(line.host_full, true, 'the host was full, not this worker (it held none)');
      assert.equal(line.connections, 3);
      assert.equal(line.max_connections, 3);
      assert.match(String(line.msg), /^host full \(3\/3\)/);
    } finally {
      over.destroy();
      await worker.drain(100);
      closeSync(fd);
    }
  });

  it('when another worker wants room, never closes a connection whose next request came pipelined before its answer', async () => {
    const fd = createCounterTable(64, 4);
    const table = openCounterTable(fd);
    const { settings } = loadSettings({ env: { CORRAL_ENV_FILE: 'none', CORRAL_BIND: '127.0.0.1:0', CORRAL_LOG_LEVEL: 'silent', CORRAL_KEEPALIVE: '60' } });
    const { logger } = createLogger(settings, { role: 'worker', worker: 1, generation: 1 });
    const holding: ServerResponse[] = [];
    const serverSides: Socket[] = [];
    const worker = createWorkerServer(
      (req, res) => {
        if (req.url === '/hold') holding.push(res);
        else res.end('served');
      },
      { settings, logger, accessLogger: undefined, workerId: 1, generation: 1, perWorkerCap: 10, hostGauge: { gauge: hostConnectionGauge(table, 0), max: 3 }, onServed: () => undefined },
    );
    worker.server.on('connection', (s: Socket) => serverSides.push(s));
    const port = (await worker.listen()).port;
    const clients: Client[] = [];
    let a: PipeliningClient | undefined;
    try {
      a = await pipeliningClient(port, '/hold');
      const written = a.written;
      while (holding.length < 1 || (serverSides[0]?.bytesRead ?? 0) < written) await new Promise((r) => setTimeout(r, 5));
      const first = holding[0] as ServerResponse;
      first.end();
      while (!first.writableFinished) await new Promise((r) => setTimeout(r, 5));
      const b = await keepAliveClient(port);
      clients.push(b);
      assert.match(await b.get('/now'), / 200 /);
      while (worker.cap.idleNow() < 1) await new Promise((r) => setTimeout(r, 50));
      // Another worker, holding the host's third slot, refused a connection at the host cap with none idle of its own.
      const aClosed = once(a.socket, 'close');
      const bClosed = howClosed(b.socket);
      assert.equal(hostConnectionGauge(table, 1).take(3).total, 3);
      hostConnectionGauge(table, 1).wantRoom(3);
      await Promise.race([b.whenClosed, aClosed]);
      assert.equal(a.socket.destroyed, false, 'the second request a had begun to send keeps its connection');
      assert.equal(b.closed(), true, 'the idle one made room');
      assert.equal(await bClosed, 'end', 'with a FIN, not a reset: its client sent nothing and may retry');
      a.finish();
      while (a.answers().length < 2 && !a.socket.destroyed) await new Promise((r) => setTimeout(r, 5));
      assert.deepEqual(a.answers().map((line) => line.split(' ')[1]), ['200', '200'], 'both pipelined requests answered');
    } finally {
      a?.socket.destroy();
      for (const c of clients) c.socket.destroy();
      for (const r of holding) r.end();
      await worker.drain(100);
      closeSync(fd);
    }
  });
});

describe('room wanted by another worker when the host has room again', () => {
  it('closes no idle connection: the room freed since the refusal (a closed connection, a dead worker given back) is the retry\'s', async () => {
    const fd = createCounterTable(64, 4);
    const table = openCounterTable(fd);
    const { settings } = loadSettings({ env: { CORRAL_ENV_FILE: 'none', CORRAL_BIND: '127.0.0.1:0', CORRAL_LOG_LEVEL: 'silent', CORRAL_KEEPALIVE: '60' } });
    const { logger } = createLogger(settings, { role: 'worker', worker: 1, generation: 1 });
    const worker = createWorkerServer((_req, res) => res.end('served'), {
      settings,
      logger,
      accessLogger: undefined,
      workerId: 1,
      generation: 1,
      perWorkerCap: 10,
      hostGauge: { gauge: hostConnectionGauge(table, 0), max: 3 },
      onServed: () => undefined,
    });
    const port = (await worker.listen()).port;
    const other = hostConnectionGauge(table, 1);
    let idle: Client | undefined;
    try {
      idle = await keepAliveClient(port);
      assert.match(await idle.get('/now'), / 200 /);
      // The other worker refused at the cap (3 of 3 with its two), then its two connections closed
      // (or it died and the master gave its count back): the host holds 1 of 3.
      other.take(3);
      other.take(3);
      other.wantRoom(3);
      other.release();
      other.release();
      // The refusal is taken by the free room within a room check (100 ms), and nothing is closed.
      const deadline = Date.now() + 5000;
      while (table.roomWanted() > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      assert.equal(table.roomWanted(), 0, 'the refusal was made room for by the free slots');
      assert.equal(idle.closed(), false, 'the idle connection is kept');
      assert.match(await idle.get('/now'), / 200 /, 'and still serves');
      assert.equal(worker.cap.idleClosed(), 0);
    } finally {
      idle?.socket.destroy();
      await worker.drain(100);
      closeSync(fd);
    }
  });
});

describe('connection cap under an open-files limit (fdBudget)', () => {
  it('answers 503 at once, before any request, a connection past the descriptors it may spend, and counts it', async () => {
    const { settings } = loadSettings({ env: { CORRAL_ENV_FILE: 'none', CORRAL_BIND: '127.0.0.1:0', CORRAL_LOG_LEVEL: 'silent' } });
    const { logger } = createLogger(settings, { role: 'worker', worker: 1, generation: 1 });
    const holding: ServerResponse[] = [];
    const worker = createWorkerServer((req, res) => (req.url === '/hold' ? holding.push(res) : res.end('served')), {
      settings,
      logger,
      accessLogger: undefined,
      workerId: 1,
      generation: 1,
      perWorkerCap: 2,
      fdBudget: 3,
      onServed: () => undefined,
    });
    const port = (await worker.listen()).port;
    const sockets: Socket[] = [];
    const open = () => {
      const s = connect(port, '127.0.0.1');
      s.on('error', () => undefined);
      sockets.push(s);
      return s;
    };
    try {
      for (let i = 0; i < 2; i++) open().write('GET /hold HTTP/1.1\r\nHost: x\r\n\r\n');
      while (holding.length < 2) await new Promise((r) => setTimeout(r, 5));
      // Over the cap, within the budget: held, waiting for its request (as before).
      const waiting = open();
      await once(waiting, 'connect');
      await new Promise((r) => setTimeout(r, 50));
      // Past the budget: a 503 it reads without having sent a byte, and the connection closes.
      const t0 = Date.now();
      const past = open();
      let answer = '';
      past.on('data', (d: Buffer) => (answer += d.toString()));
      await once(past, 'close');
      assert.ok(Date.now() - t0 < 1500, `answered at once (${Date.now() - t0} ms)`);
      assert.match(answer, /^HTTP\/1\.1 503 Service Unavailable\r\n/);
      assert.match(answer, /\r\nRetry-After: 1\r\n/);
      assert.match(answer, /\r\nConnection: close\r\n/);
      const body = JSON.parse(answer.slice(answer.indexOf('\r\n\r\n') + 4)) as { error: string; message: string };
      assert.deepEqual(body, { error: 'server_full', message: 'server full (2/2)', retry_after: 1 });
      assert.equal(worker.cap.refused(), 1);
      assert.equal(worker.cap.active(), 2);
      assert.ok(!waiting.destroyed, 'the one within the budget still waits for its request');
    } finally {
      for (const s of sockets) s.destroy();
      for (const r of holding) r.end();
      await worker.drain(100);
    }
  });
});

describe('accept() failing once the worker listens', () => {
  it('is logged once per burst with its code, not thrown: the worker serves on', async () => {
    const { settings } = loadSettings({ env: { CORRAL_ENV_FILE: 'none', CORRAL_BIND: '127.0.0.1:0', CORRAL_LOG_LEVEL: 'silent' } });
    const { logger, lines } = memoryLogger();
    const worker = createWorkerServer((_req, res) => res.end('served'), { settings, logger, accessLogger: undefined, workerId: 1, generation: 1, perWorkerCap: 5, onServed: () => undefined });
    const port = (await worker.listen()).port;
    try {
      // What node's net.Server emits when libuv's accept() fails past its EMFILE fallback.
      const emfile = () => Object.assign(new Error('accept EMFILE'), { code: 'EMFILE', errno: -24, syscall: 'accept' });
      worker.server.emit('error', emfile());
      worker.server.emit('error', emfile());
      const failed = lines.filter((l) => l.event === 'worker.accept_failed');
      assert.equal(failed.length, 1);
      assert.equal(failed[0]?.code, 'CORRAL_ERR_FD_LIMIT');
      assert.equal(failed[0]?.errno, 'EMFILE');
      assert.match(await statusOf(port), / 200 /);
      // Any other error of the server is still thrown, as before.
      assert.throws(() => worker.server.emit('error', Object.assign(new Error('boom'), { syscall: 'listen' })), /boom/);
    } finally {
      await worker.drain(100);
    }
  });
});
