// The run's verdict: from its segments, each judged against the success criteria
// (segment-judgement.ts, criteria.ts), one plain sentence for the whole run and the lines under it.

import { usersText } from './users-text.js';
import { CRITERIA, formatMs, formatPercent } from './criteria.js';
import type { SegmentJudgement } from './segment-judgement.js';
import type { Counts, LatencySummary } from './tally.js';
import { unjudgedLine } from './unjudged-line.js';

export interface JudgedSegment {
  readonly label: string;
  readonly users: number;
  /** False when the run ended (deadline cap or SIGINT) before this segment began. */
  readonly ran: boolean;
  /** False when the run ended before this segment's planned end: it is judged, but proves no capacity. */
  readonly complete: boolean;
  /** The same number of users from start to end (a step, a plateau), not a ramp. */
  readonly steady: boolean;
  readonly counts: Counts;
  readonly latency: LatencySummary | undefined;
  readonly judgement: SegmentJudgement;
  /** True for a segment --duration cut before it began: it did not run, by plan rather than by an interruption. */
  readonly cutByDuration?: boolean;
  /** The most virtual users that ran during it (result.json's usersActiveMax). */
  readonly usersReached?: number;
}

/**
 * The users a segment was run at: its planned peak, but for a ramp cut short, which never reached
 * it (a profile's ramp to 300 users interrupted at 82 failed at 82 or fewer, not at 300).
 */
function usersRun(s: JudgedSegment): number {
  return !s.steady && !s.complete && s.usersReached !== undefined ? Math.min(s.users, s.usersReached) : s.users;
}

/** "4 users", or for a ramp cut short "82 of 300 users reached". */
function usersSaid(s: JudgedSegment): string {
  const run = usersRun(s);
  return run < s.users ? `${run} of ${usersText(s.users)} reached` : usersText(s.users);
}

export interface Verdict {
  /**
   * No step that ran failed, at least one measured a request, and the run was not interrupted. A
   * step cut short by --duration or with no request to judge does not stop a pass: only its
   * capacity claim is withheld (the lines say so).
   */
  readonly pass: boolean;
  /**
   * The most users of a steady, complete, measured, passing segment with every earlier segment
   * passing; null if none. A ramp (it holds its peak for an instant), a step cut short, a step in
   * which no request finished or one this machine could not send all of (EMFILE) proves no capacity.
   */
  readonly supportedUsers: number | null;
  readonly headline: string;
  readonly firstFailure: { readonly label: string; readonly users: number; readonly reasons: readonly string[] } | null;
  /** Printed under the headline. */
  readonly lines: readonly string[];
}

/** "p95 41 ms, 0 errors, CPU 35 %" */
export function briefFigures(seg: JudgedSegment): string {
  const parts = [seg.latency ? `p95 ${formatMs(seg.latency.p95, CRITERIA.p95Ms)}` : 'no answers', `${seg.counts.errors} error${seg.counts.errors === 1 ? '' : 's'}`];
  const cpu = seg.judgement.server.cpuMean;
  parts.push(cpu === null ? 'CPU not measured' : `CPU ${formatPercent(cpu, CRITERIA.cpuPercent)}`);
  return parts.join(', ');
}

function concurrentUsers(n: number): string {
  return `${n} concurrent user${n === 1 ? '' : 's'}`;
}

/**
 * `overBefore`: how the admin API's figures before the load were already over the criteria
 * (before-load.ts overLimit), said among the lines so a failure is not laid on the users alone.
 */
