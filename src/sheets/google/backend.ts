// The Google implementation of SheetsBackend (also serves the emulator: only SHEETS_API_URL and
// the key's token_uri differ). Built from the frozen settings; never reads the environment.

import type { Dispatcher } from 'undici';
import type { Settings } from '../../config/schema.js';
import type { Logger } from '../../log/logger.js';
import type { AppendResult, RetryListener, SheetsBackend, ValueRange } from '../backend.js';
import { DEFAULT_API_URL, googleDestination } from '../destination.js';
import { SheetsError } from '../errors.js';
import { ApiKeyAuth, ServiceAccountAuth, type RequestAuth } from './auth.js';
import { SheetsApiClient, type AttemptInfo, type AttemptSent, type ClientStats } from './client.js';
import { loadServiceAccount } from './credentials.js';
import { googleDispatcher, proxyRoute, routeText, type ProxyRoute, type ProxySettings } from './proxy.js';
import { GOOGLE_BACKOFF, type RetryPolicy } from './retry.js';
import { SCOPE_READONLY, SCOPE_READWRITE, type ValueInputOption, type WireBatchUpdateValuesResponse, type WireUpdateValuesResponse } from './wire.js';

export type GoogleSettings = Pick<
  Settings,
  'SHEET_ID' | 'SHEETS_API_URL' | 'GOOGLE_APPLICATION_CREDENTIALS' | 'GOOGLE_SERVICE_ACCOUNT_JSON' | 'SHEETS_API_KEY' | 'SHEETS_TIMEOUT'
> &
  // Optional: a caller that names no proxy (a test's settings) goes direct.
  Partial<ProxySettings>;

export interface GoogleBackendOptions {
  /** Ask for the spreadsheets.readonly scope and refuse writes locally (a process that only reads). */
  readonly readOnly?: boolean;
  /** Overrides of Google's backoff (tests shrink baseDelayMs; `corral check` lowers maxAttempts). */
  readonly retry?: Partial<RetryPolicy>;
  /** Per-attempt deadline in ms; default SHEETS_TIMEOUT seconds. */
  readonly timeoutMs?: number;
  /** RAW (default: what the client sent is stored as text, so `=IMPORTXML(...)` is never run) or USER_ENTERED. */
  readonly valueInputOption?: ValueInputOption;
  /** Refresh the access token when less than this is left (default 5 min). */
  readonly refreshMarginMs?: number;
  /** Awaited before every HTTP request, retries included, once its access token is in hand: where the keeper's quota bucket paces calls. */
  readonly beforeAttempt?: (info: AttemptInfo, signal?: AbortSignal) => Promise<AttemptSent> | AttemptSent;
  /** Told of each such request's outcome (undefined: 2xx): where the keeper's quota bucket hears of Google's 429s. */
  readonly afterAttempt?: (info: AttemptInfo, error: SheetsError | undefined) => void;
  /** Max sockets per origin (default 16). */
  readonly connections?: number;
  /** Answers over this many bytes fail without a retry (default 64 MiB; tests lower it). */
  readonly maxResponseBytes?: number;
  /** Injectable clock and randomness for tests. */
  readonly now?: () => number;
  readonly random?: () => number;
}

export interface CredentialCheck {
  readonly kind: 'service-account' | 'api-key';
  readonly clientEmail?: string;
  /** Seconds the fetched access token stays valid. */
  readonly tokenExpiresInS?: number;
}

export interface GoogleBackendStats extends ClientStats {
  readonly tokenFetches: number;
}

export { DEFAULT_API_URL } from '../destination.js';

/**
 * ` through the proxy X (HTTPS_PROXY)`, or '' when every call goes direct; the token requests
 * named apart when they go another way (NO_PROXY names one host and not the other).
 */
export function proxyText(proxy: GoogleBackend['proxy']): string {
  const { api, token, tokens } = proxy;
  if (!api && !token) return '';
  if (!api) return ` (token requests through the proxy ${routeText(token)})`;
  if (!tokens || routeText(api) === routeText(token)) return ` through the proxy ${routeText(api)}`;
  return ` through the proxy ${routeText(api)} (token requests: ${routeText(token)})`;
}

function shortId(id: string): string {
  return id.length > 12 ? `${id.slice(0, 8)}…` : id;
}

