// The app contract: what CORRAL_APP modules receive and must return.

import type { RequestListener } from 'node:http';
import type { Settings } from './config/schema.js';
import type { Logger } from './log/logger.js';
import type { SheetsClient } from './sheets/types.js';

export interface AppContext {
  readonly settings: Settings;
  readonly logger: Logger;
  readonly sheets: SheetsClient | undefined;
  readonly workerId: number;
  readonly generation: number;
  /**
   * Counters shared by every worker of the host, kept by the master (the bundled app's per-IP rate
   * limit uses them). Undefined when the app does not run in a corral worker.
   */
  readonly hostCounters: HostCounters | undefined;
  /** Register cleanup run when the worker drains (close pools, flush). */
  onClose(fn: () => Promise<void> | void): void;
}

/** One hit's outcome on a host-wide counter. */
export interface CounterHit {
  /** False once the key has had `perMinute` hits in its current window. */
  readonly allowed: boolean;
  /** Hits the key has left in this window. */
  readonly remaining: number;
  readonly msBeforeReset: number;
}

export interface HostCounters {
  /**
   * Counts one hit of `key` in its current 60 s window, across the host. Rejects when the master
   * does not answer in time; the caller decides what that means (the bundled app lets the request
   * through).
   */
  hit(key: string, perMinute: number): Promise<CounterHit>;
}

/** `createApp(ctx)` may be sync or async; a default export that is itself a listener also works. */
export type CreateApp = (ctx: AppContext) => RequestListener | Promise<RequestListener>;
