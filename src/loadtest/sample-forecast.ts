// Before the load: can a time-scaled profile's judged phases send enough requests for a verdict?
// --time-scale compresses the phases, never a user's pace (pacing.ts), and a pass needs at least
// MIN_APP_REQUESTS and one per user (criteria.ts); the seeds' profile at --time-scale 0.01 gave its
// plateau of 300 users 18 s at one request every ~22 s each, 285 requests where 300 were needed,
// and the operator learnt it only after the whole load. The expected count is known beforehand.

import { formatExactDuration } from './duration.js';
import { inputError } from './exit.js';
import { maxOf } from './extremes.js';
import { DEFAULT_THINK_MS, MAX_RUN_MS, MAX_TIME_SCALE } from './options.js';
import type { Profile, ProfileAction } from './profile.js';
import { profileSchedule, segmentPeak, type Schedule, type Segment } from './schedule.js';
import { MIN_APP_REQUESTS } from './criteria.js';

/**
 * How far over the needed count the expected one must be. The count is random (pauses jittered
 * ±50 %, actions picked by frequency), so a forecast that only just reaches it would leave about
 * half the runs short. The forecast itself errs low (the seeds at 0.01: 247 forecast, 285 sent, as
 * users logged in during the ramp-up send their first request within one pause): 10 % more on top
 * keeps the refusal to runs that would come out short, without sending the operator to a scale
 * far larger than needed.
 */
export const FORECAST_MARGIN = 1.1;

/**
 * A user's mean pause between requests, as pacing.ts paces it (--think-time, else the profile's
 * actions, else the default think time). With actions: each is picked in proportion to its
 * frequency and sends `requests` requests `duration / requests` apart, so a request's mean pause
 * is Σ weight × duration / Σ weight × requests. The requests' own latency is left out: milliseconds
 * against pauses of 100 ms or more (profile.ts MIN_ACTION_PACE_MS).
 */
export function meanPauseMs(thinkTimeMs: number | undefined, actions: readonly ProfileAction[]): number {
  if (thinkTimeMs !== undefined) return thinkTimeMs;
  if (actions.length === 0) return DEFAULT_THINK_MS;
  const time = actions.reduce((sum, a) => sum + a.perHour * a.durationMs, 0);
  const requests = actions.reduce((sum, a) => sum + a.perHour * a.requests, 0);
  return time / requests;
}

/** The requests other than logins a verdict needs from a segment (segment-judgement.ts judgeSegment). */
export function neededRequests(users: number): number {
  return Math.max(MIN_APP_REQUESTS, users);
}

/**
 * Expected requests other than logins in a steady segment: each of its users, logged in, sends
 * one per mean pause (a user that logs in as it starts waits a random part of a pause first, as
 * many mean pauses as it has sent requests: on average, the same count).
 */
export function expectedRequests(segment: Segment, pauseMs: number): number {
  const spanMs = segment.endMs - segment.startMs;
  if (pauseMs <= 0) return Number.POSITIVE_INFINITY;
  return (segmentPeak(segment) * spanMs) / pauseMs;
}

/** The segments a capacity claim can come from: steady, and held to their planned end. */
function judged(schedule: Schedule): Segment[] {
  return schedule.segments.filter((s) => s.usersFrom === s.usersTo && s.usersTo > 0 && s.cutShort !== true);
}

function short(schedule: Schedule, pauseMs: number): Segment[] {
  return judged(schedule).filter((s) => expectedRequests(s, pauseMs) < neededRequests(segmentPeak(s)) * FORECAST_MARGIN);
}

/** Rounded up to two significant digits, as an operator would type it: 0.01515 is 0.016. */
function roundUp(n: number): number {
  const unit = 10 ** (Math.floor(Math.log10(n)) - 1);
  return Number((Math.ceil(Number((n / unit).toFixed(6))) * unit).toPrecision(2));
}

/**
 * The smallest --time-scale (two significant digits) at which every judged phase is expected to
 * send enough, or undefined if none up to MAX_TIME_SCALE is.
 */
export function smallestTimeScale(profile: Profile, pauseMs: number): number | undefined {
  // A phase's span is proportional to the scale, so each phase gives its own lower bound.
  const bounds = profileSchedule(profile, 1).segments.filter((s) => s.usersFrom === s.usersTo && s.usersTo > 0).map((s) => (neededRequests(segmentPeak(s)) * FORECAST_MARGIN * pauseMs) / (segmentPeak(s) * (s.endMs - s.startMs)));
  if (bounds.length === 0) return undefined;
  let scale = roundUp(maxOf(bounds));
  // Each phase's span is rounded to the millisecond: step up until the rounded plan holds too.
  for (let i = 0; i < 100 && scale <= MAX_TIME_SCALE && short(profileSchedule(profile, scale), pauseMs).length > 0; i++) scale = roundUp(scale * 1.01);
  return scale <= MAX_TIME_SCALE ? scale : undefined;
}

/** "0.016": a number as --time-scale takes it (no exponent). */
function plain(n: number): string {
  return n.toLocaleString('en-US', { useGrouping: false, maximumFractionDigits: 20 });
}

