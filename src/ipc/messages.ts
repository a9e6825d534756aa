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
  /**
   * The durations of the requests answered since the previous beat, as [bucket, count, ...] pairs
   * (latency-buckets.ts); absent when none. The master adds up every beat's, so the p99 of an
   * interval longer than a beat counts all of its requests. Workers only.
   */
  readonly latencyBuckets?: readonly number[];
  /** Requests a worker answered 503 "server full" (its connection cap), cumulative; workers only. */
  readonly connectionsRefused?: number;
  /**
   * Of activeConnections, those idle now (a keep-alive connection between requests, one silent
   * for a second), which give their slot to a new connection at the cap; workers only.
   */
  readonly idleConnections?: number;
  /**
   * The most busy connections (open, not idle) a worker held at once since its previous beat, at
   * least its busy ones now; workers only. A point sample missed every burst between beats.
   */
  readonly peakBusyConnections?: number;
  /** Connections a worker answered 503 "server full" since its previous beat; workers only. */
  readonly connectionsRefusedInInterval?: number;
  /** Idle connections a worker closed at its cap to admit new ones since its previous beat; workers only. */
  readonly idleClosedInInterval?: number;
  /** Idle keep-alive connections a worker closed at its cap to admit new ones, cumulative; workers only. */
  readonly idleConnectionsClosed?: number;
  /**
   * A booting child's progress, a count that grows while its boot advances (the keeper: bytes of
   * its journal read); absent once ready, and from children that do not report it. While it grows
   * the master's boot deadline counts from its last advance, so a long journal replay that moves
   * is not killed as a boot that hangs.
   */
  readonly bootProgress?: number;
  /** Opaque per-role figures (e.g. the keeper's cache and quota numbers). */
  readonly extra?: Readonly<Record<string, number | string | boolean | null>>;
}

/** Child → master. */
export type ChildMessage =
  | {
      readonly type: 'ready';
      readonly address?: string;
      readonly port?: number;
      /** A worker's RSS when it starts to listen, before any request: what a fresh worker weighs. */
      readonly rssBytes?: number;
    }
  | { readonly type: 'heartbeat'; readonly figures: ChildFigures }
  /**
   * `lasting`: no new attempt can succeed until the files or the settings change (the app cannot
   * be imported as written, a port the process may not bind): a master that gives up on such a
   * boot exits 78, which systemd does not restart (boot-lasting.ts).
   */
  | { readonly type: 'boot-failed'; readonly code: string; readonly message: string; readonly stack?: string; readonly lasting?: boolean }
  /**
   * It asks to be replaced. `error`, with `uncaught`: the exception's first line ("TypeError:
   * boom"), so that a reload rolled back for it says what threw (absent from older workers).
   */
  | { readonly type: 'retire'; readonly reason: 'max-requests' | 'uncaught'; readonly error?: string }
  /**
   * Server closed and connections done. A worker then waits for 'release' before it exits; the
   * keeper, which takes no connections from the listening socket, exits at once.
   */
  | { readonly type: 'drained' }
  /**
   * Hits on host-wide counters (the per-IP rate limit, failed logins per name): every hit a
   * worker's requests made in one turn of its event loop with one limit and window, in one message.
   * `limit` is per window of `window` seconds (absent: 60); `peeks` are the indices in `keys` of
   * reads that count nothing (absent: none), answered in order with the hits. The answer carries `id`.
   */
  | {
      readonly type: 'count';
      readonly id: number;
      readonly limit: number;
      readonly keys: readonly string[];
      readonly window?: number;
      readonly peeks?: readonly number[];
    };