export class GoogleBackend implements SheetsBackend {
  readonly kind = 'google' as const;
  readonly description: string;
  readonly source: string;
  readonly destination: string;
  readonly spreadsheetId: string;
  readonly readOnly: boolean;
  /** The full values API (update, batchUpdate, major dimensions) beyond the SheetsBackend interface. */
  readonly api: SheetsApiClient;
  readonly auth: RequestAuth;
  /**
   * The proxy the Sheets API calls go through (undefined: direct), and the token requests when
   * they differ (a token_uri NO_PROXY names): said in the startup line, `corral check` and errors.
   */
  readonly proxy: { readonly api: ProxyRoute | undefined; readonly token: ProxyRoute | undefined; /** A service account: token requests are made. */ readonly tokens: boolean };
  readonly #agent: Dispatcher;
  readonly #valueInputOption: ValueInputOption;
  readonly #now: () => number;
  #closing: Promise<void> | undefined;

  constructor(parts: {
    spreadsheetId: string;
    apiUrl: string;
    auth: RequestAuth;
    agent: Dispatcher;
    api: SheetsApiClient;
    readOnly: boolean;
    valueInputOption: ValueInputOption;
    now: () => number;
    proxy: GoogleBackend['proxy'];
  }) {
    this.spreadsheetId = parts.spreadsheetId;
    this.proxy = parts.proxy;
    this.auth = parts.auth;
    this.#agent = parts.agent;
    this.api = parts.api;
    this.readOnly = parts.readOnly;
    this.#valueInputOption = parts.valueInputOption;
    this.#now = parts.now;
    const who = parts.auth.identity.kind === 'service-account' ? `as ${parts.auth.identity.clientEmail}` : 'with an API key';
    // The API URL as the parser writes it, without trailing slashes: the source names the sheet's
    // keys in Redis (shared-keys.ts), and hosts whose SHEETS_API_URL differed by a slash or the
    // host's case met under two prefixes, sharing nothing while each said it shared.
    this.source = `google ${parts.spreadsheetId} via ${sameApiUrl(parts.apiUrl)} ${who}`;
    this.destination = googleDestination(parts.spreadsheetId, parts.apiUrl);
    // Not in source or destination: those name the sheet (the journal's and Redis's keys), which a
    // proxy does not change.
    this.description = `google sheet ${shortId(parts.spreadsheetId)} via ${parts.apiUrl} ${who}${parts.readOnly ? ' (read-only)' : ''}${proxyText(parts.proxy)}`;
  }

  async getValues(range: string, signal?: AbortSignal, onRetry?: RetryListener): Promise<ValueRange> {
    return this.api.getValues(range, signal, 'ROWS', onRetry);
  }

  async batchGetValues(ranges: readonly string[], signal?: AbortSignal): Promise<ValueRange[]> {
    return this.api.batchGetValues(ranges, signal);
  }

