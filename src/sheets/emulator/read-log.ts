// The read calls the emulator received, for GET /__emulator/reads and Emulator.reads(): a bench
// counts how often the same ranges were read (bench/lib/emulator-proc.ts). Apart from server.ts
// because it is a bounded log with its own trimming, not part of answering a call.

/** A read call as the emulator received it. */
export interface ReadCall {
  /** Arrival, ms since the epoch (the emulator's clock). */
  readonly at: number;
  /** The ranges it asked for: values.get's one, values.batchGet's `ranges`. */
  readonly ranges: readonly string[];
}

/** Read calls remembered for GET /__emulator/reads. */
export const READ_LOG_MAX = 100_000;

/** The latest read calls (values.get, values.batchGet), each with its arrival time and ranges. */
export class ReadLog {
  readonly #calls: ReadCall[] = [];

  record(call: ReadCall): void {
    // The oldest tenth dropped at once when full: not a shift of the whole log per call.
    if (this.#calls.length >= READ_LOG_MAX) this.#calls.splice(0, READ_LOG_MAX / 10);
    this.#calls.push(call);
  }

  /** The calls that arrived at or after `since`, oldest first. */
  since(since: number): ReadCall[] {
    return this.#calls.filter((r) => r.at >= since);
  }
}
