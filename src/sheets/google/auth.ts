// How requests prove who they are: a service account's OAuth access token (obtained with a
// signed JWT, cached, refreshed ahead of expiry, one refresh at a time however many callers
// need it), or an API key for public sheets (reads only).

import type { Dispatcher } from 'undici';
import type { ProxyRoute } from './proxy.js';
import type { Logger } from '../../log/logger.js';
import { RepeatedFailure } from '../../log/repeated-failure.js';
import { SheetsError } from '../errors.js';
import type { LoadedServiceAccount } from './credentials.js';
import { mapTransportError, type AuthIdentity, type ErrorContext } from './error-map.js';
import { CLOCK_SKEW_TOLERANCE_MS, mapTokenError } from './token-error-map.js';
import { httpCall, TransportError } from './http.js';
import { MAX_ASSERTION_LIFETIME_S, signJwt } from './jwt.js';
import { backoffDelay, GOOGLE_BACKOFF } from './retry.js';
import { JWT_BEARER_GRANT, type WireTokenResponse } from './wire.js';

export interface Authorization {
  readonly headers: Readonly<Record<string, string>>;
  /** Extra query parameters (`key=` for an API key). */
  readonly query: readonly [string, string][];
  /** The access token used, handed back to `rejected()` when Google answers 401. */
  readonly token?: string;
}

export interface RequestAuth {
  readonly identity: AuthIdentity;
  readonly canWrite: boolean;
  authorize(signal?: AbortSignal): Promise<Authorization>;
  /** Google answered 401 to a request made with this token: forget it so the next call fetches a new one. */
  rejected(token: string | undefined): void;
  /** The backend closes: a token fetch still in flight is nobody's call, and is given up. */
  close?(): void;
}

export class ApiKeyAuth implements RequestAuth {
  readonly identity: AuthIdentity = { kind: 'api-key' };
  readonly canWrite = false;
  readonly #query: readonly [string, string][];
  constructor(apiKey: string) {
    this.#query = [['key', apiKey]];
  }
  async authorize(): Promise<Authorization> {
    return { headers: {}, query: this.#query };
  }
  rejected(): void {}
}

export interface TokenAuthOptions {
  readonly account: LoadedServiceAccount;
  readonly scope: string;
  readonly dispatcher: Dispatcher;
  /** The proxy the dispatcher sends these calls through (proxy.ts), named in their errors. */
  readonly proxy?: ProxyRoute;
  readonly timeoutMs: number;
  readonly logger: Logger;
  readonly spreadsheetId: string;
  /**
   * Refresh when the token has less than this left (google-auth-library uses 5 minutes); at most
   * half the token's lifetime.
   */
  readonly refreshMarginMs?: number;
  readonly now?: () => number;
}

interface CachedToken {
  readonly token: string;
  readonly expiresAt: number;
  /** When it is refreshed: the margin before expiresAt, at most half its lifetime. */
  readonly refreshAt: number;
  /** Used no later than this: a request sent with it must reach Google before it expires. */
  readonly usableUntil: number;
}

export const DEFAULT_REFRESH_MARGIN_MS = 5 * 60_000;
/** A token is not sent in its last 10 s (the request's flight, the hosts' clocks). */
const LAST_USE_MS = 10_000;

/** How far this host's clock is behind the token endpoint's (ms), from its Date header; undefined without one. */
function clockBehind(date: string | undefined, sentAt: number, receivedAt: number): number | undefined {
  const t = date === undefined ? Number.NaN : Date.parse(date);
  if (Number.isNaN(t)) return undefined;
  // The header has whole seconds: its middle, against the middle of the exchange.
  return t + 500 - (sentAt + receivedAt) / 2;
}

export class ServiceAccountAuth implements RequestAuth {
  readonly identity: AuthIdentity;
  readonly canWrite: boolean;
  /** Token fetches made so far (a test and `corral check` read it). */
  fetches = 0;
  readonly #o: TokenAuthOptions;
  readonly #now: () => number;
  #backgroundFailures = 0;
  readonly #margin: number;
  /**
   * Failed background refreshes: said at the first, then at most once a minute, and when one works
   * (a line per failure was a line every few seconds until the token expired).
   */
  readonly #refreshFailures: RepeatedFailure;
  readonly #tokenUrl: URL;
  #cached: CachedToken | undefined;
  #inflight: Promise<CachedToken> | undefined;
  /**
   * Aborted by close(): a token fetch is tied to no caller's signal (one caller giving up must not
   * fail the others), so without this a fetch to a hung endpoint held the backend's close, and the
   * keeper's drain and data-dir lock, until SHEETS_TIMEOUT.
   */
  readonly #closing = new AbortController();
  /** A background refresh failed: the next is not tried before this (its backoff). */
  #nextBackgroundAt = 0;
  /**
   * Added to this host's clock to date JWTs: 0 until the token endpoint's Date header shows the
   * clock more than a minute off. Google refuses a JWT whose iat/exp are not around its own time
   * ("invalid_grant: ... reasonable timeframe"), so a host whose clock is off (no NTP, a VM resumed
   * from a snapshot) could never get a token again; it now dates them by Google's clock, and says so.
   */
  #clockOffsetMs = 0;

