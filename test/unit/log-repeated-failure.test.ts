import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { FAILURE_REPEAT_MS, RepeatedFailure } from '../../src/log/repeated-failure.js';

describe('a repeated failure, as log lines', () => {
  it('says the first occurrence at once, then at most once per interval with the count since, then its end once', () => {
    let now = 0;
    const failure = new RepeatedFailure(() => now);
    const said: Array<[number, number]> = [];
    const ends: number[] = [];
    // Ten occurrences a second for three and a half minutes.
    for (; now < 210_000; now += 100) failure.failed((since, total) => said.push([since, total]));
    assert.deepEqual(said, [
      [1, 1],
      [600, 601],
      [600, 1201],
      [600, 1801],
    ]);
    assert.equal(failure.failing, true);
    failure.ended((total) => ends.push(total));
    failure.ended((total) => ends.push(total));
    assert.deepEqual(ends, [2100], 'the end is said once, with every occurrence');
    assert.equal(failure.failing, false);
    // A new failure is a new episode: said at once.
    failure.failed((since, total) => said.push([since, total]));
    assert.deepEqual(said.at(-1), [1, 1]);
  });

  it('says nothing at an end without a failure', () => {
    const failure = new RepeatedFailure(() => 0);
    failure.ended(() => assert.fail('no failure to end'));
    assert.equal(FAILURE_REPEAT_MS, 60_000);
  });
});
