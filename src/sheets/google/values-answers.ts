// Google's answers to the values calls (values-calls.ts) read into what the client returns, each
// checked against the shape the API documents: an answer that is not is a BadBody, which the
// client (client.ts) reports as the call's error (mapBadBody). A file of its own: how a tab's cells
// are taken in (fixed in place as strings, not copied) matters to the keeper's memory, apart from
// how a call is sent and retried.

import type { MajorDimension, WireUpdateValuesResponse, WireValueRange } from './wire.js';

/** A ValueRange whose cells are all strings. */
export interface StringValueRange {
  readonly range: string;
  readonly majorDimension: MajorDimension;
  readonly values?: string[][];
}

export class BadBody extends Error {}

function cellText(cell: unknown): string {
  if (typeof cell === 'string') return cell;
  if (cell === null || cell === undefined) return '';
  return String(cell);
}

/**
 * The parsed answer as a ValueRange of strings. The rows JSON.parse made are kept and fixed in
 * place (FORMATTED_VALUE cells are strings already): a copy of a tab of 300k rows would be 300k
 * new arrays held next to the originals until the next collection.
 */
export function toValueRange(json: unknown): StringValueRange {
  if (typeof json !== 'object' || json === null) throw new BadBody('not an object');
  const o = json as Partial<WireValueRange>;
  if (typeof o.range !== 'string') throw new BadBody('no "range"');
  const majorDimension: MajorDimension = o.majorDimension === 'COLUMNS' ? 'COLUMNS' : 'ROWS';
  if (o.values === undefined) return { range: o.range, majorDimension };
  if (!Array.isArray(o.values) || !o.values.every(Array.isArray)) throw new BadBody('"values" is not an array of arrays');
  for (const row of o.values) {
    for (let i = 0; i < row.length; i++) if (typeof row[i] !== 'string') row[i] = cellText(row[i]);
  }
  return { range: o.range, majorDimension, values: o.values as string[][] };
}

export function toUpdate(json: unknown): WireUpdateValuesResponse {
  const o = json as Partial<WireUpdateValuesResponse> | null;
  if (typeof o !== 'object' || o === null || typeof o.updatedRange !== 'string') throw new BadBody('no "updatedRange"');
  return o as WireUpdateValuesResponse;
}
