// The emulator's starting spreadsheet: a JSON file
//   { "spreadsheetId": "...", "sheets": { "Players": [[header...], [row...]], "Events": [[...]] } }
// or, by default, the bundled sample sheet (config/sample-sheet/Players.csv and Events.csv).

import { readFileSync } from 'node:fs';
import { parseCsv } from '../offline/csv.js';
import { sampleTabFile } from '../sample-sheet.js';
import { keysInOrderOf, repeatedKeyPath } from '../../json-keys.js';

export interface SheetSeed {
  readonly spreadsheetId: string;
  /**
   * Tab title → rows (first row = header), in the file's order: a range without a tab name reads
   * the first tab, as Google's does. A Map, since an object puts titles such as "2024" first.
   */
  readonly sheets: ReadonlyMap<string, readonly (readonly string[])[]>;
}

export const DEFAULT_SPREADSHEET_ID = 'emulator-sheet-0001';

/** What a spreadsheet id may hold, as a seed file or --spreadsheet-id gives it (corral's SHEET_ID refuses a / or a space). */
export const SPREADSHEET_ID_CHARS = /^[A-Za-z0-9_-]+$/;

/**
 * The bundled sample sheet (config/sample-sheet/, the offline sheet's seed): against the emulator
 * the README's examples and `corral loadtest`'s default users file log in as they do offline. A
 * roster of the emulator's own made a loadtest against an emulator-backed corral fail 25 of 28
 * logins (audit).
 */
export function defaultSeed(spreadsheetId: string = DEFAULT_SPREADSHEET_ID): SheetSeed {
  const tab = (title: string) => parseCsv(readFileSync(sampleTabFile(title), 'utf8')).filter((r) => r.some((f) => f !== ''));
  return { spreadsheetId, sheets: new Map([['Players', tab('Players')], ['Events', tab('Events')]]) };
}

/**
 * Validates a parsed seed document; throws Error with a message naming the problem. `order`: the
 * tab titles as the file writes them (keysInOrderOf), which the parsed object cannot tell.
 */
export function parseSeed(raw: unknown, source: string, order?: readonly string[]): SheetSeed {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw new Error(`${source}: expected a JSON object`);
  const o = raw as Record<string, unknown>;
  const id = o.spreadsheetId ?? DEFAULT_SPREADSHEET_ID;
  if (typeof id !== 'string' || !SPREADSHEET_ID_CHARS.test(id)) throw new Error(`${source}: spreadsheetId must be letters, digits, - or _`);
  const sheets = o.sheets;
  if (typeof sheets !== 'object' || sheets === null || Array.isArray(sheets)) throw new Error(`${source}: "sheets" must map tab titles to arrays of rows`);
  const byTitle = sheets as Record<string, unknown>;
  const titles = order && order.length === Object.keys(byTitle).length ? order : Object.keys(byTitle);
  const out = new Map<string, string[][]>();
  for (const title of titles) {
    const rows = byTitle[title];
    if (!Array.isArray(rows) || !rows.every(Array.isArray)) throw new Error(`${source}: sheets["${title}"] must be an array of rows (arrays)`);
    out.set(
      title,
      (rows as unknown[][]).map((r) => r.map((v) => (v === null || v === undefined ? '' : String(v)))),
    );
  }
  if (out.size === 0) throw new Error(`${source}: "sheets" has no tab`);
  return { spreadsheetId: id, sheets: out };
}

export function loadSeedFile(path: string): SheetSeed {
  const text = readFileSync(path, 'utf8');
  const raw = JSON.parse(text) as unknown;
  // A tab written twice would keep its last rows without a word.
  const repeated = repeatedKeyPath(text);
  if (repeated !== undefined) throw new Error(`${path}: ${repeated} is written more than once; write each key once`);
  return parseSeed(raw, path, keysInOrderOf(text, 'sheets'));
}