  constructor(options: TokenAuthOptions) {
    this.#o = options;
    this.#now = options.now ?? Date.now;
    this.#margin = options.refreshMarginMs ?? DEFAULT_REFRESH_MARGIN_MS;
    this.#refreshFailures = new RepeatedFailure(this.#now);
    this.#tokenUrl = new URL(options.account.key.token_uri);
    this.identity = { kind: 'service-account', clientEmail: options.account.key.client_email, source: options.account.source };
    this.canWrite = !options.scope.split(' ').every((s) => s.endsWith('.readonly'));
  }

  get clientEmail(): string {
    return this.#o.account.key.client_email;
  }

  /** Expiry (epoch ms) of the cached token, if any. */
  get expiresAt(): number | undefined {
    return this.#cached?.expiresAt;
  }

  async authorize(signal?: AbortSignal): Promise<Authorization> {
    const token = await this.getToken(signal);
    return { headers: { authorization: `Bearer ${token}` }, query: [], token };
  }

  close(): void {
    this.#closing.abort(new Error('the Sheets backend is closing'));
  }

  rejected(token: string | undefined): void {
    if (token !== undefined && this.#cached?.token === token) this.#cached = undefined;
  }

  /**
   * A valid access token. The cached one until its refresh time; from then while it is still
   * usable, the cached one too, with one refresh started in the background (callers did wait for
   * the refresh, a token fetch's latency on every call of that moment); with no usable token, a
   * fresh one, waited for. The margin is at most half the token's lifetime: a fixed 5 minutes
   * on tokens that live a minute (a proxy's, the emulator's --token-lifetime 60) refreshed on
   * every call.
   */
  async getToken(signal?: AbortSignal): Promise<string> {
    const cached = this.#cached;
    const now = this.#now();
    if (cached && now < cached.refreshAt) return cached.token;
    if (cached && now < cached.usableUntil) {
      if (!this.#inflight && now >= this.#nextBackgroundAt) this.#refreshInBackground(cached);
      return cached.token;
    }
    const fresh = (await this.#refresh(signal)).token;
    this.#refreshed();
    return fresh;
  }

  /** Resolves once no token fetch is in flight (tests wait for a background refresh with it). */
  async settled(): Promise<void> {
    await this.#inflight?.catch(() => undefined);
  }

  #refreshed(): void {
    this.#nextBackgroundAt = 0;
    this.#backgroundFailures = 0;
    this.#refreshFailures.ended((failures) =>
      this.#o.logger.info({ event: 'sheets.token_refreshed', failures }, `access token refreshed after ${failures} failed refreshes`),
    );
  }

  /**
   * One refresh, nobody waiting on it. A failure keeps the current token in use (a token endpoint
   * hiccup must not fail calls while it is valid), and the next try waits Google's backoff: with
   * the endpoint down, every call of the margin started one.
   */
  #refreshInBackground(cached: CachedToken): void {
    this.#refresh().then(
      () => this.#refreshed(),
      (err: unknown) => {
        if (this.#closing.signal.aborted) return; // given up by close(): no failure to tell
        this.#nextBackgroundAt = this.#now() + backoffDelay(this.#backgroundFailures++, GOOGLE_BACKOFF);
        this.#refreshFailures.failed((failures) =>
          this.#o.logger.warn(
            { event: 'sheets.token_refresh_failed', err: (err as SheetsError).toLog?.() ?? String(err), failures, expiresInS: Math.round((cached.expiresAt - this.#now()) / 1000) },
            'access token refresh failed; using the current token until it expires',
          ),
        );
      },
    );
  }

  #refresh(signal?: AbortSignal): Promise<CachedToken> {
    // A caller that already gave up starts no fetch: one started for it had nobody listening,
    // and its failure was an unhandled rejection (the keeper's uncaught exception, mid-drain).
    if (signal?.aborted) return Promise.reject(signal.reason);
    // One fetch for every concurrent caller. It is not tied to any caller's signal: one caller
    // giving up must not fail the others waiting on the same fetch.
    this.#inflight ??= this.#fetch().finally(() => {
      this.#inflight = undefined;
    });
    const shared = this.#inflight;
    if (!signal) return shared;
    return new Promise<CachedToken>((resolve, reject) => {
      const onAbort = () => reject(signal.reason);
      signal.addEventListener('abort', onAbort, { once: true });
      shared.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
    });
  }

  /** Takes the offset the endpoint's Date header shows; true when it changed the JWTs' dating. */
  #noteClock(behindMs: number): boolean {
    const offset = Math.abs(behindMs) > CLOCK_SKEW_TOLERANCE_MS ? Math.round(behindMs) : 0;
    if (Math.abs(offset - this.#clockOffsetMs) <= CLOCK_SKEW_TOLERANCE_MS) return false;
    this.#clockOffsetMs = offset;
    const s = Math.round(Math.abs(offset) / 1000);
    this.#o.logger.warn(
      { event: 'sheets.clock_skew', clockBehindMs: offset, tokenEndpoint: this.#tokenUrl.host },
      offset === 0
        ? "this host's clock agrees with the token endpoint's again; JWTs are dated by it"
        : `this host's clock is ${s} s ${offset > 0 ? 'behind' : 'ahead of'} the token endpoint's (its Date header): JWTs are dated by the endpoint's clock; fix the clock (timedatectl / NTP)`,
    );
    return true;
  }

  async #fetch(): Promise<CachedToken> {
    const key = this.#o.account.key;
    const started = this.#now();
    const iat = Math.floor((started + this.#clockOffsetMs) / 1000);
    const assertion = signJwt(
      { iss: key.client_email, scope: this.#o.scope, aud: key.token_uri, iat, exp: iat + MAX_ASSERTION_LIFETIME_S },
      this.#o.account.privateKey,
      key.private_key_id,
    );
    const body = new URLSearchParams({ grant_type: JWT_BEARER_GRANT, assertion }).toString();
    const ctx: ErrorContext = {
      operation: 'token',
      spreadsheetId: this.#o.spreadsheetId,
      ranges: [],
      auth: this.identity,
      write: false,
      host: this.#tokenUrl.host,
      ...(this.#o.proxy ? { proxy: this.#o.proxy } : {}),
    };
    this.fetches += 1;
    let res;
    try {
      res = await httpCall(this.#o.dispatcher, {
        origin: this.#tokenUrl.origin,
        path: `${this.#tokenUrl.pathname}${this.#tokenUrl.search}`,
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
        body,
        timeoutMs: this.#o.timeoutMs,
        signal: this.#closing.signal,
      });
    } catch (err) {
      if (err instanceof TransportError) throw mapTransportError(err, ctx);
      throw err;
    }
    const behindMs = clockBehind(res.headers.date, started, this.#now());
    const corrected = behindMs !== undefined && this.#noteClock(behindMs);
    if (res.status !== 200) throw mapTokenError(res, ctx, { behindMs, corrected });
    let parsed: Partial<WireTokenResponse>;
    try {
      parsed = JSON.parse(res.body.toString('utf8')) as Partial<WireTokenResponse>;
    } catch (err) {
      throw new SheetsError('CORRAL_ERR_SHEETS_UPSTREAM', `the token endpoint ${ctx.host} answered 200 with a body that is not JSON`, {
        status: 200,
        reason: 'BAD_BODY',
        applied: 'no',
        retryable: true,
        cause: err,
      });
    }
    if (typeof parsed.access_token !== 'string' || parsed.access_token === '' || typeof parsed.expires_in !== 'number') {
      throw new SheetsError('CORRAL_ERR_SHEETS_UPSTREAM', `the token endpoint ${ctx.host} answered 200 without access_token/expires_in`, {
        status: 200,
        reason: 'BAD_BODY',
        applied: 'no',
        retryable: true,
      });
    }
    // Count the lifetime from when we asked, not when the answer came: errs on the early side.
    const lifetime = parsed.expires_in * 1000;
    const expiresAt = started + lifetime;
    const margin = Math.min(this.#margin, lifetime / 2);
    const cached = { token: parsed.access_token, expiresAt, refreshAt: expiresAt - margin, usableUntil: expiresAt - Math.min(LAST_USE_MS, margin / 2) };
    this.#cached = cached;
    this.#o.logger.debug({ clientEmail: key.client_email, expiresInS: parsed.expires_in, scope: this.#o.scope }, 'sheets access token fetched');
    return cached;
  }
}
