// The app contract: what CORRAL_APP modules receive and must return.

import type { RequestListener } from 'node:http';
import type { Settings } from './config/schema.js';
import type { Logger } from './log/logger.js';
import type { SheetsClient } from './sheets/types.js';

export interface AppContext {
  readonly settings: Settings;
  readonly logger: Logger;
  /**
   * The sheet, through this worker's cache (bounded by CORRAL_L1_CACHE_MB) in front of the host's
   * keeper. A read whose rows are used once and dropped (an export, a report) is made with
   * `read(range, { keep: false })`: it is not kept in the worker's cache, which would otherwise
   * hold a large tab long after the request (see ReadOptions in sheets/types.ts).
   */
  readonly sheets: SheetsClient | undefined;
  readonly workerId: number;
  readonly generation: number;
  /**
   * Set when this worker joins a generation that already serves (a crash's replacement, a
   * recycle, a worker added by TTIN): when the generation's first worker became ready, epoch ms.
   * Undefined in a worker of the generation's first boot. Something all workers of a generation
   * must share and the app makes on first use (the bundled app's session secret file) is made by
   * the first boot only: a worker joining later must find it as it was then, or refuse to boot.
   */
  readonly generationReadyAt?: number;
  /**
   * Counters shared by every worker of the host, in a table in memory shared with the master, and
   * in the master for what that table has no room for (the bundled app's per-IP rate limit and its
   * failed-login limit per name use them). Undefined when the app does not run in a corral worker.
   */
  readonly hostCounters: HostCounters | undefined;
  /** Register cleanup run when the worker drains (close pools, flush). */
  onClose(fn: () => Promise<void> | void): void;
}

/** One hit's outcome on a host-wide counter. */
export interface CounterHit {
  /**
   * Whether this hit was within the limit: false once the key has had more than `limit` hits in
   * its current window. For peek(): whether a hit now would be (false once it has had `limit`).
   */
  readonly allowed: boolean;
  /** Hits the key has left in this window. */
  readonly remaining: number;
  /** Until the key's window ends (0 from peek() on a key without hits). */
  readonly msBeforeReset: number;
}

/** A counter's window when CounterOptions do not name one, and the longest one may name. */
export const DEFAULT_COUNTER_WINDOW_SECONDS = 60;
export const MAX_COUNTER_WINDOW_SECONDS = 86_400;

export interface CounterOptions {
  /**
   * Length of the key's fixed window in seconds, 1 to 86400 (default 60): the window starts at the
   * key's first hit. Counters with another window or limit are counted apart.
   */
  readonly windowSeconds?: number;
}

export interface HostCounters {
  /**
   * Counts one hit of `key` in its current window (60 s unless `options` says otherwise), across
   * the host. Rejects when the master does not answer in time; the caller decides what that means
   * (the bundled app lets the request through). Rejects at once, with CORRAL_ERR_COUNTER_INVALID
   * naming the value, when `key` is not a string, `limit` not a whole number from 1 or the window
   * not one from 1 to 86400.
   */
  hit(key: string, limit: number, options?: CounterOptions): Promise<CounterHit>;
  /**
   * Reads `key`'s count without counting anything (the bundled app: is this name locked?). Rejects
   * as hit() does. Peeks and hits of one limit and window asked in one turn are answered together,
   * in the order asked.
   */
  peek(key: string, limit: number, options?: CounterOptions): Promise<CounterHit>;
}

/**
 * `createApp(ctx)` may be sync or async, exported by name or as the default (a default function
 * named createApp, or an object holding it); a default export that is itself a listener also
 * works, TypeScript's or Babel's CommonJS output (`exports.default`) included. A default function
 * of another name taking one parameter (`export default async (ctx) => ...`) is refused at boot:
 * served as a listener, it answered no request.
 */
export type CreateApp = (ctx: AppContext) => RequestListener | Promise<RequestListener>;

/**
 * Why an app cut an answer itself (a client that stopped reading an export): set on the response,
 * `res[APP_CUT] = 'send_stall'`, before it destroys it, and the access line's 499 carries it as
 * `cut`, as the worker's own cuts do. A bare 499 is the client's doing. A global symbol, so an app
 * built against another copy of corral sets the same one; at most 64 characters are logged.
 */
export const APP_CUT: unique symbol = Symbol.for('corral.cut') as never;

/**
 * Why the worker cut an answer the app was still sending: `'drain'` when the graceful timeout of
 * a stop or reload ran out, or a fast stop gave none (its access line's `cut: "drain"`). Set on the response before its
 * 'close' reaches the app's listeners, so an app that logs how an answer ended (the bundled
 * app's export) does not say the client closed it. Unset when the client did.
 */
export const HOST_CUT: unique symbol = Symbol.for('corral.hostCut') as never;
