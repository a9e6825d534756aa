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
   * again at once in halves, and each refused part in halves again, down to the entries at fault,
   * every one of them: with one bad row in each half, stopping where both halves were refused left
   * every row of the batch, and those journaled after it, out of the sheet for good.
   *
   * Both halves refused with nothing sent yet may also be the request's fault rather than a row's
   * (a 400 that names no row, for a range Google will not take): one entry of each half is then
   * sent alone, and if neither goes through, the entries wait for their retry like any failure,
   * five calls spent rather than a part of the batch per call. The entry sent is the half's least
   * tried: the first of a fresh batch, but not again one refused as such a probe before. Always the
   * first, a batch whose first entry and first of its second half were both bad rows (a refused
   * row stays first, the oldest) probed the same two at every retry, and the good rows with them
   * waited until another row was journaled for that range, for good if none was. A 400 no row can cause (an
   * unparsable range, the spreadsheet at its cell limit, a file that is no Google Sheet) is not
   * isolated at all (append-refusal.ts).
   */
  async send(range: string, batch: JournalEntry[], send: (entries: JournalEntry[]) => Promise<SendOutcome>): Promise<number | 'quota' | 'failed'> {
    const first = await send(batch);
    if (first !== 'invalid') return first;
    let sent = 0;
    let anySent = false;
    // Refused parts still to split, the earliest entries first (they go out in journal order as
    // far as the halving allows). Without the entries the header held: they were not in the
    // refused request.
    const refused: JournalEntry[][] = [batch.filter((e) => !this.o.isHeld(e.id))];
    const alone: JournalEntry[] = [];
    // Entries sent alone to learn whether the range takes rows at all (rowsGoThrough).
    const sentAlone = new Set<JournalEntry>();
    const sendPart = async (part: JournalEntry[]): Promise<'sent' | 'invalid' | 'stop'> => {
      const r = await send(part);
      if (typeof r === 'number') {
        sent += r;
        anySent = true;
        return 'sent';
      }
      return r === 'invalid' ? 'invalid' : 'stop';
    };
    split: while (refused.length > 0 && !this.o.signal.aborted) {
      const part = refused.shift()!;
      if (part.length === 1) {
        alone.push(part[0]!);
        continue;
      }
      const half = Math.ceil(part.length / 2);
      const halves = [part.slice(0, half), part.slice(half)];
      const still: JournalEntry[][] = [];
      for (const h of halves) {
        const r = await sendPart(h);
        if (r === 'stop') break split;
        if (r === 'invalid') still.push(h);
      }
      if (still.length === 2 && !anySent && !(await this.rowsGoThrough(still, sendPart, sentAlone))) break;
      refused.unshift(...still.map((h) => h.filter((e) => !sentAlone.has(e))).filter((h) => h.length > 0));
    }
    // Isolated: each tried again on its backoff, with the rows journaled meanwhile, at most a line a minute.
    if (batch.length > 1 && anySent) for (const entry of alone) this.refusedAlone(range, entry);
    return sent > 0 ? sent : 'failed';
  }

  /**
   * Both halves refused, nothing sent: whether the range takes rows at all, asked by sending the
   * least tried entry of each half alone (send() says why). One that goes through says the
   * refusals are rows'; those sent are added to `sentAlone`, to be left out of the parts split next.
   */
  private async rowsGoThrough(halves: readonly JournalEntry[][], sendPart: (part: JournalEntry[]) => Promise<'sent' | 'invalid' | 'stop'>, sentAlone: Set<JournalEntry>): Promise<boolean> {
    let through = false;
    // A half of one entry was just sent alone, and refused.
    for (const h of halves.filter((h) => h.length > 1)) {
      // Each send counts an attempt: a probe refused is not the least tried of its half next time.
      const probe = h.reduce((least, e) => (e.attempts < least.attempts ? e : least));
      const r = await sendPart([probe]);
      if (r === 'stop') return false;
      if (r === 'sent') {
        sentAlone.add(probe);
        through = true;
      }
    }
    return through;
  }

  private refusedAlone(range: string, entry: JournalEntry): void {
    this.isolatedRefusals.failed(entry.id, (refusals) =>
      this.o.logger.error(
        { event: 'sheets.append_refused_alone', code: 'CORRAL_ERR_SHEETS_BAD_RANGE', range, entry: entry.id, rowIds: entry.rows.map((r) => r[0]), refusals },
        'sheets: Google refuses this journaled append on its own; the rows journaled with it were sent without it, and it stays in the journal',
      ),
    );
  }
}
