// At start (and at each reload), the open-files limit the master runs under, which its workers
// inherit, against what one worker may hold. Too low, and a worker at the limit failed every
// accept() and every file it opened (its heartbeat's /proc read threw, and it crashed holding 454
// connections with 2000 announced as the capacity). Corral does not refuse to start: a limit
// lowered by something else (a container runtime, a shell's ulimit) must not take the site down.
// It lowers each worker's cap to what the limit allows, so connections past it are answered 503
// like any others over the cap, and says so, with the fixes.
// The master and the keeper run under the same limit, and with many workers they need more of it
// than any worker: the master four descriptors per child, the keeper every worker's connections to
// it. Nothing can be lowered for them; the check says it, with the fixes.

import type { Settings } from '../config/schema.js';
import { connectionsWithin, keeperFdNeed, masterFdNeed, WORKER_FD_RESERVE, workerFdNeed, workersWithinKeeper, workersWithinMaster, type OpenFilesLimit } from '../fd-limit.js';
import { KEEPER_LINK_MAX_CONNECTIONS } from '../keeper-link-pools.js';
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
  /** False when only the master's or the keeper's need is past the limit: each worker's cap stays as configured. */
  readonly workerShort: boolean;
  /**
   * The master's need when it is past the limit: four descriptors per child, for two generations
   * of workers; with round-robin also every connection it accepts until a worker takes it
   * (`hostCap`: the host's cap as configured, 0 with shared accept), and then the
   * CORRAL_MAX_CONNECTIONS that fits. `fittingWorkers`: with shared accept, the CORRAL_WORKERS whose children fit.
   */
  readonly master: { readonly need: number; readonly hostCap: number; readonly fittingMaxConnections: number | undefined; readonly fittingWorkers: number | undefined } | undefined;
  /** The keeper's need when it is past the limit (every worker's link to it full, two generations), and the CORRAL_WORKERS that fits. */
  readonly keeper: { readonly need: number; readonly fittingWorkers: number } | undefined;
}

/**
 * Judged on a worker's share of the host's cap (CORRAL_WORKER_CONNECTIONS, or its part of
 * CORRAL_MAX_CONNECTIONS), which is what the capacity counts on. With shared accept one worker may
 * be handed more than its share while others hold less; its cap is held under the limit all the
 * same (worker/cap-sizes.ts), and a client refused there is served on its retry by another worker.
 * Undefined when the limit is unknown, unlimited or high enough.
 */
