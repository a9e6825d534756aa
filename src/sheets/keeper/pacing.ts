// Every call that reaches the Sheets API pays one token of the host-wide quota first, retries
// included, and only those: the Google backend takes this as its `beforeAttempt` hook, which runs
// right before each HTTP request, once its access token is in hand (a call whose token fetch failed
// never reached Google and pays nothing). Backends without such a hook (the offline sheet, test
// fakes) are wrapped by `paced()`, one token per call.

import type { SheetsBackend } from '../backend.js';
import type { QuotaBucket } from './quota.js';
import type { UpstreamMeter } from './upstream-meter.js';

export type BeforeAttempt = (info: { readonly kind: 'read' | 'write' }, signal?: AbortSignal) => Promise<void>;

/**
 * The host's own bucket first (it caps this host whatever Redis says), then the window shared with
 * the sheet's other hosts when there is one (shared-quota.ts).
 */
export function pacer(readQuota: QuotaBucket, writeQuota: QuotaBucket, meter: UpstreamMeter, shared?: (kind: 'read' | 'write', signal?: AbortSignal) => Promise<void> | undefined): BeforeAttempt {
  return async (info, signal) => {
    await (info.kind === 'write' ? writeQuota : readQuota).acquire(signal);
    await shared?.(info.kind, signal);
    meter.record(info.kind);
  };
}

/** Wraps a backend that does not pace itself. */
export function paced(backend: SheetsBackend, before: BeforeAttempt): SheetsBackend {
  return {
    kind: backend.kind,
    description: backend.description,
    source: backend.source,
    destination: backend.destination,
    async getValues(range, signal, onRetry) {
      await before({ kind: 'read' }, signal);
      return backend.getValues(range, signal, onRetry);
    },
    async batchGetValues(ranges, signal) {
      await before({ kind: 'read' }, signal);
      return backend.batchGetValues(ranges, signal);
    },
    async appendValues(range, rows, signal) {
      await before({ kind: 'write' }, signal);
      return backend.appendValues(range, rows, signal);
    },
    close: () => backend.close(),
  };
}
