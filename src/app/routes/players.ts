// GET /api/players: the roster's public columns (PRIVATE_COLUMNS never leave the server).
// The hot read path: the answer body is built once per cached copy of the roster (and staleness
// state) and reused until the copy changes, so a request costs about what a static body does.

import type { SheetRecords } from '../../sheets/types.js';
import type { AppDeps } from '../deps.js';
import { sendJsonText } from '../http.js';
import { playerName, publicFields } from '../players.js';
import type { Handler } from '../router.js';

interface BuiltBody {
  readonly key: string;
  readonly text: string;
}

const bodies = new WeakMap<SheetRecords['records'], BuiltBody>();

function bodyOf(sheet: SheetRecords): string {
  const key = `${sheet.read.fetchedAt}|${sheet.read.stale}`;
  const hit = bodies.get(sheet.records);
  if (hit?.key === key) return hit.text;
  const players = sheet.records.filter((r) => playerName(sheet, r) !== '').map(publicFields);
  const text = JSON.stringify({
    players,
    count: players.length,
    fetched_at: new Date(sheet.read.fetchedAt).toISOString(),
    stale: sheet.read.stale,
  });
  bodies.set(sheet.records, { key, text });
  return text;
}

export function playersRoute(deps: AppDeps): Handler {
  const range = deps.playersRange;
  return async ({ res }) => {
    sendJsonText(res, 200, bodyOf(await deps.records(range)));
  };
}
