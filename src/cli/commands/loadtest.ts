// `corral loadtest`: "can this server carry N users?" answered with a verdict and a report.

import { CheckedOutput } from '../../loadtest/checked-output.js';
import { exitAfterStdout, LoadtestError, LOADTEST_EXIT } from '../../loadtest/exit.js';
import { parseLoadtestArgs } from '../../loadtest/options.js';
import { runLoadtest } from '../../loadtest/run.js';
import { StopSignals } from '../../loadtest/stop-signals.js';
import { usageRefusal, type Command } from '../command.js';
import { packageVersion } from './version.js';

const HELP = `Usage: corral loadtest --target URL [options]

Drives virtual users against corral's bundled app: each logs in once (POST /api/login), then loops
over reads (GET /api/players, GET /api/me), event writes (POST /api/events) and exports
(GET /api/export?sheet=Players) in the given mix, pausing between requests (a refused login is
tried again after a pause, and not before its Retry-After). A closed model, as people use a
site: each user waits for its answer before its pause, so a server that stalls is sent
fewer requests meanwhile; latency percentiles are corrected for that (coordinated omission): a
wait longer than a user's pace also counts the requests it kept back, each having waited one
pace less (not with --think-time 0); a percentile is never below the answers' own.
Latency is kept in HDR histograms; each step is judged by the capacity criteria: p95 < 500 ms,
no 5xx, no timeouts, no connection errors, no 429, and with --admin: CPU < 80 % (step mean),
RAM < 50 % (step max). CPU counts the master's measurements (each the average since its last
one, every 5 s) in the step most of their span lies in: a step much shorter than 10 s may have
none ("not measured"). A request still unanswered when the run ends, after waiting 500 ms or more,
counts in the latency of the step it started in with its wait so far (not as an error: a target
that stops answering fails p95); one sent later than that is dropped. A step in which no request
finished (a profile phase shorter than its actions' pace) fails nothing and proves nothing: it is
shown as "no data"; a step cut short by --duration, Ctrl-C or SIGTERM proves nothing either
("partial").
Ends with a verdict ("supports 100 concurrent users: yes (p95 41 ms, 0 errors, CPU 35 %)") and
the first failing step, and writes result.json and a self-contained report.html.

How many users (pick one; default: --steps 5,10,25,50,100,200):
  --steps LIST          progressive test: users per step, 1 to 10000, strictly increasing
                        (default 5,10,25,50,100,200)
  --step-duration D     how long each step lasts (100ms to 24h; default 30s)
  --profile FILE        Locust-style JSON profile: users.{total,simultaneous,distribution.
                        {ramp_up,plateau,ramp_down}.{duration,users}}, actions.NAME.{duration,
                        requests,frequency}, distribution.{read,write,export}; durations
                        up to 720h; a phase's users is its count at its end (a plateau
                        holds ramp_up's, ramp_down ends below it); an action's pace,
                        duration/requests, is at least 100ms
  --time-scale F        compress the profile's phases (0.02 turns 45 min into 54 s; above 0, at
                        most 1000, in plain decimals: no 1e-2; default 1, the profile's own
                        times); each user keeps the pace of its actions, so a phase shorter
                        than that pace may see no request ("no data"). A plateau expected to
                        send too few requests for a verdict (10, and one per user, +10 %) is
                        refused before the load (exit 64), naming the --time-scale it needs
  --users N             a constant number of users (1 to 10000) for --duration (default 1m)

Options:
  --target URL          the app's base URL (loopback only unless --allow-remote; no user:pass@)
  --duration D          run length for --users (default 1m); a hard cap for --steps and
                        --profile (default none: their whole schedule; the steps it leaves
                        out are listed as not run); 100ms to 24h
  --think-time D        pause between a user's requests, ±50 % (0 to 10m; default 1s; a
                        profile's actions pace users by duration/requests when this is not given)
  --mix SHARES          read=0.6,write=0.3,export=0.1 (default; shares must sum to 1)
  --admin URL           the master's admin API (the target's CORRAL_ADMIN_BIND, which is
                        http://127.0.0.1:9090 unless set; not the app's port) for CPU, RAM and
                        connections; none by default: without it CPU and RAM are not judged;
                        sampled every second; loopback only unless --allow-remote (it is sent
                        the admin token). Read once before the load: a token
                        it refuses (or none) is exit 64; one that cannot be reached (or
                        answers 5xx) is exit 69, as a judgement without the CPU and RAM asked
                        for would still say yes. A step it fails during (a master stopped
                        mid-run) has CPU and RAM not judged and proves no capacity; a CPU
                        or RAM figure fetched for it at or over its limit still fails it
  --admin-token T       CORRAL_ADMIN_TOKEN: for the admin API and for exports (without it
                        exports are skipped and the mix renormalised). Default: the
                        CORRAL_ADMIN_TOKEN environment variable, which ps does not show.
                        One export before the run checks it: refused, exit 64
  --users-file FILE     CSV (name,code columns) or JSON [{"name","code"}] of players to log in as
                        (default: config/sample-sheet/Players.csv)
  --timeout D           per-request timeout, counted as a failure (1ms to 10m; default 10s);
                        not the checks before the load, which wait up to 5s for an answer
  --out DIR             where result.json and report.html go (default ./loadtest-<timestamp>/,
                        a directory of the run's own: -2, -3, ... added when the name is taken,
                        as by a run started in the same second); checked before the load,
                        created when it starts; result files already in a DIR given are
                        replaced when the run ends (a note says so before the load)
  --allow-remote        allow a target (and an --admin URL) that is not this machine
  -h, --help            this text

Durations are a number with a unit: 500ms, 30s, 1.5s, 2m, 1h, 1m30s (a bare number other than 0
is refused: 60 could mean seconds or minutes). Each option may be given once.
Progress goes to stderr (one line redrawn on a terminal; a plain line every 5 s and at each step
otherwise, and under CI or TERM=dumb); the steps table and the verdict go to stdout when the run
ends. Ctrl-C (or SIGTERM, SIGHUP) stops early and still writes the report; a second one while it
stops leaves at once: the run is abandoned, its report not written (earlier result files in --out
are left as they were; an --out directory it created, still empty, is removed), stderr says so,
and the exit code is the second signal's (the same signal again within a second is the first
delivered twice, as timeout and npm do). One before the load begins (during the checks of the
target and the admin API) ends the run at once: no load ran, no result is written, stderr says
so, and the exit code is that signal's. One once the result files are written (the verdict being
printed) leaves at once, saying on stderr where they are and the verdict, with the code the run
has anyway (its verdict's, or an earlier signal's).

Exit codes:
  0    the verdict is a yes: no step that ran failed the criteria and one held
       its users to its end with enough requests other than logins to judge (10,
       and one per user); a step cut short by --duration, with no data or too few
       requests proves no capacity: the verdict says so
  2    the run completed but a step failed the criteria (see the verdict), or
       no step showed capacity ("not shown"): none held its users to its end (a
       profile of ramps alone, every step cut short by --duration), none had
       enough requests other than logins to judge (none finished, logins alone,
       or a handful), or, with --admin, CPU and RAM went unjudged in every step
       that could show capacity (held to its end with enough of them): the admin
       API failed during them, or they were too short for a measurement of the
       master (it measures every 5 s)
  64   bad arguments, profile or users file, a --time-scale too small for a verdict,
       an --out that cannot be written, a target that is not corral's app (404 for
       its routes, a redirect, which is not followed, 401 or 403 for its public roster:
       a proxy asking for credentials, a login answered without a token),
       a remote target or --admin without --allow-remote,
       an admin token the target or the admin API refuses, an --admin that is not the
       admin API (404s, not JSON: the app's port, a path in the URL), or an open-file limit of this
       process (ulimit -n, LimitNOFILE= under systemd) too low for the peak of users: each
       holds a connection. A request this machine cannot send during the run (EMFILE, ENFILE,
       EADDRNOTAVAIL, ENOBUFS) is no error of the target: its step fails nothing and proves
       nothing ("partial"), and the verdict says why
  69   the target is not answering (or the --admin API is not), or is already full (503
       server_full) or without its Sheets backend (503 sheets_unavailable) before the load
  130  interrupted (SIGINT); the partial report was written, unless a second signal
       abandoned the run (stderr says which): 130, 143 or 129 is then that second signal's;
       or stopped before the load began: nothing was written
  143  stopped by SIGTERM; the partial report was written (as for 130)
  129  stopped by SIGHUP (terminal closed, SSH dropped); the partial report was written (as for 130)
  141  the run passed, but stdout was closed before the verdict's line was printed (its
       reader, e.g. \`| head -1\`, went away first) or could not take it (a full disk): the
       verdict goes to stderr instead and the report is written; a run that did not pass
       keeps its own code. A reader that leaves after the verdict reached the pipe is not
       seen: the lines after the verdict do not count
  1    the result could not be written after the run (the verdict is still
       printed; the files are written to temporary names and renamed, so earlier
       result files in --out are left whole, as they were), or the report could not
       be rendered (result.json is written, report.html is not), or its directory could
       not be flushed to disk after the renames (the files are in place; stderr says
       so), or a directory created for --out could not be flushed into its parent
       before the load (no load ran), or an unexpected failure`;

