// GET /api/players: the roster's public columns (PRIVATE_COLUMNS never leave the server), names
// included, to anyone: no token is asked. The login route relies on that: it answers a name not
// in the roster without counting it against the failed-login limit, which tells nothing this does not.
// The hot read path: the answer body and its headers are built once per cached copy of the roster
// (and staleness state) and reused until the copy changes, so a request costs about what a static
// body does.

import type { SheetRecords } from '../../sheets/types.js';
import type { AppDeps } from '../deps.js';
import { prepareJson, sendPrepared, type PreparedJson } from '../http.js';
import { playerName, publicFields } from '../players.js';
import type { Handler } from '../router.js';

interface BuiltBody {
  readonly fetchedAt: number;
  readonly stale: boolean;
  readonly body: PreparedJson;
}

const bodies = new WeakMap<SheetRecords['records'], BuiltBody>();

function bodyOf(sheet: SheetRecords): PreparedJson {
  const { fetchedAt, stale } = sheet.read;
  const hit = bodies.get(sheet.records);
  if (hit && hit.fetchedAt === fetchedAt && hit.stale === stale) return hit.body;
  const players = sheet.records.filter((r) => playerName(sheet, r) !== '').map(publicFields);
  const body = prepareJson(JSON.stringify({ players, count: players.length, fetched_at: new Date(fetchedAt).toISOString(), stale }));
  bodies.set(sheet.records, { fetchedAt, stale, body });
  return body;
}

export function playersRoute(deps: AppDeps): Handler {
  const range = deps.playersRange;
  return ({ res }) => {
    // Held copy: answered within this call, no promise (this is most requests).
    const held = deps.cachedRecords(range);
    if (held) return sendPrepared(res, 200, bodyOf(held));
    return deps.records(range).then((sheet) => sendPrepared(res, 200, bodyOf(sheet)));
  };
}