export function fdLimitShortfall(s: CapSettings, limit: OpenFilesLimit | undefined): FdLimitShortfall | undefined {
  const soft = limit?.soft;
  if (soft === undefined) return undefined;
  const workers = s.CORRAL_WORKERS;
  const workerMayHold = largestWorkerCap(workers, s.CORRAL_WORKER_CONNECTIONS, s.CORRAL_MAX_CONNECTIONS, s.CORRAL_ACCEPT);
  const need = workerFdNeed(workerMayHold);
  const master = masterShortfall(s, soft);
  const keeper = keeperShortfall(workers, soft);
  const workerShort = soft < need;
  if (!workerShort && !master && !keeper) return undefined;
  // Only the master's or the keeper's need is past the limit: the workers' caps stay (no behaviour
  // changes; the master's accept() or fork, or the keeper's accept(), is what fails, said here with
  // its fixes).
  const ceiling = workerShort ? (connectionsWithin(soft) ?? workerMayHold) : workerMayHold;
  return {
    workerShort,
    master,
    keeper,
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
 * The master holds four descriptors per child, for two generations of workers during a reload:
 * past its limit a fork fails with EMFILE (a reload of 64 workers under `ulimit -n 400` could fork
 * 27 new ones, then none until old ones drained). With round-robin it also accepts every
 * connection and passes it to a worker over IPC; past its limit its accept() fails with EMFILE,
 * and libuv then closes connections waiting in the listen backlog unanswered, with nothing logged
 * (its EMFILE trick: the spare fd it keeps is closed, each pending connection accepted and closed
 * at once). The worker's share alone was judged, which fit while the master dropped clients in a
 * burst, and with shared accept the master was not judged at all.
 */
function masterShortfall(s: CapSettings, soft: number): FdLimitShortfall['master'] {
  const roundRobin = s.CORRAL_ACCEPT === 'round-robin';
  const hostCap = roundRobin ? maxConnectionsOf(s.CORRAL_WORKERS, s.CORRAL_WORKER_CONNECTIONS, s.CORRAL_MAX_CONNECTIONS) : 0;
  const need = masterFdNeed(hostCap, s.CORRAL_WORKERS);
  if (soft >= need) return undefined;
  const own = need - hostCap;
  // A CORRAL_MAX_CONNECTIONS that fits is a fix only while the children's descriptors leave room for one.
  const fittingMaxConnections = roundRobin && soft > own ? soft - own : undefined;
  // Fewer workers is a fix offered with shared accept only: with round-robin the host's cap, which
  // fewer workers may or may not lower, is most of the need, and its own fixes are said.
  return { need, hostCap, fittingMaxConnections, fittingWorkers: roundRobin ? undefined : Math.min(s.CORRAL_WORKERS, workersWithinMaster(soft, 0)) };
}

/** Every worker's keeper link full, for two generations (fd-limit.ts keeperFdNeed). */
function keeperShortfall(workers: number, soft: number): FdLimitShortfall['keeper'] {
  const need = keeperFdNeed(workers);
  if (soft >= need) return undefined;
  return { need, fittingWorkers: Math.min(workers, workersWithinKeeper(soft)) };
}

/** The descriptors to allow: the largest of the needs that are short. */
function limitToSet(f: FdLimitShortfall): number {
  return Math.max(f.workerShort ? f.need : 0, f.master?.need ?? 0, f.keeper?.need ?? 0);
}

/** The CORRAL_WORKERS that fits both the master's and the keeper's need, when either is short. */
function fittingWorkers(f: FdLimitShortfall): number | undefined {
  const counts = [f.master?.fittingWorkers, f.keeper?.fittingWorkers].filter((n): n is number => n !== undefined);
  return counts.length === 0 ? undefined : Math.min(...counts);
}

export function fdLimitMessage(f: FdLimitShortfall): string {
  const set = limitToSet(f);
  const hard = f.hard !== undefined && f.hard < set ? ` (its hard limit is ${f.hard}: only root can raise it past that)` : '';
  const m = f.master;
  const k = f.keeper;
  const roundRobin = m !== undefined && m.hostCap > 0;
  const masterWords = m
    ? roundRobin
      ? `With CORRAL_ACCEPT=round-robin the master accepts every connection itself and holds it until a worker takes it: in a burst up to the host's cap of ${m.hostCap} at once, ` +
        `${m.need} descriptors with its own files and its children's pipes. Past the limit its accept() fails with EMFILE, and connections waiting in the listen backlog are closed unanswered, with nothing logged. `
      : `The master holds 4 descriptors per child (its IPC channel, stdout, stderr and stack probe), for twice the workers while a reload runs two generations, and the keeper: ${m.need} with its own files. ` +
        `Past the limit a fork fails with EMFILE (CORRAL_ERR_FORK), and a reload's new workers cannot start until old ones drain. `
    : '';
  const keeperWords = k
    ? `The keeper may need ${k.need}: each worker holds up to ${KEEPER_LINK_MAX_CONNECTIONS} connections to it, for twice the workers while a reload runs two generations, besides its own files. ` +
      `Past the limit its accept() and its file opens fail with EMFILE: the workers' reads and appends fail (keeper unreachable, 503), and so do its appends to the sheet and its quota ledger. `
    : '';
  const workers = fittingWorkers(f);
  const fixes = [
    ...(f.workerShort ? [`lower CORRAL_WORKER_CONNECTIONS to ${f.fittingWorkerConnections}`] : []),
    ...(m?.fittingMaxConnections !== undefined ? [`lower CORRAL_MAX_CONNECTIONS to ${m.fittingMaxConnections} (the master's share)`] : []),
    ...(workers !== undefined ? [`lower CORRAL_WORKERS to ${workers}`] : []),
    ...(roundRobin ? ['set CORRAL_ACCEPT=shared (each worker accepts its own connections, and only its share is held against the limit)'] : []),
  ];
  const fix = `Fix: ulimit -n ${set}${hard} in the shell that starts corral, or LimitNOFILE=${f.unitLimitNoFile} in its unit (corral systemd-unit writes it)` + fixes.map((x) => `, or ${x}`).join('');
  if (!f.workerShort) {
    const needs = [...(m ? [`${m.need} the master`] : []), ...(k ? [`${k.need} the keeper`] : [])].join(' and the ');
    return `open-files limit (RLIMIT_NOFILE) ${f.soft} is below the ${needs} may need; each worker's share (${f.workerMayHold} connections + ${WORKER_FD_RESERVE}) fits, and its cap is unchanged. ${masterWords}${keeperWords}${fix}`;
  }
  return (
    `open-files limit (RLIMIT_NOFILE) ${f.soft} is below the ${f.need} a worker may need ` +
    `(${f.workerMayHold} connections + ${WORKER_FD_RESERVE} for its own files): each worker's connection cap is lowered to ${f.workerCap}` +
    (f.max < f.configuredMax ? ` and the host's from ${f.configuredMax} to ${f.max}` : ` (the host's stays ${f.max}, spread over the workers)`) +
    `, and connections past it are answered 503. ${masterWords}${keeperWords}${fix}`
  );
}

/** Logs the shortfall, if any (fd_limit.low, warn, CORRAL_ERR_FD_LIMIT); returns it. */
export function warnFdLimit(logger: Logger, s: CapSettings, limit: OpenFilesLimit | undefined): FdLimitShortfall | undefined {
  const f = fdLimitShortfall(s, limit);
  if (!f) return undefined;
  const workers = fittingWorkers(f);
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
      ...(f.keeper ? { keeper_fd_need: f.keeper.need } : {}),
      fix: {
        ulimit: limitToSet(f),
        LimitNOFILE: f.unitLimitNoFile,
        ...(f.workerShort ? { CORRAL_WORKER_CONNECTIONS: f.fittingWorkerConnections } : {}),
        ...(f.master?.fittingMaxConnections !== undefined ? { CORRAL_MAX_CONNECTIONS: f.master.fittingMaxConnections } : {}),
        ...(workers !== undefined ? { CORRAL_WORKERS: workers } : {}),
        ...(f.master && f.master.hostCap > 0 ? { CORRAL_ACCEPT: 'shared' } : {}),
      },
    },
    fdLimitMessage(f),
  );
  return f;
}
