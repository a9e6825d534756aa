// Messages between the master and its children, as discriminated unions. No logic here.

/** Figures a child reports with every heartbeat; the admin API and recycling read them. */
export interface ChildFigures {
  readonly rssBytes: number;
  readonly heapUsedBytes: number;
  readonly heapTotalBytes: number;
  /** Mean event-loop delay over the last interval, in ms (perf_hooks histogram). */
  readonly eventLoopLagMs: number;
  readonly activeConnections: number;
  readonly requestsServed: number;
  /** Requests answered with a 5xx, cumulative. */
  readonly errorsServed: number;
  /** Request latency p99 over the last interval, in ms (0 when idle). */
  readonly latencyP99Ms: number;
  /** Opaque per-role figures (e.g. the keeper's cache and quota numbers). */
  readonly extra?: Readonly<Record<string, number | string | boolean | null>>;
}

/** Child → master. */
export type ChildMessage =
  | { readonly type: 'ready'; readonly address?: string; readonly port?: number }
  | { readonly type: 'heartbeat'; readonly figures: ChildFigures }
  | { readonly type: 'boot-failed'; readonly code: string; readonly message: string; readonly stack?: string }
  | { readonly type: 'retire'; readonly reason: 'max-requests' | 'uncaught' }
  | { readonly type: 'drained' };

/** Master → child. */
export type MasterMessage =
  | { readonly type: 'drain'; readonly reason: string; readonly gracefulMs: number }
  | { readonly type: 'reopen-logs' }
  | {
      readonly type: 'capacity';
      readonly full: boolean;
      readonly current: number;
      readonly max: number;
      /** The connections this worker may hold, from the current worker count (TTIN/TTOU change it). */
      readonly workerCap: number;
    };

export type ChildMessageType = ChildMessage['type'];
export type MasterMessageType = MasterMessage['type'];

const CHILD_TYPES: ReadonlySet<string> = new Set<ChildMessageType>(['ready', 'heartbeat', 'boot-failed', 'retire', 'drained']);
const MASTER_TYPES: ReadonlySet<string> = new Set<MasterMessageType>(['drain', 'reopen-logs', 'capacity']);

/** Our messages carry this tag so cluster-internal and foreign messages are ignored. */
export const IPC_TAG = 'corral' as const;

export function isChildMessage(m: unknown): m is ChildMessage {
  return typeof m === 'object' && m !== null && (m as { tag?: unknown }).tag === IPC_TAG && CHILD_TYPES.has(String((m as { type?: unknown }).type));
}

export function isMasterMessage(m: unknown): m is MasterMessage {
  return typeof m === 'object' && m !== null && (m as { tag?: unknown }).tag === IPC_TAG && MASTER_TYPES.has(String((m as { type?: unknown }).type));
}
