// SHEET_ID is the id alone, and operators paste the sheet's whole URL
// (https://docs.google.com/spreadsheets/d/<id>/edit). Taken as written, it passed `corral config`
// and start, and the keeper then asked Google for a spreadsheet named by the URL: 404, at every
// call, behind a master that said ready. An id never holds a `/` or a space, so such a value is
// refused, with the id to write when the URL holds one.

import type { ParseResult, SettingSpec } from './spec.js';

/** The id in a Google Sheets URL (…/spreadsheets/d/<id>/…). */
const ID_IN_URL = /\/spreadsheets\/d\/([A-Za-z0-9_-]+)/;

export function parseSheetId(raw: string): ParseResult<string | undefined> {
  const t = raw.trim();
  // Empty is unset (the offline sheet), as for the other settings off by default.
  if (t === '') return { ok: true, value: undefined };
  if (!/[/\s]/.test(t)) return { ok: true, value: t };
  const id = ID_IN_URL.exec(t)?.[1];
  return {
    ok: false,
    allowed: id
      ? `the spreadsheet's id alone, not its URL: write SHEET_ID=${id}`
      : "the spreadsheet's id alone (the long id between /d/ and /edit in the sheet's URL), without / or spaces",
  };
}

export function sheetId(o: { description: string }): SettingSpec<string | undefined> {
  return { ...o, default: undefined, type: 'string', parse: parseSheetId, format: (v) => v ?? '' };
}
