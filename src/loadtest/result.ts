// The JSON result file: everything the report draws, plus what was asked, so a run can be
// compared with another one later without the HTML.

import type { Recorder, SecondPoint } from './recorder.js';
import type { LoadtestOptions } from './options.js';
import type { Mix } from './mix.js';
import type { AdminFailure, ServerSample } from './sampler.js';
import type { Schedule, SegmentKind } from './schedule.js';
import { sortedEntries, type Counts, type LatencySummary, type Tally } from './tally.js';
import { CRITERIA } from './criteria.js';
import type { Check } from './segment-judgement.js';
import type { ServerFigures } from './server-figures.js';
import type { Verdict } from './verdict.js';
import type { RunOutcome } from './runner.js';

export const RESULT_SCHEMA = 'corral-loadtest/1';

export interface TallyResult {
  readonly counts: Counts;
  readonly latencyMs: LatencySummary | null;
  readonly statuses: Record<string, number>;
  readonly errorCodes: Record<string, number>;
}

export interface SegmentResult extends TallyResult {
  readonly label: string;
  readonly kind: SegmentKind;
  /** The users the schedule asked for at most (the figure the verdict names). */
  readonly users: number;
  readonly usersFrom: number;
  readonly usersTo: number;
  /** The most virtual users actually running during the segment. */
  readonly usersActiveMax: number;
  readonly startMs: number;
  readonly endMs: number;
  readonly ran: boolean;
  /** Held to its planned end (not cut by --duration nor interrupted): only such a step proves capacity. */
  readonly complete: boolean;
  readonly rps: number;
  readonly server: ServerFigures;
  /** false: a check failed; null: it did not run, or it ran, failed nothing, and measured nothing (no request finished in it) or too few requests other than logins to judge (its `sample` check null). */
  readonly pass: boolean | null;
  readonly checks: readonly Check[];
  readonly reasons: readonly string[];
  /** CPU or RAM, asked for with --admin, went unjudged as the admin API failed during it: it proves no capacity. */
  readonly serverLost?: boolean;
  /** CPU or RAM, asked for with --admin, went unjudged, for that or because no measurement of the master covered the step: it proves no capacity. */
  readonly criteriaUnjudged?: boolean;
}

export interface LoadtestResult {
  readonly schema: typeof RESULT_SCHEMA;
  readonly tool: { readonly name: 'corral loadtest'; readonly version: string; readonly node: string };
  readonly target: string;
  readonly startedAt: string;
  readonly finishedAt: string;
  readonly mode: LoadtestOptions['mode'];
  readonly options: {
    readonly steps: readonly number[];
    readonly stepDurationMs: number | null;
    readonly profileFile: string | null;
    readonly timeScale: number | null;
    readonly durationMs: number | null;
    readonly users: number | null;
    readonly thinkTimeMs: number | null;
    readonly timeoutMs: number;
    readonly mixRequested: Mix;
    readonly mixSource: LoadtestOptions['mixSource'];
    readonly mix: Mix;
    readonly admin: string | null;
    readonly usersFile: string;
    readonly credentials: number;
    readonly profileTotalUsers: number | null;
  };
  readonly criteria: typeof CRITERIA;
  readonly schedule: {
    readonly plannedMs: number;
    readonly totalMs: number;
    readonly truncated: boolean;
    readonly maxUsers: number;
    readonly segments: readonly { label: string; kind: SegmentKind; startMs: number; endMs: number; usersFrom: number; usersTo: number }[];
  };
  readonly run: RunOutcome & {
    readonly elapsedS: number;
    /**
     * When the target stopped answering, ms since the start, for a run that ended by itself on it
     * (interrupted is true then too: it stopped before its schedule's end); null otherwise.
     */
    readonly targetGoneAtMs: number | null;
  };
  readonly totals: TallyResult & { readonly rps: number };
  readonly segments: readonly SegmentResult[];
  readonly byKind: Record<string, TallyResult>;
  readonly byRoute: Record<string, TallyResult>;
  readonly actions: Record<string, number>;
  readonly timeline: readonly SecondPoint[];
  readonly server: {
    readonly available: boolean;
    readonly problem: string | null;
    /** The admin API's figures read once before the load (null without --admin or when unusable). */
    readonly beforeLoad: ServerSample | null;
    readonly samples: readonly ServerSample[];
    /** Fetches during the run that brought no CPU or RAM figure, and why. */
    readonly failures: readonly AdminFailure[];
  };
  readonly verdict: Verdict;
  readonly notes: readonly string[];
}

export function tallyResult(t: Tally): TallyResult {
  return { counts: { ...t.counts }, latencyMs: t.latency() ?? null, statuses: sortedEntries(t.statuses), errorCodes: sortedEntries(t.errorCodes) };
}

export function mapResult<K extends string>(map: Map<K, Tally>): Record<string, TallyResult> {
  return Object.fromEntries([...map.entries()].sort((a, b) => (a[0] < b[0] ? -1 : 1)).map(([k, t]) => [k, tallyResult(t)]));
}

export function scheduleResult(s: Schedule): LoadtestResult['schedule'] {
  return {
    plannedMs: s.plannedMs,
    totalMs: s.totalMs,
    truncated: s.truncated,
    maxUsers: s.maxUsers,
    segments: s.segments.map((g) => ({ label: g.label, kind: g.kind, startMs: g.startMs, endMs: g.endMs, usersFrom: g.usersFrom, usersTo: g.usersTo })),
  };
}

export function actionsResult(recorder: Recorder): Record<string, number> {
  return sortedEntries(recorder.actions);
}
