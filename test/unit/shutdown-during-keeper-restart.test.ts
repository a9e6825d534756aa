// A stop that comes while a reload restarts the keeper (a keeper setting changed). The workers
// were told 'keeper-restarting' (wait up to KEEPER_RESTART_WAIT_MS for the new keeper rather than
// answer 503); the old keeper drains and exits. The new keeper is still forked for the draining
// workers' writes, and drained after them: with none, every write in flight, and every one a
// kept-alive client sent during the graceful stop, waited the whole window for nothing and got a
// 503 (README, Signals: requests in flight can still save events).

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { loadSettings } from '../../src/config/load.js';
import type { ChildIdentity } from '../../src/config/identity.js';
import type { ChildMessage, MasterMessage } from '../../src/ipc/messages.js';
import { Arbiter } from '../../src/master/arbiter.js';
import { noopNotifier } from '../../src/master/notify.js';
import type { ChildEvents, Spawner } from '../../src/master/spawner.js';
import { captureLogger } from '../fixtures/capture-logger.js';

interface Child {
  identity: ChildIdentity;
  events: ChildEvents;
  sent: MasterMessage[];
  say(m: ChildMessage): void;
}

test('a stop during a keeper restart: the draining workers get the new keeper for their writes, drained after them', async () => {
  let now = 1_000_000;
  const children: Child[] = [];
  const spawner: Spawner = {
    spawn(identity, _env, events) {
      const c: Child = { identity, events, sent: [], say: (m) => events.onMessage(m) };
      children.push(c);
      return { handle: { pid: 1000 + children.length, send: (m) => (c.sent.push(m), true), kill: () => undefined }, stackProbe: undefined };
    },
  };
  const log = await captureLogger('worker');
  const exits: number[] = [];
  const base = { CORRAL_ENV_FILE: 'none', CORRAL_WORKERS: '2', CORRAL_TIMEOUT: '5', CORRAL_STUCK_STACKS: 'false', CORRAL_RELOAD_SETTLE: '0', CORRAL_GRACEFUL_TIMEOUT: '30' };
  const arbiter = new Arbiter({
    loaded: loadSettings({ env: base }),
    reloadSettings: () => loadSettings({ env: { ...base, SHEET_CACHE_TTL: '90' } }),
    spawner,
    withKeeper: true,
    logger: log.logger,
    reopenLogs: (said) => said?.(),
    notifier: noopNotifier,
    onExit: (code) => exits.push(code),
    now: () => now,
    forkClock: () => 0,
  });
  const beat = (c: Child) => c.say({ type: 'heartbeat', figures: { rssBytes: 1, heapUsedBytes: 1, heapTotalBytes: 1, eventLoopLagMs: 0, activeConnections: 1, requestsServed: 0, errorsServed: 0, latencyP99Ms: 0 } });
  try {
    arbiter.tick();
    const keeper = children.find((c) => c.identity.role === 'keeper')!;
    keeper.say({ type: 'ready' });
    arbiter.tick();
    const workers = children.filter((c) => c.identity.role === 'worker');
    workers.forEach((w) => w.say({ type: 'ready', port: 8080 }));
    arbiter.tick();
    // A reload that changes a keeper setting: the keeper drains, the workers are told to wait for the next.
    arbiter.record('reload');
    arbiter.tick();
    assert.ok(workers.every((w) => w.sent.some((m) => m.type === 'keeper-restarting')));
    // systemctl stop now: the workers drain, each with a request in flight that writes an event.
    arbiter.record('stop');
    arbiter.tick();
    keeper.say({ type: 'drained' });
    keeper.events.onExit(0, null);
    for (let i = 0; i < 12; i++) {
      now += 250;
      workers.forEach(beat);
      arbiter.tick();
    }
    const keepers = children.filter((c) => c.identity.role === 'keeper');
    assert.equal(keepers.length, 2, `the new keeper is forked: ${JSON.stringify(workers[0]!.sent.map((m) => m.type))}`);
    const fresh = keepers[1]!;
    fresh.say({ type: 'ready' });
    assert.ok(workers.every((w) => w.sent.some((m) => m.type === 'keeper-ready')), 'the workers hear it is there');
    assert.ok(!fresh.sent.some((m) => m.type === 'drain'), 'not drained while workers may still write');
    // The workers finish their requests and exit: then the keeper drains, and the master exits.
    workers.forEach((w) => w.events.onExit(0, null));
    arbiter.tick();
    assert.ok(fresh.sent.some((m) => m.type === 'drain'), 'drained after the workers');
    assert.equal(children.filter((c) => c.identity.role === 'keeper').length, 2, 'no third keeper');
    fresh.say({ type: 'drained' });
    fresh.events.onExit(0, null);
    arbiter.tick();
    assert.deepEqual(exits, [0]);
  } finally {
    log.close();
  }
});
