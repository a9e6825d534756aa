// Signals that reach the master's whole process group, not the master alone: a terminal's hangup
// (the ssh session of a `corral start` in the foreground closing), `kill -HUP -<pgid>`,
// `systemctl kill --signal=HUP corral` without --kill-whom=main. The master acts on them; its
// children must leave it to the master, as they do for Ctrl-C.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { startCorral, waitFor } from '../helpers/corral.js';
import { http } from '../helpers/http.js';

test('SIGHUP to the whole process group is one zero-downtime reload: the request in flight finishes and no worker or keeper dies of the signal', async () => {
  // setsid makes the master the leader of its own process group (the same pid: setsid execs), so
  // the group signal reaches corral's processes and not the test runner.
  const c = await startCorral({ app: 'basic.mjs', workers: 2, wrap: ['setsid'] });
  try {
    const slow = http(`${c.url}/sleep?ms=2500`, { timeoutMs: 20000 });
    await c.waitForLog((l) => l.event === 'fixture.sleeping', 10000, 'the slow request in a worker');
    process.kill(-c.pid, 'SIGHUP');
    await c.waitForLog((l) => l.event === 'reload.done', 30000, 'reload.done');
    const r = await slow;
    assert.equal(r.status, 200, 'the request in flight was answered');
    assert.equal(r.json<{ slept: number }>().slept, 2500);
    // The old generation drains and exits as the reload asks; nothing exits of the signal itself.
    await waitFor(() => c.events('worker.exit').filter((l) => l.generation === 1).length === 2 || undefined, 15000, 'both old workers gone');
    assert.deepEqual(c.events('worker.exit').map((l) => [l.generation, l.reason, l.signal]), [[1, 'reload to generation 2', null], [1, 'reload to generation 2', null]]);
    const byTheSignal = c.logs().filter((l) => (l.event === 'worker.exit' || l.event === 'keeper.exit') && l.signal !== null);
    assert.deepEqual(byTheSignal.map((l) => [l.event, l.worker_id, l.signal]), [], 'no child killed by SIGHUP');
    assert.equal(c.events('keeper.exit').length, 0, 'the keeper kept running');
    assert.equal(c.events('reload.start').length, 1, 'one reload');
  } finally {
    await c.stop();
  }
});
