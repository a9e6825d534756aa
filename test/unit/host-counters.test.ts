// Host-wide counters: the worker's batching client, the master's answers, and the bundled app's
// rate limit on top of them (it lets requests through when the master does not answer).

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createRateLimit } from '../../src/app/rate-limit.js';
import type { ChildMessage, MasterMessage } from '../../src/ipc/messages.js';
import type { Logger } from '../../src/log/logger.js';
import { createHostCounters } from '../../src/master/host-counters.js';
import { createCounterClient } from '../../src/worker/counter-client.js';

type Count = Extract<ChildMessage, { type: 'count' }>;
type Counted = Extract<MasterMessage, { type: 'counted' }>;

/** A worker's client wired to a real master-side service, with every message kept. */
function wired(options: { timeoutMs?: number; answer?: boolean } = {}) {
  const master = createHostCounters();
  const sent: Count[] = [];
  const client = createCounterClient(
    (m) => {
      if (m.type !== 'count') return false;
      sent.push(m);
      if (options.answer !== false) void master.answer(m).then((a) => setImmediate(() => client.onCounted(a)));
      return true;
    },
    { timeoutMs: options.timeoutMs ?? 2000 },
  );
  return { client, sent, master };
}

describe('host counters', () => {
  it('sends the hits of one event-loop turn in one message and settles each in order', async () => {
    const { client, sent } = wired();
    const hits = await Promise.all([client.hit('a', 2), client.hit('a', 2), client.hit('b', 2), client.hit('a', 2)]);
    assert.equal(sent.length, 1);
    assert.deepEqual(sent[0]?.keys, ['a', 'a', 'b', 'a']);
    assert.deepEqual(
      hits.map((h) => [h.allowed, h.remaining]),
      [
        [true, 1],
        [true, 0],
        [true, 1],
        [false, 0],
      ],
    );
    for (const h of hits) assert.ok(h.msBeforeReset > 59_000 && h.msBeforeReset <= 60_000, `reset in ${h.msBeforeReset} ms`);
    // The next turn's hits go in a new message and see the counts so far.
    const later = await client.hit('b', 2);
    assert.equal(sent.length, 2);
    assert.deepEqual([later.allowed, later.remaining], [true, 0]);
  });

  it('keeps one budget per limit, so a reload that changes the limit starts from fresh windows', async () => {
    const { client, sent } = wired();
    const [old, fresh] = await Promise.all([client.hit('ip', 1), client.hit('ip', 5)]);
    assert.equal(sent.length, 2, 'one message per limit');
    assert.deepEqual([old.allowed, old.remaining, fresh.allowed, fresh.remaining], [true, 0, true, 4]);
    assert.equal((await client.hit('ip', 1)).allowed, false);
    assert.equal((await client.hit('ip', 5)).remaining, 3);
  });

  it('rejects the hits of a batch the master does not answer in time, and ignores a late answer', async () => {
    const { client, sent, master } = wired({ timeoutMs: 50, answer: false });
    await assert.rejects(client.hit('a', 10), /did not answer within 50 ms/);
    const late = await master.answer(sent[0] as Count);
    assert.doesNotThrow(() => client.onCounted(late));
  });

  it('rejects at once when the channel to the master is closed', async () => {
    const client = createCounterClient(() => false, { timeoutMs: 60_000 });
    await assert.rejects(client.hit('a', 10), /channel to the master is closed/);
  });

  it('rejects hits the master left out of its answer', async () => {
    const sent: Count[] = [];
    const client = createCounterClient((m) => (m.type === 'count' ? (sent.push(m), true) : false), { timeoutMs: 60_000 });
    const both = [client.hit('a', 10), client.hit('b', 10)];
    await new Promise((r) => setImmediate(r));
    const answer: Counted = { type: 'counted', id: sent[0]?.id ?? -1, results: [[1, 9, 60_000]] };
    client.onCounted(answer);
    assert.equal((await both[0])?.remaining, 9);
    await assert.rejects(both[1] as Promise<unknown>, /answered 1 of 2 hits/);
  });

  it('the master refuses a malformed request', async () => {
    const master = createHostCounters();
    await assert.rejects(master.answer({ type: 'count', id: 1, limit: 0, keys: ['a'] }), /malformed count request/);
    await assert.rejects(master.answer({ type: 'count', id: 1, limit: 5, keys: [7 as unknown as string] }), /malformed count request/);
  });

  it("the app's rate limit lets requests through, and warns once, when the master does not answer", async () => {
    const warnings: { event?: string }[] = [];
    const logger = { warn: (fields: { event?: string }) => void warnings.push(fields) } as unknown as Logger;
    const { client } = wired({ timeoutMs: 30, answer: false });
    const limit = await createRateLimit({ perMinute: 3, logger, hostCounters: client });
    assert.ok(limit);
    const decisions = await Promise.all([limit.consume('a'), limit.consume('a'), limit.consume('a'), limit.consume('a')]);
    assert.ok(decisions.every((d) => d.allowed && d.remaining === 3));
    await limit.consume('a');
    assert.deepEqual(warnings.map((w) => w.event), ['ratelimit.unavailable']);
  });
});
