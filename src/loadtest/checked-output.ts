// stdout for the steps table and the verdict, remembering whether they reached it. A reader that
// went away (`| head -3` once it had its lines, `| true`) makes a write fail with EPIPE, which
// Node reports after the write returns; the exit code must then not say "pass" for a verdict
// nobody was given.

export interface WritableText {
  write(text: string, callback: (err?: Error | null) => void): unknown;
}

export class CheckedOutput {
  readonly #stream: WritableText;
  readonly #pending: Promise<void>[] = [];
  #error: Error | undefined;

  constructor(stream: WritableText) {
    this.#stream = stream;
  }

  write(text: string): void {
    this.#pending.push(
      new Promise<void>((resolve) => {
        this.#stream.write(text, (err) => {
          if (err) this.#error ??= err;
          resolve();
        });
      }),
    );
  }

  /** The first failure known now; writes still under way may yet fail. */
  get lost(): Error | undefined {
    return this.#error;
  }

  /** Waits for every write so far to end; the first failure, if one failed. */
  async settled(): Promise<Error | undefined> {
    await Promise.all(this.#pending);
    return this.#error;
  }
}
