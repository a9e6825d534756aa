import assert from 'node:assert/strict';
import { once } from 'node:events';
import type { RequestListener, ServerResponse } from 'node:http';
import { connect, type Socket } from 'node:net';
import { describe, it } from 'node:test';
import { loadSettings } from '../../src/config/load.js';
import { dropBodyAndClose, LINGER_MS } from '../../src/http/lingering-close.js';
import { createLogger } from '../../src/log/logger.js';
import { createWorkerServer, type WorkerServer } from '../../src/worker/server.js';
import { PIPELINE_READ_AHEAD, PIPELINE_WAITING_BUDGET, pipelinedWaiting } from '../../src/worker/pipelined-turn.js';

const GET = Buffer.from('GET / HTTP/1.1\r\nHost: x\r\n\r\n');

/** A worker whose app is `app`, with `env` over the tests' settings, listening on a port of its own. */
async function listeningWorker(app: RequestListener, env: Record<string, string> = {}): Promise<{ worker: WorkerServer; port: number }> {
  const { settings } = loadSettings({ env: { CORRAL_ENV_FILE: 'none', CORRAL_BIND: '127.0.0.1:0', CORRAL_LOG_LEVEL: 'silent', ...env } });
  const { logger } = createLogger(settings, { role: 'worker', worker: 1, generation: 1 });
  const worker = createWorkerServer(app, { settings, logger, accessLogger: undefined, workerId: 1, generation: 1, perWorkerCap: 10, onServed: () => undefined });
  const { port } = await worker.listen();
  return { worker, port };
}

/** A client connected to `port` that records every byte it is answered; `out()` is them so far, as text. */
function recordingClient(port: number): { client: Socket; out: () => string } {
  const client = connect(port, '127.0.0.1');
  client.on('error', () => undefined);
  let text = '';
  client.on('data', (d: Buffer) => (text += d.toString('latin1')));
  return { client, out: () => text };
}

/**
 * Waits for the app to hold its first answer, holds it 2.5 s (past a 1 s timeout and node's check
 * of it, every second), releases it, and gives the statuses answered once `count` came or the
 * connection ended (10 s at most).
 */
async function statusesAfterHold(held: () => ServerResponse | undefined, client: Socket, out: () => string, count: number): Promise<string[]> {
  while (!held()) await new Promise((r) => setTimeout(r, 10));
  await new Promise((r) => setTimeout(r, 2500));
  held()?.end('held');
  return statusesOnceAnswered(client, out, count);
}

