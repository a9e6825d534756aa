// Telling one child to stop, by its state: what it is sent, and its deadline.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { MasterMessage } from '../../src/ipc/messages.js';
import { drainChild, EXIT_MARGIN_MS } from '../../src/master/drain.js';
import type { ChildRecord } from '../../src/master/registry.js';

const NOW = 1_000_000;

function child(over: Partial<ChildRecord> = {}, sendWorks = true) {
  const sent: MasterMessage[] = [];
  const kills: NodeJS.Signals[] = [];
  const c = {
    id: 1,
    role: 'worker',
    state: 'ready',
    lastBeatAt: NOW,
    beatIntervalMs: 1000,
    drainedReported: false,
    sigkillAt: undefined,
    drainDeadline: undefined,
    stopReason: undefined,
    handle: { pid: 4242, send: (m: MasterMessage) => (sent.push(m), sendWorks), kill: (s: NodeJS.Signals) => void kills.push(s) },
    ...over,
  } as ChildRecord;
  const notBeating: string[] = [];
  const killer = { killNotBeating: (_c: ChildRecord, reason: string) => void notBeating.push(reason) };
  return { c, sent, kills, notBeating, killer };
}

const order = { reason: 'shutdown', gracefulMs: 30_000, hostStopping: true };

test('a ready worker is told to drain, with its deadline after the graceful timeout', () => {
  const { c, sent, kills, killer } = child();
  drainChild(c, order, NOW, killer);
  assert.equal(c.state, 'draining');
  assert.equal(c.stopReason, 'shutdown');
  assert.equal(c.drainDeadline, NOW + 30_000 + EXIT_MARGIN_MS);
  assert.deepEqual(sent, [{ type: 'drain', reason: 'shutdown', gracefulMs: 30_000, hostStopping: true }]);
  assert.deepEqual(kills, []);
});

test('a worker whose channel is gone gets SIGTERM instead', () => {
  const { c, kills, killer } = child({}, false);
  drainChild(c, order, NOW, killer);
  assert.deepEqual(kills, ['SIGTERM']);
});

test('a booting keeper is sent the drain as well as SIGTERM: one whose ready is still on its way waits for a drain, not for SIGTERM', () => {
  const { c, sent, kills, killer } = child({ role: 'keeper', id: 0, state: 'booting' });
  drainChild(c, order, NOW, killer);
  assert.equal(c.state, 'killing');
  assert.equal(c.sigkillAt, NOW + 30_000 + EXIT_MARGIN_MS);
  assert.deepEqual(sent, [{ type: 'drain', reason: 'shutdown', gracefulMs: 30_000, hostStopping: true }]);
  assert.deepEqual(kills, ['SIGTERM']);
});

test('a booting child has nothing to drain: SIGTERM, and SIGKILL at the deadline', () => {
  const { c, sent, kills, killer } = child({ state: 'booting' });
  drainChild(c, { ...order, reason: 'superseded', gracefulMs: 0 }, NOW, killer);
  assert.equal(c.state, 'killing');
  assert.equal(c.sigkillAt, NOW + EXIT_MARGIN_MS);
  assert.deepEqual(kills, ['SIGTERM']);
  assert.deepEqual(sent, []);
});

test('a later, shorter order brings the deadline forward and tells the worker; a longer one changes nothing', () => {
  const { c, sent, killer } = child();
  drainChild(c, { ...order, hostStopping: false }, NOW, killer);
  drainChild(c, { ...order, hostStopping: false }, NOW + 1000, killer);
  assert.equal(c.drainDeadline, NOW + 30_000 + EXIT_MARGIN_MS);
  assert.equal(sent.length, 1);
  drainChild(c, { reason: 'scale-down', gracefulMs: 0, hostStopping: false }, NOW + 1000, killer);
  assert.equal(c.drainDeadline, NOW + 1000 + EXIT_MARGIN_MS);
  assert.deepEqual(sent.at(-1), { type: 'drain', reason: 'scale-down', gracefulMs: 0, hostStopping: false });
  assert.equal(c.stopReason, 'shutdown');
});

test('a worker draining for a reload is told when the host stops, though its deadline stays', () => {
  const { c, sent, killer } = child();
  drainChild(c, { reason: 'reload to generation 2', gracefulMs: 1000, hostStopping: false }, NOW, killer);
  drainChild(c, order, NOW, killer);
  assert.equal(c.drainDeadline, NOW + 1000 + EXIT_MARGIN_MS);
  assert.deepEqual(sent.at(-1), { type: 'drain', reason: 'shutdown', gracefulMs: 30_000, hostStopping: true });
});

test('a child sent SIGTERM gets its SIGKILL sooner from a shorter order, never later from a longer one', () => {
  const { c, kills, killer } = child({ state: 'killing', sigkillAt: NOW + 32_000 });
  drainChild(c, { ...order, gracefulMs: 0 }, NOW, killer);
  assert.equal(c.sigkillAt, NOW + EXIT_MARGIN_MS);
  drainChild(c, order, NOW + 1000, killer);
  assert.equal(c.sigkillAt, NOW + EXIT_MARGIN_MS);
  assert.deepEqual(kills, []);
});

test('a ready child whose beats stopped cannot drain before the host stops: it is killed now, not told', () => {
  const { c, sent, notBeating, killer } = child({ lastBeatAt: NOW - 10_000 });
  drainChild(c, order, NOW, killer);
  assert.deepEqual(notBeating, ['shutdown']);
  assert.deepEqual(sent, []);
  assert.equal(c.state, 'ready');
});

test('a ready worker whose beats stopped, replaced by a reload or a recycle, is told to drain, not killed: its loop may be busy with a long request, and the others accept meanwhile', () => {
  const { c, sent, notBeating, killer } = child({ lastBeatAt: NOW - 10_000 });
  drainChild(c, { reason: 'reload to generation 3', gracefulMs: 30_000, hostStopping: false }, NOW, killer);
  assert.deepEqual(notBeating, []);
  assert.equal(c.state, 'draining');
  assert.equal(c.drainDeadline, NOW + 30_000 + EXIT_MARGIN_MS);
  assert.deepEqual(sent, [{ type: 'drain', reason: 'reload to generation 3', gracefulMs: 30_000, hostStopping: false }]);
});

test('a booting child whose beats stopped is killed at once, a reload or not: nothing in flight, and it cannot run its SIGTERM handler', () => {
  const { c, notBeating, killer } = child({ state: 'booting', lastBeatAt: NOW - 10_000 });
  drainChild(c, { reason: 'reload to generation 3', gracefulMs: 30_000, hostStopping: false }, NOW, killer);
  assert.deepEqual(notBeating, ['reload to generation 3']);
});
