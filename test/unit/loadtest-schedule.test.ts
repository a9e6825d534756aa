// The run's timeline: progressive steps, the seeds' profile time-scaled, the --duration cap, and
// the pacing a profile's actions imply.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { parseLoadtestArgs, type LoadtestOptions } from '../../src/loadtest/options.js';
import { ActionPacer, ThinkTimePacer } from '../../src/loadtest/pacing.js';
import { loadProfile, parseProfile } from '../../src/loadtest/profile.js';
import { loadtestRefusal } from '../helpers/loadtest-refusal.js';
import { planPacing, planSchedule, startLine } from '../../src/loadtest/run-plan.js';
import { capSchedule, profileSchedule, segmentIndexAt, stepsSchedule, usersAt } from '../../src/loadtest/schedule.js';

const SEEDS = fileURLToPath(new URL('../../../test/fixtures/profiles/seeds-003.json', import.meta.url));

function options(...argv: string[]): LoadtestOptions {
  const parsed = parseLoadtestArgs(['--target', 'http://127.0.0.1:8000', ...argv], '/tmp');
  if (parsed.help) throw new Error('unexpected help');
  return parsed.options;
}

describe('schedule', () => {
  it('holds each progressive step for its duration', () => {
    const s = stepsSchedule([2, 4], 1000);
    assert.equal(s.totalMs, 2000);
    assert.equal(s.maxUsers, 4);
    assert.deepEqual(s.segments.map((g) => [g.label, g.startMs, g.endMs, g.usersFrom, g.usersTo]), [
      ['step 1/2', 0, 1000, 2, 2],
      ['step 2/2', 1000, 2000, 4, 4],
    ]);
    assert.equal(usersAt(s, 0), 2);
    assert.equal(usersAt(s, 999), 2);
    assert.equal(usersAt(s, 1000), 4);
    assert.equal(usersAt(s, 2000), 0);
    assert.equal(segmentIndexAt(s, 1500), 1);
  });

  it('states the run length exactly as given in the start line (--duration 1.5s is not "2s")', () => {
    const line = (...argv: string[]): string => {
      const o = options(...argv);
      return startLine(o, planSchedule(o));
    };
    assert.equal(line('--users', '2', '--duration', '1.5s'), 'loadtest: http://127.0.0.1:8000, constant load, up to 2 users, 1.5s\n');
    assert.equal(line('--users', '1', '--duration', '1m30.25s'), 'loadtest: http://127.0.0.1:8000, constant load, up to 1 user, 1m30.25s\n');
    assert.equal(line('--steps', '2,4', '--step-duration', '750ms'), 'loadtest: http://127.0.0.1:8000, 2 steps, up to 4 users, 1.5s\n');
    assert.equal(line('--steps', '2,4', '--step-duration', '30s', '--duration', '45.5s'), 'loadtest: http://127.0.0.1:8000, 2 steps, up to 4 users, 45.5s\n');
    assert.equal(line('--users', '1', '--duration', '2h'), 'loadtest: http://127.0.0.1:8000, constant load, up to 1 user, 2h\n');
    assert.equal(line('--users', '1', '--duration', '250ms'), 'loadtest: http://127.0.0.1:8000, constant load, up to 1 user, 250ms\n');
  });

  it('compresses the seeds profile with --time-scale 0.01: 45 min become 27 s', () => {
    const s = planSchedule(options('--profile', SEEDS, '--time-scale', '0.01'));
    assert.equal(s.totalMs, 27_000);
    assert.equal(s.maxUsers, 300);
    assert.deepEqual(s.segments.map((g) => [g.label, g.startMs, g.endMs, g.usersFrom, g.usersTo]), [
      ['ramp_up', 0, 6000, 0, 300],
      ['plateau', 6000, 24_000, 300, 300],
      ['ramp_down', 24_000, 27_000, 300, 0],
    ]);
    // Linear ramps: half-way up is half the users, half-way down likewise.
    assert.equal(usersAt(s, 0), 0);
    assert.equal(usersAt(s, 3000), 150);
    assert.equal(usersAt(s, 6000), 300);
    assert.equal(usersAt(s, 15_000), 300);
    assert.equal(usersAt(s, 25_500), 150);
    assert.equal(usersAt(s, 27_000), 0);
  });

  it('runs the seeds profile unscaled as 45 minutes', () => {
    const s = profileSchedule(loadProfile(SEEDS), 1);
    assert.equal(s.totalMs, 45 * 60_000);
  });

  it('cuts a plan at --duration and says so', () => {
    const s = planSchedule(options('--profile', SEEDS, '--time-scale', '0.01', '--duration', '3s'));
    assert.equal(s.truncated, true);
    assert.equal(s.plannedMs, 27_000);
    assert.equal(s.totalMs, 3000);
    assert.deepEqual(s.segments.map((g) => [g.label, g.endMs, g.usersTo]), [['ramp_up', 3000, 150]]);
    assert.equal(capSchedule(stepsSchedule([1, 2], 1000), 5000).truncated, false);
    const steps = planSchedule(options('--steps', '1,2,3', '--step-duration', '1s', '--duration', '1500ms'));
    assert.deepEqual(steps.segments.map((g) => [g.label, g.startMs, g.endMs]), [['step 1/3', 0, 1000], ['step 2/3', 1000, 1500]]);
    assert.deepEqual(steps.unstarted.map((g) => g.label), ['step 3/3'], 'the step --duration cut before it began is kept, to be listed as not run');
  });

  it('keeps the steps a --duration on a step boundary leaves out, as not started, and runs none of them', () => {
    const s = planSchedule(options('--steps', '1,2,3', '--step-duration', '1s', '--duration', '2s'));
    assert.equal(s.truncated, true);
    assert.equal(s.totalMs, 2000);
    assert.equal(s.maxUsers, 2, 'the connections and the start line count only the users that will run');
    assert.deepEqual(s.segments.map((g) => [g.label, g.endMs, g.cutShort === true]), [['step 1/3', 1000, false], ['step 2/3', 2000, false]]);
    assert.deepEqual(s.unstarted.map((g) => [g.label, g.startMs, g.usersTo]), [['step 3/3', 2000, 3]]);
    assert.equal(usersAt(s, 2000), 0);
    assert.equal(segmentIndexAt(s, 2500), 1, 'a request sent late belongs to the last step that ran');
    assert.deepEqual(stepsSchedule([1, 2], 1000).unstarted, []);
  });

  it('refuses a plan in which no user would run, and says how to fix it', () => {
    const refused = (opts: LoadtestOptions, pattern: RegExp): void => assert.throws(() => planSchedule(opts), loadtestRefusal(pattern));
    // Unscaled, the seeds' ramp-up (0 to 300 users in 10 min) reaches its first user after 1 s.
    refused(options('--profile', SEEDS, '--duration', '100ms'), /^--duration 100ms ends the run before the first virtual user starts .*give a longer --duration or a smaller --time-scale$/);
    refused(options('--profile', SEEDS, '--time-scale', '0.000000001'), /^the schedule is empty: --time-scale 0.000000001 shortens every phase of the profile to under 1 ms; use a larger --time-scale$/);
  });

  it('runs --users for --duration, one minute by default', () => {
    assert.equal(planSchedule(options('--users', '3')).totalMs, 60_000);
    const s = planSchedule(options('--users', '3', '--duration', '2s'));
    assert.deepEqual(s.segments.map((g) => [g.label, g.usersFrom, g.endMs]), [['constant', 3, 2000]]);
  });

  it('refuses a plan longer than a day', () => {
    assert.throws(() => planSchedule(options('--steps', '1,2', '--step-duration', '13h')), /more than 24h/);
  });
});

