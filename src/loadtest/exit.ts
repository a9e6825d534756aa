// Exit codes and the error type of `corral loadtest`. The command maps every failure to one of
// these, so scripts and CI can tell "bad arguments" from "target down" from "target too slow".

import { CorralError, EXIT, type ErrorCode } from '../errors.js';

export const LOADTEST_EXIT = {
  /**
   * The verdict is a yes: no step that ran failed the criteria, and one held its users to its end
   * with enough requests other than logins to judge, on every criterion asked for (steps cut short
   * by --duration or with too few requests to judge may be among the others).
   */
  PASS: 0,
  /** An unexpected internal failure (a bug, a disk error while writing the report). */
  FAILURE: EXIT.FAILURE,
  /**
   * The run completed, but at least one step failed the criteria (the verdict says which), or no
   * step showed capacity ("not shown": a profile of ramps alone, every step cut short, too few
   * requests other than logins, the CPU and RAM asked for unjudged, or a load generator that could
   * not send its load).
   */
  CRITERIA_FAILED: 2,
  /** Bad arguments, a bad profile or users file, a --time-scale too small for a verdict (sample-forecast.ts), a remote target without --allow-remote, a refused admin token, or an --admin that is not the admin API. */
  USAGE: EXIT.USAGE,
  /**
   * sysexits EX_UNAVAILABLE: the target (or its login, or the --admin API) did not answer before
   * the run, or answered 503 server_full or sheets_unavailable (before-load.ts).
   */
  TARGET_UNREACHABLE: 69,
  /** Stopped by SIGINT; the partial report was still written. */
  INTERRUPTED: 130,
  /**
   * Stopped by SIGTERM (systemd, a CI job's timeout, kill): as SIGINT, the partial report was
   * written; 128 + 15, the code a shell reports for a process the signal ended.
   */
  TERMINATED: 143,
  /** Stopped by SIGHUP (its terminal closed, an SSH session dropped): the partial report was written; 128 + 1. */
  HUNG_UP: 129,
  /**
   * The run passed, but stdout was closed before its verdict could be printed (its reader, such as
   * `head`, went away) or refused it (a full disk): 128 + 13, the code a shell reports for a writer that SIGPIPE ended. The
   * result files were written; a verdict that did not pass keeps its own code.
   */
  STDOUT_CLOSED: 141,
} as const;

/** A passing run whose verdict stdout did not take exits STDOUT_CLOSED, not 0; any other code stands. */
export function exitAfterStdout(runCode: number, stdoutLost: boolean): number {
  return stdoutLost && runCode === LOADTEST_EXIT.PASS ? LOADTEST_EXIT.STDOUT_CLOSED : runCode;
}

/** A loadtest failure that already knows its exit code. */
export class LoadtestError extends CorralError {
  readonly exitCode: number;
  constructor(code: ErrorCode, message: string, exitCode: number, options?: { cause?: unknown }) {
    super(code, message, options);
    this.name = 'LoadtestError';
    this.exitCode = exitCode;
  }
}

export function inputError(message: string, cause?: unknown): LoadtestError {
  return new LoadtestError('CORRAL_ERR_LOADTEST_INPUT', message, LOADTEST_EXIT.USAGE, cause === undefined ? undefined : { cause });
}

export function targetRefused(message: string): LoadtestError {
  return new LoadtestError('CORRAL_ERR_LOADTEST_TARGET', message, LOADTEST_EXIT.USAGE);
}

export function targetUnreachable(message: string, cause?: unknown): LoadtestError {
  return new LoadtestError('CORRAL_ERR_LOADTEST_TARGET', message, LOADTEST_EXIT.TARGET_UNREACHABLE, cause === undefined ? undefined : { cause });
}
