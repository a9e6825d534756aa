// The five Sheets API v4 values calls the client makes (client.ts), each as a CallSpec: its
// method, path and query, its body, the ranges its errors name, whether it writes, whether Google
// may be sent it again, and how its answer is read (values-answers.ts). A file of its own:
// client.ts makes every call the same way (the credential, the quota hooks, Google's backoff, the
// HTTP request, the retry line) and needs none of their particulars.

import { encodeRangeForPath, parseA1 } from '../a1.js';
import type { SheetsError } from '../errors.js';
import type { SheetsOperation } from './error-map.js';
import { BadBody, toUpdate, toValueRange, type StringValueRange } from './values-answers.js';
import type {
  InsertDataOption,
  MajorDimension,
  ValueInputOption,
  WireAppendValuesResponse,
  WireBatchGetResponse,
  WireBatchUpdateValuesResponse,
  WireUpdateValuesResponse,
} from './wire.js';

export interface CallSpec<T> {
  readonly operation: SheetsOperation;
  readonly method: 'GET' | 'POST' | 'PUT';
  /** Path after `/v4/spreadsheets/{id}`. */
  readonly suffix: string;
  readonly query: readonly [string, string][];
  readonly body?: unknown;
  readonly ranges: readonly string[];
  readonly write: boolean;
  /** False only for append: a resend of an applied request would duplicate rows. */
  readonly idempotent: boolean;
  readonly parse: (json: unknown) => T;
  /** Told of each failed attempt that will be retried after the backoff (SheetsBackend's RetryListener). */
  readonly onRetry?: ((err: SheetsError) => void) | undefined;
}

/**
 * A range as sent to Google: a whole tab written bare (`Players`) quoted (`'Players'`), anything
 * else as written. Google reads a bare name as the named range of that name when the spreadsheet
 * has one, before the tab ("if there is a named range titled 'Sheet1', then Sheet1 refers to the
 * named range and 'Sheet1' refers to the sheet", the Sheets API's A1 notation): a named range
 * `Players` over the roster's first rows answered those rows alone for the whole tab. Quoted, the
 * name is the tab's. Errors still name the range as configured (CallSpec.ranges).
 */
export function wireRange(range: string): string {
  if (range.startsWith("'")) return range;
  let sheet: string | undefined;
  try {
    const parsed = parseA1(range);
    if (parsed.area !== undefined) return range;
    sheet = parsed.sheet;
  } catch {
    return range; // Google refuses it, naming it as written
  }
  return sheet === undefined ? range : `'${sheet.replaceAll("'", "''")}'`;
}

/** spreadsheets.values.get (SheetsApiClient.getValues). */
export function getValuesCall(range: string, majorDimension: MajorDimension, onRetry: ((err: SheetsError) => void) | undefined): CallSpec<StringValueRange> {
  return {
    operation: 'values.get',
    method: 'GET',
    suffix: `/values/${encodeRangeForPath(wireRange(range))}`,
    query: [['majorDimension', majorDimension]],
    ranges: [range],
    write: false,
    idempotent: true,
    parse: toValueRange,
    onRetry,
  };
}

/** spreadsheets.values.batchGet (SheetsApiClient.batchGetValues): one `ranges=` parameter per range. */
export function batchGetValuesCall(ranges: readonly string[], majorDimension: MajorDimension): CallSpec<StringValueRange[]> {
  return {
    operation: 'values.batchGet',
    method: 'GET',
    suffix: '/values:batchGet',
    query: [...ranges.map((r): [string, string] => ['ranges', wireRange(r)]), ['majorDimension', majorDimension]],
    ranges,
    write: false,
    idempotent: true,
    parse: (json) => {
      const o = json as Partial<WireBatchGetResponse> | null;
      if (typeof o !== 'object' || o === null) throw new BadBody('not an object');
      const list = o.valueRanges ?? [];
      if (!Array.isArray(list) || list.length !== ranges.length) throw new BadBody(`expected ${ranges.length} valueRanges`);
      return list.map(toValueRange);
    },
  };
}

/** spreadsheets.values.append (SheetsApiClient.appendValues): never resent once Google may have applied it. */
export function appendValuesCall(
  spreadsheetId: string,
  range: string,
  rows: readonly (readonly string[])[],
  options: { valueInputOption?: ValueInputOption; insertDataOption?: InsertDataOption },
): CallSpec<WireAppendValuesResponse> {
  return {
    operation: 'values.append',
    method: 'POST',
    suffix: `/values/${encodeRangeForPath(wireRange(range))}:append`,
    query: [
      ['valueInputOption', options.valueInputOption ?? 'RAW'],
      ['insertDataOption', options.insertDataOption ?? 'INSERT_ROWS'],
      ['includeValuesInResponse', 'false'],
    ],
    body: { range: wireRange(range), majorDimension: 'ROWS', values: rows },
    ranges: [range],
    write: true,
    idempotent: false,
    parse: (json) => {
      const o = json as Partial<WireAppendValuesResponse> | null;
      if (typeof o !== 'object' || o === null) throw new BadBody('not an object');
      const updates = toUpdate(o.updates);
      return { spreadsheetId: String(o.spreadsheetId ?? spreadsheetId), ...(typeof o.tableRange === 'string' ? { tableRange: o.tableRange } : {}), updates };
    },
  };
}

/** spreadsheets.values.update (SheetsApiClient.updateValues): idempotent, so retried like a read. */
export function updateValuesCall(range: string, rows: readonly (readonly string[])[], options: { valueInputOption?: ValueInputOption }): CallSpec<WireUpdateValuesResponse> {
  return {
    operation: 'values.update',
    method: 'PUT',
    suffix: `/values/${encodeRangeForPath(wireRange(range))}`,
    query: [['valueInputOption', options.valueInputOption ?? 'RAW']],
    body: { range: wireRange(range), majorDimension: 'ROWS', values: rows },
    ranges: [range],
    write: true,
    idempotent: true,
    parse: toUpdate,
  };
}

/** spreadsheets.values.batchUpdate (SheetsApiClient.batchUpdateValues): several ranges written in one request. */
export function batchUpdateValuesCall(
  data: readonly { readonly range: string; readonly values: readonly (readonly string[])[] }[],
  options: { valueInputOption?: ValueInputOption },
): CallSpec<WireBatchUpdateValuesResponse> {
  return {
    operation: 'values.batchUpdate',
    method: 'POST',
    suffix: '/values:batchUpdate',
    query: [],
    body: {
      valueInputOption: options.valueInputOption ?? 'RAW',
      includeValuesInResponse: false,
      data: data.map((d) => ({ range: wireRange(d.range), majorDimension: 'ROWS', values: d.values })),
    },
    ranges: data.map((d) => d.range),
    write: true,
    idempotent: true,
    parse: (json) => {
      const o = json as Partial<WireBatchUpdateValuesResponse> | null;
      if (typeof o !== 'object' || o === null || typeof o.spreadsheetId !== 'string') throw new BadBody('no "spreadsheetId"');
      return o as WireBatchUpdateValuesResponse;
    },
  };
}
