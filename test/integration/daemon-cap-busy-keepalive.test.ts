// Clients that fill every slot with keep-alive connections and send each next request as soon as
// the last answer is in (a proxy's pool, a load generator), on the real master. Their connections
// are in use, not idle: the capacity says so, and a new client at the cap gets the 503, never a
// slot taken from a connection whose next request waits unread in the kernel. Counted idle as soon
// as its answer left, such a connection read LOW 1 % at 100 % CPU, and each newcomer closed one with
// a request on it: a request sent, answered by nobody.

import assert from 'node:assert/strict';
import { connect, type Socket } from 'node:net';
import { test } from 'node:test';
import { startCorral, waitFor } from '../helpers/corral.js';
import { http } from '../helpers/http.js';

const TOKEN = 'integration-admin-token-busy-keepalive';
const CAP = 12;
const LOAD_MS = 5000;
/** Newcomers tried during the load, at least: the load lasts until they have been (up to 4 × LOAD_MS). */
const MIN_NEWCOMERS = 5;

interface Tally {
  answered: number;
  /** Requests written on a connection that closed before their answer came. */
  lost: number;
}

/**
 * One keep-alive connection sending `GET /` back to back until `end.at`: each request written as
 * soon as the previous answer is whole. Resolves when it stops (or its connection closes).
 */
function backToBack(port: number, end: { readonly at: number }, tally: Tally): Promise<void> {
  return new Promise((resolve) => {
    const socket: Socket = connect(port, '127.0.0.1');
    let buf = '';
    let waiting = false;
    const send = () => {
      if (Date.now() >= end.at) {
        socket.end();
        return;
      }
      waiting = true;
      socket.write('GET / HTTP/1.1\r\nHost: test\r\n\r\n');
    };
    socket.on('connect', send);
    socket.on('data', (d: Buffer) => {
      buf += d.toString('latin1');
      // One whole answer: its head, then its Content-Length's bytes, or a chunked body to its last chunk.
      for (;;) {
        const head = buf.indexOf('\r\n\r\n');
        if (head === -1) return;
        const fields = buf.slice(0, head);
        let end: number;
        if (/transfer-encoding: chunked/i.test(fields)) {
          const last = buf.indexOf('\r\n0\r\n\r\n', head);
          if (last === -1) return;
          end = last + 7;
        } else {
          end = head + 4 + Number(/content-length: (\d+)/i.exec(fields)?.[1] ?? 0);
          if (buf.length < end) return;
        }
        buf = buf.slice(end);
        waiting = false;
        tally.answered++;
        send();
      }
    });
    socket.on('error', () => undefined);
    socket.on('close', () => {
      if (waiting) tally.lost++;
      resolve();
    });
  });
}

test('keep-alive connections sending back to back fill the cap as busy: a newcomer gets the 503, no request on them is cut, and the capacity is not LOW', async () => {
  const c = await startCorral({
    app: 'basic.mjs',
    workers: 1,
    env: { CORRAL_WORKER_CONNECTIONS: String(CAP), CORRAL_KEEPALIVE: '60', CORRAL_ADMIN_TOKEN: TOKEN, CORRAL_RATE_LIMIT: '0', CORRAL_ACCESS_LOG: 'false' },
  });
  try {
    const port = Number(new URL(c.url).port);
    const tally: Tally = { answered: 0, lost: 0 };
    const end = { at: Date.now() + LOAD_MS };
    const latest = end.at + 3 * LOAD_MS;
    const load = Promise.all(Array.from({ length: CAP }, () => backToBack(port, end, tally)));
    // Newcomers, one at a time, while the load runs: each is answered (503 at the cap), none hangs.
    const newcomers: number[] = [];
    const statuses: string[] = [];
    await new Promise((r) => setTimeout(r, 1500));
    // On a loaded box a newcomer and its capacity read can take a second: the load goes on until
    // MIN_NEWCOMERS have met it, rather than the test counting what a fixed window held.
    while (Date.now() < end.at - 500) {
      if (newcomers.length < MIN_NEWCOMERS) end.at = Math.min(latest, Math.max(end.at, Date.now() + 2000));
      newcomers.push((await http(`${c.url}/`, { headers: { connection: 'close' }, timeoutMs: 5000 })).status);
      const cap = (await http(`${c.adminUrl}/api/admin/capacity`, { headers: { authorization: `Bearer ${TOKEN}` } })).json<{ capacity: { status: string } }>();
      statuses.push(cap.capacity.status);
      await new Promise((r) => setTimeout(r, 100));
    }
    await load;
    assert.ok(tally.answered > 100, `the load ran (${tally.answered} answers)`);
    assert.equal(tally.lost, 0, `${tally.lost} requests sent on the load's connections were cut unanswered by newcomers taking their slots`);
    assert.ok(newcomers.length >= MIN_NEWCOMERS, `${newcomers.length} newcomers`);
    assert.ok(
      newcomers.every((s) => s === 503 || s === 200),
      `each newcomer answered: ${newcomers.join(' ')}`,
    );
    assert.ok(newcomers.filter((s) => s === 503).length >= newcomers.length / 2, `at the cap, newcomers mostly refused: ${newcomers.join(' ')}`);
    // Read at heartbeats (about a second apart): every one after the first beat of the load.
    assert.ok(!statuses.slice(2).includes('LOW'), `capacity while every slot was in use: ${statuses.join(' ')}`);
  } finally {
    await c.stop();
  }
});

