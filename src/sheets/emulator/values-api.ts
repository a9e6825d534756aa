// Routing and checks of the emulated values endpoints, in the order Google applies them:
// authentication (401; 403 with no credentials at all) → quota (429) → spreadsheet (404) → scope
// and sharing (403) → request validation and ranges (400) → the operation.

import type { WireBatchGetResponse, WireBatchUpdateValuesResponse, WireUpdateValuesResponse } from '../google/wire.js';
import { Accounts, type IssuedToken } from './accounts.js';
import { ApiError, cellTooLong, INVALID_CREDENTIALS, MAX_CELL_CHARS, MISSING_API_KEY, NOT_FOUND, notASheet, PERMISSION_DENIED } from './api-error.js';
import type { EmulatorMethod } from './faults.js';
import { withoutDefaults } from './http-util.js';
import { BATCH_UPDATE_FIELDS, checkBodyType, checkFields, checkQuery, VALUE_RANGE_FIELDS } from './request-fields.js';
import { checkUserEntered } from './user-entered.js';
import { insertDataOption, readOptions, responseOptions, valueInputOption } from './value-options.js';
import type { Spreadsheet, Store, UpdatePlan } from './store.js';

export type ValuesMethod = Exclude<EmulatorMethod, 'token'>;

export interface ValuesRoute {
  readonly method: ValuesMethod;
  readonly spreadsheetId: string;
  /** Decoded range of the path (get, update, append). */
  readonly range?: string;
}

const WRITES: ReadonlySet<ValuesMethod> = new Set(['values.append', 'values.update', 'values.batchUpdate']);

export function isWrite(method: ValuesMethod): boolean {
  return WRITES.has(method);
}

/** Maps method + raw path to a values route; undefined when it is no values endpoint. */
export function matchValuesRoute(httpMethod: string, rawPath: string): ValuesRoute | undefined {
  const m = /^\/v4\/spreadsheets\/([^/]+)\/values(?::(batchGet|batchUpdate)|\/([^/]+))$/.exec(rawPath);
  if (!m) return undefined;
  let spreadsheetId: string;
  try {
    spreadsheetId = decodeURIComponent(m[1] ?? '');
  } catch {
    return undefined;
  }
  if (m[2] === 'batchGet') return httpMethod === 'GET' ? { method: 'values.batchGet', spreadsheetId } : undefined;
  if (m[2] === 'batchUpdate') return httpMethod === 'POST' ? { method: 'values.batchUpdate', spreadsheetId } : undefined;
  let segment = m[3] ?? '';
  let verb: string | undefined;
  // The custom verb (`:append`) follows a raw ':'. A range may hold one too, unencoded (Google's
  // own samples send `values/Sheet1!A1:D5`, and clients send `Sheet1!A:A`), but never ends in
  // `:append`: a column has at most three letters.
  const colon = segment.lastIndexOf(':');
  if (colon !== -1 && segment.slice(colon + 1) === 'append') {
    verb = segment.slice(colon + 1);
    segment = segment.slice(0, colon);
  }
  let range: string;
  try {
    range = decodeURIComponent(segment);
  } catch {
    throw new ApiError(400, `Unable to parse range: ${segment}`);
  }
  if (verb === 'append') return httpMethod === 'POST' ? { method: 'values.append', spreadsheetId, range } : undefined;
  if (httpMethod === 'GET') return { method: 'values.get', spreadsheetId, range };
  if (httpMethod === 'PUT') return { method: 'values.update', spreadsheetId, range };
  return undefined;
}

export type Principal = { readonly kind: 'token'; readonly token: IssuedToken } | { readonly kind: 'api-key' };

/** The RPC behind each values endpoint, as Google names it in an ErrorInfo's metadata.method. */
const RPC_METHODS: Readonly<Record<ValuesMethod, string>> = {
  'values.get': 'google.apps.sheets.v4.SpreadsheetsService.GetValues',
  'values.batchGet': 'google.apps.sheets.v4.SpreadsheetsService.BatchGetValues',
  'values.append': 'google.apps.sheets.v4.SpreadsheetsService.AppendValues',
  'values.update': 'google.apps.sheets.v4.SpreadsheetsService.UpdateValues',
  'values.batchUpdate': 'google.apps.sheets.v4.SpreadsheetsService.BatchUpdateValues',
};

