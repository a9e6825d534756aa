// Each segment of the run, judged and turned into its part of the result.

import { formatDuration } from './duration.js';
import { maxOf, minOf } from './extremes.js';
import type { OutputFiles } from './output.js';
import type { Recorder } from './recorder.js';
import type { SegmentResult } from './result.js';
import { tallyResult } from './result.js';
import { describeFailures, type AdminFailure, type ServerSample } from './sampler.js';
import { segmentPeak, type Schedule } from './schedule.js';
import { Tally, throughput } from './tally.js';
import { CRITERIA, formatMs } from './criteria.js';
import { judgeSegment } from './segment-judgement.js';
import { briefFigures, type JudgedSegment, type Verdict } from './verdict.js';

/** One host measurement of the master, and the moment its CPU figure stands for. */
interface HostMeasurement {
  readonly sample: ServerSample;
  /**
   * The middle of the span the CPU figure averages: the master reports the busy share since its
   * previous measurement, so a figure taken 1 s into a step is mostly the step before it (or the
   * idle host before the run). The first measurement's span is taken to be as long as the next
   * one's; with a single measurement, or an undated figure (no host.sampled_at), its own time.
   */
  readonly cpuAt: number;
}

/** A fetch that brought the master's CPU or RAM (not only capacity, nor a refusal). */
function hasHostFigures(s: ServerSample): boolean {
  return s.cpu !== null || s.ram !== null;
}

function hostMeasurements(samples: readonly ServerSample[]): HostMeasurement[] {
  const seen = new Set<number>();
  const distinct = samples.filter((s) => hasHostFigures(s) && !seen.has(s.hostT) && (seen.add(s.hostT), true)).sort((a, b) => a.hostT - b.hostT);
  return distinct.map((sample, i) => {
    const prev = distinct[i - 1];
    const next = distinct[i + 1];
    const span = !sample.hostDated ? 0 : prev ? sample.hostT - prev.hostT : next ? next.hostT - sample.hostT : 0;
    return { sample, cpuAt: sample.hostT - span / 2 };
  });
}

/**
 * The admin figures that describe [start, end): connections as fetched in it, RAM as the master
 * measured it in it, and CPU whose averaged span lies mostly in it (each host measurement once,
 * however many fetches returned it).
 */
function samplesFor(samples: readonly ServerSample[], start: number, end: number): ServerSample[] {
  const within = (t: number) => t >= start && t < end;
  const connections = samples.filter((s) => within(s.t)).map((s) => ({ ...s, cpu: null, ram: null }));
  const host = hostMeasurements(samples);
  const ram = host.filter((m) => within(m.sample.hostT)).map((m) => ({ ...m.sample, cpu: null, connections: null }));
  const cpu = host.filter((m) => within(m.cpuAt)).map((m) => ({ ...m.sample, ram: null, connections: null }));
  return [...connections, ...ram, ...cpu];
}

/**
 * Why a segment has no CPU or RAM figure although the admin API answered before the run; `lost`:
 * because the admin API failed during it (down, refusing, silent), not for want of a measurement.
 */
