// A WATCHDOG=1 whose send failed (EAGAIN: PID 1's notify queue full, the MSG_DONTWAIT send refused)
// must be made good before systemd's WatchdogSec runs out, not at the next ping: the master pings
// at half of WatchdogSec, so the next one comes at the very deadline, and systemd aborts the service.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { readSystemdEnv } from '../../src/config/systemd-env.js';
import { computeCapacity } from '../../src/master/capacity.js';
import type { ChildRecord } from '../../src/master/registry.js';
import { createNotifier } from '../../src/master/sd-notify.js';
import { StatusReporter } from '../../src/master/status-report.js';
import { createLogger } from '../../src/log/logger.js';

const WATCHDOG_MS = 90_000;
const TICK_MS = 250;

function run(failingPing: number) {
  const logger = createLogger({ CORRAL_LOG_FILE: undefined, CORRAL_LOG_LEVEL: 'silent' }, { role: 'master' }).logger;
  let now = 0;
  let pings = 0;
  const delivered: number[] = [];
  const send = (_address: string, payload: Buffer) => {
    const fields = payload.toString('utf8').split('\n');
    if (fields.includes('WATCHDOG=1') && ++pings === failingPing) {
      throw Object.assign(new Error('sendto: Resource temporarily unavailable'), { code: 'EAGAIN', errno: 11 });
    }
    if (fields.includes('WATCHDOG=1')) delivered.push(now);
  };
  const notifier = createNotifier(readSystemdEnv({ NOTIFY_SOCKET: '/run/systemd/notify', WATCHDOG_USEC: String(WATCHDOG_MS * 1000) }), logger, { send });
  const reporter = new StatusReporter(notifier);
  const worker = { state: 'ready', lastBeatAt: 0, startedAt: 0, handle: { pid: 1, send: () => true, kill() {} } } as unknown as ChildRecord;
  const capacity = computeCapacity({ activeConnections: [0], idleConnections: [0], workers: 1, workerConnections: 10, maxConnections: 0, serving: true });
  for (now = 1000; now <= 4 * WATCHDOG_MS; now += TICK_MS) {
    (worker as { lastBeatAt: number }).lastBeatAt = now; // a healthy worker, beating
    reporter.report({ now, workers: [worker], capacity, workerCapOf: () => 10, waiting: false, statusLine: () => '1/1 workers ready', timeoutMs: 30_000 });
  }
  return delivered;
}

test('one lost WATCHDOG=1 does not leave systemd a whole WatchdogSec without a ping', () => {
  const delivered = run(2);
  let worst = 0;
  for (let i = 1; i < delivered.length; i++) worst = Math.max(worst, delivered[i]! - delivered[i - 1]!);
  assert.ok(worst < WATCHDOG_MS, `a healthy master left systemd ${worst} ms between two delivered WATCHDOG=1 (WatchdogSec=${WATCHDOG_MS / 1000}): systemd aborts it. Delivered at ${delivered.join(', ')}`);
});

test('a held WATCHDOG=1 goes with a later READY=1, never with STOPPING=1 (systemd would re-arm its watchdog in the stop)', () => {
  const logger = createLogger({ CORRAL_LOG_FILE: undefined, CORRAL_LOG_LEVEL: 'silent' }, { role: 'master' }).logger;
  const sent: string[] = [];
  let full = false;
  const send = (_address: string, payload: Buffer) => {
    if (full) throw Object.assign(new Error('sendto: Resource temporarily unavailable'), { code: 'EAGAIN', errno: 11 });
    sent.push(payload.toString('utf8'));
  };
  const n = createNotifier(readSystemdEnv({ NOTIFY_SOCKET: '@test', WATCHDOG_USEC: '90000000' }), logger, { send });
  full = true;
  n.watchdog();
  full = false;
  n.ready('ready');
  assert.deepEqual(sent, ['WATCHDOG=1\nREADY=1\nSTATUS=ready']);
  full = true;
  n.watchdog();
  full = false;
  n.stopping('stopping', 45_000);
  assert.equal(sent[1], 'STOPPING=1\nEXTEND_TIMEOUT_USEC=45000000\nSTATUS=stopping');
  n.status('stopping: 1 worker');
  assert.equal(sent[2], 'STATUS=stopping: 1 worker', 'no longer held once STOPPING=1 went');
});
