// The load generator's own limits. Every virtual user holds a connection, and a connection is a
// file descriptor and a local port of this machine: past the process's open-file limit connect()
// fails with EMFILE, which is no answer of the target. Checked before the load where it can be
// (the peak of users against RLIMIT_NOFILE); met during it (the host's file table, its local
// ports, its socket buffers), it is counted as the generator's, never as the target's.

import { readdirSync, readFileSync } from 'node:fs';
import { parseOpenFilesLimit, type OpenFilesLimit } from '../fd-limit.js';
import { LoadtestError, LOADTEST_EXIT } from './exit.js';

// Read as the daemon reads its own (fd-limit.ts); exported here for the loadtest's callers.
export { parseOpenFilesLimit, type OpenFilesLimit };

/**
 * Failures of this machine, not of the target: too many open files in the process (EMFILE) or the
 * host (ENFILE), no local port left to connect from (EADDRNOTAVAIL), no buffer memory (ENOBUFS).
 */
const GENERATOR_ERRORS: Readonly<Record<string, string>> = {
  EMFILE: "this process's open-file limit: raise it with ulimit -n in the shell that starts the run, or LimitNOFILE= in its unit under systemd",
  ENFILE: "the host's open-file table is full: raise fs.file-max, or run the load from another machine",
  EADDRNOTAVAIL: 'no local port left to connect from (connections closed recently wait in TIME_WAIT): widen net.ipv4.ip_local_port_range, or run fewer users',
  ENOBUFS: 'the kernel had no socket buffer memory left: run fewer users, or the load from another machine',
};

export function isGeneratorError(code: string): boolean {
  return Object.hasOwn(GENERATOR_ERRORS, code);
}

/** What each of these failures means, and what to do about it; each said once. */
export function generatorHint(codes: Iterable<string>): string {
  return [...new Set([...codes].filter(isGeneratorError))].map((c) => GENERATOR_ERRORS[c]).join('; ');
}

/**
 * Descriptors beyond one connection per user: the admin API's connection, a name lookup, the result
 * files written at the end, and room for libuv's own to change between releases.
 */
export const FD_HEADROOM = 32;

export interface FdState extends OpenFilesLimit {
  /** Descriptors this process has open now. */
  readonly open: number;
}

/**
 * This process's open-file limit and open descriptors. Node has no getrlimit(); Linux says both
 * under /proc. Elsewhere (or without /proc mounted): undefined, and the check is skipped.
 */
export function readFdState(): FdState | undefined {
  try {
    const limit = parseOpenFilesLimit(readFileSync('/proc/self/limits', 'utf8'));
    return limit === undefined ? undefined : { ...limit, open: readdirSync('/proc/self/fd').length };
  } catch {
    return undefined;
  }
}

/**
 * Refuses, before any request, a peak of users the open-file limit cannot hold: past it, connections
 * fail with EMFILE and the steps that need them would be judged on this machine's limit.
 */
export function checkFdLimit(peakUsers: number, state: FdState | undefined): void {
  if (state?.soft === undefined) return;
  const needed = state.open + peakUsers + FD_HEADROOM;
  if (needed <= state.soft) return;
  const raise = state.hard !== undefined && state.hard < needed ? ` (its hard limit is ${state.hard}: past it, only root can raise it)` : '';
  throw new LoadtestError(
    'CORRAL_ERR_LOADTEST_GENERATOR',
    `this process's open-file limit (ulimit -n) is ${state.soft}, and ${peakUsers} virtual users need about ${needed} (a connection each, ${state.open} open now and ${FD_HEADROOM} to spare): ` +
      `raise it, e.g. ulimit -n ${needed} in the shell that starts the run${raise}, or LimitNOFILE= in its unit under systemd; or run fewer users; no request was sent`,
    LOADTEST_EXIT.USAGE,
  );
}
