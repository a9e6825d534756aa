// A worker's connection to the keeper: HTTP over the keeper's unix socket with an undici Pool of
// keep-alive connections. When the keeper is restarting (socket missing, connection refused or
// dropped) a call is retried once after a short pause, then fails with
// CORRAL_ERR_KEEPER_UNAVAILABLE. Retrying an append is safe: the journal recognises rows it
// already holds by their ids and does not add them twice (see keeper/journal.ts).

import { Client, Pool } from 'undici';
import { CorralError, ERROR_CODES, type ErrorCode } from '../errors.js';
import type { WireError } from './keeper/protocol.js';

export interface KeeperLinkOptions {
  readonly socketPath: string;
  /** Concurrent requests to the keeper per worker (misses are single-flighted before this). */
  readonly connections?: number;
  /** Pause before the one retry. */
  readonly retryDelayMs?: number;
  /** Longest wait for an answer (a cold miss waits for Google and its backoff). */
  readonly timeoutMs?: number;
}

function isErrorCode(code: string): code is ErrorCode {
  return Object.hasOwn(ERROR_CODES, code);
}

export class KeeperLink {
  private readonly pool: Pool;
  /** Long polls get their own connection so they never hold up reads. */
  private readonly watchClient: Client;
  private readonly retryDelayMs: number;
  private closed = false;
  retries = 0;
  failures = 0;

  constructor(o: KeeperLinkOptions) {
    const timeout = o.timeoutMs ?? 120_000;
    const common = { socketPath: o.socketPath, keepAliveTimeout: 30_000, headersTimeout: timeout, bodyTimeout: timeout, connect: { timeout: 2000 } };
    this.pool = new Pool('http://keeper', { ...common, connections: o.connections ?? 8 });
    this.watchClient = new Client('http://keeper', common);
    this.retryDelayMs = o.retryDelayMs ?? 500;
  }

  private async once<T>(client: Pool | Client, method: 'GET' | 'POST', path: string, body: string | undefined, signal?: AbortSignal): Promise<T> {
    const res = await client.request({
      method,
      path,
      ...(body === undefined ? {} : { body, headers: { 'content-type': 'application/json' } }),
      ...(signal ? { signal } : {}),
    });
    const text = await res.body.text();
    if (res.statusCode >= 200 && res.statusCode < 300) return JSON.parse(text) as T;
    let err: WireError;
    try {
      err = JSON.parse(text) as WireError;
    } catch {
      err = { code: 'CORRAL_ERR_KEEPER_UNAVAILABLE', message: `keeper answered ${res.statusCode}` };
    }
    throw new CorralError(isErrorCode(err.code) ? err.code : 'CORRAL_ERR_SHEETS_UPSTREAM', err.message);
  }

  /** One call, retried once when the keeper could not be reached. */
  async call<T>(method: 'GET' | 'POST', path: string, body?: string, signal?: AbortSignal): Promise<T> {
    return this.callOn<T>(this.pool, method, path, body, signal);
  }

  /** A long poll on the dedicated connection (no retry: the watch loop has its own pacing). */
  watch<T>(path: string, signal: AbortSignal): Promise<T> {
    return this.once<T>(this.watchClient, 'GET', path, undefined, signal).catch((err) => {
      throw err instanceof CorralError ? err : new CorralError('CORRAL_ERR_KEEPER_UNAVAILABLE', `keeper unreachable: ${(err as Error).message}`, { cause: err });
    });
  }

  private async callOn<T>(client: Pool | Client, method: 'GET' | 'POST', path: string, body: string | undefined, signal?: AbortSignal): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      if (this.closed) throw new CorralError('CORRAL_ERR_KEEPER_UNAVAILABLE', 'the Sheets client is closed');
      try {
        return await this.once<T>(client, method, path, body, signal);
      } catch (err) {
        // An answer from the keeper (even an error) is final; only an unreachable keeper is retried.
        if (err instanceof CorralError || signal?.aborted) throw err;
        if (attempt >= 2) {
          this.failures++;
          throw new CorralError('CORRAL_ERR_KEEPER_UNAVAILABLE', `keeper unreachable: ${(err as Error).message}`, { cause: err });
        }
        this.retries++;
        await new Promise((r) => setTimeout(r, this.retryDelayMs));
      }
    }
  }

  /** Idempotent. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await Promise.all([this.pool.destroy(), this.watchClient.destroy()]).catch(() => undefined);
  }
}
