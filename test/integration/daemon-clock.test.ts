import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { REPO_ROOT, startCorral, waitFor, type CorralProcess } from '../helpers/corral.js';
import { http } from '../helpers/http.js';

const HOUR_MS = 3_600_000;

/** A corral whose master's wall clock steps by `stepMs` on SIGUSR2 (test/fixtures/clock-step.cjs). */
function startWithSteppableClock(stepMs: number): Promise<CorralProcess> {
  const fixture = join(REPO_ROOT, 'test', 'fixtures', 'clock-step.cjs');
  return startCorral({ app: 'basic.mjs', workers: 2, env: { CORRAL_TIMEOUT: '2', NODE_OPTIONS: `--require ${fixture}`, FIXTURE_CLOCK_STEP_MS: String(stepMs) } });
}

async function stepClock(c: CorralProcess): Promise<void> {
  c.kill('SIGUSR2');
  await waitFor(() => c.stderr().includes('clock stepped'), 5000, 'the clock step');
}

test('a worker stuck after the system clock stepped back an hour is still killed after CORRAL_TIMEOUT', async () => {
  const c = await startWithSteppableClock(-HOUR_MS);
  try {
    await stepClock(c);
    const spin = http(`${c.url}/spin`, { timeoutMs: 15000 }).then(
      (r) => r.status,
      (err: Error) => err,
    );
    // CORRAL_TIMEOUT 2 s, plus the stack capture (1 s) and margin; the wall clock is an hour behind.
    const timedOut = await c.waitForLog((l) => l.event === 'worker.timeout', 8000, 'worker.timeout');
    assert.ok(Number(timedOut.seconds_silent) >= 2 && Number(timedOut.seconds_silent) < 4, `silent for ${String(timedOut.seconds_silent)} s`);
    await c.waitForLog((l) => l.event === 'worker.exit' && l.worker_pid === timedOut.worker_pid, 5000, 'the stuck worker exit');
    assert.ok((await spin) instanceof Error, 'the spinning request was cut off');
    assert.equal(c.events('worker.timeout').length, 1, 'only the stuck worker was killed');
  } finally {
    await c.stop();
  }
});

test('a system clock stepped forward an hour kills no worker and is not reported as a stalled master', async () => {
  const c = await startWithSteppableClock(HOUR_MS);
  try {
    await stepClock(c);
    // A request of 1.5 s spans several ticks of the master's loop (250 ms apart) and heartbeats.
    assert.equal((await http(`${c.url}/sleep?ms=1500`)).status, 200);
    // A master line written after those ticks: any line they wrote is in the file before it.
    c.kill('SIGUSR1');
    await c.waitForLog((l) => l.event === 'logs.reopen', 5000, 'logs.reopen');
    assert.equal(c.events('master.stalled').length, 0, 'the master ran all along: a clock step is no stall');
    assert.equal(c.events('worker.timeout').length, 0);
    assert.equal(c.events('worker.exit').length, 0);
  } finally {
    await c.stop();
  }
});

test('SIGQUIT after SIGTERM still closes a draining worker at once after its system clock stepped forward', async () => {
  const fixture = join(REPO_ROOT, 'test', 'fixtures', 'clock-step.cjs');
  const c = await startCorral({ app: 'basic.mjs', workers: 1, env: { NODE_OPTIONS: `--require ${fixture}`, FIXTURE_CLOCK_ROLE: 'worker', FIXTURE_CLOCK_STEP_MS: String(HOUR_MS) } });
  try {
    const slow = http(`${c.url}/sleep?ms=20000`, { timeoutMs: 30000 }).catch((e: Error) => e);
    await c.waitForLog((l) => l.event === 'fixture.sleeping', 10000, 'the slow request in the worker');
    c.kill('SIGTERM');
    const draining = await c.waitForLog((l) => l.event === 'worker.draining', 10000, 'the worker draining for the graceful stop');
    process.kill(Number(draining.pid), 'SIGUSR2');
    await waitFor(() => c.stderr().includes('clock stepped'), 5000, "the worker's clock step");
    c.kill('SIGQUIT');
    assert.equal((await c.exited).code, 0);
    assert.ok((await slow) instanceof Error, 'the slow request was cut');
    assert.deepEqual(c.events('worker.kill'), [], 'no SIGKILL: the worker brought its forced close forward');
    assert.deepEqual(c.events('worker.exit').map((l) => [l.exit_code, l.signal]), [[0, null]]);
  } finally {
    await c.stop();
  }
});