describe('profile edge cases', () => {
  const profile = (distribution: object, actionDuration = '1m') =>
    parseProfile({
      users: { total: 10, simultaneous: 10, distribution },
      actions: { view_data: { duration: actionDuration, requests: 3, frequency: '100/h' } },
      distribution: { read: 1, write: 0, export: 0 },
    });

  it('a plateau with no ramp before it holds its users from its start', () => {
    const s = profileSchedule(profile({ plateau: { duration: '10s', users: 5 } }), 1);
    assert.deepEqual(s.segments.map((x) => [x.label, x.usersFrom, x.usersTo]), [['plateau', 5, 5]]);
  });

  it('refuses phases that contradict their names, naming the field; the seeds profile stays accepted', () => {
    const refused = (distribution: object, pattern: RegExp): void => assert.throws(() => profile(distribution), loadtestRefusal(pattern));
    // A "ramp down" from 5 to 10 users.
    refused({ ramp_up: { duration: '10s', users: 5 }, plateau: { duration: '10s', users: 5 }, ramp_down: { duration: '10s', users: 10 } },
      /^profile field users\.distribution\.ramp_down\.users: 10 is not below the 5 users of plateau, so this is no ramp down \(users is the count at the end of each phase\): give fewer, 0 to end with no users$/);
    refused({ ramp_up: { duration: '10s', users: 5 }, ramp_down: { duration: '10s', users: 5 } }, /^profile field users\.distribution\.ramp_down\.users: 5 is not below the 5 users of ramp_up/);
    refused({ ramp_down: { duration: '10s', users: 0 }, plateau: { duration: '10s', users: 0 } }, /no phase has any users|ramp_down/);
    refused({ ramp_down: { duration: '10s', users: 3 } }, /^profile field users\.distribution\.ramp_down: has no ramp_up or plateau before it to ramp down from/);
    // A ramp up to 10 users, then a sudden drop to 3 (or jump to 10 from 3).
    refused({ ramp_up: { duration: '10s', users: 10 }, plateau: { duration: '10s', users: 3 } },
      /^profile field users\.distribution\.plateau\.users: 3 is not the 10 users ramp_up ends with, so the load would drop at once when the plateau starts \(users is the count at the end of each phase\): write the same count in both$/);
    refused({ ramp_up: { duration: '10s', users: 3 }, plateau: { duration: '10s', users: 10 } }, /plateau\.users: 10 is not the 3 users ramp_up ends with, so the load would jump at once/);
    assert.equal(loadProfile(SEEDS).phases.length, 3);
    assert.equal(profile({ ramp_up: { duration: '10s', users: 5 }, ramp_down: { duration: '10s', users: 0 } }).phases.length, 2);
  });

  it('refuses an action spread over 0s (no pause between requests at all)', () => {
    assert.throws(() => profile({ plateau: { duration: '10s', users: 5 } }, '0s'), /profile field actions\.view_data\.duration: must be longer than 0s/);
  });
});

