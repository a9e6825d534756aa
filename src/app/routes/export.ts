// GET /api/export?sheet=<tab or A1 range> (admin token): the sheet as a streamed CSV.

import { describeError } from '../../errors.js';
import type { AppDeps } from '../deps.js';
import { sheetsFailure } from '../deps.js';
import type { CsvPool } from '../export/pool.js';
import { ExportPrepareError, SEND_STALL_MS, streamCsv } from '../export/stream.js';
import { HttpError, invalidField } from '../http.js';
import { nonUtf8Params } from '../query-utf8.js';
import type { Handler } from '../router.js';
import { parseA1, quoteSheetName } from '../../sheets/a1.js';

/**
 * The range read for `sheet=`. A value with neither `!` nor `:` names a tab, quoted where A1
 * requires it: a tab named like a cell (Q1, FY2024, T7) is exported whole, where the Sheets API,
 * given it bare, reads that one cell of the first tab. A range (`Events!A:C`, `A1:C10`) and a
 * name already quoted go as written.
 */
export function exportRange(sheet: string): string {
  return sheet.includes('!') || sheet.includes(':') || sheet.startsWith("'") ? sheet : quoteSheetName(sheet);
}

/**
 * The download's name (without `.csv`): the tab's title as the sheet knows it, A1's quoting undone
 * (`'It''s'!A:C` is It's), or, for a range that names no tab (`A1:B2`, the first tab's cells), the
 * range as given; attachmentOf makes either a safe header.
 */
export function exportFilename(sheet: string): string {
  try {
    return parseA1(exportRange(sheet)).sheet ?? sheet;
  } catch {
    // Read by Google, but not parsed here: named after what the client asked for.
    return sheet;
  }
}

/** `bom=1` starts the CSV with a UTF-8 byte order mark, for Excel (stream.ts); `bom=0` or none: without. */
export function bomParam(values: readonly string[]): boolean {
  if (values.length === 0) return false;
  if (values.length > 1 || (values[0] !== '1' && values[0] !== '0')) {
    throw invalidField('bom', 'bom must be 1 (start the CSV with a UTF-8 byte order mark, for Excel) or 0, given once');
  }
  return values[0] === '1';
}

const EXPORT_PARAMS: readonly string[] = ['sheet', 'bom'];

/**
 * Refuses a parameter the export does not take, as the JSON routes refuse an unknown field: a
 * misspelt `boom=1` or `Bom=1` would otherwise download a CSV without the byte order mark asked for,
 * with nothing to say why.
 */
function unknownParam(params: URLSearchParams): void {
  for (const name of params.keys()) {
    if (EXPORT_PARAMS.includes(name)) continue;
    const cased = EXPORT_PARAMS.find((known) => known === name.toLowerCase());
    const shown = name.slice(0, 60);
    throw invalidField(shown, `unknown parameter ${shown}${cased ? ` (names are lower case: ${cased}=)` : ''}: the export takes sheet=<tab name or A1 range> and bom=1 or 0`);
  }
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
    unknownParam(target.url.searchParams);
    const sheets = target.url.searchParams.getAll('sheet');
    if (sheets.length !== 1 || (sheets[0] ?? '').trim() === '') throw invalidField('sheet', 'give exactly one sheet=<tab name or A1 range>');
    const sheet = (sheets[0] ?? '').trim();
    if (sheet.length > 200) throw invalidField('sheet', `sheet is ${sheet.length} characters long; a tab name or A1 range is at most 200`);
    if (/[\u0000-\u001f\u007f]/.test(sheet)) throw invalidField('sheet', 'sheet holds a control character (a tab, line break or NUL once percent-decoded), which no tab name or A1 range has');
    const bom = bomParam(target.url.searchParams.getAll('bom'));
    let values: readonly (readonly string[])[];
    try {
      // Read for this export alone: the worker's cache (L1) keeps no copy unless it held the tab
      // already (Players, which logins read). It used to keep every tab exported, counted at no
      // more than half of CORRAL_L1_CACHE_MB but holding far more (a 300k-row tab: ~65 MB of
      // heap), and nothing the app reads pushed it out: each worker that had served an export
      // held it until recycled. Concurrent exports of a tab in a worker still share one read.
      values = (await deps.sheets().read(exportRange(sheet), { keep: false })).values;
    } catch (err) {
      throw sheetsFailure(err, 'sheet');
    }
    const started = Date.now();
    let end: Awaited<ReturnType<typeof streamCsv>>;
    try {
      end = await streamCsv(req, res, pool, values, exportFilename(sheet), { bom });
    } catch (err) {
      if (!(err instanceof ExportPrepareError)) throw err;
      // Any other failure of the first rows (a bug, a cell the threads cannot take) is the
      // handler's error, answered 500 as such, before the headers rather than as a cut 200.
      if ((err.cause as { code?: unknown } | undefined)?.code !== 'ERR_WORKER_INIT_FAILED') throw err.cause;
      deps.ctx.logger.warn({ event: 'app.export_failed', sheet, rows: values.length, err: describeError(err.cause) }, `${err.message}; answered 503 export_unavailable: the system would not start an export thread (a process or thread limit: TasksMax=, pids.max, ulimit -u)`);
      throw new HttpError('export_unavailable', 'the export could not be prepared on this worker; retry after Retry-After', { headers: { 'Retry-After': '5' } });
    }
    // A HEAD sent the headers alone: `app.export` ("sheet exported", with its rows) would count a
    // download that never was; the access line has the request.
    if (req.method === 'HEAD') return;
    const fields = { sheet, rows: values.length, ms: Date.now() - started };
    if (end === 'complete') deps.ctx.logger.info({ event: 'app.export', ...fields }, 'sheet exported');
    else if (end === 'client_closed') deps.ctx.logger.info({ event: 'app.export_aborted', reason: end, ...fields }, 'the client closed the connection before the end of the export');
    // The worker's doing, not the client's: the access line says cut: drain.
    else if (end === 'drain') deps.ctx.logger.warn({ event: 'app.export_aborted', reason: end, ...fields }, 'the worker closed the connection before the end of the export: the graceful timeout of a stop or reload (CORRAL_GRACEFUL_TIMEOUT) ran out, or a fast stop (QUIT) gave none');
    else deps.ctx.logger.warn({ event: 'app.export_aborted', reason: end, ...fields }, `the client took no data for ${SEND_STALL_MS / 1000} s; the export was cut off`);
  };
}
