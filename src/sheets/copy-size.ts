// What a worker's copy of a range weighs in its heap: the size its L1 counts against
// CORRAL_L1_CACHE_MB (l1-cache.ts).
//
// It was the values' JSON length (each cell's length + 4, each row + 8), taken for the heap on
// the grounds that V8 strings take 1-2 bytes per character. The parsed copy weighs far more: every
// row is an array and every cell a string object, each with a header, which short cells outweigh.
// Measured on Node 20 (x64), heapUsed after a full collection (`node --expose-gc`) with and
// without the rows of a JSON.parse'd keeper answer held, against this estimate:
//
//   rows × cells, cells like            JSON     heap     heap/JSON  old count  this estimate
//   300k × 5, the export bench's Events   26.6 MB  64.7 MB  2.4        29.9 MB    79.1 MB
//   50k × 5, the same                     4.4 MB   10.8 MB  2.5        4.9 MB     13.1 MB
//   50k × 10, ~22 characters              12.5 MB  26.8 MB  2.1        13.3 MB    26.8 MB
//   50k × 5, one or two digits            1.3 MB   4.9 MB   3.7        1.9 MB     10.8 MB
//   20k × 5, ~225 characters              22.7 MB  25.9 MB  1.1        22.9 MB    25.9 MB
//   20k × 5, ~15 characters, not Latin-1  1.9 MB   6.6 MB   3.5        2.1 MB     6.7 MB
//
// The estimate is V8's layout on 64-bit Node (no pointer compression): a row is a JSArray (32
// bytes) and its elements (16 + 8 per cell); a cell a sequential string (16 bytes of header, its
// characters rounded up to 8 bytes, one byte each when all are Latin-1, else two): a row of one
// cell of 6, 10 or 20 distinct characters measured 88, 96 and 104 bytes, as estimated. It counts
// high where V8 shares strings: JSON.parse makes one string of each value of up to 10 characters
// (it internalizes them), so values that repeat (a kind, a player's id, a small number) are held
// once: 2.2 times the heap on the fourth line, 1.2 on the first two. No count of a copy alone can
// see that, and high is the side a budget should err on. What the app builds from a copy
// (records, the login table, the players body) is not counted here at all.

/** A cell's characters take two bytes each in V8 unless every one is Latin-1. */
const WIDE = /[^\u0000-\u00ff]/;

/** Per row: the JSArray and its elements' header. */
const ROW_BYTES = 32 + 16;
/** Per cell: its slot in the row's elements and its string's header. */
const CELL_BYTES = 8 + 16;

/**
 * Rows of a copy kept across a refresh the keeper answered "unchanged" are the same arrays: their
 * size is counted once, not at each TTL (a pass over every cell of a large tab: 31 ms for the
 * 1.5M cells of the table's first line, whose JSON.parse took 447 ms).
 */
const sizes = new WeakMap<readonly (readonly string[])[], number>();

/** Estimated bytes of heap the rows take (the outer array included). */
export function copyBytes(values: readonly (readonly string[])[]): number {
  let n = sizes.get(values);
  if (n !== undefined) return n;
  n = ROW_BYTES + 8 * values.length;
  for (const row of values) {
    n += ROW_BYTES + CELL_BYTES * row.length;
    for (const cell of row) {
      const chars = WIDE.test(cell) ? 2 * cell.length : cell.length;
      n += (chars + 7) & ~7;
    }
  }
  sizes.set(values, n);
  return n;
}
