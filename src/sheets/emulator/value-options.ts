// The query and body options of the emulated values calls, checked as Google checks them: an
// unknown enum value or a malformed boolean is a 400 INVALID_ARGUMENT naming the field
// ("Invalid value at 'value_render_option' ..."), a missing valueInputOption on a write is
// "'valueInputOption' is required but not specified".
// https://developers.google.com/sheets/api/reference/rest/v4/spreadsheets.values/get (and /append)

import type { InsertDataOption, MajorDimension } from '../google/wire.js';
import { ApiError } from './api-error.js';

function majorDimension(q: URLSearchParams): MajorDimension {
  const v = q.get('majorDimension') ?? 'ROWS';
  if (v === 'ROWS' || v === 'COLUMNS' || v === 'DIMENSION_UNSPECIFIED') return v === 'COLUMNS' ? 'COLUMNS' : 'ROWS';
  throw new ApiError(400, `Invalid value at 'major_dimension' (type.googleapis.com/google.apps.sheets.v4.Dimension), "${v}"`);
}

export function valueInputOption(raw: unknown): boolean {
  if (raw === null || raw === undefined || raw === '') throw new ApiError(400, "'valueInputOption' is required but not specified");
  if (raw === 'RAW') return false;
  if (raw === 'USER_ENTERED') return true;
  throw new ApiError(400, `Invalid value at 'value_input_option' (type.googleapis.com/google.apps.sheets.v4.ValueInputOption), "${String(raw)}"`);
}

/** How Google names a field in its "Invalid value at" messages: includeValuesInResponse → include_values_in_response. */
function protoName(field: string): string {
  return field.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
}

/**
 * valueRenderOption and responseValueRenderOption. FORMATTED_VALUE, the default, is what the
 * emulator renders; it keeps cells as text, so it cannot tell a number from the string of its
 * digits, and says so rather than answer UNFORMATTED_VALUE or FORMULA with strings Google would
 * send as numbers.
 */
function valueRenderOption(raw: unknown, field: string): void {
  if (raw === null || raw === undefined || raw === 'FORMATTED_VALUE') return;
  if (raw === 'UNFORMATTED_VALUE' || raw === 'FORMULA') {
    throw new ApiError(400, `${field}=${raw} is not emulated: the emulator keeps cells as text and renders FORMATTED_VALUE (the default) only`);
  }
  throw new ApiError(400, `Invalid value at '${protoName(field)}' (type.googleapis.com/google.apps.sheets.v4.ValueRenderOption), "${String(raw)}"`);
}

/** dateTimeRenderOption and responseDateTimeRenderOption: checked, and ignored under FORMATTED_VALUE as Google ignores them. */
function dateTimeRenderOption(raw: unknown, field: string): void {
  if (raw === null || raw === undefined || raw === 'SERIAL_NUMBER' || raw === 'FORMATTED_STRING') return;
  throw new ApiError(400, `Invalid value at '${protoName(field)}' (type.googleapis.com/google.apps.sheets.v4.DateTimeRenderOption), "${String(raw)}"`);
}

/** includeValuesInResponse, from the query (a string) or a JSON body (a boolean); false when absent. */
function includeValues(raw: unknown): boolean {
  if (raw === null || raw === undefined || raw === false || raw === 'false') return false;
  if (raw === true || raw === 'true') return true;
  throw new ApiError(400, `Invalid value at 'include_values_in_response' (TYPE_BOOL), ${JSON.stringify(raw)}`);
}

/** The query's read options, checked: majorDimension, valueRenderOption, dateTimeRenderOption. */
export function readOptions(q: URLSearchParams): MajorDimension {
  valueRenderOption(q.get('valueRenderOption'), 'valueRenderOption');
  dateTimeRenderOption(q.get('dateTimeRenderOption'), 'dateTimeRenderOption');
  return majorDimension(q);
}

/** A write's response options (query or body): whether to send the written cells back. */
export function responseOptions(includeRaw: unknown, valueRender: unknown, dateTimeRender: unknown): boolean {
  valueRenderOption(valueRender, 'responseValueRenderOption');
  dateTimeRenderOption(dateTimeRender, 'responseDateTimeRenderOption');
  return includeValues(includeRaw);
}

export function insertDataOption(raw: string | null): InsertDataOption {
  if (raw === null || raw === 'OVERWRITE') return 'OVERWRITE';
  if (raw === 'INSERT_ROWS') return 'INSERT_ROWS';
  throw new ApiError(400, `Invalid value at 'insert_data_option' (type.googleapis.com/google.apps.sheets.v4.InsertDataOption), "${raw}"`);
}
