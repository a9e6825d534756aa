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

  it('counts a key with another window apart, and peeks without counting', async () => {
    const { client, sent } = wired();
    const [minute, long, look] = await Promise.all([client.hit('k', 2), client.hit('k', 2, { windowSeconds: 900 }), client.peek('k', 2, { windowSeconds: 900 })]);
    assert.equal(sent.length, 3, 'one message per limit, window and kind');
    // The defaults stay out of the message.
    assert.deepEqual(
      sent.map((m) => [m.limit, m.window, m.peek, m.keys]),
      [
        [2, undefined, undefined, ['k']],
        [2, 900, undefined, ['k']],
        [2, 900, true, ['k']],
      ],
    );
    assert.deepEqual([minute.remaining, long.remaining, look.allowed, look.remaining], [1, 1, true, 1]);
    assert.ok(long.msBeforeReset > 899_000 && long.msBeforeReset <= 900_000, `reset in ${long.msBeforeReset} ms`);
    // A peek counts nothing, however often.
    for (let i = 0; i < 3; i++) assert.equal((await client.peek('k', 2, { windowSeconds: 900 })).remaining, 1);
    assert.deepEqual(await client.hit('k', 2, { windowSeconds: 900 }).then((h) => [h.allowed, h.remaining]), [true, 0]);
    // With `limit` hits the key is at its limit: a peek says one more would not be allowed.
    const full = await client.peek('k', 2, { windowSeconds: 900 });
    assert.deepEqual([full.allowed, full.remaining], [false, 0]);
    assert.ok(full.msBeforeReset > 899_000);
    const none = await client.peek('never-hit', 2, { windowSeconds: 900 });
    assert.deepEqual(none, { allowed: true, remaining: 2, msBeforeReset: 0 });
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
    for (const window of [0, -1, 1.5, 86_401, '60' as unknown as number]) {
      await assert.rejects(master.answer({ type: 'count', id: 1, limit: 5, keys: ['a'], window }), /malformed count request/, String(window));
    }
    await assert.rejects(master.answer({ type: 'count', id: 1, limit: 5, keys: ['a'], peek: 'yes' as unknown as boolean }), /malformed count request/);
  });

  it("the app's rate limit sends the counts of 404s together, ahead of the worker's next counted request", async () => {
    const logger = { warn: () => undefined } as unknown as Logger;
    const { client, sent } = wired();
    const limit = await createRateLimit({ perMinute: 3, logger, hostCounters: client });
    assert.ok(limit);
    for (let i = 0; i < 3; i++) assert.equal(limit.count('ip'), undefined);
    await new Promise((r) => setImmediate(r));
    assert.equal(sent.length, 0, 'gathered, not sent yet');
    const decision = await limit.consume('ip');
    assert.deepEqual(sent.map((m) => m.keys), [['ip', 'ip', 'ip', 'ip']]);
    assert.deepEqual([decision.allowed, decision.remaining], [false, 0]);
    // Known to be over now: refused without asking the master.
    const refused = limit.count('ip');
    assert.deepEqual([refused?.allowed, refused?.remaining], [false, 0]);
    assert.ok((refused?.resetSeconds ?? 0) >= 59);
    // Without a counted request after them, they go within 20 ms.
    assert.equal(limit.count('other'), undefined);
    await new Promise((r) => setTimeout(r, 60));
    assert.deepEqual(sent.map((m) => m.keys), [['ip', 'ip', 'ip', 'ip'], ['other']]);
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
