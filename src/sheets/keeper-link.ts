// A worker's connection to the keeper: HTTP over the keeper's unix socket, on a few keep-alive
// connections of its own (keeper-client/connection.ts says why not node:http). When the keeper
// cannot be reached (socket missing, connection refused or dropped, or a keeper that drains and
// refuses appends) a call is retried once after a short pause, then fails with
// CORRAL_ERR_KEEPER_UNAVAILABLE; while the master says it restarts the keeper (a reload, or a
// crashed keeper's quick respawn), it is retried until the new keeper answers or the master's
// deadline passes (keeper-restart-window.ts).
// Retrying an append is safe: the journal recognises rows it already holds by their ids and does
// not add them twice, and answers a retry of journaled rows as saved (see keeper/journal.ts), a
// retry of rows still being written once they are (with an idempotency key too). An append is
// bounded more tightly than a read (WRITE_TIMEOUT_MS). The pools are keeper-client/connection-pool.ts.

import { CorralError, ERROR_CODES, NotSentError, RetryLaterError, type ErrorCode } from '../errors.js';
import { DESTINATION_HEADER } from './destination.js';
import { KEEPER_LINK_POOLS } from '../keeper-link-pools.js';
import { OtherSheetError } from './keeper/other-sheet.js';
import { IDLE_CLOSE_MS, NotConnectedError } from './keeper-client/connection.js';
import { ConnectionPool } from './keeper-client/connection-pool.js';
import type { ParsedResponse } from './keeper-client/response-parser.js';
import type { WireError } from './keeper/protocol.js';
import { KeeperRestartWindow } from './keeper-restart-window.js';

export interface KeeperLinkOptions {
  readonly socketPath: string;
  /**
   * Concurrent requests to the keeper per worker (misses are single-flighted before this): reads
   * of ranges this worker holds; first fills and appends have as many again each (firstFill(),
   * write()).
   */
  readonly connections?: number;
  /** Pause before the one retry. */
  readonly retryDelayMs?: number;
  /** Longest silence while waiting for an answer (a cold miss waits for Google and its backoff). */
  readonly timeoutMs?: number;
  /**
   * For an append, the longest silence while waiting for its answer, and the longest wait for a
   * write connection to come free (WRITE_TIMEOUT_MS); at most timeoutMs.
   */
  readonly writeTimeoutMs?: number;
  /** An idle connection is closed after this long (tests shorten it). */
  readonly idleCloseMs?: number;
  /**
   * The socket is outside the data dir (socket-path.ts): its directory is checked to be this
   * user's alone before the first connection, so that no other user's socket is taken for the keeper.
   */
  readonly checkDir?: boolean;
  /** Opened by the master's word that the keeper is restarting (a reload, a crash's respawn); calls then wait for it. */
  readonly restartWindow?: KeeperRestartWindow;
  /**
   * The digest of the sheet this worker's settings append to (destination.ts), sent with every
   * request: a keeper serving another sheet refuses them (CORRAL_ERR_KEEPER_OTHER_SHEET). Unset: not sent (tests).
   */
  readonly destination?: string;
}

/**
 * How often a call waiting for a restarting keeper tries again: a refused connect to a local socket
 * costs microseconds, and the master's 'keeper-ready' wakes the waiting calls sooner anyway.
 */
const RESTART_POLL_MS = 200;

/**
 * An append's bound, per attempt, on its wait for a write connection and on the keeper's silence.
 * The keeper answers an append once its journal has it on disk, never after Google, and refuses new
 * appends at once while a journal write hangs (journal-sync-watch.ts, 10 s): the 120 s a read may
 * wait for Google let an append and its retry take 240 s, queued ones longer (unbounded in the
 * pool), where the proxy in front gives up at 60 s and the client's retry, with a new event id,
 * could land beside the first. Two attempts and the pause between stay under those 60 s.
 */
export const WRITE_TIMEOUT_MS = 25_000;

function isErrorCode(code: string): code is ErrorCode {
  return Object.hasOwn(ERROR_CODES, code);
}

export class KeeperLink {
  /**
   * Reads of ranges this worker holds. The keeper answers them from its memory, but not always:
   * after a restart its cache is empty, and each waits for Google and the read quota.
   */
  private readonly pool: ConnectionPool;
  /**
   * Reads of ranges the keeper said it holds no copy of (worker-client.ts asks it first, with
   * `held=only`) get their own connections: the keeper may have
   * to fetch them from Google, waiting for its quota and Google's retries. An admin's ten exports
   * of tabs nobody had read, while Google was slow, held all the connections of one pool: every
   * read of a range the worker held then waited for one, was served the worker's old copy after
   * KEEPER_PATIENCE_MS (a second), and never reached the keeper to start its refresh.
   */
  private readonly firstFillPool: ConnectionPool;
  /**
   * Appends get connections of their own: the keeper answers them once the journal has them on
   * disk, never after Google. On the reads' pool, after a keeper crash with the read quota spent,
   * the 8 connections were all taken by reads of held ranges waiting for the keeper's refill, and
   * POST /api/events queued behind them for 18-30 s and more (audit) while /api/me, served from
   * the worker's copy, took at most 1.02 s.
   */
  private readonly writePool: ConnectionPool;
  /** Long polls get their own connection so they never hold up reads. */
  private readonly watchPool: ConnectionPool;
  /** Brief calls get their own connections too: a read waiting for Google must not hold them up. */
  private readonly briefPool: ConnectionPool;
  private readonly timeoutMs: number;
  private readonly writeTimeoutMs: number;
  private readonly retryDelayMs: number;
  private readonly restartWindow: KeeperRestartWindow;
  private closed = false;
  retries = 0;
  failures = 0;

