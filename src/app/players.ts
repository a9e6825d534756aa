// The players roster as the app exposes it. PRIVATE_COLUMNS is the one list of columns that never
// leave the server (matched case-insensitively against the sheet's header row).

import type { SheetRecords } from '../sheets/types.js';
import { safeEqual } from './session.js';

export const PRIVATE_COLUMNS: readonly string[] = ['code', 'password', 'pin', 'secret'];

const PRIVATE = new Set(PRIVATE_COLUMNS.map((c) => c.toLowerCase()));

export function isPrivateColumn(column: string): boolean {
  return PRIVATE.has(column.trim().toLowerCase());
}

export type PublicPlayer = Readonly<Record<string, string>>;

/** A record with every private column removed (and empty header names dropped). */
export function publicFields(record: Readonly<Record<string, string>>): PublicPlayer {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(record)) if (k.trim() !== '' && !isPrivateColumn(k)) out[k] = v;
  return out;
}

/** Column in the header whose lowercase name is `wanted` (sheets are typed by hand: `Name`, `name `). */
function column(header: readonly string[], wanted: string): string | undefined {
  return header.find((h) => h.trim().toLowerCase() === wanted);
}

function normName(s: string): string {
  return s.normalize('NFC').trim().toLowerCase();
}

export function findPlayer(sheet: SheetRecords, name: string): Readonly<Record<string, string>> | undefined {
  const nameCol = column(sheet.header, 'name');
  if (!nameCol) return undefined;
  const wanted = normName(name);
  return sheet.records.find((r) => normName(r[nameCol] ?? '') === wanted && wanted !== '');
}

export function playerName(sheet: SheetRecords, record: Readonly<Record<string, string>>): string {
  const nameCol = column(sheet.header, 'name');
  return (nameCol ? record[nameCol] : undefined)?.trim() ?? '';
}

/**
 * Checks a login. Runs the same constant-time comparison whether or not the name exists, so the
 * answer time does not tell an attacker which names are real.
 */
export function checkLogin(sheet: SheetRecords, name: string, code: string): Readonly<Record<string, string>> | undefined {
  const record = findPlayer(sheet, name);
  const codeCol = column(sheet.header, 'code');
  const stored = record && codeCol ? (record[codeCol] ?? '').trim() : '';
  const ok = safeEqual(stored === '' ? '\u0000no-code\u0000' : stored, code);
  return ok && record && stored !== '' ? record : undefined;
}
