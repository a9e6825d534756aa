import assert from 'node:assert/strict';
import { test } from 'node:test';
import { startCorral, waitFor, type LogLine } from '../helpers/corral.js';
import { http } from '../helpers/http.js';
import { freePort } from '../helpers/ports.js';

const timeOf = (l: LogLine) => Date.parse(String(l.time));

test('every worker killed at once is one crash of the loop: all are replaced after one step, not 15-30 s', async () => {
  // A fixed port: node:cluster binds the address again once a worker listens after all died, and
  // port 0 would then be another port.
  const c = await startCorral({ app: 'basic.mjs', workers: 8, env: { CORRAL_BIND: `127.0.0.1:${await freePort()}` } });
  try {
    const pids = c.events('worker.ready').map((l) => Number(l.worker_pid));
    assert.equal(pids.length, 8);
    for (const pid of pids) process.kill(pid, 'SIGKILL');
    const exits = await waitFor(() => {
      const lines = c.events('worker.exit');
      return lines.length === 8 && lines;
    }, 10000, 'the eight exits');
    assert.deepEqual(exits.map((l) => l.crash_loop), Array<number>(8).fill(1), 'one step for all eight');
    assert.equal(exits.filter((l) => l.crash_counted === true).length, 1);
    assert.ok(exits.every((l) => Number(l.respawn_in_ms) <= 250), `respawn_in_ms: ${exits.map((l) => l.respawn_in_ms).join(', ')}`);
    await waitFor(() => c.events('worker.ready').length === 16, 15000, 'eight replacements ready');
    const lastExit = Math.max(...exits.map(timeOf));
    const boots = c.events('worker.boot').slice(8);
    assert.equal(boots.length, 8);
    // One step waits at most 250 ms, and the next tick forks (every 250 ms); a margin for a busy host.
    const firstBoot = Math.min(...boots.map(timeOf));
    assert.ok(firstBoot - lastExit <= 1500, `first replacement forked ${firstBoot - lastExit} ms after the crash`);
    assert.ok(Math.max(...boots.map(timeOf)) - firstBoot <= 500, 'the eight replacements forked together');
    const r = await http(c.url, { headers: { connection: 'close' } });
    assert.equal(r.status, 200);
    assert.ok(!pids.includes(r.json<{ pid: number }>().pid));
  } finally {
    await c.stop();
  }
});
