import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { IdempotencyKeys, validateClaim } from '../../src/sheets/keeper/idempotency-keys.js';
import { Journal, type JournalOptions } from '../../src/sheets/keeper/journal.js';
import { FakeClock } from '../fixtures/fake-clock.js';

const HOUR = 3600_000;
const claim = (key: string, fingerprint = 'fp-1') => ({ key, fingerprint, answer: JSON.stringify({ id: `id-of-${key}`, at: '2026-11-25T00:00:00.000Z' }) });
const row = (id: string) => [id, 'Alice', 'goal', '', '2026-11-25T00:00:00.000Z'];

async function rejectionCode(p: Promise<unknown>): Promise<string | undefined> {
  try {
    await p;
  } catch (err) {
    return (err as { code?: string }).code;
  }
  assert.fail('expected a rejection');
}

describe('IdempotencyKeys', () => {
  it('answers a held key with its answer, refuses another fingerprint, and a key still in flight', () => {
    const keys = new IdempotencyKeys({ ttlMs: 24 * HOUR, max: 10 });
    const c = claim('k1');
    assert.equal(keys.lookup(c, 0), undefined, 'a new key');
    keys.reserve(c, 0);
    assert.throws(() => keys.lookup(c, 1), { code: 'CORRAL_ERR_IDEMPOTENCY_IN_FLIGHT' });
    keys.settle('k1');
    assert.equal(keys.lookup({ ...c, answer: 'a later answer' }, 2), c.answer, 'the first answer, not the retry’s');
    assert.throws(() => keys.lookup(claim('k1', 'fp-2'), 3), { code: 'CORRAL_ERR_IDEMPOTENCY_MISMATCH' });
  });

  it('forgets a key whose record could not be written, but never a durable one', () => {
    const keys = new IdempotencyKeys({ ttlMs: HOUR, max: 10 });
    keys.reserve(claim('lost'), 0);
    keys.release('lost');
    assert.equal(keys.lookup(claim('lost'), 1), undefined);
    keys.reserve(claim('kept'), 0);
    keys.settle('kept');
    keys.release('kept');
    assert.equal(keys.lookup(claim('kept'), 1), claim('kept').answer);
  });

  it('remembers a key for its retention, counted from the first request', () => {
    const keys = new IdempotencyKeys({ ttlMs: 24 * HOUR, max: 10 });
    keys.reserve(claim('k'), 1000);
    keys.settle('k');
    assert.equal(keys.lookup(claim('k'), 1000 + 24 * HOUR), claim('k').answer);
    assert.equal(keys.lookup(claim('k'), 1001 + 24 * HOUR), undefined);
    assert.equal(keys.size, 0);
  });

  it('at the cap forgets the oldest durable keys first and counts them; a key in flight is kept', () => {
    const keys = new IdempotencyKeys({ ttlMs: HOUR, max: 3 });
    keys.reserve(claim('in-flight'), 0);
    for (const k of ['a', 'b', 'c']) {
      keys.reserve(claim(k), 1);
      keys.settle(k);
    }
    assert.equal(keys.size, 3);
    assert.equal(keys.evicted, 1);
    assert.equal(keys.lookup(claim('a'), 2), undefined, 'the oldest durable key went');
    assert.throws(() => keys.lookup(claim('in-flight'), 2), { code: 'CORRAL_ERR_IDEMPOTENCY_IN_FLIGHT' });
    assert.equal(keys.lookup(claim('c'), 2), claim('c').answer);
  });

  it("past its share an owner loses its own oldest keys, never another owner's", () => {
    const keys = new IdempotencyKeys({ ttlMs: HOUR, max: 6, maxPerOwner: 2 });
    const hold = (key: string, owner: string, at: number) => {
      keys.reserve({ ...claim(key), owner }, at);
      keys.settle(key);
    };
    hold('bob-1', 'bob', 0);
    hold('carol-1', 'carol', 1);
    // One owner sending many keys: far more than the whole cap.
    for (let i = 1; i <= 20; i++) hold(`mallory-${i}`, 'mallory', 1 + i);
    assert.equal(keys.lookup(claim('bob-1'), 30), claim('bob-1').answer, "another owner's key stays");
    assert.equal(keys.lookup(claim('carol-1'), 30), claim('carol-1').answer);
    assert.equal(keys.lookup(claim('mallory-20'), 30), claim('mallory-20').answer);
    assert.equal(keys.lookup(claim('mallory-19'), 30), claim('mallory-19').answer);
    assert.equal(keys.lookup(claim('mallory-18'), 30), undefined, "the owner's own oldest went");
    assert.equal(keys.size, 4);
    assert.equal(keys.ownerEvicted, 18);
    assert.equal(keys.evicted, 0, 'the host-wide cap was never reached');
    // Keys without an owner count against the cap only, as before.
    for (let i = 1; i <= 3; i++) hold(`anon-${i}`, undefined as unknown as string, 40 + i);
    assert.equal(keys.size, 6);
    // A key still in flight is not given up for its owner's share either.
    keys.reserve({ ...claim('dave-1'), owner: 'dave' }, 50);
    keys.reserve({ ...claim('dave-2'), owner: 'dave' }, 51);
    keys.reserve({ ...claim('dave-3'), owner: 'dave' }, 52);
    assert.throws(() => keys.lookup(claim('dave-1'), 53), { code: 'CORRAL_ERR_IDEMPOTENCY_IN_FLIGHT' });
  });

  it('at start, keys past their retention take no place in their owner\'s share and are not counted as evicted by it', () => {
    const keys = new IdempotencyKeys({ ttlMs: HOUR, max: 100, maxPerOwner: 2 });
    const record = (key: string, at: number) => ({ k: 'key', ...IdempotencyKeys.field({ ...claim(key), owner: 'bob' }), at });
    // Three keys of a day ago, then bob's two live ones: in file order, as a journal holds them.
    keys.restore([record('old-1', 0), record('old-2', 1), record('old-3', 2), record('new-1', 24 * HOUR), record('new-2', 24 * HOUR + 1)], 24 * HOUR + 2);
    assert.equal(keys.ownerEvicted, 0, 'nothing was pushed out of the share');
    assert.equal(keys.size, 2);
    assert.equal(keys.lookup(claim('new-1'), 24 * HOUR + 3), claim('new-1').answer);
    assert.equal(keys.lookup(claim('old-3'), 24 * HOUR + 3), undefined);
  });

  it('refuses a malformed claim before anything is journaled', () => {
    assert.equal(validateClaim(undefined), undefined);
    for (const bad of ['k', [], { key: 'k', fingerprint: 'f' }, { key: '', fingerprint: 'f', answer: 'a' }, { key: 'k'.repeat(257), fingerprint: 'f', answer: 'a' }, { key: 'k', fingerprint: 'f', answer: 'a'.repeat(1025) }]) {
      assert.throws(() => validateClaim(bad), { code: 'CORRAL_ERR_APPEND_INVALID' }, JSON.stringify(bad).slice(0, 60));
    }
    assert.throws(() => validateClaim({ ...claim('k'), owner: '' }), { code: 'CORRAL_ERR_APPEND_INVALID' });
    assert.deepEqual(validateClaim({ ...claim('k'), owner: 'o' }), { ...claim('k'), owner: 'o' });
  });
});