/**
 * A refused credential. Google's ErrorInfo for these names the RPC as well as the service:
 * `"metadata": {"service": "sheets.googleapis.com", "method":
 * "google.apps.sheets.v4.SpreadsheetsService.GetValues"}` for ACCESS_TOKEN_SCOPE_INSUFFICIENT.
 */
function credentialError(code: number, message: string, reason: string, method: ValuesMethod): ApiError {
  return new ApiError(code, message, reason, { method: RPC_METHODS[method] });
}

/**
 * An `Authorization: Bearer` header with no token after it (what `curl -H "Authorization: Bearer
 * $(gcloud auth print-access-token)"` sends when that command printed nothing).
 */
const UNREGISTERED_CALLER =
  "Method doesn't allow unregistered callers (callers without established identity). Please use API Key or other form of API consumer identity to call this API.";

/**
 * Credential checks: a valid bearer token (else 401), or a registered API key (reads only);
 * neither, or an empty bearer token: 403.
 */
export function authenticate(accounts: Accounts, authorization: string | undefined, apiKey: string | null, method: ValuesMethod): Principal {
  if (authorization !== undefined) {
    if (/^Bearer\s*$/i.test(authorization)) throw new ApiError(403, UNREGISTERED_CALLER);
    const m = /^Bearer\s+(\S+)$/i.exec(authorization);
    const token = m ? accounts.lookup(m[1] ?? '') : undefined;
    if (!token) throw credentialError(401, INVALID_CREDENTIALS, 'ACCESS_TOKEN_EXPIRED', method);
    return { kind: 'token', token };
  }
  if (apiKey !== null) {
    if (!accounts.hasApiKey(apiKey)) throw new ApiError(400, 'API key not valid. Please pass a valid API key.', 'API_KEY_INVALID');
    if (isWrite(method)) {
      throw credentialError(
        401,
        'API keys are not supported by this API. Expected OAuth2 access token or other authentication credentials that assert a principal. See https://cloud.google.com/docs/authentication',
        'CREDENTIALS_MISSING',
        method,
      );
    }
    return { kind: 'api-key' };
  }
  throw new ApiError(403, MISSING_API_KEY);
}

/**
 * 403 checks: scope, then the spreadsheet's sharing; then whether it is a Google Sheet at all (a
 * file the caller may open in Drive, which the Sheets API cannot: 400 FAILED_PRECONDITION).
 */
export function authorize(principal: Principal, sheet: Spreadsheet, method: ValuesMethod): void {
  if (principal.kind === 'api-key') {
    if (!sheet.public) throw new ApiError(403, PERMISSION_DENIED);
    if (sheet.xlsx) throw notASheet();
    return;
  }
  const write = isWrite(method);
  if (write ? !Accounts.canWrite(principal.token) : !Accounts.canRead(principal.token)) {
    throw credentialError(403, 'Request had insufficient authentication scopes.', 'ACCESS_TOKEN_SCOPE_INSUFFICIENT', method);
  }
  // A sheet anyone with its link can view is read by any account's token too, shared or not
  // (gspread#495); its appends still need the account shared as Editor.
  const role = sheet.shares.get(principal.token.email) ?? (sheet.public ? 'reader' : undefined);
  if (!role || (write && role !== 'writer')) throw new ApiError(403, PERMISSION_DENIED);
  if (sheet.xlsx) throw notASheet();
}

/** Adds updatedData, the written cells read back, when the request asked includeValuesInResponse. */
function withUpdatedData(store: Store, sheet: Spreadsheet, res: WireUpdateValuesResponse, include: boolean): WireUpdateValuesResponse {
  return include ? { ...res, updatedData: store.get(sheet, res.updatedRange, 'ROWS') } : res;
}

