// GET /api/players: the roster's public columns (PRIVATE_COLUMNS never leave the server), names
// included, to anyone: no token is asked. The login route relies on that: it answers a name not
// in the roster without counting it against the failed-login limit, which tells nothing this does not.
// The hot read path: the answer body and its headers are built once per cached copy of the roster
// (and staleness state) and reused until the copy changes, so a request costs about what a static
// body does. The players' JSON, the costly part (1.6 s for 300k rows), is made once per copy's
// records: a refresh that found the roster unchanged keeps the records (worker-client.ts) and only
// moves `fetched_at` and `stale` on: a few bytes made again, sent after the players' (HEAD_APART_BYTES).

import type { SheetRecords } from '../../sheets/types.js';
import type { AppDeps } from '../deps.js';
import { prepareJson, prepareJsonPieces, sendPrepared, type PreparedJson } from '../http.js';
import { playerName, publicFields } from '../players.js';
import type { Handler } from '../router.js';

interface BuiltBody {
  readonly fetchedAt: number;
  readonly stale: boolean;
  readonly body: PreparedJson;
  /** `{"players":[...],"count":N,"fetched_at":` as bytes: what the records make. */
  readonly head: Buffer;
}

/**
 * A head larger than this is sent as its own piece, ahead of the rest (prepareJsonPieces), and
 * never copied: a head this small is copied into one body, which one write sends.
 */
export const HEAD_APART_BYTES = 64 * 1024;

const bodies = new WeakMap<SheetRecords['records'], BuiltBody>();

function bodyOf(sheet: SheetRecords): PreparedJson {
  const { fetchedAt, stale } = sheet.read;
  const hit = bodies.get(sheet.records);
  if (hit && hit.fetchedAt === fetchedAt && hit.stale === stale) return hit.body;
  let head = hit?.head;
  if (!head) {
    const players = sheet.records.filter((r) => playerName(sheet, r) !== '').map(publicFields);
    head = Buffer.from(`{"players":${JSON.stringify(players)},"count":${players.length},"fetched_at":`);
  }
  const rest = Buffer.from(`${JSON.stringify(new Date(fetchedAt).toISOString())},"stale":${stale}}`);
  // A small head costs one copy; with the body in one piece, one write sends it.
  const body = head.length > HEAD_APART_BYTES ? prepareJsonPieces(head, rest) : prepareJson(Buffer.concat([head, rest], head.length + rest.length));
  bodies.set(sheet.records, { fetchedAt, stale, body, head });
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
