// The checks before any load: the target answers, looks like corral's app, accepts a login and,
// when exports are in the mix, the token they carry. Each refusal has its exit code: a run that
// would fail every request for a reason known now is not started.

import type { PinnedAddresses } from '../loopback.js';
import { ADMIN_TOKEN_UNSET, isAdminTokenUnset, SET_ADMIN_TOKEN } from './admin-token-unset.js';
import { checkUnavailable, shownText } from './before-load.js';
import { TargetClient, type Reply, type Sample } from './client.js';
import type { Credential } from './credentials.js';
import { formatExactDuration } from './duration.js';
import { inputError, LoadtestError, LOADTEST_EXIT, targetRefused, targetUnreachable } from './exit.js';
import { generatorHint } from './generator-limits.js';
import { asLockedLogin, describeAnswer, isTokenless, LOGIN_LOCKED, LOGIN_LOCKED_HINT } from './login-answer.js';
import type { Mix } from './mix.js';
import type { LoadtestOptions } from './options.js';
import { apiPath, noAnswerReason, prefixHint } from './target.js';
import { RATE_LIMIT_HINT } from './rate-limited.js';

/**
 * How long the checks before the load wait for each answer. Not --timeout: that is the load's
 * criterion, and a target slower than it is to be run and judged (its timeouts fail the step),
 * not refused as one that is not answering.
 */
export const PREFLIGHT_TIMEOUT_MS = 5000;

/** A preflight request this machine could not send (EMFILE, ...): no judgement of the target. */
function refuseIfGenerator(s: Sample): void {
  if (s.outcome !== 'generator') return;
  throw new LoadtestError('CORRAL_ERR_LOADTEST_GENERATOR', `this machine could not open a connection to the target (${s.error ?? 'unknown'}): ${generatorHint([s.error ?? ''])}`, LOADTEST_EXIT.USAGE);
}

/**
 * A redirect before the load (a proxy sending http:// to https://, a path moved): no request is
 * followed, so every login of the run would be answered the same and the steps would fail on
 * "unexpected answers" as though the users were too many, after the whole schedule.
 */
function refuseIfRedirected(target: URL, route: string, reply: Reply): void {
  const status = reply.sample.status;
  if (status < 300 || status >= 400) return;
  const to = reply.location === undefined ? 'with no Location' : `to ${shownText(reply.location)}`;
  throw targetRefused(`target ${target.href} answered ${route} with HTTP ${status}, a redirect ${to}: corral loadtest follows no redirect, so every request of the run would be answered so; give --target the URL the app answers at`);
}

/**
 * A 404 for a route that is not there (the app's `not_found`, or a page that is no answer of the
 * app's), not the app's answer about the sheet asked for.
 */
function isRouteMissing(reply: Reply): boolean {
  const error = (reply.json as { error?: unknown } | undefined)?.error;
  return error === undefined || error === 'not_found';
}

/**
 * Checks before any load: the target answers, looks like corral's app, accepts a login and, when
 * exports are in the mix, the token they carry (a typo there would fail every export of the run).
 */
