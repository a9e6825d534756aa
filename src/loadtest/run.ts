// `corral loadtest` from validated options to the written report: check the target is allowed
// and answering, plan the schedule, run the virtual users, judge, write JSON and HTML.
// The plan (schedule, pacing, the start line) is run-plan.ts's.

import { usersText } from './users-text.js';
import { setMaxListeners } from 'node:events';
import { basename } from 'node:path';
import { performance } from 'node:perf_hooks';
import { isLoopbackHost } from '../loopback.js';
import { TargetClient, type Reply } from './client.js';
import { loadCredentials, type Credential } from './credentials.js';
import { formatExactDuration } from './duration.js';
import { inputError, LOADTEST_EXIT, targetUnreachable } from './exit.js';
import { checkFdLimit, readFdState } from './generator-limits.js';
import { formatMix, withoutExports, type Mix } from './mix.js';
import type { LoadtestOptions } from './options.js';
import { checkOutput, createOutputDir, OutputFailed, outputFiles, writeResult, type OutputFiles } from './output.js';
import { Progress, type ProgressStream } from './progress.js';
import { Recorder } from './recorder.js';
import { renderReport } from './report-html.js';
import { actionsResult, mapResult, RESULT_SCHEMA, scheduleResult, tallyResult, type LoadtestResult } from './result.js';
import { judgeSegments, printSummary } from './segments.js';
import { planPacing, planSchedule, startLine } from './run-plan.js';
import { runSchedule } from './runner.js';
import { journalNote } from './journal-note.js';
import { AdminSampler, type ServerSample } from './sampler.js';
import { throughput } from './tally.js';
import { segmentPeak } from './schedule.js';
import { overLimit } from './before-load.js';
import { preflight } from './preflight.js';
import { checkForecast, thinStepsNote } from './sample-forecast.js';
import { checkTargetAllowed } from './target.js';
import { CRITERIA } from './criteria.js';
import { RATE_LIMIT_HINT, tooManyRequests } from './rate-limited.js';
import { overallVerdict } from './verdict.js';
import { noPlateauNote } from './profile.js';
import { LOGIN_LOCKED, LOGIN_LOCKED_HINT } from './login-answer.js';
import { VirtualUser } from './vuser.js';
import { TargetGone, TargetGoneWatch } from './target-gone.js';

export interface RunIo {
  /** `verdictWritten`: told once the verdict's line is written (checked-output.ts). */
  readonly stdout: { write(text: string): unknown; verdictWritten?(): void };
  readonly stderr: ProgressStream;
  /**
   * Calls fn on an interrupt (SIGINT); returns a function that removes the handler, called once
   * the report is written: until then a signal stops (or, a second one, abandons) a run whose
   * report is still to be written. `createdDirs`: the --out directories this run made, which an
   * abandoned run removes while they are empty.
   */
  readonly onInterrupt?: (fn: () => void, createdDirs: readonly string[]) => () => void;
  /** result.json and report.html were written there; the run's exit code and verdict as they stand. */
  readonly onReportWritten?: (files: OutputFiles, run: { readonly exitCode: number; readonly headline: string }) => void;
  readonly random?: () => number;
  readonly version: string;
}

export interface RunReport {
  readonly exitCode: number;
  readonly result: LoadtestResult;
  readonly jsonFile: string;
  readonly htmlFile: string;
}

