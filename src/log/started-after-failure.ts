// Whether a call that succeeded may end a failure: only one that began after the failure was seen.
// Calls already on their way when it came (appends that passed the journal's cap check just before
// the first refusal, or were written just before the disk filled) finish after it and say nothing
// of now: taken as its end, they logged "appends are journaled again" a few milliseconds after the
// first refusal, with the journal still full, and the refusals after it went unsaid for a minute.

export class StartedAfterFailure<Kind extends string> {
  private started = 0;
  private readonly failedAt = new Map<Kind, number>();

  /** A call begins: its ticket. */
  begin(): number {
    return ++this.started;
  }

  /** A call failed with `kind`: those begun so far cannot tell that failure is over. */
  failed(kind: Kind): void {
    this.failedAt.set(kind, this.started);
  }

  /** Whether the call of `ticket` began after the last failure of `kind` (or there was none). */
  beganAfter(kind: Kind, ticket: number): boolean {
    return ticket > (this.failedAt.get(kind) ?? 0);
  }
}
