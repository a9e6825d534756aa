// The journal's write in flight (a group's write and fsync, a rewrite, a check of the file),
// watched while it runs. journal.slow_sync (SLOW_SYNC_MS) is said only once a write returns: on a
// dead network mount or a failing drive a write does not return for minutes, or ever, and nothing
// was said while every append waited behind it (the worker link's 120 s timeout and its one retry
// answered the client 503 after about 240 s, later POSTs piled up behind, and the keeper reported
// its journal writable). Past SYNC_STUCK_MS it is said at once (JournalFile's listener:
// journal.sync_stuck), new appends are refused until it returns (their clients answered 503
// not_saved at once, nothing journaled), and the keeper's figures say so (health `journal:
// sync_stuck`). The appends already in the write wait for it: whether they are durable is known
// only once it returns. A file of its own: the group commit (journal-file.ts) only begins and ends
// the watch around each write it makes.

import { JournalWriteStuckError } from '../../errors.js';
import type { Clock } from './clock.js';

/**
 * A write of the journal in flight this long is stuck (a rewrite, longer: stuckAfterMs). Ten times slow_sync's second: a healthy
 * local disk takes milliseconds, a saturated one or a network filesystem seconds (each said by
 * journal.slow_sync), and ten seconds is past what such disks take while well short of what the
 * appends' clients wait for (nginx's proxy_read_timeout of 60 s, the worker link's 120 s): a
 * client gets 503 not_saved in its time rather than a timeout, and its retry goes to a journal
 * that may take it again by then.
 */
export const SYNC_STUCK_MS = 10_000;

/**
 * A rewrite's (a compaction's) own time on top of SYNC_STUCK_MS: a second per 10 MiB of the file,
 * a pace any disk that is not hung keeps. Judged like a group of appends, a 255 MB rewrite measured
 * at 4 s on a loaded box was at 10 s a "hung disk" on a slower one: appends refused 503 not_saved,
 * health degraded, while the disk only did its work.
 */
export const REWRITE_BYTES_PER_MS = (10 * 1048576) / 1000;

/** How long a write may run before it counts as stuck. */
export function stuckAfterMs(what: JournalWriteKind, bytes: number, stuckMs = SYNC_STUCK_MS): number {
  return what === 'rewrite' ? stuckMs + Math.ceil(bytes / REWRITE_BYTES_PER_MS) : stuckMs;
}

/** What a write of the journal is: a group of appended records, a rewrite of the file, or only the checks before a write. */
export type JournalWriteKind = 'append' | 'rewrite' | 'check';

/** A write that stuck, as told: its kind, the bytes it writes (the file's size before a rewrite), how long so far. */
export interface StuckWrite {
  readonly what: JournalWriteKind;
  readonly bytes: number;
  readonly ms: number;
}

/** Told of a write past SYNC_STUCK_MS, once, and of its return. */
export interface SyncStuckListener {
  stuck(write: StuckWrite): void;
  /** It returned after `ms` (with `err` when it failed); `refused` appends were refused meanwhile. */
  returned(write: StuckWrite, refused: number, err: Error | undefined): void;
}

interface InFlight {
  what: JournalWriteKind;
  bytes: number;
  readonly startedAt: number;
  timer: unknown;
  stuck: boolean;
  refused: number;
}

export class SyncWatch {
  private inFlight: InFlight | undefined;
  private listener: SyncStuckListener | undefined;
  private refusedTotal = 0;

  constructor(
    private readonly clock: Pick<Clock, 'now' | 'setTimeout' | 'clearTimeout'>,
    private readonly stuckMs: number = SYNC_STUCK_MS,
  ) {}

  listen(listener: SyncStuckListener): void {
    this.listener = listener;
  }

  /** A write begins (JournalFile writes one at a time). */
  begin(what: JournalWriteKind, bytes: number): void {
    const w: InFlight = { what, bytes, startedAt: this.clock.now(), timer: undefined, stuck: false, refused: 0 };
    w.timer = this.clock.setTimeout(() => {
      if (this.inFlight !== w) return;
      w.stuck = true;
      this.tell((l) => l.stuck(this.told(w)));
    }, stuckAfterMs(what, bytes, this.stuckMs));
    this.inFlight = w;
  }

  /**
   * The write in flight goes on as a rewrite of `bytes` (a journal deleted or replaced, put back
   * from memory before an append's group: journal-file.ts recoverIfReplaced), judged as one from
   * its start: under the group's SYNC_STUCK_MS, a large journal put back on a slow disk was a "hung
   * disk", appends refused 503, as a compaction of that size was before stuckAfterMs.
   */
  rewriting(bytes: number): void {
    const w = this.inFlight;
    if (!w || w.stuck || w.what === 'rewrite') return;
    w.what = 'rewrite';
    w.bytes = bytes;
    this.clock.clearTimeout(w.timer);
    w.timer = this.clock.setTimeout(() => {
      if (this.inFlight !== w) return;
      w.stuck = true;
      this.tell((l) => l.stuck(this.told(w)));
    }, Math.max(0, w.startedAt + stuckAfterMs('rewrite', bytes, this.stuckMs) - this.clock.now()));
  }

  /** The write returned, with `err` when it failed. */
  end(err?: unknown): void {
    const w = this.inFlight;
    if (!w) return;
    this.inFlight = undefined;
    this.clock.clearTimeout(w.timer);
    if (w.stuck) this.tell((l) => l.returned(this.told(w), w.refused, err === undefined ? undefined : (err as Error)));
  }

  /** How long the write in flight has been, while it is past SYNC_STUCK_MS; undefined otherwise. */
  stuckFor(): number | undefined {
    const w = this.inFlight;
    return w?.stuck ? this.clock.now() - w.startedAt : undefined;
  }

  /**
   * While the write in flight is past SYNC_STUCK_MS: the error a new append to the journal at
   * `path` is refused with at once, counted for the line of the write's return and the figures,
   * rather than queued behind a write that may not return for minutes. Undefined otherwise.
   */
  refusal(path: string): JournalWriteStuckError | undefined {
    const w = this.inFlight;
    if (!w?.stuck) return undefined;
    w.refused++;
    this.refusedTotal++;
    return new JournalWriteStuckError(path, this.clock.now() - w.startedAt);
  }

  /** Appends refused while a write was stuck, since the journal was opened. */
  get refusedSinceOpen(): number {
    return this.refusedTotal;
  }

  private told(w: InFlight): StuckWrite {
    return { what: w.what, bytes: w.bytes, ms: this.clock.now() - w.startedAt };
  }

  /** A listener that throws (a log line that cannot be written) is no failed write. */
  private tell(say: (l: SyncStuckListener) => void): void {
    if (!this.listener) return;
    try {
      say(this.listener);
    } catch {
      // Nothing to do: the write goes on, or has returned, either way.
    }
  }
}
