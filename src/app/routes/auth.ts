// POST /api/login and GET /api/me.

import { readJsonObject } from '../body.js';
import { CHALLENGE, type AppDeps } from '../deps.js';
import { HttpError, sendJson, sendJsonText } from '../http.js';
import type { LoginLimit } from '../login-limit.js';
import { loginProof } from '../login-proof.js';
import { checkLogin, codeDigestOf, playerName, publicFields, publicFieldsJson, rosterProblem, type RosterProblem } from '../players.js';
import type { Handler } from '../router.js';
import { onlyFields, optionalText, requireText } from '../validate.js';

/**
 * Longest `token` POST /api/login takes: a token issue() writes for a name of 100 characters, each
 * up to 4 bytes in UTF-8 (or spelled longer in the sheet, decomposed), is under 1000.
 */
const TOKEN_MAX = 2000;

/** What the operator is told of a roster that keeps players from logging in, and how to fix it. */
/** `limited`: the failed-login limit per name is on. */
function rosterProblemText(range: string, p: RosterProblem, limited: boolean): string {
  const parts: string[] = [];
  if (p.missing.length > 0) {
    // Without a name column no name is the roster's, and only a roster name's failures are counted
    // (loginRoute): the 429 comes only where the names are there and the codes are not.
    const answers = p.missing.includes('name') || !limited ? 'every one answers 401 invalid_credentials' : "each answers 401 invalid_credentials, or 429 once a name's failures reach the limit";
    parts.push(`its header row has no ${p.missing.join(' and ')} column, so no login can succeed (${answers}); name the columns name and code in its first row`);
  }
  if (p.repeated.length > 0) {
    const shown = p.repeated.slice(0, 5).map((n) => JSON.stringify(n)).join(', ');
    const more = p.repeated.length > 5 ? ` and ${p.repeated.length - 5} more` : '';
    parts.push(
      `${p.repeated.length} name${p.repeated.length === 1 ? ' is' : 's are'} written on more than one row (${shown}${more}; compared as logins compare them: trimmed, any case, Unicode NFC): ` +
        'only the first row of each logs in, the codes of the others answer 401, and their failures lock the first player out; make each name unique',
    );
  }
  return `POST /api/login: the roster ${range} ${parts.join('; and ')}`;
}

/** `limit`: the failed-login limit per name (login-limit.ts), undefined when it is off. */
export function loginRoute(deps: AppDeps, limit?: LoginLimit): Handler {
  const range = deps.playersRange;
  // Said once per problem and worker, not per copy: a roster refreshed with the same fault (an
  // edit elsewhere in the tab) is not said again; a fixed one is.
  let problemSaid: string | undefined;
  let problemSeen: RosterProblem | undefined;
  const sayProblem = (problem: RosterProblem | undefined) => {
    // One object per roster copy: compared as text only when the copy changed.
    problemSeen = problem;
    const text = problem ? JSON.stringify(problem) : undefined;
    if (text === problemSaid) return;
    problemSaid = text;
    if (problem) {
      deps.ctx.logger.warn(
        { event: 'app.roster_problem', code: 'CORRAL_ERR_ROSTER', range, missing_columns: problem.missing, repeated_names: problem.repeated.slice(0, 20), repeated_count: problem.repeated.length },
        rosterProblemText(range, problem, limit !== undefined),
      );
    } else deps.ctx.logger.info({ event: 'app.roster_fixed', range }, `POST /api/login: the roster ${range} lets every player log in again`);
  };
  // The answer's expiry as text, for the last expiry answered: tokens issued within a second share it.
  let expiresFor = NaN;
  let expiresText = '';
  return async ({ req, res }) => {
    const body = await readJsonObject(req);
    onlyFields(body, ['name', 'code', 'token']);
    const name = requireText(body, 'name', { min: 1, max: 100 });
    const code = requireText(body, 'code', { min: 1, max: 200 });
    // The token of an earlier login for this player, proof that this client logged in before
    // (login-proof.ts). Read only when sent: a login without one costs what it did.
    const proofToken = body.token === undefined ? '' : optionalText(body, 'token', { min: 0, max: TOKEN_MAX });
    // A held copy of the roster is used as it is: no promise to wait for.
    const sheet = deps.cachedRecords(range) ?? (await deps.records(range));
    const problem = rosterProblem(sheet);
    if (problem !== problemSeen) sayProblem(problem);
    const { player: record, known } = checkLogin(sheet, name, code);
    // A failure for a roster name counts against it; past its limit, every login for it answers
    // 429, a correct code included (else the one 200 among the 429s would still give the code
    // away). A name not in the roster is never counted and always answers 401: the roster's names
    // are public (GET /api/players needs no token), so that says nothing new, and the master keeps
    // at most one counter per roster name, not one per name a client makes up.
    //
    // A login that sends the proof of an earlier login for this player is counted against the
    // proof instead, and the name's lock does not apply to it: a guesser sending wrong codes for
    // the name locks out the clients without a proof, not the player's own. A token that is no
    // proof (forged, too old, another player's, issued for a code the sheet has since changed)
    // is as none: judged by the name, and the answer does not say why.
    if (limit && known) {
      const proof = proofToken === '' ? undefined : loginProof(deps.sessions, proofToken, sheet, name);
      if (proof === undefined) await limit.settle(name, record !== undefined);
      else await limit.settleProof(proof, record !== undefined);
    }
    // One answer for an unknown name and a wrong code: the caller learns nothing about which.
    if (!record) throw new HttpError('invalid_credentials', 'name or code is incorrect', { headers: CHALLENGE });
    // The sheet's spelling, not the one typed (the lookup ignores case and Unicode form): the
    // token's name is what POST /api/events writes into the Events tab. The code's fingerprint
    // ends the session when the code is changed in the sheet (requireRosterPlayer).
    const { token, claims } = deps.sessions.issue(playerName(sheet, record), Date.now(), codeDigestOf(sheet, record));
    if (claims.exp !== expiresFor) {
      expiresFor = claims.exp;
      expiresText = new Date(claims.exp * 1000).toISOString();
    }
    // The text JSON.stringify({ token, expires_at, player }) makes, with the player's fields
    // serialized once per roster record: about 1 µs of every login.
    sendJsonText(res, 200, `{"token":${JSON.stringify(token)},"expires_at":"${expiresText}","player":${publicFieldsJson(record)}}`);
  };
}

export function meRoute(deps: AppDeps): Handler {
  return async ({ req, res }) => {
    const { claims, record } = await deps.requireRosterPlayer(req);
    sendJson(res, 200, { player: publicFields(record), expires_at: new Date(claims.exp * 1000).toISOString() });
  };
}