/**
 * Refuses (exit 64) a profile run whose judged phases are not expected to send enough requests for
 * a verdict, naming the smallest --time-scale that would: refused before the load rather than run
 * to a "not enough requests to judge" that was certain beforehand.
 */
export function checkForecast(profile: Profile, timeScale: number, schedule: Schedule, thinkTimeMs: number | undefined): void {
  const pauseMs = meanPauseMs(thinkTimeMs, profile.actions);
  const lacking = short(schedule, pauseMs);
  const first = lacking[0];
  if (first === undefined) return;
  const users = segmentPeak(first);
  const expected = Math.floor(expectedRequests(first, pauseMs));
  const needed = neededRequests(users);
  const paced = thinkTimeMs !== undefined ? '--think-time' : profile.actions.length > 0 ? "the profile's actions, whatever --time-scale" : `the default think time, ${formatExactDuration(DEFAULT_THINK_MS)}`;
  const pause = pauseMs < 1000 ? `${Math.round(pauseMs)}ms` : `${Number((pauseMs / 1000).toFixed(1))}s`;
  const what = `--time-scale ${plain(timeScale)} makes the ${first.label} ${formatExactDuration(first.endMs - first.startMs)} long: its ${users} users, each sending a request every ${pause} on average (${paced}), are expected to send about ${expected} request${expected === 1 ? '' : 's'} other than logins, where a verdict needs ${needed} (${MIN_APP_REQUESTS}, and one per user) and ${Math.ceil(needed * FORECAST_MARGIN)} are wanted to expect it (the pace is random)`;
  const scale = smallestTimeScale(profile, pauseMs);
  const planned = scale === undefined ? undefined : profileSchedule(profile, scale).totalMs;
  // A profile without actions is paced by the default think time: "the actions' duration ÷
  // requests" pointed at a part the profile does not have.
  const faster = thinkTimeMs !== undefined || profile.actions.length === 0 ? 'a shorter --think-time' : "users paced faster (the actions' duration ÷ requests)";
  const fix =
    scale !== undefined && planned !== undefined && planned <= MAX_RUN_MS
      ? `use --time-scale ${plain(scale)} or more (the run then lasts ${formatExactDuration(planned)}), or ${faster}`
      : `no --time-scale that keeps the run within ${formatExactDuration(MAX_RUN_MS)} does it: give ${faster}, or the ${first.label} more time`;
  throw inputError(`${what}: ${fix}`);
}

/** A length rounded up to a figure an operator would type: whole seconds from 10 s, else tenths. */
function typedLengthMs(ms: number): number {
  return ms >= 10_000 ? Math.ceil(ms / 1000) * 1000 : Math.ceil(ms / 100) * 100;
}

/**
 * The note said before the load of --steps or --users runs whose steady steps are not expected to
 * send enough requests for a verdict (FORECAST_MARGIN over what a pass needs, as checkForecast
 * wants): such a step is likely to end "not enough requests to judge". A step expected to send
 * just what a pass needs is said too, so the note names the count wanted, not only the one needed
 * (it read "expected to send about 10 ..., where a pass needs 10" and then called the step short).
 * Said, not refused as a profile is (checkForecast): the steps and their length are the
 * operator's own, and a short smoke run of one user is a fair use. Names the --step-duration (or
 * --duration) that would do.
 */
export function thinStepsNote(mode: 'steps' | 'constant', schedule: Schedule, thinkTimeMs: number | undefined): string | undefined {
  const pauseMs = meanPauseMs(thinkTimeMs, []);
  const lacking = short(schedule, pauseMs);
  if (lacking.length === 0) return undefined;
  const longest = maxOf(lacking.map((s) => (neededRequests(segmentPeak(s)) * FORECAST_MARGIN * pauseMs) / segmentPeak(s)));
  const flag = mode === 'steps' ? '--step-duration' : '--duration';
  const pace = thinkTimeMs !== undefined ? '--think-time' : `the default think time, ${formatExactDuration(DEFAULT_THINK_MS)}`;
  const first = lacking[0] as Segment;
  const users = segmentPeak(first);
  const expected = Math.floor(expectedRequests(first, pauseMs));
  const which = mode === 'steps' ? (lacking.length === 1 ? first.label : `${lacking.length} steps (the first: ${first.label})`) : 'the run';
  return (
    `${which} ${lacking.length === 1 || mode !== 'steps' ? 'is' : 'are'} too short for a verdict: ${users} ${users === 1 ? 'user' : 'users'} sending a request every ${formatExactDuration(pauseMs)} on average (${pace}) ${users === 1 ? 'is' : 'are'} expected to send about ${expected} request${expected === 1 ? '' : 's'} other than logins in ${formatExactDuration(first.endMs - first.startMs)}, where a pass needs ${neededRequests(users)} (${MIN_APP_REQUESTS}, and one per user) and ${Math.ceil(neededRequests(users) * FORECAST_MARGIN)} are wanted to expect it (the pace is random); ` +
    `such a step is likely to end "not enough requests to judge": give ${flag} ${formatExactDuration(typedLengthMs(longest))} or more, or a shorter --think-time`
  );
}
