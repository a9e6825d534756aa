// The stream a logger writes through when its destination may change under it: a worker or keeper
// that could not open CORRAL_LOG_FILE at its start logs to its stdout, and moves to the file once a
// reopen (USR1) can open it (child-logger.ts). Every module holds that process's pino logger (and
// the children made from it), fixed on one stream at its creation: the stream stays, and what it
// writes to changes. Only such a logger has one; the others write to their destination directly.

/** What a switch stream writes to: a pino destination, or the relay sink over one. */
export interface SwitchTarget {
  write(text: string): unknown;
  flushSync?(): void;
}

export interface SwitchStream {
  write(text: string): unknown;
  /** pino's fatal() calls it, and flushes what the destination holds: forwarded. */
  flushSync(): void;
  /** Where the lines go from now on; those written before stay with the destination they went to. */
  switchTo(target: SwitchTarget): void;
}

export function switchStream(initial: SwitchTarget): SwitchStream {
  let target = initial;
  return {
    write: (text) => target.write(text),
    flushSync: () => target.flushSync?.(),
    switchTo: (next) => void (target = next),
  };
}