  async appendValues(range: string, rows: readonly (readonly string[])[], signal?: AbortSignal): Promise<AppendResult> {
    this.#assertWritable('append');
    const res = await this.api.appendValues(range, rows, { valueInputOption: this.#valueInputOption, insertDataOption: 'INSERT_ROWS' }, signal);
    return { updatedRange: res.updates.updatedRange, updatedRows: res.updates.updatedRows ?? rows.length };
  }

  async updateValues(range: string, rows: readonly (readonly string[])[], signal?: AbortSignal): Promise<WireUpdateValuesResponse> {
    this.#assertWritable('update');
    return this.api.updateValues(range, rows, { valueInputOption: this.#valueInputOption }, signal);
  }

  async batchUpdateValues(data: readonly { readonly range: string; readonly values: readonly (readonly string[])[] }[], signal?: AbortSignal): Promise<WireBatchUpdateValuesResponse> {
    this.#assertWritable('batchUpdate');
    return this.api.batchUpdateValues(data, { valueInputOption: this.#valueInputOption }, signal);
  }

  /** Fetches an access token now (service account) so `corral check` can tell key problems from sharing problems. */
  async verifyCredentials(signal?: AbortSignal): Promise<CredentialCheck> {
    if (this.auth instanceof ServiceAccountAuth) {
      await this.auth.getToken(signal);
      const expiresAt = this.auth.expiresAt;
      return {
        kind: 'service-account',
        clientEmail: this.auth.clientEmail,
        ...(expiresAt === undefined ? {} : { tokenExpiresInS: Math.round((expiresAt - this.#now()) / 1000) }),
      };
    }
    return { kind: 'api-key' };
  }

  stats(): GoogleBackendStats {
    return { ...this.api.stats(), tokenFetches: this.auth instanceof ServiceAccountAuth ? this.auth.fetches : 0 };
  }

  /** Idempotent. Waits for in-flight requests, then closes the sockets. */
  close(): Promise<void> {
    this.auth.close?.();
    this.#closing ??= this.#agent.close().catch(() => this.#agent.destroy());
    return this.#closing;
  }

  #assertWritable(what: string): void {
    if (!this.readOnly && this.auth.canWrite) return;
    const why =
      this.auth.identity.kind === 'api-key'
        ? 'SHEETS_API_KEY allows reads only; writes need a service account (GOOGLE_APPLICATION_CREDENTIALS or GOOGLE_SERVICE_ACCOUNT_JSON) shared as Editor'
        : 'this Sheets backend was created read-only (spreadsheets.readonly scope)';
    throw new SheetsError('CORRAL_ERR_SHEETS_READ_ONLY', `${what} refused: ${why}`, { reason: 'READ_ONLY', applied: 'no', retryable: false });
  }
}

/**
 * Builds the Google backend from settings. Throws a SheetsError (CORRAL_ERR_SHEETS_CREDENTIALS)
 * when SHEET_ID is unset or no usable credential is configured. A service-account key wins over
 * SHEETS_API_KEY; with only an API key the backend is read-only.
 */
export function createGoogleBackend(settings: GoogleSettings, logger: Logger, options: GoogleBackendOptions = {}): GoogleBackend {
  const spreadsheetId = settings.SHEET_ID;
  if (spreadsheetId === undefined || spreadsheetId === '') {
    throw new SheetsError('CORRAL_ERR_SHEETS_CREDENTIALS', 'SHEET_ID is not set: the Google backend needs the spreadsheet id (unset SHEET_ID uses the offline sheet)', {
      reason: 'CONFIG',
      applied: 'no',
      retryable: false,
    });
  }
  const apiUrl = settings.SHEETS_API_URL ?? DEFAULT_API_URL;
  const timeoutMs = options.timeoutMs ?? settings.SHEETS_TIMEOUT * 1000;
  const now = options.now ?? Date.now;
  const account = loadServiceAccount(settings);
  if (!account && !settings.SHEETS_API_KEY) {
    throw new SheetsError(
      'CORRAL_ERR_SHEETS_CREDENTIALS',
      'SHEET_ID is set but no credentials are: set GOOGLE_APPLICATION_CREDENTIALS (path of a service-account JSON key) or GOOGLE_SERVICE_ACCOUNT_JSON, or SHEETS_API_KEY for a public sheet (reads only)',
      { reason: 'CONFIG', applied: 'no', retryable: false },
    );
  }
  const agent = googleDispatcher(settings, {
    connections: options.connections ?? 16,
    keepAliveTimeout: 30_000,
    connect: { timeout: timeoutMs },
    // Our own deadline (timeoutMs) covers headers and body; undici's would fire with less context.
    headersTimeout: 0,
    bodyTimeout: 0,
  });
  const apiProxy = proxyRoute(settings, new URL(apiUrl));
  const tokenProxy = account ? proxyRoute(settings, new URL(account.key.token_uri)) : undefined;
  let auth: RequestAuth;
  let readOnly = options.readOnly ?? false;
  if (account) {
    auth = new ServiceAccountAuth({
      account,
      scope: readOnly ? SCOPE_READONLY : SCOPE_READWRITE,
      dispatcher: agent,
      ...(tokenProxy ? { proxy: tokenProxy } : {}),
      timeoutMs,
      logger,
      spreadsheetId,
      ...(options.refreshMarginMs === undefined ? {} : { refreshMarginMs: options.refreshMarginMs }),
      now,
    });
  } else {
    auth = new ApiKeyAuth(settings.SHEETS_API_KEY ?? '');
    readOnly = true;
  }
  const api = new SheetsApiClient({
    spreadsheetId,
    apiUrl,
    auth,
    dispatcher: agent,
    ...(apiProxy ? { proxy: apiProxy } : {}),
    timeoutMs,
    retry: { ...GOOGLE_BACKOFF, ...options.retry },
    logger,
    ...(options.random ? { random: options.random } : {}),
    ...(options.maxResponseBytes === undefined ? {} : { maxResponseBytes: options.maxResponseBytes }),
    ...(options.beforeAttempt ? { beforeAttempt: options.beforeAttempt } : {}),
    ...(options.afterAttempt ? { afterAttempt: options.afterAttempt } : {}),
    now,
  });
  return new GoogleBackend({ spreadsheetId, apiUrl, auth, agent, api, readOnly, valueInputOption: options.valueInputOption ?? 'RAW', now, proxy: { api: apiProxy, token: tokenProxy, tokens: account !== undefined } });
}

/** `apiUrl` as one spelling (the default's, https://sheets.googleapis.com, as written). */
function sameApiUrl(apiUrl: string): string {
  try {
    return new URL(apiUrl).href.replace(/\/+$/, '');
  } catch {
    return apiUrl.replace(/\/+$/, '');
  }
}
