// A read as the keeper answers it (keeper.ts): the read tier's copy of the range fetched (a
// range in backoff refused with when it is tried again), this host's journaled rows merged in,
// the copy named (copy-identity.ts) and the answer made once per copy (answer-memo.ts), then sent
// as JSON pieces, or as "unchanged" to a worker that holds that very copy. A file of its own: the
// keeper composes the tier, the journal and the server; what an answer holds, and how its bytes
// are made without copying a big tab per read, is this.

import { CorralError, RetryLaterError } from '../../errors.js';
import type { SheetsBackend } from '../backend.js';
import { AnswerMemo, answerPieces } from './answer-memo.js';
import type { Clock } from './clock.js';
import { CopyIdentities } from './copy-identity.js';
import type { Journal } from './journal.js';
import { sheetOfRange } from './journal-rows.js';
import { fetchRangeFor, mergePending, readKeyOf, showsJournaledRows } from './merge.js';
import type { WireRead, WireUnchanged } from './protocol.js';
import type { ReadTier, TierRead } from './read-tier.js';

const CLOSING_BRACE = Buffer.from('}');

export interface KeeperRead extends WireRead {
  readonly via: TierRead['via'];
}

/** What an answer is made from. */
export interface ReadAnswerParts {
  readonly tier: ReadTier;
  readonly journal: Journal;
  readonly backend: SheetsBackend;
  readonly clock: Clock;
  /** The change feed's epoch: part of every copy's name. */
  readonly epoch: string;
}

export class ReadAnswers {
  /** Reads as answered, made once per copy (answer-memo.ts). */
  private readonly answers = new AnswerMemo();
  /** What names each copy answered, for the workers' refreshes of a copy they hold (copy-identity.ts). */
  private readonly copies: CopyIdentities;
  /** Reads answered "unchanged": the worker held the copy, and no rows were sent (its figure). */
  private unchanged = 0;

  constructor(private readonly p: ReadAnswerParts) {
    this.copies = new CopyIdentities(p.epoch, p.tier.copyNumbers);
  }

  /** Reads answered "unchanged" (the keeper's figure unchangedAnswers). */
  get unchangedAnswers(): number {
    return this.unchanged;
  }

  /**
   * The read, and the JSON of its values as pieces of bytes (made only when asked: an answer
   * "unchanged" sends none).
   */
  async resolve(range: string): Promise<{ read: KeeperRead & { readonly copy: string }; valuesJson: () => readonly Buffer[] }> {
    // A read right of column A is fetched from column A, for the merge to see the rows' ids.
    const fetched = fetchRangeFor(range);
    let r: TierRead;
    try {
      r = await this.p.tier.get(fetched);
    } catch (err) {
      // A range in backoff says when it is tried again: the app's 503 tells the client so.
      const retryIn = this.p.tier.retryIn(fetched);
      if (retryIn === undefined || !(err instanceof CorralError)) throw err;
      // The longer of the two: a full quota queue's wait for its next token outlasts the range's backoff.
      throw new RetryLaterError(err.code, err.message, Math.max(retryIn, err instanceof RetryLaterError ? err.retryAfterMs : 0), { cause: err });
    }
    const v = r.value;
    // The journaled rows the answer may show, none for a read that cannot show them: each worker
    // reads the header row again after each append, and with a backlog of 50k rows (a Google
    // outage) listing and naming them cost 45 ms of this loop per read, a cliff for every POST.
    const pending = showsJournaledRows(range, v.values) ? this.p.journal.rowsFor(sheetOfRange(range), v.fetchStartedAt) : [];
    // Named before anything is merged: a worker's refresh of the copy it holds, and every other
    // worker's read of a copy already answered, cost no merge (answer-memo.ts).
    const copy = this.copies.of(v.jsonBytes, pending);
    const key = readKeyOf(range);
    const answer = this.answers.get(v.jsonBytes, key, copy) ?? this.answers.keep(v.jsonBytes, key, copy, mergePending(range, v.values, pending));
    const read = {
      range,
      values: answer.values,
      fetchedAt: v.fetchedAt,
      expiresAt: v.expiresAt,
      stale: r.stale,
      staleSeconds: r.staleSeconds,
      pendingRows: answer.added,
      backend: this.p.backend.kind,
      now: this.p.clock.now(),
      copy,
      via: r.via,
    };
    const valuesJson = (): readonly Buffer[] => (answer.pieces ??= answerPieces(answer, v.values, v.jsonBytes));
    return { read, valuesJson };
  }

  /**
   * The same read as the JSON bytes the socket sends, in pieces written one after the other.
   * Serialising a big tab on every read would cost the keeper's single loop what the cache saves,
   * so the values' JSON is made once per copy (answer-memo.ts), and with nothing pending (the
   * common case) it is the read tier's, sent as is: the same bytes for every worker, never
   * copied. A string built per answer
   * was copied twice on its way to the socket (flattened, then encoded): several workers asking
   * for a tab of 300k rows at once held a copy each, hundreds of MB of the keeper's peak.
   */
  async answer(range: string, have?: string): Promise<readonly Buffer[]> {
    const { read, valuesJson } = await this.resolve(range);
    const { values: _values, ...rest } = read;
    // The worker holds these very rows (`have`, copy-identity.ts): only the new times go back,
    // and it keeps its rows and everything it built from them.
    if (have !== undefined && have === read.copy) {
      this.unchanged++;
      return [Buffer.from(JSON.stringify({ ...rest, unchanged: true } satisfies WireUnchanged))];
    }
    const pieces = valuesJson();
    const head = JSON.stringify(rest);
    return [Buffer.from(`${head.slice(0, -1)},"values":`), ...pieces, CLOSING_BRACE];
  }
}
