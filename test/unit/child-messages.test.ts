// What each message from a child changes in its record, and what it asks of the master.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { ChildFigures, MasterMessage } from '../../src/ipc/messages.js';
import { applyChildMessage } from '../../src/master/child-messages.js';
import type { ChildRecord } from '../../src/master/registry.js';

const NOW = 5_000_000;
const MiB = 1048576;

function record(over: Partial<ChildRecord> = {}) {
  const sent: MasterMessage[] = [];
  const c = {
    id: 3,
    role: 'worker',
    state: 'booting',
    startedAt: NOW - 1000,
    readyAt: undefined,
    lastBeatAt: NOW - 1000,
    figures: undefined,
    port: undefined,
    bootError: undefined,
    retire: undefined,
    pendingRetire: undefined,
    drainedReported: false,
    handle: { pid: 77, send: (m: MasterMessage) => (sent.push(m), true), kill() {} },
    ...over,
  } as ChildRecord;
  return { c, sent };
}

const figures = (rssMb: number): ChildFigures => ({ rssBytes: rssMb * MiB, heapUsedBytes: 0, heapTotalBytes: 0, eventLoopLagMs: 0, activeConnections: 0, requestsServed: 0, errorsServed: 0, latencyP99Ms: 0 });

test('ready counts once, from booting, with its port', () => {
  const { c } = record();
  assert.deepEqual(applyChildMessage(c, { type: 'ready', port: 8080 }, NOW, 0), { kind: 'ready', port: 8080 });
  assert.equal(c.state, 'ready');
  assert.equal(c.readyAt, NOW);
  assert.equal(c.port, 8080);
  // A second ready (or one from a child already told to stop) only counts as a beat.
  assert.deepEqual(applyChildMessage(c, { type: 'ready', port: 9090 }, NOW + 500, 0), { kind: 'none' });
  assert.equal(c.readyAt, NOW);
  assert.equal(c.port, 8080);
  assert.equal(c.lastBeatAt, NOW + 500);
});

test('the first boot failure reported is kept: what follows is fallout', () => {
  const { c } = record();
  applyChildMessage(c, { type: 'boot-failed', code: 'CORRAL_ERR_APP_LOAD', message: 'cannot find module' }, NOW, 0);
  applyChildMessage(c, { type: 'boot-failed', code: 'OTHER', message: 'channel closed' }, NOW, 0);
  assert.deepEqual(c.bootError, { code: 'CORRAL_ERR_APP_LOAD', message: 'cannot find module' });
});

test('an uncaught exception is a crash for the master to count; a max-requests retire waits its turn', () => {
  const { c } = record({ state: 'ready' });
  assert.deepEqual(applyChildMessage(c, { type: 'retire', reason: 'uncaught' }, NOW, 0), { kind: 'crashed' });
  assert.deepEqual(applyChildMessage(c, { type: 'retire', reason: 'uncaught', error: 'RangeError: too deep' }, NOW, 0), { kind: 'crashed', error: 'RangeError: too deep' });
  assert.equal(c.pendingRetire, undefined);
  assert.deepEqual(applyChildMessage(c, { type: 'retire', reason: 'max-requests' }, NOW, 0), { kind: 'tick' });
  assert.equal(c.pendingRetire, 'max-requests');
});

test('a beat over the memory limit asks for a recycle once; none with no limit, or while booting', () => {
  const unlimited = record({ state: 'ready' }).c;
  assert.deepEqual(applyChildMessage(unlimited, { type: 'heartbeat', figures: figures(300) }, NOW, 0), { kind: 'none' });
  const { c } = record({ state: 'ready' });
  assert.deepEqual(applyChildMessage(c, { type: 'heartbeat', figures: figures(200) }, NOW, 256), { kind: 'none' });
  assert.deepEqual(applyChildMessage(c, { type: 'heartbeat', figures: figures(300) }, NOW, 256), { kind: 'over-memory', rssMb: 300 });
  assert.equal(c.pendingRetire, 'memory');
  assert.deepEqual(applyChildMessage(c, { type: 'heartbeat', figures: figures(400) }, NOW + 1000, 256), { kind: 'none' });
  assert.equal(c.lastBeatAt, NOW + 1000);
  assert.equal(c.figures?.rssBytes, 400 * MiB);
  const booting = record().c;
  assert.deepEqual(applyChildMessage(booting, { type: 'heartbeat', figures: figures(300) }, NOW, 256), { kind: 'none' });
  const keeper = record({ role: 'keeper', state: 'ready' }).c;
  assert.deepEqual(applyChildMessage(keeper, { type: 'heartbeat', figures: figures(300) }, NOW, 256), { kind: 'none' });
});

test('a worker already over the memory limit when it became ready is not recycled for memory: its replacement would start as big', () => {
  const { c } = record();
  assert.deepEqual(applyChildMessage(c, { type: 'ready', port: 8080, rssBytes: 60 * MiB }, NOW, 30), { kind: 'ready', port: 8080 });
  assert.equal(c.readyRssMb, 60);
  assert.deepEqual(applyChildMessage(c, { type: 'heartbeat', figures: figures(60) }, NOW, 30), { kind: 'over-memory-from-start', rssMb: 60 });
  assert.deepEqual(applyChildMessage(c, { type: 'heartbeat', figures: figures(90) }, NOW + 1000, 30), { kind: 'over-memory-from-start', rssMb: 60 });
  assert.equal(c.pendingRetire, undefined);
  // Raised by a reload above its start: the limit holds again.
  assert.deepEqual(applyChildMessage(c, { type: 'heartbeat', figures: figures(200) }, NOW + 2000, 128), { kind: 'over-memory', rssMb: 200 });
  assert.equal(c.pendingRetire, 'memory');
  // Under the limit when ready, over it once it served: recycled, as before.
  const grows = record().c;
  applyChildMessage(grows, { type: 'ready', port: 8080, rssBytes: 60 * MiB }, NOW, 256);
  assert.deepEqual(applyChildMessage(grows, { type: 'heartbeat', figures: figures(300) }, NOW + 1000, 256), { kind: 'over-memory', rssMb: 300 });
  // The keeper's ready carries no RSS, and a keeper is never recycled for memory.
  const keeper = record({ role: 'keeper' }).c;
  applyChildMessage(keeper, { type: 'ready', address: '/run/k.sock' }, NOW, 30);
  assert.equal(keeper.readyRssMb, undefined);
});

test('a drained worker is released; a drained keeper exits on its own', () => {
  const worker = record({ state: 'draining' });
  applyChildMessage(worker.c, { type: 'drained' }, NOW, 0);
  assert.equal(worker.c.drainedReported, true);
  assert.deepEqual(worker.sent, [{ type: 'release' }]);
  const keeper = record({ role: 'keeper', state: 'draining' });
  applyChildMessage(keeper.c, { type: 'drained' }, NOW, 0);
  assert.equal(keeper.c.drainedReported, true);
  assert.deepEqual(keeper.sent, []);
});
