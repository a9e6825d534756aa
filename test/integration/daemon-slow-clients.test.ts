import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { connect, type Socket } from 'node:net';
import { test } from 'node:test';
import { startCorral, waitFor } from '../helpers/corral.js';
import { http } from '../helpers/http.js';

function portOf(url: string): number {
  return Number(new URL(url).port);
}

function open(port: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const s = connect(port, '127.0.0.1', () => resolve(s));
    s.once('error', reject);
  });
}

/** Resolves when `s` closes, with how long that took; rejects after `timeoutMs`. */
function closedWithin(s: Socket, timeoutMs: number, what: string): Promise<number> {
  const t0 = Date.now();
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`${what}: still open after ${timeoutMs} ms`)), timeoutMs);
    s.once('close', () => {
      clearTimeout(t);
      resolve(Date.now() - t0);
    });
  });
}

test('a client that never reads its answers is cut after CORRAL_SEND_TIMEOUT; a slow handler and idle keep-alive keep their own rules', async () => {
  const c = await startCorral({ app: 'basic.mjs', workers: 1, env: { CORRAL_SEND_TIMEOUT: '1', CORRAL_KEEPALIVE: '2' } });
  const sockets: Socket[] = [];
  try {
    // An answer that is never read: the worker writes until the socket's buffers are full (a few
    // MiB on loopback while the client reads nothing), then it can make no progress. Pipelined
    // small answers filled them too, but only after some 18,000 of them, which a loaded host took
    // over 10 s to serve.
    const reader = await open(portOf(c.url));
    sockets.push(reader);
    reader.on('error', () => undefined);
    reader.pause();
    reader.write('GET /big?kib=32768 HTTP/1.1\r\nHost: x\r\n\r\n');
    const cut = await c.waitForLog((l) => l.event === 'request.send_timeout', 10_000, 'request.send_timeout');
    assert.equal(cut.path, '/big');
    assert.equal(cut.timeout_s, 1);
    assert.ok(Number(cut.unsent_bytes) > 0);
    // Reset, not closed: a normal close left the unsent megabytes in the kernel, an orphan
    // (FIN-WAIT-1, its Send-Q full) probing the client's zero window for minutes.
    // The worker's end of this connection alone: another test's may share the reader's port number.
    const serverSide = await waitFor(() => {
      const out = execFileSync('ss', ['-tanH', 'exclude', 'time-wait', `( sport = :${portOf(c.url)} and dport = :${reader.localPort} )`], { encoding: 'utf8' }).trim();
      return out === '' ? 'gone' : undefined;
    }, 5000, "the worker's side of the cut connection gone from the kernel");
    assert.equal(serverSide, 'gone');
    reader.resume();
    await closedWithin(reader, 5000, 'the stalled connection');
    // Never delivered in full: the access line says so as it does for a client that left.
    const access = await c.waitForLog((l) => l.event === 'access' && l.path === '/big?kib=32768' && l.status === 499, 5000, 'the cut answer as 499');
    assert.equal(access.cut, 'send_timeout', 'the worker cut it: not a client that went away');
    // What the socket still held is not counted as sent (node:http took the answer whole).
    assert.ok(Number(access.bytes) <= 32 * 1024 * 1024 - Number(cut.unsent_bytes) + 1024, `access bytes ${String(access.bytes)}, unsent ${String(cut.unsent_bytes)}`);

    // A handler slower than the send timeout, its bytes all sent so far: not the client's stall.
    const slow = await http(`${c.url}/sleep?ms=2500`);
    assert.equal(slow.status, 200);
    assert.equal(slow.json().slept, 2500);

    // An idle keep-alive connection still closes at CORRAL_KEEPALIVE (node:http's own close is
    // replaced by the send timeout's listener).
    const idle = await open(portOf(c.url));
    sockets.push(idle);
    let answer = '';
    idle.on('data', (d: Buffer) => (answer += d.toString()));
    idle.write('GET / HTTP/1.1\r\nHost: x\r\n\r\n');
    const ms = await closedWithin(idle, 6000, 'the idle keep-alive connection');
    assert.match(answer, /^HTTP\/1\.1 200 /);
    assert.ok(ms >= 1500, `closed after ${ms} ms, not before the keep-alive timeout`);
  } finally {
    for (const s of sockets) s.destroy();
    await c.stop();
  }
});