function missingFigures(samples: readonly ServerSample[], failures: readonly AdminFailure[], serverProblem: string | undefined, start: number, end: number): { reason: string | undefined; lost: boolean } {
  const within = (t: number): boolean => t >= start && t < end;
  const failed = failures.filter((f) => within(f.t));
  const lost = (reason: string): { reason: string; lost: boolean } => ({ reason, lost: true });
  const other = (reason: string | undefined): { reason: string | undefined; lost: boolean } => ({ reason, lost: false });
  if (serverProblem !== undefined) return other(serverProblem);
  if (!samples.some(hasHostFigures)) return failures.length > 0 ? lost(`the admin API gave no CPU or RAM figure during the run (${describeFailures(failures)})`) : other(undefined);
  // No figure fetched in the step: the API went quiet or refused, which is not the step's length.
  if (!samples.some((s) => within(s.t) && hasHostFigures(s))) {
    if (failed.length > 0) return lost(`the admin API gave no CPU or RAM figure during this step (${describeFailures(failed)})`);
    // Answered, with no host figures: a master that has not measured the host yet (host: null).
    return other(samples.some((s) => within(s.t)) ? 'the admin API answered without CPU or RAM figures during this step' : 'the admin API did not answer during this step');
  }
  // Fetched early in the step, then failing (a master stopped mid-step): the figures fetched
  // described the step before, and the step's own measurements were never fetched.
  const measured = hostMeasurements(samples).filter((m) => within(m.sample.hostT));
  if (failed.length > 0 && measured.length === 0) return lost(`the admin API stopped giving figures during this step (${describeFailures(failed)}), before any of the master's measurements in it`);
  // Measured in the step, then failing to its end (a token rotated by a reload, a master
  // stopped): its figures stand for the part before, and a step judged on a third of its span
  // passed "CPU 18 %" with the admin API refusing for the rest. A failure the master's
  // measurements came back after is a blip; so is one that kept no measurement of the master
  // dated in the step from being fetched (its last seconds, the next measurement due after the
  // step's end, or fetched in the next step): one fetch failing in a step's last second made a
  // step measured to its end "partial", said to cover "only its start".
  const lastFetched = maxOf(samples.filter((s) => within(s.t) && hasHostFigures(s)).map((s) => s.t));
  const after = failed.filter((f) => f.t > lastFetched);
  if (after.length > 0 && missedMeasurement(samples, start, end)) return lost(`the admin API stopped giving figures partway through this step (${describeFailures(after)}), so the master's measurements cover only its start`);
  // Fetched in the step, but the master's own measurements kept failing: no step length helps.
  const fetched = samples.filter((s) => within(s.t) && hasHostFigures(s));
  if (fetched.every((s) => s.hostStale === true)) {
    return other("the master's host figures were stale during this step: its measurements of CPU and RAM kept failing (its log says why: host.sample_failed)");
  }
  const spans = hostMeasurements(samples).map((m, i, all) => (i > 0 ? m.sample.hostT - (all[i - 1]?.sample.hostT ?? 0) : 0)).filter((d) => d > 0);
  const every = spans.length > 0 ? ` (it measures every ${formatDuration(minOf(spans))})` : '';
  return other(`no host measurement of the master${every} covers this step; longer steps get one`);
}

/**
 * A measurement of the master dated in [start, end) was never fetched: the master measures every
 * `every` ms (the shortest span between two measurements known), and one was due in the step
 * after a measurement known (from any fetch, this step's or a later one's) with none known for
 * longer than half an interval more (the master's timer drifts by milliseconds, not seconds), or
 * none known after it at all. Taken as missed when the master's interval is unknown.
 */
function missedMeasurement(samples: readonly ServerSample[], start: number, end: number): boolean {
  const dated = hostMeasurements(samples).map((m) => m.sample.hostT);
  const spans = dated.map((t, i) => (i > 0 ? t - (dated[i - 1] ?? t) : 0)).filter((d) => d > 0);
  if (spans.length === 0) return true;
  const every = minOf(spans);
  return dated.some((t, i) => {
    const due = t + every;
    if (due < start || due >= end) return false;
    const next = dated[i + 1];
    return next === undefined || next - t > every * 1.5;
  });
}

export function judgeSegments(
  schedule: Schedule,
  recorder: Recorder,
  stoppedAtMs: number,
  interrupted: boolean,
  serverSamples: readonly ServerSample[],
  serverProblem: string | undefined,
  serverFailures: readonly AdminFailure[] = [],
  /** Why the run stopped before its end when it was not an interruption (the target gone). */
  stoppedWhy?: string,
): { segments: SegmentResult[]; judged: JudgedSegment[] } {
  const segments: SegmentResult[] = [];
  const judged: JudgedSegment[] = [];
  // The segments --duration cut before they began come last, with nothing recorded: not run.
  const planned = [...schedule.segments, ...schedule.unstarted];
  planned.forEach((seg, i) => {
    const unstarted = i >= schedule.segments.length;
    const tally = unstarted ? new Tally() : recorder.segments[i];
    if (!tally) return;
    // By the plan, not the clock: a deadline timer that fires late must not make one of them "ran".
    const ran = !unstarted && seg.startMs < stoppedAtMs;
    const end = Math.min(seg.endMs, stoppedAtMs);
    // Held to its planned end: not cut by --duration, not interrupted before its end.
    const complete = ran && seg.cutShort !== true && (!interrupted || seg.endMs <= stoppedAtMs);
    // A step the run ended before has no figures because it never ran: asked of the admin API's
    // samples, it read "the admin API did not answer during this step", of an API that answered throughout.
    const notRun = ran ? undefined : unstarted ? '--duration ended the run before it began' : (stoppedWhy ?? 'the run was stopped before it began');
    const missing = notRun !== undefined ? { reason: `this step did not run (${notRun})`, lost: false } : missingFigures(serverSamples, serverFailures, serverProblem, seg.startMs, end);
    const judgement = judgeSegment({
      label: seg.label,
      users: segmentPeak(seg),
      counts: tally.counts,
      appRequests: unstarted ? 0 : (recorder.segmentAppRequests[i] ?? 0),
      latency: tally.latency(),
      statuses: tally.statuses,
      errorCodes: tally.errorCodes,
      server: samplesFor(serverSamples, seg.startMs, end),
      serverProblem: missing.reason,
      serverLost: missing.lost,
      asked: ran && serverProblem === undefined,
      ...(notRun !== undefined ? { notRun } : {}),
    });
    segments.push({
      ...tallyResult(tally),
      label: seg.label,
      kind: seg.kind,
      users: segmentPeak(seg),
      usersFrom: seg.usersFrom,
      usersTo: seg.usersTo,
      usersActiveMax: recorder.segmentUsersMax[i] ?? 0,
      startMs: seg.startMs,
      endMs: seg.endMs,
      ran,
      complete,
      rps: ran && end > seg.startMs ? throughput(tally.counts, (end - seg.startMs) / 1000) : 0,
      server: judgement.server,
      // null: it ran and failed nothing, but no request finished in it, or too few besides logins
      // to judge (the 'sample' check): nothing to call a pass.
      // A step that did not run is null too: it failed nothing (a script counting pass === false
      // counted steps --duration or an interruption kept from running as failures).
      pass: !ran ? null : judgement.pass ? (judgement.measured && judgement.enough ? true : null) : false,
      checks: judgement.checks,
      reasons: judgement.reasons,
      serverLost: judgement.serverLost,
      criteriaUnjudged: judgement.unjudged,
    });
    judged.push({ label: seg.label, users: segmentPeak(seg), ran, complete, steady: seg.usersFrom === seg.usersTo, counts: tally.counts, latency: tally.latency(), judgement, usersReached: recorder.segmentUsersMax[i] ?? 0, ...(unstarted ? { cutByDuration: true } : {}) });
  });
  return { segments, judged };
}

