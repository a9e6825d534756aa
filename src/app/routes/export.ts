// GET /api/export?sheet=<tab or A1 range> (admin token): the sheet as a streamed CSV.

import type { AppDeps } from '../deps.js';
import { sheetsFailure } from '../deps.js';
import type { CsvPool } from '../export/pool.js';
import { SEND_STALL_MS, streamCsv } from '../export/stream.js';
import { invalidField } from '../http.js';
import { nonUtf8Params } from '../query-utf8.js';
import type { Handler } from '../router.js';
import { quoteSheetName } from '../../sheets/a1.js';

/**
 * The range read for `sheet=`. A value with neither `!` nor `:` names a tab, quoted where A1
 * requires it: a tab named like a cell (Q1, FY2024, T7) is exported whole, where the Sheets API,
 * given it bare, reads that one cell of the first tab. A range (`Events!A:C`, `A1:C10`) and a
 * name already quoted go as written.
 */
export function exportRange(sheet: string): string {
  return sheet.includes('!') || sheet.includes(':') || sheet.startsWith("'") ? sheet : quoteSheetName(sheet);
}

/** `bom=1` starts the CSV with a UTF-8 byte order mark, for Excel (stream.ts); `bom=0` or none: without. */
export function bomParam(values: readonly string[]): boolean {
  if (values.length === 0) return false;
  if (values.length > 1 || (values[0] !== '1' && values[0] !== '0')) {
    throw invalidField('bom', 'bom must be 1 (start the CSV with a UTF-8 byte order mark, for Excel) or 0, given once');
  }
  return values[0] === '1';
}

export function exportRoute(deps: AppDeps, pool: CsvPool): Handler {
  return async ({ req, res, target }) => {
    deps.requireAdmin(req);
    // Bytes that are not UTF-8 read as U+FFFD: the read would spend quota on a tab nobody named,
    // and Google's refusal would name the U+FFFD, not what the client sent.
    const broken = nonUtf8Params(target.url.search, 'sheet');
    if (broken.length > 0) {
      throw invalidField('sheet', `sheet=${broken[0]!.slice(0, 60)} is not UTF-8 once percent-decoded; percent-encode the UTF-8 bytes of the tab's name (Jöueurs: J%C3%B6ueurs)`);
    }
    const sheets = target.url.searchParams.getAll('sheet');
    if (sheets.length !== 1 || (sheets[0] ?? '').trim() === '') throw invalidField('sheet', 'give exactly one sheet=<tab name or A1 range>');
    const sheet = (sheets[0] ?? '').trim();
    if (sheet.length > 200 || /[\u0000-\u001f\u007f]/.test(sheet)) throw invalidField('sheet', 'sheet must be a tab name or A1 range of at most 200 characters');
    const bom = bomParam(target.url.searchParams.getAll('bom'));
    let values: readonly (readonly string[])[];
    try {
      values = (await deps.sheets().read(exportRange(sheet))).values;
    } catch (err) {
      throw sheetsFailure(err, 'sheet');
    }
    const started = Date.now();
    const end = await streamCsv(req, res, pool, values, sheet.split('!')[0]?.replaceAll("'", '') || 'export', { bom });
    const fields = { sheet, rows: values.length, ms: Date.now() - started };
    if (end === 'complete') deps.ctx.logger.info({ event: 'app.export', ...fields }, 'sheet exported');
    else if (end === 'client_closed') deps.ctx.logger.info({ event: 'app.export_aborted', reason: end, ...fields }, 'the client closed the connection before the end of the export');
    else deps.ctx.logger.warn({ event: 'app.export_aborted', reason: end, ...fields }, `the client took no data for ${SEND_STALL_MS / 1000} s; the export was cut off`);
  };
}
