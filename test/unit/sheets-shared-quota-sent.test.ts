// A call's slot of the window shared by the sheet's hosts through Redis is dated when the call
// leaves, as its host's token is (pacing.ts SENT_LATE_MS): a call that waited for a connection of
// the HTTP pool reaches Google that much after its grant, and Google counts it for a minute from
// then. Dated at the grant in Redis alone, its slot freed that much early for the other hosts,
// and they spent it while Google still counted the late call: over the quota in Google's minute.

import assert from 'node:assert/strict';
import { afterEach, describe, it } from 'node:test';
import { RedisLink } from '../../src/redis/link.js';
import { pacer } from '../../src/sheets/keeper/pacing.js';
import { QuotaBucket } from '../../src/sheets/keeper/quota.js';
import { sharedPrefix } from '../../src/sheets/keeper/shared-keys.js';
import { SharedQuota } from '../../src/sheets/keeper/shared-quota.js';
import { UpstreamMeter } from '../../src/sheets/keeper/upstream-meter.js';
import { captureLogger } from '../fixtures/capture-logger.js';
import { FakeClock } from '../fixtures/fake-clock.js';
import { redisMissing, redisPerSuite } from '../helpers/redis-server.js';

const PREFIX = sharedPrefix('google sheet-sent via emulator');
/** How long the first host's call waited in its HTTP pool after its grant (both windows' worth, nearly). */
const LATE_MS = 60_000;

describe('shared quota: a slot dated when its call leaves', { skip: redisMissing }, () => {
  const server = redisPerSuite();
  const cleanup: (() => Promise<void> | void)[] = [];
  afterEach(async () => {
    for (const c of cleanup.splice(0).reverse()) await c();
  });

  const host = async (perMinute: number) => {
    const log = await captureLogger();
    const link = new RedisLink({ url: server().url, logger: log.logger, commandTimeoutMs: 10_000 });
    while (!link.ready) await new Promise((r) => setTimeout(r, 10));
    const quota = new SharedQuota({ link, prefix: PREFIX, perMinute: { read: perMinute, write: perMinute }, logger: log.logger });
    const clock = new FakeClock(Date.now());
    const reads = new QuotaBucket({ name: 'sheets reads', perMinute, maxQueue: 10, clock });
    const writes = new QuotaBucket({ name: 'sheets writes', perMinute, maxQueue: 10, clock });
    cleanup.push(async () => {
      quota.close();
      await link.close();
      log.close();
    });
    return { quota, clock, before: pacer(reads, writes, new UpstreamMeter(clock), (kind, signal, onWait) => quota.take(kind, signal, onWait)) };
  };

  it("another host is not granted the slot of a call that left late, until a window after it left", async () => {
    const [a, b] = [await host(1), await host(1)];
    const sent = await a.before({ kind: 'read' });
    assert.equal(typeof sent, 'function');
    // A's request waits LATE_MS for a connection: its slot in Redis is that old when it leaves.
    const key = `${PREFIX}:quota:reads`;
    const [member, score] = server().cli('ZRANGE', key, '0', '-1', 'WITHSCORES').trim().split('\n');
    assert.ok(member && score, 'one grant in the window');
    server().cli('ZADD', key, String(Number(score) - LATE_MS), member);
    await a.clock.advance(LATE_MS);
    (sent as () => void)();
    // The re-dating is sent at once; give it a moment to reach Redis.
    for (let i = 0; i < 100 && Number(server().cli('ZSCORE', key, member).trim()) < Number(score); i++) await new Promise((r) => setTimeout(r, 10));
    // B asks now: Google counts A's call for the next minute, so B's must wait about that long.
    const abort = new AbortController();
    cleanup.push(() => abort.abort());
    let granted = false;
    b.quota.take('read', abort.signal).then(
      () => (granted = true),
      () => undefined,
    );
    await new Promise((r) => setTimeout(r, 2500));
    assert.equal(granted, false, "B was granted a slot within 2.5 s of A's call leaving, the limit 1 a minute: Google's minute holds both");
  });
});