/**
 * A step's status in the steps table and the report: one word, the same in both. "partial": it
 * passed, but was not held to its end, or this machine could not send all of its load (EMFILE), or
 * its CPU or RAM, asked for with --admin, went unjudged (the admin API failed during it, or no
 * measurement of the master covered it).
 * "too few": held to its end, it failed nothing, but on too few requests other than logins to call a pass.
 */
export function segmentStatus(s: SegmentResult): 'not run' | 'fail' | 'no data' | 'too few' | 'partial' | 'ramp ok' | 'pass' {
  const thin = s.checks.some((c) => c.name === 'sample' && c.pass === null);
  // Cut short, it is "partial" first: that alone proves nothing, whatever it measured.
  const status = !s.ran ? 'not run' : s.pass === false ? 'fail' : s.pass === null ? (thin ? (s.complete ? 'too few' : 'partial') : 'no data') : !s.complete || s.counts.generator > 0 || s.serverLost === true || s.criteriaUnjudged === true ? 'partial' : 'pass';
  // A ramp failed nothing: judged, but it claims no capacity (its users were never held), which
  // "pass" beside the plateau's said it did.
  return status === 'pass' && s.usersFrom !== s.usersTo ? 'ramp ok' : status;
}

/** The steps table and the verdict, on stdout; `files` undefined: they could not be written. */
export function printSummary(
  out: { write(text: string): unknown; verdictWritten?(): void },
  segments: readonly SegmentResult[],
  judged: readonly JudgedSegment[],
  verdict: Verdict,
  /** This run's files in place; one missing was not written (the error on stderr says why). */
  files: Partial<OutputFiles> | undefined,
): void {
  segments.forEach((s, i) => {
    const status = segmentStatus(s).replace('fail', 'FAIL');
    const lat = s.latencyMs ? `p95 ${formatMs(s.latencyMs.p95, CRITERIA.p95Ms)}` : 'no answers';
    const j = judged[i];
    const rest = j ? briefFigures(j).replace(/^p95 [^,]+, |^no answers, /, '') : '';
    // A ramp shows where it goes (0→300), as the report does: its peak alone reads like a step.
    const users = s.usersFrom === s.usersTo ? String(s.users) : `${s.usersFrom}→${s.usersTo}`;
    // 'user ' keeps the columns of the rows below it.
    out.write(`${s.label.padEnd(10)} ${users.padStart(5)} ${users === '1' ? 'user ' : 'users'}  ${status.padEnd(7)}  ${String(s.rps).padStart(7)} req/s  ${lat}, ${rest}\n`);
  });
  out.write(`verdict: ${verdict.headline}\n`);
  out.verdictWritten?.();
  for (const line of verdict.lines) out.write(`  ${line}\n`);
  if (files?.json === undefined) out.write('result: not written (see the error on stderr)\n');
  else out.write(`result: ${files.json}\nreport: ${files.html ?? 'not written (see the error on stderr)'}\n`);
}
