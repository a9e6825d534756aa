import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { FAILURE_REPEAT_MS, RepeatedFailure, RepeatedFailures } from '../../src/log/repeated-failure.js';

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
    // A new failure a minute after the last line is said at once.
    now += 60_000;
    failure.failed((since, total) => said.push([since, total]));
    assert.deepEqual(said.at(-1), [1, 1]);
  });

  it('a cause that comes and goes is still at most a line a minute, and an end only follows a failure that was said', () => {
    let now = 0;
    const failure = new RepeatedFailure(() => now);
    const lines: string[] = [];
    // Every other occurrence fails, ten a second, for two and a half minutes.
    for (let i = 0; now < 150_000; i++, now += 100) {
      if (i % 2 === 0) failure.failed((since) => lines.push(`failed ${since}`));
      else failure.ended((total) => lines.push(`ended ${total}`));
    }
    assert.deepEqual(lines, ['failed 1', 'ended 1', 'failed 300', 'ended 1', 'failed 300', 'ended 1']);
  });

  it('says nothing at an end without a failure', () => {
    const failure = new RepeatedFailure(() => 0);
    failure.ended(() => assert.fail('no failure to end'));
    assert.equal(FAILURE_REPEAT_MS, 60_000);
  });

  it('per key: each key is said at its first, and keys made of what clients send cannot grow it past its bound', () => {
    const failures = new RepeatedFailures(() => 0, 3);
    const said: string[] = [];
    for (const key of ['a', 'a', 'b', 'a', 'c', 'd', 'a']) failures.failed(key, (n) => said.push(`${key} ${n}`));
    // 'a' was the oldest of three when 'd' came: forgotten, so said again as a first.
    assert.deepEqual(said, ['a 1', 'b 1', 'c 1', 'd 1', 'a 1']);
  });

  it('per key: the end of one key is said once, and only for that key', () => {
    let now = 0;
    const failures = new RepeatedFailures(() => now);
    const lines: string[] = [];
    for (; now < 3000; now += 100) {
      failures.failed('a', (n) => lines.push(`a failed ${n}`));
      failures.failed('b', (n) => lines.push(`b failed ${n}`));
    }
    failures.ended('a', (total) => lines.push(`a ended ${total}`));
    failures.ended('a', (total) => lines.push(`a ended ${total}`));
    failures.ended('never', () => assert.fail('no failure of this key to end'));
    assert.deepEqual(lines, ['a failed 1', 'b failed 1', 'a ended 30']);
    failures.ended('b', (total) => lines.push(`b ended ${total}`));
    assert.deepEqual(lines.at(-1), 'b ended 30');
  });
});