test("keep-alive clients polling every 0.7 s leave their connections idle in between: a newcomer at the cap takes one's slot (200, not 503), and the capacity is not FULL", async () => {
  const c = await startCorral({
    app: 'basic.mjs',
    workers: 1,
    env: { CORRAL_WORKER_CONNECTIONS: String(CAP), CORRAL_KEEPALIVE: '60', CORRAL_ADMIN_TOKEN: TOKEN, CORRAL_RATE_LIMIT: '0', CORRAL_ACCESS_LOG: 'false' },
  });
  const pollers: Socket[] = [];
  // Pollers answered at least once (each then holds a slot), and pollers the worker closed.
  const answered = new Set<Socket>();
  const closed = new Set<Socket>();
  try {
    const port = Number(new URL(c.url).port);
    // CAP connections, each sending GET / every 700 ms, their phases spread over the interval (as
    // independent clients' are): at any moment most were answered over 250 ms before.
    for (let i = 0; i < CAP; i++) {
      const socket = connect(port, '127.0.0.1');
      socket.on('error', () => undefined);
      socket.on('data', () => answered.add(socket));
      socket.on('close', () => closed.add(socket));
      const poll = () => socket.write('GET / HTTP/1.1\r\nHost: test\r\n\r\n');
      let timer: NodeJS.Timeout | undefined;
      const start = setTimeout(() => {
        poll();
        timer = setInterval(poll, 700);
      }, (i * 700) / CAP);
      socket.on('close', () => {
        clearTimeout(start);
        clearInterval(timer);
      });
      pollers.push(socket);
    }
    // Every slot held before the newcomers come: without this wait a newcomer served 200 from a
    // slot no poller had taken yet (a loaded box connecting them late) passed for one given a poller's.
    await waitFor(() => answered.size === CAP || undefined, 15_000, `all ${CAP} pollers answered`);
    assert.equal(closed.size, 0, 'no poller closed before the newcomers');
    await new Promise((r) => setTimeout(r, 1500));
    const newcomers: number[] = [];
    for (let i = 0; i < 4; i++) {
      newcomers.push((await http(`${c.url}/`, { headers: { connection: 'close' }, timeoutMs: 5000 })).status);
      await new Promise((r) => setTimeout(r, 300));
    }
    assert.deepEqual(newcomers, [200, 200, 200, 200], 'each newcomer served in the slot of a poller between its requests');
    assert.ok(closed.size >= 1, 'the cap was full: a poller between its requests gave its slot to a newcomer');
    const cap = (await http(`${c.adminUrl}/api/admin/capacity`, { headers: { authorization: `Bearer ${TOKEN}` } })).json<{ capacity: { status: string } }>();
    assert.notEqual(cap.capacity.status, 'FULL', 'pollers between their requests are idle');
  } finally {
    for (const s of pollers) s.destroy();
    await c.stop();
  }
});
