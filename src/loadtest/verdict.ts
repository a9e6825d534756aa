// Judging: each segment against the seeds' success criteria (seeds/001 "Critères de succès":
// response time < 500 ms, 0 errors 503, 0 timeouts, CPU < 80 %, RAM < 50 %), then one plain
// sentence for the whole run.

import { usersText } from './users-text.js';
import { maxOf } from './extremes.js';
import { generatorHint, isGeneratorError } from './generator-limits.js';
import { LOGIN_LOCKED, LOGIN_LOCKED_HINT, LOGIN_WITHOUT_TOKEN } from './login-answer.js';
import type { ServerSample } from './sampler.js';
import type { Counts, LatencySummary } from './tally.js';
import { counted } from '../counted.js';

export const CRITERIA = Object.freeze({ p95Ms: 500, cpuPercent: 80, ramPercent: 50 });

/**
 * The fewest requests other than logins a step is judged a pass on (and at least one per user of
 * its peak): under it, its p95 is its slowest request or two, and logins alone show only that the
 * login route answers, not what N users doing something cost. Such a step can fail, never pass.
 */
export const MIN_APP_REQUESTS = 10;

export type CheckName = 'answered' | 'sample' | 'p95' | 'status5xx' | 'timeouts' | 'connection' | 'rate_limited' | 'unexpected_status' | 'generator' | 'cpu' | 'ram';

export interface Check {
  readonly name: CheckName;
  /** null: could not be measured (no admin API); it neither passes nor fails the step. */
  readonly pass: boolean | null;
  readonly value: number | null;
  readonly limit: number | null;
  /** Why it failed (or why it was not judged), for the verdict and the report. */
  readonly detail: string;
}

export interface ServerFigures {
  readonly cpuMean: number | null;
  readonly cpuMax: number | null;
  readonly ramMax: number | null;
  readonly connectionsMax: number | null;
}

export interface SegmentJudgement {
  /** No check failed. */
  readonly pass: boolean;
  /**
   * At least one request finished (or was left unanswered) in this step. A step with none, e.g.
   * a phase shorter than the profile's pace, failed nothing but shows nothing either.
   */
  readonly measured: boolean;
  /**
   * It measured enough requests other than logins to be called a pass (MIN_APP_REQUESTS, and one
   * per user): false for a step of logins alone, or of a handful of requests.
   */
  readonly enough: boolean;
  readonly checks: readonly Check[];
  /** The failed checks' details, in check order. */
  readonly reasons: readonly string[];
  readonly server: ServerFigures;
  /**
   * CPU or RAM went unjudged because the admin API failed during the step (SegmentInput.serverLost):
   * the step proves no capacity, as the criteria the operator asked for were not all applied.
   */
  readonly serverLost: boolean;
  /**
   * CPU or RAM, asked for with --admin, went unjudged, whatever the cause: the admin API failing
   * (serverLost), or no measurement of the master covering a short step. The step proves no
   * capacity: a "yes" judged without them is the one --admin was given to prevent.
   */
  readonly unjudged: boolean;
}

export interface SegmentInput {
  readonly label: string;
  readonly users: number;
  readonly counts: Counts;
  /** Of counts.requests, those other than logins: reads, writes and exports. */
  readonly appRequests: number;
  readonly latency: LatencySummary | undefined;
  readonly statuses: ReadonlyMap<number, number>;
  readonly errorCodes: ReadonlyMap<string, number>;
  /** Admin samples taken while this segment ran. */
  readonly server: readonly ServerSample[];
  /** Why CPU/RAM cannot be judged, when they cannot. */
  readonly serverProblem: string | undefined;
  /**
   * The admin API, which answered before the load (or the run would not have started), failed
   * during this step: CPU or RAM, asked for with --admin, went unjudged for a reason other than
   * the step's length.
   */
  readonly serverLost?: boolean;
  /** --admin was given and its API answered before the load: the CPU and RAM criteria were asked for. */
  readonly asked?: boolean;
  /** Why the step did not run at all (the run ended before it began): said for what it could not measure. */
  readonly notRun?: string;
}

/**
 * A figure under its limit whose rounding would reach it shows a truncated decimal instead:
 * "p95 500 ms < 500 ms" or a passing "CPU 80 %" reads as a contradiction of the verdict.
 */
function belowLimit(n: number, limit: number | undefined): string | undefined {
  return limit !== undefined && n < limit && Math.round(n) >= limit ? (Math.floor(n * 10) / 10).toFixed(1) : undefined;
}

/** Milliseconds; with the limit it is judged against, never rounded up to that limit. */
export function formatMs(ms: number, limit?: number): string {
  const near = belowLimit(ms, limit);
  if (near !== undefined) return `${near} ms`;
  return ms < 10 ? `${ms.toFixed(1)} ms` : `${Math.round(ms)} ms`;
}

