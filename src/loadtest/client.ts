// The HTTP side of the virtual users: a keep-alive connection of each user's own (an undici Client
// each, as each browser, and each Locust user's session, holds its own), a per-request timeout,
// and the run's abort signal so the hard deadline cancels whatever is still in flight.
//
// One Pool shared by every user handed each request to whichever connection was free: users
// thinking between requests need few at a time, so 50 users held 2 connections on the server most
// of a run, and the server's connection figures, its capacity status and its connection cap
// (CORRAL_WORKER_CONNECTIONS) never met the users the verdict spoke of.

import { performance } from 'node:perf_hooks';
import { Client } from 'undici';
import { pinnedLookup, type PinnedAddresses } from '../loopback.js';
import { isGeneratorError } from './generator-limits.js';

export type RequestKind = 'login' | 'read' | 'write' | 'export';

/**
 * ok: 2xx; http: an answer with another status; unanswered: still waiting when the run ended,
 * after longer than the client's unansweredAfterMs; aborted: cancelled by the end of the run
 * sooner than that (or never sent); generator: this machine could not send it (EMFILE: its own
 * open-file limit, and the like), which says nothing of the target.
 */
export type Outcome = 'ok' | 'http' | 'timeout' | 'connection' | 'unanswered' | 'aborted' | 'generator';

export interface Sample {
  readonly kind: RequestKind;
  /** "GET /api/players" */
  readonly route: string;
  /** 0 when no answer came. */
  readonly status: number;
  readonly outcome: Outcome;
  /** From sending to the last body byte, in microseconds. */
  readonly latencyUs: number;
  /** Milliseconds since the run started. */
  readonly startMs: number;
  readonly endMs: number;
  readonly bytes: number;
  /** Error code for timeouts and connection failures (ECONNREFUSED, UND_ERR_SOCKET, ...). */
  readonly error?: string;
  /** For a login answered login_locked: the name whose logins the target locked. */
  readonly player?: string;
  /**
   * The sending user's mean pause, in microseconds: how often it would have sent a request had
   * this one been answered at once. Set by the virtual user; the latency histograms correct for
   * the requests a wait longer than that kept it from sending (tally.ts).
   */
  readonly paceUs?: number;
}

export interface SendRequest {
  readonly kind: RequestKind;
  readonly method: 'GET' | 'POST';
  readonly path: string;
  readonly headers?: Readonly<Record<string, string>>;
  readonly json?: unknown;
  /** Parse the body as JSON (login); otherwise it is read and counted only. */
  readonly parseJson?: boolean;
}

export interface Reply {
  readonly sample: Sample;
  readonly json: unknown;
  /** A 429 or 503's Retry-After, in milliseconds (seconds or an HTTP date; capped at an hour). */
  readonly retryAfterMs?: number;
  /** The answer's Content-Type, to say what came back when it was not what corral's app sends. */
  readonly contentType?: string;
  /** A redirect's Location (3xx): where the answer sent the request, which is not followed. */
  readonly location?: string;
}

const RETRY_AFTER_MAX_MS = 3_600_000;

/** Retry-After as RFC 9110 §10.2.3 gives it: delay-seconds or an HTTP-date; undefined when neither. */
export function parseRetryAfter(value: string | string[] | undefined, nowMs = Date.now()): number | undefined {
  const text = (Array.isArray(value) ? value[0] : value)?.trim();
  if (!text) return undefined;
  // Date.parse takes '-5' for a year: an HTTP-date always names its day and month in letters.
  const ms = /^\d+$/.test(text) ? Number(text) * 1000 : /[a-z]/i.test(text) ? Date.parse(text) - nowMs : NaN;
  return Number.isFinite(ms) ? Math.min(RETRY_AFTER_MAX_MS, Math.max(0, ms)) : undefined;
}

export interface ClientOptions {
  readonly timeoutMs: number;
  /** Aborted at the hard deadline or on SIGINT. */
  readonly signal: AbortSignal;
  /** Milliseconds since the run started. */
  readonly clock: () => number;
  /**
   * A request the end of the run cancels after waiting this long is 'unanswered' (a failure), not
   * 'aborted': a target that never answers must not pass because the run ended first. Unset: never.
   */
  readonly unansweredAfterMs?: number;
  /** No request starts at or after this clock value, even if the deadline timer runs late. */
  readonly deadlineMs?: number;
  /** Connect only to these (the addresses the target's name was checked against), never re-resolve. */
  readonly pinned?: PinnedAddresses;
}

const TIMEOUT_CODES = new Set(['UND_ERR_CONNECT_TIMEOUT', 'UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT', 'ETIMEDOUT']);

/** A failed request by its error code: a timeout, a failure of this machine, or a connection error of the target. */
export function failureOutcome(code: string): 'timeout' | 'generator' | 'connection' {
  return TIMEOUT_CODES.has(code) ? 'timeout' : isGeneratorError(code) ? 'generator' : 'connection';
}

/** One user's connection: its requests one after the other, kept alive between them as the target allows. */
export interface Connection {
  send(req: SendRequest): Promise<Reply>;
  /** The user leaves: its connection closes. Idempotent. */
  close(): Promise<void>;
}

