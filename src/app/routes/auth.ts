// POST /api/login and GET /api/me.

import { readJsonObject } from '../body.js';
import { CHALLENGE, type AppDeps } from '../deps.js';
import { HttpError, sendJson } from '../http.js';
import type { LoginLimit } from '../login-limit.js';
import { checkLogin, playerName, publicFields } from '../players.js';
import type { Handler } from '../router.js';
import { onlyFields, requireText } from '../validate.js';

/** `limit`: the failed-login limit per name (login-limit.ts), undefined when it is off. */
export function loginRoute(deps: AppDeps, limit?: LoginLimit): Handler {
  const range = deps.playersRange;
  return async ({ req, res }) => {
    const body = await readJsonObject(req);
    onlyFields(body, ['name', 'code']);
    const name = requireText(body, 'name', { min: 1, max: 100 });
    const code = requireText(body, 'code', { min: 1, max: 200 });
    // A held copy of the roster is used as it is: no promise to wait for.
    const sheet = deps.cachedRecords(range) ?? (await deps.records(range));
    const { player: record, known } = checkLogin(sheet, name, code);
    // A failure for a roster name counts against it; past its limit, every login for it answers
    // 429, a correct code included (else the one 200 among the 429s would still give the code
    // away). A name not in the roster is never counted and always answers 401: the roster's names
    // are public (GET /api/players needs no token), so that says nothing new, and the master keeps
    // at most one counter per roster name, not one per name a client makes up.
    if (limit && known) await limit.settle(name, record !== undefined);
    // One answer for an unknown name and a wrong code: the caller learns nothing about which.
    if (!record) throw new HttpError('invalid_credentials', 'name or code is incorrect', { headers: CHALLENGE });
    // The sheet's spelling, not the one typed (the lookup ignores case and Unicode form): the
    // token's name is what POST /api/events writes into the Events tab.
    const { token, claims } = deps.sessions.issue(playerName(sheet, record));
    sendJson(res, 200, { token, expires_at: new Date(claims.exp * 1000).toISOString(), player: publicFields(record) });
  };
}

export function meRoute(deps: AppDeps): Handler {
  return async ({ req, res }) => {
    const { claims, record } = await deps.requireRosterPlayer(req);
    sendJson(res, 200, { player: publicFields(record), expires_at: new Date(claims.exp * 1000).toISOString() });
  };
}
