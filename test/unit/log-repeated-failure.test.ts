import assert from 'node:assert/strict';
import { describe, it, type TestContext } from 'node:test';
import { createAdminRefusalLog } from '../../src/app/admin-refusals.js';
import { FAILURE_REPEAT_MS, RepeatedFailure, RepeatedFailures } from '../../src/log/repeated-failure.js';
import type { Logger } from '../../src/log/logger.js';

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

  it('sayNow says the occurrences since the last line at once, whatever the interval, and the interval starts again from it', () => {
    let now = 0;
    const failure = new RepeatedFailure(() => now);
    const said: Array<[string, number, number]> = [];
    for (; now < 20_000; now += 1000) failure.failed((since, total) => said.push(['failed', since, total]));
    failure.sayNow((since, total) => said.push(['now', since, total]));
    for (; now < 90_000; now += 1000) failure.failed((since, total) => said.push(['failed', since, total]));
    assert.deepEqual(said, [
      ['failed', 1, 1],
      ['now', 19, 20],
      ['failed', 61, 81],
    ]);
    const ends: number[] = [];
    failure.ended((total) => ends.push(total));
    assert.deepEqual(ends, [90]);
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

  it('with a settle time, a cause that comes back within it is one failure going on: no end said until it stayed away that long, and the failure still said once a minute', () => {
    let now = 0;
    const failure = new RepeatedFailure(() => now, FAILURE_REPEAT_MS, 5000);
    const lines: string[] = [];
    // Fails for a second, answers for two, for 90 s (a Redis stalling again and again).
    for (; now < 90_000; now += 100) {
      if (now % 3000 < 1000) failure.failed((since, total) => lines.push(`failed ${since}/${total}`));
      else failure.ended((total) => lines.push(`ended ${total}`));
      failure.flush();
    }
    assert.equal(failure.failing, false, 'answering at the end: not failing, though its end is not said yet');
    assert.deepEqual(lines, ['failed 1/1', 'failed 200/201'], 'no end said while it kept coming back; its line a minute on counts it all');
    // Its last end began at 88 s: 4.9 s later, not yet.
    now += 2900;
    failure.flush();
    assert.equal(lines.length, 2, 'not before it stayed away 5 s');
    now += 100;
    failure.flush();
    failure.flush();
    assert.deepEqual(lines.at(-1), 'ended 300', 'said once, with every occurrence');
    assert.equal(lines.length, 3);
  });

  it('with a settle time, an end not said is said before a failure that comes after it settled, and that failure is said as a new one', () => {
    let now = 0;
    const failure = new RepeatedFailure(() => now, FAILURE_REPEAT_MS, 5000);
    const lines: string[] = [];
    failure.failed((since) => lines.push(`failed ${since}`));
    failure.ended((total) => lines.push(`ended ${total}`));
    now += 6000;
    // Nobody flushed in time (a late timer): the next failure is a new one, after its end.
    failure.failed((since) => lines.push(`failed ${since}`));
    assert.deepEqual(lines, ['failed 1', 'ended 1', 'failed 1']);
  });

  it('with a settle time, every outage that lasted and ended is said, however soon after the one before (a Redis stalled twice within a minute was silent the second time)', () => {
    let now = 0;
    const failure = new RepeatedFailure(() => now, FAILURE_REPEAT_MS, 5000);
    const lines: string[] = [];
    // Three outages of 8 s, 20 s apart, each said with its end once it stayed away 5 s.
    for (const start of [0, 20_000, 40_000]) {
      for (now = start; now < start + 8000; now += 500) failure.failed((since, total) => lines.push(`failed ${since}/${total}`));
      failure.ended((total) => lines.push(`ended ${total}`));
      now += 5000;
      failure.flush();
    }
    assert.deepEqual(lines, ['failed 1/1', 'ended 16', 'failed 1/1', 'ended 16', 'failed 1/1', 'ended 16']);
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
  it('by default, on the monotonic clock: a step of the system clock neither repeats a line within the interval nor silences one for as long as the step', (t: TestContext) => {
    let wall = Date.now();
    t.mock.method(Date, 'now', () => wall);
    const failure = new RepeatedFailure();
    const failures = new RepeatedFailures();
    const said: string[] = [];
    failure.failed((n) => said.push(`one ${n}`));
    failures.failed('k', (n) => said.push(`k ${n}`));
    // An hour forward (NTP after a suspend, `date -s`): on the wall clock the interval looked over,
    // and every failure after a step said its line again.
    wall += 3_600_000;
    failure.failed((n) => said.push(`one ${n}`));
    failures.failed('k', (n) => said.push(`k ${n}`));
    assert.deepEqual(said, ['one 1', 'k 1']);
    // An hour back: on the wall clock the next line was an hour and a minute away.
    wall -= 7_200_000;
    assert.ok((failure.unsaidDueInMs() ?? 0) <= FAILURE_REPEAT_MS, `due in ${failure.unsaidDueInMs()} ms, past the interval`);
  });

  it("the app's admin refusals too: a clock step does not say a refusal line again within the minute", (t: TestContext) => {
    let wall = Date.now();
    t.mock.method(Date, 'now', () => wall);
    const lines: unknown[] = [];
    const logger = { warn: (fields: unknown) => lines.push(fields) } as unknown as Logger;
    const refuse = createAdminRefusalLog(logger, () => '127.0.0.1');
    const req = { url: '/api/export', headers: {} } as Parameters<typeof refuse>[0];
    refuse(req);
    wall += 3_600_000;
    refuse(req);
    assert.equal(lines.length, 1);
  });
});
