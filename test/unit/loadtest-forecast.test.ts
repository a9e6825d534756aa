// The forecast before the load: a time-scaled profile whose judged phase cannot send the requests
// a verdict needs is refused, naming the smallest --time-scale that would.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { loadtestRefusal } from '../helpers/loadtest-refusal.js';
import { loadProfile, parseProfile } from '../../src/loadtest/profile.js';
import { checkForecast, expectedRequests, meanPauseMs, smallestTimeScale, thinStepsNote } from '../../src/loadtest/sample-forecast.js';
import { capSchedule, constantSchedule, profileSchedule, stepsSchedule } from '../../src/loadtest/schedule.js';

const SEEDS = fileURLToPath(new URL('../../../test/fixtures/profiles/seeds-003.json', import.meta.url));

function refused(fn: () => unknown, pattern: RegExp): void {
  assert.throws(fn, loadtestRefusal(pattern));
}

describe('forecast of the requests a verdict needs', () => {
  const seeds = loadProfile(SEEDS);

  it("takes a user's mean pause from --think-time, else the actions weighted by frequency, else 1 s", () => {
    // create_client: 5 requests over 2 min, 100/h; view_data: 3 over 1 min, 200/h.
    assert.equal(Math.round(meanPauseMs(undefined, seeds.actions)), Math.round((100 * 120_000 + 200 * 60_000) / (100 * 5 + 200 * 3)));
    assert.equal(meanPauseMs(50, seeds.actions), 50);
    assert.equal(meanPauseMs(undefined, []), 1000);
  });

  it('refuses the seeds profile at --time-scale 0.01 before the load: its plateau gets about 247 requests where 300 are needed; names 0.014', () => {
    const pause = meanPauseMs(undefined, seeds.actions);
    const plateau = profileSchedule(seeds, 0.01).segments[1];
    assert.equal(plateau?.label, 'plateau');
    assert.equal(Math.floor(expectedRequests(plateau as NonNullable<typeof plateau>, pause)), 247);
    refused(() => checkForecast(seeds, 0.01, profileSchedule(seeds, 0.01), undefined),
      /^--time-scale 0\.01 makes the plateau 18s long: its 300 users, each sending a request every 21\.8s on average \(the profile's actions, whatever --time-scale\), are expected to send about 247 requests other than logins, where a verdict needs 300 \(10, and one per user\) and 330 are wanted to expect it \(the pace is random\): use --time-scale 0\.014 or more \(the run then lasts 37\.8s\), or users paced faster \(the actions' duration ÷ requests\)$/);
    assert.equal(smallestTimeScale(seeds, pause), 0.014);
    for (const scale of [0.014, 0.02, 1]) assert.doesNotThrow(() => checkForecast(seeds, scale, profileSchedule(seeds, scale), undefined), String(scale));
    refused(() => checkForecast(seeds, 0.013, profileSchedule(seeds, 0.013), undefined), /use --time-scale 0\.014 or more/);
  });

  it('paced by --think-time, says so and offers a shorter one', () => {
    refused(() => checkForecast(seeds, 0.02, profileSchedule(seeds, 0.02), 60_000), /each sending a request every 60s on average \(--think-time\).*: use --time-scale 0\.037 or more \(the run then lasts 1m39\.9s\), or a shorter --think-time$/);
  });

  it('paced by the default think time (a profile without actions), offers --think-time, not the actions it does not have', () => {
    const bare = parseProfile({ users: { distribution: { plateau: { duration: '3s', users: 2 } } } });
    refused(() => checkForecast(bare, 1, profileSchedule(bare, 1), undefined), /every 1s on average \(the default think time, 1s\).*: use --time-scale 1\.9 or more \(the run then lasts 5\.7s\), or a shorter --think-time$/);
  });

  it('needs at least 10 requests from a phase of few users', () => {
    const few = parseProfile({ users: { distribution: { plateau: { duration: '1s', users: 2 } } }, actions: { a: { duration: '1s', requests: 5, frequency: '1/h' } } });
    // 2 users, one request every 200 ms, 1 s: 10 expected, 11 wanted.
    refused(() => checkForecast(few, 1, profileSchedule(few, 1), undefined), /about 10 requests other than logins, where a verdict needs 10 .* and 11 are wanted .*: use --time-scale 1\.1 or more/);
    assert.doesNotThrow(() => checkForecast(few, 1.1, profileSchedule(few, 1.1), undefined));
  });

  it('leaves alone what proves no capacity anyway: ramps, and a plateau --duration cuts short', () => {
    const ramps = parseProfile({ users: { distribution: { ramp_up: { duration: '10m', users: 300 }, ramp_down: { duration: '5m', users: 0 } } }, actions: { a: { duration: '1m', requests: 1, frequency: '1/h' } } });
    assert.doesNotThrow(() => checkForecast(ramps, 0.01, profileSchedule(ramps, 0.01), undefined));
    assert.doesNotThrow(() => checkForecast(seeds, 0.01, capSchedule(profileSchedule(seeds, 0.01), 10_000), undefined));
  });

  it('says when no --time-scale within a day would do', () => {
    const slow = parseProfile({ users: { distribution: { plateau: { duration: '1m', users: 100 } } }, actions: { a: { duration: '720h', requests: 1, frequency: '1/h' } } });
    refused(() => checkForecast(slow, 1, profileSchedule(slow, 1), undefined), /: no --time-scale that keeps the run within 24h does it: give users paced faster \(the actions' duration ÷ requests\), or the plateau more time$/);
  });
});

describe('thin steps of --steps and --users, said before the load', () => {
  it('names the steps too short for a verdict and the --step-duration that would do', () => {
    // 1 user at the default 1 s think time sends about 5 requests in 5 s, where 10 are needed
    // (11 wanted): 11 s. 2 users: 10 in 5 s, 11 wanted. 20 users: 100 in 5 s, 22 wanted: fine.
    const note = thinStepsNote('steps', stepsSchedule([1, 2, 20], 5000), undefined);
    assert.equal(note, '2 steps (the first: step 1/3) are too short for a verdict: 1 user sending a request every 1s on average (the default think time, 1s) is expected to send about 5 requests other than logins in 5s, where a pass needs 10 (10, and one per user) and 11 are wanted to expect it (the pace is random); such a step is likely to end "not enough requests to judge": give --step-duration 11s or more, or a shorter --think-time');
    assert.equal(thinStepsNote('steps', stepsSchedule([1, 2, 20], 11_000), undefined), undefined);
    // The seeds' steps at their default length say nothing.
    assert.equal(thinStepsNote('steps', stepsSchedule([5, 10, 25, 50, 100, 200], 30_000), undefined), undefined);
    // --think-time 50ms: 2 users send 40 in 1 s.
    assert.equal(thinStepsNote('steps', stepsSchedule([2, 4], 1000), 50), undefined);
  });

  it('a step expected to send just what a pass needs is said with the count wanted, not as short of the count needed', () => {
    // 1 user at 1 s for 10 s: about 10 requests, 10 needed, 11 wanted (the pace is random).
    const note = thinStepsNote('steps', stepsSchedule([1], 10_000), undefined) ?? '';
    assert.match(note, /expected to send about 10 requests other than logins in 10s, where a pass needs 10 \(10, and one per user\) and 11 are wanted to expect it \(the pace is random\); such a step is likely to end/);
  });

  it('says a --users run too short, naming --duration; a step cut short by --duration is not judged, so not said', () => {
    assert.match(thinStepsNote('constant', constantSchedule(3, 1500), 500) ?? '', /^the run is too short for a verdict: 3 users sending a request every 500ms on average \(--think-time\) are expected to send about 9 requests .* give --duration 1\.9s or more, or a shorter --think-time$/);
    assert.equal(thinStepsNote('steps', capSchedule(stepsSchedule([20, 1], 30_000), 31_000), undefined), undefined);
  });
});
