// Reads as the keeper answers them, made once per copy (copy-identity.ts) rather than once per
// read. Every worker re-reads a tab after each append (the change feed), and each refreshes it
// at every SHEET_CACHE_TTL: with a journaled row to merge, each of those reads merged it into the
// whole tab again (a set of all the tab's row ids, a copy of its rows) and serialised what a cut
// of columns left, even to answer "unchanged" (measured at 300k rows: 120 ms of the keeper's loop
// per read, 80 ms for an "unchanged" one; a reload's or an append's wave of N workers, N times).
// A copy's name says which rows an answer holds (the tier's value bytes, the journaled rows merged
// in), so an answer found under its name is that answer.
//
// Kept by the tier's value bytes, which a refresh that found them unchanged keeps and a fetch of
// others replaces (read-tier.ts): a copy of bytes no longer held goes with them. Under them, one
// answer per read (merge.ts readKeyOf: one key for every spelling of it), the last named: another
// append names another copy, which replaces it. At most MAX_READS_PER_COPY reads per value bytes,
// the least recently made dropped first (made again if asked: a merge, no upstream call).
// Unbounded and keyed by the range as asked, each spelling of one cut of a tab that does not
// change (`Players!B1:C`, `Players!B01:C`, `Players!B001:C`, ..., an export's sheet= up to 200
// characters) held a copy of the tab's rows of its own for as long as the tab stayed as it was,
// outside the cache budget: 1.4 MB more of the keeper's heap per spelling for a roster of 20k rows.

import type { Merged } from './merge.js';

export interface MemoAnswer extends Merged {
  /** The name of the copy these rows are (copy-identity.ts). */
  readonly copy: string;
  /**
   * The JSON of `values` as pieces of bytes sent one after the other: the tier's JSON reused
   * where the rows are its rows (with journaled ones below them), made when first asked and then
   * kept (an answer "unchanged" sends none).
   */
  pieces?: readonly Buffer[];
}

/** Reads whose answers are kept per value bytes (a tab's few cuts an app reads fit well within it). */
export const MAX_READS_PER_COPY = 16;

export class AnswerMemo {
  private readonly byBytes = new WeakMap<Buffer, Map<string, MemoAnswer>>();

  /** The answer to the read `key` (readKeyOf) that is the copy `copy` of the value bytes `base`, if made. */
  get(base: Buffer, key: string, copy: string): MemoAnswer | undefined {
    const answer = this.byBytes.get(base)?.get(key);
    return answer?.copy === copy ? answer : undefined;
  }

  /** Keeps `merged` as the answer to the read `key` named `copy`, made of `base` (the last one named). */
  keep(base: Buffer, key: string, copy: string, merged: Merged): MemoAnswer {
    let byKey = this.byBytes.get(base);
    if (!byKey) this.byBytes.set(base, (byKey = new Map()));
    const answer: MemoAnswer = { ...merged, copy };
    // Last in the map's order: the first is the one made longest ago, dropped past the bound.
    byKey.delete(key);
    byKey.set(key, answer);
    if (byKey.size > MAX_READS_PER_COPY) byKey.delete(byKey.keys().next().value as string);
    return answer;
  }

  /** How many answers are kept for the value bytes `base` (tests). */
  heldFor(base: Buffer): number {
    return this.byBytes.get(base)?.size ?? 0;
  }
}

/**
 * The JSON of an answer's rows as pieces: `baseJson` (the JSON of `fetched`, the tier's value
 * the rows were merged into) as is when they are those rows, or followed by the journaled ones
 * when those are only added below them; otherwise the rows serialised.
 */
export function answerPieces(answer: Merged, fetched: Merged['values'], baseJson: Buffer): readonly Buffer[] {
  if (answer.values === fetched) return [baseJson];
  const below = answer.below;
  if (below === undefined) return [Buffer.from(JSON.stringify(answer.values))];
  if (below.length === 0) return [baseJson];
  // The tier's JSON without its closing bracket, then only the new rows: a tab of 300k rows is
  // not serialised again for the few rows journaled below it.
  const tail = JSON.stringify(below);
  if (fetched.length === 0) return [Buffer.from(tail)];
  return [baseJson.subarray(0, baseJson.length - 1), Buffer.from(`,${tail.slice(1)}`)];
}
