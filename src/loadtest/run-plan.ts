// The run's plan, worked out from the validated options before any request: its schedule
// (refused when it would last too long, is empty, or ends before its first virtual user), the
// pacing every virtual user follows with the note that says what it means for the latency
// figures, and the line that starts the load. A file of its own: none of it touches the target,
// and loadtest-schedule.test.ts checks it alone; run.ts uses it.

import { formatDuration, formatExactDuration } from './duration.js';
import { inputError } from './exit.js';
import { DEFAULT_CONSTANT_MS, DEFAULT_THINK_MS, MAX_RUN_MS, type LoadtestOptions } from './options.js';
import { ActionPacer, CLOSED_MODEL_NOTE, ThinkTimePacer, type Pacer } from './pacing.js';
import { capSchedule, constantSchedule, profileSchedule, stepsSchedule, type Schedule } from './schedule.js';

/** A number as --time-scale takes it (no exponent: 1e-9 would be refused if typed back). */
function plainDecimal(n: number): string {
  return n.toLocaleString('en-US', { useGrouping: false, maximumFractionDigits: 20 });
}

export function planSchedule(opts: LoadtestOptions): Schedule {
  let schedule: Schedule;
  if (opts.mode === 'profile' && opts.profile) schedule = profileSchedule(opts.profile, opts.timeScale);
  else if (opts.mode === 'constant') schedule = constantSchedule(opts.users ?? 1, opts.durationMs ?? DEFAULT_CONSTANT_MS);
  else schedule = stepsSchedule(opts.steps, opts.stepDurationMs);
  if (opts.durationMs !== undefined && opts.mode !== 'constant') schedule = capSchedule(schedule, opts.durationMs);
  if (schedule.totalMs > MAX_RUN_MS) {
    throw inputError(`the run would last ${formatExactDuration(schedule.totalMs)}, more than ${formatExactDuration(MAX_RUN_MS)}: shorten it with --time-scale, --step-duration or --duration`);
  }
  if (schedule.totalMs <= 0 || schedule.segments.length === 0) {
    // Only a profile can get here: its phases, times --time-scale, each rounded to 0 ms.
    throw inputError(`the schedule is empty: --time-scale ${plainDecimal(opts.timeScale)} shortens every phase of the profile to under 1 ms; use a larger --time-scale`);
  }
  // A --duration that ends a ramp before it reaches its first user would judge nothing and print
  // "supports 0 concurrent users".
  if (schedule.maxUsers < 1) {
    throw inputError(`--duration ${formatExactDuration(opts.durationMs ?? 0)} ends the run before the first virtual user starts (the profile ramps up from 0 users); give a longer --duration or a smaller --time-scale`);
  }
  return schedule;
}

/** The line that starts the load; its length exact, as given (`--duration 1.5s` is not "2s"). */
export function startLine(opts: LoadtestOptions, schedule: Schedule): string {
  const n = schedule.segments.length;
  const shape = opts.mode === 'steps' ? `${n} ${n === 1 ? 'step' : 'steps'}` : opts.mode === 'profile' ? `${n} ${n === 1 ? 'phase' : 'phases'}` : 'constant load';
  return `loadtest: ${opts.target.origin}, ${shape}, up to ${schedule.maxUsers} ${schedule.maxUsers === 1 ? 'user' : 'users'}, ${formatExactDuration(schedule.totalMs)}\n`;
}

/** The pacing every virtual user follows, and a sentence saying so. */
function pacing(opts: LoadtestOptions, random: () => number): { make: () => Pacer; note: string } {
  if (opts.thinkTimeMs !== undefined) {
    return { make: () => new ThinkTimePacer(opts.thinkTimeMs ?? 0, random), note: `think time ${formatExactDuration(opts.thinkTimeMs)} ±50 % between requests (--think-time)` };
  }
  const actions = opts.profile?.actions ?? [];
  if (opts.mode === 'profile' && actions.length > 0) {
    const described = actions.map((a) => `${a.name}: ${a.requests} requests over ${formatDuration(a.durationMs)} (one every ${formatDuration(a.durationMs / a.requests)}, whatever --time-scale), weight ${a.perHour}/h`);
    return { make: () => new ActionPacer(actions, random), note: `pacing from the profile's actions, picked by frequency: ${described.join('; ')}` };
  }
  return { make: () => new ThinkTimePacer(DEFAULT_THINK_MS, random), note: `think time ${formatExactDuration(DEFAULT_THINK_MS)} ±50 % between requests (default)` };
}

/** The pacing, and a note saying what it is and what it means for the latency figures. */
export function planPacing(opts: LoadtestOptions, random: () => number): { make: () => Pacer; note: string } {
  const plan = pacing(opts, random);
  return { make: plan.make, note: `${plan.note}; ${CLOSED_MODEL_NOTE}` };
}
