// Logins for the virtual users: a CSV (header row with name and code columns, like the sample
// sheet's Players tab) or a JSON array of {name, code}. Users are handed out round-robin.

import { readFileSync } from 'node:fs';
import { parseCsv as parseSheetCsv } from '../sheets/offline/csv.js';
import { sampleTabFile } from '../sheets/sample-sheet.js';
import { inputError } from './exit.js';
import { jsonSyntaxMessage } from './json-syntax.js';

export interface Credential {
  readonly name: string;
  readonly code: string;
}

/** The bundled sample sheet's Players tab (config/sample-sheet/Players.csv). */
export function defaultUsersFile(): string {
  return sampleTabFile('Players');
}

/** RFC 4180 rows (the offline sheet's parser), without blank lines. */
export function parseCsv(text: string): string[][] {
  return parseSheetCsv(text).filter((r) => r.some((f) => f.trim() !== ''));
}

function fromCsv(text: string, file: string): Credential[] {
  const [header, ...rows] = parseCsv(text);
  if (!header) throw inputError(`--users-file ${file}: the file is empty`);
  const cols = header.map((h) => h.trim().toLowerCase());
  const nameCol = cols.indexOf('name');
  const codeCol = cols.indexOf('code');
  if (nameCol < 0 || codeCol < 0) throw inputError(`--users-file ${file}: the header row needs "name" and "code" columns, found: ${header.join(', ')}`);
  return rows
    .map((r) => ({ name: (r[nameCol] ?? '').trim(), code: (r[codeCol] ?? '').trim() }))
    .filter((c) => c.name !== '' && c.code !== '');
}

function fromJson(text: string, file: string): Credential[] {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw inputError(`--users-file ${file} is not valid JSON: ${jsonSyntaxMessage(text, err)}`, err);
  }
  if (!Array.isArray(json)) throw inputError(`--users-file ${file}: expected a JSON array of {"name", "code"}`);
  return json.map((entry: unknown, i) => {
    const e = entry as { name?: unknown; code?: unknown } | null;
    const ok = (v: unknown): v is string | number => (typeof v === 'string' && v.trim() !== '') || typeof v === 'number';
    if (typeof e !== 'object' || e === null || !ok(e.name) || !ok(e.code)) {
      throw inputError(`--users-file ${file}: entry [${i}] needs string "name" and "code"`);
    }
    return { name: String(e.name).trim(), code: String(e.code).trim() };
  });
}

export function loadCredentials(file: string | undefined): { file: string; credentials: Credential[] } {
  const path = file ?? defaultUsersFile();
  let text: string;
  try {
    // A UTF-8 BOM (Windows editors save one, as for a profile) is no part of the JSON: JSON.parse
    // refused it as an unexpected token it prints invisibly. The CSV parser skips one itself.
    text = readFileSync(path, 'utf8').replace(/^\uFEFF/, '');
  } catch (err) {
    const hint = file === undefined ? ' (the default is the sample sheet\'s players; pass --users-file FILE with name,code rows)' : '';
    throw inputError(`--users-file: cannot read ${path}: ${(err as Error).message}${hint}`, err);
  }
  const credentials = /\.json$/i.test(path) || text.trimStart().startsWith('[') ? fromJson(text, path) : fromCsv(text, path);
  if (credentials.length === 0) throw inputError(`--users-file ${path}: no rows with both a name and a code`);
  return { file: path, credentials };
}
