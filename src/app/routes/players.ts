// GET /api/players: the roster's public columns (PRIVATE_COLUMNS never leave the server).

import type { AppDeps } from '../deps.js';
import { sendJson } from '../http.js';
import { playerName, publicFields } from '../players.js';
import type { Handler } from '../router.js';

export function playersRoute(deps: AppDeps): Handler {
  const range = deps.playersRange;
  return async ({ res }) => {
    const sheet = await deps.records(range);
    const players = sheet.records.filter((r) => playerName(sheet, r) !== '').map(publicFields);
    sendJson(res, 200, {
      players,
      count: players.length,
      fetched_at: new Date(sheet.read.fetchedAt).toISOString(),
      stale: sheet.read.stale,
    });
  };
}
