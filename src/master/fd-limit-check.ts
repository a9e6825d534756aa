// At start (and at each reload), the open-files limit the master runs under, which its workers
// inherit, against what one worker may hold. Too low, and a worker at the limit failed every
// accept() and every file it opened (its heartbeat's /proc read threw, and it crashed holding 454
// connections with 2000 announced as the capacity). Corral does not refuse to start: a limit
// lowered by something else (a container runtime, a shell's ulimit) must not take the site down.
// It lowers each worker's cap to what the limit allows, so connections past it are answered 503
// like any others over the cap, and says so, with the fixes.

import type { Settings } from '../config/schema.js';
import { connectionsWithin, masterFdNeed, WORKER_FD_RESERVE, workerFdNeed, type OpenFilesLimit } from '../fd-limit.js';
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
  /** False when only the master's need is past the limit: each worker's cap stays as configured. */
  readonly workerShort: boolean;
  /**
   * With round-robin, the master's need when it is past the limit: it holds every connection it
   * accepts until a worker takes it (`hostCap`: the host's cap as configured), and the
   * CORRAL_MAX_CONNECTIONS that fits.
   */
  readonly master: { readonly need: number; readonly hostCap: number; readonly fittingMaxConnections: number } | undefined;
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
  const master = masterShortfall(s, soft);
  const workerShort = soft < need;
  if (!workerShort && !master) return undefined;
  // Only the master's need is past the limit: the workers' caps stay (no behaviour changes; the
  // master's accept() is what fails, said here with its fixes).
  const ceiling = workerShort ? (connectionsWithin(soft) ?? workerMayHold) : workerMayHold;
  return {
    workerShort,
    master,
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

/**
 * With round-robin the master accepts every connection and passes it to a worker over IPC; past
 * its own open-files limit its accept() fails with EMFILE, and libuv then closes connections
 * waiting in the listen backlog unanswered, with nothing logged (its EMFILE trick: the spare fd
 * it keeps is closed, each pending connection accepted and closed at once). The worker's share
 * alone was judged, which fit while the master dropped clients in a burst.
 */
function masterShortfall(s: CapSettings, soft: number): FdLimitShortfall['master'] {
  if (s.CORRAL_ACCEPT !== 'round-robin') return undefined;
  const hostCap = maxConnectionsOf(s.CORRAL_WORKERS, s.CORRAL_WORKER_CONNECTIONS, s.CORRAL_MAX_CONNECTIONS);
  const need = masterFdNeed(hostCap, s.CORRAL_WORKERS);
  if (soft >= need) return undefined;
  return { need, hostCap, fittingMaxConnections: Math.max(1, soft - (need - hostCap)) };
}

/** The descriptors to allow: the larger of a worker's need and, with round-robin, the master's. */
function limitToSet(f: FdLimitShortfall): number {
  return Math.max(f.workerShort ? f.need : 0, f.master?.need ?? 0);
}

export function fdLimitMessage(f: FdLimitShortfall): string {
  const set = limitToSet(f);
  const hard = f.hard !== undefined && f.hard < set ? ` (its hard limit is ${f.hard}: only root can raise it past that)` : '';
  const m = f.master;
  const masterWords = m
    ? `With CORRAL_ACCEPT=round-robin the master accepts every connection itself and holds it until a worker takes it: in a burst up to the host's cap of ${m.hostCap} at once, ` +
      `${m.need} descriptors with its own files and its children's pipes. Past the limit its accept() fails with EMFILE, and connections waiting in the listen backlog are closed unanswered, with nothing logged. `
    : '';
  const fix =
    `Fix: ulimit -n ${set}${hard} in the shell that starts corral, or LimitNOFILE=${f.unitLimitNoFile} in its unit (corral systemd-unit writes it), ` +
    (f.workerShort ? `or lower CORRAL_WORKER_CONNECTIONS to ${f.fittingWorkerConnections}` : '') +
    (m ? `${f.workerShort ? ', ' : ''}or lower CORRAL_MAX_CONNECTIONS to ${m.fittingMaxConnections} (the master's share), or set CORRAL_ACCEPT=shared (each worker accepts its own connections, and only its share is held against the limit)` : '');
  if (!f.workerShort && m) {
    return `open-files limit (RLIMIT_NOFILE) ${f.soft} is below the ${m.need} the master may need; each worker's share (${f.workerMayHold} connections + ${WORKER_FD_RESERVE}) fits, and its cap is unchanged. ${masterWords}${fix}`;
  }
  return (
    `open-files limit (RLIMIT_NOFILE) ${f.soft} is below the ${f.need} a worker may need ` +
    `(${f.workerMayHold} connections + ${WORKER_FD_RESERVE} for its own files): each worker's connection cap is lowered to ${f.workerCap}` +
    (f.max < f.configuredMax ? ` and the host's from ${f.configuredMax} to ${f.max}` : ` (the host's stays ${f.max}, spread over the workers)`) +
    `, and connections past it are answered 503. ${masterWords}${fix}`
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
      ...(f.master ? { master_fd_need: f.master.need, master_may_hold: f.master.hostCap } : {}),
      fix: {
        ulimit: limitToSet(f),
        LimitNOFILE: f.unitLimitNoFile,
        ...(f.workerShort ? { CORRAL_WORKER_CONNECTIONS: f.fittingWorkerConnections } : {}),
        ...(f.master ? { CORRAL_MAX_CONNECTIONS: f.master.fittingMaxConnections, CORRAL_ACCEPT: 'shared' } : {}),
      },
    },
    fdLimitMessage(f),
  );
  return f;
}
