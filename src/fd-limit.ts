// The open-files limit (RLIMIT_NOFILE) a process runs under, and what a worker needs of it.
// Every connection a worker holds is a file descriptor. Past the soft limit accept() fails with
// EMFILE, and so does everything else that opens a file: process.memoryUsage() reads
// /proc/self/statm, and threw from the heartbeat timer, which crashed a worker holding 454
// connections under `ulimit -n 256` (2 workers x 1000 connections were configured).
// Node has no getrlimit(); Linux says the limit in /proc/PID/limits. Workers and the keeper inherit
// the master's, so the master's is theirs unless something changed it (prlimit on a running pid).

import { readFileSync } from 'node:fs';
import { KEEPER_LINK_MAX_CONNECTIONS } from './keeper-link-pools.js';

export interface OpenFilesLimit {
  /** undefined: unlimited. */
  readonly soft: number | undefined;
  readonly hard: number | undefined;
}

/** "Max open files" of /proc/PID/limits; undefined when the line is not there. */
export function parseOpenFilesLimit(text: string): OpenFilesLimit | undefined {
  const m = /^Max open files\s+(\S+)\s+(\S+)/m.exec(text);
  if (!m) return undefined;
  const limit = (v: string | undefined): number | undefined => (v !== undefined && /^\d+$/.test(v) ? Number(v) : undefined);
  return { soft: limit(m[1]), hard: limit(m[2]) };
}

/**
 * The open-files limit of a process (this one by default), or undefined where /proc cannot say
 * (not Linux, no /proc, a pid gone or of another user under hidepid).
 */
export function readOpenFilesLimit(pid: number | 'self' = 'self'): OpenFilesLimit | undefined {
  try {
    return parseOpenFilesLimit(readFileSync(`/proc/${pid}/limits`, 'utf8'));
  } catch {
    return undefined;
  }
}

/**
 * Descriptors a worker holds besides its connections: stdio, the IPC channel, the log file, the
 * keeper's socket, libuv's own (epoll, eventfd, signal pipe, the one it keeps for EMFILE), /proc
 * reads, the app's files. A worker of the bundled app at rest holds about 25 (Node 20).
 */
export const WORKER_OWN_FDS = 32;

/**
 * Descriptors a worker needs besides its counted connections: its own, and as many again for
 * connections over the cap, each held while it is answered 503 (up to 2 s for one that sends nothing).
 */
export const WORKER_FD_RESERVE = 2 * WORKER_OWN_FDS;

/** Descriptors a worker may spend on connections, counted and over the cap, under a soft limit. */
export function connectionFdBudget(soft: number | undefined): number | undefined {
  return soft === undefined ? undefined : Math.max(1, soft - WORKER_OWN_FDS);
}

/** Descriptors a worker that holds `connections` needs under its soft limit. */
export function workerFdNeed(connections: number): number {
  return connections + WORKER_FD_RESERVE;
}

/**
 * The most connections a worker can count under a soft limit and still answer the next one 503;
 * undefined when there is no limit to keep to (unlimited, or unknown).
 */
export function connectionsWithin(soft: number | undefined): number | undefined {
  return soft === undefined ? undefined : Math.max(1, soft - WORKER_FD_RESERVE);
}

/**
 * Descriptors the master holds besides connections: stdio, the log file, the admin listener and
 * its clients, the listen socket, the pidfile, /proc reads.
 */
export const MASTER_OWN_FDS = 64;

/**
 * Descriptors the master holds for each child: the IPC channel, the stdout and stderr pipes and
 * the stack probe's socketpair (spawner.ts). Counted as three, the probe forgotten: 128 workers
 * and the keeper held 540 descriptors at rest, not the 411 the check allowed for.
 */
export const MASTER_FDS_PER_CHILD = 4;

/**
 * Descriptors the master may need: its own, and MASTER_FDS_PER_CHILD for twice the workers (a
 * reload's new generation beside the old) and the keeper. Past it a fork fails with EMFILE, and
 * a reload's new workers cannot start until old ones drain. With CORRAL_ACCEPT=round-robin the
 * master also accepts every connection itself and holds it until it is handed to a worker: in a
 * burst up to the host's cap at once (`hostCap`; 0 with shared accept).
 */
export function masterFdNeed(hostCap: number, workers: number): number {
  return hostCap + MASTER_OWN_FDS + MASTER_FDS_PER_CHILD * (2 * workers + 1);
}

/** The most workers whose children's descriptors fit the master's soft limit (at least 1). */
export function workersWithinMaster(soft: number, hostCap: number): number {
  return Math.max(1, Math.floor((soft - hostCap - MASTER_OWN_FDS - MASTER_FDS_PER_CHILD) / (2 * MASTER_FDS_PER_CHILD)));
}

/**
 * Descriptors the keeper holds besides the workers' connections: stdio, the IPC channel, the log
 * file, the journal, the quota ledger and the offline sheet's files, its connections to Google
 * (or Redis), libuv's own, /proc reads. About 24 at rest (Node 20).
 */
export const KEEPER_OWN_FDS = 64;

/**
 * Descriptors the keeper may need: every worker's keeper link full (KEEPER_LINK_MAX_CONNECTIONS
 * each), for twice the workers while a reload runs two generations, besides its own. Past it its
 * accept() fails (libuv then closes the workers' waiting connections: their reads and appends fail
 * "keeper unreachable"), and so does every file it opens: under `ulimit -n 560`, 64 workers and a
 * burst of appends, the keeper's append to the sheet failed with EMFILE, its quota ledger could not
 * be written, and POST /api/events answered 503.
 */
export function keeperFdNeed(workers: number): number {
  return KEEPER_OWN_FDS + 2 * workers * KEEPER_LINK_MAX_CONNECTIONS;
}

/** The most workers whose connections to the keeper fit its soft limit (at least 1). */
export function workersWithinKeeper(soft: number): number {
  return Math.max(1, Math.floor((soft - KEEPER_OWN_FDS) / (2 * KEEPER_LINK_MAX_CONNECTIONS)));
}
