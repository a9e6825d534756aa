import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { test } from 'node:test';
import { startCorral } from '../helpers/corral.js';
import { delay, http } from '../helpers/http.js';

test('SIGTERM with a slow request in flight: it completes, then the master exits 0 and removes its pidfile', async () => {
  const c = await startCorral({ app: 'basic.mjs', workers: 2 });
  try {
    assert.ok(existsSync(c.pidFile));
    const slow = http(`${c.url}/sleep?ms=2500`, { timeoutMs: 15000 });
    await c.waitForLog(() => true, 1000);
    await delay(300);
    c.kill('SIGTERM');
    const r = await slow;
    assert.equal(r.status, 200);
    assert.equal(r.json<{ slept: number }>().slept, 2500);
    const { code } = await c.exited;
    assert.equal(code, 0);
    assert.equal(existsSync(c.pidFile), false, 'pidfile removed');
    const events = c.logs().map((l) => l.event);
    assert.ok(events.indexOf('shutdown.start') < events.indexOf('shutdown.done'));
    // No new connections are accepted once stopping.
    await assert.rejects(http(c.url, { timeoutMs: 2000 }));
  } finally {
    await c.stop();
  }
});

test('SIGQUIT stops fast, without waiting for slow requests', async () => {
  const c = await startCorral({ app: 'basic.mjs', workers: 1 });
  try {
    const slow = http(`${c.url}/sleep?ms=8000`, { timeoutMs: 15000 }).catch((e: Error) => e);
    await delay(300);
    const t0 = Date.now();
    c.kill('SIGQUIT');
    const { code } = await c.exited;
    assert.equal(code, 0);
    assert.ok(Date.now() - t0 < 5000, 'fast stop does not wait the graceful timeout');
    assert.ok((await slow) instanceof Error);
  } finally {
    await c.stop();
  }
});
