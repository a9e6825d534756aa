// Capacity on the real master: connections held open move the status LOW -> WARNING -> FULL, the
// alerts are logged once per crossing, FULL answers 503 "server full" with Retry-After, and
// closing connections brings the status (and service) back.

import assert from 'node:assert/strict';
import { connect, type Socket } from 'node:net';
import { after, before, describe, it, test } from 'node:test';
import { startCorral, waitFor, type CorralProcess } from '../helpers/corral.js';
import { http } from '../helpers/http.js';
import { CAPACITY_RECOVER_MS } from '../../src/master/alerts.js';

const TOKEN = 'integration-admin-token-1234';

interface Capacity {
  current_connections: number;
  idle_connections: number;
  peak_busy_connections: number;
  refused_last_interval: number;
  idle_closed_last_interval: number;
  max_connections: number;
  percent_used: number;
  available_slots: number;
  status: string;
  can_accept_new: boolean;
}

/**
 * A keep-alive connection that completed one request and has begun its next, counted by its
 * worker. Begun, not idle: at the cap an idle one gives way to a new connection. The tests that
 * use it set CORRAL_HEADERS_TIMEOUT and CORRAL_REQUEST_TIMEOUT above their own length.
 */
async function holdConnection(port: number, busy = true): Promise<{ socket: Socket; status: number }> {
  const socket = connect(port, '127.0.0.1');
  await new Promise<void>((resolve, reject) => socket.once('connect', resolve).once('error', reject));
  socket.write('GET /api/admin/health HTTP/1.1\r\nHost: test\r\nConnection: keep-alive\r\n\r\n');
  const head = await new Promise<string>((resolve, reject) => {
    let buf = '';
    socket.on('data', (d: Buffer) => {
      buf += d.toString();
      if (buf.includes('\r\n\r\n')) resolve(buf);
    });
    socket.once('error', reject);
  });
  const status = Number(head.split(' ')[1]);
  socket.on('error', () => undefined);
  if (busy && status === 200) socket.write('GET /api/admin/health HTTP/1.1\r\n');
  return { socket, status };
}

describe('capacity on the real master', () => {
  let c: CorralProcess;
  const sockets: Socket[] = [];
  const capacity = async () =>
    (await http(`${c.adminUrl}/api/admin/capacity`, { headers: { authorization: `Bearer ${TOKEN}` } })).json<{ success: boolean; capacity: Capacity }>();
  const waitStatus = (want: string, current: number) =>
    waitFor(async () => {
      const body = await capacity();
      return body.capacity.status === want && body.capacity.current_connections === current ? body.capacity : undefined;
    }, 10_000, `capacity ${want} with ${current} connections`);

  before(async () => {
    c = await startCorral({
      workers: 2,
      env: { CORRAL_WORKER_CONNECTIONS: '5', CORRAL_KEEPALIVE: '120', CORRAL_HEADERS_TIMEOUT: '120', CORRAL_REQUEST_TIMEOUT: '120', CORRAL_ADMIN_TOKEN: TOKEN, CORRAL_RATE_LIMIT: '0' },
    });
  });
  after(async () => {
    for (const s of sockets) s.destroy();
    await c?.stop();
  });

  it('moves LOW -> WARNING -> FULL as connections are held open, and FULL answers 503', async () => {
    const port = Number(new URL(c.url).port);
    const hold = async (n: number) => {
      for (let i = 0; i < n; i++) {
        const h = await holdConnection(port);
        assert.equal(h.status, 200);
        sockets.push(h.socket);
      }
    };
    assert.deepEqual((await capacity()).capacity, {
      current_connections: 0,
      idle_connections: 0,
      peak_busy_connections: 0,
      refused_last_interval: 0,
      idle_closed_last_interval: 0,
      max_connections: 10,
      percent_used: 0,
      available_slots: 10,
      status: 'LOW',
      can_accept_new: true,
    });
    await hold(3);
    assert.equal((await waitStatus('LOW', 3)).percent_used, 30);
    await hold(5);
    assert.equal((await waitStatus('WARNING', 8)).available_slots, 2);
    await hold(2);
    const full = await waitStatus('FULL', 10);
    assert.equal(full.can_accept_new, false);
    assert.equal(full.percent_used, 100);

    // Over capacity: the worker answers at once with 503, Retry-After, and closes.
    const refused = await waitFor(async () => {
      const r = await http(`${c.url}/api/players`, { headers: { connection: 'close' } });
      return r.status === 503 ? r : undefined;
    }, 5000, 'a 503 once FULL');
    assert.equal(refused.headers['retry-after'], '1');
    const body = refused.json<{ error: string; message: string }>();
    assert.equal(body.error, 'server_full');
    assert.match(body.message, /^server full \(\d+\/\d+\)$/);

    // The alerts: each level logged once.
    await c.waitForLog((l) => l.event === 'capacity.alert' && l.threshold === 100, 5000, 'the 100 % alert');
    assert.deepEqual(c.events('capacity.alert').map((l) => l.threshold), [80, 95, 100]);

    // Freeing connections brings service back.
    for (const s of sockets.splice(0, 6)) s.destroy();
    await waitStatus('LOW', 4);
    await waitFor(async () => (await http(`${c.url}/api/players`, { headers: { connection: 'close' } })).status === 200, 5000, 'service back');
    // Once under the band for CAPACITY_RECOVER_MS: a figure swinging beat to beat is no recovery.
    const recovered = await c.waitForLog((l) => l.event === 'capacity.recovered' && l.threshold === 80, CAPACITY_RECOVER_MS + 10_000, 'the recovery line');
    assert.ok(Number(recovered.under_for_s) >= CAPACITY_RECOVER_MS / 1000, JSON.stringify(recovered));
  });
});

