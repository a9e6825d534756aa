// Handler errors are told apart by what failed (method, code, message, the frame thrown at), not
// by the request's path: a route with ids in its paths, or a scanner's random paths, logged a line
// with its stack per request. Distinct failures past FIRST_LINES_PER_MINUTE in a minute are counted.

import assert from 'node:assert/strict';
import { describe, it, type TestContext } from 'node:test';
import { describeError } from '../../src/errors.js';
import { FIRST_LINES_PER_MINUTE, RequestErrorLog, thrownAt, type HeldFailures } from '../../src/log/request-errors.js';

function throwLookup(): never {
  throw new Error('lookup failed');
}

function throwOther(): never {
  throw new Error('lookup failed');
}

function caught(fn: () => never): ReturnType<typeof describeError> {
  try {
    fn();
  } catch (err) {
    return describeError(err);
  }
}

describe('request error log', () => {
  it('one failure on many paths is one line, then the count a minute later', () => {
    let now = 0;
    const held: HeldFailures[] = [];
    const log = new RequestErrorLog((h) => held.push(h), () => now);
    const said: number[] = [];
    for (let i = 0; i < 1000; i++) log.failed({ method: 'GET', ...caught(throwLookup) }, (n) => said.push(n));
    assert.deepEqual(said, [1], 'the first said, with its stack; the rest counted');
    now = 60_000;
    log.failed({ method: 'GET', ...caught(throwLookup) }, (n) => said.push(n));
    assert.deepEqual(said, [1, 1000], 'a minute later: the 999 since and this one');
    assert.deepEqual(held, []);
  });

  it('the same message thrown at another place, or by another method, is another failure', () => {
    const log = new RequestErrorLog(() => assert.fail('nothing held'), () => 0);
    const said: string[] = [];
    log.failed({ method: 'GET', ...caught(throwLookup) }, () => said.push('GET lookup'));
    log.failed({ method: 'GET', ...caught(throwOther) }, () => said.push('GET other'));
    log.failed({ method: 'POST', ...caught(throwLookup) }, () => said.push('POST lookup'));
    log.failed({ method: 'GET', ...caught(throwLookup) }, () => said.push('GET lookup again'));
    assert.deepEqual(said, ['GET lookup', 'GET other', 'POST lookup']);
  });

  it('distinct failures past the first lines of a minute are counted in one line, and the count said once the minute is over', () => {
    let now = 0;
    const held: HeldFailures[] = [];
    const log = new RequestErrorLog((h) => held.push(h), () => now);
    let said = 0;
    // A message naming the request: each a failure of its own.
    for (let i = 0; i < 500; i++) log.failed({ method: 'GET', message: `no item ${i}` }, () => said++);
    assert.equal(said, FIRST_LINES_PER_MINUTE);
    assert.deepEqual(held, [{ held: 1, first: true }], 'one line at the first held');
    now = 60_000;
    log.failed({ method: 'GET', message: 'no item 501' }, () => said++);
    assert.deepEqual(held, [{ held: 1, first: true }, { held: 500 - FIRST_LINES_PER_MINUTE, first: false }], 'the count of the minute');
    assert.equal(said, FIRST_LINES_PER_MINUTE + 1, 'a new minute: said again');
  });

  it('reads the frame an error was thrown at from its stack', () => {
    assert.match(thrownAt(caught(throwLookup).stack), /^at throwLookup /);
    assert.equal(thrownAt(undefined), '');
    assert.equal(thrownAt('Error: x'), '');
  });
});

describe('request error log past the first lines of a minute', () => {
  it('a failure held then is said with its stack at its first occurrence of the next minute', () => {
    let now = 0;
    const log = new RequestErrorLog(() => undefined, () => now);
    for (let i = 0; i < FIRST_LINES_PER_MINUTE; i++) log.failed({ method: 'GET', message: `no item ${i}` }, () => undefined);
    const said: number[] = [];
    log.failed({ method: 'GET', ...caught(throwLookup) }, (n) => said.push(n));
    assert.equal(said.length, 0, 'held: the minute spent its lines');
    now = 60_000;
    log.failed({ method: 'GET', ...caught(throwLookup) }, (n) => said.push(n));
    assert.deepEqual(said, [1], 'said at once in the next minute, as a first occurrence');
  });
});

describe('request error log: the held count of a storm that stops', () => {
  it('is said once its minute is over, though no failure comes after', () => {
    let now = 0;
    const held: HeldFailures[] = [];
    const timers: { fn: () => void; ms: number }[] = [];
    const log = new RequestErrorLog((h) => held.push(h), () => now, (fn, ms) => void timers.push({ fn, ms }));
    for (let i = 0; i < FIRST_LINES_PER_MINUTE + 5; i++) log.failed({ method: 'GET', message: `no item ${i}` }, () => undefined);
    assert.deepEqual(held, [{ held: 1, first: true }]);
    assert.deepEqual(timers.map((t) => t.ms), [60_000], 'a timer for the end of the minute');
    now = 60_000;
    timers[0]?.fn();
    assert.deepEqual(held, [{ held: 1, first: true }, { held: 5, first: false }]);
    // A failure after it starts a new minute without saying the count again.
    log.failed({ method: 'GET', message: 'no item x' }, () => undefined);
    assert.equal(held.length, 2);
  });
  it('by default on the monotonic clock: a step of the system clock an hour forward neither says a failure again nor starts a new minute of first lines', (t: TestContext) => {
    let wall = Date.now();
    t.mock.method(Date, 'now', () => wall);
    const held: HeldFailures[] = [];
    const log = new RequestErrorLog((h) => held.push(h), undefined, () => {});
    const said: string[] = [];
    for (let i = 0; i < FIRST_LINES_PER_MINUTE; i++) log.failed({ method: 'GET', message: `no item ${i}` }, () => said.push(`item ${i}`));
    wall += 3_600_000;
    log.failed({ method: 'GET', message: 'no item 0' }, () => said.push('item 0 again'));
    log.failed({ method: 'GET', message: 'no item 99' }, () => said.push('item 99'));
    assert.equal(said.length, FIRST_LINES_PER_MINUTE, `said: ${said.slice(FIRST_LINES_PER_MINUTE).join(', ')}`);
    assert.deepEqual(held, [{ held: 1, first: true }]);
  });
});
