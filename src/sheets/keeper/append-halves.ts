// A batch Google refused as invalid, sent again at once in halves down to the entry at fault, for
// the flusher (flusher.ts). A file of its own: the halving only needs a way to send a part of the
// batch (the flusher's send, which says each refusal itself) and which entries the header held;
// whether a refusal may be a row's at all is append-refusal.ts's.

import type { Logger } from '../../log/logger.js';
import { RepeatedFailures } from '../../log/repeated-failure.js';
import type { JournalEntry } from './journal.js';

/** What one send of entries came to: rows sent, no quota token, failed, or refused as invalid (worth halving). */
export type SendOutcome = number | 'quota' | 'failed' | 'invalid';

export interface AppendHalvesOptions {
  readonly logger: Logger;
  readonly now: () => number;
  /** Entries the tab's header held out of the refused request (header-holds.ts). */
  readonly isHeld: (entryId: string) => boolean;
  /** The flusher's close: no half is sent after it. */
  readonly signal: AbortSignal;
}

export class AppendHalves {
  private readonly isolatedRefusals: RepeatedFailures;

  constructor(private readonly o: AppendHalvesOptions) {
    this.isolatedRefusals = new RepeatedFailures(o.now);
  }

  /**
   * Sends a batch. Google refuses a whole append as invalid (400) for one row it will not take,
   * and a refused batch comes due again with whatever was journaled meanwhile: one such row would
   * hold back every row batched with it, for good. So a refused batch of several entries is sent
   * again at once in halves, down to the entry at fault, for as long as one half goes through;
   * when both halves are refused too, the fault is the request's (a range Google cannot parse),
   * not a row's, and the entries wait for their retry like any failure. A 400 no row can cause
   * (the spreadsheet at its cell limit, a file that is no Google Sheet) is not isolated at all
   * (append-refusal.ts).
   */
  async send(range: string, batch: JournalEntry[], send: (entries: JournalEntry[]) => Promise<SendOutcome>): Promise<number | 'quota' | 'failed'> {
    const first = await send(batch);
    if (first !== 'invalid') return first;
    // Halved without the entries the header held: they were not in the refused request.
    let refused = batch.filter((e) => !this.o.isHeld(e.id));
    let sent = 0;
    while (refused.length > 1 && !this.o.signal.aborted) {
      const half = Math.ceil(refused.length / 2);
      const halves = [refused.slice(0, half), refused.slice(half)];
      const results: SendOutcome[] = [];
      for (const part of halves) results.push(await send(part));
      for (const r of results) if (typeof r === 'number') sent += r;
      const invalid = halves.filter((_, i) => results[i] === 'invalid');
      if (invalid.length !== 1 || results.some((r) => r === 'quota' || r === 'failed')) break;
      refused = invalid[0]!;
    }
    if (batch.length > 1 && refused.length === 1) {
      const entry = refused[0]!;
      // Tried again on its backoff, with the rows journaled meanwhile: at most a line a minute.
      this.isolatedRefusals.failed(entry.id, (refusals) =>
        this.o.logger.error(
          { event: 'sheets.append_refused_alone', code: 'CORRAL_ERR_SHEETS_BAD_RANGE', range, entry: entry.id, rowIds: entry.rows.map((r) => r[0]), refusals },
          'sheets: Google refuses this journaled append on its own; the rows journaled with it were sent without it, and it stays in the journal',
        ),
      );
    }
    return sent > 0 ? sent : 'failed';
  }
}