describe('journal appends with an idempotency key', () => {
  let dir: string;
  let clock: FakeClock;
  const open = async (extra: Partial<JournalOptions> = {}) => (await Journal.open({ dir, destination: 'the sheet', clock, unsureDelayMs: 1000, ...extra })).journal;

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'corral-idem-keys-'));
    clock = new FakeClock();
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('a retry gets the stored answer and journals nothing', async () => {
    const journal = await open();
    const first = await journal.add('Events', [row('e1')], claim('k'));
    assert.equal(first.replayed, undefined);
    const retry = await journal.add('Events', [row('e2')], claim('k'));
    assert.equal(retry.replayed, claim('k').answer);
    assert.deepEqual(journal.live().map((e) => e.rows[0]?.[0]), ['e1'], 'the retry’s row is not journaled');
    assert.equal(await rejectionCode(journal.add('Events', [row('e3')], claim('k', 'fp-other'))), 'CORRAL_ERR_IDEMPOTENCY_MISMATCH');
    assert.equal(journal.live().length, 1);
    await journal.close();
  });

  it('a retry while the first is being written is refused as in flight; the first is acknowledged', async () => {
    const journal = await open();
    const first = journal.add('Events', [row('e1')], claim('k'));
    const second = journal.add('Events', [row('e2')], claim('k'));
    assert.equal(await rejectionCode(second), 'CORRAL_ERR_IDEMPOTENCY_IN_FLIGHT');
    assert.equal((await first).replayed, undefined);
    assert.equal((await journal.add('Events', [row('e3')], claim('k'))).replayed, claim('k').answer);
    await journal.close();
  });

  it("the link's resend of the very append being written (same key, same rows) waits for it and gets its answer, not 409", async () => {
    const journal = await open();
    const first = journal.add('Events', [row('e1')], claim('k'));
    // Sent again with the same body (the worker link's retry after its timeout) while the first is written.
    const resent = journal.add('Events', [row('e1')], claim('k'));
    assert.equal((await first).replayed, undefined);
    assert.equal((await resent).replayed, claim('k').answer);
    assert.deepEqual(journal.live().map((e) => e.rows[0]?.[0]), ['e1'], 'journaled once');
    await journal.close();
  });

  it('the key outlives its row: done, forgotten by the journal, compacted and reopened, until its retention ends', async () => {
    let journal = await open({ retainDoneMs: 60_000, idempotencyTtlMs: 24 * HOUR });
    await journal.add('Events', [row('e1')], claim('k'));
    await journal.markSending(journal.live());
    await journal.markDone(journal.live(), 'sent');
    await clock.advance(2 * HOUR);
    await journal.add('Events', [row('e2')]);
    await journal.markSending(journal.live());
    await journal.markDone(journal.live(), 'sent');
    await journal.compact();
    const text = readFileSync(journal.path, 'utf8');
    assert.ok(!text.includes('"e1"'), 'the row of the first request left the journal');
    assert.ok(text.includes('"k":"key"'), 'its key did not');
    await journal.close();

    journal = await open({ retainDoneMs: 60_000, idempotencyTtlMs: 24 * HOUR });
    assert.equal((await journal.add('Events', [row('e3')], claim('k'))).replayed, claim('k').answer);
    assert.equal(journal.live().length, 0);
    await journal.close();

    // Past its 24 h (from the first request): the key is a new request again.
    await clock.advance(22 * HOUR + 1);
    journal = await open({ retainDoneMs: 60_000, idempotencyTtlMs: 24 * HOUR });
    assert.equal((await journal.add('Events', [row('e4')], claim('k'))).replayed, undefined);
    assert.equal(journal.live().length, 1);
    await journal.close();
  });

  it('a key whose rows were already journaled (a retry of rows sent without it) is journaled on its own', async () => {
    let journal = await open();
    await journal.add('Events', [row('e1')]);
    const again = await journal.add('Events', [row('e1')], claim('k'));
    assert.equal(again.duplicates, 1);
    await journal.close();
    journal = await open();
    assert.equal((await journal.add('Events', [row('e2')], claim('k'))).replayed, claim('k').answer);
    // Such a key is in flight from the start, not only once its rows' wait is over.
    const first = journal.add('Events', [row('e1')], claim('k2'));
    assert.equal(await rejectionCode(journal.add('Events', [row('e1')], claim('k2'))), 'CORRAL_ERR_IDEMPOTENCY_IN_FLIGHT');
    assert.equal((await first).duplicates, 1);
    await journal.close();
  });

  it('the figures count no key past its retention, though no keyed append came since', async () => {
    const journal = await open({ idempotencyTtlMs: HOUR });
    await journal.add('Events', [row('e1')], claim('k'));
    assert.equal(journal.idempotencyFigures().keys, 1);
    await clock.advance(HOUR + 1);
    assert.equal(journal.idempotencyFigures().keys, 0);
    await journal.close();
  });

  it('the cap holds across a reopen, the newest keys kept', async () => {
    let journal = await open({ idempotencyKeysMax: 2 });
    for (const k of ['a', 'b', 'c']) await journal.add('Events', [row(`e-${k}`)], claim(k));
    assert.deepEqual(journal.idempotencyFigures(), { keys: 2, evicted: 1, ownerEvicted: 0 });
    await journal.close();
    journal = await open({ idempotencyKeysMax: 2 });
    assert.equal(journal.idempotencyFigures().keys, 2);
    assert.equal((await journal.add('Events', [row('x')], claim('c'))).replayed, claim('c').answer);
    assert.equal((await journal.add('Events', [row('y')], claim('a'))).replayed, undefined, 'the oldest key was forgotten');
    await journal.close();
  });

  it('a keyed append the disk refuses pushes out no held key, of its owner or of the host', async () => {
    let refuse = false;
    // A disk that refuses writes (ENOSPC) while `refuse` holds.
    const wrapHandle = (fh: FileHandle): FileHandle =>
      new Proxy(fh, {
        get(target, prop) {
          if (prop === 'write' && refuse) return async () => Promise.reject(Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' }));
          const v = Reflect.get(target, prop, target) as unknown;
          return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
        },
      });
    const journal = await open({ idempotencyKeysMax: 2, idempotencyKeysPerOwner: 2, file: { wrapHandle } });
    await journal.add('Events', [row('e-a')], { ...claim('a'), owner: 'bob' });
    await journal.add('Events', [row('e-b')], { ...claim('b'), owner: 'bob' });
    refuse = true;
    // A new request and two of its retries, each refused before it was acknowledged.
    for (let i = 0; i < 3; i++) assert.equal(await rejectionCode(journal.add('Events', [row(`e-c${i}`)], { ...claim('c'), owner: 'bob' })), 'CORRAL_ERR_JOURNAL_UNWRITABLE');
    refuse = false;
    assert.deepEqual(journal.idempotencyFigures(), { keys: 2, evicted: 0, ownerEvicted: 0 });
    assert.equal((await journal.add('Events', [row('x')], { ...claim('a'), owner: 'bob' })).replayed, claim('a').answer);
    assert.equal((await journal.add('Events', [row('y')], { ...claim('b'), owner: 'bob' })).replayed, claim('b').answer);
    assert.equal(journal.live().length, 2, 'no second row for a or b');
    await journal.close();
  });

  it('after the wall clock stepped back between two keepers, a key is forgotten at the end of its retention all the same', async () => {
    let journal = await open({ idempotencyTtlMs: 24 * HOUR });
    await journal.add('Events', [row('e1')], claim('before-the-step'));
    await journal.close();
    // The next keeper starts with the wall clock 2 h back (it ran fast; NTP set it right at boot):
    // the first key reads as journaled 2 h from now.
    clock = new FakeClock(clock.now() - 2 * HOUR);
    journal = await open({ idempotencyTtlMs: 24 * HOUR });
    await journal.add('Events', [row('e2')], claim('after-the-step'));
    await clock.advance(24 * HOUR + 60_000);
    assert.equal(journal.idempotencyFigures().keys, 0, 'no key is held past its retention');
    assert.equal((await journal.add('Events', [row('e3')], claim('after-the-step'))).replayed, undefined, 'a new request');
    assert.equal((await journal.add('Events', [row('e4')], claim('before-the-step'))).replayed, undefined);
    await journal.close();
  });

  it("each owner's share holds across a compaction and a reopen", async () => {
    const options = { idempotencyKeysMax: 100, idempotencyKeysPerOwner: 2, retainDoneMs: 0 };
    let journal = await open(options);
    await journal.add('Events', [row('e-bob')], { ...claim('bob-1'), owner: 'bob' });
    for (let i = 1; i <= 3; i++) await journal.add('Events', [row(`e-m${i}`)], { ...claim(`mallory-${i}`), owner: 'mallory' });
    assert.deepEqual(journal.idempotencyFigures(), { keys: 3, evicted: 0, ownerEvicted: 1 });
    await journal.markSending(journal.live());
    await journal.markDone(journal.live(), 'sent');
    await clock.advance(1000);
    await journal.compact();
    await journal.close();
    journal = await open(options);
    assert.equal(journal.idempotencyFigures().keys, 3);
    // mallory is still at its share: its next key pushes out its own oldest, not bob's.
    await journal.add('Events', [row('e-m4')], { ...claim('mallory-4'), owner: 'mallory' });
    assert.equal((await journal.add('Events', [row('x')], { ...claim('bob-1'), owner: 'bob' })).replayed, claim('bob-1').answer);
    assert.equal((await journal.add('Events', [row('y')], { ...claim('mallory-2'), owner: 'mallory' })).replayed, undefined, "mallory's oldest went");
    await journal.close();
  });
});
