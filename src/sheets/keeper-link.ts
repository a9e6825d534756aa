// A worker's connection to the keeper: HTTP over the keeper's unix socket with node:http agents
// keeping connections alive. When the keeper is restarting (socket missing, connection refused or
// dropped) a call is retried once after a short pause, then fails with
// CORRAL_ERR_KEEPER_UNAVAILABLE. Retrying an append is safe: the journal recognises rows it
// already holds by their ids and does not add them twice (see keeper/journal.ts).
//
// node:http rather than undici: every worker process holds this link, and loading undici made
// each worker about 9 MB larger (more cache pressure on every request when workers share few
// cores) for a local socket that needs nothing beyond keep-alive and timeouts.

import { Agent, request } from 'node:http';
import { CorralError, ERROR_CODES, type ErrorCode } from '../errors.js';
import type { WireError } from './keeper/protocol.js';

export interface KeeperLinkOptions {
  readonly socketPath: string;
  /** Concurrent requests to the keeper per worker (misses are single-flighted before this). */
  readonly connections?: number;
  /** Pause before the one retry. */
  readonly retryDelayMs?: number;
  /** Longest silence while waiting for an answer (a cold miss waits for Google and its backoff). */
  readonly timeoutMs?: number;
}

function isErrorCode(code: string): code is ErrorCode {
  return Object.hasOwn(ERROR_CODES, code);
}

export class KeeperLink {
  private readonly socketPath: string;
  private readonly agent: Agent;
  /** Long polls get their own connection so they never hold up reads. */
  private readonly watchAgent: Agent;
  private readonly timeoutMs: number;
  private readonly retryDelayMs: number;
  private closed = false;
  retries = 0;
  failures = 0;

  constructor(o: KeeperLinkOptions) {
    this.socketPath = o.socketPath;
    this.timeoutMs = o.timeoutMs ?? 120_000;
    this.agent = new Agent({ keepAlive: true, maxSockets: o.connections ?? 8 });
    this.watchAgent = new Agent({ keepAlive: true, maxSockets: 1 });
    this.retryDelayMs = o.retryDelayMs ?? 500;
  }

  private once<T>(agent: Agent, method: 'GET' | 'POST', path: string, body: string | undefined, signal?: AbortSignal): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const headers: Record<string, string | number> = body === undefined ? {} : { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) };
      const req = request({ socketPath: this.socketPath, agent, method, path, headers, timeout: this.timeoutMs, ...(signal ? { signal } : {}) }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('error', reject);
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          const status = res.statusCode ?? 0;
          if (status >= 200 && status < 300) {
            try {
              resolve(JSON.parse(text) as T);
            } catch (err) {
              reject(new CorralError('CORRAL_ERR_KEEPER_UNAVAILABLE', `keeper sent a malformed answer: ${(err as Error).message}`));
            }
            return;
          }
          let wire: WireError;
          try {
            wire = JSON.parse(text) as WireError;
          } catch {
            wire = { code: 'CORRAL_ERR_KEEPER_UNAVAILABLE', message: `keeper answered ${status}` };
          }
          reject(new CorralError(isErrorCode(wire.code) ? wire.code : 'CORRAL_ERR_SHEETS_UPSTREAM', wire.message));
        });
      });
      // `timeout` is socket inactivity: a keeper that stops answering mid-way is given up on too.
      req.on('timeout', () => req.destroy(new Error(`no answer from the keeper in ${this.timeoutMs} ms`)));
      req.on('error', reject);
      req.end(body);
    });
  }

  /** One call, retried once when the keeper could not be reached. */
  async call<T>(method: 'GET' | 'POST', path: string, body?: string, signal?: AbortSignal): Promise<T> {
    return this.callOn<T>(this.agent, method, path, body, signal);
  }

  /** A long poll on the dedicated connection (no retry: the watch loop has its own pacing). */
  watch<T>(path: string, signal: AbortSignal): Promise<T> {
    return this.once<T>(this.watchAgent, 'GET', path, undefined, signal).catch((err) => {
      throw err instanceof CorralError ? err : new CorralError('CORRAL_ERR_KEEPER_UNAVAILABLE', `keeper unreachable: ${(err as Error).message}`, { cause: err });
    });
  }

  private async callOn<T>(agent: Agent, method: 'GET' | 'POST', path: string, body: string | undefined, signal?: AbortSignal): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      if (this.closed) throw new CorralError('CORRAL_ERR_KEEPER_UNAVAILABLE', 'the Sheets client is closed');
      try {
        return await this.once<T>(agent, method, path, body, signal);
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
    this.agent.destroy();
    this.watchAgent.destroy();
  }
}
