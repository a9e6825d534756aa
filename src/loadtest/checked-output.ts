// stdout for the steps table and the verdict, remembering whether they reached it. A reader that
// went away (`| head -3` once it had its lines, `| true`) makes a write fail with EPIPE, which
// Node reports after the write returns; the exit code must then not say "pass" for a verdict
// nobody was given. Only the writes up to the verdict's line count: a reader that took it and left
// (`| head -3` when the verdict is the third line) was given it, and the lines after it (where the
// result is) are repeated on stderr. A reader that leaves after the verdict reached the pipe but
// before it read it (`| head -1`, when the whole summary fits in the pipe at once) cannot be told
// from one that read it: a write only says whether the pipe took the bytes.

export interface WritableText {
  write(text: string, callback: (err?: Error | null) => void): unknown;
}

export class CheckedOutput {
  readonly #stream: WritableText;
  readonly #pending: Promise<void>[] = [];
  #error: Error | undefined;
  /** Set once the verdict is written: later writes' failures do not lose it. */
  #verdictWritten = false;

  constructor(stream: WritableText) {
    this.#stream = stream;
  }

  write(text: string): void {
    const counts = !this.#verdictWritten;
    this.#pending.push(
      new Promise<void>((resolve) => {
        this.#stream.write(text, (err) => {
          if (err && counts) this.#error ??= err;
          resolve();
        });
      }),
    );
  }

  /** Says the verdict's line has been written: a later write that fails no longer loses it. */
  verdictWritten(): void {
    this.#verdictWritten = true;
  }

  /** The first failure of a write up to the verdict known now; writes still under way may yet fail. */
  get lost(): Error | undefined {
    return this.#error;
  }

  /** Waits for every write so far to end; the first failure up to the verdict, if one failed. */
  async settled(): Promise<Error | undefined> {
    await Promise.all(this.#pending);
    return this.#error;
  }
}
