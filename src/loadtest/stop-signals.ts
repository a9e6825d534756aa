// Ctrl-C, SIGTERM and SIGHUP during `corral loadtest`, from the start of the command to its end,
// so that none meets the default action's silent death. Before the load begins (the checks of the
// target and the admin API) a signal ends the run at once, saying no load ran and nothing was
// written. During the load, the first stops it and lets the run write its partial report, which
// the default action would lose with the whole run; a second leaves at once, telling the operator
// on stderr that the run was abandoned. Once the report is written nothing is left to abandon: a
// signal then leaves saying where the results are, with the run's own exit code.
//
// The same signal again within SAME_STOP_MS of the first is that first stop delivered twice, not
// a second: GNU timeout sends its signal to the child and then to its whole process group, npm
// passes a terminal's Ctrl-C on to a child that got it already. Taken as a second, it abandoned
// half the runs a CI job's timeout stopped, with their reports.

import { removeEmptyCreated, type OutputFiles } from './output.js';
import { LOADTEST_EXIT } from './exit.js';

export const STOP_SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;
export type StopSignal = (typeof STOP_SIGNALS)[number];

/** A repeat of the first stop signal within this long is the same stop, delivered twice. */
export const SAME_STOP_MS = 1000;

/** 130, 143 or 129: the code a shell reports for a process the signal ended. */
export function exitForSignal(signal: StopSignal | undefined): number {
  return signal === 'SIGTERM' ? LOADTEST_EXIT.TERMINATED : signal === 'SIGHUP' ? LOADTEST_EXIT.HUNG_UP : LOADTEST_EXIT.INTERRUPTED;
}

export interface SignalSource {
  on(signal: StopSignal, listener: (signal: StopSignal) => void): unknown;
}

export interface StopSignalsIo {
  readonly signals: SignalSource;
  readonly stderr: { write(text: string): unknown };
  /** Ends the process with this code, at once. */
  readonly leave: (code: number) => void;
  /** Monotonic milliseconds (the default: performance.now()). */
  readonly now?: () => number;
}

/** A run whose result.json and report.html are written: what a signal from then on says, and its exit code. */
export interface WrittenRun {
  readonly files: OutputFiles;
  /** The verdict's headline, repeated on stderr: the signal may cut its printing on stdout short. */
  readonly headline: string;
  /** The code the run ends with, as it stands when asked. */
  readonly exitCode: () => number;
}

export class StopSignals {
  readonly #io: StopSignalsIo;
  #stopLoad: (() => void) | undefined;
  #createdDirs: readonly string[] = [];
  #loadBegan = false;
  #written: WrittenRun | undefined;
  #first: StopSignal | undefined;
  #firstAt = 0;
  #listening = false;

  constructor(io: StopSignalsIo) {
    this.#io = io;
  }

  /** The first stop signal received, if any: it decides the exit code of a run it stopped. */
  get first(): StopSignal | undefined {
    return this.#first;
  }

  /** The run's own code, with that of an interrupted run made the first signal's (130, 143 or 129). */
  exitCode(runCode: number): number {
    return runCode === LOADTEST_EXIT.INTERRUPTED ? exitForSignal(this.#first) : runCode;
  }

  /**
   * Handles the stop signals from now until the process ends: called as the command starts, so a
   * signal during the checks before the load says what it stopped. Once only.
   */
  listen(): void {
    if (this.#listening) return;
    this.#listening = true;
    for (const signal of STOP_SIGNALS) this.#io.signals.on(signal, (s) => this.#handle(s));
  }

  /**
   * From the start of the load: `stopLoad` is what the first signal does until the returned
   * function is called (once the report is written). `createdDirs`: the --out directories the run
   * made, removed on abandoning it while still empty.
   */
  readonly onInterrupt = (stopLoad: () => void, createdDirs: readonly string[] = []): (() => void) => {
    this.#loadBegan = true;
    this.#stopLoad = stopLoad;
    this.#createdDirs = createdDirs;
    this.listen();
    return () => {
      if (this.#stopLoad === stopLoad) this.#stopLoad = undefined;
    };
  };

  /** The run wrote result.json and report.html: a signal from now on says where they are. */
  reportWritten(run: WrittenRun): void {
    this.#written = run;
  }

  #handle(signal: StopSignal): void {
    const now = (this.#io.now ?? (() => performance.now()))();
    const again = this.#first !== undefined;
    if (again && signal === this.#first && now - this.#firstAt < SAME_STOP_MS && !this.#written) {
      this.#io.stderr.write(`corral loadtest: ${signal} again within ${SAME_STOP_MS / 1000} s of the first: taken as the same stop (a wrapper such as timeout or npm passes a signal on twice); send it once more to abandon the run\n`);
      return;
    }
    if (!again) {
      this.#first = signal;
      this.#firstAt = now;
    }
    const which = `${again ? 'second stop signal' : 'stop signal'} (${signal})`;
    if (this.#written) {
      const { files, headline } = this.#written;
      this.#io.stderr.write(`corral loadtest: ${which} after the report was written: nothing was abandoned; the results are already written (result: ${files.json}, report: ${files.html}); verdict: ${headline}\n`);
      this.#io.leave(this.#written.exitCode());
      return;
    }
    if (!this.#loadBegan) {
      this.#io.stderr.write(`corral loadtest: ${which} before the load began: the run was stopped before any load ran, and no result was written (any earlier result.json and report.html in --out are left as they were)\n`);
      this.#io.leave(exitForSignal(signal));
      return;
    }
    if (!again && this.#stopLoad) {
      this.#stopLoad();
      return;
    }
    // An empty directory of the run's own making would look like a run's result that lost its files.
    const removed = removeEmptyCreated(this.#createdDirs);
    const parents = removed.length - 1;
    const emptied = removed.length === 0 ? '' : `; the --out directory it had created, still empty, was removed (${removed[0]}${parents > 0 ? `, with the ${parents === 1 ? 'parent' : `${parents} parents`} it had created` : ''})`;
    this.#io.stderr.write(`corral loadtest: ${which}: run abandoned; the report was not written (any earlier result.json and report.html in --out are left as they were)${emptied}\n`);
    this.#io.leave(exitForSignal(signal));
  }
}
