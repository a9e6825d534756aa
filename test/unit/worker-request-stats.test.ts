import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import { createServer, request, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { connect, type AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { createClientIpResolver } from '../../src/http/client-ip.js';
import { createRequestStats, type RequestStats } from '../../src/worker/request-stats.js';
import { captureLogger, type CapturedLogger } from '../fixtures/capture-logger.js';

describe('request stats', () => {
  let log: CapturedLogger;
  let stats: RequestStats;
  let server: Server;
  let base: string;
  const servedCalls: number[] = [];
  let held: (() => void) | undefined;
  before(async () => {
    log = await captureLogger('worker');
    stats = createRequestStats(log.logger, (n) => servedCalls.push(n));
    server = createServer((req, res) => {
      stats.track(req, res);
      if (req.url === '/fail') {
        res.writeHead(500).end('no');
      } else if (req.url === '/hang') {
        // Never answered: the client gives up first.
        held = () => res.end();
      } else {
        res.end('hello');
      }
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(async () => {
    held?.();
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
    log.close();
  });

  const accessLines = () => log.lines().filter((l) => l.event === 'access');

  it('counts every answer, the 5xx among them, and logs one access line each with its bytes', async () => {
    for (const path of ['/a', '/fail', '/b']) await (await fetch(`${base}${path}`)).text();
    await waitUntil(() => stats.served() === 3);
    assert.equal(stats.errors(), 1);
    assert.deepEqual(servedCalls, [1, 2, 3]);
    const lines = accessLines();
    assert.deepEqual(
      lines.map((l) => [l.method, l.path, l.status]),
      [
        ['GET', '/a', 200],
        ['GET', '/fail', 500],
        ['GET', '/b', 200],
      ],
    );
    for (const l of lines) {
      assert.equal(typeof l.ms, 'number');
      assert.ok((l.bytes as number) > 'hello'.length, 'bytes count the status line and headers too');
      assert.equal(l.remote, '127.0.0.1');
    }
  });

  it('logs 499 for a request whose client left before its answer, and reports a p99 once', async () => {
    const req = request(`${base}/hang`);
    const gone = new Promise<void>((resolve) => req.on('error', () => resolve()));
    req.end();
    // Left 50 ms after the server began the request, so the request lasted at least that long.
    await waitUntil(() => held !== undefined);
    setTimeout(() => req.destroy(), 50);
    await gone;
    await waitUntil(() => stats.served() === 4);
    assert.equal(accessLines().at(-1)?.status, 499);
    // Whose request it was matters most for the requests that went wrong.
    assert.equal(accessLines().at(-1)?.remote, '127.0.0.1');
    assert.equal(stats.errors(), 1);
    const { p99Ms: p99, buckets } = stats.takeLatency();
    assert.ok(p99 >= 45, `p99 ${p99} ms covers the request of about 50 ms`);
    // The four requests' durations, as bucket counts the master can add up.
    assert.equal(buckets.filter((_, i) => i % 2 === 1).reduce((a, n) => a + n, 0), 4);
    assert.deepEqual(stats.takeLatency(), { p99Ms: 0, buckets: [] }, 'reset after it was taken');
  });

  it('allClosed() resolves once every response open has closed, and so is counted', async () => {
    await stats.allClosed();
    held = undefined;
    const req = request(`${base}/hang`);
    req.on('error', () => {});
    req.end();
    await waitUntil(() => held !== undefined);
    let closed = false;
    const waiting = stats.allClosed().then(() => (closed = true));
    await new Promise((r) => setTimeout(r, 50));
    assert.equal(closed, false, 'a response is still open');
    const before = stats.served();
    // As a drain's forced close does: the response closes turns of the event loop later.
    server.closeAllConnections();
    await waiting;
    assert.equal(stats.served(), before + 1, 'counted by the time allClosed() resolves');
  });
});

describe('request stats, pipelined requests', () => {
  it('logs the bytes of each answer alone, not those of the answers queued before it on the connection', async () => {
    const log = await captureLogger('worker');
    const stats = createRequestStats(log.logger, () => undefined);
    const server = createServer((req, res) => {
      stats.track(req, res);
      // The first answer is late: the two requests pipelined behind it wait for it.
      if (req.url === '/late') setTimeout(() => res.end('x'.repeat(5000)), 30);
      else res.end('hello');
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    try {
      const socket = connect(port, '127.0.0.1');
      socket.on('error', () => undefined);
      let got = '';
      socket.on('data', (d: Buffer) => (got += d.toString('latin1')));
      const request = (path: string) => `GET ${path} HTTP/1.1\r\nHost: x\r\n\r\n`;
      socket.write(request('/late') + request('/a') + request('/b'));
      await waitUntil(() => stats.served() === 3);
      socket.destroy();
      const lines = log.lines().filter((l) => l.event === 'access');
      assert.deepEqual(lines.map((l) => l.path), ['/late', '/a', '/b']);
      // What the client read, answer by answer.
      const answers = got.split(/(?=HTTP\/1\.1 )/).map((a) => Buffer.byteLength(a, 'latin1'));
      assert.equal(answers.length, 3);
      assert.deepEqual(lines.map((l) => l.bytes), answers);
    } finally {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      log.close();
    }
  });
});

describe('request stats behind a trusted proxy', () => {
  it("names the forwarded client (client) beside the connection's peer (remote), and the proxy's X-Request-Id (request_id, bounded); each left out when there is none", async () => {
    const log = await captureLogger('worker');
    const stats = createRequestStats(log.logger, () => {}, createClientIpResolver(['127.0.0.1']));
    const server = createServer((req, res) => {
      stats.track(req, res);
      res.end('ok');
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
      await (await fetch(`${base}/forwarded`, { headers: { 'x-forwarded-for': '198.51.100.7', 'x-request-id': 'f3c1a2b4d5e6f7a8b9c0d1e2f3a4b5c6' } })).text();
      await (await fetch(`${base}/direct`)).text();
      await (await fetch(`${base}/long-id`, { headers: { 'x-request-id': 'x'.repeat(300) } })).text();
      await waitUntil(() => stats.served() === 3);
      const lines = log.lines().filter((l) => l.event === 'access');
      assert.deepEqual(lines.map((l) => [l.path, l.remote, l.client, l.request_id]), [
        ['/forwarded', '127.0.0.1', '198.51.100.7', 'f3c1a2b4d5e6f7a8b9c0d1e2f3a4b5c6'],
        ['/direct', '127.0.0.1', undefined, undefined],
        ['/long-id', '127.0.0.1', undefined, 'x'.repeat(128)],
      ]);
    } finally {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      log.close();
    }
  });
});

describe('request stats, a failing observer', () => {
  it('allClosed() still resolves when onServed throws while a response closes', async () => {
    const stats = createRequestStats(undefined, () => {
      throw new Error('observer failed');
    });
    const res = Object.assign(new EventEmitter(), { statusCode: 200 });
    stats.track({} as IncomingMessage, res as unknown as ServerResponse);
    assert.throws(() => res.emit('close'), /observer failed/);
    const closed = await Promise.race([stats.allClosed().then(() => true), new Promise<false>((r) => setTimeout(() => r(false), 500))]);
    assert.equal(closed, true, 'the response counts as closed');
    assert.equal(stats.served(), 1);
  });
});

async function waitUntil(check: () => boolean, ms = 5000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setImmediate(r));
  }
}