/** Master → child. */
export type MasterMessage =
  | {
      readonly type: 'drain';
      readonly reason: string;
      readonly gracefulMs: number;
      /**
       * The master is stopping: the host goes away, and a draining worker's health says so (503).
       * Otherwise (a reload, a recycle, a scale-down) other workers go on serving, and health
       * answers 200 while this one finishes.
       */
      readonly hostStopping?: boolean;
    }
  /**
   * The answer to a worker's 'drained'. The worker's cluster-internal "server closed" notice went
   * out before 'drained' on the same ordered pipe, so by the time the master reads 'drained' its
   * round-robin handle no longer picks this worker, and any connection it had already sent travels
   * ahead of 'release'. A worker that exits on reading 'release' has answered every handoff. One
   * that exited sooner could strand a connection in flight: node:cluster never closes it, and its
   * client waits until its own timeout.
   */
  | { readonly type: 'release' }
  | { readonly type: 'reopen-logs' }
  | {
      readonly type: 'capacity';
      readonly full: boolean;
      readonly current: number;
      readonly max: number;
      /** The connections this worker may hold, from the current worker count (TTIN/TTOU change it). */
      readonly workerCap: number;
      /** The host's capacity status and percent_used as GET /api/admin/capacity says them: the workers' health answer carries them. */
      readonly status: string;
      readonly percentUsed: number;
    }
  /**
   * The answer to 'count' number `id`: one [allowed 0|1, hits left, ms until the window resets]
   * per key, in the order asked (see CounterHit).
   */
  | { readonly type: 'counted'; readonly id: number; readonly results: readonly CountResult[] }
  /**
   * To workers: the master is restarting the keeper on purpose (a reload changed its settings or
   * corral's build): calls that cannot reach it wait for the new one, up to `waitMs`, rather than
   * fail (keeper-restart-window.ts).
   */
  | { readonly type: 'keeper-restarting'; readonly waitMs: number }
  /** To workers: a keeper is ready again after 'keeper-restarting'; calls waiting for it go now. */
  | { readonly type: 'keeper-ready' }
  /**
   * To the keeper: the CORRAL_GRACEFUL_TIMEOUT the master stops by now, a reload having changed
   * it without restarting the keeper (it is no keeper setting): a TERM from outside waits for the
   * master's drain by it (keeper-main.ts), not by the one the keeper was started with.
   */
  | { readonly type: 'graceful-timeout'; readonly ms: number };

/** One key's result in a 'counted' answer: compact, as a busy worker sends one per request. */
export type CountResult = readonly [allowed: 0 | 1, remaining: number, msBeforeReset: number];

export type ChildMessageType = ChildMessage['type'];
export type MasterMessageType = MasterMessage['type'];

// Every type, as the compiler checks a Record's keys: a type added to a union and not listed here
// would be dropped as foreign by the side that receives it.
const CHILD_TYPE_NAMES: Readonly<Record<ChildMessageType, true>> = { ready: true, heartbeat: true, 'boot-failed': true, retire: true, drained: true, count: true };
const MASTER_TYPE_NAMES: Readonly<Record<MasterMessageType, true>> = {
  drain: true,
  release: true,
  'reopen-logs': true,
  capacity: true,
  counted: true,
  'keeper-restarting': true,
  'keeper-ready': true,
  'graceful-timeout': true,
};
const CHILD_TYPES: ReadonlySet<string> = new Set(Object.keys(CHILD_TYPE_NAMES));
const MASTER_TYPES: ReadonlySet<string> = new Set(Object.keys(MASTER_TYPE_NAMES));

/** Our messages carry this tag so cluster-internal and foreign messages are ignored. */
export const IPC_TAG = 'corral' as const;

/**
 * The fields a handler reads without a check of its own. The master's handlers run inside the
 * channel's 'message' event, where a throw is the master's uncaught exception (every worker
 * stopped, exit 70): a beat without figures (an app's own process.send() with our tag, a child of
 * another build during a reload's overlap) is dropped here as foreign.
 */
function hasChildFields(m: { type?: unknown; figures?: unknown }): boolean {
  if (m.type === 'heartbeat') return typeof m.figures === 'object' && m.figures !== null && !Array.isArray(m.figures);
  return true;
}

export function isChildMessage(m: unknown): m is ChildMessage {
  return typeof m === 'object' && m !== null && (m as { tag?: unknown }).tag === IPC_TAG && CHILD_TYPES.has(String((m as { type?: unknown }).type)) && hasChildFields(m);
}

export function isMasterMessage(m: unknown): m is MasterMessage {
  return typeof m === 'object' && m !== null && (m as { tag?: unknown }).tag === IPC_TAG && MASTER_TYPES.has(String((m as { type?: unknown }).type));
}