export function overallVerdict(segments: readonly JudgedSegment[], interrupted: boolean, overBefore?: string): Verdict {
  const ran = segments.filter((s) => s.ran);
  const firstFailIdx = ran.findIndex((s) => !s.judgement.pass);
  const passedPrefix = firstFailIdx < 0 ? ran : ran.slice(0, firstFailIdx);
  // The first of the steady, complete segments with the most users: its figures are the headline.
  // One this machine could not load in full (EMFILE) was not sent the load it names.
  // One whose CPU or RAM, asked for with --admin, went unjudged (the admin API failed during it, or
  // no measurement of the master covered it) was not judged on every criterion asked for: a "yes"
  // from it would be the one --admin was given to prevent.
  const failed = firstFailIdx < 0 ? undefined : ran[firstFailIdx];
  // A failure after it at no more users (a profile's ramp_down failing after its plateau passed)
  // says the server did not carry them: "supports 4 concurrent users: yes" printed over "first
  // failing step: ramp_down, 4 users". Steps only grow, so a later failing step has more users.
  const failedAt = failed ? usersRun(failed) : Number.POSITIVE_INFINITY;
  const best = passedPrefix.filter((s) => s.steady && s.complete && s.judgement.measured && s.judgement.enough && s.counts.generator === 0 && !s.judgement.unjudged && s.users < failedAt).reduce<JudgedSegment | undefined>((acc, s) => (!acc || s.users > acc.users ? s : acc), undefined);
  const measured = ran.filter((s) => s.judgement.measured);
  // Measured, failing nothing, but on too few requests (or logins alone) to call a pass.
  const thin = measured.filter((s) => !s.judgement.enough && s.judgement.pass);
  const lines: string[] = [];
  let headline: string;
  if (ran.length === 0) {
    headline = 'no step ran: nothing to judge';
  } else if (best) {
    headline = `supports ${concurrentUsers(best.users)}: yes (${briefFigures(best)})`;
  } else if (failed) {
    headline = `supports ${concurrentUsers(usersRun(failed))}: no (${briefFigures(failed)})`;
  } else {
    // Nothing failed, but nothing ran steady to its end with a request measured (a ramp only, cut
    // short, or no request due): name the figures of the largest step that measured something.
    const shown = measured.length > 0 ? measured : ran;
    const most = shown.reduce((acc, s) => (usersRun(s) > usersRun(acc) ? s : acc));
    const held = ran.filter((s) => s.steady && s.complete);
    const why =
      measured.length === 0
        ? 'no request finished in any step'
        : held.length > 0 && held.every((s) => s.counts.generator > 0)
          ? 'the load generator could not send every request of the steps held to their end'
          : held.some((s) => s.judgement.measured && s.judgement.enough && s.judgement.serverLost)
            ? 'the admin API gave no CPU or RAM figure during the steps held to their end'
          : held.some((s) => s.judgement.measured && s.judgement.enough && s.judgement.unjudged)
            ? 'no CPU or RAM measurement of the master covers the steps held to their end; longer steps get one'
          : held.some((s) => s.judgement.measured && !s.judgement.enough)
            ? 'not enough requests to judge'
            : held.length > 0
            ? 'no step held to its end had a request to judge'
            : 'no step held its users to the end';
    headline = `supports ${concurrentUsers(usersRun(most))}: not shown (${why}; ${briefFigures(most)})`;
  }
  const unmeasured = ran.filter((s) => !s.judgement.measured);
  const partial = ran.filter((s) => !s.complete);
  const starved = ran.filter((s) => s.counts.generator > 0);
  // A ramp proves no capacity whatever its CPU and RAM: "without the CPU and RAM figures ..., so
  // proving no capacity: ramp_down (300 users)" said of one implied that it would have, and named
  // the users it ramped down from. Its "not judged" line below still says why.
  const lost = ran.filter((s) => s.steady && s.judgement.unjudged && s.judgement.pass);
  // A ramp that failed nothing is "ramp ok" in the steps table, not "pass": "every step passed"
  // would say of it what the table does not.
  const rampsOk = ran.filter((s) => !s.steady && s.judgement.pass);
  if (failed) lines.push(`first failing step: ${failed.label}, ${usersSaid(failed)}: ${failed.judgement.reasons.join('; ')}`);
  else if (ran.length > 0 && measured.length === 0) lines.push(`nothing to judge: no request finished in any step (${ran.length} of ${segments.length} ran)`);
  // A step cut short or with nothing measured did not pass: it failed nothing, which is all it says.
  else if (unmeasured.length > 0 || partial.length > 0 || starved.length > 0 || thin.length > 0 || lost.length > 0 || rampsOk.length > 0) lines.push(`no step failed (${ran.length} of ${segments.length} ran)`);
  else if (ran.length > 0) lines.push(`every step ${ran.length < segments.length ? 'that ran ' : ''}passed (${ran.length} of ${segments.length} ran)`);
  if (overBefore !== undefined) lines.push(`the server was already over the limit before the load (${overBefore}): ${failed ? 'this failure may be its state then, not the users sent' : 'its figures include whatever held it there'}`);
  if (partial.length > 0) lines.push(`cut short, so proving no capacity: ${partial.map((s) => `${s.label} (${usersSaid(s)})`).join(', ')}`);
  if (lost.length > 0) {
    // Why each went unjudged is in the "not judged" line below.
    const why = lost.every((s) => s.judgement.serverLost) ? ' (the admin API failed during them)' : '';
    lines.push(`without the CPU and RAM figures --admin asked for${why}, so proving no capacity: ${lost.map((s) => `${s.label} (${usersText(s.users)})`).join(', ')}`);
  }
  for (const s of starved) lines.push(`${s.label} (${usersText(s.users)}) proves no capacity: ${s.judgement.checks.find((c) => c.name === 'generator')?.detail ?? ''}`);
  if (unmeasured.length > 0 && measured.length > 0) {
    lines.push(`no request finished, so not measured and proving no capacity: ${unmeasured.map((s) => `${s.label} (${usersText(s.users)})`).join(', ')}`);
  }
  const named = (list: readonly JudgedSegment[]): string => list.map((s) => `${s.label} (${usersText(s.users)})`).join(', ');
  const notRun = segments.filter((s) => !s.ran && s.cutByDuration !== true);
  if (notRun.length > 0) lines.push(`not run${interrupted ? ' (interrupted)' : ''}: ${named(notRun)}`);
  const cut = segments.filter((s) => !s.ran && s.cutByDuration === true);
  if (cut.length > 0) lines.push(`not run (cut by --duration): ${named(cut)}`);
  // The line above already names the steps with no request; this one says what else went unjudged.
  // A step that failed is judged: too few requests to call it a pass is no news there.
  const unjudged = ran.flatMap((s) => s.judgement.checks.filter((c) => c.pass === null && c.name !== 'answered' && c.name !== 'p95' && c.name !== 'generator' && (c.name !== 'sample' || s.judgement.pass)).map((c) => ({ detail: c.detail, label: s.label })));
  if (unjudged.length > 0) lines.push(unjudgedLine(unjudged));
  return {
    // A pass is a "yes": a step held its users to its end, with enough requests judged on every
    // criterion asked for, and nothing failed. A run that showed no capacity is no pass (exit 2),
    // whatever the reason the headline gives: a profile of ramps alone (a ramp proves none), every
    // step cut short by --duration, too few requests, the CPU and RAM asked for unjudged, a load
    // generator that could not send its load. The first two exited 0 under "not shown" when no
    // step failed, so `corral loadtest ... && deploy` deployed on a run that proved nothing.
    pass: best !== undefined && !failed && !interrupted,
    supportedUsers: best?.users ?? null,
    headline,
    firstFailure: failed ? { label: failed.label, users: usersRun(failed), reasons: failed.judgement.reasons } : null,
    lines,
  };
}