test('after TTOU the remaining worker takes over the departed worker\'s share of CORRAL_MAX_CONNECTIONS', async () => {
  // Round-robin: 2 workers share a host cap of 4, 2 each. With one worker left, it may hold all 4.
  // (With shared accept a worker is held to the host's count itself: daemon-accept.test.ts.)
  // CORRAL_GRACEFUL_TIMEOUT=2: a retiring worker lets idle keep-alive connections (the start-up
  // probe's, say) run to their timeout, which is long here so the held connections stay open.
  const c = await startCorral({
    workers: 2,
    env: { CORRAL_ACCEPT: 'round-robin', CORRAL_MAX_CONNECTIONS: '4', CORRAL_KEEPALIVE: '120', CORRAL_HEADERS_TIMEOUT: '120', CORRAL_REQUEST_TIMEOUT: '120', CORRAL_GRACEFUL_TIMEOUT: '2', CORRAL_RATE_LIMIT: '0' },
  });
  const sockets: Socket[] = [];
  try {
    c.kill('SIGTTOU');
    const exit = await c.waitForLog((l) => l.event === 'worker.exit' && l.reason === 'scale-down', 15_000, 'one worker retired');
    const cap = await c.waitForLog((l) => l.event === 'worker.cap' && l.pid !== exit.worker_pid, 10_000, 'the remaining worker told its new cap');
    assert.equal(cap.cap, 4);
    assert.match(String(cap.msg), /^connection cap now 4 \(this worker's share of the host's cap, from the master's worker count\)$/);
    const port = Number(new URL(c.url).port);
    for (let i = 0; i < 4; i++) {
      const h = await holdConnection(port);
      sockets.push(h.socket);
      assert.equal(h.status, 200, `connection ${i + 1} of 4`);
    }
    const over = await holdConnection(port);
    sockets.push(over.socket);
    assert.equal(over.status, 503);
  } finally {
    for (const s of sockets) s.destroy();
    await c.stop();
  }
});

test('round-robin: the workers\' shares of a CORRAL_MAX_CONNECTIONS that does not divide evenly add up to it, never more', async () => {
  // 5 over 2 workers: 3 and 2. Rounded up for both, the host held 6 and the capacity said 120 %.
  const c = await startCorral({
    workers: 2,
    env: { CORRAL_ACCEPT: 'round-robin', CORRAL_MAX_CONNECTIONS: '5', CORRAL_KEEPALIVE: '120', CORRAL_HEADERS_TIMEOUT: '120', CORRAL_REQUEST_TIMEOUT: '120', CORRAL_ADMIN_TOKEN: TOKEN, CORRAL_RATE_LIMIT: '0' },
  });
  const sockets: Socket[] = [];
  const capacity = async () => (await http(`${c.adminUrl}/api/admin/capacity`, { headers: { authorization: `Bearer ${TOKEN}` } })).json<{ capacity: Capacity }>().capacity;
  try {
    // Each booted with the smaller share; the master gives the first by slot one more.
    const larger = await c.waitForLog((l) => l.event === 'worker.cap' && l.cap === 3, 10_000, 'a worker told the larger share');
    assert.equal(c.events('worker.cap').filter((l) => l.pid !== larger.pid).length, 0, 'the other keeps the smaller share');
    const port = Number(new URL(c.url).port);
    // The master deals connections in turn: eight give each worker more than its share.
    const statuses: number[] = [];
    for (let i = 0; i < 8; i++) {
      const h = await holdConnection(port);
      sockets.push(h.socket);
      statuses.push(h.status);
    }
    assert.equal(statuses.filter((s) => s === 200).length, 5, `answers: ${statuses.join(', ')}`);
    const held = await waitFor(async () => {
      const cap = await capacity();
      return cap.current_connections === 5 && cap.idle_connections === 0 ? cap : undefined;
    }, 10_000, 'five busy connections counted');
    assert.deepEqual([held.max_connections, held.percent_used, held.status, held.available_slots], [5, 100, 'FULL', 0]);
  } finally {
    for (const s of sockets) s.destroy();
    await c.stop();
  }
});

test('slots held by idle keep-alive connections are not FULL: the status counts busy ones, and a new client is served', async () => {
  // Idle connections give their slot to a new client at the cap, so a host whose slots they hold
  // has room: FULL there (as the status said before) would have operators add workers for nothing.
  const c = await startCorral({
    workers: 1,
    env: { CORRAL_WORKER_CONNECTIONS: '4', CORRAL_KEEPALIVE: '120', CORRAL_HEADERS_TIMEOUT: '120', CORRAL_REQUEST_TIMEOUT: '120', CORRAL_ADMIN_TOKEN: TOKEN, CORRAL_RATE_LIMIT: '0' },
  });
  const sockets: Socket[] = [];
  const capacity = async () => (await http(`${c.adminUrl}/api/admin/capacity`, { headers: { authorization: `Bearer ${TOKEN}` } })).json<{ capacity: Capacity }>().capacity;
  try {
    const port = Number(new URL(c.url).port);
    for (const busy of [true, true, false, false]) {
      const h = await holdConnection(port, busy);
      assert.equal(h.status, 200);
      sockets.push(h.socket);
    }
    const held = await waitFor(async () => {
      const cap = await capacity();
      // And a beat later, the peak of the requests that made them is past: two busy.
      return cap.current_connections === 4 && cap.idle_connections === 2 && cap.peak_busy_connections === 2 ? cap : undefined;
    }, 10_000, 'every slot held, two of them idle');
    assert.deepEqual(held, { current_connections: 4, idle_connections: 2, peak_busy_connections: 2, refused_last_interval: 0, idle_closed_last_interval: 0, max_connections: 4, percent_used: 50, available_slots: 2, status: 'HEALTHY', can_accept_new: true });
    // can_accept_new tells the truth: a new client takes an idle slot.
    assert.equal((await http(`${c.url}/api/admin/health`, { headers: { connection: 'close' } })).status, 200);
    const metrics = (await http(`${c.adminUrl}/metrics`, { headers: { authorization: `Bearer ${TOKEN}` } })).text;
    assert.match(metrics, /^corral_connections_idle \d+$/m);
  } finally {
    for (const s of sockets) s.destroy();
    await c.stop();
  }
});
