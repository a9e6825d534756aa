// The live progress line on stderr: redrawn in place on a terminal, a plain line every few
// seconds otherwise (CI logs, `2> file`, a CI job's pseudo-terminal), so neither floods nor stays
// silent.

import { formatClock } from './duration.js';
import { CRITERIA, formatMs } from './criteria.js';

export interface ProgressState {
  readonly elapsedMs: number;
  readonly totalMs: number;
  readonly segmentLabel: string;
  readonly users: number;
  readonly rps: number;
  readonly p95Ms: number | undefined;
  readonly errors: number;
  readonly requests: number;
}

export interface ProgressStream {
  write(text: string): unknown;
  readonly isTTY?: boolean;
  /** The terminal's width, when it is one. */
  readonly columns?: number;
}

/** Time left, rounded up: 0.1 s into a 60 s run is 01:00 left, not 00:59; 00:00 means the run is over. */
function remainingMs(s: ProgressState): number {
  return Math.ceil(Math.max(0, s.totalMs - s.elapsedMs) / 1000) * 1000;
}

// The p95 as the steps table and the verdict say it: a step passing at 499.96 ms is 499.9 ms
// there, and its last progress line said "p95 500 ms".
function figures(s: ProgressState): string[] {
  return [`users ${s.users}`, `${s.rps.toFixed(1)} req/s`, `p95 ${s.p95Ms === undefined ? '-' : formatMs(s.p95Ms, CRITERIA.p95Ms)}`, `errors ${s.errors}/${s.requests}`];
}

export function progressLine(s: ProgressState): string {
  return [`[${formatClock(s.elapsedMs)} elapsed, ${formatClock(remainingMs(s))} left]`, s.segmentLabel, ...figures(s)].join('  ');
}

/**
 * The same figures in fewer columns, for a terminal the full line does not fit: cut at 80
 * columns, the full line of a run of the default steps lost its errors and often its p95, the
 * figures an operator watches it for. Left out: the step's peak in parentheses (the users figure
 * follows), the words "elapsed" and the double spaces.
 */
export function compactProgressLine(s: ProgressState): string {
  const label = s.segmentLabel.replace(/\s*\([^()]*\)$/, '');
  return [`[${formatClock(s.elapsedMs)}, ${formatClock(remainingMs(s))} left]`, label, ...figures(s)].join(' ');
}

/** A line cut to leave the terminal's last column free (a character there wraps on some terminals). */
function fit(line: string, width: number): string {
  return line.length < width ? line : `${line.slice(0, width - 2)}…`;
}

export class Progress {
  readonly #stream: ProgressStream;
  readonly #tty: boolean;
  readonly #plainEveryMs: number;
  #lastPlain = -Infinity;
  #lastDraw = -Infinity;
  #lastLabel = '';
  /** The last state seen in plain mode, and whether its line was written. */
  #previous: { state: ProgressState; written: boolean } | undefined;
  #drawn = false;

  /** inPlace false: plain lines even on a terminal (CI, TERM=dumb), where \r and escapes end up as noise. */
  constructor(stream: ProgressStream, { inPlace = true, plainEveryMs = 5000 }: { inPlace?: boolean; plainEveryMs?: number } = {}) {
    this.#stream = stream;
    this.#tty = inPlace && stream.isTTY === true;
    this.#plainEveryMs = plainEveryMs;
  }

  update(state: ProgressState): void {
    const line = progressLine(state);
    if (this.#tty) {
      // Four redraws a second are plenty for a human and cheap for the terminal.
      if (state.elapsedMs - this.#lastDraw < 250) return;
      this.#lastDraw = state.elapsedMs;
      // A line wider than the terminal wraps, and \r then returns to its last row only: every
      // redraw would leave a row behind (an 80-column terminal fills four rows a second).
      const width = this.#stream.columns;
      const fitted = width !== undefined && width > 1 && line.length >= width ? fit(compactProgressLine(state), width) : line;
      this.#stream.write(`\r${fitted}\x1b[K`);
      this.#drawn = true;
      return;
    }
    // A plain line on every step change and every few seconds in between. At a step change, the
    // ending step's last figures first: the new step has measured nothing yet (its p95 is "-"),
    // and the log kept no line of how the step ended, up to 5 s of it unsaid.
    const changed = state.segmentLabel !== this.#lastLabel;
    if (changed && this.#previous && !this.#previous.written) this.#stream.write(`${progressLine(this.#previous.state)}\n`);
    const due = changed || state.elapsedMs - this.#lastPlain >= this.#plainEveryMs;
    if (due) {
      this.#stream.write(`${line}\n`);
      this.#lastPlain = state.elapsedMs;
      this.#lastLabel = state.segmentLabel;
    }
    this.#previous = { state, written: due };
  }

  /** Ends the in-place line so later output starts on a fresh line. */
  done(): void {
    if (this.#tty && this.#drawn) this.#stream.write('\n');
    this.#drawn = false;
  }
}
