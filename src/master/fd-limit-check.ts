// At start (and at each reload), the open-files limit the master runs under, which its workers
// inherit, against what one worker may hold. Too low, and a worker at the limit failed every
// accept() and every file it opened (its heartbeat's /proc read threw, and it crashed holding 454
// connections with 2000 announced as the capacity). Corral does not refuse to start: a limit
// lowered by something else (a container runtime, a shell's ulimit) must not take the site down.
// It lowers each worker's cap to what the limit allows, so connections past it are answered 503
// like any others over the cap, and says so, with the fixes.

import type { Settings } from '../config/schema.js';
import { connectionsWithin, WORKER_FD_RESERVE, workerFdNeed, type OpenFilesLimit } from '../fd-limit.js';
import type { Logger } from '../log/logger.js';
import { limitNoFile } from '../systemd/unit.js';
import { largestWorkerCap, maxConnectionsOf, workerConnectionsWithin } from './capacity.js';

type CapSettings = Pick<Settings, 'CORRAL_WORKERS' | 'CORRAL_WORKER_CONNECTIONS' | 'CORRAL_MAX_CONNECTIONS' | 'CORRAL_ACCEPT'>;

export interface FdLimitShortfall {
  /** The soft RLIMIT_NOFILE, and the hard one (undefined: unlimited). */
  readonly soft: number;
  readonly hard: number | undefined;
  /** Connections one worker holds as configured (its share of the host's cap), and the descriptors that takes. */
  readonly workerMayHold: number;
  readonly need: number;
  /** Connections a worker is held to now (its cap, and CORRAL_WORKER_CONNECTIONS's part of the host's). */
  readonly workerCap: number;
  /** The host's cap as configured, and as the limit leaves it. */
  readonly configuredMax: number;
  readonly max: number;
  /** What to set instead: a CORRAL_WORKER_CONNECTIONS that fits, and the unit's LimitNOFILE. */
  readonly fittingWorkerConnections: number;
  readonly unitLimitNoFile: number;
}

/**
 * Judged on a worker's share of the host's cap (CORRAL_WORKER_CONNECTIONS, or its part of
 * CORRAL_MAX_CONNECTIONS), which is what the capacity counts on. With shared accept one worker may
 * be handed more than its share while others hold less; its cap is held under the limit all the
 * same (worker/main.ts), and a client refused there is served on its retry by another worker.
 * Undefined when the limit is unknown, unlimited or high enough.
 */
export function fdLimitShortfall(s: CapSettings, limit: OpenFilesLimit | undefined): FdLimitShortfall | undefined {
  const soft = limit?.soft;
  if (soft === undefined) return undefined;
  const workers = s.CORRAL_WORKERS;
  const workerMayHold = largestWorkerCap(workers, s.CORRAL_WORKER_CONNECTIONS, s.CORRAL_MAX_CONNECTIONS, s.CORRAL_ACCEPT);
  const need = workerFdNeed(workerMayHold);
  if (soft >= need) return undefined;
  const ceiling = connectionsWithin(soft) ?? workerMayHold;
  return {
    soft,
    hard: limit?.hard,
    workerMayHold,
    need,
    workerCap: Math.min(ceiling, workerMayHold),
    configuredMax: maxConnectionsOf(workers, s.CORRAL_WORKER_CONNECTIONS, s.CORRAL_MAX_CONNECTIONS),
    max: maxConnectionsOf(workers, workerConnectionsWithin(s.CORRAL_WORKER_CONNECTIONS, ceiling), s.CORRAL_MAX_CONNECTIONS),
    fittingWorkerConnections: ceiling,
    unitLimitNoFile: limitNoFile(workers, s.CORRAL_WORKER_CONNECTIONS),
  };
}

export function fdLimitMessage(f: FdLimitShortfall): string {
  const hard = f.hard !== undefined && f.hard < f.need ? ` (its hard limit is ${f.hard}: only root can raise it past that)` : '';
  return (
    `open-files limit (RLIMIT_NOFILE) ${f.soft} is below the ${f.need} a worker may need ` +
    `(${f.workerMayHold} connections + ${WORKER_FD_RESERVE} for its own files): each worker's connection cap is lowered to ${f.workerCap}` +
    (f.max < f.configuredMax ? ` and the host's from ${f.configuredMax} to ${f.max}` : ` (the host's stays ${f.max}, spread over the workers)`) +
    `, and connections past it are answered 503. ` +
    `Fix: ulimit -n ${f.need}${hard} in the shell that starts corral, or LimitNOFILE=${f.unitLimitNoFile} in its unit (corral systemd-unit writes it), ` +
    `or lower CORRAL_WORKER_CONNECTIONS to ${f.fittingWorkerConnections}`
  );
}

/** Logs the shortfall, if any (fd_limit.low, warn, CORRAL_ERR_FD_LIMIT); returns it. */
export function warnFdLimit(logger: Logger, s: CapSettings, limit: OpenFilesLimit | undefined): FdLimitShortfall | undefined {
  const f = fdLimitShortfall(s, limit);
  if (!f) return undefined;
  logger.warn(
    {
      event: 'fd_limit.low',
      code: 'CORRAL_ERR_FD_LIMIT',
      fd_limit: f.soft,
      fd_limit_hard: f.hard ?? null,
      fd_need: f.need,
      worker_may_hold: f.workerMayHold,
      worker_cap: f.workerCap,
      max_connections_configured: f.configuredMax,
      max_connections: f.max,
      fix: { ulimit: f.need, LimitNOFILE: f.unitLimitNoFile, CORRAL_WORKER_CONNECTIONS: f.fittingWorkerConnections },
    },
    fdLimitMessage(f),
  );
  return f;
}