  constructor(o: KeeperLinkOptions) {
    this.timeoutMs = o.timeoutMs ?? 120_000;
    this.writeTimeoutMs = Math.min(this.timeoutMs, o.writeTimeoutMs ?? WRITE_TIMEOUT_MS);
    const idleCloseMs = o.idleCloseMs ?? IDLE_CLOSE_MS;
    // A digest is hex: nothing in it can end the header line.
    const headers = o.destination !== undefined ? `${DESTINATION_HEADER}: ${o.destination}\r\n` : '';
    const pool = (max: number) => new ConnectionPool(o.socketPath, max, idleCloseMs, o.checkDir ?? false, headers);
    // Sizes from keeper-link-pools.ts, which the master's open-files check counts the keeper by.
    this.pool = pool(o.connections ?? KEEPER_LINK_POOLS.reads);
    this.firstFillPool = pool(o.connections ?? KEEPER_LINK_POOLS.firstFills);
    this.writePool = pool(o.connections ?? KEEPER_LINK_POOLS.writes);
    this.watchPool = pool(KEEPER_LINK_POOLS.watch);
    this.briefPool = pool(KEEPER_LINK_POOLS.brief);
    this.retryDelayMs = o.retryDelayMs ?? 500;
    this.restartWindow = o.restartWindow ?? new KeeperRestartWindow();
  }

  private async once<T>(pool: ConnectionPool, method: 'GET' | 'POST', path: string, body: string | undefined, signal?: AbortSignal, timeoutMs = this.timeoutMs, connectionWaitMs?: number): Promise<T> {
    const answer = await pool.use(
      (c) =>
        // Given up while it waited for a connection: not sent, and the connection stays usable.
        signal?.aborted ? Promise.reject(new Error('aborted')) : c.request({ method, path, ...(body !== undefined ? { body } : {}), timeoutMs, ...(signal ? { signal } : {}) }),
      connectionWaitMs,
    );
    return decode<T>(answer);
  }

  /** One call, retried once when the keeper could not be reached. */
  call<T>(method: 'GET' | 'POST', path: string, body?: string, signal?: AbortSignal): Promise<T> {
    return this.retried<T>(this.pool, method, path, body, signal);
  }

  /** A read of a range the keeper holds no copy of: as call(), on the first-fill connections. */
  firstFill<T>(path: string, signal?: AbortSignal): Promise<T> {
    return this.retried<T>(this.firstFillPool, 'GET', path, undefined, signal);
  }

  /**
   * An append (or any call the keeper answers without Google): as call(), on the write
   * connections, which reads never take. Retried the same way: the journal recognises rows it
   * already holds (see the top of this file).
   */
  write<T>(path: string, body: string, signal?: AbortSignal): Promise<T> {
    return this.retried<T>(this.writePool, 'POST', path, body, signal, this.writeTimeoutMs);
  }

  /** `writeTimeoutMs`: an append's bounds (WRITE_TIMEOUT_MS), on its wait for a connection and on the keeper's silence. */
  private async retried<T>(pool: ConnectionPool, method: 'GET' | 'POST', path: string, body: string | undefined, signal: AbortSignal | undefined, writeTimeoutMs?: number): Promise<T> {
    // Whether an attempt may have reached the keeper and been acted on: one that got no connection
    // in time was never sent, and one the keeper refused as unavailable was not taken. A call none
    // of whose attempts may have is failed as NotSentError: an append so failed was not saved.
    let mayHaveArrived = false;
    for (let attempt = 1; ; attempt++) {
      if (this.closed) throw new CorralError('CORRAL_ERR_KEEPER_UNAVAILABLE', 'the Sheets client is closed');
      try {
        return await this.once<T>(pool, method, path, body, signal, writeTimeoutMs ?? this.timeoutMs, writeTimeoutMs);
      } catch (err) {
        // An answer from the keeper (even an error) is final, but for its own "unavailable" (a
        // draining keeper refuses appends before journaling them); otherwise only an unreachable
        // keeper is retried.
        const unavailable = err instanceof CorralError && err.code === 'CORRAL_ERR_KEEPER_UNAVAILABLE';
        if ((err instanceof CorralError && !unavailable) || signal?.aborted) throw err;
        // A connect that failed sent nothing (the socket gone, nothing listening): said "may have
        // arrived", a keeper down outside a restart had the app tell a client its event may have
        // been saved, and that a retry without a key may save it twice.
        // And a keeper's "unavailable" took nothing, but for an append it wrote before refusing.
        if ((!unavailable && !(err instanceof NotConnectedError)) || err instanceof WrittenRefusalError) mayHaveArrived = true;
        const waitMs = this.restartWindow.remainingMs();
        if (waitMs > 0) {
          // A planned restart: the new keeper comes within the window. After it, the ordinary
          // single retry still applies (a keeper ready one moment, its socket refused the next).
          attempt = 0;
          this.retries++;
          await this.restartWindow.pause(Math.min(RESTART_POLL_MS, waitMs));
          continue;
        }
        if (attempt >= 2) {
          this.failures++;
          if (!mayHaveArrived) {
            const message = err instanceof NotConnectedError ? `keeper unreachable: ${err.message}: no connection was made, not sent` : (err as Error).message;
            throw new NotSentError('CORRAL_ERR_KEEPER_UNAVAILABLE', message, { cause: err });
          }
          if (unavailable) throw err;
          throw new CorralError('CORRAL_ERR_KEEPER_UNAVAILABLE', `keeper unreachable: ${(err as Error).message}`, { cause: err });
        }
        this.retries++;
        await new Promise((r) => setTimeout(r, this.retryDelayMs));
      }
    }
  }