/** A percentage; with the limit it is judged against, never rounded up to that limit. */
export function formatPercent(n: number, limit?: number): string {
  return `${belowLimit(n, limit) ?? Math.round(n)} %`;
}


function list(map: ReadonlyMap<string | number, number>, keep: (key: string | number) => boolean): string {
  return [...map.entries()]
    .filter(([k]) => keep(k))
    .map(([k, v]) => `${k}×${v}`)
    .join(', ');
}

/** The figures as measured, unrounded: what the criteria are judged on. */
function measuredFigures(samples: readonly ServerSample[]): ServerFigures {
  const vals = (f: (s: ServerSample) => number | null): number[] => samples.map(f).filter((v): v is number => v !== null);
  const cpu = vals((s) => s.cpu);
  const ram = vals((s) => s.ram);
  const conn = vals((s) => s.connections);
  return {
    cpuMean: cpu.length ? cpu.reduce((a, b) => a + b, 0) / cpu.length : null,
    cpuMax: cpu.length ? maxOf(cpu) : null,
    ramMax: ram.length ? maxOf(ram) : null,
    connectionsMax: conn.length ? maxOf(conn) : null,
  };
}

/**
 * One decimal, as result.json keeps it; a figure under its limit is cut rather than rounded up to
 * it (79.96 is 79.9, not 80.0), by the rule formatPercent follows: a passing 80.0 reads as a failure.
 */
function shown(n: number | null, limit: number): number | null {
  if (n === null) return null;
  const rounded = Math.round(n * 10) / 10;
  return n < limit && rounded >= limit ? Math.floor(n * 10) / 10 : rounded;
}

/** The figures for display and result.json; the criteria are judged on the unrounded ones. */
export function serverFigures(samples: readonly ServerSample[]): ServerFigures {
  return displayed(measuredFigures(samples));
}

function displayed(m: ServerFigures): ServerFigures {
  return {
    cpuMean: shown(m.cpuMean, CRITERIA.cpuPercent),
    cpuMax: shown(m.cpuMax, CRITERIA.cpuPercent),
    ramMax: shown(m.ramMax, CRITERIA.ramPercent),
    connectionsMax: m.connectionsMax,
  };
}

export const RATE_LIMIT_HINT =
  "the target's per-client-IP rate limit answered 429: every virtual user comes from this one IP, so raise CORRAL_RATE_LIMIT on the target (0 turns it off) for the test, or run the load through a proxy listed in CORRAL_TRUSTED_PROXIES";

/**
 * What `total` answers 429 were and what to do, `locked` of them logins answered 429 login_locked
 * (a player's name locked after failed logins): the per-IP limit's remedy does nothing for those.
 */
export function tooManyRequests(total: number, locked: number): string {
  const parts: string[] = [];
  if (total - locked > 0) parts.push(`${total - locked} answers 429 Too Many Requests: ${RATE_LIMIT_HINT}`);
  if (locked > 0) parts.push(`${locked} ${locked === 1 ? 'login' : 'logins'} answered 429 login_locked: ${LOGIN_LOCKED_HINT}`);
  return parts.join('; ');
}

