// GET /api/players: the roster's public columns (PRIVATE_COLUMNS never leave the server).
// The hot read path: the answer body is built and encoded once per cached copy of the roster (and
// staleness state) and reused until the copy changes, so a request costs about what a static body
// does.

import type { SheetRecords } from '../../sheets/types.js';
import type { AppDeps } from '../deps.js';
import { sendJsonText } from '../http.js';
import { playerName, publicFields } from '../players.js';
import type { Handler } from '../router.js';

interface BuiltBody {
  readonly fetchedAt: number;
  readonly stale: boolean;
  readonly bytes: Buffer;
}

const bodies = new WeakMap<SheetRecords['records'], BuiltBody>();

function bodyOf(sheet: SheetRecords): Buffer {
  const { fetchedAt, stale } = sheet.read;
  const hit = bodies.get(sheet.records);
  if (hit && hit.fetchedAt === fetchedAt && hit.stale === stale) return hit.bytes;
  const players = sheet.records.filter((r) => playerName(sheet, r) !== '').map(publicFields);
  const bytes = Buffer.from(JSON.stringify({ players, count: players.length, fetched_at: new Date(fetchedAt).toISOString(), stale }));
  bodies.set(sheet.records, { fetchedAt, stale, bytes });
  return bytes;
}

export function playersRoute(deps: AppDeps): Handler {
  const range = deps.playersRange;
  return ({ res }) => {
    // Held copy: answered within this call, no promise (this is most requests).
    const held = deps.cachedRecords(range);
    if (held) return sendJsonText(res, 200, bodyOf(held));
    return deps.records(range).then((sheet) => sendJsonText(res, 200, bodyOf(sheet)));
  };
}
