// Capacity under a burst of short connections, on the real master: more clients than slots, each
// connection closed after one request (as ab does). Between two heartbeats the cap fills, clients
// get `503 server full`, and at each beat the worker sits between requests with few connections
// open: read from that one count, the capacity said LOW with can_accept_new while a fifth of the
// connections were refused. It must say FULL while refusals go on, alert, and come back after.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { startCorral, waitFor } from '../helpers/corral.js';
import { delay, http, startClientLoop } from '../helpers/http.js';
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

test('connections refused between heartbeats make the capacity FULL (no slot, can_accept_new false) with a capacity.alert, and it is LOW again once they stop', async () => {
  const c = await startCorral({
    workers: 2,
    env: { CORRAL_WORKER_CONNECTIONS: '5', CORRAL_ADMIN_TOKEN: TOKEN, CORRAL_RATE_LIMIT: '0' },
  });
  const auth = { authorization: `Bearer ${TOKEN}` };
  const capacity = async () => (await http(`${c.adminUrl}/api/admin/capacity`, { headers: auth })).json<{ capacity: Capacity }>().capacity;
  const refusedTotal = async () => (await http(`${c.adminUrl}/api/admin/stats`, { headers: auth })).json<{ totals: { connections_refused: number } }>().totals.connections_refused;
  // Six clients per slot, each request on a new connection: bursts over the cap of 10.
  const loop = startClientLoop(`${c.url}/api/players`, 60, { freshConnections: true, timeoutMs: 5000 });
  let stopped = false;
  try {
    const before = await refusedTotal();
    await waitFor(async () => (await refusedTotal()) > before, 15_000, 'the first connections refused');
    // While the refusals go on, the capacity says FULL whatever the counts at the beats: every
    // answer whose last interval had a refusal. Read at the beats alone, it said LOW to WARNING
    // (0 of 15 FULL), the count at a beat being mostly under the cap. Sampled over a few
    // heartbeats; on a loaded machine the clients may be starved through an interval, which then
    // has no refusal, so only a third of the answers must have had one.
    const samples: Capacity[] = [];
    const refusedBefore = await refusedTotal();
    while (samples.length < 15) {
      samples.push(await capacity());
      await delay(150);
    }
    assert.ok((await refusedTotal()) > refusedBefore, 'refusals went on while sampled');
    const full = samples.filter((s) => s.status === 'FULL' && !s.can_accept_new && s.available_slots === 0);
    const refusing = samples.filter((s) => s.refused_last_interval > 0);
    const said = samples.map((s) => `${s.status} ${s.current_connections - s.idle_connections}/${s.max_connections} refused ${s.refused_last_interval}`).join(', ');
    assert.ok(refusing.length >= samples.length / 3, `refusals in the interval of ${refusing.length} of ${samples.length} answers: ${said}`);
    assert.ok(refusing.every((s) => full.includes(s)), `FULL in every answer whose interval had a refusal: ${said}`);
    // They say why: refusals in the interval, the cap counted full.
    assert.ok(full.some((s) => s.refused_last_interval > 0 && s.percent_used >= 100 && s.max_connections === 10), said);
    await c.waitForLog((l) => l.event === 'capacity.alert' && l.threshold === 100 && l.status === 'FULL', 10_000, 'the 100 % capacity.alert');
    // The worker's line says what refused: the host's count at its cap (shared accept, one gauge).
    const line = await c.waitForLog((l) => l.event === 'worker.connections_refused', 10_000, 'the refusal line');
    if (line.host_full === true) assert.match(String(line.msg), /^host full \(\d+\/10\)/);
    else assert.match(String(line.msg), /^connection cap reached \((\d+)\/\1\)/);

    const seen = await loop.stop();
    stopped = true;
    assert.ok((seen.statuses.get(503) ?? 0) > 0, `the clients were refused: ${JSON.stringify([...seen.statuses])}`);
    assert.ok(seen.failures.some((f) => f.includes('server_full')), seen.failures.join('\n'));

    // Load gone: the next beats report no refusal and no burst.
    const low = await waitFor(async () => {
      const cap = await capacity();
      return cap.status === 'LOW' ? cap : undefined;
    }, 15_000, 'capacity LOW after the load');
    assert.equal(low.can_accept_new, true);
    assert.equal(low.refused_last_interval, 0);
    assert.ok(low.available_slots > 0);
    await c.waitForLog((l) => l.event === 'capacity.recovered' && l.threshold === 100, CAPACITY_RECOVER_MS + 10_000, 'the recovery line');
  } finally {
    if (!stopped) await loop.stop();
    await c.stop();
  }
});