export function judgeSegment(input: SegmentInput): SegmentJudgement {
  const c = input.counts;
  const checks: Check[] = [];
  const add = (name: CheckName, pass: boolean | null, value: number | null, limit: number | null, detail: string): void => {
    checks.push({ name, pass, value, limit, detail });
  };
  // A target that never answers shows up as timeouts, or as requests still waiting at the end whose
  // waits fail p95, never as an empty step: a step with no request is one where none was due (or
  // all were cut, briefly in flight, by the end).
  const measured = c.requests > 0;
  const idle =
    input.notRun !== undefined
      ? `this step did not run (${input.notRun})`
      : c.generator > 0
      ? 'no request was sent in this step: the load generator could not send any'
      : c.aborted > 0
        ? `no request finished in this step (${c.aborted} in flight under ${CRITERIA.p95Ms} ms when the run ended)`
        : 'no request was due in this step';
  add('answered', measured ? true : null, c.requests, null, measured ? `${c.requests} requests` : `not measured: ${idle}`);
  // Judged on what its users did once logged in: logins retried by users that never got in, or
  // three requests from fifty users, are no sample of the load the step names.
  const needed = Math.max(MIN_APP_REQUESTS, input.users);
  const enough = input.appRequests >= needed;
  const logins = c.requests - input.appRequests;
  if (measured) {
    add('sample', enough ? true : null, input.appRequests, needed, enough
      ? `${input.appRequests} requests other than logins`
      : `not enough requests to judge this step: ${input.appRequests === 0 ? `no request other than logins (${counted(logins, 'login')}), which prove nothing of the load` : `${counted(input.appRequests, 'request')} other than logins (and ${counted(logins, 'login')})`} where a pass needs at least ${needed} (${MIN_APP_REQUESTS}, and one per user)`);
  }
  const p95 = input.latency?.p95;
  if (!measured) add('p95', null, null, CRITERIA.p95Ms, 'p95 not measured: no request');
  else {
    const waiting = c.unanswered > 0 ? ` (with the waits of ${counted(c.unanswered, 'request')} still unanswered when the run ended)` : '';
    add('p95', p95 === undefined ? false : p95 < CRITERIA.p95Ms, p95 ?? null, CRITERIA.p95Ms,
      p95 === undefined ? 'no answer to measure' : `p95 ${formatMs(p95, CRITERIA.p95Ms)} ${p95 < CRITERIA.p95Ms ? '<' : '≥'} ${CRITERIA.p95Ms} ms${waiting}`);
  }
  const fives = list(input.statuses, (k) => Number(k) >= 500);
  add('status5xx', c.status5xx === 0, c.status5xx, 0, c.status5xx === 0 ? 'no 5xx' : `${counted(c.status5xx, 'server error')} (${fives})${c.status503 > 0 ? '; 503 means the server was full or unavailable' : ''}`);
  add('timeouts', c.timeouts === 0, c.timeouts, 0, c.timeouts === 0 ? 'no timeouts' : `${counted(c.timeouts, 'timeout')}`);
  const codes = list(input.errorCodes, (k) => k !== 'timeout' && k !== LOGIN_WITHOUT_TOKEN && k !== LOGIN_LOCKED && !String(k).includes('TIMEOUT') && !isGeneratorError(String(k)));
  // At its cap the server closes idle keep-alive connections to make room, and a request sent on
  // one as it closes is reset: said, or the reason read as a network fault (all users were served).
  const atCap = input.server.some((s) => s.status === 'FULL' || (s.connections !== null && s.maxConnections !== null && s.maxConnections > 0 && s.connections >= s.maxConnections));
  const capNote = atCap ? '; the server was at its connection cap (FULL) during this step, where it closes idle keep-alive connections to make room and a request sent on one as it closes is reset' : '';
  add('connection', c.connection === 0, c.connection, 0, c.connection === 0 ? 'no connection errors' : `${counted(c.connection, 'connection error')} (${codes})${capNote}`);
  add('rate_limited', c.status429 === 0, c.status429, 0, c.status429 === 0 ? 'not rate limited' : tooManyRequests(c.status429, input.errorCodes.get(LOGIN_LOCKED) ?? 0));
  const other = list(input.statuses, (k) => Number(k) !== 429 && Number(k) < 500 && (Number(k) < 200 || Number(k) >= 300));
  // Logins answered 2xx without a token are among them (their status is a success's): named apart.
  const tokenless = input.errorCodes.get(LOGIN_WITHOUT_TOKEN) ?? 0;
  const unexpected = [other, tokenless > 0 ? `${tokenless} logins answered without a token, as a server that is not corral's app does` : ''].filter((p) => p !== '').join(', ');
  add('unexpected_status', c.statusOther === 0, c.statusOther, 0,
    c.statusOther === 0 ? 'no unexpected answers' : `${counted(c.statusOther, 'unexpected answer')} (${unexpected}); 401 usually means --users-file or --admin-token does not match the target`);
  // This machine's own failures say nothing of the target: neither a pass nor a fail, but the step
  // was not loaded as planned, so it proves no capacity (overallVerdict).
  const own = list(input.errorCodes, (k) => isGeneratorError(String(k)));
  add('generator', c.generator === 0 ? true : null, c.generator, 0,
    c.generator === 0 ? 'every request sent' : `the load generator could not send ${counted(c.generator, 'request')} (${own}), a limit of this machine, not the target: ${generatorHint(input.errorCodes.keys())}`);
  // Judged unrounded: rounded first, a mean of 79.95 % failed as "80 % ≥ 80 %".
  const raw = measuredFigures(input.server);
  const server = displayed(raw);
  // The admin API failed during the step (SegmentInput.serverLost): figures fetched before it
  // stand for part of the step only, and judge nothing.
  const lost = input.serverLost === true;
  if (lost || raw.cpuMean === null || server.cpuMean === null) add('cpu', null, null, CRITERIA.cpuPercent, `CPU not judged: ${input.serverProblem ?? 'no CPU figure from the admin API'}`);
  else {
    const ok = raw.cpuMean < CRITERIA.cpuPercent;
    // Said from the figures shown (one decimal), as the headline, the steps table and the report
    // say them: from the unrounded mean, 91.45 % read "91 %" here and "92 %" (91.5) everywhere else.
    add('cpu', ok, server.cpuMean, CRITERIA.cpuPercent, `CPU ${formatPercent(server.cpuMean, CRITERIA.cpuPercent)} on average (max ${formatPercent(server.cpuMax ?? server.cpuMean, CRITERIA.cpuPercent)}) ${ok ? '<' : '≥'} ${CRITERIA.cpuPercent} %`);
  }
  if (lost || raw.ramMax === null || server.ramMax === null) add('ram', null, null, CRITERIA.ramPercent, `RAM not judged: ${input.serverProblem ?? 'no RAM figure from the admin API'}`);
  else {
    const ok = raw.ramMax < CRITERIA.ramPercent;
    add('ram', ok, server.ramMax, CRITERIA.ramPercent, `RAM ${formatPercent(server.ramMax, CRITERIA.ramPercent)} at most ${ok ? '<' : '≥'} ${CRITERIA.ramPercent} %`);
  }
  const reasons = checks.filter((ch) => ch.pass === false).map((ch) => ch.detail);
  const figureMissing = lost || server.cpuMean === null || server.ramMax === null;
  const serverLost = input.serverLost === true && figureMissing;
  const unjudged = (input.asked === true || serverLost) && figureMissing;
  return { pass: reasons.length === 0, measured, enough, checks, reasons, server, serverLost, unjudged };
}

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

