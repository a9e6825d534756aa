// The Google implementation of SheetsBackend (also serves the emulator: only SHEETS_API_URL and
// the key's token_uri differ). Built from the frozen settings; never reads the environment.

import { Agent } from 'undici';
import type { Settings } from '../../config/schema.js';
import type { Logger } from '../../log/logger.js';
import type { AppendResult, RetryListener, SheetsBackend, ValueRange } from '../backend.js';
import { SheetsError } from '../errors.js';
import { ApiKeyAuth, ServiceAccountAuth, type RequestAuth } from './auth.js';
import { SheetsApiClient, type AttemptInfo, type ClientStats } from './client.js';
import { loadServiceAccount } from './credentials.js';
import { GOOGLE_BACKOFF, type RetryPolicy } from './retry.js';
import { SCOPE_READONLY, SCOPE_READWRITE, type ValueInputOption, type WireBatchUpdateValuesResponse, type WireUpdateValuesResponse } from './wire.js';

export type GoogleSettings = Pick<
  Settings,
  'SHEET_ID' | 'SHEETS_API_URL' | 'GOOGLE_APPLICATION_CREDENTIALS' | 'GOOGLE_SERVICE_ACCOUNT_JSON' | 'SHEETS_API_KEY' | 'SHEETS_TIMEOUT'
>;

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
  readonly beforeAttempt?: (info: AttemptInfo, signal?: AbortSignal) => Promise<void> | void;
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

export const DEFAULT_API_URL = 'https://sheets.googleapis.com';

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
  readonly #agent: Agent;
  readonly #valueInputOption: ValueInputOption;
  readonly #now: () => number;
  #closing: Promise<void> | undefined;

  constructor(parts: { spreadsheetId: string; apiUrl: string; auth: RequestAuth; agent: Agent; api: SheetsApiClient; readOnly: boolean; valueInputOption: ValueInputOption; now: () => number }) {
    this.spreadsheetId = parts.spreadsheetId;
    this.auth = parts.auth;
    this.#agent = parts.agent;
    this.api = parts.api;
    this.readOnly = parts.readOnly;
    this.#valueInputOption = parts.valueInputOption;
    this.#now = parts.now;
    const who = parts.auth.identity.kind === 'service-account' ? `as ${parts.auth.identity.clientEmail}` : 'with an API key';
    this.source = `google ${parts.spreadsheetId} via ${parts.apiUrl} ${who}`;
    this.destination = `google sheet ${parts.spreadsheetId} via ${parts.apiUrl.replace(/\/+$/, '')}`;
    this.description = `google sheet ${shortId(parts.spreadsheetId)} via ${parts.apiUrl} ${who}${parts.readOnly ? ' (read-only)' : ''}`;
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
  const agent = new Agent({
    connections: options.connections ?? 16,
    keepAliveTimeout: 30_000,
    connect: { timeout: timeoutMs },
    // Our own deadline (timeoutMs) covers headers and body; undici's would fire with less context.
    headersTimeout: 0,
    bodyTimeout: 0,
  });
  let auth: RequestAuth;
  let readOnly = options.readOnly ?? false;
  if (account) {
    auth = new ServiceAccountAuth({
      account,
      scope: readOnly ? SCOPE_READONLY : SCOPE_READWRITE,
      dispatcher: agent,
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
    timeoutMs,
    retry: { ...GOOGLE_BACKOFF, ...options.retry },
    logger,
    ...(options.random ? { random: options.random } : {}),
    ...(options.maxResponseBytes === undefined ? {} : { maxResponseBytes: options.maxResponseBytes }),
    ...(options.beforeAttempt ? { beforeAttempt: options.beforeAttempt } : {}),
    ...(options.afterAttempt ? { afterAttempt: options.afterAttempt } : {}),
    now,
  });
  return new GoogleBackend({ spreadsheetId, apiUrl, auth, agent, api, readOnly, valueInputOption: options.valueInputOption ?? 'RAW', now });
}
