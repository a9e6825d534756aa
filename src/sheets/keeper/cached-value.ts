// A range's value as the keeper's read tier holds it: the rows, their JSON made once, and when
// the fetch that got them began and ended. Made the same way from Google's answer and from
// another host's copy (shared-copy.ts).

import { copyBytes } from '../copy-size.js';

export interface CachedValue {
  readonly range: string;
  readonly values: readonly (readonly string[])[];
  /**
   * `values` as UTF-8 JSON, made once per fetch: the keeper writes these very bytes into every
   * answer, so an answer costs no copy of a large tab (a string would be copied into each write).
   */
  readonly jsonBytes: Buffer;
  readonly fetchStartedAt: number;
  readonly fetchedAt: number;
  readonly expiresAt: number;
}

/** The value of `rows`, fetched from `fetchStartedAt` to `fetchedAt`, fresh for `ttlMs` after it. */
export function cachedValue(range: string, rows: readonly (readonly unknown[])[], fetchStartedAt: number, fetchedAt: number, ttlMs: number): CachedValue {
  const values = stringRows(rows);
  return { range, values, jsonBytes: Buffer.from(JSON.stringify(values)), fetchStartedAt, fetchedAt, expiresAt: fetchedAt + ttlMs };
}

/**
 * The bytes a cached value holds: its JSON, and its parsed rows as the heap holds them
 * (copy-size.ts: 1.1 to 3.7 times the JSON, measured; short cells weigh the most). Counted as
 * "about as much again" as the JSON, the host cache held up to twice its budget (4 x
 * CORRAL_L1_CACHE_MB) of tabs of short cells.
 */
export function sizeOf(value: CachedValue | undefined): number {
  if (!value) return 1;
  return Math.max(1, value.jsonBytes.length + copyBytes(value.values) + value.range.length);
}

/**
 * The rows with every cell a string. The backend's own arrays are kept when they are (Google's
 * formatted values always are): a copy of a large tab would be held next to the original.
 */
function stringRows(rows: readonly (readonly unknown[])[]): readonly (readonly string[])[] {
  const text = (c: unknown) => (typeof c === 'string' ? c : String(c ?? ''));
  let out: (readonly string[])[] | undefined;
  for (let i = 0; i < rows.length; i++) {
    const row = rows[i] ?? [];
    const strings = row.every((c) => typeof c === 'string');
    if (strings && !out) continue;
    out ??= rows.slice(0, i) as (readonly string[])[];
    out.push(strings ? (row as readonly string[]) : row.map(text));
  }
  return out ?? (rows as readonly (readonly string[])[]);
}
