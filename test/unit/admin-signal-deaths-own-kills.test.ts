// corral_child_signal_deaths_total and the stats' exits_by_signal count the signals "nobody in
// corral sent": SIGKILL there reads as the OOM killer or a kill -9. A booting child the master
// itself kills (not ready past the boot timeout, silent while booting) must not count there.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { loadSettings } from '../../src/config/load.js';
import type { ChildMessage } from '../../src/ipc/messages.js';
import { Arbiter } from '../../src/master/arbiter.js';
import type { Notifier } from '../../src/master/notify.js';
import type { ChildEvents, Spawner } from '../../src/master/spawner.js';
import { captureLogger } from '../fixtures/capture-logger.js';

interface Fake {
  role: string;
  events: ChildEvents;
  kills: NodeJS.Signals[];
  exited: boolean;
}

async function setup() {
  let now = 1_000_000;
  const children: Fake[] = [];
  const spawner: Spawner = {
    spawn(identity, _env, events) {
      const c: Fake = { role: identity.role, events, kills: [], exited: false };
      children.push(c);
      return { handle: { pid: 1000 + children.length, send: () => true, kill: (s) => void c.kills.push(s) }, stackProbe: undefined };
    },
  };
  const n: Notifier = { ready: () => {}, reloading: () => {}, extendTimeout: () => {}, stopping: () => {}, status: () => {}, watchdog: () => {}, watchdogIntervalMs: 1000, close: () => {} };
  const log = await captureLogger('worker');
  const env = { CORRAL_ENV_FILE: 'none', CORRAL_WORKERS: '1', CORRAL_TIMEOUT: '5', CORRAL_STUCK_STACKS: 'false', CORRAL_RELOAD_SETTLE: '0' };
  const arbiter = new Arbiter({
    loaded: loadSettings({ env }),
    reloadSettings: () => loadSettings({ env }),
    spawner,
    withKeeper: false,
    logger: log.logger,
    reopenLogs: (said) => said?.(),
    notifier: n,
    onExit: () => {},
    now: () => now,
    forkClock: () => 0,
  });
  const beat = (c: Fake) =>
    c.events.onMessage({ type: 'heartbeat', figures: { rssBytes: 1, heapUsedBytes: 1, heapTotalBytes: 1, eventLoopLagMs: 0, activeConnections: 0, requestsServed: 0, errorsServed: 0, latencyP99Ms: 0 } } as ChildMessage);
  return { arbiter, children, log, beat, advance: (ms: number) => (now += ms) };
}

test('a booting worker the master kills past the boot timeout is no signal death "nobody in corral sent"', async () => {
  const t = await setup();
  try {
    t.arbiter.tick();
    const w = t.children[0]!;
    // It beats but never reports ready (createApp never resolves): killed at the boot timeout.
    for (let ms = 0; ms < 61_000 && w.kills.length === 0; ms += 250) {
      t.advance(250);
      t.beat(w);
      t.arbiter.tick();
    }
    assert.deepEqual(w.kills, ['SIGKILL'], 'the master killed it past the boot timeout');
    w.exited = true;
    w.events.onExit(null, 'SIGKILL');
    t.arbiter.tick();
    const view = t.arbiter.view();
    assert.deepEqual(view.childExits().worker, { boot_failed: 1 });
    assert.deepEqual(view.childSignalDeaths().worker, {}, 'corral sent that SIGKILL: not the OOM killer nor a kill -9');
  } finally {
    t.log.close();
  }
});

test('a booting worker killed by a SIGKILL the master did not send still counts', async () => {
  const t = await setup();
  try {
    t.arbiter.tick();
    const w = t.children[0]!;
    t.advance(250);
    t.beat(w);
    t.arbiter.tick();
    w.exited = true;
    w.events.onExit(null, 'SIGKILL');
    t.arbiter.tick();
    assert.deepEqual(t.arbiter.view().childSignalDeaths().worker, { SIGKILL: 1 });
  } finally {
    t.log.close();
  }
});
