// Small HTTP helpers for tests: one-off requests and a concurrent client loop that counts failures.

import { Agent, request } from 'undici';

export interface Reply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
  json<T = Record<string, unknown>>(): T;
}

export async function http(url: string, init: { method?: string; headers?: Record<string, string>; body?: string; dispatcher?: Agent; timeoutMs?: number } = {}): Promise<Reply> {
  const res = await request(url, {
    method: (init.method ?? 'GET') as 'GET',
    ...(init.headers ? { headers: init.headers } : {}),
    ...(init.body !== undefined ? { body: init.body } : {}),
    ...(init.dispatcher ? { dispatcher: init.dispatcher } : {}),
    headersTimeout: init.timeoutMs ?? 15000,
    bodyTimeout: init.timeoutMs ?? 15000,
  });
  const text = await res.body.text();
  return { status: res.statusCode, headers: res.headers, text, json: <T>() => JSON.parse(text) as T };
}

export interface LoopResult {
  ok: number;
  failed: number;
  failures: string[];
  statuses: Map<number, number>;
}

export interface LoopOptions {
  /** A new connection for every request (Connection: close), as clients without keep-alive do. */
  freshConnections?: boolean;
  /** How long one request may wait for its answer before it counts as failed. */
  timeoutMs?: number;
}

export interface ClientLoop {
  /** Stops the clients and resolves with what they saw, once every request in flight is done. Idempotent. */
  stop(): Promise<LoopResult>;
  /** Requests answered 2xx so far: a test waits for a number of them, not for a time. */
  answered(): number;
}

/**
 * Starts `concurrency` clients looping on `url` until `stop()`, over keep-alive connections unless
 * told otherwise. A failure is any non-2xx answer or transport error. Call `stop()` in a `finally`
 * too: a loop left running keeps the test process alive.
 */
export function startClientLoop(url: string, concurrency: number, o: LoopOptions = {}): ClientLoop {
  const agent = new Agent({ connections: concurrency, keepAliveTimeout: 30_000 });
  const headers = o.freshConnections ? { connection: 'close' } : undefined;
  const result: LoopResult = { ok: 0, failed: 0, failures: [], statuses: new Map() };
  let stopped = false;
  const one = async () => {
    while (!stopped) {
      try {
        const r = await http(url, { dispatcher: agent, ...(headers ? { headers } : {}), ...(o.timeoutMs ? { timeoutMs: o.timeoutMs } : {}) });
        result.statuses.set(r.status, (result.statuses.get(r.status) ?? 0) + 1);
        if (r.status >= 200 && r.status < 300) result.ok++;
        else {
          result.failed++;
          if (result.failures.length < 20) result.failures.push(`${r.status} ${r.text.slice(0, 200)}`);
        }
      } catch (err) {
        result.failed++;
        if (result.failures.length < 20) result.failures.push(String((err as Error).message));
      }
    }
  };
  const done = Promise.all(Array.from({ length: concurrency }, one)).then(async () => {
    await agent.close();
    return result;
  });
  return {
    stop() {
      stopped = true;
      return done;
    },
    answered: () => result.ok,
  };
}

export const delay = (ms: number) => new Promise((r) => setTimeout(r, ms));