export async function preflight(opts: LoadtestOptions, mix: Mix, credential: Credential, usersFile: string, notes: string[], pinned: PinnedAddresses | undefined): Promise<void> {
  const controller = new AbortController();
  const client = new TargetClient(opts.target, { timeoutMs: PREFLIGHT_TIMEOUT_MS, signal: controller.signal, clock: () => 0, ...(pinned ? { pinned } : {}) });
  try {
    const playersPath = apiPath(opts.target, '/api/players');
    const players = await client.send({ kind: 'read', method: 'GET', path: playersPath, parseJson: true });
    const s = players.sample;
    refuseIfGenerator(s);
    if (s.outcome === 'timeout') throw targetUnreachable(`target ${opts.target.origin} did not answer GET /api/players within ${formatExactDuration(PREFLIGHT_TIMEOUT_MS)}; is corral running there, and not stuck?`);
    if (s.outcome === 'connection') throw targetUnreachable(noAnswerReason(opts.target, s.error ?? s.outcome));
    const readMs = s.latencyUs / 1000;
    if (readMs > opts.timeoutMs) notes.push(`the target took ${Math.round(readMs)} ms to answer GET /api/players before the load, more than --timeout ${formatExactDuration(opts.timeoutMs)}: as slow during the run, requests time out`);
    if (s.status === 404) throw targetRefused(`target ${opts.target.href} answered 404 for GET ${playersPath}: it does not look like corral's bundled app${prefixHint(opts.target)}`);
    refuseIfRedirected(opts.target, `GET ${playersPath}`, players);
    // The roster answers anyone without a token: a 401 or 403 here is something in front of the
    // app asking for credentials the run never sends. Let through, the login's 401 that followed
    // was said as players' codes not matching the sheet, sending the operator to --users-file.
    if (s.status === 401 || s.status === 403) {
      throw targetRefused(`target ${opts.target.href} answered GET ${playersPath} with HTTP ${s.status}, a route corral's app answers to anyone without a token: something in front of it asks for credentials (an authenticating proxy), or it is not corral's app; give --target the URL the app answers at`);
    }
    checkUnavailable(opts.target, 'GET /api/players', players, notes);
    const loginPath = apiPath(opts.target, '/api/login');
    const login = await client.send({ kind: 'login', method: 'POST', path: loginPath, json: credential, parseJson: true });
    const l = login.sample;
    refuseIfGenerator(l);
    if (l.outcome === 'connection' || l.outcome === 'timeout') throw targetUnreachable(`target ${opts.target.origin} did not answer a login (${l.error ?? l.outcome})`);
    if (l.status === 404) throw targetRefused(`target ${opts.target.href} answered 404 for POST ${loginPath}: it does not look like corral's bundled app${prefixHint(opts.target)}`);
    refuseIfRedirected(opts.target, `POST ${loginPath}`, login);
    checkUnavailable(opts.target, 'POST /api/login', login, notes);
    if (l.status === 401 || l.status === 400) {
      // Not given --users-file: the bundled sample's codes, which a target with its own sheet does not have.
      const fix =
        opts.usersFile === undefined
          ? "the bundled sample players' codes do not match this target's sheet: pass --users-file with name,code pairs of its Players sheet"
          : "--users-file must list name,code pairs of the target's Players sheet";
      throw inputError(`the target refused the login of ${JSON.stringify(credential.name)} from ${usersFile} (HTTP ${l.status}): ${fix}`);
    }
    // A server answering 200 to every path (an SPA's fallback, a proxy's catch-all) logs nobody in:
    // the run would measure logins retried and call them a served load.
    if (isTokenless(login)) {
      throw targetRefused(`target ${opts.target.href} answered POST /api/login with ${describeAnswer(login)} and no token: it does not look like corral's bundled app (a single-page app's fallback or a proxy's catch-all answers every path); check --target`);
    }
    let exportStatus = 0;
    if (mix.export > 0 && opts.adminToken !== undefined) {
      const exportPath = apiPath(opts.target, '/api/export?sheet=Players');
      const exp = await client.send({ kind: 'export', method: 'GET', path: exportPath, headers: { authorization: `Bearer ${opts.adminToken}` }, parseJson: true });
      exportStatus = exp.sample.status;
      // Checked as the roster and the login are: unsaid, every export of the run failed the steps
      // as unexpected answers or connection errors of the target.
      refuseIfGenerator(exp.sample);
      if (exp.sample.outcome === 'connection') throw targetUnreachable(`target ${opts.target.origin} did not answer GET ${exportPath} (${exp.sample.error ?? 'connection'}), though it answered the roster and a login`);
      if (exp.sample.outcome === 'timeout') notes.push(`the target did not answer GET ${exportPath} within ${formatExactDuration(PREFLIGHT_TIMEOUT_MS)} before the load: as slow during the run, exports time out`);
      if (exportStatus === 404 && isRouteMissing(exp)) throw targetRefused(`target ${opts.target.href} answered 404 for GET ${exportPath}: it has no export route (a proxy in front that passes /api/players and /api/login alone?), so every export of the run would fail; leave exports out with --mix`);
      refuseIfRedirected(opts.target, `GET ${exportPath}`, exp);
      checkUnavailable(opts.target, 'GET /api/export', exp, notes);
      if ((exportStatus === 401 || exportStatus === 403) && isAdminTokenUnset(exp.json)) {
        throw inputError(`the target has no admin token set (GET /api/export answered HTTP ${exportStatus} ${ADMIN_TOKEN_UNSET}), so it answers no export: ${SET_ADMIN_TOKEN}; or leave exports out with --mix`);
      }
      if (exportStatus === 401 || exportStatus === 403) {
        throw inputError(`the target refused the admin token for GET /api/export (HTTP ${exportStatus}), so every export of the run would fail: check --admin-token (or CORRAL_ADMIN_TOKEN) against the target's CORRAL_ADMIN_TOKEN, or leave exports out with --mix`);
      }
    }
    // A login answered 429 login_locked is its name locked after failed logins, not the per-IP limit.
    const locked = asLockedLogin(login, credential.name).sample.error === LOGIN_LOCKED;
    if (locked) notes.push(`the login of ${JSON.stringify(credential.name)} from ${usersFile} answered 429 login_locked before the run started: ${LOGIN_LOCKED_HINT}`);
    if (s.status === 429 || (l.status === 429 && !locked) || exportStatus === 429) notes.push(`already rate limited before the run started: ${RATE_LIMIT_HINT}`);
  } finally {
    controller.abort();
    await client.close();
  }
}
