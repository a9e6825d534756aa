// The Sheets API v4 values calls, over undici, with Google's backoff on 429/5xx/timeouts.
// Appends are the one non-idempotent call: they are retried only while Google certainly has not
// applied them (error-map.ts explains how that is decided). values.update and batchUpdate write
// the same cells on a resend, so they are retried like reads. What each call asks and how its
// answer is read are values-calls.ts's and values-answers.ts's; this file makes any of them.

import type { Dispatcher } from 'undici';
import type { ProxyRoute } from './proxy.js';
import type { Logger } from '../../log/logger.js';
import { RepeatedFailure } from '../../log/repeated-failure.js';
import { SheetsError } from '../errors.js';
import type { RequestAuth } from './auth.js';
import { make, mapApiError, mapBadBody, mapTransportError, type ErrorContext, type SheetsOperation } from './error-map.js';
import { httpCall, TransportError, type HttpResponse } from './http.js';
import { retryDelay, sleep as defaultSleep, type RetryPolicy } from './retry.js';
import { monotonicNow } from '../../clock.js';
import { BadBody, type StringValueRange } from './values-answers.js';
import { appendValuesCall, batchGetValuesCall, batchUpdateValuesCall, getValuesCall, updateValuesCall, type CallSpec } from './values-calls.js';
import type {
  InsertDataOption,
  MajorDimension,
  ValueInputOption,
  WireAppendValuesResponse,
  WireBatchUpdateValuesResponse,
  WireUpdateValuesResponse,
} from './wire.js';

/**
 * Told before every HTTP request to the Sheets API, retries included, once its credential is in
 * hand (a call whose token fetch failed never reaches Google, and is not told): the keeper's quota
 * bucket hooks in here.
 */
export interface AttemptInfo {
  readonly operation: SheetsOperation;
  readonly kind: 'read' | 'write';
  /** 1 for the first attempt. */
  readonly attempt: number;
}

/** What beforeAttempt may hand back: called when the request leaves. */
export type AttemptSent = void | (() => void);

export interface SheetsApiClientOptions {
  readonly spreadsheetId: string;
  /** SHEETS_API_URL: `https://sheets.googleapis.com`, or the emulator's URL. */
  readonly apiUrl: string;
  readonly auth: RequestAuth;
  readonly dispatcher: Dispatcher;
  /** The proxy the dispatcher sends these calls through (proxy.ts), named in their errors. */
  readonly proxy?: ProxyRoute;
  /** Per attempt (SHEETS_TIMEOUT). */
  readonly timeoutMs: number;
  /** Answers over this many bytes fail, not retried (default http.ts's MAX_BODY_BYTES). */
  readonly maxResponseBytes?: number;
  readonly retry: RetryPolicy;
  readonly logger: Logger;
  readonly random?: () => number;
  readonly sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
  /**
   * May resolve to a function, called when the request leaves (connected, before its first byte):
   * the time from the quota's grant to then (a free connection of the pool, its TLS) is the
   * quota's to count, since Google counts the call when it arrives.
   */
  readonly beforeAttempt?: (info: AttemptInfo, signal?: AbortSignal) => Promise<AttemptSent> | AttemptSent;
  /**
   * Told of the outcome of every request told to beforeAttempt (undefined: Google answered 2xx),
   * before any retry's wait: the keeper holds its quota bucket on a 429 here.
   */
  readonly afterAttempt?: (info: AttemptInfo, error: SheetsError | undefined) => void;
  /** Clock of the once-a-minute retry line (tests). */
  readonly now?: () => number;
}

export interface ClientStats {
  /** HTTP requests sent per operation, retries included (not the attempts whose token fetch failed). */
  readonly attempts: Record<SheetsOperation, number>;
  /** Attempts that were retries. */
  readonly retries: number;
}

/** The same error, as an object of this call's own (see #execute). */
function ownCopy(err: SheetsError): SheetsError {
  const copy = new SheetsError(err.code, err.message, {
    ...(err.status === undefined ? {} : { status: err.status }),
    reason: err.reason,
    applied: err.applied,
    retryable: err.retryable,
    ...(err.googleMessage === undefined ? {} : { googleMessage: err.googleMessage }),
    ...(err.retryAfterMs === undefined ? {} : { retryAfterMs: err.retryAfterMs }),
    ...(err.cause === undefined ? {} : { cause: err.cause }),
  });
  if (err.stack !== undefined) copy.stack = err.stack;
  return copy;
}

