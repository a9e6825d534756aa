// Per-worker connection cap. A connection over the cap is still parsed (so the client reads a
// proper HTTP answer, not a reset), gets an immediate 503 JSON with Retry-After, and is closed.
// Over-cap connections that never send a request are dropped after a short timeout. Refusals are
// reported once per burst (its start and its end), never one by one.

import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { HostConnectionGauge } from './connection-gauge.js';

const OVER_CAP = Symbol('corral.overCap');
const OVER_CAP_IDLE_MS = 2000;

type TaggedSocket = Socket & { [OVER_CAP]?: true };

export interface ConnectionCap {
  /** Connections counted against the cap (over-cap ones excluded). */
  active(): number;
  /** The master's current per-worker cap (it follows the worker count); true when it changed. */
  setLimit(cap: number): boolean;
  /**
   * Host-wide FULL as broadcast by the master: refuse new connections even under the local cap.
   * Ignored with a host gauge, which knows the host's count at once.
   */
  setHostFull(full: boolean, current: number, max: number): void;
  /** The host's cap (it follows the worker count), with a host gauge; true when it changed. */
  setHostMax(max: number): boolean;
  /** Answers 503 and returns true when this request arrived on an over-cap connection. */
  refuse(req: IncomingMessage, res: ServerResponse): boolean;
  /** Requests answered 503 "server full" since start: no access line records them. */
  refused(): number;
}

/** A burst of refusals ends after this long without one. */
export const REFUSAL_BURST_QUIET_MS = 2000;

/** Told once at the start of a burst of refusals and once at its end, never per refusal. */
export interface RefusalReport {
  started(fields: { active: number; cap: number; hostFull: boolean }): void;
  /** `ms`: from the first refusal of the burst to its last. */
  ended(fields: { refused: number; ms: number }): void;
}

/** The host's count, kept exact across workers (connection-gauge.ts), and the host's cap. */
export interface HostGaugeCap {
  readonly gauge: HostConnectionGauge;
  readonly max: number;
}

export function attachConnectionCap(server: Server, initialCap: number, report?: RefusalReport, host?: HostGaugeCap): ConnectionCap {
  let cap = initialCap;
  let active = 0;
  let hostMax = host?.max ?? 0;
  // The host's count as read at the last refusal by the gauge, for the 503's message.
  let hostTotal: number | undefined;
  // While the host is FULL this worker may refill the slots it frees itself, never go past the
  // connections it had when told: the master's next word comes a heartbeat later (up to about a
  // second and a quarter), and refusing every connection until then would answer 503 with room free.
  // Each worker growing back only to its own count keeps the host within its cap.
  let hostFull: { current: number; max: number; mine: number } | undefined;
  let refused = 0;
  // The burst in progress: when it started, how many it refused, and the timer that ends it.
  let burst: { startedAt: number; lastAt: number; refused: number; quiet: NodeJS.Timeout } | undefined;
  const countRefusal = () => {
    refused++;
    if (!report) return;
    if (burst) {
      burst.refused++;
      burst.lastAt = Date.now();
      burst.quiet.refresh();
      return;
    }
    report.started({ active, cap, hostFull: hostFull !== undefined || hostTotal !== undefined });
    const quiet = setTimeout(() => {
      const ended = burst;
      burst = undefined;
      if (ended) report.ended({ refused: ended.refused, ms: ended.lastAt - ended.startedAt });
    }, REFUSAL_BURST_QUIET_MS).unref();
    const now = Date.now();
    burst = { startedAt: now, lastAt: now, refused: 1, quiet };
  };
  const overCap = (socket: TaggedSocket) => {
    socket[OVER_CAP] = true;
    socket.setTimeout(OVER_CAP_IDLE_MS, () => socket.destroy());
  };
  server.on('connection', (socket: TaggedSocket) => {
    if (active >= cap || (!host && hostFull && active >= hostFull.mine)) return overCap(socket);
    if (host) {
      const taken = host.gauge.take(hostMax);
      if (!taken.taken) {
        hostTotal = taken.total;
        return overCap(socket);
      }
      hostTotal = undefined;
    }
    active++;
    socket.once('close', () => {
      active--;
      host?.gauge.release();
    });
  });
  return {
    active: () => active,
    setLimit(next) {
      // Connections already open above a lowered cap stay; only new ones are refused.
      if (next === cap) return false;
      cap = next;
      return true;
    },
    setHostMax(next) {
      if (!host || next === hostMax) return false;
      hostMax = next;
      return true;
    },
    setHostFull(full, current, max) {
      if (host) return;
      hostFull = full ? { current, max, mine: Math.min(active, hostFull?.mine ?? Infinity) } : undefined;
    },
    refuse(req, res) {
      const socket = req.socket as TaggedSocket;
      if (!socket[OVER_CAP]) return false;
      const used =
        hostTotal !== undefined ? { current: hostTotal, max: hostMax } : hostFull ? { current: hostFull.current, max: hostFull.max } : { current: active, max: cap };
      const body = JSON.stringify({ error: 'server_full', message: `server full (${used.current}/${used.max})`, retry_after: 1 });
      res.writeHead(503, {
        'content-type': 'application/json',
        'content-length': Buffer.byteLength(body),
        'retry-after': '1',
        connection: 'close',
      });
      res.end(body);
      countRefusal();
      return true;
    },
    refused: () => refused,
  };
}
