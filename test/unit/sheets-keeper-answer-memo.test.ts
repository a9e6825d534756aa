// The keeper's answers made once per copy (answer-memo.ts) are bounded per value bytes: every
// spelling of one read shares one answer (merge.ts readKeyOf), and at most MAX_READS_PER_COPY
// reads keep theirs. Keyed by the range as asked, each spelling of a cut of a tab that did not
// change (an export's `sheet=Players!B01:C`, `B001:C`, ...) held a copy of the tab's rows of its
// own for as long as the tab stayed as it was, outside the cache budget.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { AnswerMemo, MAX_READS_PER_COPY } from '../../src/sheets/keeper/answer-memo.js';
import { cachedValue } from '../../src/sheets/keeper/cached-value.js';
import { readKeyOf } from '../../src/sheets/keeper/merge.js';
import { ReadAnswers, type ReadAnswerParts } from '../../src/sheets/keeper/read-answers.js';
import { CopyNumbers } from '../../src/sheets/keeper/copy-identity.js';
import { FakeClock } from '../fixtures/fake-clock.js';

const ROWS = [['name', 'code', 'team'], ...Array.from({ length: 200 }, (_, i) => [`Player ${i}`, `P${i}`, i % 2 ? 'Red' : 'Blue'])];

/** ReadAnswers over a tier that holds one value of `Players!A1:C`, fetched once, and an empty journal. */
function answersOver() {
  const clock = new FakeClock();
  const value = cachedValue('Players!A1:C', ROWS, clock.now(), clock.now(), 60_000);
  const fetched: string[] = [];
  const tier = {
    copyNumbers: new CopyNumbers(),
    get: async (range: string) => {
      fetched.push(range);
      return { value, stale: false, staleSeconds: 0, via: 'fresh' as const };
    },
    retryIn: () => undefined,
  };
  const parts = { tier, journal: { rowsFor: () => [] }, backend: { kind: 'google' }, clock, epoch: 'e' } as unknown as ReadAnswerParts;
  const reads = new ReadAnswers(parts);
  const held = () => (reads as unknown as { answers: AnswerMemo }).answers.heldFor(value.jsonBytes);
  return { reads, held, fetched };
}

/** `Players!B1:C` with `zeros` leading zeros in its first row number. */
const spelling = (zeros: number) => `Players!B${'0'.repeat(zeros)}1:C`;

describe('keeper answers made once per copy (answer-memo)', () => {
  it('every spelling of one read is one key; other reads are others', () => {
    assert.equal(readKeyOf('Players!B1:C'), readKeyOf("'Players'!b001:c"));
    assert.equal(readKeyOf('Players!B1:C'), readKeyOf('Players!C1:B'));
    assert.equal(readKeyOf('Players!B1:C1'), readKeyOf('Players!R1C2:R1C3'));
    assert.notEqual(readKeyOf('Players!B1:C'), readKeyOf('Players!B2:C'));
    assert.notEqual(readKeyOf('Players!B1:C'), readKeyOf('players!B1:C'), "a tab's name keeps its case, as the fetch does");
    assert.notEqual(readKeyOf('Players!B1:C'), readKeyOf('Players!B1:D'));
    assert.equal(readKeyOf('Players!B1:X!'), 'raw Players!B1:X!');
  });

  it('spellings of one cut of an unchanged tab share one answer (they held a copy of its rows each)', async () => {
    const { reads, held, fetched } = answersOver();
    const first = await reads.resolve(spelling(0));
    for (let zeros = 1; zeros <= 300; zeros++) {
      const { read } = await reads.resolve(spelling(zeros));
      assert.equal(read.range, spelling(zeros), 'answered under the range as asked');
      assert.equal(read.values, first.read.values, 'the answer made for the first spelling');
    }
    assert.equal(held(), 1);
    assert.deepEqual(new Set(fetched), new Set(['Players!A1:C']));
  });

  it('at most MAX_READS_PER_COPY reads keep an answer per value bytes, and a dropped one is made again alike', async () => {
    const { reads, held } = answersOver();
    const one = await reads.resolve('Players!B1:C');
    // Distinct reads answered from the one value bytes the stub tier holds (in a keeper, the cuts
    // of one fetched range: Players!B1:ZZ, C1:ZZ, ...).
    for (let row = 2; row <= 200; row++) await reads.resolve(`Players!B${row}:C`);
    assert.ok(held() <= MAX_READS_PER_COPY, `${held()} answers held`);
    const memo = new AnswerMemo();
    const base = Buffer.from('[]');
    for (let i = 0; i < 1000; i++) memo.keep(base, `key ${i}`, 'copy', { values: [], added: 0 });
    assert.equal(memo.heldFor(base), MAX_READS_PER_COPY);
    assert.equal(memo.get(base, 'key 999', 'copy')?.copy, 'copy', 'the latest kept');
    assert.equal(memo.get(base, 'key 0', 'copy'), undefined, 'the oldest dropped');
    const again = await reads.resolve('Players!B1:C');
    assert.deepEqual(again.read.values, one.read.values);
  });
});
