// Host-wide counters: the worker's batching client, the master's answers, and the bundled app's
// rate limit on top of them (it lets requests through when the master does not answer).

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createRateLimit } from '../../src/app/rate-limit.js';
import type { ChildMessage, MasterMessage } from '../../src/ipc/messages.js';
import type { Logger } from '../../src/log/logger.js';
import { createHostCounters } from '../../src/master/host-counters.js';
import { createWindowCounters, MAX_KEYS_PER_COUNTER } from '../../src/window-counters.js';
import { createCounterClient } from '../../src/worker/counter-client.js';
import { waitFor } from '../helpers/corral.js';

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
    assert.equal(sent.length, 2, 'one message per limit and window, peeks with the hits');
    // The defaults stay out of the message.
    assert.deepEqual(
      sent.map((m) => [m.limit, m.window, m.peeks, m.keys]),
      [
        [2, undefined, undefined, ['k']],
        [2, 900, [1], ['k', 'k']],
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

  it('a peek and hits of one counter asked in one turn go in one message and settle together, in the order asked', async () => {
    const master = createHostCounters();
    const sent: Count[] = [];
    const client = createCounterClient((m) => (m.type === 'count' ? (sent.push(m), true) : false), { timeoutMs: 60_000 });
    const long = { windowSeconds: 900 };
    // The key at its limit (a locked name), counted straight on the master.
    await master.answer({ type: 'count', id: 0, limit: 2, window: 900, keys: ['n', 'n'] });
    // A burst in one turn: wrong, right (a peek), wrong.
    const order: string[] = [];
    const burst = [client.hit('n', 2, long), client.peek('n', 2, long), client.hit('n', 2, long)].map((p, i) =>
      p.then((h) => (order.push(`${i}:${h.allowed ? 'allowed' : 'refused'}`), h)),
    );
    await new Promise((r) => setImmediate(r));
    assert.equal(sent.length, 1, 'one message');
    assert.deepEqual([sent[0]?.keys, sent[0]?.peeks], [['n', 'n', 'n'], [1]]);
    client.onCounted(await master.answer(sent[0] as Count));
    // Settled by that one answer, before anything else runs.
    await Promise.resolve();
    assert.deepEqual(order, ['0:refused', '1:refused', '2:refused']);
    await Promise.all(burst);
  });

  it('refuses a bad limit or window at once, naming the value and the allowed range, and sends nothing', async () => {
    const { client, sent } = wired({ timeoutMs: 5000 });
    for (const windowSeconds of [1.5, 100_000, 0]) {
      await assert.rejects(client.hit('a', 5, { windowSeconds }), (err: Error & { code?: string }) => {
        assert.equal(err.code, 'CORRAL_ERR_COUNTER_INVALID');
        assert.match(err.message, new RegExp(`windowSeconds ${windowSeconds} is not allowed: a whole number of seconds from 1 to 86400`));
        return true;
      });
    }
    await assert.rejects(client.peek('a', 0), /limit 0 is not allowed: a whole number of hits from 1/);
    await assert.rejects(client.hit('a', 2.5), /limit 2.5 is not allowed/);
    assert.equal(sent.length, 0);
    // The in-process counters (an app outside corral) say the same.
    await assert.rejects(createWindowCounters().hit('a', 5, { windowSeconds: 1.5 }), /windowSeconds 1.5 is not allowed/);
  });

  it('the master logs the malformed requests it drops, at most once a minute', async () => {
    const lines: Record<string, unknown>[] = [];
    const logger = { warn: (fields: Record<string, unknown>, msg: string) => void lines.push({ ...fields, msg }) } as unknown as Logger;
    let now = 1_000_000;
    const master = createHostCounters({ logger, now: () => now });
    const bad = { type: 'count', id: 1, limit: 5, keys: ['a'], window: 1.5 } as const;
    await assert.rejects(master.answer(bad), /malformed count request: windowSeconds 1.5 is not allowed/);
    now += 30_000;
    await assert.rejects(master.answer({ ...bad, window: 100_000 }), /windowSeconds 100000/);
    assert.equal(lines.length, 1, 'once a minute');
    assert.deepEqual([lines[0]?.event, lines[0]?.code, lines[0]?.requests], ['counters.malformed', 'CORRAL_ERR_COUNTER_INVALID', 1]);
    assert.match(String(lines[0]?.problem), /windowSeconds 1.5 is not allowed: a whole number of seconds from 1 to 86400/);
    now += 30_000;
    await assert.rejects(master.answer({ ...bad, limit: 0, window: undefined }), /limit 0/);
    assert.equal(lines.length, 2);
    assert.equal(lines[1]?.requests, 2, 'the one not logged is counted in the next line');
    // A good request is answered and logs nothing.
    assert.equal((await master.answer({ type: 'count', id: 2, limit: 5, keys: ['a'] })).results.length, 1);
    assert.equal(lines.length, 2);
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
    // Peeks must be ascending indices into keys, each once.
    for (const peeks of [[2], [0, 0], [-1], [0.5], [1, 0], 'x' as unknown as number[]]) {
      await assert.rejects(master.answer({ type: 'count', id: 1, limit: 5, keys: ['a', 'b'], peeks }), /malformed count request: peeks/, JSON.stringify(peeks));
    }
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
    // Without a counted request after them, they go on their own (20 ms later).
    assert.equal(limit.count('other'), undefined);
    await waitFor(() => sent.length === 2, 2000, 'the count of the lone 404');
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

describe("the master's counters are bounded (a scan from many addresses once the shared table is full)", () => {
  /** A scanner's keys: one IPv6 /64 each, as client-ip.ts's clientKey writes them. */
  const scanKey = (i: number) => `2001:db8:${(i >>> 16).toString(16)}:${(i & 0xffff).toString(16)}::/64`;

  it('holds at most MAX_KEYS_PER_COUNTER keys per counter however many distinct keys it is hit with, and refuses the new ones as over their limit', async () => {
    let now = 0;
    const counters = createWindowCounters({ now: () => now });
    // Every hit a new /64, 1.5 times what a counter holds, and more in the next minutes.
    for (let i = 0; i < MAX_KEYS_PER_COUNTER * 1.5; i++) await counters.hit(scanKey(i), 600);
    assert.equal(counters.keys(), MAX_KEYS_PER_COUNTER);
    const refused = await counters.hit(scanKey(-1), 600);
    assert.deepEqual(refused, { allowed: false, remaining: 0, msBeforeReset: 60_000 }, 'over its limit until the oldest window ends');
    // A key it holds is counted as before.
    assert.deepEqual(await counters.hit(scanKey(0), 600), { allowed: true, remaining: 598, msBeforeReset: 60_000 });
    // A peek needs no room: a key it does not hold has had no hits.
    assert.deepEqual(await counters.peek(scanKey(-1), 600), { allowed: true, remaining: 600, msBeforeReset: 0 });
    for (let minute = 1; minute <= 2; minute++) {
      now = minute * 60_000;
      for (let i = 0; i < MAX_KEYS_PER_COUNTER * 1.2; i++) await counters.hit(scanKey(minute * 1_000_000 + i), 600);
      assert.equal(counters.keys(), MAX_KEYS_PER_COUNTER, `minute ${minute}: the ended windows made room, and no more`);
    }
    // Another counter (a login limit's) has room of its own.
    assert.equal((await counters.hit('login-name:0123', 16_777_214, { windowSeconds: 900 })).allowed, true);
    assert.equal(counters.keys(), MAX_KEYS_PER_COUNTER + 1);
  });

  it('the master answers the refused hits as over the limit, says so once (counters.full), and once more when it takes new keys again', async () => {
    const lines: Record<string, unknown>[] = [];
    const logger = {
      warn: (fields: Record<string, unknown>, msg: string) => void lines.push({ ...fields, msg }),
      info: (fields: Record<string, unknown>, msg: string) => void lines.push({ ...fields, msg }),
    } as unknown as Logger;
    const master = createHostCounters({ logger, maxKeysPerCounter: 100 });
    const keys = Array.from({ length: 250 }, (_, i) => scanKey(i));
    const { results } = await master.answer({ type: 'count', id: 1, limit: 600, keys });
    assert.deepEqual(results.slice(0, 100).map((r) => r[0]), Array(100).fill(1));
    assert.deepEqual(results.slice(100).map((r) => [r[0], r[1]]), Array(150).fill([0, 0]));
    assert.ok(results.slice(100).every((r) => r[2] > 59_000 && r[2] <= 60_000));
    await master.answer({ type: 'count', id: 2, limit: 600, keys: [scanKey(1000)] });
    assert.deepEqual(
      lines.map((l) => [l.event, l.limit, l.window_s, l.max_keys, l.refused]),
      [['counters.full', 600, 60, 100, 1]],
      'said at the first refusal, then at most once a minute',
    );
    assert.match(String(lines[0]?.msg), /refused as over their limit \(429 for the per-IP limit\)/);
    // A login counter (another limit and window) is not full.
    const login = await master.answer({ type: 'count', id: 3, limit: 16_777_214, window: 900, keys: ['login-name:0123'] });
    assert.equal(login.results[0]?.[0], 1);
  });

  it('says when the full counter takes new keys again, with the hits refused meanwhile', async () => {
    const lines: Record<string, unknown>[] = [];
    const logger = {
      warn: (fields: Record<string, unknown>) => void lines.push(fields),
      info: (fields: Record<string, unknown>) => void lines.push(fields),
    } as unknown as Logger;
    const master = createHostCounters({ logger, maxKeysPerCounter: 2 });
    await master.answer({ type: 'count', id: 1, limit: 5, window: 1, keys: ['a', 'b', 'c', 'd'] });
    await new Promise((r) => setTimeout(r, 1100));
    const { results } = await master.answer({ type: 'count', id: 2, limit: 5, window: 1, keys: ['e'] });
    assert.equal(results[0]?.[0], 1);
    assert.deepEqual(
      lines.map((l) => [l.event, l.refused]),
      [
        ['counters.full', 1],
        ['counters.accepting', 2],
      ],
    );
  });
});