  /**
   * One call given up after `timeoutMs` in all, the wait for a connection included, and never
   * retried: for a caller that can go on without the answer (the failed-login limit, which then
   * has its host's count). Fails with CORRAL_ERR_KEEPER_UNAVAILABLE, or the keeper's error.
   */
  async brief<T>(method: 'GET' | 'POST', path: string, body: string | undefined, timeoutMs: number): Promise<T> {
    if (this.closed) throw new CorralError('CORRAL_ERR_KEEPER_UNAVAILABLE', 'the Sheets client is closed');
    const abort = new AbortController();
    let timer: NodeJS.Timeout | undefined;
    const expired = new Promise<never>((_resolve, reject) => {
      timer = setTimeout(() => {
        // A call still waiting for a connection is then not sent; one on its way is cut.
        abort.abort();
        reject(new CorralError('CORRAL_ERR_KEEPER_UNAVAILABLE', `no answer from the keeper in ${timeoutMs} ms`));
      }, timeoutMs);
    });
    try {
      return await Promise.race([this.once<T>(this.briefPool, method, path, body, abort.signal, timeoutMs), expired]);
    } catch (err) {
      if (err instanceof CorralError) throw err;
      this.failures++;
      throw new CorralError('CORRAL_ERR_KEEPER_UNAVAILABLE', `keeper unreachable: ${(err as Error).message}`, { cause: err });
    } finally {
      clearTimeout(timer);
    }
  }

  /** A long poll on the dedicated connection (no retry: the watch loop has its own pacing). */
  watch<T>(path: string, signal: AbortSignal): Promise<T> {
    return this.once<T>(this.watchPool, 'GET', path, undefined, signal).catch((err: unknown) => {
      throw err instanceof CorralError ? err : new CorralError('CORRAL_ERR_KEEPER_UNAVAILABLE', `keeper unreachable: ${(err as Error).message}`, { cause: err });
    });
  }

  /** Idempotent. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.pool.destroy();
    this.firstFillPool.destroy();
    this.writePool.destroy();
    this.watchPool.destroy();
    this.briefPool.destroy();
  }
}

/** A keeper's "unavailable" for an append it wrote to its journal before refusing it (WireError.written). */
class WrittenRefusalError extends CorralError {}

/** The JSON of a 2xx answer, or the keeper's error (a CorralError with its code). */
function decode<T>(answer: ParsedResponse): T {
  const text = answer.body.toString('utf8');
  if (answer.status >= 200 && answer.status < 300) {
    try {
      return JSON.parse(text) as T;
    } catch (err) {
      throw new CorralError('CORRAL_ERR_KEEPER_UNAVAILABLE', `keeper sent a malformed answer: ${(err as Error).message}`);
    }
  }
  let wire: WireError;
  try {
    wire = JSON.parse(text) as WireError;
  } catch {
    wire = { code: 'CORRAL_ERR_KEEPER_UNAVAILABLE', message: `keeper answered ${answer.status}` };
  }
  const code = isErrorCode(wire.code) ? wire.code : 'CORRAL_ERR_SHEETS_UPSTREAM';
  if (code === 'CORRAL_ERR_KEEPER_OTHER_SHEET') {
    throw new OtherSheetError(wire.message, typeof wire.destination === 'string' ? wire.destination : 'unknown', typeof wire.master_pid === 'number' ? wire.master_pid : undefined);
  }
  // Refused after its rows were written (the keeper's lock found another's): may have been saved.
  if (wire.written === true) throw new WrittenRefusalError(code, wire.message);
  const retryAfterMs = wire.retry_after_ms;
  if (typeof retryAfterMs === 'number' && Number.isFinite(retryAfterMs) && retryAfterMs >= 0) throw new RetryLaterError(code, wire.message, retryAfterMs);
  throw new CorralError(code, wire.message);
}