export const loadtestCommand: Command = {
  name: 'loadtest',
  help: HELP,
  handlesClosedStdout: true,
  async run(argv) {
    let parsed: ReturnType<typeof parseLoadtestArgs>;
    try {
      // Read only for a relative path: a run from a directory removed since, given absolute paths, runs.
      parsed = parseLoadtestArgs(argv, () => process.cwd());
    } catch (err) {
      if (!(err instanceof LoadtestError) || err.exitCode !== LOADTEST_EXIT.USAGE) throw err;
      // As every command says a usage error (src/cli/main.ts): what is wrong, the usage line and
      // where the rest is. Only an unknown option got the pointer, and none the usage line, so a
      // bad value (`--users 1.5`, a profile that does not parse) left the reader to guess the way on.
      process.stderr.write(usageRefusal(loadtestCommand, `[${err.code}] ${err.message}`));
      return err.exitCode;
    }
    try {
      if (parsed.help) {
        process.stdout.write(`${HELP}\n`);
        return 0;
      }
      // Progress and notes only: a reader of stderr that goes away (`2>&1 | head`, a terminal
      // gone under nohup) must not end the run unwritten. Without a listener the write error is thrown.
      process.stderr.on('error', () => {});
      // The steps table and the verdict: whether they reached a reader decides what exit 0 may claim.
      const stdout = new CheckedOutput(process.stdout);
      process.stdout.on('error', () => {});
      const signals = new StopSignals({ signals: process, stderr: process.stderr, leave: (code) => process.exit(code) });
      // From here, not from the load's start: the checks before it take seconds against a slow target.
      signals.listen();
      const report = await runLoadtest(parsed.options, {
        stdout,
        stderr: process.stderr,
        version: packageVersion(),
        onInterrupt: signals.onInterrupt,
        // A signal from here on stops nothing: it leaves with the code the run ends with anyway.
        onReportWritten: (files, run) => signals.reportWritten({ files, headline: run.headline, exitCode: () => exitAfterStdout(signals.exitCode(run.exitCode), stdout.lost !== undefined) }),
      });
      const exitCode = signals.exitCode(report.exitCode);
      const lost = await stdout.settled();
      if (lost === undefined) return exitCode;
      // Nobody read the verdict on stdout (`| head -3` took the first steps and left): say it where
      // someone may still look, and do not let exit 0 vouch for it.
      const code = (lost as NodeJS.ErrnoException).code ?? lost.message;
      const what = code === 'EPIPE' ? 'stdout was closed before the verdict was printed' : 'the verdict could not be written to stdout';
      process.stderr.write(`corral loadtest: [CORRAL_ERR_LOADTEST_STDOUT] ${what} (${code}); verdict: ${report.result.verdict.headline}; result: ${report.jsonFile}, report: ${report.htmlFile}\n`);
      return exitAfterStdout(exitCode, true);
    } catch (err) {
      if (err instanceof LoadtestError) {
        // The same "[CODE] message" shape as every other CLI error (src/cli/main.ts).
        process.stderr.write(`corral loadtest: [${err.code}] ${err.message}\n`);
        return err.exitCode;
      }
      throw err;
    }
  },
};
