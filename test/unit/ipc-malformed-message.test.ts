// A message that carries our tag and a known type but not the fields of that type (a custom app's
// process.send, a child of another build during a reload's overlap) is dropped on receipt: the
// master's handlers run inside the channel's 'message' event, where a throw is the master's
// uncaught exception (run.ts: every worker stopped, exit 70).

import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import { test } from 'node:test';
import { loadSettings } from '../../src/config/load.js';
import { masterChannel } from '../../src/ipc/channel.js';
import { isChildMessage, type ChildMessage } from '../../src/ipc/messages.js';
import { Arbiter } from '../../src/master/arbiter.js';
import type { ChildEvents, Spawner } from '../../src/master/spawner.js';
import { captureLogger } from '../fixtures/capture-logger.js';

const FIGURES = { rssBytes: 1, heapUsedBytes: 1, heapTotalBytes: 1, eventLoopLagMs: 0, activeConnections: 0, requestsServed: 0, errorsServed: 0, latencyP99Ms: 0 };

test('a heartbeat without figures is not a child message', () => {
  assert.equal(isChildMessage({ tag: 'corral', type: 'heartbeat', figures: FIGURES }), true);
  assert.equal(isChildMessage({ tag: 'corral', type: 'heartbeat' }), false);
  assert.equal(isChildMessage({ tag: 'corral', type: 'heartbeat', figures: null }), false);
  assert.equal(isChildMessage({ tag: 'corral', type: 'heartbeat', figures: 'x' }), false);
});

test('a malformed heartbeat read from a worker\'s channel is dropped, not thrown at the master', async () => {
  const events: ChildEvents[] = [];
  const spawner: Spawner = {
    spawn(_identity, _env, e) {
      events.push(e);
      return { handle: { pid: 1000 + events.length, send: () => true, kill: () => undefined }, stackProbe: undefined };
    },
  };
  const log = await captureLogger('worker');
  let now = 1_000_000;
  const base = { CORRAL_ENV_FILE: 'none', CORRAL_WORKERS: '1', CORRAL_TIMEOUT: '5', CORRAL_STUCK_STACKS: 'false' };
  const arbiter = new Arbiter({
    loaded: loadSettings({ env: base }),
    reloadSettings: () => loadSettings({ env: base }),
    spawner,
    withKeeper: false,
    logger: log.logger,
    reopenLogs: (said) => said?.(),
    notifier: { ready() {}, reloading() {}, extendTimeout() {}, stopping() {}, status() {}, watchdog() {}, watchdogIntervalMs: undefined, close() {} },
    onExit: () => undefined,
    now: () => now,
    forkClock: () => 0,
  });
  try {
    arbiter.tick();
    const worker = events[0];
    assert.ok(worker);
    // As spawner.ts attaches a worker's channel.
    const ep = new EventEmitter() as EventEmitter & { send(m: object): boolean; connected: boolean };
    ep.send = () => true;
    ep.connected = true;
    const forward = (m: ChildMessage) => worker.onMessage(m);
    masterChannel(ep).listen({ ready: forward, heartbeat: forward, 'boot-failed': forward, retire: forward, drained: forward });
    ep.emit('message', { tag: 'corral', type: 'ready', port: 8080 });
    now += 500;
    // A worker's app calls process.send() with our tag, or a build whose beat is shaped otherwise.
    assert.doesNotThrow(() => ep.emit('message', { tag: 'corral', type: 'heartbeat' }));
    assert.doesNotThrow(() => ep.emit('message', { tag: 'corral', type: 'heartbeat', figures: null }));
    arbiter.tick();
  } finally {
    log.close();
  }
});
