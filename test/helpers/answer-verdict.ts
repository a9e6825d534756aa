// How a chaos test judges what a client saw: an answer the README documents for the faults at
// hand, a connection cut by the kill -9 of its worker, a request that raced a server closing its
// keep-alive connection, or a failure (an undocumented answer, a hang, any other reset).

import type { Outcome } from './recorded-request.js';

/**
 * Longer than any answer should take here (a read of a worker that holds no copy waits for the
 * keeper's fetch, retried with backoff while the emulator fails): a request unanswered for this
 * long hangs, also when a kill -9 of its worker cuts it afterwards.
 */
export const SLOW_MS = 10_000;
/** A request sent on a keep-alive connection the server was closing fails within this. */
export const RACE_MS = 1000;

/** Non-2xx answers the README documents for a keeper down, a full host, a retry in flight, a limit. */
export const DOCUMENTED: Readonly<Record<number, readonly string[]>> = {
  503: ['sheets_unavailable', 'server_full'],
  409: ['idempotency_key_in_flight'],
  429: ['rate_limited', 'login_locked'],
};

export interface Kill {
  readonly pid: number;
  readonly at: number;
  /** Client-side ports of the connections the worker held when it was stopped and killed. */
  readonly ports: ReadonlySet<number>;
}

/** A scripted fault, from its start to the daemon's recovery from it. */
export interface FaultWindow {
  readonly name: string;
  readonly from: number;
  to: number;
}

export type Verdict = 'ok' | 'documented' | 'cut by kill -9' | 'keep-alive race' | 'failure';

export function errorCodeOf(o: Outcome): string | undefined {
  try {
    const code = (JSON.parse(o.text ?? '') as { error?: unknown }).error;
    return typeof code === 'string' ? code : undefined;
  } catch {
    return undefined;
  }
}

/**
 * A connection that a worker killed with SIGKILL held is reset: expected, for a request that had
 * not yet waited longer than any answer should take (one that had is a hang the kill cut short).
 * A request sent on a pooled keep-alive connection as the server closed it (a draining worker, an
 * idle connection given up at the cap) fails at once, before any answer: expected too (RFC 9112
 * section 9.3.1; Node's `reusedSocket`), while a fault that closes connections is under way.
 * Anything else that fails, a timeout above all, is a failure.
 */
export function judge(o: Outcome, kills: readonly Kill[], windows: readonly FaultWindow[]): Verdict {
  if (o.failure === undefined) {
    const status = o.status ?? 0;
    if (status >= 200 && status < 300) return 'ok';
    const code = errorCodeOf(o);
    return code !== undefined && DOCUMENTED[status]?.includes(code) && o.headers?.['retry-after'] !== undefined ? 'documented' : 'failure';
  }
  const since = Math.min(o.startedAt, o.connectedAt ?? Infinity);
  const cutByKill = (k: Kill) => o.localPort !== undefined && k.ports.has(o.localPort) && since <= k.at && o.endedAt >= k.at && k.at - o.startedAt <= SLOW_MS;
  if (kills.some(cutByKill)) return 'cut by kill -9';
  const raced = o.failure !== 'TIMEOUT' && o.reusedSocket && o.status === undefined && o.endedAt - o.startedAt <= RACE_MS;
  if (raced && windows.some((w) => o.endedAt >= w.from && o.endedAt <= w.to)) return 'keep-alive race';
  return 'failure';
}
