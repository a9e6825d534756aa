// The players roster as the app exposes it. PRIVATE_COLUMNS is the one list of columns that never
// leave the server (matched case-insensitively against the sheet's header row).

import type { SheetRecords } from '../sheets/types.js';
import { timingSafeEqual } from 'node:crypto';
import { digestOf } from './session.js';

export const PRIVATE_COLUMNS: readonly string[] = ['code', 'password', 'pin', 'secret'];

const PRIVATE = new Set(PRIVATE_COLUMNS.map((c) => c.toLowerCase()));

export function isPrivateColumn(column: string): boolean {
  return PRIVATE.has(column.trim().toLowerCase());
}

export type PublicPlayer = Readonly<Record<string, string>>;
type PlayerRecord = Readonly<Record<string, string>>;

const publicCopies = new WeakMap<PlayerRecord, PublicPlayer>();

/** A record with every private column removed (and empty header names dropped). */
export function publicFields(record: PlayerRecord): PublicPlayer {
  let out = publicCopies.get(record);
  if (!out) {
    const fields: Record<string, string> = {};
    for (const [k, v] of Object.entries(record)) if (k.trim() !== '' && !isPrivateColumn(k)) fields[k] = v;
    out = Object.freeze(fields);
    publicCopies.set(record, out);
  }
  return out;
}

const publicTexts = new WeakMap<PlayerRecord, string>();

/** JSON.stringify(publicFields(record)), made once per roster record: every login answers it. */
export function publicFieldsJson(record: PlayerRecord): string {
  let text = publicTexts.get(record);
  if (text === undefined) {
    text = JSON.stringify(publicFields(record));
    publicTexts.set(record, text);
  }
  return text;
}

/** Column in the header whose lowercase name is `wanted` (sheets are typed by hand: `Name`, `name `). */
function column(header: readonly string[], wanted: string): string | undefined {
  return header.find((h) => h.trim().toLowerCase() === wanted);
}

/** A name as lookups compare it (and the failed-login limit counts it): NFC, trimmed, lowercase. */
export function normName(s: string): string {
  return s.normalize('NFC').trim().toLowerCase();
}

/**
 * What lookups need from one cached copy of the roster, built once per copy (a cached copy's
 * records array never changes): logins and token checks then cost a map lookup, not a scan that
 * normalizes every name.
 */
interface Roster {
  readonly nameCol: string | undefined;
  /** What keeps players from logging in, said once per copy by the login route (rosterProblem). */
  readonly problem: RosterProblem | undefined;
  /** Records by normalized name; the first row wins when a name is repeated. */
  readonly byName: ReadonlyMap<string, PlayerRecord>;
  /** Digest of each findable record's code (absent: no code, that player cannot log in). */
  readonly codeDigests: ReadonlyMap<PlayerRecord, Buffer>;
}

const rosters = new WeakMap<SheetRecords['records'], Roster>();

function rosterOf(sheet: SheetRecords): Roster {
  let roster = rosters.get(sheet.records);
  if (!roster) {
    const nameCol = column(sheet.header, 'name');
    const codeCol = column(sheet.header, 'code');
    const byName = new Map<string, PlayerRecord>();
    const codeDigests = new Map<PlayerRecord, Buffer>();
    // By name as compared, each said once, as its first row writes it: "Alice", "alice" and
    // "Alice" are one name on three rows, not two names repeated.
    const repeated = new Map<string, string>();
    if (nameCol) {
      for (const r of sheet.records) {
        const key = normName(r[nameCol] ?? '');
        if (key === '') continue;
        const first = byName.get(key);
        if (first) {
          if (!repeated.has(key)) repeated.set(key, (first[nameCol] ?? '').trim());
          continue;
        }
        byName.set(key, r);
        // Digested up front, so a login costs the same for every name (no first-time cost).
        const code = codeCol ? codeOf(r[codeCol] ?? '') : '';
        if (code !== '') codeDigests.set(r, digestOf(code));
      }
    }
    const missing = [...(nameCol ? [] : ['name']), ...(codeCol ? [] : ['code'])];
    const problem = missing.length > 0 || repeated.size > 0 ? { missing, repeated: [...repeated.values()] } : undefined;
    roster = { nameCol, problem, byName, codeDigests };
    rosters.set(sheet.records, roster);
  }
  return roster;
}

/**
 * A code as logins compare it: trimmed and NFC, case kept. A code with accents typed on a keyboard
 * that sends them decomposed (NFD) matched nothing, while the same name was found.
 */
function codeOf(s: string): string {
  return s.normalize('NFC').trim();
}

/**
 * What in the roster keeps players from logging in: a header without a `name` or `code` column
 * (every login answers 401, GET /api/players lists nobody without names), or names written on
 * more than one row (the first row wins: the others' codes never log in, and their failures lock
 * the first player out). Names are public (GET /api/players lists them), so they may be said.
 */
export interface RosterProblem {
  readonly missing: readonly string[];
  /** Each name found on more than one row, once, as its first row writes it. */
  readonly repeated: readonly string[];
}

export function rosterProblem(sheet: SheetRecords): RosterProblem | undefined {
  return rosterOf(sheet).problem;
}

export function findPlayer(sheet: SheetRecords, name: string): PlayerRecord | undefined {
  return rosterOf(sheet).byName.get(normName(name));
}

/**
 * The digest of a roster record's code as logins compare it (digestOf), one object per roster
 * copy; undefined when it has none (that player cannot log in).
 */
export function codeDigestOf(sheet: SheetRecords, record: PlayerRecord): Buffer | undefined {
  return rosterOf(sheet).codeDigests.get(record);
}

export function playerName(sheet: SheetRecords, record: PlayerRecord): string {
  const nameCol = rosterOf(sheet).nameCol;
  return (nameCol ? record[nameCol] : undefined)?.trim() ?? '';
}

/** Compared against when the name is unknown or has no code, so every login costs the same. */
const NO_CODE = digestOf('\u0000no-code\u0000');

/** A login's outcome: the player when the code is right, and whether the name is in the roster. */
export interface LoginCheck {
  readonly player: PlayerRecord | undefined;
  /**
   * The name is a roster name (as lookups compare it), whatever the code. Not a secret:
   * GET /api/players lists every name without a token. The failed-login limit counts only these.
   */
  readonly known: boolean;
}

/**
 * Checks a login. Runs the same constant-time comparison whether or not the name exists, so the
 * code comparison's time does not tell an attacker which names are real.
 */
export function checkLogin(sheet: SheetRecords, name: string, code: string): LoginCheck {
  const roster = rosterOf(sheet);
  const record = roster.byName.get(normName(name));
  const expected = (record && roster.codeDigests.get(record)) ?? NO_CODE;
  const ok = timingSafeEqual(expected, digestOf(codeOf(code)));
  return { player: ok && expected !== NO_CODE ? record : undefined, known: record !== undefined };
}
