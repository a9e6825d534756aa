// The `fields` system parameter (or its header, X-Goog-FieldMask): a partial response. Google
// answers with only the fields the mask selects ("Working with partial resources" in the Sheets
// API's performance guide: `fields=kind,items(title,characteristics/length)`), and refuses a path
// its response message lacks with 400 "Request contains an invalid argument." whose BadRequest
// detail names the path (as recorded from the Sheets API in r-lib/gargle's response_process
// snapshot: "Error expanding 'fields' parameter. Cannot find matching fields for path
// 'sheets.sheetProperties'.", the detail's field being the mask as sent). The emulator used to
// take the parameter and answer in full, so a client that asked `fields=values` and still read
// `range` passed against it only.
//
// Syntax: paths separated by commas; a path's parts by '/' (or '.'); `a(b,c)` selects b and c
// within a; `*` is every field of its message. Lists are masked element by element.

import { ApiError } from './api-error.js';
import { systemParameter } from './system-parameters.js';
import type { ValuesMethod } from './values-api.js';

/** A response message's fields: a nested message, or null for a scalar or a list of scalars. */
interface Schema {
  readonly [field: string]: Schema | null;
}

const VALUE_RANGE: Schema = { range: null, majorDimension: null, values: null };
const UPDATE: Schema = { spreadsheetId: null, updatedRange: null, updatedRows: null, updatedColumns: null, updatedCells: null, updatedData: VALUE_RANGE };

/** Each method's response message (the REST reference of spreadsheets.values.*). */
const RESPONSES: Readonly<Record<ValuesMethod, Schema>> = {
  'values.get': VALUE_RANGE,
  'values.batchGet': { spreadsheetId: null, valueRanges: VALUE_RANGE },
  'values.append': { spreadsheetId: null, tableRange: null, updates: UPDATE },
  'values.update': UPDATE,
  'values.batchUpdate': { spreadsheetId: null, totalUpdatedRows: null, totalUpdatedColumns: null, totalUpdatedCells: null, totalUpdatedSheets: null, responses: UPDATE },
};

/** The fields selected at one level: true for the whole field, or the mask within it. */
export type FieldMask = Map<string, FieldMask | true>;

function invalid(mask: string, description: string): ApiError {
  return new ApiError(400, 'Request contains an invalid argument.', undefined, undefined, undefined, undefined, [{ field: mask, description }]);
}

class Parser {
  #i = 0;
  constructor(readonly text: string) {}

  /** selection := item (',' item)*, up to a ')' or the end. */
  selection(schema: Schema, path: readonly string[], into: FieldMask = new Map()): FieldMask {
    for (;;) {
      this.#item(schema, path, into);
      this.#space();
      if (this.text[this.#i] !== ',') return into;
      this.#i += 1;
    }
  }

  atEnd(): boolean {
    this.#space();
    return this.#i >= this.text.length;
  }

  #space(): void {
    while (this.text[this.#i] === ' ') this.#i += 1;
  }

  #name(): string {
    this.#space();
    const m = /^(\*|[A-Za-z_][A-Za-z0-9_]*)/.exec(this.text.slice(this.#i));
    // The wording of a mask that does not parse is the emulator's own; Google's was not recorded.
    if (!m) throw invalid(this.text, `Invalid field mask '${this.text}': expected a field name at position ${this.#i}.`);
    this.#i += (m[1] ?? '').length;
    return m[1] ?? '';
  }

  /** item := name (('/' | '.') name)* ['(' selection ')'] */
  #item(schema: Schema, path: readonly string[], into: FieldMask): void {
    let level = into;
    let current: Schema | null = schema;
    let at = [...path];
    for (;;) {
      const name = this.#name();
      at = [...at, name];
      if (current === null || (name !== '*' && !Object.hasOwn(current, name))) {
        throw invalid(this.text, `Error expanding 'fields' parameter. Cannot find matching fields for path '${at.join('.')}'.`);
      }
      const next: Schema | null = name === '*' ? null : (current[name] ?? null);
      const sep = this.text[this.#i];
      if (sep === '/' || sep === '.') {
        this.#i += 1;
        const sub = level.get(name);
        if (sub === true) return this.#skipItem(next, at);
        const child: FieldMask = sub ?? new Map();
        level.set(name, child);
        level = child;
        current = next;
        continue;
      }
      this.#space();
      if (this.text[this.#i] === '(') {
        this.#i += 1;
        const sub = level.get(name);
        const child = this.selection(next ?? {}, at, sub instanceof Map ? sub : new Map());
        this.#space();
        if (this.text[this.#i] !== ')') throw invalid(this.text, `Invalid field mask '${this.text}': expected ')' at position ${this.#i}.`);
        this.#i += 1;
        if (sub !== true) level.set(name, child);
        return;
      }
      level.set(name, true);
      return;
    }
  }

  /** The rest of a path under a field already selected whole: checked, and selects nothing more. */
  #skipItem(schema: Schema | null, path: readonly string[]): void {
    this.#item(schema ?? {}, path, new Map());
  }
}

/** The mask of a values call (`fields`, else X-Goog-FieldMask), checked against its response; undefined for none. */
export function fieldMaskOf(method: ValuesMethod, query: URLSearchParams, header: string | string[] | undefined): FieldMask | undefined {
  const text = systemParameter(query, 'fields') ?? (typeof header === 'string' ? header : undefined);
  if (text === undefined || text.trim() === '') return undefined;
  const parser = new Parser(text);
  const mask = parser.selection(RESPONSES[method], []);
  if (!parser.atEnd()) throw invalid(text, `Invalid field mask '${text}': unexpected text at the end.`);
  return mask;
}

/** The part of a response `mask` selects. Lists are masked element by element. */
export function applyFieldMask(value: unknown, mask: FieldMask): unknown {
  if (Array.isArray(value)) return value.map((v) => applyFieldMask(v, mask));
  if (typeof value !== 'object' || value === null) return value;
  const source = value as Record<string, unknown>;
  const out: Record<string, unknown> = {};
  const all = mask.get('*');
  for (const [key, v] of Object.entries(source)) {
    const sub = mask.get(key) ?? all;
    if (sub === undefined) continue;
    out[key] = sub === true ? v : applyFieldMask(v, sub);
  }
  return out;
}