describe('pacing', () => {
  it('spreads a profile action over its duration, picked by frequency (--time-scale does not speed users up)', () => {
    const p = loadProfile(SEEDS);
    // random 0.1 picks create_client (weight 100 of 300): 5 requests over 2 min → 24 s apart.
    const pacer = new ActionPacer(p.actions, () => 0.1);
    const names: (string | undefined)[] = [];
    for (let i = 0; i < 6; i++) names.push(pacer.beforeRequest());
    assert.deepEqual(names, ['create_client', undefined, undefined, undefined, undefined, 'create_client'], 'a new action every 5 requests');
    assert.ok(Math.abs(pacer.pauseMs() - 24_000 * (0.5 + 0.1)) < 1e-9, 'jitter 0.5 + random');
    // view_data (weight 200 of 300) for random ≥ 1/3.
    const picks = new ActionPacer(p.actions, () => 0.9);
    assert.equal(picks.beforeRequest(), 'view_data');
    assert.equal(picks.pauseMs(), 20_000 * 1.4);
  });

  it("spreads a user's first action after its login over a random part of that action's pace, rather than sending it at once", () => {
    const p = loadProfile(SEEDS);
    // 0.9 picks view_data (one request every 20 s), 0.25 is the part of that pace waited.
    const draws = [0.9, 0.25];
    const pacer = new ActionPacer(p.actions, () => draws.shift() ?? 0.5);
    assert.equal(pacer.pauseMs(), 20_000 * 0.25, 'before the first action: a random part of its pace, not 0');
    assert.equal(pacer.beforeRequest(), 'view_data', 'the action that pause was for');
    assert.equal(draws.length, 0, 'picked once');
    // Over many users the first requests spread over the pace, instead of all landing at the login.
    const firsts = Array.from({ length: 2000 }, (_, i) => new ActionPacer(p.actions, () => ((i * 0.618034) % 1)).pauseMs());
    assert.ok(Math.min(...firsts) < 2000 && Math.max(...firsts) > 18_000, `spread from near 0 to near the pace: ${Math.min(...firsts)}..${Math.max(...firsts)}`);
  });

  it('prefers --think-time, then the profile actions, then 1 s', () => {
    assert.ok(planPacing(options('--profile', SEEDS, '--time-scale', '0.01'), Math.random).make() instanceof ActionPacer);
    const explicit = planPacing(options('--profile', SEEDS, '--think-time', '200ms'), () => 0.5);
    assert.ok(explicit.make() instanceof ThinkTimePacer);
    assert.equal(explicit.make().pauseMs(), 200);
    assert.match(planPacing(options('--steps', '1'), Math.random).note, /think time 1s/);
  });

  it('says the users form a closed model whose percentiles are corrected for coordinated omission', () => {
    for (const argv of [['--steps', '1'], ['--users', '2', '--think-time', '0'], ['--profile', SEEDS, '--time-scale', '0.01']]) {
      const { note } = planPacing(options(...argv), Math.random);
      assert.match(note, /; closed model, as people use a site: each virtual user waits for its answer, pauses, then sends its next request, .*corrected for that coordinated omission: a wait longer than a user's pace also counts the requests it kept back/, argv.join(' '));
    }
  });
});