const CPU_UNJUDGED = 'CPU not judged: ';
const RAM_UNJUDGED = 'RAM not judged: ';

/** Each reason once; CPU and RAM unjudged for the same reason (no admin API) are said together. */
function joinUnjudged(details: readonly string[]): string {
  const unique = [...new Set(details)];
  const cpuReasons = new Set(unique.filter((d) => d.startsWith(CPU_UNJUDGED)).map((d) => d.slice(CPU_UNJUDGED.length)));
  const both = (d: string): string | undefined => {
    const reason = d.startsWith(CPU_UNJUDGED) ? d.slice(CPU_UNJUDGED.length) : d.startsWith(RAM_UNJUDGED) ? d.slice(RAM_UNJUDGED.length) : undefined;
    return reason !== undefined && cpuReasons.has(reason) && unique.includes(`${RAM_UNJUDGED}${reason}`) ? reason : undefined;
  };
  const out: string[] = [];
  for (const d of unique) {
    const reason = both(d);
    if (reason === undefined) out.push(d);
    else if (d.startsWith(CPU_UNJUDGED)) out.push(`CPU and RAM not judged: ${reason}`);
  }
  return out.join('; ');
}

/**
 * A step's reason says "this step"; among the verdict's lines it names the steps instead ("covers
 * ramp_down"), those with the same reason together, or the reader cannot tell which step it was.
 */
function namingSteps(unjudged: readonly { readonly detail: string; readonly label: string }[]): string[] {
  const steps = new Map<string, Set<string>>();
  for (const u of unjudged) if (u.detail.includes('this step')) steps.set(u.detail, (steps.get(u.detail) ?? new Set()).add(u.label));
  return unjudged.map((u) => {
    const labels = steps.get(u.detail);
    return labels ? u.detail.replaceAll('this step', [...labels].join(', ')) : u.detail;
  });
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
  const best = passedPrefix.filter((s) => s.steady && s.complete && s.judgement.measured && s.judgement.enough && s.counts.generator === 0 && !s.judgement.unjudged).reduce<JudgedSegment | undefined>((acc, s) => (!acc || s.users > acc.users ? s : acc), undefined);
  const failed = firstFailIdx < 0 ? undefined : ran[firstFailIdx];
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
  if (unjudged.length > 0) lines.push(joinUnjudged(namingSteps(unjudged)));
  // The steps a pass is read from: those that could show capacity (held to their end, with enough
  // requests), or, when none was (a plan cut by --duration), every one with enough requests.
  const enough = measured.filter((s) => s.judgement.enough);
  const showable = enough.filter((s) => s.steady && s.complete);
  return {
    // A run whose steps were all too thin to judge showed nothing: not a pass (exit 2), as one with no request.
    // Nor one whose every step that could show capacity went without the CPU or RAM asked for:
    // none was judged on the criteria asked for, and a ramp judged in full before (which shows
    // none) does not make it one.
    pass: (showable.length > 0 ? showable : enough).some((s) => !s.judgement.unjudged) && !failed && !interrupted,
    supportedUsers: best?.users ?? null,
    headline,
    firstFailure: failed ? { label: failed.label, users: usersRun(failed), reasons: failed.judgement.reasons } : null,
    lines,
  };
}