function parseJson(body: Buffer): Record<string, unknown> {
  let value: unknown;
  try {
    value = body.length === 0 ? {} : JSON.parse(body.toString('utf8'));
  } catch (err) {
    throw new ApiError(400, `Invalid JSON payload received. ${(err as Error).message}`);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new ApiError(400, 'Invalid JSON payload received. Expected an object.');
  return value as Record<string, unknown>;
}

function valuesOf(o: Record<string, unknown>, where: string): unknown[][] {
  const v = o.values ?? [];
  if (!Array.isArray(v) || !v.every(Array.isArray)) throw new ApiError(400, `Invalid value at '${where}values': expected a list of lists`);
  for (const row of v as unknown[][]) {
    for (const cell of row) {
      if (cell !== null && typeof cell !== 'string' && typeof cell !== 'number' && typeof cell !== 'boolean') {
        throw new ApiError(400, `Invalid value at '${where}values': cells must be strings, numbers, booleans or null`);
      }
      if (typeof cell === 'string' && cell.length > MAX_CELL_CHARS) throw cellTooLong();
    }
  }
  const dim = o.majorDimension ?? 'ROWS';
  if (dim === 'ROWS' || dim === 'DIMENSION_UNSPECIFIED') return v as unknown[][];
  if (dim === 'COLUMNS') return transpose(v as unknown[][]);
  throw new ApiError(400, `Invalid value at '${where}major_dimension' (type.googleapis.com/google.apps.sheets.v4.Dimension), ${JSON.stringify(dim)}`);
}

/**
 * Values given by column as rows: "with range=A1:B2,majorDimension=COLUMNS then [[1,2],[3,4]]
 * will set A1=1,B1=3,A2=2,B2=4" (ValueRange.majorDimension). A shorter column leaves its cells
 * below as they were (null, which a write skips).
 */
function transpose(columns: readonly (readonly unknown[])[]): unknown[][] {
  const rows: unknown[][] = [];
  columns.forEach((column, c) => {
    column.forEach((cell, r) => {
      const row = (rows[r] ??= []);
      while (row.length < c) row.push(null);
      row[c] = cell;
    });
  });
  return rows;
}

export interface ValuesResult {
  readonly body: unknown;
  /** Rows written (appends), for the counters. */
  readonly rowsAppended: number;
}

/**
 * A request body that must be a ValueRange (append, update). Its `range`, when given, must be the
 * range of the URL as written: Google compares the two texts, not the cells they name, and refuses
 * `Log Absensi!A:Z` in the body of an append to `values/Log%20Absensi:append` with "Request
 * range[Log Absensi] does not match value's range[Log Absensi!A:Z]" (a quoted name against the
 * same name unquoted too), before it looks at the grid. An empty string is proto3's unset field.
 */
function valueRangeBody(body: Buffer, urlRange: string): Record<string, unknown> {
  const o = parseJson(body);
  checkFields(o, VALUE_RANGE_FIELDS);
  if (o.range !== undefined && o.range !== null && o.range !== '' && o.range !== urlRange) {
    throw new ApiError(400, `Request range[${urlRange}] does not match value's range[${String(o.range)}]`);
  }
  return o;
}

/**
 * Runs a values call that passed the auth, quota and sharing checks. `contentType` is the
 * request's, which Google reads the body by; `cellLimit` the spreadsheet's cap on cells (0: none);
 * `writer` the service account calling, which a protected tab may leave out.
 */
export function runValues(store: Store, sheet: Spreadsheet, route: ValuesRoute, query: URLSearchParams, body: Buffer, contentType?: string, cellLimit = 0, writer?: string): ValuesResult {
  checkQuery(route.method, query);
  if (isWrite(route.method)) checkBodyType(contentType, body);
  switch (route.method) {
    case 'values.get':
      return { body: store.get(sheet, route.range ?? '', readOptions(query)), rowsAppended: 0 };
    case 'values.batchGet': {
      const dim = readOptions(query);
      const ranges = query.getAll('ranges');
      const res: WireBatchGetResponse = { spreadsheetId: sheet.id, valueRanges: ranges.map((r) => store.get(sheet, r, dim)) };
      if (ranges.length === 0) delete res.valueRanges;
      return { body: res, rowsAppended: 0 };
    }
    case 'values.append': {
      const userEntered = valueInputOption(query.get('valueInputOption'));
      const insert = insertDataOption(query.get('insertDataOption'));
      const include = responseOptions(query.get('includeValuesInResponse'), query.get('responseValueRenderOption'), query.get('responseDateTimeRenderOption'));
      const values = valuesOf(valueRangeBody(body, route.range ?? ''), '');
      if (userEntered) checkUserEntered(values, '');
      const res = store.append(sheet, route.range ?? '', values, userEntered, insert, cellLimit, writer);
      return { body: { ...res, updates: withUpdatedData(store, sheet, res.updates, include) }, rowsAppended: values.length };
    }
    case 'values.update': {
      const userEntered = valueInputOption(query.get('valueInputOption'));
      const include = responseOptions(query.get('includeValuesInResponse'), query.get('responseValueRenderOption'), query.get('responseDateTimeRenderOption'));
      const values = valuesOf(valueRangeBody(body, route.range ?? ''), '');
      if (userEntered) checkUserEntered(values, '');
      return { body: withUpdatedData(store, sheet, store.update(sheet, route.range ?? '', values, userEntered, writer), include), rowsAppended: 0 };
    }
    case 'values.batchUpdate': {
      const o = parseJson(body);
      checkFields(o, BATCH_UPDATE_FIELDS);
      const userEntered = valueInputOption(o.valueInputOption);
      const include = responseOptions(o.includeValuesInResponse, o.responseValueRenderOption, o.responseDateTimeRenderOption);
      const data = o.data ?? [];
      if (!Array.isArray(data)) throw new ApiError(400, "Invalid value at 'data': expected a list");
      const checked = data.map((d, i) => {
        if (typeof d !== 'object' || d === null || typeof (d as { range?: unknown }).range !== 'string') throw new ApiError(400, `Invalid data[${i}]: missing range`);
        checkFields(d as Record<string, unknown>, VALUE_RANGE_FIELDS, `data[${i}]`);
        const values = valuesOf(d as Record<string, unknown>, `data[${i}].`);
        if (userEntered) checkUserEntered(values, `data[${i}].`);
        return { range: (d as { range: string }).range, values };
      });
      // Check every range first so a bad one fails the whole batch, as Google does.
      // Google names the entry a range error is in ("Invalid data[0]: Unable to parse range: ...").
      const plans = checked.map((d, i) => {
        try {
          return store.planUpdate(sheet, d.range, d.values, writer);
        } catch (err) {
          if (err instanceof ApiError && err.code === 400) throw new ApiError(400, `Invalid data[${i}]: ${err.message}`, err.reason, err.metadata);
          throw err;
        }
      });
      const written = checked.map((d, i) => store.applyUpdate(sheet, plans[i] as UpdatePlan, d.values, userEntered));
      // Read back once every range is written: "the values of the cells after updates were applied".
      const responses: WireUpdateValuesResponse[] = written.map((r) => withUpdatedData(store, sheet, r, include));
      const res: WireBatchUpdateValuesResponse = withoutDefaults({
        spreadsheetId: sheet.id,
        // "The total number of rows where at least one cell in the row was updated" (and columns
        // alike): a row two of the ranges write counts once.
        totalUpdatedRows: distinctLines(plans, checked, 'rows'),
        totalUpdatedColumns: distinctLines(plans, checked, 'columns'),
        totalUpdatedCells: responses.reduce((n, r) => n + (r.updatedCells ?? 0), 0),
        // "The total number of sheets where at least one cell in the sheet was updated": by tab,
        // not by the text before a '!' (a tab's title may hold one).
        totalUpdatedSheets: new Set(plans.filter((_, i) => (responses[i]?.updatedCells ?? 0) > 0).map((p) => p.tab)).size,
        responses,
      });
      return { body: res, rowsAppended: 0 };
    }
  }
}

/** The rows (or columns) of each tab that a batch's ranges write, each counted once. */
function distinctLines(plans: readonly UpdatePlan[], data: readonly { readonly values: readonly (readonly unknown[])[] }[], of: 'rows' | 'columns'): number {
  const byTab = new Map<UpdatePlan['tab'], Set<number>>();
  plans.forEach((p, i) => {
    const values = data[i]?.values ?? [];
    let lines = byTab.get(p.tab);
    if (!lines) byTab.set(p.tab, (lines = new Set()));
    if (of === 'rows') values.forEach((_, r) => lines.add(p.r1 + r));
    // Not Math.max(...rows): a spread of a large write's rows overflows the call's arguments.
    else for (let c = 0, width = values.reduce((w, row) => Math.max(w, row.length), 0); c < width; c++) lines.add(p.c1 + c);
  });
  let n = 0;
  for (const lines of byTab.values()) n += lines.size;
  return n;
}

/** The spreadsheet of a route, or Google's 404. */
export function spreadsheetOf(store: Store, id: string): Spreadsheet {
  const s = store.spreadsheets.get(id);
  if (!s) throw new ApiError(404, NOT_FOUND);
  return s;
}