export class SheetsApiClient {
  readonly spreadsheetId: string;
  readonly #o: SheetsApiClientOptions;
  readonly #origin: string;
  readonly #prefix: string;
  readonly #host: string;
  readonly #sleep: (ms: number, signal?: AbortSignal) => Promise<void>;
  readonly #attempts: Record<SheetsOperation, number> = {
    'values.get': 0,
    'values.batchGet': 0,
    'values.append': 0,
    'values.update': 0,
    'values.batchUpdate': 0,
  };
  #retries = 0;
  /**
   * While Google fails (5xx, 429, unreachable), every call retries, and a line per retry was a line
   * every second or two for as long as it lasted: said at the first, then at most once a minute per
   * operation with the count. The read tier and the flusher say when it works again.
   */
  readonly #retryLines = new Map<SheetsOperation, RepeatedFailure>();

  constructor(options: SheetsApiClientOptions) {
    this.#o = options;
    this.spreadsheetId = options.spreadsheetId;
    const base = new URL(options.apiUrl);
    this.#origin = base.origin;
    this.#prefix = base.pathname.replace(/\/+$/, '');
    this.#host = base.host;
    this.#sleep = options.sleep ?? defaultSleep;
  }

  stats(): ClientStats {
    return { attempts: { ...this.#attempts }, retries: this.#retries };
  }

  /** spreadsheets.values.get; `onRetry` is told of each failed attempt that will be retried. */
  getValues(range: string, signal?: AbortSignal, majorDimension: MajorDimension = 'ROWS', onRetry?: (err: SheetsError) => void): Promise<StringValueRange> {
    return this.#execute(getValuesCall(range, majorDimension, onRetry), signal);
  }

  /** spreadsheets.values.batchGet: one request, one `ranges=` parameter per range. */
  batchGetValues(ranges: readonly string[], signal?: AbortSignal, majorDimension: MajorDimension = 'ROWS'): Promise<StringValueRange[]> {
    if (ranges.length === 0) return Promise.resolve([]);
    return this.#execute(batchGetValuesCall(ranges, majorDimension), signal);
  }

  /** spreadsheets.values.append with insertDataOption (INSERT_ROWS by default). Never resent once Google may have applied it. */
  appendValues(
    range: string,
    rows: readonly (readonly string[])[],
    options: { valueInputOption?: ValueInputOption; insertDataOption?: InsertDataOption } = {},
    signal?: AbortSignal,
  ): Promise<WireAppendValuesResponse> {
    return this.#execute(appendValuesCall(this.spreadsheetId, range, rows, options), signal);
  }

  /** spreadsheets.values.update (PUT): idempotent, so retried like a read. */
  updateValues(range: string, rows: readonly (readonly string[])[], options: { valueInputOption?: ValueInputOption } = {}, signal?: AbortSignal): Promise<WireUpdateValuesResponse> {
    return this.#execute(updateValuesCall(range, rows, options), signal);
  }

  /** spreadsheets.values.batchUpdate: several ranges written in one request. */
  batchUpdateValues(
    data: readonly { readonly range: string; readonly values: readonly (readonly string[])[] }[],
    options: { valueInputOption?: ValueInputOption } = {},
    signal?: AbortSignal,
  ): Promise<WireBatchUpdateValuesResponse> {
    return this.#execute(batchUpdateValuesCall(data, options), signal);
  }

  async #execute<T>(spec: CallSpec<T>, signal?: AbortSignal): Promise<T> {
    const ctx: ErrorContext = {
      operation: spec.operation,
      spreadsheetId: this.spreadsheetId,
      ranges: spec.ranges,
      auth: this.#o.auth.identity,
      write: spec.write,
      host: this.#host,
      ...(this.#o.proxy ? { proxy: this.#o.proxy } : {}),
    };
    const policy = this.#o.retry;
    let backoffs = 0;
    let refreshedAfter401 = false;
    for (let attempt = 1; ; attempt += 1) {
      const info: AttemptInfo = { operation: spec.operation, kind: spec.write ? 'write' : 'read', attempt };
      let token: string | undefined;
      let error: SheetsError;
      let sent = false;
      try {
        let authz = await this.#o.auth.authorize(signal);
        let onSent: AttemptSent = undefined;
        // The quota token only once there is a credential to send: one taken first was spent on
        // a call that never left when the token endpoint refused the key (every read of a revoked
        // key used up the read quota, and a read of a tab nobody had read waited for a token to
        // make an attempt certain to fail). The token is asked again after the quota's wait (the
        // cached one, unless it expired meanwhile), so the call is sent with a valid one.
        if (this.#o.beforeAttempt) {
          onSent = await this.#o.beforeAttempt(info, signal);
          authz = await this.#o.auth.authorize(signal);
        }
        token = authz.token;
        this.#attempts[spec.operation] += 1;
        if (attempt > 1) this.#retries += 1;
        sent = true;
        const res = await this.#send(spec, authz.headers, authz.query, signal, onSent ?? undefined);
        if (res.status >= 200 && res.status < 300) {
          this.#o.afterAttempt?.(info, undefined);
          return this.#parse(spec, res, ctx);
        }
        error = mapApiError(res, ctx);
      } catch (err) {
        if (err instanceof TransportError) error = mapTransportError(err, ctx);
        // A copy: the token fetch's error is the one every call waiting for that fetch gets, and
        // each call sets its attempts and its "gave up" words on it (in place, every call's message
        // carried each call's "(gave up after N attempts)").
        else if (err instanceof SheetsError) error = ownCopy(err);
        // The caller gave up while the call waited for its access token or its quota turn: the
        // signal's own reason came out as it was, with no `applied`, so the flusher took an append
        // that never left this host for one Google may have (unsure rows, a read-back before
        // they are sent again). Nothing was sent: said as an abort before sending is (http.ts).
        else if (!sent && signal?.aborted && err === signal.reason) {
          error = make('CORRAL_ERR_SHEETS_TIMEOUT', `${spec.operation} on ${this.#host} was cancelled by the caller before the request was sent`, { reason: 'ABORTED', applied: 'no', retryable: false, cause: err });
        } else throw err;
      }
      if (sent) this.#o.afterAttempt?.(info, error);
      error.attempts = attempt;
      let giveUp = false;
      // `token` undefined: the 401 is the token endpoint's own (invalid_client), not the API's
      // refusal of a token sent; a fresh token is what just failed, so nothing is tried again.
      if (error.status === 401 && token !== undefined) {
        // A token Google stopped accepting (revoked, expired early): drop it and try once more at
        // once with a fresh one; a second 401 is final.
        this.#o.auth.rejected(token);
        if (!refreshedAfter401 && attempt < policy.maxAttempts && !signal?.aborted) {
          refreshedAfter401 = true;
          continue;
        }
        giveUp = true;
      }
      const resendable = spec.idempotent || error.applied === 'no';
      // Google asked for a longer wait than one call waits (a Retry-After past the backoff's
      // truncation): a retry at the truncation came back before Google said to, and only spent
      // quota on another refusal; waiting the whole of it here would hold every reader of this
      // call. The error goes to the caller with Google's wait (retryAfterMs), and the read tier
      // and the flusher call no sooner.
      const waitTooLong = error.retryAfterMs !== undefined && error.retryAfterMs > policy.maxDelayMs;
      if (giveUp || waitTooLong || !error.retryable || !resendable || attempt >= policy.maxAttempts || signal?.aborted) {
        if (waitTooLong && !giveUp && error.retryable) error.message += ` (Google asked to retry in ${Math.ceil((error.retryAfterMs ?? 0) / 1000)} s)`;
        if (attempt > 1) error.message += ` (gave up after ${attempt} attempts)`;
        throw error;
      }
      const delay = retryDelay(backoffs, policy, error.retryAfterMs, this.#o.random);
      backoffs += 1;
      this.#retryLine(spec.operation).failed((retries) =>
        this.#o.logger.warn(
          { event: 'sheets.retrying', sheets: error.toLog(), operation: spec.operation, attempt, retryInMs: Math.round(delay), retries },
          retries === 1
            ? `sheets ${spec.operation} failed, retrying with backoff`
            : `sheets ${spec.operation} failed, retrying with backoff (${retries} retries since the last such line)`,
        ),
      );
      spec.onRetry?.(error);
      try {
        await this.#sleep(delay, signal);
      } catch {
        throw error; // the caller gave up while we waited: report what went wrong upstream
      }
    }
  }

  #retryLine(operation: SheetsOperation): RepeatedFailure {
    let line = this.#retryLines.get(operation);
    if (!line) {
      line = new RepeatedFailure(this.#o.now ?? monotonicNow);
      this.#retryLines.set(operation, line);
    }
    return line;
  }

  #send(spec: CallSpec<unknown>, authHeaders: Readonly<Record<string, string>>, authQuery: readonly [string, string][], signal?: AbortSignal, onSent?: () => void): Promise<HttpResponse> {
    // prettyPrint=false: Google indents its JSON by default (a standard query parameter of its
    // APIs), which made the answer for a tab of short cells half as large again, in every buffer
    // that holds it on its way to JSON.parse.
    const query = new URLSearchParams([...spec.query, ['prettyPrint', 'false'], ...authQuery]).toString();
    const path = `${this.#prefix}/v4/spreadsheets/${encodeURIComponent(this.spreadsheetId)}${spec.suffix}${query ? `?${query}` : ''}`;
    // Google compresses an answer only for a client that accepts gzip AND names gzip in its
    // User-Agent (its APIs' performance guide): a tab of 300k rows is 63 MB as sent without it.
    const headers: Record<string, string> = { accept: 'application/json', 'accept-encoding': 'gzip', 'user-agent': 'corral-sheets/1 (gzip)', ...authHeaders };
    let body: string | undefined;
    if (spec.body !== undefined) {
      body = JSON.stringify(spec.body);
      headers['content-type'] = 'application/json; charset=utf-8';
    }
    return httpCall(this.#o.dispatcher, {
      origin: this.#origin,
      path,
      method: spec.method,
      headers,
      ...(body === undefined ? {} : { body }),
      timeoutMs: this.#o.timeoutMs,
      ...(this.#o.maxResponseBytes === undefined ? {} : { maxBodyBytes: this.#o.maxResponseBytes }),
      ...(signal ? { signal } : {}),
      ...(onSent ? { onSent } : {}),
    });
  }

  #parse<T>(spec: CallSpec<T>, res: HttpResponse, ctx: ErrorContext): T {
    let json: unknown;
    try {
      json = JSON.parse(res.body.toString('utf8'));
      return spec.parse(json);
    } catch (err) {
      throw mapBadBody(res, ctx, err instanceof BadBody ? err.message : 'not JSON');
    }
  }
}