/** The statuses answered on `client` once `count` came, the connection ended, or 10 s passed. */
async function statusesOnceAnswered(client: Socket, out: () => string, count: number): Promise<string[]> {
  const statuses = (): string[] => out().match(/HTTP\/1\.1 \d+/g) ?? [];
  const deadline = Date.now() + 10_000;
  while (statuses().length < count && !client.readableEnded && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  return statuses();
}

describe('requests pipelined behind one still being answered', () => {
  it('are not read without bound: the worker stops reading the connection until their turn, and then answers every one', async () => {
    let held: ServerResponse | undefined;
    let handled = 0;
    const { worker, port } = await listeningWorker(
      (req, res) => {
        handled++;
        if (req.url === '/hold') held = res;
        else res.end('ok');
      },
    );
    let serverSide: Socket | undefined;
    worker.server.on('connection', (s: Socket) => (serverSide = s));
    const client = connect(port, '127.0.0.1');
    client.on('error', () => undefined);
    try {
      await once(client, 'connect');
      client.write('GET /hold HTTP/1.1\r\nHost: x\r\n\r\n');
      // 40 000 requests (1.1 MB) pipelined behind the held one. node:http stops reading a connection
      // only when its answers back up; none is written while the first waits, so it read them all:
      // each a request and a response object kept until its turn (about 1.3 KB of heap per 27-byte
      // request: one client grew a worker by 436 MB in 5 s).
      const total = 40_000;
      client.write(Buffer.concat(Array<Buffer>(total).fill(GET)));
      await new Promise((r) => setTimeout(r, 1500));

      assert.ok(held, 'the first request is being handled');
      assert.ok(serverSide);
      assert.ok(serverSide.bytesRead < 128 * 1024, `the worker read ${serverSide.bytesRead} bytes of requests it cannot answer yet (${handled - 1} handed over)`);
      // Released, every request is answered, in order, none lost to the pause.
      let out = '';
      client.on('data', (d: Buffer) => (out += d.toString('latin1')));
      held.end('held');
      const deadline = Date.now() + 30_000;
      while ((out.match(/HTTP\/1\.1 200/g)?.length ?? 0) < total + 1 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      assert.equal(out.match(/HTTP\/1\.1 200/g)?.length, total + 1);
      assert.equal(handled, total + 1);
    } finally {
      client.destroy();
      await worker.drain(100);
    }
  });

  it('many connections each pipelining a read of requests behind a held answer do not run the worker out of heap: past the budget they are closed, and a connection within it is answered whole', async () => {
    const { settings } = loadSettings({ env: { CORRAL_ENV_FILE: 'none', CORRAL_BIND: '127.0.0.1:0', CORRAL_LOG_LEVEL: 'silent' } });
    const { logger } = createLogger(settings, { role: 'worker', worker: 1, generation: 1 });
    const warned: unknown[] = [];
    logger.warn = ((fields: unknown) => void warned.push(fields)) as typeof logger.warn;
    const held: ServerResponse[] = [];
    const worker = createWorkerServer(
      (req, res) => {
        if (req.url === '/hold') held.push(res);
        else res.end('ok');
      },
      { settings, logger, accessLogger: undefined, workerId: 1, generation: 1, perWorkerCap: 100, onServed: () => undefined },
    );
    const { port } = await worker.listen();
    // One read of requests (node:http parses the whole read at hand before its pause): 64 KB of
    // 27-byte GETs, about 2,400 request and response objects (about 2 KB of heap each) kept until
    // their turn. 40 such connections held about 190 MB; the default cap of 1000 a worker, 5 GB.
    const perConnection = Math.floor((64 * 1024 - 64) / GET.length);
    // How much of it one read holds varies (loopback hands it over in pieces): connections are
    // opened until the worker closes one, at most enough to hold three times the budget.
    const connections = Math.ceil((PIPELINE_WAITING_BUDGET * 3) / perConnection);
    const clients: Socket[] = [];
    // The worker's side: a client that reads nothing never sees its connection close.
    const closed = new Set<Socket>();
    worker.server.on('connection', (s: Socket) => s.once('close', () => closed.add(s)));
    try {
      const first = connect(port, '127.0.0.1');
      first.on('error', () => undefined);
      let firstOut = '';
      first.on('data', (d: Buffer) => (firstOut += d.toString('latin1')));
      await once(first, 'connect');
      first.write(Buffer.concat([Buffer.from('GET /hold HTTP/1.1\r\nHost: x\r\n\r\n'), ...Array<Buffer>(perConnection).fill(GET)]));
      while (held.length < 1) await new Promise((r) => setTimeout(r, 10));
      for (let i = 0; i < connections && closed.size === 0; i++) {
        const client = connect(port, '127.0.0.1');
        client.on('error', () => undefined);
        // Reads none of its answers (none comes anyway while its first is held).
        client.pause();
        clients.push(client);
        await once(client, 'connect');
        client.write(Buffer.concat([Buffer.from('GET /hold HTTP/1.1\r\nHost: x\r\n\r\n'), ...Array<Buffer>(perConnection).fill(GET)]));
        await new Promise((r) => setTimeout(r, 20));
      }
      const deadline = Date.now() + 10_000;
      while (closed.size === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      await new Promise((r) => setTimeout(r, 500));
      assert.ok(closed.size > 0, `no connection was closed: ${pipelinedWaiting()} requests wait in the worker`);
      // Within the budget, and one connection's read past it at most.
      assert.ok(pipelinedWaiting() <= PIPELINE_WAITING_BUDGET + perConnection, `${pipelinedWaiting()} requests wait in the worker`);
      assert.equal(warned.filter((w) => (w as { event?: string }).event === 'request.pipeline_overflow').length, 1, 'told once for the burst');
      // The first connection, within the budget, is answered whole once its held answer goes out.
      held[0]?.end('held');
      const answered = (): number => firstOut.match(/HTTP\/1\.1 200/g)?.length ?? 0;
      const until = Date.now() + 20_000;
      while (answered() < perConnection + 1 && Date.now() < until) await new Promise((r) => setTimeout(r, 20));
      assert.equal(answered(), perConnection + 1);
      assert.ok(PIPELINE_READ_AHEAD < perConnection);
      first.destroy();
    } finally {
      for (const client of clients) client.destroy();
      for (const res of held) res.destroy();
      await worker.drain(100);
    }
  });

  it('a few waiting are read on: a request whose head came in two reads is answered, not refused 408 past CORRAL_HEADERS_TIMEOUT while it waits unread', async () => {
    let held: ServerResponse | undefined;
    const { worker, port } = await listeningWorker(
      (req, res) => {
        if (req.url === '/hold') held = res;
        else res.end(`ok ${req.url}`);
      },
      { CORRAL_HEADERS_TIMEOUT: '1' },
    );
    const { client, out } = recordingClient(port);
    try {
      await once(client, 'connect');
      client.write('GET /hold HTTP/1.1\r\nHost: x\r\n\r\nGET /b HTTP/1.1\r\nHost: x\r\n\r\nGET /c HTTP/1.1\r\nHo');
      while (!held) await new Promise((r) => setTimeout(r, 10));
      client.write('st: x\r\n\r\n');
      // Held past the headers timeout (1 s) and node's check of it (every second): /c, read whole,
      // waits its turn; left unread, its head was still "being received" and answered 408.
      await new Promise((r) => setTimeout(r, 2500));
      held.end('held');
      assert.deepEqual(await statusesOnceAnswered(client, out, 3), ['HTTP/1.1 200', 'HTTP/1.1 200', 'HTTP/1.1 200'], out());
      assert.match(out(), /ok \/c$/);
    } finally {
      client.destroy();
      await worker.drain(100);
    }
  });

  it('a client pipelining past the read-ahead has every request it sent whole answered, not refused 408 for a head the worker left unread', async () => {
    let held: ServerResponse | undefined;
    let handled = 0;
    const { worker, port } = await listeningWorker(
      (req, res) => {
        handled++;
        if (req.url === '/hold') held = res;
        else res.end('ok');
      },
      { CORRAL_HEADERS_TIMEOUT: '1' },
    );
    const { client, out } = recordingClient(port);
    try {
      await once(client, 'connect');
      // 499-byte requests: a read (64 KiB at most) ends inside one but for one chance in 499. The
      // worker stops reading past PIPELINE_READ_AHEAD waiting, after the read at hand: the head cut
      // by that read's end, begun, waits unread in the socket until fewer wait.
      const padded = Buffer.from(`GET / HTTP/1.1\r\nHost: x\r\nX-Pad: ${'p'.repeat(499 - 36)}\r\n\r\n`);
      assert.equal(padded.length, 499);
      const total = 400;
      client.write(Buffer.concat([Buffer.from('GET /hold HTTP/1.1\r\nHost: x\r\n\r\n'), ...Array<Buffer>(total).fill(padded)]));
      const statuses = await statusesAfterHold(() => held, client, out, total + 1);
      assert.deepEqual(statuses.filter((s) => s !== 'HTTP/1.1 200'), [], `${statuses.length} answers`);
      assert.equal(statuses.length, total + 1);
      assert.equal(handled, total + 1);
    } finally {
      client.destroy();
      await worker.drain(100);
    }
  });

  it('a client pipelining past the read-ahead has every request whose body it sent whole answered, not refused 408 for a body the worker left unread', async () => {
    let held: ServerResponse | undefined;
    const bodies: number[] = [];
    const { worker, port } = await listeningWorker(
      (req, res) => {
        if (req.url === '/hold') {
          held = res;
          return;
        }
        let length = 0;
        req.on('data', (d: Buffer) => (length += d.length));
        req.on('end', () => {
          bodies.push(length);
          res.end('ok');
        });
      },
      { CORRAL_HEADERS_TIMEOUT: '1', CORRAL_REQUEST_TIMEOUT: '1' },
    );
    const { client, out } = recordingClient(port);
    try {
      await once(client, 'connect');
      // Bodies of 2,000 bytes: the read the worker stops after ends inside one but for one chance in
      // 30. node:http times the whole request (CORRAL_REQUEST_TIMEOUT) until its body is read.
      const post = Buffer.from(`POST /e HTTP/1.1\r\nHost: x\r\nContent-Length: 2000\r\n\r\n${'b'.repeat(2000)}`);
      const total = 100;
      client.write(Buffer.concat([Buffer.from('GET /hold HTTP/1.1\r\nHost: x\r\n\r\n'), ...Array<Buffer>(total).fill(post)]));
      const statuses = await statusesAfterHold(() => held, client, out, total + 1);
      assert.deepEqual(statuses.filter((s) => s !== 'HTTP/1.1 200'), [], `${statuses.length} answers`);
      assert.equal(statuses.length, total + 1);
      assert.deepEqual(bodies, Array<number>(total).fill(2000));
    } finally {
      client.destroy();
      await worker.drain(100);
    }
  });

  it('a body pipelined behind an answer held past CORRAL_REQUEST_TIMEOUT, more than node:http reads ahead of its reader, is not refused 408: no one may read it before its turn', async () => {
    let held: ServerResponse | undefined;
    const { worker, port } = await listeningWorker(
      (req, res) => {
        if (req.url === '/hold') {
          held = res;
          return;
        }
        let length = 0;
        req.on('data', (d: Buffer) => (length += d.length));
        req.on('end', () => res.end(`${req.url} ${length}`));
      },
      { CORRAL_HEADERS_TIMEOUT: '1', CORRAL_REQUEST_TIMEOUT: '1' },
    );
    const { client, out } = recordingClient(port);
    try {
      await once(client, 'connect');
      // node:http stops reading once a request's body fills what it buffers for its reader (16 KiB):
      // this one waits its turn, so the rest of it waits unread until the held answer is sent.
      client.write(Buffer.concat([Buffer.from('GET /hold HTTP/1.1\r\nHost: x\r\n\r\nPOST /big HTTP/1.1\r\nHost: x\r\nContent-Length: 200000\r\n\r\n'), Buffer.alloc(200_000, 98), Buffer.from('GET /after HTTP/1.1\r\nHost: x\r\n\r\n')]));
      while (!held) await new Promise((r) => setTimeout(r, 10));
      await new Promise((r) => setTimeout(r, 2500));
      held.end('held');
      await statusesOnceAnswered(client, out, 3);
      // One more on the connection: a 408 queued behind the answers came here instead, and closed it.
      client.write('GET /last HTTP/1.1\r\nHost: x\r\n\r\n');
      assert.deepEqual(await statusesOnceAnswered(client, out, 4), ['HTTP/1.1 200', 'HTTP/1.1 200', 'HTTP/1.1 200', 'HTTP/1.1 200'], out());
      assert.match(out(), /\/big 200000[^]*\/after 0[^]*\/last 0$/);
    } finally {
      client.destroy();
      await worker.drain(100);
    }
  });

  it("a body the app's handler reads no more of is still bounded by CORRAL_REQUEST_TIMEOUT: answered 408 while node:http reads none of it", async () => {
    let handled = 0;
    // Neither reads the body nor answers: node:http stops reading once it holds 16 KiB of it.
    const { worker, port } = await listeningWorker(() => void handled++, { CORRAL_HEADERS_TIMEOUT: '1', CORRAL_REQUEST_TIMEOUT: '1' });
    const { client, out } = recordingClient(port);
    try {
      await once(client, 'connect');
      client.write(Buffer.concat([Buffer.from('POST /big HTTP/1.1\r\nHost: x\r\nContent-Length: 200000\r\n\r\n'), Buffer.alloc(200_000, 98)]));
      await statusesOnceAnswered(client, out, 1);
      assert.equal(handled, 1);
      assert.match(out(), /^HTTP\/1\.1 408 [^]*"error":"request_timeout"/);
    } finally {
      client.destroy();
      await worker.drain(100);
    }
  });

  it('a head the worker left unread is timed again once read: its client, sending no more of it, is answered 408 a headers timeout after that', async () => {
    let held: ServerResponse | undefined;
    const { worker, port } = await listeningWorker(
      (req, res) => {
        if (req.url === '/hold') held = res;
        else res.end('ok');
      },
      { CORRAL_HEADERS_TIMEOUT: '1' },
    );
    const { client, out } = recordingClient(port);
    try {
      await once(client, 'connect');
      // Past the read-ahead, in one read: the worker stops reading after it, with the last head begun.
      const waiting = PIPELINE_READ_AHEAD + 8;
      client.write(Buffer.concat([Buffer.from('GET /hold HTTP/1.1\r\nHost: x\r\n\r\n'), ...Array<Buffer>(waiting).fill(GET), Buffer.from('GET /slow HTTP/1.1\r\nHo')]));
      while (!held) await new Promise((r) => setTimeout(r, 10));
      // Past the headers timeout and node's check of it while the connection is not read.
      await new Promise((r) => setTimeout(r, 2500));
      const released = Date.now();
      held.end('held');
      await once(client, 'end');
      const ended = Date.now() - released;
      const statuses = out().match(/HTTP\/1\.1 \d+/g) ?? [];
      assert.deepEqual(statuses, [...Array<string>(waiting + 1).fill('HTTP/1.1 200'), 'HTTP/1.1 408']);
      assert.match(out(), /"error":"request_timeout"/);
      // Its time counts from when the connection is read again (just after the release), not before.
      assert.ok(ended >= 900 && ended < 5000, `408 ${ended} ms after the release`);
    } finally {
      client.destroy();
      await worker.drain(100);
    }
  });

  it("no longer hold the connection when the answer before them refuses and closes it: the client's end is read", async () => {
    // A refusal that closes with the body unread, after a wait (the bundled app's 401 once its token is checked).
    const { worker, port } = await listeningWorker(
      (req, res) =>
        void setTimeout(() => {
          dropBodyAndClose(req, res);
          res.writeHead(401);
          res.end('refused');
        }, 50),
    );
    const serverClosed = new Promise<number>((resolve) => worker.server.once('connection', (s: Socket) => s.once('close', () => resolve(Date.now()))));
    const client = connect(port, '127.0.0.1');
    client.on('error', () => undefined);
    try {
      await once(client, 'connect');
      const started = Date.now();
      let out = '';
      client.on('data', (d: Buffer) => (out += d.toString('latin1')));
      client.write('POST /api/events HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhelloGET /next HTTP/1.1\r\nHost: x\r\n\r\n');
      // The client reads the 401 and the worker's end, and closes its side at once.
      await once(client, 'close');
      assert.match(out, /^HTTP\/1\.1 401/);
      const ms = (await serverClosed) - started;
      assert.ok(ms < LINGER_MS / 2, `the worker held the connection ${ms} ms after its client closed it`);
    } finally {
      client.destroy();
      await worker.drain(100);
    }
  });
});
