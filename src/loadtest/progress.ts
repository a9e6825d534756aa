// The live progress line on stderr: redrawn in place on a terminal, a plain line every few
// seconds otherwise (CI logs, `2> file`, a CI job's pseudo-terminal), so neither floods nor stays
// silent.

import { formatClock } from './duration.js';
import { formatMs } from './verdict.js';

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

export function progressLine(s: ProgressState): string {
  // A countdown rounds up: 0.1 s into a 60 s run is "00:00 elapsed, 01:00 left", not 00:59, and
  // "00:00 left" means the run is over.
  const remaining = Math.ceil(Math.max(0, s.totalMs - s.elapsedMs) / 1000) * 1000;
  return [
    `[${formatClock(s.elapsedMs)} elapsed, ${formatClock(remaining)} left]`,
    s.segmentLabel,
    `users ${s.users}`,
    `${s.rps.toFixed(1)} req/s`,
    `p95 ${s.p95Ms === undefined ? '-' : formatMs(s.p95Ms)}`,
    `errors ${s.errors}/${s.requests}`,
  ].join('  ');
}

export class Progress {
  readonly #stream: ProgressStream;
  readonly #tty: boolean;
  readonly #plainEveryMs: number;
  #lastPlain = -Infinity;
  #lastDraw = -Infinity;
  #lastLabel = '';
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
      const fitted = width !== undefined && width > 1 && line.length >= width ? `${line.slice(0, width - 2)}…` : line;
      this.#stream.write(`\r${fitted}\x1b[K`);
      this.#drawn = true;
      return;
    }
    // A plain line on every step change and every few seconds in between.
    if (state.segmentLabel !== this.#lastLabel || state.elapsedMs - this.#lastPlain >= this.#plainEveryMs) {
      this.#stream.write(`${line}\n`);
      this.#lastPlain = state.elapsedMs;
      this.#lastLabel = state.segmentLabel;
    }
  }

  /** Ends the in-place line so later output starts on a fresh line. */
  done(): void {
    if (this.#tty && this.#drawn) this.#stream.write('\n');
    this.#drawn = false;
  }
}
