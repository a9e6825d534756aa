// corral /admin dashboard: the admin token. Kept in sessionStorage (or taken once from #token=…
// in the URL), checked before it is sent, and the API's refusals worded for the operator.
// Loaded before dashboard.js; shares the page's global scope ($, set, clock are dashboard.js's,
// used only once the page runs).
/* global $, set, clock */
'use strict';

const TOKEN_KEY = 'corral-admin-token';

// A header value is bytes: fetch refuses, with a TypeError and before sending anything, a token
// with a character over U+00FF (a curly quote ’ pasted from a document or a chat) or a NUL, CR or
// LF. Taken as a network failure, that read "UNREACHABLE: is corral running?" and the page kept
// polling. Such a token is refused here, saying which character and where.
function tokenProblem(t) {
  let pos = 0;
  for (const ch of t) {
    pos++;
    const cp = ch.codePointAt(0);
    if (cp > 0xff || cp === 0 || cp === 0x0a || cp === 0x0d) {
      const code = `U+${cp.toString(16).toUpperCase().padStart(4, '0')}`;
      const shown = cp > 0x20 ? `"${ch}" (${code})` : code;
      return `this token cannot be sent: character ${pos}, ${shown}, is not allowed in an HTTP header (Latin-1 only); type CORRAL_ADMIN_TOKEN again without it (a quote pasted from a document is often the cause)`;
    }
  }
  return '';
}

// A token put in the query (/admin?token=…) is not taken: unlike the fragment, the query goes to
// the server with the request line, and a proxy in front writes it to its access log (nginx's
// default format does). The page showed a blank form and left the secret in the address bar and
// the history; it leaves them now, and the form says where the token goes.
const QUERY_TOKEN = /(?:^\?|&)token=/;
const MISPLACED_TOKEN = 'the token goes after # in the address (/admin#token=…), not after ?: a query is sent to the server, and a proxy in front may log it; it was removed from the address: type CORRAL_ADMIN_TOKEN here';
const withoutQueryToken = (search) => {
  const kept = search.replace(/^\?/, '').split('&').filter((p) => p !== '' && !p.startsWith('token='));
  return kept.length ? `?${kept.join('&')}` : '';
};

/** Takes the token from #token=…; returns why it was refused, or '' (none there, or taken). */
function takeTokenFromHash() {
  const misplaced = QUERY_TOKEN.test(location.search);
  const search = misplaced ? withoutQueryToken(location.search) : location.search;
  // The rest of the fragment: CORRAL_ADMIN_TOKEN may hold a & (its settings allow it), and one
  // pasted as typed was cut there, read as a wrong token.
  const m = /(?:^#|&)token=(.+)$/.exec(location.hash);
  if (!m) {
    if (!misplaced) return '';
    history.replaceState(null, '', location.pathname + search + location.hash);
    return MISPLACED_TOKEN;
  }
  let value = m[1];
  // A token with a stray % is not an escape: take it as typed rather than stop the page.
  try { value = decodeURIComponent(value); } catch { /* kept as is */ }
  // Do not leave the secret in the address bar or the history.
  history.replaceState(null, '', location.pathname + search);
  const problem = tokenProblem(value);
  // Not kept: a token stored before must not be used as if this one had been.
  if (problem) sessionStorage.removeItem(TOKEN_KEY);
  else sessionStorage.setItem(TOKEN_KEY, value);
  return problem;
}

function token() { return sessionStorage.getItem(TOKEN_KEY) || ''; }

/** A refusal of the token; `unset` when the master has none configured, so no token can do. */
class AuthError extends Error {
  constructor(message, unset = false) {
    super(message);
    this.unset = unset;
  }
}

// The API's own messages are for scripts ("send Authorization: Bearer $CORRAL_ADMIN_TOKEN"), and
// the same on every wrong try. The page words its codes for whoever typed the token, with the time,
// so a second wrong try reads as a new answer. No token sent (none stored yet) is no refusal: the
// form just asks for one.
function authRefusal(status, body) {
  if (body.error === 'admin_token_unset') return new AuthError("this corral has no CORRAL_ADMIN_TOKEN: set it in its settings and reload it (corral reload)", true);
  if (!token()) return new AuthError('');
  if (body.error === 'unauthorized') return new AuthError(`this token was refused: it is not this corral's CORRAL_ADMIN_TOKEN (at ${clock(new Date())})`);
  return new AuthError(body.message || `HTTP ${status}`);
}

// The header stays on screen with the form: figures read with a token now refused (corral
// restarted with another one) must not go on looking live there.
function clearHeader(updated) {
  const status = $('status');
  status.textContent = '…';
  status.dataset.status = '';
  $('health').hidden = true;
  // Nothing is shown as last known any more: not greyed as such ("last known: generation –").
  delete document.querySelector('header').dataset.stale;
  for (const id of ['generation', 'master-pid', 'master-uptime']) set(id, '–');
  set('updated', updated);
}

function showTokenForm(message) {
  clearHeader(message ? 'token refused' : 'never');
  showForm(true);
  set('token-error', message || '');
  $('token-input').focus();
}

// A master without a token refuses every token: no field to type one in, only what to do. The
// page keeps asking (dashboard.js), and the form comes once that corral is restarted with one.
function showTokenUnset(message) {
  clearHeader('no admin token configured');
  showForm(false);
  set('token-error', message);
}

function showForm(askForToken) {
  $('token-form').hidden = false;
  for (const id of ['token-label', 'token-input', 'token-submit']) $(id).hidden = !askForToken;
  $('main').hidden = true;
}
