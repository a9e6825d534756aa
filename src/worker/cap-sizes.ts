// The sizes of a worker's connection caps: its cap at start, the host's cap its gauge holds it to
// (shared accept with the table), its descriptors for connections, and any cap lowered under its
// open-files limit. A file of its own because it is arithmetic on the worker count, the settings
// and the limit (master/capacity.ts and fd-limit.ts say how the master sizes the same), apart from
// the cap that enforces them (connection-cap.ts). Used by main.ts: at start for the server, and
// for each of the master's capacity messages.

import type { ChildIdentity } from '../config/identity.js';
import type { Settings } from '../config/schema.js';
import { connectionFdBudget, connectionsWithin, readOpenFilesLimit } from '../fd-limit.js';
import { maxConnectionsOf, perWorkerCap, workerConnectionsWithin } from '../master/capacity.js';

export interface CapSizes {
  /** The host's cap, for this worker's count of workers. */
  readonly hostMax: number;
  /** Descriptors this worker may spend on connections (fd-limit.ts); undefined with no known limit. */
  readonly fdBudget: number | undefined;
  /** `cap`, lowered to what the open-files limit lets this worker hold. */
  withinFds(cap: number): number;
  /** The cap this worker starts with; `gauged`: held to the host's cap through its gauge. */
  firstCap(gauged: boolean): number;
}

export function capSizes(settings: Settings, identity: ChildIdentity): CapSizes {
  // The worker count when the master forked this worker (TTIN/TTOU move it from CORRAL_WORKERS),
  // which the caps follow until the master says otherwise.
  const workerCount = identity.workers ?? settings.CORRAL_WORKERS;
  // The open-files limit inherited from the master: a cap this worker cannot hold under it is
  // lowered (the master computes the host's the same way, and said so at start: fd_limit.low), so
  // a connection past it is answered 503 rather than failing accept() with EMFILE.
  const fdSoft = readOpenFilesLimit()?.soft;
  const fdCeiling = connectionsWithin(fdSoft);
  const fdBudget = connectionFdBudget(fdSoft);
  const withinFds = (cap: number): number => (fdCeiling === undefined ? cap : Math.min(cap, fdCeiling));
  const workerConnections = workerConnectionsWithin(settings.CORRAL_WORKER_CONNECTIONS, fdCeiling);
  const hostMax = maxConnectionsOf(workerCount, workerConnections, settings.CORRAL_MAX_CONNECTIONS);
  return {
    hostMax,
    fdBudget,
    withinFds,
    // Until the master's first word (its next tick) a round-robin worker holds the smaller share:
    // its rank among the workers, which may get one more, is the master's to say.
    firstCap: (gauged) => withinFds(gauged ? hostMax : perWorkerCap(workerCount, workerConnections, settings.CORRAL_MAX_CONNECTIONS, settings.CORRAL_ACCEPT)),
  };
}