export async function runLoadtest(opts: LoadtestOptions, io: RunIo): Promise<RunReport> {
  const random = io.random ?? Math.random;
  const pinned = await checkTargetAllowed(opts.target, opts.allowRemote);
  // The admin API is sent the admin token: held to loopback as the target is.
  const adminPinned = opts.admin ? await checkTargetAllowed(opts.admin, opts.allowRemote, '--admin') : undefined;
  const { file: usersFile, credentials } = loadCredentials(opts.usersFile);
  const schedule = planSchedule(opts);
  if (opts.mode === 'profile' && opts.profile) checkForecast(opts.profile, opts.timeScale, schedule, opts.thinkTimeMs);
  checkFdLimit(schedule.maxUsers, readFdState());
  let files = outputFiles(opts.outDir);
  const replaced = checkOutput(files, opts.outDirIsDefault);
  const notes: string[] = [];
  const say = (line: string): void => {
    notes.push(line);
    io.stderr.write(`note: ${line}\n`);
  };
  if (replaced.length > 0) say(`--out ${files.dir} already holds ${replaced.map((f) => basename(f)).join(' and ')}: this run replaces ${replaced.length === 1 ? 'it' : 'them'} when it ends`);

  let mix: Mix = opts.mix;
  if (opts.adminToken === undefined && mix.export > 0) {
    mix = withoutExports(opts.mix);
    say(`exports (${Math.round(opts.mix.export * 100)} % of the mix) are skipped: they need the admin token (--admin-token); the mix is renormalised to ${formatMix(mix)}`);
  }
  if (schedule.truncated) {
    const left = schedule.unstarted.map((s) => `${s.label} (${usersText(segmentPeak(s))})`);
    say(`--duration ${formatExactDuration(opts.durationMs ?? 0)} cuts the planned ${formatExactDuration(schedule.plannedMs)} schedule short${left.length > 0 ? `; not run: ${left.join(', ')}` : ''}`);
  }
  const rampsOnly = opts.mode === 'profile' && opts.profile ? noPlateauNote(opts.profile) : undefined;
  if (rampsOnly !== undefined) say(rampsOnly);
  if (opts.profile?.totalUsers !== undefined) {
    say(`profile users.total (${opts.profile.totalUsers}) is informational: at most ${schedule.maxUsers} virtual users run at once, logging in round-robin as the ${credentials.length} players of ${usersFile}`);
  }
  if (opts.mode !== 'profile') {
    const thin = thinStepsNote(opts.mode, schedule, opts.thinkTimeMs);
    if (thin !== undefined) say(thin);
  }
  const pacing = planPacing(opts, random);
  notes.push(pacing.note);

  // What the checks found (a target answering 503 or 429 already, or slower than --timeout) is
  // said before the load as the other notes are: kept in the result alone, the operator read a
  // verdict of 503s without being told the target gave them before any load.
  const found: string[] = [];
  await preflight(opts, mix, credentials[0] as Credential, usersFile, found, pinned);
  for (const line of found) say(line);

  const serverProblem: string | undefined = opts.admin ? undefined : 'no --admin URL given';
  let sampler: AdminSampler | undefined;
  // The server as the admin API saw it before the load: already full or over the CPU criterion,
  // it fails the steps for what it was doing before, which the verdict must not lay on the users.
  let beforeLoad: ServerSample | undefined;
  let overBefore: string | undefined;
  if (opts.admin) {
    const s = new AdminSampler(opts.admin, opts.adminToken, adminPinned);
    const probe = await s.probe(0);
    if (probe.ok) {
      sampler = s;
      beforeLoad = probe.sample;
      overBefore = beforeLoad ? overLimit(beforeLoad) : undefined;
      if (overBefore !== undefined) say(`before the load the server was already over the limit (${overBefore}): the steps' figures include whatever held it there, not only this load`);
    } else if (probe.tokenRefused || probe.notAdmin) {
      // As with the export token: --admin asks for CPU and RAM to be judged, and a run that quietly
      // judges neither would still say "supports N users: yes". So for an --admin that is not the
      // admin API at all (the app's port, a path too many): a typo, not an outage.
      await s.close();
      throw inputError(`--admin ${opts.admin.href}: ${probe.problem ?? 'the admin API refused the token'}; or leave out --admin to run without the CPU and RAM criteria`);
    } else {
      // Not reachable, no answer, or 5xx both ways (a mistyped port, a master down): the same
      // reasoning, and the target's code for one that is not answering (69). Run on without it, the
      // verdict said "supports N users: yes ... CPU not measured" for criteria the operator asked for.
      await s.close();
      throw targetUnreachable(`--admin ${opts.admin.href}: ${probe.problem ?? 'the admin API is unusable'}; or leave out --admin to run without the CPU and RAM criteria`);
    }
  }

  const output = createOutputDir(files, opts.outDirIsDefault);
  files = output.files;

  const controller = new AbortController();
  // Every request in flight and every pause listens on the run's signal: thousands, by design.
  setMaxListeners(0, controller.signal);
  const t0 = performance.now();
  const clock = (): number => performance.now() - t0;
  const startedAt = new Date();
  const recorder = new Recorder(schedule);
  const client = new TargetClient(opts.target, { timeoutMs: opts.timeoutMs, signal: controller.signal, clock, unansweredAfterMs: CRITERIA.p95Ms, deadlineMs: schedule.totalMs, ...(pinned ? { pinned } : {}) });
  const progress = new Progress(io.stderr, { inPlace: opts.progressInPlace });
  // Once each: the per-IP limit's 429, and a login's 429 login_locked (a wrong code in --users-file).
  const warned429 = new Set<string>();
  // The players whose logins the target locked, named in a note after the run.
  const lockedPlayers = new Set<string>();
  const targetWatch = new TargetGoneWatch();
  const onReply = (reply: Reply): void => {
    recorder.record(reply.sample);
    targetWatch.reply(reply.sample);
    if (reply.sample.status !== 429) return;
    const locked = reply.sample.error === LOGIN_LOCKED;
    if (locked && reply.sample.player !== undefined) lockedPlayers.add(reply.sample.player);
    const kind = locked ? LOGIN_LOCKED : 'rate_limited';
    if (warned429.has(kind)) return;
    warned429.add(kind);
    progress.done();
    io.stderr.write(`warning: ${locked ? `the login of ${JSON.stringify(reply.sample.player ?? '?')} answered 429 login_locked: ${LOGIN_LOCKED_HINT}` : RATE_LIMIT_HINT}\n`);
  };
  const env = { target: opts.target, onReply, onAction: (name: string) => recorder.actionStarted(name), mix, exportToken: opts.adminToken, runSignal: controller.signal, random };
  const removeInterrupt = io.onInterrupt?.(() => {
    progress.done();
    io.stderr.write('interrupted: stopping the virtual users and writing the report (a second signal leaves at once, without it)\n');
    controller.abort(new Error('interrupted'));
  }, output.created);

  io.stderr.write(startLine(opts, schedule));
  sampler?.start(clock);
  let outcome;
  try {
    outcome = await runSchedule({
      schedule,
      controller,
      t0,
      createUser: (id) => {
        // Each user its own connection, as each browser holds one: the server holds as many as
        // there are users, and one that leaves (a ramp down) closes it.
        const connection = client.connect();
        return new VirtualUser(id, { ...env, send: connection.send, leave: connection.close }, credentials[id % credentials.length] as Credential, pacing.make());
      },
      onTick: (tick) => {
        const gone = targetWatch.gone(tick.elapsedMs);
        if (gone) {
          progress.done();
          io.stderr.write(`stopping: ${gone.message}; the steps left are not run\n`);
          controller.abort(gone);
          return;
        }
        recorder.users(tick.users, tick.elapsedMs);
        const seg = schedule.segments[tick.segment];
        progress.update({
          elapsedMs: tick.elapsedMs,
          totalMs: schedule.totalMs,
          segmentLabel: seg ? `${seg.label} (${usersText(segmentPeak(seg))})` : '',
          users: tick.users,
          rps: recorder.lastRps(),
          p95Ms: recorder.segments[tick.segment]?.p95(),
          errors: recorder.overall.counts.errors,
          requests: recorder.overall.counts.requests,
        });
      },
    });
  } catch (err) {
    removeInterrupt?.();
    throw err;
  } finally {
    progress.done();
    await Promise.all([sampler?.close(), client.close()]);
  }
  // A second stop signal sent with the first (both pending when the process runs again) is read
  // in the same turn of the event loop as the first, but its handler runs only after the first's,
  // microtasks included: when nothing the stop waits for needs a turn (every request aborted at
  // once), the run wrote its report and exited within the first signal's handler, and the second
  // was never heard. One turn here lets it abandon the run, as it says it does.
  if (outcome.interrupted) await new Promise((resolve) => setImmediate(resolve));
  recorder.finish(outcome.endedAtMs);
  const finishedAt = new Date();

  const serverSamples = sampler?.samples ?? [];
  const serverFailures = sampler?.failures ?? [];
  // Stopped by itself, the target gone: the step it went in fails on its refusals, those after it did not run.
  const gone = controller.signal.reason instanceof TargetGone ? controller.signal.reason : undefined;
  const interrupted = outcome.interrupted && gone === undefined;
  const { segments, judged } = judgeSegments(schedule, recorder, outcome.stoppedAtMs, outcome.interrupted, serverSamples, serverProblem, serverFailures, gone ? 'the target stopped answering before it began' : undefined);
  const verdict = overallVerdict(judged, interrupted, overBefore);
  const totals = tallyResult(recorder.overall);
  if (totals.counts.status429 > 0) notes.push(tooManyRequests(totals.counts.status429, recorder.overall.errorCodes.get(LOGIN_LOCKED) ?? 0));
  if (lockedPlayers.size > 0) notes.push(`the target locked the logins of ${[...lockedPlayers].map((p) => JSON.stringify(p)).join(', ')}: check their codes in --users-file`);
  // On loopback the generator shares the host it measures; say how much of the CPU figure is ours.
  if (sampler && isLoopbackHost(opts.target.hostname)) {
    notes.push(`the load generator runs on the target's host and used ${outcome.generatorCpuPercent} % of its CPU, which the server CPU figure includes`);
  }
  if (gone) notes.push(`stopped after ${formatExactDuration(Math.round(outcome.stoppedAtMs))} of ${formatExactDuration(schedule.totalMs)}: the target stopped answering at ${formatExactDuration(Math.round(gone.sinceMs))} (${gone.message})`);
  else if (outcome.interrupted) notes.push(`interrupted after ${formatExactDuration(Math.round(outcome.stoppedAtMs))} of ${formatExactDuration(schedule.totalMs)}`);
  // Said on stderr too: the run's own figures show no error when it applies.
  const journal = journalNote(serverSamples);
  if (journal) {
    notes.push(journal);
    io.stderr.write(`warning: ${journal}\n`);
  }

  const result: LoadtestResult = {
    schema: RESULT_SCHEMA,
    tool: { name: 'corral loadtest', version: io.version, node: process.version },
    target: opts.target.href,
    startedAt: startedAt.toISOString(),
    finishedAt: finishedAt.toISOString(),
    mode: opts.mode,
    options: {
      steps: opts.steps,
      stepDurationMs: opts.mode === 'steps' ? opts.stepDurationMs : null,
      profileFile: opts.profileFile ?? null,
      timeScale: opts.mode === 'profile' ? opts.timeScale : null,
      durationMs: opts.durationMs ?? (opts.mode === 'constant' ? schedule.totalMs : null),
      users: opts.users ?? null,
      thinkTimeMs: opts.thinkTimeMs ?? null,
      timeoutMs: opts.timeoutMs,
      mixRequested: opts.mix,
      mixSource: opts.mixSource,
      mix,
      admin: opts.admin?.href ?? null,
      usersFile,
      credentials: credentials.length,
      profileTotalUsers: opts.profile?.totalUsers ?? null,
    },
    criteria: CRITERIA,
    schedule: scheduleResult(schedule),
    run: { ...outcome, elapsedS: Math.round(outcome.stoppedAtMs) / 1000, targetGoneAtMs: gone ? gone.sinceMs : null },
    totals: { ...totals, rps: throughput(recorder.overall.counts, outcome.stoppedAtMs / 1000) },
    segments,
    byKind: mapResult(recorder.kinds),
    byRoute: mapResult(recorder.routes),
    actions: actionsResult(recorder),
    timeline: recorder.timeline,
    server: { available: sampler !== undefined, problem: serverProblem ?? null, beforeLoad: beforeLoad ?? null, samples: serverSamples, failures: serverFailures },
    verdict,
    notes,
  };

  const exitCode = interrupted ? LOADTEST_EXIT.INTERRUPTED : verdict.pass ? LOADTEST_EXIT.PASS : LOADTEST_EXIT.CRITERIA_FAILED;
  // The verdict is printed even when the files cannot be written: it is what the run was for.
  let writeError: unknown;
  try {
    writeResult(files, `${JSON.stringify(result, null, 2)}\n`, () => renderReport(result));
    io.onReportWritten?.(files, { exitCode, headline: verdict.headline });
  } catch (err) {
    writeError = err;
  }
  removeInterrupt?.();
  // Files in place (the report failed, or their directory could not be flushed) are still where
  // the summary says.
  const written = writeError === undefined ? [files.json, files.html] : writeError instanceof OutputFailed ? writeError.written : [];
  printSummary(io.stdout, segments, judged, verdict, { ...(written.includes(files.json) ? { json: files.json } : {}), ...(written.includes(files.html) ? { html: files.html } : {}) });
  if (writeError !== undefined) throw writeError;
  return { exitCode, result, jsonFile: files.json, htmlFile: files.html };
}
