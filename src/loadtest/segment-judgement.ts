// One step judged against the success criteria (criteria.ts): a check each, passed, failed or not
// judged (null), with why in words for the verdict and the report. A file of its own: one step's
// checks, apart from the verdict on the whole run (verdict.ts), which reads them with the others'.

import { CRITERIA, formatMs, formatPercent, MIN_APP_REQUESTS } from './criteria.js';
import { generatorHint, isGeneratorError } from './generator-limits.js';
import { LOGIN_LOCKED, LOGIN_WITHOUT_TOKEN } from './login-answer.js';
import { tooManyRequests } from './rate-limited.js';
import type { ServerSample } from './sampler.js';
import { displayed, measuredFigures, type ServerFigures } from './server-figures.js';
import { CPU_UNJUDGED, RAM_UNJUDGED } from './unjudged-line.js';
import type { Counts, LatencySummary } from './tally.js';
import { counted } from '../counted.js';

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

function list(map: ReadonlyMap<string | number, number>, keep: (key: string | number) => boolean): string {
  return [...map.entries()]
    .filter(([k]) => keep(k))
    .map(([k, v]) => `${k}×${v}`)
    .join(', ');
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
    // The tally says its p95 on the side of the limit its exact counts of the latencies at or over
    // it put it (Tally.p95Under), not HDR's bucket: compared here, it judges as they do.
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
  // The hint about credentials only where a 401 was answered: said of 301s or 405s, it sent the
  // operator to --users-file for a target that redirects or is not the app.
  const refused = (input.statuses.get(401) ?? 0) > 0 ? '; 401 usually means --users-file or --admin-token does not match the target' : '';
  add('unexpected_status', c.statusOther === 0, c.statusOther, 0,
    c.statusOther === 0 ? 'no unexpected answers' : `${counted(c.statusOther, 'unexpected answer')} (${unexpected})${refused}`);
  // This machine's own failures say nothing of the target: neither a pass nor a fail, but the step
  // was not loaded as planned, so it proves no capacity (overallVerdict).
  const own = list(input.errorCodes, (k) => isGeneratorError(String(k)));
  add('generator', c.generator === 0 ? true : null, c.generator, 0,
    c.generator === 0 ? 'every request sent' : `the load generator could not send ${counted(c.generator, 'request')} (${own}), a limit of this machine, not the target: ${generatorHint(input.errorCodes.keys())}`);
  // Judged unrounded: rounded first, a mean of 79.95 % failed as "80 % ≥ 80 %".
  const raw = measuredFigures(input.server);
  const server = displayed(raw);
  // The admin API failed during the step (SegmentInput.serverLost): the figures fetched stand for
  // part of the step only, and a figure under its limit judges nothing. One at or over it still
  // fails the step: RAM is the step's highest reading, which the readings missed could only raise,
  // and CPU the busy share over the master's spans lying mostly in the step. Left unjudged, a
  // master stalled by the overloaded host (its API silent for seconds, then 95 % for them) made the
  // step "partial" and the next step's pass a "yes".
  const lost = input.serverLost === true;
  const fetchedOnly = lost ? ` in the master's measurements fetched (the admin API failed during this step)` : '';
  if (raw.cpuMean === null || server.cpuMean === null || (lost && raw.cpuMean < CRITERIA.cpuPercent)) add('cpu', null, null, CRITERIA.cpuPercent, `${CPU_UNJUDGED}${input.serverProblem ?? 'no CPU figure from the admin API'}`);
  else {
    const ok = raw.cpuMean < CRITERIA.cpuPercent;
    // Said from the figures shown (one decimal), as the headline, the steps table and the report
    // say them: from the unrounded mean, 91.45 % read "91 %" here and "92 %" (91.5) everywhere else.
    add('cpu', ok, server.cpuMean, CRITERIA.cpuPercent, `CPU ${formatPercent(server.cpuMean, CRITERIA.cpuPercent)} on average (max ${formatPercent(server.cpuMax ?? server.cpuMean, CRITERIA.cpuPercent)}) ${ok ? '<' : '≥'} ${CRITERIA.cpuPercent} %${fetchedOnly}`);
  }
  if (raw.ramMax === null || server.ramMax === null || (lost && raw.ramMax < CRITERIA.ramPercent)) add('ram', null, null, CRITERIA.ramPercent, `${RAM_UNJUDGED}${input.serverProblem ?? 'no RAM figure from the admin API'}`);
  else {
    const ok = raw.ramMax < CRITERIA.ramPercent;
    add('ram', ok, server.ramMax, CRITERIA.ramPercent, `RAM ${formatPercent(server.ramMax, CRITERIA.ramPercent)} at most ${ok ? '<' : '≥'} ${CRITERIA.ramPercent} %${fetchedOnly}`);
  }
  const reasons = checks.filter((ch) => ch.pass === false).map((ch) => ch.detail);
  const figureMissing = lost || server.cpuMean === null || server.ramMax === null;
  const serverLost = input.serverLost === true && figureMissing;
  const unjudged = (input.asked === true || serverLost) && figureMissing;
  return { pass: reasons.length === 0, measured, enough, checks, reasons, server, serverLost, unjudged };
}