export class TargetClient {
  readonly #opts: ClientOptions;
  readonly #origin: string;
  /** Every connection not closed yet, for close(). */
  readonly #open = new Set<Client>();
  /** The connection of send(), made at its first call. */
  #own: Connection | undefined;
  #closed = false;

  constructor(target: URL, opts: ClientOptions) {
    this.#origin = target.origin;
    this.#opts = opts;
  }

  get origin(): string {
    return this.#origin;
  }

  /** A connection of its own: a virtual user's. Closed by its close(), or by this client's. */
  connect(): Connection {
    const { timeoutMs, pinned } = this.#opts;
    const client = new Client(this.#origin, {
      pipelining: 1,
      keepAliveTimeout: 30_000,
      connect: { timeout: timeoutMs, ...(pinned ? { lookup: pinnedLookup(pinned) } : {}) },
      // Our own timer covers the whole request; these only stop undici's defaults (300 s) biting first.
      headersTimeout: timeoutMs + 1000,
      bodyTimeout: timeoutMs + 1000,
    });
    if (this.#closed) void client.destroy();
    else this.#open.add(client);
    return {
      send: (req) => this.#send(client, req),
      close: async () => {
        this.#open.delete(client);
        if (!client.destroyed) await client.destroy();
      },
    };
  }

  /** A request on this client's own connection (the checks before the load). */
  send(req: SendRequest): Promise<Reply> {
    this.#own ??= this.connect();
    return this.#own.send(req);
  }

  async #send(client: Client, req: SendRequest): Promise<Reply> {
    const { signal: runSignal, clock, timeoutMs } = this.#opts;
    const route = `${req.method} ${req.path.split('?')[0] ?? req.path}`;
    const startMs = clock();
    const t0 = performance.now();
    const sample = (status: number, outcome: Outcome, bytes: number, error?: string): Sample => ({
      kind: req.kind,
      route,
      status,
      outcome,
      latencyUs: Math.max(1, Math.round((performance.now() - t0) * 1000)),
      startMs,
      endMs: clock(),
      bytes,
      ...(error === undefined ? {} : { error }),
    });
    // On a starved host the deadline timer can fire late; the clock check keeps the promise anyway.
    const pastDeadline = this.#opts.deadlineMs !== undefined && startMs >= this.#opts.deadlineMs;
    if (runSignal.aborted || pastDeadline) return { sample: sample(0, 'aborted', 0), json: undefined };

    // One controller per request, tied to the run's signal by hand: AbortSignal.any() on a
    // long-lived signal grows that signal's dependant set (nodejs/node#55351).
    const controller = new AbortController();
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      controller.abort(new Error('request timeout'));
    }, timeoutMs);
    const onRunAbort = (): void => controller.abort(new Error('run ended'));
    runSignal.addEventListener('abort', onRunAbort, { once: true });
    let status = 0;
    let bytes = 0;
    try {
      const headers: Record<string, string> = { ...req.headers };
      let body: string | undefined;
      if (req.json !== undefined) {
        body = JSON.stringify(req.json);
        headers['content-type'] = 'application/json';
      }
      const res = await client.request({ method: req.method, path: req.path, headers, body, signal: controller.signal });
      status = res.statusCode;
      const chunks: Buffer[] = [];
      for await (const chunk of res.body) {
        const buf = chunk as Buffer;
        bytes += buf.length;
        if (req.parseJson) chunks.push(buf);
      }
      let json: unknown;
      if (req.parseJson) {
        try {
          json = JSON.parse(Buffer.concat(chunks).toString('utf8'));
        } catch {
          json = undefined;
        }
      }
      const retryAfterMs = status === 429 || status === 503 ? parseRetryAfter(res.headers['retry-after']) : undefined;
      const type = res.headers['content-type'];
      const contentType = Array.isArray(type) ? type[0] : type;
      const where = status >= 300 && status < 400 ? res.headers.location : undefined;
      const location = Array.isArray(where) ? where[0] : where;
      return { sample: sample(status, status >= 200 && status < 300 ? 'ok' : 'http', bytes), json, ...(retryAfterMs === undefined ? {} : { retryAfterMs }), ...(contentType === undefined ? {} : { contentType }), ...(location === undefined ? {} : { location }) };
    } catch (err) {
      const code = (err as { code?: unknown }).code;
      if (timedOut) return { sample: sample(status, 'timeout', bytes, 'timeout'), json: undefined };
      if (runSignal.aborted) {
        const waitedMs = performance.now() - t0;
        const unanswered = this.#opts.unansweredAfterMs !== undefined && waitedMs >= this.#opts.unansweredAfterMs;
        return { sample: sample(status, unanswered ? 'unanswered' : 'aborted', bytes), json: undefined };
      }
      const name = typeof code === 'string' ? code : (err as Error).name;
      return { sample: sample(status, failureOutcome(name), bytes, name), json: undefined };
    } finally {
      clearTimeout(timer);
      runSignal.removeEventListener('abort', onRunAbort);
    }
  }

  /** Drops every connection, in flight or idle; a connection made after it is closed at once. Idempotent. */
  async close(): Promise<void> {
    this.#closed = true;
    const open = [...this.#open];
    this.#open.clear();
    await Promise.all(open.map((c) => (c.destroyed ? undefined : c.destroy())));
  }
}
