// Ctrl-C, SIGTERM and SIGHUP during `corral loadtest`. The first stops the load and lets the run
// write its partial report, which the signal's default action would lose with the whole run. A
// second leaves at once: the operator is told on stderr that the run was abandoned and whether its
// report was written, rather than seeing the prompt come back without a word.

import type { OutputFiles } from './output.js';
import { LOADTEST_EXIT } from './exit.js';

export const STOP_SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;
export type StopSignal = (typeof STOP_SIGNALS)[number];

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
}

export class StopSignals {
  readonly #io: StopSignalsIo;
  #stopLoad: (() => void) | undefined;
  #written: OutputFiles | undefined;
  #first: StopSignal | undefined;
  #listening = false;

  constructor(io: StopSignalsIo) {
    this.#io = io;
  }

  /** The first stop signal received, if any: it decides the exit code of a run it stopped. */
  get first(): StopSignal | undefined {
    return this.#first;
  }

  /**
   * From the start of the load: `stopLoad` is what the first signal does until the returned
   * function is called (once the report is written). The handlers stay until the process ends, so
   * a signal while the report is being written or the verdict printed is not the default action's
   * silent death.
   */
  readonly onInterrupt = (stopLoad: () => void): (() => void) => {
    this.#stopLoad = stopLoad;
    if (!this.#listening) {
      this.#listening = true;
      for (const signal of STOP_SIGNALS) this.#io.signals.on(signal, (s) => this.#handle(s));
    }
    return () => {
      if (this.#stopLoad === stopLoad) this.#stopLoad = undefined;
    };
  };

  /** The run wrote result.json and report.html: an abandoned run says where they are. */
  reportWritten(files: OutputFiles): void {
    this.#written = files;
  }

  #handle(signal: StopSignal): void {
    const again = this.#first !== undefined;
    this.#first ??= signal;
    if (!again && this.#stopLoad) {
      this.#stopLoad();
      return;
    }
    const report = this.#written
      ? `the report was written (result: ${this.#written.json}, report: ${this.#written.html})`
      : 'the report was not written (any earlier result.json and report.html in --out are left as they were)';
    this.#io.stderr.write(`corral loadtest: ${again ? 'second stop signal' : 'stop signal'} (${signal}): run abandoned; ${report}\n`);
    this.#io.leave(exitForSignal(signal));
  }
}
