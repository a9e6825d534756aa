// What a worker's heartbeat carries besides its memory and loop lag (heartbeat.ts reads those):
// its connections and requests over the interval since the last beat, its totals, and the Sheets
// client's figures once the app made one. A file of its own because it is the worker's report to
// the master, field by field, apart from when and how it is sent. Used by main.ts's heartbeat,
// which starts before the server exists (the first beat goes before the app is imported).

import type { CollectedFigures } from './heartbeat.js';
import type { WorkerServer } from './server.js';
import type { SheetsAccess } from './sheets-access.js';

/** `server`: undefined until the app is loaded and its server made, every count 0 till then. */
export function workerFigures(server: WorkerServer | undefined, sheets: SheetsAccess): CollectedFigures {
  // Over the interval since the last beat, not a sample: see busy-peak.ts.
  const interval = server?.cap.takeInterval();
  const latency = server?.stats.takeLatency();
  return {
    activeConnections: interval?.active ?? 0,
    idleConnections: interval?.idle ?? 0,
    peakBusyConnections: interval?.peakBusy ?? 0,
    connectionsRefusedInInterval: interval?.refused ?? 0,
    idleClosedInInterval: interval?.idleClosed ?? 0,
    requestsServed: server?.stats.served() ?? 0,
    errorsServed: server?.stats.errors() ?? 0,
    latencyP99Ms: latency?.p99Ms ?? 0,
    ...(latency && latency.buckets.length > 0 ? { latencyBuckets: latency.buckets } : {}),
    connectionsRefused: server?.cap.refused() ?? 0,
    idleConnectionsClosed: server?.cap.idleClosed() ?? 0,
    ...(sheets.created() ? { extra: sheets.client()?.figures() ?? {} } : {}),
  };
}
